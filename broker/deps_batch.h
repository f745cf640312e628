//  deps_batch.h -- a SUBMIT's `deps` (PROTOCOL.md 14) decoded and checked
//  before anything changes: each tuple's dependencies as (job number, id),
//  every one an id its job has (this job's earlier tuples or its batch,
//  another job's accepted tuples), no tuple of the batch on a cycle.  The
//  check is O(tuples + dependencies): a cycle can only run through the
//  batch's own tuples, since everything else it names exists already.
#ifndef DROVER_BROKER_DEPS_BATCH_H
#define DROVER_BROKER_DEPS_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/deps.h"

//  Job number 0 in a deps_batch_t's refs: the SUBMIT's own job (a new job
//  has no number yet).
#define DEPS_BATCH_OWN 0

typedef struct deps_batch deps_batch_t;

//  Another job by name (name_size bytes): true with its number and next
//  id, or false if there is none.
typedef bool (deps_batch_job_fn) (void *arg, const char *name, size_t name_size,
                                  uint32_t *job_p, uint64_t *next_id_p);

//  The `deps` map (msgpack bytes) of a SUBMIT of count tuples to job name,
//  whose tuples get ids first on.  NULL with the reason if it breaks a
//  rule (the code is then always DRV_E_BAD_TYPE) or out of memory (reason
//  says so).
deps_batch_t *deps_batch_new (const void *map, size_t size, size_t count, const char *name,
                              uint64_t first, deps_batch_job_fn *fn, void *arg,
                              char *reason, size_t reason_size);
void          deps_batch_destroy (deps_batch_t **self_p);
//  The dependencies of the batch's tuple i (from 0): how many in *count_p.
const deps_ref_t *deps_batch_of (const deps_batch_t *self, size_t i, size_t *count_p);
//  Tuples of the batch with dependencies.
size_t        deps_batch_tuples (const deps_batch_t *self);

#endif
