//  resume.c -- see resume.h.  One tuple at a time: a HELLO names at most
//  what the agent's slots held, and a tuple claimed from the queue is read
//  from the store on its own (queue_claim).
#include "broker/resume.h"
#include "common/log.h"
#include "common/peerlog.h"
#include "proto/holdings.h"
#include "proto/msg.h"

#include <inttypes.h>

typedef struct {
    jobs_t *jobs;
    held_t *into;
    held_t *old;
    uint32_t lease_slack_ms;
    int64_t now;
    resume_counts_t *counts;
} resume_t;

//  Tuple id of job, out of the old session or the queue, into the new
//  session's table.  True if it is held there now.
static bool
s_resume_one (resume_t *self, job_t *job, uint64_t id, int64_t deadline)
{
    queue_tuple_t tuple = { id, 0, QUEUE_WHY_LEFT, { 0 }, 0 };
    bool from_old = self->old
                 && held_take (self->old, job, id, &tuple.attempt, &tuple.payload);
    if (!from_old && jobs_claim (self->jobs, job, id, &tuple))
        return false;
    if (held_put (self->into, job, id, tuple.attempt, &tuple.payload) == 0) {
        held_touch (self->into, job, id, deadline);
        return true;
    }
    //  Named twice (-EEXIST), or out of memory: back where it came from.
    if (from_old && held_put (self->old, job, id, tuple.attempt, &tuple.payload) == 0)
        return false;
    tuple.why = QUEUE_WHY_LEFT;
    jobs_requeue (self->jobs, job, &tuple, false);
    return false;
}

//  holdings_each callback: one job's runs.
static void
s_resume_job (void *arg, const char *name, const msg_run_t *runs, size_t count)
{
    resume_t *self = (resume_t *) arg;
    job_t *job = jobs_lookup (self->jobs, name);
    uint64_t lease_ms = job? (uint64_t) job_timeout_ms (job) + self->lease_slack_ms: 0;
    if (lease_ms > MSG_LEASE_MS_MAX)
        lease_ms = MSG_LEASE_MS_MAX;
    int64_t deadline = self->now + (int64_t) lease_ms;
    for (size_t i = 0; i < count; i++)
        for (uint64_t k = 0; k < runs[i].count && self->counts->named < RESUME_MAX; k++) {
            self->counts->named++;
            if (job && s_resume_one (self, job, runs[i].first + k, deadline))
                self->counts->resumed++;
        }
    if (!job)
        log_debug ("HELLO names tuples of job %s, which the broker does not know",
                   peerlog_str (name).text);
}

int
resume_leases (jobs_t *jobs, held_t *into, held_t *old, const void *data, size_t size,
               uint32_t lease_slack_ms, int64_t now, resume_counts_t *counts)
{
    resume_t self = { jobs, into, old, lease_slack_ms, now, counts };
    *counts = (resume_counts_t) { 0 };
    return holdings_each (data, size, s_resume_job, &self);
}
