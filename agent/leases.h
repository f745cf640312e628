//  leases.h -- renewing the leases of the tuples we hold (PROTOCOL.md 4.2):
//  a task of the current broker session asks, at two thirds of its lease
//  and every two thirds of a lease after that, for lease_ms more with
//  TOUCH, one message per job and lease.  Held means running
//  (agent/running.h) or waiting for STORED (agent/outbox.h): a slow sink is
//  not a reason to run a tuple again.  It owns task->touch.
#ifndef DROVER_LEASES_H
#define DROVER_LEASES_H

#include "agent/outbox.h"
#include "agent/running.h"
#include "agent/task.h"
#include "agent/uplink.h"

#include <stdint.h>

#define LEASES_CHECK_MS     250     //  how often held tasks' leases are looked at when due

typedef struct leases leases_t;

//  NULL if out of memory.
leases_t *leases_new (void);
void      leases_destroy (leases_t **self_p);

//  task's lease (task->lease_ms; 0: none) starts now.
void      leases_start (leases_t *self, task_t *task, int64_t now);
//  When leases_touch next has something to do (zclock_mono ms), or INT64_MAX.
int64_t   leases_next (leases_t *self);
//  If due, TOUCH through uplink the leases of the held tasks that are due.
void      leases_touch (leases_t *self, int64_t now, uplink_t *uplink,
                        running_t *running, outbox_t *outbox);
//  Tuples named in TOUCH so far.
uint64_t  leases_touched (leases_t *self);

#endif
