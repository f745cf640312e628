//  agents.c -- see agents.h.  Each message from the backend is checked
//  (decoded, key allowed, HELLO first) before it reaches its command.
//  Tuples an agent reports (DONE, RETRY, TOUCH) are agent_reports.c's;
//  those it loses (BYE, lost, denied, lease expired) go to jobs_t from
//  here; the agent's session only stops holding them.
#include "broker/agents.h"
#include "broker/agent_reports.h"
#include "broker/labels.h"
#include "broker/resume.h"
#include "common/log.h"
#include "common/peerlog.h"
#include "proto/wire.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define LOST_PER_TICK    64         //  agents dropped per heartbeat check
#define EXPIRED_PER_TICK 256        //  leases ended per agent per check

struct agents {
    zsock_t *backend;           //  ROUTER (borrowed)
    roster_t *roster;
    jobs_t *jobs;
    admission_t *admission;
    broker_counters_t *counters;
    broker_config_t config;
    uint64_t checked;           //  admission generation of the last key check
    agent_reports_t *reports;   //  DONE, RETRY, TOUCH
};

agents_t *
agents_new (zsock_t *backend, roster_t *roster, jobs_t *jobs, admission_t *admission,
            broker_counters_t *counters, dead_letters_t *dead_letters,
            const broker_config_t *config)
{
    agents_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->backend = backend;
    self->roster = roster;
    self->jobs = jobs;
    self->admission = admission;
    self->counters = counters;
    self->config = *config;
    self->reports = agent_reports_new (jobs, admission, dead_letters);
    if (!self->reports)
        agents_destroy (&self);
    return self;
}

void
agents_destroy (agents_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    agents_t *self = *self_p;
    agent_reports_destroy (&self->reports);
    free (self);
    *self_p = NULL;
}

//  Send msg to an agent, in the version of its HELLO, and note it
//  (heartbeats go only to quiet agents).
static void
s_send (agents_t *self, session_t *session, msg_t **msg_p)
{
    msg_set_version (*msg_p, session_version (session));
    int rc = wire_send (msg_p, self->backend, session_envelope (session));
    if (rc)
        peerlog_write (admission_log (self->admission), "backend send", LOG_LEVEL_WARN,
                       "backend: cannot send to agent %s: %s",
                       peerlog_str (session_name (session)).text,
                       rc < 0 && -rc < DRV_E_MAX? msg_error_name (rc): strerror (-rc));
    session_sent (session, zclock_mono ());
}

//  STOP job to an agent that holds count of its tuples.
static void
s_stop (agents_t *self, session_t *session, const job_t *job, size_t count)
{
    msg_t *stop = msg_new (MSG_STOP);
    if (!stop || msg_set_str (stop, MSG_F_JOB, job_name (job))) {
        msg_destroy (&stop);
        log_error ("backend: out of memory: agent %s is not told to stop job %s",
                   peerlog_str (session_name (session)).text, peerlog_str (job_name (job)).text);
        return;
    }
    s_send (self, session, &stop);
    log_info ("job %s: agent %s told to stop its %zu tuples", peerlog_str (job_name (job)).text,
              peerlog_str (session_name (session)).text, count);
}

void
agents_stop_job (agents_t *self, const job_t *job)
{
    for (session_t *session = roster_first (self->roster); session;
         session = roster_next (self->roster)) {
        size_t count = held_count_job (session_held (session), job);
        if (count)
            s_stop (self, session, job, count);
    }
}

//  A new session resumed tuples (HELLO's held) of jobs cancelled meanwhile:
//  STOP for each, after WELCOME.
static void
s_stop_resumed (agents_t *self, session_t *session)
{
    held_t *held = session_held (session);
    for (job_t *job = held_size (held)? jobs_first (self->jobs): NULL; job;
         job = jobs_next (self->jobs)) {
        size_t count = job_ended (job) == JOB_CANCELLED? held_count_job (held, job): 0;
        if (count)
            s_stop (self, session, job, count);
    }
}

//  Answer an agent (or a peer that has not said HELLO) with ERROR, in the
//  version of the message refused.
static void
s_refuse (agents_t *self, zmsg_t *envelope, session_t *session, int version, int code,
          const char *fmt, ...) __attribute__ ((format (printf, 6, 7)));

static void
s_refuse (agents_t *self, zmsg_t *envelope, session_t *session, int version, int code,
          const char *fmt, ...)
{
    char reason[256];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (reason, sizeof reason, fmt, ap);
    va_end (ap);
    char where[128];
    snprintf (where, sizeof where, "backend: agent %s",
              session? session_name (session): "(no HELLO)");
    admission_refused (self->admission, where, code, reason);
    if (envelope)
        wire_send_error (self->backend, envelope, version, code, reason);
    if (session)
        session_sent (session, zclock_mono ());
}

//  ---------------------------------------------------------------------
//  Sessions starting and ending

typedef struct {
    jobs_t *jobs;
    uint32_t why;               //  QUEUE_WHY_LOST or QUEUE_WHY_LEFT
    size_t count;
} requeue_t;

//  held_drain callback: queue a tuple again, at the front of its job.
static void
s_requeue_held (job_t *job, uint64_t id, uint32_t attempt, payload_t *payload_p, void *arg)
{
    requeue_t *requeue = (requeue_t *) arg;
    //  A lost agent's run may be what killed it: the attempt counts.
    queue_tuple_t tuple = {
        id, requeue->why == QUEUE_WHY_LOST? attempt + 1: attempt, requeue->why, *payload_p, 0
    };
    *payload_p = (payload_t) { 0 };
    jobs_requeue (requeue->jobs, job, &tuple, false);
    requeue->count++;
}

//  End an agent's session, queueing again what it held, at once.  A lost
//  agent's tuples get attempt + 1; after BYE the agent handed them back
//  unrun, so the attempt stays.  Returns how many.
static size_t
s_drop (agents_t *self, session_t **session_p, bool lost)
{
    requeue_t requeue = { self->jobs, lost? QUEUE_WHY_LOST: QUEUE_WHY_LEFT, 0 };
    held_drain (session_held (*session_p), s_requeue_held, &requeue);
    roster_remove (self->roster, session_p);
    return requeue.count;
}

//  The session of another connection with this agent's name and key: its
//  predecessor, if it reconnected or restarted (kill -9, crash) before the
//  broker noticed.
static session_t *
s_predecessor (agents_t *self, const char *name, const char *user_id, session_t *except)
{
    for (session_t *session = roster_first (self->roster); session;
         session = roster_next (self->roster))
        if (session != except && streq (session_name (session), name)
        &&  streq (session_user_id (session), user_id? user_id: ""))
            return session;
    return NULL;
}

//  A HELLO with `held` resumes the tuples it names as leases of the new
//  session, from the old session (old, or NULL) or the queue.  True if it
//  had `held`: the agent reconnected rather than started.
static bool
s_resume (agents_t *self, session_t *session, session_t *old, msg_t *msg, int64_t now)
{
    if (!msg_has (msg, MSG_F_HELD))
        return false;
    size_t size = 0;
    const void *data = msg_raw (msg, MSG_F_HELD, &size);
    resume_counts_t counts;
    int rc = resume_leases (self->jobs, session_held (session), old? session_held (old): NULL,
                            data, size, self->config.lease_slack_ms, now, &counts);
    if (rc)
        log_warn ("agent %s: HELLO's held: %s; %zu tuples resumed before it",
                  peerlog_str (session_name (session)).text,
                  rc == -ENOMEM? "out of memory": "malformed", counts.resumed);
    peerlog_write (admission_log (self->admission), "agents", LOG_LEVEL_INFO,
                   "agent %s resumed its session: %zu of the %zu tuples it holds are its "
                   "leases again", peerlog_str (session_name (session)).text,
                   counts.resumed, counts.named);
    return true;
}

//  A new connection of an agent still in the roster: the old session will
//  never report again, so what it held and the new HELLO did not resume
//  goes on now, rather than after 3 silent heartbeats.  If the agent
//  started again, their run may be what killed it: lost, attempt counted;
//  if it only reconnected, it does not hold them (reported, or never
//  received): the attempt stays.
static void
s_end_predecessor (agents_t *self, session_t *old, bool reconnected)
{
    char *name = strdup (session_name (old));
    size_t count = s_drop (self, &old, !reconnected);
    if (!reconnected)
        self->counters->agents_lost++;
    peerlog_write (admission_log (self->admission), "agents", LOG_LEVEL_INFO,
                   "agent %s connected again (a new session with the same name and "
                   "key); the old session ended, %zu tuples queued again%s",
                   peerlog_str (name).text, count, reconnected? " at their attempt": "");
    free (name);
}

static void
s_hello (agents_t *self, zmsg_t *envelope, session_t *session, msg_t *msg, int64_t now)
{
    const char *name = msg_str (msg, MSG_F_AGENT);
    uint64_t slots = msg_uint (msg, MSG_F_SLOTS);
    char labels[LABELS_TEXT_MAX], reason[128];
    size_t labels_size = 0;
    const void *labels_map = msg_raw (msg, MSG_F_LABELS, &labels_size);
    if (labels_text (labels_map, labels_size, labels, reason, sizeof reason)) {
        s_refuse (self, envelope, session, msg_version (msg), DRV_E_BAD_TYPE, "%s", reason);
        return;
    }
    if (session) {
        //  HELLO again on one connection: what it held will not be reported.
        size_t count = s_drop (self, &session, true);
        peerlog_write (admission_log (self->admission), "agents", LOG_LEVEL_INFO,
                       "agent %s said HELLO again; %zu tuples queued again",
                       peerlog_str (name).text, count);
    }
    session_t *old = s_predecessor (self, name, msg_user_id (msg), NULL);
    session = roster_add (self->roster, envelope, name, slots, now);
    if (!session) {
        s_refuse (self, envelope, NULL, msg_version (msg), DRV_E_INTERNAL, "out of memory");
        return;
    }
    session_set_user_id (session, msg_user_id (msg));
    session_set_version (session, msg_version (msg));
    bool reconnected = s_resume (self, session, old, msg, now);
    if (old)
        s_end_predecessor (self, old, reconnected);
    session_set_labels (session, labels);
    session_set_host (session, msg_peer_address (msg));
    self->counters->agents_joined++;
    peerlog_write (admission_log (self->admission), "agents", LOG_LEVEL_INFO,
                   "agent %s joined (%" PRIu64 " slots%s%s%s%s)", peerlog_str (name).text, slots,
                   *session_user_id (session)? ", key ": "",
                   peerlog_str (session_user_id (session)).text,
                   *labels? ", labels ": "", peerlog_str (labels).text);
    msg_t *welcome = msg_new (MSG_WELCOME);
    if (!welcome)
        return;
    msg_set_uint (welcome, MSG_F_HEARTBEAT_MS, self->config.heartbeat_ms);
    s_send (self, session, &welcome);
    if (reconnected)
        s_stop_resumed (self, session);
}

static void
s_bye (agents_t *self, session_t *session)
{
    char *name = strdup (session_name (session));
    size_t count = s_drop (self, &session, false);
    self->counters->agents_left++;
    peerlog_write (admission_log (self->admission), "agents", LOG_LEVEL_INFO,
                   "agent %s left; %zu tuples queued again", peerlog_str (name).text, count);
    free (name);
}

//  A message from a key no longer allowed (revoked after it connected):
//  ERROR DENIED, and the session ends like a lost one's, so the agent gets
//  no more work and what it held is queued again.
static void
s_denied (agents_t *self, zmsg_t *envelope, int version, session_t **session_p,
          const char *key, bool answer)
{
    char reason[128];
    admission_denied_reason (key, reason, sizeof reason);
    char where[128];
    snprintf (where, sizeof where, "backend: agent %s",
              *session_p? session_name (*session_p): "(no HELLO)");
    admission_refused (self->admission, where, DRV_E_DENIED, reason);
    if (answer && envelope)
        wire_send_error (self->backend, envelope, version, DRV_E_DENIED, reason);
    if (!*session_p)
        return;
    char *name = strdup (session_name (*session_p));
    size_t count = s_drop (self, session_p, true);
    self->counters->agents_lost++;
    peerlog_write (admission_log (self->admission), "agents", LOG_LEVEL_WARN,
                   "agent %s dropped: its key is not allowed; %zu tuples queued again",
                   peerlog_str (name).text, count);
    free (name);
}

//  ---------------------------------------------------------------------
//  Reports: DONE, RETRY, TOUCH (agent_reports.h)

//  DONE, RETRY and TOUCH name a job: it must exist.
static void
s_report (agents_t *self, zmsg_t *envelope, session_t *session, msg_t *msg)
{
    const char *name = msg_str (msg, MSG_F_JOB);
    job_t *job = jobs_lookup (self->jobs, name);
    if (!job)
        s_refuse (self, envelope, session, msg_version (msg), DRV_E_UNKNOWN_JOB, "no job %s",
                  name);
    else
        agent_reports_apply (self->reports, session, job, msg);
}

//  ---------------------------------------------------------------------
//  One message from the backend

//  A message on the connection of a session that ended (the agent was lost
//  in a partition, or reconnected, and its old connection delivers what it
//  had queued): not a peer's error.  ERROR UNEXPECTED still tells an agent
//  that did not notice to say HELLO again; nothing is counted.
static void
s_late (agents_t *self, zmsg_t *envelope, int version, msg_t *msg)
{
    const char *command = msg_command_name (msg_command (msg));
    peerlog_write (admission_log (self->admission), "agents", LOG_LEVEL_INFO,
                   "agent %s: %s on the connection of its ended session; told to say "
                   "HELLO again", peerlog_str (roster_ended (self->roster,
                                                             zmsg_first (envelope))).text,
                   command);
    char reason[64];
    snprintf (reason, sizeof reason, "%s before HELLO: the session ended", command);
    wire_send_error (self->backend, envelope, version, DRV_E_UNEXPECTED, reason);
}

//  Commands from an agent that has said HELLO.
static void
s_command (agents_t *self, zmsg_t *envelope, session_t *session, msg_t *msg)
{
    switch (msg_command (msg)) {
        case MSG_CREDIT:
            roster_credit (self->roster, session, msg_uint (msg, MSG_F_CREDIT));
            break;
        case MSG_BYE:
            s_bye (self, session);
            break;
        case MSG_DONE:
        case MSG_RETRY:
        case MSG_TOUCH:
            s_report (self, envelope, session, msg);
            break;
        default:
            break;          //  HEARTBEAT: hearing it was the point
    }
}

void
agents_recv (agents_t *self)
{
    zmsg_t *envelope = NULL;
    msg_t *msg = NULL;
    int version = MSG_VERSION_MIN;
    int rc = wire_recv_request (self->backend, &envelope, &msg, &version, NULL, 0);
    if (rc == -DRV_E_NOTHING)
        return;
    int64_t now = zclock_mono ();
    session_t *session = envelope? roster_lookup (self->roster, zmsg_first (envelope)): NULL;
    if (session)
        session_heard (session, now);
    if (rc)
        s_refuse (self, envelope, session, version, -rc, "%s", admission_decode_reason (-rc));
    else
    if (!admission_allowed (self->admission, AUTH_DOMAIN_AGENTS, msg_user_id (msg)))
        s_denied (self, envelope, version, &session, msg_user_id (msg),
                  msg_command (msg) != MSG_ERROR);
    else
    switch (msg_command (msg)) {
        case MSG_HELLO:
            s_hello (self, envelope, session, msg, now);
            break;
        case MSG_ERROR:
            admission_peer_error (self->admission, "backend", msg);
            break;
        case MSG_CREDIT:
        case MSG_DONE:
        case MSG_RETRY:
        case MSG_TOUCH:
        case MSG_HEARTBEAT:
        case MSG_BYE:
            if (session)
                s_command (self, envelope, session, msg);
            else
            if (envelope && roster_ended (self->roster, zmsg_first (envelope)))
                s_late (self, envelope, version, msg);
            else
                s_refuse (self, envelope, NULL, version, DRV_E_UNEXPECTED, "%s before HELLO",
                          msg_command_name (msg_command (msg)));
            break;
        default:
            s_refuse (self, envelope, session, version, DRV_E_UNEXPECTED,
                      "%s is not an agent command", msg_command_name (msg_command (msg)));
    }
    msg_destroy (&msg);
    zmsg_destroy (&envelope);
}

//  ---------------------------------------------------------------------
//  Heartbeats

//  After an allow-list changed: end the sessions of agents whose key is no
//  longer allowed, LOST_PER_TICK at a time.
static void
s_recheck_keys (agents_t *self)
{
    uint64_t generation = admission_generation (self->admission);
    if (generation == self->checked)
        return;
    session_t *denied[LOST_PER_TICK];
    size_t count = 0;
    bool more = false;
    for (session_t *session = roster_first (self->roster); session;
         session = roster_next (self->roster))
        if (!admission_allowed (self->admission, AUTH_DOMAIN_AGENTS,
                                session_user_id (session))) {
            if (count == LOST_PER_TICK) {
                more = true;        //  the rest at the next check
                break;
            }
            denied[count++] = session;
        }
    for (size_t i = 0; i < count; i++)
        s_denied (self, session_envelope (denied[i]), session_version (denied[i]), &denied[i],
                  session_user_id (denied[i]), true);
    if (!more)
        self->checked = generation;
}

//  Tuples whose lease ran out go back to the queue with the attempt
//  counted (the run may hang or have died), after a back-off.
static void
s_expire_leases (agents_t *self, session_t *session, int64_t now)
{
    held_ref_t expired[EXPIRED_PER_TICK];
    size_t count = held_expired (session_held (session), now, expired, EXPIRED_PER_TICK);
    for (size_t i = 0; i < count; i++) {
        queue_tuple_t tuple = { expired[i].id, 0, QUEUE_WHY_EXPIRED, { 0 }, 0 };
        if (!held_take (session_held (session), expired[i].job, expired[i].id,
                        &tuple.attempt, &tuple.payload))
            continue;
        tuple.attempt++;
        jobs_requeue (self->jobs, expired[i].job, &tuple, true);
        self->counters->expired++;
    }
    if (count)
        peerlog_write (admission_log (self->admission), "leases", LOG_LEVEL_WARN,
                       "agent %s: %zu leases expired; tuples queued again",
                       peerlog_str (session_name (session)).text, count);
}

static void
s_lost (agents_t *self, session_t *session, int64_t now)
{
    char *name = strdup (session_name (session));
    int64_t silent = now - session_last_heard (session);
    size_t count = s_drop (self, &session, true);
    self->counters->agents_lost++;
    peerlog_write (admission_log (self->admission), "agents", LOG_LEVEL_WARN,
                   "agent %s lost (silent for %" PRId64 " ms); %zu tuples queued again",
                   peerlog_str (name).text, silent, count);
    free (name);
}

void
agents_heartbeats (agents_t *self, int64_t now)
{
    int64_t interval = self->config.heartbeat_ms;
    session_t *lost[LOST_PER_TICK];
    size_t lost_count = 0;
    s_recheck_keys (self);
    for (session_t *session = roster_first (self->roster); session;
         session = roster_next (self->roster)) {
        if (now - session_last_heard (session) >= 3 * interval) {
            if (lost_count < LOST_PER_TICK)
                lost[lost_count++] = session;
            continue;
        }
        s_expire_leases (self, session, now);
        if (now - session_last_sent (session) >= interval) {
            msg_t *heartbeat = msg_new (MSG_HEARTBEAT);
            if (heartbeat)
                s_send (self, session, &heartbeat);
        }
    }
    for (size_t i = 0; i < lost_count; i++)
        s_lost (self, lost[i], now);
}
