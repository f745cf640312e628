//  limits.h -- rate and concurrency limits per key, across all agents
//  (PROTOCOL.md 10.4): a job whose options hold
//  "limit": {"key": "host", "rate": 50, "burst": 10, "concurrency": 4}
//  sends no key's tuples faster or more at once than that.  Keys: "host"
//  (the tuple's target host), "net" (its /24 or /64), "job" (one key for
//  the whole job: a job-wide limit), or N (the tuple's N-th element).
//
//  Dispatch hands each batch it takes to limits_admit: tuples whose key
//  may go stay in the batch; the others are set aside under their key
//  (spec/limiter.h), so a key at its limit never holds up another (no
//  head-of-line blocking).  limits_ready gives back set-aside tuples whose
//  key may go now.  jobs tells limits_ended when a running tuple stops.
#ifndef DROVER_BROKER_LIMITS_H
#define DROVER_BROKER_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/jobs.h"

//  Most tuples of one job set aside at once: past it dispatch takes no
//  more of that job's queue until some go.
#define LIMITS_ASIDE_MAX 16384

typedef struct limits limits_t;

//  NULL if out of memory.
limits_t *limits_new (void);
//  Drops the tuples set aside (a durable store still has them).
void      limits_destroy (limits_t **self_p);

//  Keep the tuples of job (just taken) that may go now, in order, at the
//  front of tuples; set the others aside.  Returns how many may go; those
//  count against their key until limits_ended.
size_t    limits_admit (limits_t *self, job_t *job, queue_tuple_t *tuples, size_t count);
//  Up to max set-aside tuples of one job whose `requires` labels meets
//  (labels.h) and whose keys may go now, into out; the job in *job_p.
size_t    limits_ready (limits_t *self, const char *labels, size_t max, queue_tuple_t *out,
                        job_t **job_p);
//  Tuples set aside, in all jobs.
size_t    limits_aside (const limits_t *self);
//  Whether job has LIMITS_ASIDE_MAX tuples set aside.
bool      limits_full (limits_t *self, const job_t *job);
//  A tuple of job stopped running (finished, or queued again).
void      limits_ended (limits_t *self, const job_t *job, uint64_t id);
//  Forget the jobs that are complete (a limiter holds its table of keys:
//  a few MB).  Now and then.
void      limits_sweep (limits_t *self);
//  Milliseconds until a set-aside tuple may go by the passing of time
//  alone: 0 now, -1 if none waits on a rate.
int64_t   limits_wait_ms (const limits_t *self);

#endif
