//  broker_agents.c -- the broker's agent side: HELLO, CREDIT, DONE, RETRY,
//  TOUCH, HEARTBEAT, BYE on the backend, heartbeats, lost agents, expired
//  leases, and queueing tuples again (with back-off).  Dispatch is in
//  broker_dispatch.c; see broker.c for the loop that calls both.
#include "broker/broker_private.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#define LOST_PER_TICK 64            //  agents dropped per heartbeat check

//  Send msg to an agent, and note it (heartbeats go only to quiet agents).
static void
s_send (broker_t *self, session_t *agent, msg_t **msg_p)
{
    int rc = wire_send (msg_p, self->backend, session_envelope (agent));
    if (rc)
        log_warn ("backend: cannot send to agent %s: %s", session_name (agent),
                  rc < 0 && -rc < DRV_E_MAX? msg_error_name (rc): strerror (-rc));
    session_sent (agent, zclock_mono ());
}

//  Answer an agent (or a peer that has not said HELLO) with ERROR.
static void
s_refuse (broker_t *self, zmsg_t *envelope, session_t *agent, int code,
          const char *fmt, ...) __attribute__ ((format (printf, 5, 6)));

static void
s_refuse (broker_t *self, zmsg_t *envelope, session_t *agent, int code,
          const char *fmt, ...)
{
    char reason[256];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (reason, sizeof reason, fmt, ap);
    va_end (ap);
    char where[128];
    snprintf (where, sizeof where, "backend: agent %s", agent? session_name (agent): "(no HELLO)");
    broker_count_error (self, where, code, reason);
    if (envelope)
        wire_send_error (self->backend, envelope, code, reason);
    if (agent)
        session_sent (agent, zclock_mono ());
}

//  ---------------------------------------------------------------------
//  Taking tuples back

//  A running tuple that cannot be queued again (out of memory) ends failed
//  rather than vanishing from the counters.
void
broker_count_failed (broker_t *self, job_t *job, queue_tuple_t *tuple)
{
    log_error ("job %s: out of memory queueing tuple %" PRIu64 " again; counted failed",
               job_name (job), tuple->id);
    msg_ref_t ref = { tuple->id, tuple->attempt };
    store_remove (self->store, job, &ref, 1);
    job_sub_bytes (job, tuple->frame? zframe_size (tuple->frame): 0);
    zframe_destroy (&tuple->frame);
    job_finished (job, 0, 1);
    self->counters.failed++;
}

//  Back-off before attempt n (n >= 2): base, doubling, capped.
static int64_t
s_backoff (const broker_t *self, uint32_t attempt)
{
    int64_t wait = self->config.retry_backoff_ms;
    for (uint32_t i = 2; i < attempt && wait < self->config.retry_backoff_max_ms; i++)
        wait *= 2;
    return wait < self->config.retry_backoff_max_ms? wait: self->config.retry_backoff_max_ms;
}

void
broker_requeue (broker_t *self, job_t *job, queue_tuple_t *tuple, bool backoff)
{
    //  Dead letters (attempts used up) go at once: nothing will run them.
    bool dead = tuple->attempt > job_max_attempts (job);
    msg_ref_t ref = { tuple->id, tuple->attempt };
    int rc;
    if (backoff && !dead && self->config.retry_backoff_ms > 0)
        rc = delay_push (self->delay, zclock_mono () + s_backoff (self, tuple->attempt),
                         job, tuple);
    else
        rc = queue_return (self->queue, job, tuple);
    if (rc) {
        broker_count_failed (self, job, tuple);
        return;
    }
    store_requeue (self->store, job, &ref, 1);
    job_requeued (job, 1);
    self->counters.requeued++;
}

void
broker_delays_due (broker_t *self, int64_t now)
{
    job_t *job;
    queue_tuple_t tuple;
    while (delay_pop (self->delay, now, &job, &tuple))
        if (queue_return (self->queue, job, &tuple)) {
            //  Already counted queued: count it failed from there.
            job_dispatched (job, 1);
            broker_count_failed (self, job, &tuple);
        }
}

typedef struct {
    broker_t *self;
    uint32_t why;               //  QUEUE_WHY_LOST or QUEUE_WHY_LEFT
    size_t count;
} requeue_t;

//  held_drain callback: queue a tuple again, at the front of its job.
static void
s_requeue_held (job_t *job, uint64_t id, uint32_t attempt, zframe_t **frame_p, void *arg)
{
    requeue_t *requeue = (requeue_t *) arg;
    //  A lost agent's run may be what killed it: the attempt counts.
    queue_tuple_t tuple = {
        id, requeue->why == QUEUE_WHY_LOST? attempt + 1: attempt, requeue->why, *frame_p
    };
    *frame_p = NULL;
    broker_requeue (requeue->self, job, &tuple, false);
    requeue->count++;
}

//  Forget an agent, queueing again what it held, at once.  A lost agent's
//  tuples get attempt + 1; after BYE the agent handed them back unrun, so
//  the attempt stays.  Returns how many.
static size_t
s_agent_drop (broker_t *self, session_t **agent_p, bool lost)
{
    requeue_t requeue = { self, lost? QUEUE_WHY_LOST: QUEUE_WHY_LEFT, 0 };
    held_drain (session_held (*agent_p), s_requeue_held, &requeue);
    roster_remove (self->roster, agent_p);
    return requeue.count;
}

//  ---------------------------------------------------------------------
//  Commands

static void
s_agent_hello (broker_t *self, zmsg_t *envelope, session_t *agent, msg_t *msg, int64_t now)
{
    const char *name = msg_str (msg, MSG_F_AGENT);
    uint64_t slots = msg_uint (msg, MSG_F_SLOTS);
    if (agent) {
        //  It reconnected or restarted: what it held will not be reported.
        size_t count = s_agent_drop (self, &agent, true);
        log_info ("agent %s said HELLO again; %zu tuples queued again", name, count);
    }
    agent = roster_add (self->roster, envelope, name, slots, now);
    if (!agent) {
        s_refuse (self, envelope, NULL, DRV_E_INTERNAL, "out of memory");
        return;
    }
    session_set_user_id (agent, msg_user_id (msg));
    self->counters.agents_joined++;
    log_info ("agent %s joined (%" PRIu64 " slots%s%s)", name, slots,
              *session_user_id (agent)? ", key ": "", session_user_id (agent));
    msg_t *welcome = msg_new (MSG_WELCOME);
    if (!welcome)
        return;
    msg_set_uint (welcome, MSG_F_HEARTBEAT_MS, self->config.heartbeat_ms);
    s_send (self, agent, &welcome);
}

//  DONE: stop holding the tuples and count them done (or failed for dead).
//  Refs the agent does not hold may be late duplicates of a redelivered
//  tuple: ignored.
static void
s_finish (broker_t *self, session_t *agent, job_t *job, const msg_ref_t *refs,
          size_t count, bool failed)
{
    if (count == 0)
        return;
    if (broker_refs_reserve (self, count)) {
        log_error ("backend: out of memory for DONE of job %s", job_name (job));
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        uint32_t attempt;
        zframe_t *frame;
        if (!held_take (session_held (agent), job, refs[i].id, &attempt, &frame)) {
            log_debug ("agent %s reported tuple %s/%" PRIu64 " it does not hold "
                       "(a late duplicate?)", session_name (agent), job_name (job), refs[i].id);
            continue;
        }
        job_sub_bytes (job, zframe_size (frame));
        zframe_destroy (&frame);
        self->refs[n++] = (msg_ref_t) { refs[i].id, attempt };
    }
    if (n == 0)
        return;
    if (store_remove (self->store, job, self->refs, n))
        log_error ("job %s: the store failed to forget %zu tuples", job_name (job), n);
    job_finished (job, failed? 0: n, failed? n: 0);
    if (failed)
        self->counters.failed += n;
    else
        self->counters.done += n;
}

static void
s_agent_done (broker_t *self, session_t *agent, job_t *job, msg_t *msg)
{
    size_t count = 0;
    const msg_ref_t *refs = msg_refs (msg, MSG_F_TUPLES, &count);
    s_finish (self, agent, job, refs, count, false);
    count = 0;
    refs = msg_refs (msg, MSG_F_DEAD, &count);
    s_finish (self, agent, job, refs, count, true);
}

//  RETRY: queue again with attempt + 1 after a back-off, unless that was
//  the last attempt, which the agent should have sent to the sink as a
//  dead letter.
static void
s_agent_retry (broker_t *self, session_t *agent, job_t *job, msg_t *msg)
{
    size_t count = 0;
    const msg_ref_t *refs = msg_refs (msg, MSG_F_TUPLES, &count);
    uint32_t max_attempts = job_max_attempts (job);
    //  Last to first: each goes to the front, so they keep their order.
    for (size_t i = count; i-- > 0;) {
        uint32_t attempt;
        zframe_t *frame;
        uint64_t id = refs[i].id;
        if (!held_take (session_held (agent), job, id, &attempt, &frame)) {
            log_debug ("agent %s retried tuple %s/%" PRIu64 " it does not hold",
                       session_name (agent), job_name (job), id);
            continue;
        }
        if (attempt < max_attempts) {
            queue_tuple_t tuple = { id, attempt + 1, QUEUE_WHY_RETRY, frame };
            broker_requeue (self, job, &tuple, true);
            continue;
        }
        log_warn ("agent %s retried tuple %s/%" PRIu64 " after its last attempt (%u of %u); "
                  "counted failed, but the sink has no dead letter for it",
                  session_name (agent), job_name (job), id, attempt, max_attempts);
        msg_ref_t ref = { id, attempt };
        job_sub_bytes (job, zframe_size (frame));
        zframe_destroy (&frame);
        store_remove (self->store, job, &ref, 1);
        job_finished (job, 0, 1);
        self->counters.failed++;
    }
    log_debug ("agent %s: RETRY %zu tuples of job %s: %s", session_name (agent), count,
               job_name (job), msg_has (msg, MSG_F_REASON)? msg_str (msg, MSG_F_REASON): "");
}

//  TOUCH: extend the leases of tuples this agent holds, lease_ms from now.
//  Tuples it does not hold (expired, or never its own) are ignored.
static void
s_agent_touch (broker_t *self, session_t *agent, job_t *job, msg_t *msg)
{
    (void) self;
    size_t count = 0;
    const msg_ref_t *refs = msg_refs (msg, MSG_F_TUPLES, &count);
    uint64_t lease_ms = msg_uint (msg, MSG_F_LEASE_MS);
    if (lease_ms > INT32_MAX)
        lease_ms = INT32_MAX;
    int64_t deadline = zclock_mono () + (int64_t) lease_ms;
    size_t touched = 0;
    for (size_t i = 0; i < count; i++)
        touched += held_touch (session_held (agent), job, refs[i].id, deadline);
    log_debug ("agent %s: TOUCH %zu of %zu tuples of job %s for %" PRIu64 " ms",
               session_name (agent), touched, count, job_name (job), lease_ms);
}

//  Commands from an agent that has said HELLO.
static void
s_agent_command (broker_t *self, zmsg_t *envelope, session_t *agent, msg_t *msg)
{
    msg_command_t command = msg_command (msg);
    if (command == MSG_CREDIT)
        roster_credit (self->roster, agent, msg_uint (msg, MSG_F_CREDIT));
    else
    if (command == MSG_BYE) {
        char *name = strdup (session_name (agent));
        size_t count = s_agent_drop (self, &agent, false);
        self->counters.agents_left++;
        log_info ("agent %s left; %zu tuples queued again", name? name: "?", count);
        free (name);
    }
    else
    if (command == MSG_DONE || command == MSG_RETRY || command == MSG_TOUCH) {
        const char *name = msg_str (msg, MSG_F_JOB);
        job_t *job = (job_t *) zhashx_lookup (self->jobs, name);
        if (!job)
            s_refuse (self, envelope, agent, DRV_E_UNKNOWN_JOB, "no job %s", name);
        else
        if (command == MSG_DONE)
            s_agent_done (self, agent, job, msg);
        else
        if (command == MSG_TOUCH)
            s_agent_touch (self, agent, job, msg);
        else
            s_agent_retry (self, agent, job, msg);
    }
    //  HEARTBEAT: hearing it was the point.
}

//  A message from a key no longer allowed (revoked after it connected):
//  ERROR DENIED, and the agent is forgotten like a lost one, so it gets no
//  more work and what it held is queued again.
static void
s_agent_denied (broker_t *self, zmsg_t *envelope, session_t **agent_p,
                const char *key, bool answer)
{
    char reason[128];
    broker_denied_reason (key, reason, sizeof reason);
    char where[128];
    snprintf (where, sizeof where, "backend: agent %s",
              *agent_p? session_name (*agent_p): "(no HELLO)");
    broker_count_denied (self, where, reason);
    if (answer && envelope)
        wire_send_error (self->backend, envelope, DRV_E_DENIED, reason);
    if (!*agent_p)
        return;
    char *name = strdup (session_name (*agent_p));
    size_t count = s_agent_drop (self, agent_p, true);
    self->counters.agents_lost++;
    log_warn ("agent %s dropped: its key is not allowed; %zu tuples queued again",
              name? name: "?", count);
    free (name);
}

void
broker_agents_recheck (broker_t *self)
{
    if (!self->config.auth)
        return;
    uint64_t generation = auth_generation (self->config.auth);
    if (generation == self->agents_checked)
        return;
    session_t *denied[LOST_PER_TICK];
    size_t count = 0;
    bool more = false;
    for (session_t *agent = roster_first (self->roster); agent;
         agent = roster_next (self->roster))
        if (!broker_allowed (self, AUTH_DOMAIN_AGENTS, session_user_id (agent))) {
            if (count == LOST_PER_TICK) {
                more = true;        //  the rest at the next check
                break;
            }
            denied[count++] = agent;
        }
    for (size_t i = 0; i < count; i++)
        s_agent_denied (self, session_envelope (denied[i]), &denied[i],
                        session_user_id (denied[i]), true);
    if (!more)
        self->agents_checked = generation;
}

void
broker_backend_recv (broker_t *self)
{
    zmsg_t *envelope = NULL;
    msg_t *msg = NULL;
    int rc = wire_recv (self->backend, &envelope, &msg);
    if (rc == -DRV_E_NOTHING)
        return;
    int64_t now = zclock_mono ();
    session_t *agent = envelope? roster_lookup (self->roster, zmsg_first (envelope)): NULL;
    if (agent)
        session_heard (agent, now);
    if (rc)
        s_refuse (self, envelope, agent, -rc, "%s", broker_decode_reason (-rc));
    else
    if (!broker_allowed (self, AUTH_DOMAIN_AGENTS, msg_user_id (msg)))
        s_agent_denied (self, envelope, &agent, msg_user_id (msg),
                        msg_command (msg) != MSG_ERROR);
    else
    switch (msg_command (msg)) {
        case MSG_HELLO:
            s_agent_hello (self, envelope, agent, msg, now);
            break;
        case MSG_ERROR:
            broker_peer_error (self, "backend", msg);
            break;
        case MSG_CREDIT:
        case MSG_DONE:
        case MSG_RETRY:
        case MSG_TOUCH:
        case MSG_HEARTBEAT:
        case MSG_BYE:
            if (agent)
                s_agent_command (self, envelope, agent, msg);
            else
                s_refuse (self, envelope, NULL, DRV_E_UNEXPECTED, "%s before HELLO",
                          msg_command_name (msg_command (msg)));
            break;
        default:
            s_refuse (self, envelope, agent, DRV_E_UNEXPECTED, "%s is not an agent command",
                      msg_command_name (msg_command (msg)));
    }
    msg_destroy (&msg);
    zmsg_destroy (&envelope);
}

//  ---------------------------------------------------------------------
//  Heartbeats

#define EXPIRED_PER_TICK 256         //  leases ended per agent per check

//  Tuples whose lease ran out go back to the queue with the attempt
//  counted (the run may hang or have died), after a back-off.
static void
s_expire_leases (broker_t *self, session_t *agent, int64_t now)
{
    held_ref_t expired[EXPIRED_PER_TICK];
    size_t count = held_expired (session_held (agent), now, expired, EXPIRED_PER_TICK);
    for (size_t i = 0; i < count; i++) {
        queue_tuple_t tuple = { expired[i].id, 0, QUEUE_WHY_EXPIRED, NULL };
        if (!held_take (session_held (agent), expired[i].job, expired[i].id,
                        &tuple.attempt, &tuple.frame))
            continue;
        tuple.attempt++;
        broker_requeue (self, expired[i].job, &tuple, true);
        self->counters.expired++;
    }
    if (count)
        log_warn ("agent %s: %zu leases expired; tuples queued again", session_name (agent), count);
}

void
broker_heartbeats (broker_t *self, int64_t now)
{
    int64_t interval = self->config.heartbeat_ms;
    session_t *lost[LOST_PER_TICK];
    size_t lost_count = 0;
    broker_agents_recheck (self);
    for (session_t *agent = roster_first (self->roster); agent;
         agent = roster_next (self->roster)) {
        if (now - session_last_heard (agent) >= 3 * interval) {
            if (lost_count < LOST_PER_TICK)
                lost[lost_count++] = agent;
            continue;
        }
        s_expire_leases (self, agent, now);
        if (now - session_last_sent (agent) >= interval) {
            msg_t *heartbeat = msg_new (MSG_HEARTBEAT);
            if (heartbeat)
                s_send (self, agent, &heartbeat);
        }
    }
    for (size_t i = 0; i < lost_count; i++) {
        char *name = strdup (session_name (lost[i]));
        int64_t silent = now - session_last_heard (lost[i]);
        size_t count = s_agent_drop (self, &lost[i], true);
        self->counters.agents_lost++;
        log_warn ("agent %s lost (silent for %" PRId64 " ms); %zu tuples queued again",
                  name? name: "?", silent, count);
        free (name);
    }
}
