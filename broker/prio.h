//  prio.h -- priorities and delays of jobs and tuples (PROTOCOL.md 13).
//  A job's `priority` and `not_before` options put all its tuples at a
//  level of the queue and hold the job back (queue_hold) until its time:
//  no memory per tuple.  A tuple whose SUBMIT gave it a priority or a
//  not_before of its own ("tuned") is kept here with its payload, in
//  memory (at most max-queued of them), and recorded in the store, so that
//  a restart puts it back where it was.  Tuples not yet due wait in a heap
//  by wall-clock time.  jobs.c owns one and lends it its queue and store.
#ifndef DROVER_BROKER_PRIO_H
#define DROVER_BROKER_PRIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/job.h"
#include "broker/queue.h"
#include "broker/store.h"
#include "proto/msg.h"

//  How far ahead a not_before may be: 366 days.
#define PRIO_NOT_BEFORE_MAX_AHEAD_MS  (366ULL * 24 * 3600 * 1000)

typedef struct prio prio_t;

//  ---------------------------------------------------------------------
//  A SUBMIT's fields

//  The `priority` and `not_before` options and the `per_tuple` field of a
//  SUBMIT with count tuples, against their rules (now: the broker's wall
//  clock, ms).  0, or -DRV_E_BAD_TYPE with the reason written.
int      prio_check (const msg_t *msg, uint64_t now, char *reason, size_t size);

//  The per-tuple settings of a checked SUBMIT, one per tuple.
typedef struct prio_tuples prio_tuples_t;
//  NULL if the SUBMIT has no `per_tuple` (or out of memory: *failed).
prio_tuples_t *prio_tuples_new (const msg_t *msg, bool *failed_p);
void     prio_tuples_destroy (prio_tuples_t **self_p);
//  Tuple index's level and not_before (0: none) as given, or the job's.
void     prio_tuples_get (const prio_tuples_t *self, const job_t *job, size_t index,
                          uint32_t *level_p, uint64_t *not_before_p);

//  ---------------------------------------------------------------------
//  Tuned tuples and held jobs

//  queue and store are borrowed.  NULL if out of memory.
prio_t  *prio_new (queue_t *queue, store_t *store);
//  Drops the payloads still waiting.
void     prio_destroy (prio_t **self_p);

//  True if a tuple of job at level with not_before is tuned: not where
//  its job's tuples go (now: wall clock, ms).
bool     prio_tuned (const job_t *job, uint32_t level, uint64_t not_before, uint64_t now);
//  Place a tuned tuple (payload taken, attempt set), record it in the
//  store (record: true; false when read back from it), and remember its
//  level for its requeues.  0 or -ENOMEM (payload left with the caller).
int      prio_place (prio_t *self, job_t *job, queue_tuple_t *tuple, uint64_t not_before,
                     bool record, uint64_t now);
//  A new or recovered job: held if its not_before is to come.  0 or -ENOMEM.
int      prio_job_added (prio_t *self, job_t *job, uint64_t now);
//  The level tuple id of job goes back to when it is queued again.
uint32_t prio_level (const prio_t *self, const job_t *job, uint64_t id);
//  Tuples finished: tuned ones are forgotten (and in the store).
void     prio_finished (prio_t *self, const job_t *job, const msg_ref_t *refs, size_t count);
//  Release what is due at now (wall clock, ms): jobs, then tuples to
//  their levels.  A job that has ended (cancelled) is released at once,
//  its tuples with it, so that they get their results.
void     prio_due (prio_t *self, uint64_t now);
//  When the next thing is due (wall clock, ms), or UINT64_MAX.
uint64_t prio_next (const prio_t *self);
//  Tuples of job waiting for their not_before (its own or its job's).
uint64_t prio_delayed (const prio_t *self, const job_t *job);

//  After a restart: every tuned tuple of the store, put back in its level
//  or the heap; job_of finds a job by its number.
typedef job_t *(prio_job_of_fn) (void *arg, uint32_t number);
void     prio_recover (prio_t *self, prio_job_of_fn *job_of, void *arg, uint64_t now);

#endif
