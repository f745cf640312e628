//  outbox.h -- results on their way to sinks.  Finished tasks are packed as
//  RESULT records (PROTOCOL.md 4.3) into one batch per (sink, job), sent when
//  a batch is full, once nothing more can join it, or after a short linger
//  (outbox_flush), and kept until the sink answers STORED; a RESULT not
//  acknowledged within the result timeout is sent again (the sink removes
//  duplicates).  One link per sink
//  endpoint (and sink key, agent/sinklink.h), made on first use and kept;
//  when its connection was lost and comes back (the sink restarted), all
//  not yet acknowledged on it is sent again at once.
//
//  Sealed results: a job's sink may be "ENDPOINT KEY", KEY the sink's
//  public key in Z85 (agent.c builds it from WORK's sink_key).  Such a
//  sink is dialled as a CURVE client with the agent's keypair, and every
//  RESULT to it is sealed for it (common/seal.h), each send with a new
//  seq, resends included.
#ifndef DROVER_OUTBOX_H
#define DROVER_OUTBOX_H

#include "agent/task.h"
#include "common/keys.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#define OUTBOX_BATCH_MAX 1024       //  records per RESULT message (a seal and a send each)
#define OUTBOX_LINGER_MS 2          //  a batch waits this long for more while tasks run

typedef struct outbox outbox_t;

//  The sink stored task's result: the task is the callee's now.  dead: the
//  sink holds the tuple's result as failed (STORED's dead), which need not
//  be what this task sent (a result stored earlier wins).
typedef void (outbox_stored_fn) (void *arg, task_t *task, bool dead);

//  agent: our name in RESULT headers.  Sink sockets are added to poller.
//  keys: the agent's keypair (NULL: none; sinks with a key then cannot be
//  reached), borrowed: it must outlive the outbox.
outbox_t *outbox_new (const char *agent, int result_timeout_ms, zpoller_t *poller,
                      keys_t *keys);
//  Destroys the tasks still waiting for STORED.
void      outbox_destroy (outbox_t **self_p);
//  Our labels (a msgpack map, borrowed: it must outlive the outbox; NULL:
//  none), sent in every RESULT header for the sink to write with each
//  result (PROTOCOL.md 10.3).
void      outbox_set_labels (outbox_t *self, const void *labels, size_t size);

//  Take a finished task (status ok, or a dead letter) and queue its record.
//  Returns 0, or -1 if the sink cannot be reached (the task is destroyed).
int       outbox_add (outbox_t *self, task_t *task);
//  A hint: task will be added soon, so where it goes is fetched into the
//  cache now (a batch's table of a few thousand tuple ids misses on each).
void      outbox_prefetch (outbox_t *self, const task_t *task);
//  Send the batches that have records: all of them if running is 0 (no
//  task that could add to them is running or waiting), else those whose
//  first record has waited OUTBOX_LINGER_MS.  Under load a RESULT so
//  carries up to OUTBOX_BATCH_MAX records instead of one turn's (each
//  RESULT costs a STORED and a DONE too); a lone result goes at once.
void      outbox_flush (outbox_t *self, int64_t now, size_t running);
//  When a lingering batch is due (zclock_mono ms), or INT64_MAX.
int64_t   outbox_next_flush (outbox_t *self);
//  Queue again the records of RESULTs that waited longer than the timeout;
//  the links' timers (dial a sink again, say it is out of reach).
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
