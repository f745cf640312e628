//  delay.h -- tuples waiting for a time: a binary min-heap by the time each
//  becomes eligible (in whatever clock its owner uses).  jobs.c keeps the
//  tuples waiting out their retry back-off in one (monotonic ms: only
//  tuples queued again pass through it, at most what agents held); prio.c
//  the tuples and jobs waiting for their not_before in another (wall
//  clock, PROTOCOL.md 13).
#ifndef DROVER_BROKER_DELAY_H
#define DROVER_BROKER_DELAY_H

#include <stddef.h>
#include <stdint.h>

#include "broker/job.h"
#include "broker/queue.h"

typedef struct delay delay_t;

delay_t *delay_new (void);
//  Drops the payloads still waiting.
void     delay_destroy (delay_t **self_p);

//  Hold tuple (its payload taken) until due.  0 or -ENOMEM
//  (the payload then stays with the caller).
int      delay_push (delay_t *self, int64_t due, job_t *job, queue_tuple_t *tuple);
//  The earliest tuple due at or before now: true with it in *job_p and
//  *tuple_p (payload to the caller), or false.
bool     delay_pop (delay_t *self, int64_t now, job_t **job_p, queue_tuple_t *tuple_p);
//  When the next tuple is due, or INT64_MAX if none waits.
int64_t  delay_next (const delay_t *self);
size_t   delay_size (const delay_t *self);
//  Take every entry of job out, in no order, passing each to fn (which
//  takes its payload).  O(size): for rare events (a job cancelled).
typedef void (delay_fn) (void *arg, job_t *job, queue_tuple_t *tuple);
void     delay_drain_job (delay_t *self, const job_t *job, delay_fn *fn, void *arg);

#endif
