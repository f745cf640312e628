//  graph.h -- job graphs in the broker (PROTOCOL.md 14): where jobs_t's
//  tuples with dependencies go.  A tuple that waits is held here (deps.h),
//  out of the queue, and counted `waiting` in its job; once its
//  dependencies are done it goes to the back of its job's queue, or, if
//  one failed or never ran, to the front, to be stored as skipped.  With a
//  durable store the tuples stay in it, each with a record of what it
//  waits on or how it ended, so that a restart rebuilds the same graph.
#ifndef DROVER_BROKER_GRAPH_H
#define DROVER_BROKER_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/chunk.h"
#include "broker/deps_batch.h"
#include "broker/job.h"
#include "broker/queue.h"
#include "broker/store.h"
#include "proto/msg.h"

typedef struct graph graph_t;

//  store and queue are borrowed.  NULL if out of memory.
graph_t *graph_new (store_t *store, queue_t *queue);
void     graph_destroy (graph_t **self_p);

//  A job the broker knows (new, or found in the store), borrowed until
//  the graph is destroyed.  0 or -ENOMEM.
int      graph_add_job (graph_t *self, job_t *job);
//  The job of a number, or NULL.
job_t   *graph_job (const graph_t *self, uint32_t number);

//  The batch chunk (ids first on) was accepted into job and the store;
//  queue its tuples: those batch says wait are held (NULL: none wait).
//  0 or -ENOMEM (then some may be neither queued nor held: logged).
int      graph_accept (graph_t *self, job_t *job, uint64_t first, chunk_t *chunk,
                       const deps_batch_t *batch);
//  Tuples finished (DONE): ok, or failed for good.  Those waiting on them
//  are released or skipped.
void     graph_finished (graph_t *self, job_t *job, const msg_ref_t *refs, size_t count,
                         bool failed);
//  Tuples the broker sent to be stored as never run (excluded, cancelled,
//  aborted): those waiting on them are skipped.
void     graph_not_run (graph_t *self, job_t *job, const msg_ref_t *refs, size_t count);
//  The job ended (cancelled, aborted): its waiting tuples go to the queue,
//  where dispatch stores them as such.
void     graph_release_job (graph_t *self, job_t *job);

//  Held here, not to be read from the store into the queue.
bool     graph_hidden (const graph_t *self, const job_t *job, uint64_t id);
//  To be stored as skipped: true with why ("dependency JOB:ID failed") in
//  reason, and the tuple that failed in *cause_p (tuples with the same
//  cause share a WORK).
bool     graph_skipped (const graph_t *self, const job_t *job, uint64_t id,
                        deps_ref_t *cause_p, char *reason, size_t size);

//  After every job was found in the store (graph_add_job), inside a store
//  transaction: rebuild fates and waiting tuples from the graph records.
//  0, or the store's error.
int      graph_recover (graph_t *self);

//  Steps the dependency bookkeeping took (deps_steps).
uint64_t graph_steps (const graph_t *self);

#endif
