//  agent_reports.c -- see agent_reports.h.  The tuples an agent reports go
//  to jobs_t; its session only stops holding them (or, for TOUCH, holds
//  them longer).
#include "broker/agent_reports.h"
#include "common/log.h"
#include "common/peerlog.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

struct agent_reports {
    jobs_t *jobs;
    admission_t *admission;     //  its peer log
    dead_letters_t *dead_letters;   //  tuples that failed their last attempt
    msg_ref_t *refs;            //  scratch: the refs of one DONE
    size_t refs_size;
};

agent_reports_t *
agent_reports_new (jobs_t *jobs, admission_t *admission, dead_letters_t *dead_letters)
{
    agent_reports_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->jobs = jobs;
    self->admission = admission;
    self->dead_letters = dead_letters;
    return self;
}

void
agent_reports_destroy (agent_reports_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    agent_reports_t *self = *self_p;
    free (self->refs);
    free (self);
    *self_p = NULL;
}

static int
s_refs_reserve (agent_reports_t *self, size_t count)
{
    if (count <= self->refs_size)
        return 0;
    msg_ref_t *refs = realloc (self->refs, count * sizeof *refs);
    if (!refs)
        return -ENOMEM;
    self->refs = refs;
    self->refs_size = count;
    return 0;
}

//  DONE: stop holding the tuples and count them done (or failed for dead).
//  Refs the agent does not hold may be late duplicates of a redelivered
//  tuple: ignored.
static void
s_finish (agent_reports_t *self, session_t *session, job_t *job, const msg_ref_t *refs,
          size_t count, bool failed)
{
    if (count == 0)
        return;
    if (s_refs_reserve (self, count)) {
        log_error ("backend: out of memory for DONE of job %s",
                   peerlog_str (job_name (job)).text);
        return;
    }
    size_t n = 0;
    held_t *held = session_held (session);
    for (size_t i = 0; i < count && i < HELD_AHEAD; i++)
        held_prefetch (held, job, refs[i].id);
    for (size_t i = 0; i < count; i++) {
        uint32_t attempt;
        payload_t payload;
        if (i + HELD_AHEAD < count)
            held_prefetch (held, job, refs[i + HELD_AHEAD].id);
        if (!held_take (held, job, refs[i].id, &attempt, &payload)) {
            log_debug ("agent %s reported tuple %s/%" PRIu64 " it does not hold "
                       "(a late duplicate?)", peerlog_str (session_name (session)).text,
                       peerlog_str (job_name (job)).text, refs[i].id);
            continue;
        }
        job_sub_bytes (job, payload_size (payload));
        payload_drop (&payload);
        self->refs[n++] = (msg_ref_t) { refs[i].id, attempt };
        //  Past the last attempt it went out as a dead letter: dispatch
        //  remembered it then, with why.
        if (failed && attempt <= job_max_attempts (job))
            dead_letters_add (self->dead_letters, job_name (job), refs[i].id, attempt,
                              "failed on its last attempt (its error is at the sink)");
    }
    jobs_finished (self->jobs, job, self->refs, n, failed);
    session_finished (session, n);
}

static void
s_done (agent_reports_t *self, session_t *session, job_t *job, msg_t *msg)
{
    size_t count = 0;
    const msg_ref_t *refs = msg_refs (msg, MSG_F_TUPLES, &count);
    s_finish (self, session, job, refs, count, false);
    count = 0;
    refs = msg_refs (msg, MSG_F_DEAD, &count);
    s_finish (self, session, job, refs, count, true);
}

//  RETRY: queue again with attempt + 1 after a back-off.  After the last
//  attempt that makes it a dead letter, sent at once: the sink then has a
//  failed result for it, where a RETRY left none.
static void
s_retry (agent_reports_t *self, session_t *session, job_t *job, msg_t *msg)
{
    size_t count = 0;
    const msg_ref_t *refs = msg_refs (msg, MSG_F_TUPLES, &count);
    uint32_t max_attempts = job_max_attempts (job);
    //  Last to first: each goes to the front, so they keep their order.
    for (size_t i = count; i-- > 0;) {
        uint32_t attempt;
        payload_t payload;
        uint64_t id = refs[i].id;
        if (!held_take (session_held (session), job, id, &attempt, &payload)) {
            log_debug ("agent %s retried tuple %s/%" PRIu64 " it does not hold",
                       peerlog_str (session_name (session)).text,
                       peerlog_str (job_name (job)).text, id);
            continue;
        }
        if (attempt >= max_attempts)
            peerlog_write (admission_log (self->admission), "agents", LOG_LEVEL_INFO,
                           "agent %s retried tuple %s/%" PRIu64 " on its last attempt "
                           "(%u of %u); sent as a dead letter",
                           peerlog_str (session_name (session)).text,
                           peerlog_str (job_name (job)).text, id, attempt, max_attempts);
        queue_tuple_t tuple = { id, attempt + 1, QUEUE_WHY_RETRY, payload, 0 };
        jobs_requeue (self->jobs, job, &tuple, true);
    }
    log_debug ("agent %s: RETRY %zu tuples of job %s: %s",
               peerlog_str (session_name (session)).text, count,
               peerlog_str (job_name (job)).text,
               peerlog_str (msg_has (msg, MSG_F_REASON)? msg_str (msg, MSG_F_REASON): "").text);
}

//  TOUCH: extend the leases of tuples this agent holds, lease_ms from now.
//  Tuples it does not hold (expired, or never its own) are ignored.
static void
s_touch (session_t *session, job_t *job, msg_t *msg)
{
    size_t count = 0;
    const msg_ref_t *refs = msg_refs (msg, MSG_F_TUPLES, &count);
    uint64_t lease_ms = msg_uint (msg, MSG_F_LEASE_MS);
    if (lease_ms > MSG_LEASE_MS_MAX)
        lease_ms = MSG_LEASE_MS_MAX;
    int64_t deadline = zclock_mono () + (int64_t) lease_ms;
    size_t touched = 0;
    for (size_t i = 0; i < count; i++)
        touched += held_touch (session_held (session), job, refs[i].id, deadline);
    log_debug ("agent %s: TOUCH %zu of %zu tuples of job %s for %" PRIu64 " ms",
               peerlog_str (session_name (session)).text, touched, count,
               peerlog_str (job_name (job)).text, lease_ms);
}

void
agent_reports_apply (agent_reports_t *self, session_t *session, job_t *job, msg_t *msg)
{
    if (msg_command (msg) == MSG_DONE)
        s_done (self, session, job, msg);
    else
    if (msg_command (msg) == MSG_TOUCH)
        s_touch (session, job, msg);
    else
        s_retry (self, session, job, msg);
}
