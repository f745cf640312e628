//  jobs.h -- the jobs the broker knows and where their tuples are: waiting
//  in the queue, backing off after a failed attempt, running (the agent
//  side holds those), or finished.  Every change of a tuple's place goes
//  through here, so that the jobs' counters, the queue and the store agree.
//  The producer side, the agent side and dispatch share one jobs_t, lent to
//  each by the broker, which owns it and the store under it.
#ifndef DROVER_BROKER_JOBS_H
#define DROVER_BROKER_JOBS_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/config.h"
#include "broker/counters.h"
#include "broker/deps_batch.h"
#include "broker/job.h"
#include "broker/prio.h"
#include "broker/queue.h"
#include "broker/store.h"
#include "proto/msg.h"

typedef struct jobs jobs_t;

//  store and counters are borrowed; config gives the retry back-off.  With
//  a durable store the queue reads payloads back from it.  NULL if out of
//  memory.
jobs_t  *jobs_new (store_t *store, broker_counters_t *counters,
                   const broker_config_t *config);
//  Destroys the jobs and every tuple waiting or backing off.
void     jobs_destroy (jobs_t **self_p);

//  Told of every tuple that stops running (finished, or queued again), for
//  the limits (limits.h).  fn NULL: nobody.
typedef void (jobs_ended_fn) (void *arg, const job_t *job, uint64_t id);
void     jobs_set_on_ended (jobs_t *self, jobs_ended_fn *fn, void *arg);

//  Told when a job is cancelled (jobs_cancel), for its running tuples to be
//  stopped on their agents (agents.h).  fn NULL: nobody.
typedef void (jobs_cancelled_fn) (void *arg, const job_t *job);
void     jobs_set_on_cancelled (jobs_t *self, jobs_cancelled_fn *fn, void *arg);
//  CANCEL (PROTOCOL.md 12): end job as cancelled unless it ended already,
//  and if it is cancelled now (again or first), tell the hook.
void     jobs_cancel (jobs_t *self, job_t *job);

//  The job of that name, or NULL.
job_t   *jobs_lookup (jobs_t *self, const char *name);
//  Every job, in no order (add none while iterating); how many.
job_t   *jobs_first (jobs_t *self);
job_t   *jobs_next (jobs_t *self);
size_t   jobs_count (const jobs_t *self);
//  Register a new job (taken): number it and record it in the store.
//  Returns it (the table's now), or NULL if out of memory (destroyed).
job_t   *jobs_add (jobs_t *self, job_t **job_p);
//  A job found in the store at start (taken), with count tuples from id
//  first on waiting there.  Returns it, or NULL (destroyed, logged).
job_t   *jobs_adopt (jobs_t *self, job_t **job_p, uint64_t first, size_t count);
//  After every job is adopted: the tuples whose priority or not_before
//  differ from their job's go back where they were (prio.h).
void     jobs_recover_prio (jobs_t *self);
//  Record the jobs whose counters changed, in the open store transaction.
void     jobs_put_dirty (jobs_t *self);

//  Accept the tuples of *chunk_p into job (taken, NULLed whatever the
//  result: a SUBMIT's, in order): they get the job's next ids and go to
//  the store (one record) and the queue.  With record (a SUBMIT with a
//  batch id: the digest of that id and the tuples), the ids are remembered
//  in it and in the store, for a retry.  0 with the first id in *first_p,
//  or -ENOMEM or the store's error; then nothing is accepted.
int      jobs_accept (jobs_t *self, job_t *job, chunk_t **chunk_p,
                      store_batch_t *record, uint64_t *first_p);
//  jobs_accept with the SUBMIT's per-tuple priorities and not_before
//  (tuned; NULL: none), or with its tuples' dependencies (deps, from
//  jobs_deps_check; NULL: none wait).  Not both: a SUBMIT with deps has
//  no per_tuple (submit.c refuses it).
int      jobs_accept_batch (jobs_t *self, job_t *job, chunk_t **chunk_p,
                            store_batch_t *record, const prio_tuples_t *tuned,
                            const deps_batch_t *deps, uint64_t *first_p);
//  A SUBMIT's `deps` map (PROTOCOL.md 14) for count tuples to job name
//  (job NULL: new), checked: NULL with the reason (BAD_TYPE) if it breaks
//  a rule.
deps_batch_t *jobs_deps_check (jobs_t *self, const char *name, const job_t *job,
                               const void *map, size_t size, size_t count,
                               char *reason, size_t reason_size);
//  Remember a SUBMIT's batch (record: its digest) as having got ids first
//  .. first + count - 1 of job, though job took them elsewhere (the runs
//  of a job run with each, each.h).  0 or the store's error.
int      jobs_remember (jobs_t *self, job_t *job, store_batch_t *record,
                        uint64_t first, uint64_t count);
//  The digest of a SUBMIT's batch id and tuples (msg's), into record:
//  what remembered batches are found by (broker/digest.h).  0 or -ENOMEM.
int      jobs_batch_digest (jobs_t *self, const char *batch, const msg_t *msg,
                            store_batch_t *record);
//  What the batch of job with record->digest got when it was accepted,
//  into record: 0, or -ENOENT.
int      jobs_batch (jobs_t *self, const job_t *job, store_batch_t *record);
//  Over every job: tuples queued (waiting or backing off) and bytes of the
//  tuples not finished, for the producers' limits.
void     jobs_totals (jobs_t *self, uint64_t *queued_p, uint64_t *bytes_p);

//  Take up to max waiting tuples of the job next in turn, into out[]
//  (payloads to the caller); that job in *job_p (NULL: nothing waits).
size_t   jobs_take (jobs_t *self, size_t max, queue_tuple_t *out, job_t **job_p);
//  The most bytes of fields (job_fields_size) of any job added or adopted
//  so far: what a WORK of any of them may have to carry.
size_t   jobs_largest_fields (const jobs_t *self);
//  jobs_take of the first job in turn that fits (queue_take_fit).
size_t   jobs_take_fit (jobs_t *self, size_t max, queue_tuple_t *out, job_t **job_p,
                        queue_fits_fn *fits, void *arg);
//  Give back a tuple taken and not sent, at the front of its job's queue.
//  If even that fails (out of memory) it is counted failed.
void     jobs_untake (jobs_t *self, job_t *job, queue_tuple_t *tuple);
//  Tuples were sent to an agent (refs: ids and attempts): count them
//  running.  Their leases are the agent's held table's, in memory only.
void     jobs_leased (jobs_t *self, job_t *job, const msg_ref_t *refs, size_t count);

//  An agent that held tuple id of job when the broker restarted resumes
//  it: if it waits in the queue as read back from the store, it is taken
//  out and counted running, its attempt and payload into *tuple (the
//  caller's, to hold).  0, or -ENOENT if it does not wait so, or -ENOMEM.
int      jobs_claim (jobs_t *self, job_t *job, uint64_t id, queue_tuple_t *tuple);

//  Running tuples finished (refs: ids and the attempts that ran): the store
//  forgets them, and they count done or failed.  Their payloads and bytes
//  are the caller's to drop (job_sub_bytes).
void     jobs_finished (jobs_t *self, job_t *job, const msg_ref_t *refs,
                        size_t count, bool failed);
//  Tuples sent to be stored as never run (excluded, cancelled, aborted):
//  those waiting on them will be skipped.
void     jobs_not_run (jobs_t *self, job_t *job, const msg_ref_t *refs, size_t count);
//  The job ended: its tuples waiting on dependencies go to the queue
//  (stored as it ended).
void     jobs_release_waiting (jobs_t *self, job_t *job);
//  Tuple id of job is to be stored as skipped: true with why, and the
//  tuple that failed in *cause_p.
bool     jobs_skipped (jobs_t *self, const job_t *job, uint64_t id, deps_ref_t *cause_p,
                       char *reason, size_t size);
//  At start, after every job was adopted, in a store transaction: the
//  tuples that wait on dependencies, as before the restart.  0 or the
//  store's error.
int      jobs_recover_graph (jobs_t *self);
//  Steps of the dependency bookkeeping so far (a measure of its work).
uint64_t jobs_graph_steps (const jobs_t *self);
//  Queue a running tuple again (payload taken, attempt already set); with
//  backoff after a wait, except dead letters (attempts used up), which
//  nothing will run.  If out of memory it is counted failed.
void     jobs_requeue (jobs_t *self, job_t *job, queue_tuple_t *tuple, bool backoff);
//  Move tuples whose back-off is over to the front of their job's queue;
//  release what is due of not_before (prio.h).
void     jobs_delays_due (jobs_t *self, int64_t now);
//  When the next back-off or not_before ends (monotonic ms), or INT64_MAX.
int64_t  jobs_next_due (const jobs_t *self);

//  Tuples waiting for an agent; jobs with tuples waiting; tuples backing off.
size_t   jobs_waiting (const jobs_t *self);
size_t   jobs_waiting_jobs (const jobs_t *self);
size_t   jobs_backing_off (const jobs_t *self);
//  Of job's queued tuples, those waiting for their not_before.
uint64_t jobs_delayed (const jobs_t *self, const job_t *job);

#endif
