//  lane.h -- one FIFO of the queue (queue.h), for one job at one priority
//  level: tuples with their payloads in a ring, in front of tuples counted
//  in the store, read back a batch at a time.  Ids "claimed" are among the
//  stored ones but wait elsewhere (an agent resumed them, or they have a
//  priority of their own): reading skips them.  The queue owns the lanes
//  and keeps its totals from lane_size before and after each change.
#ifndef DROVER_BROKER_LANE_H
#define DROVER_BROKER_LANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/queue.h"

typedef struct lane lane_t;

lane_t *lane_new (void);
//  Drops the payloads in the ring.
void    lane_destroy (lane_t **self_p);

//  Tuples in the ring and in the store.
size_t  lane_size (const lane_t *self);
//  Put a tuple (its payload taken) at the back of the ring, or the front.
//  0 or -ENOMEM (nothing taken).
int     lane_insert (lane_t *self, const queue_tuple_t *tuple, bool front);
//  Room in the ring for count more.  0 or -ENOMEM.
int     lane_reserve (lane_t *self, size_t count);
//  count tuples from id first on wait in the store.
void    lane_add_stored (lane_t *self, uint64_t first, size_t count);
//  Up to max tuples into out[]: the ring's, or, when it is empty, the
//  store's next ones through reader (NULL: none), past those claimed.
size_t  lane_take (lane_t *self, size_t max, queue_tuple_t *out,
                   queue_reader_fn *reader, void *arg, job_t *job);
//  count of the tuples counted in the store are not to be read after all
//  (they wait on their dependencies, graph.h; the reader passes over them).
void    lane_forget_stored (lane_t *self, size_t count);
//  True if id is counted in the store and not read or claimed yet.
bool    lane_stores (const lane_t *self, uint64_t id);
//  Claim id (lane_stores true): it no longer counts.  0 or -ENOMEM.
int     lane_claim (lane_t *self, uint64_t id);

#endif
