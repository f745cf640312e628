//  outbox.h -- results on their way to sinks.  Finished tasks are packed as
//  RESULT records (PROTOCOL.md 4.3) into one batch per (sink, job), sent when
//  a batch is full or at the end of the reactor turn, and kept until the
//  sink answers STORED; a RESULT not acknowledged within the result timeout
//  is sent again (the sink removes duplicates).  One DEALER per sink
//  endpoint, made on first use and kept.
#ifndef DROVER_OUTBOX_H
#define DROVER_OUTBOX_H

#include "agent/task.h"

#include <czmq.h>
#include <stdint.h>

#define OUTBOX_BATCH_MAX 256        //  records per RESULT message

typedef struct outbox outbox_t;

//  The sink stored task's result: the task is the callee's now.
typedef void (outbox_stored_fn) (void *arg, task_t *task);

//  agent: our name in RESULT headers.  Sink sockets are added to poller.
outbox_t *outbox_new (const char *agent, int result_timeout_ms, zpoller_t *poller);
//  Destroys the tasks still waiting for STORED.
void      outbox_destroy (outbox_t **self_p);

//  Take a finished task (status ok, or a dead letter) and queue its record.
//  Returns 0, or -1 if the sink cannot be reached (the task is destroyed).
int       outbox_add (outbox_t *self, task_t *task);
//  Send every batch that has records.
void      outbox_flush (outbox_t *self, int64_t now);
//  Queue again the records of RESULTs that waited longer than the timeout.
void      outbox_resend (outbox_t *self, int64_t now);
//  When outbox_resend next has something to do (zclock_mono ms), or INT64_MAX.
int64_t   outbox_next_resend (outbox_t *self);
//  Read what the sinks sent (STORED), without blocking; stored is called
//  for each acknowledged task.
void      outbox_recv (outbox_t *self, outbox_stored_fn *stored, void *arg);
//  Tasks waiting for STORED.
size_t    outbox_pending (outbox_t *self);
//  Call fn for every task waiting for STORED (fn must not add or remove).
void      outbox_each (outbox_t *self, void (*fn) (void *arg, task_t *task), void *arg);
//  Set every sink socket's linger, before the outbox is destroyed.
void      outbox_linger (outbox_t *self, int linger_ms);

#endif
