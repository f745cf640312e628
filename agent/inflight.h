//  inflight.h -- the supervisor's tasks out with worker processes, by task
//  id: an open-addressing table with its entries inline, so that handing a
//  task out and taking its result back cost no allocation (a zhashx cost
//  two per task).  Ids are never 0 (they are task addresses).
#ifndef DROVER_INFLIGHT_H
#define DROVER_INFLIGHT_H

#include "agent/pool.h"

#include <stddef.h>
#include <stdint.h>

//  A task out with a worker.  Workers start tasks in the order they get
//  them, on T threads, so when one dies only its T oldest unanswered tasks
//  can have been running; the others had not started.
typedef struct {
    pool_task_t task;           //  its pointers are the agent's, valid until answered
    size_t slot;                //  the worker's slot + 1
    uint64_t seq;               //  orders tasks as they went to workers
} inflight_t;

typedef struct inflights inflights_t;

inflights_t *inflights_new (void);
void         inflights_destroy (inflights_t **self_p);
//  Add entry (its task.id must not be listed).  0 or -ENOMEM.
int          inflights_insert (inflights_t *self, const inflight_t *entry);
//  The entry for id, or NULL.  Valid until the next insert or remove.
inflight_t  *inflights_find (inflights_t *self, uint64_t id);
void         inflights_remove (inflights_t *self, uint64_t id);
//  Copy up to max entries of slot into out, oldest (lowest seq) first.
//  Returns how many.
size_t       inflights_of_slot (inflights_t *self, size_t slot, inflight_t *out, size_t max);

#endif
