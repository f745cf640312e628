//  broker_agents.c -- the broker's agent side: HELLO, CREDIT, DONE, RETRY,
//  HEARTBEAT, BYE on the backend, heartbeats and lost agents, and dispatch
//  of queued tuples by credit.  See broker.c for the loop that calls it.
#include "broker/broker_private.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#define LOST_PER_TICK 64            //  agents dropped per heartbeat check

//  Send msg to an agent, and note it (heartbeats go only to quiet agents).
static void
s_send (broker_t *self, agent_t *agent, msg_t **msg_p)
{
    int rc = msg_send (msg_p, self->backend, agent_envelope (agent));
    if (rc)
        log_warn ("backend: cannot send to agent %s: %s", agent_name (agent),
                  rc < 0 && -rc < DRV_E_MAX? msg_error_name (rc): strerror (-rc));
    agent_sent (agent, zclock_mono ());
}

//  Answer an agent (or a peer that has not said HELLO) with ERROR.
static void
s_refuse (broker_t *self, zmsg_t *envelope, agent_t *agent, int code,
          const char *fmt, ...) __attribute__ ((format (printf, 5, 6)));

static void
s_refuse (broker_t *self, zmsg_t *envelope, agent_t *agent, int code,
          const char *fmt, ...)
{
    char reason[256];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (reason, sizeof reason, fmt, ap);
    va_end (ap);
    char where[128];
    snprintf (where, sizeof where, "backend: agent %s", agent? agent_name (agent): "(no HELLO)");
    broker_count_error (self, where, code, reason);
    if (envelope)
        msg_send_error (self->backend, envelope, code, reason);
    if (agent)
        agent_sent (agent, zclock_mono ());
}

//  ---------------------------------------------------------------------
//  Taking tuples back

typedef struct {
    broker_t *self;
    bool lost;                  //  the attempt may have run: count it
    size_t count;
} requeue_t;

//  held_drain callback: queue a tuple again, at the front of its job.
static void
s_requeue_held (job_t *job, uint64_t id, uint32_t attempt, zframe_t **frame_p, void *arg)
{
    requeue_t *requeue = (requeue_t *) arg;
    broker_t *self = requeue->self;
    msg_ref_t ref = { id, requeue->lost? attempt + 1: attempt };
    if (queue_requeue (self->queue, job, id, ref.attempt, frame_p)) {
        log_error ("job %s: out of memory queueing tuple %" PRIu64 " again; counted failed",
                   job_name (job), id);
        job_finished (job, 0, 1);
        self->counters.failed++;
        return;
    }
    store_requeue (self->store, job, &ref, 1);
    job_requeued (job, 1);
    self->counters.requeued++;
    requeue->count++;
}

//  Forget an agent, queueing again what it held.  A lost agent's tuples
//  get attempt + 1 (their run may be what killed it); after BYE the agent
//  handed them back unrun, so the attempt stays.  Returns how many.
static size_t
s_agent_drop (broker_t *self, agent_t **agent_p, bool lost)
{
    requeue_t requeue = { self, lost, 0 };
    held_drain (agent_held (*agent_p), s_requeue_held, &requeue);
    agents_remove (self->agents, agent_p);
    return requeue.count;
}

//  ---------------------------------------------------------------------
//  Commands

static void
s_agent_hello (broker_t *self, zmsg_t *envelope, agent_t *agent, msg_t *msg, int64_t now)
{
    const char *name = msg_str (msg, MSG_F_AGENT);
    uint64_t slots = msg_uint (msg, MSG_F_SLOTS);
    if (agent) {
        //  It reconnected or restarted: what it held will not be reported.
        size_t count = s_agent_drop (self, &agent, true);
        log_info ("agent %s said HELLO again; %zu tuples queued again", name, count);
    }
    agent = agents_add (self->agents, envelope, name, slots, now);
    if (!agent) {
        s_refuse (self, envelope, NULL, DRV_E_INTERNAL, "out of memory");
        return;
    }
    self->counters.agents_joined++;
    log_info ("agent %s joined (%" PRIu64 " slots)", name, slots);
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
s_finish (broker_t *self, agent_t *agent, job_t *job, const msg_ref_t *refs,
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
        if (!held_take (agent_held (agent), job, refs[i].id, &attempt, &frame)) {
            log_debug ("agent %s reported tuple %s/%" PRIu64 " it does not hold "
                       "(a late duplicate?)", agent_name (agent), job_name (job), refs[i].id);
            continue;
        }
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
s_agent_done (broker_t *self, agent_t *agent, job_t *job, msg_t *msg)
{
    size_t count = 0;
    const msg_ref_t *refs = msg_refs (msg, MSG_F_TUPLES, &count);
    s_finish (self, agent, job, refs, count, false);
    count = 0;
    refs = msg_refs (msg, MSG_F_DEAD, &count);
    s_finish (self, agent, job, refs, count, true);
}

//  RETRY: queue again with attempt + 1, unless that was the last attempt,
//  which the agent should have sent to the sink as a dead letter.
static void
s_agent_retry (broker_t *self, agent_t *agent, job_t *job, msg_t *msg)
{
    size_t count = 0;
    const msg_ref_t *refs = msg_refs (msg, MSG_F_TUPLES, &count);
    uint32_t max_attempts = job_max_attempts (job);
    //  Last to first: each goes to the front, so they keep their order.
    for (size_t i = count; i-- > 0;) {
        uint32_t attempt;
        zframe_t *frame;
        uint64_t id = refs[i].id;
        if (!held_take (agent_held (agent), job, id, &attempt, &frame)) {
            log_debug ("agent %s retried tuple %s/%" PRIu64 " it does not hold",
                       agent_name (agent), job_name (job), id);
            continue;
        }
        msg_ref_t ref = { id, attempt + 1 };
        if (attempt < max_attempts) {
            if (queue_requeue (self->queue, job, id, ref.attempt, &frame) == 0) {
                store_requeue (self->store, job, &ref, 1);
                job_requeued (job, 1);
                self->counters.requeued++;
                continue;
            }
            log_error ("job %s: out of memory queueing tuple %" PRIu64 " again; counted failed",
                       job_name (job), id);
        }
        else
            log_warn ("agent %s retried tuple %s/%" PRIu64 " after its last attempt (%u of %u); "
                      "counted failed, but the sink has no dead letter for it",
                      agent_name (agent), job_name (job), id, attempt, max_attempts);
        zframe_destroy (&frame);
        ref.attempt = attempt;
        store_remove (self->store, job, &ref, 1);
        job_finished (job, 0, 1);
        self->counters.failed++;
    }
    log_debug ("agent %s: RETRY %zu tuples of job %s: %s", agent_name (agent), count,
               job_name (job), msg_has (msg, MSG_F_REASON)? msg_str (msg, MSG_F_REASON): "");
}

//  Commands from an agent that has said HELLO.
static void
s_agent_command (broker_t *self, zmsg_t *envelope, agent_t *agent, msg_t *msg)
{
    msg_command_t command = msg_command (msg);
    if (command == MSG_CREDIT)
        agents_credit (self->agents, agent, msg_uint (msg, MSG_F_CREDIT));
    else
    if (command == MSG_BYE) {
        char *name = strdup (agent_name (agent));
        size_t count = s_agent_drop (self, &agent, false);
        self->counters.agents_left++;
        log_info ("agent %s left; %zu tuples queued again", name? name: "?", count);
        free (name);
    }
    else
    if (command == MSG_DONE || command == MSG_RETRY) {
        const char *name = msg_str (msg, MSG_F_JOB);
        job_t *job = (job_t *) zhashx_lookup (self->jobs, name);
        if (!job)
            s_refuse (self, envelope, agent, DRV_E_UNKNOWN_JOB, "no job %s", name);
        else
        if (command == MSG_DONE)
            s_agent_done (self, agent, job, msg);
        else
            s_agent_retry (self, agent, job, msg);
    }
    //  HEARTBEAT: hearing it was the point.
}

void
broker_backend_recv (broker_t *self)
{
    zmsg_t *envelope = NULL;
    msg_t *msg = NULL;
    int rc = msg_recv (self->backend, &envelope, &msg);
    if (rc == -DRV_E_NOTHING)
        return;
    int64_t now = zclock_mono ();
    agent_t *agent = envelope? agents_lookup (self->agents, zmsg_first (envelope)): NULL;
    if (agent)
        agent_heard (agent, now);
    if (rc)
        s_refuse (self, envelope, agent, -rc, "%s", broker_decode_reason (-rc));
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

void
broker_heartbeats (broker_t *self, int64_t now)
{
    int64_t interval = self->config.heartbeat_ms;
    agent_t *lost[LOST_PER_TICK];
    size_t lost_count = 0;
    for (agent_t *agent = agents_first (self->agents); agent;
         agent = agents_next (self->agents)) {
        if (now - agent_last_heard (agent) >= 3 * interval) {
            if (lost_count < LOST_PER_TICK)
                lost[lost_count++] = agent;
        }
        else
        if (now - agent_last_sent (agent) >= interval) {
            msg_t *heartbeat = msg_new (MSG_HEARTBEAT);
            if (heartbeat)
                s_send (self, agent, &heartbeat);
        }
    }
    for (size_t i = 0; i < lost_count; i++) {
        char *name = strdup (agent_name (lost[i]));
        int64_t silent = now - agent_last_heard (lost[i]);
        size_t count = s_agent_drop (self, &lost[i], true);
        self->counters.agents_lost++;
        log_warn ("agent %s lost (silent for %" PRId64 " ms); %zu tuples queued again",
                  name? name: "?", silent, count);
        free (name);
    }
}

//  ---------------------------------------------------------------------
//  Dispatch

//  Send one message: envelope, WORK's signature/command/header, then the
//  tuple frames.  Tuple frames go with ZFRAME_REUSE: libzmq shares their
//  data by reference count instead of copying, and the agent's held table
//  keeps ours for a requeue.
static int
s_send_work_frames (zsock_t *sock, zmsg_t *envelope, zmsg_t **head_p,
                    zframe_t **frames, size_t count)
{
    int rc = 0;
    for (zframe_t *frame = zmsg_first (envelope); frame && rc == 0;
         frame = zmsg_next (envelope))
        rc = zframe_send (&frame, sock, ZFRAME_MORE | ZFRAME_REUSE);
    zframe_t *frame;
    while (rc == 0 && (frame = zmsg_pop (*head_p))) {
        rc = zframe_send (&frame, sock, ZFRAME_MORE);
        zframe_destroy (&frame);            //  left by a failed send
    }
    for (size_t i = 0; i < count && rc == 0; i++)
        rc = zframe_send (&frames[i], sock,
                          ZFRAME_REUSE | (i + 1 < count? ZFRAME_MORE: 0));
    zmsg_destroy (head_p);
    return rc;
}

//  Hand count tuples of one job to an agent.  Returns how many it got.
static size_t
s_send_work (broker_t *self, agent_t *agent, job_t *job, queue_tuple_t *tuples,
             size_t count)
{
    if (broker_refs_reserve (self, count)) {
        for (size_t i = count; i-- > 0;)
            queue_requeue (self->queue, job, tuples[i].id, tuples[i].attempt, &tuples[i].frame);
        return 0;
    }
    held_t *held = agent_held (agent);
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        zframe_t *frame = tuples[i].frame;
        if (held_put (held, job, tuples[i].id, tuples[i].attempt, &tuples[i].frame)) {
            //  Out of memory: leave it for the next turn.
            if (queue_requeue (self->queue, job, tuples[i].id, tuples[i].attempt,
                               &tuples[i].frame)) {
                zframe_destroy (&tuples[i].frame);
                job_dispatched (job, 1);
                job_finished (job, 0, 1);
                self->counters.failed++;
            }
            continue;
        }
        self->frames[n] = frame;
        self->refs[n++] = (msg_ref_t) { tuples[i].id, tuples[i].attempt };
    }
    if (n == 0)
        return 0;
    job_dispatched (job, n);
    self->counters.dispatched += n;

    msg_t *msg = msg_new (MSG_WORK);
    zmsg_t *head = NULL;
    if (msg) {
        size_t options_size;
        const void *options = job_options (job, &options_size);
        msg_set_str (msg, MSG_F_JOB, job_name (job));
        msg_set_str (msg, MSG_F_HANDLER, job_handler (job));
        msg_set_str (msg, MSG_F_SINK, job_sink (job));
        msg_set_raw (msg, MSG_F_OPTIONS, options, options_size);
        msg_set_uint (msg, MSG_F_MAX_ATTEMPTS, job_max_attempts (job));
        msg_set_uint (msg, MSG_F_TIMEOUT_MS, job_timeout_ms (job));
        msg_set_refs (msg, MSG_F_TUPLES, self->refs, n);
        head = msg_encode (&msg);
    }
    //  If this fails the tuples stay held, and come back when the agent
    //  is lost: at-least-once, never dropped.
    if (!head || s_send_work_frames (self->backend, agent_envelope (agent), &head,
                                     self->frames, n))
        log_warn ("backend: cannot send WORK to agent %s: %s", agent_name (agent),
                  zmq_strerror (zmq_errno ()));
    zmsg_destroy (&head);
    agent_sent (agent, zclock_mono ());
    return n;
}

//  Agents with credit take turns; each gets up to min(credit, work_batch)
//  tuples of one job per WORK, so no agent ever holds more than its credit.
void
broker_dispatch (broker_t *self)
{
    while (queue_depth (self->queue) > 0) {
        agent_t *agent = agents_ready (self->agents);
        if (!agent)
            break;
        uint64_t credit = agent_credit (agent);
        size_t max = credit < self->config.work_batch? (size_t) credit: self->config.work_batch;
        job_t *job;
        size_t taken = queue_take (self->queue, max, self->tuples, &job);
        if (taken == 0)
            break;
        size_t sent = s_send_work (self, agent, job, self->tuples, taken);
        if (sent == 0)
            break;              //  out of memory: try again next turn
        agents_spend (self->agents, agent, sent);
    }
}
