//  schedules.h -- the broker's recurring jobs (PROTOCOL.md 15): the
//  SCHEDULE requests that add, list and remove them, their records in the
//  store (written in the turn's transaction, read back at start), and the
//  tick: a schedule due makes its job through the caller's SUBMIT path, as
//  a producer's SUBMIT with close would.  A tick missed while the broker
//  was down runs once, at start.  Between ticks a schedule costs nothing:
//  the broker's loop sleeps until the earliest (schedules_wait_ms).  Times
//  are the wall clock's (UTC), in seconds since the epoch unless named _ms.
#ifndef DROVER_BROKER_SCHEDULES_H
#define DROVER_BROKER_SCHEDULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/config.h"
#include "broker/store.h"
#include "proto/msg.h"

//  Schedules a broker keeps at most (so SCHEDULELIST is one page).
#define SCHEDULES_MAX 1000

//  The caller's SUBMIT path: accept submit (a new job, closed) as a
//  producer's.  0, or -DRV_E_* with the reason.
typedef int (schedules_submit_fn) (void *arg, msg_t *submit, char *reason, size_t size);

typedef struct schedules schedules_t;

//  store is borrowed; config (copied) gives the rules a new job's SUBMIT
//  must pass, checked when a schedule is added; submit and arg make each
//  tick's job.  NULL if out of memory.
schedules_t *schedules_new (store_t *store, const broker_config_t *config,
                            schedules_submit_fn *submit, void *arg);
void         schedules_destroy (schedules_t **self_p);
//  Read the schedules stored (at start; a damaged record is logged and
//  skipped).  0, or the store's error.
int          schedules_load (schedules_t *self);

//  Answer a SCHEDULE (op add, list or rm) at now, in the open store
//  transaction: a SCHEDULELIST, or NULL with -DRV_E_* in *code_p and the
//  reason.
msg_t       *schedules_request (schedules_t *self, const msg_t *request, int64_t now,
                                int *code_p, char *reason, size_t size);
//  Make the job of every schedule due at now, in the open store
//  transaction.  A SUBMIT refused (a name taken, the queue full) is
//  logged, and that tick is over.
void         schedules_tick (schedules_t *self, int64_t now);
//  Milliseconds from now_ms until the next tick (0: one is due), or
//  INT64_MAX with none.
int64_t      schedules_wait_ms (const schedules_t *self, int64_t now_ms);
size_t       schedules_count (const schedules_t *self);

#endif
