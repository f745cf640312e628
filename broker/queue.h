//  queue.h -- tuples waiting for an agent, by priority level (0 to 9,
//  higher first; PROTOCOL.md 13) and, within a level, by job: each (job,
//  level) has its own FIFO, a lane, and the jobs of a level take turns
//  (round robin), so one big job does not starve the others.  Lower levels
//  are not starved either: while several levels wait, one tuple in
//  QUEUE_SHARE goes to a level below the highest, the lower levels taking
//  those turns in turn.  A job may be held (its not_before is to come):
//  its lanes keep their tuples and are passed over until it is released.
//  With the memory store the queue holds payloads: references into the
//  chunk of each SUBMIT (chunk.h), copied once when accepted.  With a durable store, fresh tuples
//  stay on disk: a job's lane keeps only a count and the next id to read,
//  and queue_take reads a batch through the reader when it needs one, so
//  memory does not grow with queue depth.  Tuples queued again (retries)
//  always carry their payload, in front of the lane.
#ifndef DROVER_BROKER_QUEUE_H
#define DROVER_BROKER_QUEUE_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/chunk.h"
#include "broker/job.h"

//  One waiting tuple.  The payload's reference is owned by whoever holds
//  the struct.
//  why says what sent it back (QUEUE_WHY_*), for dead letters.
//  level is the priority level it was taken from (queue_take sets it) and
//  goes back to (queue_return).
typedef struct {
    uint64_t id;
    uint32_t attempt;
    uint32_t why;
    payload_t payload;
    uint32_t level;
} queue_tuple_t;

#define QUEUE_LEVELS  10        //  priority levels 0 .. 9
#define QUEUE_SHARE   16        //  lower levels get 1 tuple in this many

enum {
    QUEUE_WHY_NEW = 0,          //  fresh, or read back from the store
    QUEUE_WHY_RETRY,            //  the agent's attempt failed (RETRY)
    QUEUE_WHY_LOST,             //  its agent was lost
    QUEUE_WHY_EXPIRED,          //  its lease expired
    QUEUE_WHY_LEFT              //  its agent left (BYE) before running it
};

typedef struct queue queue_t;

//  Read up to max stored tuples of job with id >= from, in id order.
typedef size_t (queue_reader_fn) (void *arg, job_t *job, uint64_t from,
                                  size_t max, queue_tuple_t *out);

//  reader may be NULL if nothing is ever pushed with queue_push_stored.
queue_t *queue_new_reader (queue_reader_fn *reader, void *arg);
queue_t *queue_new (void);
//  Drops the payloads still waiting.
void     queue_destroy (queue_t **self_p);

//  Append a tuple at the back of its job's FIFO at the job's level
//  (job_priority), taking the payload.  Returns 0, or -ENOMEM (the payload
//  is then left with the caller).
int      queue_push (queue_t *self, job_t *job, uint64_t id, uint32_t attempt,
                     payload_t *payload_p);
//  queue_push at tuple->level (below QUEUE_LEVELS); takes tuple->payload.
int      queue_push_level (queue_t *self, job_t *job, queue_tuple_t *tuple);
//  count tuples of job, ids from first up (the store may have holes where
//  tuples finished), wait in the store, at the job's level; they are read
//  after the lane's tuples with payloads.  0 or -ENOMEM.
int      queue_push_stored (queue_t *self, job_t *job, uint64_t first, size_t count);
//  count of the tuples queue_push_stored counted for job are not to be
//  read after all (they wait on their dependencies: deps.h; the reader
//  passes over them).
void     queue_forget_stored (queue_t *self, job_t *job, size_t count);
//  Make room for count more tuples of job, so that the pushes of a batch
//  that follow cannot fail half way.  0 or -ENOMEM.
int      queue_reserve (queue_t *self, job_t *job, size_t count);
//  Put a tuple back at the FRONT of its job's FIFO: a retried or orphaned
//  tuple has waited once already, so it goes before fresh ones (low latency
//  for retries).  To keep several in order, requeue them last to first.
int      queue_requeue (queue_t *self, job_t *job, uint64_t id, uint32_t attempt,
                        payload_t *payload_p);
//  queue_requeue at tuple->level, with the reason it came back; takes
//  tuple->payload.
int      queue_return (queue_t *self, job_t *job, queue_tuple_t *tuple);
//  Take up to max tuples of ONE lane (the level whose turn it is, the next
//  job of it in round-robin order) into out[], oldest first; payloads move
//  to the caller.  Returns how many, and the job in *job_p (NULL if no
//  tuple waits that may go now).
size_t   queue_take (queue_t *self, size_t max, queue_tuple_t *out, job_t **job_p);
//  queue_take of the first lane, in that order, whose job fits (fits true;
//  fits NULL: any): lanes of jobs that do not fit keep their place.
typedef bool (queue_fits_fn) (void *arg, job_t *job);
size_t   queue_take_fit (queue_t *self, size_t max, queue_tuple_t *out, job_t **job_p,
                         queue_fits_fn *fits, void *arg);

//  Hold job back (true), or release it (false): a held job's tuples stay
//  queued, and queue_take passes them over.  0 or -ENOMEM.
int      queue_hold (queue_t *self, job_t *job, bool held);
bool     queue_held (const queue_t *self, const job_t *job);

//  Tuple id of job, counted by queue_push_stored, waits elsewhere (its
//  priority or not_before differ from its job's): the lane skips it when
//  it reads the store.  0, -ENOENT if it is not counted there, or -ENOMEM.
int      queue_exclude (queue_t *self, job_t *job, uint64_t id);
//  Take tuple id of job out of the queue if it waits among the tuples
//  read from the store (queue_push_stored) and not yet taken: an agent
//  that held it when the broker restarted resumes it (PROTOCOL.md 4.2).
//  Its attempt and payload into *tuple (the caller's).  0, -ENOENT if it
//  does not wait there, or -ENOMEM.
int      queue_claim (queue_t *self, job_t *job, uint64_t id, queue_tuple_t *tuple);

//  Tuples that may go now (jobs held not counted); tuples of one job (held
//  or not); lanes with tuples that may go now.
size_t   queue_depth (const queue_t *self);
size_t   queue_job_depth (const queue_t *self, const job_t *job);
size_t   queue_jobs (const queue_t *self);

#endif
