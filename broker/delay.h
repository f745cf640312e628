//  delay.h -- tuples waiting out their retry back-off: a binary min-heap by
//  the time each becomes eligible again.  Small: only tuples queued again
//  (retries, expired leases) pass through it, at most what agents held.
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

//  Hold tuple (its payload taken) until due (monotonic ms).  0 or -ENOMEM
//  (the payload then stays with the caller).
int      delay_push (delay_t *self, int64_t due, job_t *job, queue_tuple_t *tuple);
//  The earliest tuple due at or before now: true with it in *job_p and
//  *tuple_p (payload to the caller), or false.
bool     delay_pop (delay_t *self, int64_t now, job_t **job_p, queue_tuple_t *tuple_p);
//  When the next tuple is due, or INT64_MAX if none waits.
int64_t  delay_next (const delay_t *self);
size_t   delay_size (const delay_t *self);

#endif
