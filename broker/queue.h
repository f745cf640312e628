//  queue.h -- tuples waiting for an agent.  Each job has its own FIFO; jobs
//  take turns (round robin), so one big job does not starve the others.
//  With the memory store the queue holds payloads: references into the
//  chunk of each SUBMIT (chunk.h), copied once when accepted.  With a durable store, fresh tuples
//  stay on disk: a job's lane keeps only a count and the next id to read,
//  and queue_take reads a batch through the reader when it needs one, so
//  memory does not grow with queue depth.  Tuples queued again (retries)
//  always carry their payload, in front of the lane.
#ifndef DROVER_BROKER_QUEUE_H
#define DROVER_BROKER_QUEUE_H

#include <czmq.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/chunk.h"
#include "broker/job.h"

//  One waiting tuple.  The payload's reference is owned by whoever holds
//  the struct.
//  why says what sent it back (QUEUE_WHY_*), for dead letters.
typedef struct {
    uint64_t id;
    uint32_t attempt;
    uint32_t why;
    payload_t payload;
} queue_tuple_t;

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

//  Append a tuple at the back of its job's FIFO, taking the payload.
//  Returns 0, or -ENOMEM (the payload is then left with the caller).
int      queue_push (queue_t *self, job_t *job, uint64_t id, uint32_t attempt,
                     payload_t *payload_p);
//  count tuples of job, ids from first up (the store may have holes where
//  tuples finished), wait in the store; they are read after the lane's
//  tuples with payloads.  0 or -ENOMEM.
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
//  queue_requeue with the reason it came back; takes tuple->payload.
int      queue_return (queue_t *self, job_t *job, queue_tuple_t *tuple);
//  Take up to max tuples of ONE job (the next job in round-robin order) into
//  out[], oldest first; payloads move to the caller.  Returns how many, and the
//  job in *job_p (NULL if the queue is empty).
size_t   queue_take (queue_t *self, size_t max, queue_tuple_t *out, job_t **job_p);

//  Take tuple id of job out of the queue if it waits among the tuples
//  read from the store (queue_push_stored) and not yet taken: an agent
//  that held it when the broker restarted resumes it (PROTOCOL.md 4.2).
//  Its attempt and payload into *tuple (the caller's).  0, -ENOENT if it
//  does not wait there, or -ENOMEM.
int      queue_claim (queue_t *self, job_t *job, uint64_t id, queue_tuple_t *tuple);

//  Tuples waiting in all jobs / in one job; jobs with tuples waiting.
size_t   queue_depth (const queue_t *self);
size_t   queue_job_depth (const queue_t *self, const job_t *job);
size_t   queue_jobs (const queue_t *self);

#endif
