//  queue.h -- tuples waiting for an agent.  Each job has its own FIFO; jobs
//  take turns (round robin), so one big job does not starve the others.
//  The queue holds payload frames as they came off the wire (never decoded,
//  never copied); the store under the broker decides what survives a restart.
#ifndef DROVER_BROKER_QUEUE_H
#define DROVER_BROKER_QUEUE_H

#include <czmq.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/job.h"

//  One waiting tuple.  The frame is owned by whoever holds the struct.
typedef struct {
    uint64_t id;
    uint32_t attempt;
    zframe_t *frame;
} queue_tuple_t;

typedef struct queue queue_t;

queue_t *queue_new (void);
//  Destroys the frames still waiting.
void     queue_destroy (queue_t **self_p);

//  Append a tuple at the back of its job's FIFO, taking the frame.
//  Returns 0, or -ENOMEM (the frame is then left with the caller).
int      queue_push (queue_t *self, job_t *job, uint64_t id, uint32_t attempt,
                     zframe_t **frame_p);
//  Make room for count more tuples of job, so that the pushes of a batch
//  that follow cannot fail half way.  0 or -ENOMEM.
int      queue_reserve (queue_t *self, job_t *job, size_t count);
//  Put a tuple back at the FRONT of its job's FIFO: a retried or orphaned
//  tuple has waited once already, so it goes before fresh ones (low latency
//  for retries).  To keep several in order, requeue them last to first.
int      queue_requeue (queue_t *self, job_t *job, uint64_t id, uint32_t attempt,
                        zframe_t **frame_p);
//  Take up to max tuples of ONE job (the next job in round-robin order) into
//  out[], oldest first; frames move to the caller.  Returns how many, and the
//  job in *job_p (NULL if the queue is empty).
size_t   queue_take (queue_t *self, size_t max, queue_tuple_t *out, job_t **job_p);

//  Tuples waiting in all jobs / in one job; jobs with tuples waiting.
size_t   queue_depth (const queue_t *self);
size_t   queue_job_depth (const queue_t *self, const job_t *job);
size_t   queue_jobs (const queue_t *self);

#endif
