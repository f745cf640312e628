//  held.h -- the tuples one agent holds (sent in WORK, not yet reported),
//  by (job, tuple id).  DONE and RETRY find a tuple in O(1); when the agent
//  leaves or is lost, held_drain hands every tuple back for requeueing.
#ifndef DROVER_BROKER_HELD_H
#define DROVER_BROKER_HELD_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/chunk.h"
#include "broker/job.h"

typedef struct held held_t;

held_t *held_new (void);
//  Drops the payloads still held.
void    held_destroy (held_t **self_p);

//  Hold a tuple, taking its payload.  Returns 0, -EEXIST if (job, id) is
//  already held, or -ENOMEM; on error the payload stays with the caller.
int     held_put (held_t *self, job_t *job, uint64_t id, uint32_t attempt,
                  payload_t *payload_p);
//  A hint: (job, id) will be put or taken soon, so its slot is fetched
//  into the cache now.  Callers walking many ids ask a few ahead: the
//  table is spread over megabytes and each slot is otherwise a cache miss.
void    held_prefetch (const held_t *self, const job_t *job, uint64_t id);
#define HELD_AHEAD 8            //  how far ahead: enough misses in flight at once
//  Stop holding (job, id): true and its attempt and payload (to the
//  caller), or false if it is not held here.
bool    held_take (held_t *self, const job_t *job, uint64_t id,
                   uint32_t *attempt_p, payload_t *payload_p);
size_t  held_size (const held_t *self);

//  Probe lengths, in slots looked at: of finding a tuple held (the longest,
//  and the total over all), and the longest of looking for one not held.
//  A scan, for tests: they bound them under the key patterns we meet.
typedef struct {
    size_t longest, total, longest_miss;
} held_probes_t;
held_probes_t held_probes (const held_t *self);

//  Leases: a tuple put is held without a deadline until held_touch gives it
//  one (monotonic ms).  held_touch returns false if (job, id) is not held.
bool    held_touch (held_t *self, const job_t *job, uint64_t id, int64_t deadline);
//  Up to max tuples whose lease ended before now, into out[] (still held:
//  take them with held_take).  Returns how many.
typedef struct {
    job_t *job;
    uint64_t id;
} held_ref_t;
size_t  held_expired (const held_t *self, int64_t now, held_ref_t *out, size_t max);

//  How many tuples of job are held (a scan: for a job cancelled, not per
//  message).
size_t  held_count_job (const held_t *self, const job_t *job);

//  Call fn for every tuple held, giving it the payload, then hold nothing.
typedef void (held_fn) (job_t *job, uint64_t id, uint32_t attempt,
                        payload_t *payload_p, void *arg);
void    held_drain (held_t *self, held_fn *fn, void *arg);

#endif
