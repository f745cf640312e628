//  store.h -- what the broker persists, behind one small interface so the
//  memory store (benchmarks, throwaway runs) and the durable LMDB store
//  (store_lmdb.c, the default) can swap.  Group commit: the broker calls
//  store_begin at the start of a reactor turn, records every change of the
//  turn, and store_commit at its end; it answers ACCEPTED only after the
//  commit succeeded.  A durable store keeps the payloads: the queue then
//  holds only ids and reads payloads back with store_read when it dispatches.
#ifndef DROVER_BROKER_STORE_H
#define DROVER_BROKER_STORE_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/chunk.h"
#include "broker/job.h"
#include "broker/queue.h"
#include "proto/msg.h"

typedef struct store store_t;

//  A SUBMIT batch as remembered for idempotent SUBMIT: a digest of its
//  batch id and its tuples (the key), and the ids it got.  Keyed by both,
//  so that a batch id reused for other tuples is a batch of its own and
//  the first is still known when it is retried (PROTOCOL.md 4.1).
#define STORE_DIGEST_SIZE 16
//  The secret key of those digests (broker/digest.h).
#define STORE_DIGEST_KEY_SIZE 16
typedef struct {
    uint64_t first;
    uint64_t count;
    unsigned char digest[STORE_DIGEST_SIZE];
} store_batch_t;

//  A tuple whose priority or not_before differ from its job's (prio.h), as
//  store_load_prio finds it.
typedef void (store_prio_fn) (uint32_t number, uint64_t id, uint32_t level,
                              uint64_t not_before, void *arg);

//  What store_load found of one job: the job (the caller takes it), the
//  tuples it still holds (count, lowest id, payload bytes).
typedef void (store_job_fn) (job_t *job, uint64_t queued, uint64_t first_id,
                             uint64_t bytes, void *arg);
//  What store_load_schedules found of one schedule (PROTOCOL.md 15): its
//  name (the key, not NUL-terminated) and its record (schedule.h's bytes,
//  opaque here).
typedef void (store_schedule_fn) (const void *name, size_t name_size, const void *data,
                                  size_t size, void *arg);

//  A job graph's record (PROTOCOL.md 14) found at start: tuple id of job
//  number job, its bytes (jobs.c's business).
typedef void (store_graph_fn) (void *arg, uint32_t job, uint64_t id,
                               const void *data, size_t size);
//  An unfinished tuple of a job, found at start.
typedef void (store_pending_fn) (void *arg, uint64_t id);

//  An implementation: each function gets the implementation's state and
//  returns 0 or a negative errno.  All changes between begin and commit form
//  one transaction; a commit that fails drops them all.
typedef struct {
    const char *name;                                   //  "memory", "lmdb"
    bool durable;                                       //  keeps payloads
    int  (*begin) (void *state);
    int  (*commit) (void *state);
    //  A job was created or changed (closed, counters).
    int  (*put_job) (void *state, const job_t *job);
    //  The tuples of chunk were accepted as ids first on, in order.
    int  (*put_batch) (void *state, const job_t *job, uint64_t first,
                       const chunk_t *chunk);
    //  Tuples are queued again with the attempts in refs (lease ended).
    //  Leases themselves are the broker's, in memory: a restart spends no
    //  attempt.
    int  (*requeue) (void *state, const job_t *job,
                     const msg_ref_t *refs, size_t count);
    //  Tuples finished (done or failed) and are forgotten.
    int  (*remove) (void *state, const job_t *job,
                    const msg_ref_t *refs, size_t count);
    //  Up to max queued tuples of job with id >= from, in id order, their
    //  payloads in one new chunk (durable stores only).  Returns how many.
    size_t (*read) (void *state, job_t *job, uint64_t from, size_t max,
                    queue_tuple_t *out);
    //  Idempotent SUBMIT: the first and count of the job's batch whose
    //  digest is record->digest, into record.  0 or -ENOENT.
    int  (*batch_get) (void *state, const job_t *job, store_batch_t *record);
    //  Remember a batch (by its digest) as number seq of the job; forget
    //  number seq - keep.
    int  (*batch_put) (void *state, const job_t *job, const store_batch_t *record,
                       uint64_t seq, uint64_t keep);
    //  The key of batch digests, made once and kept as long as the batches
    //  are (a retry after a restart must get the same digest): 0, or
    //  -ENOENT for a store that remembered batches before it had a key.
    int  (*digest_key) (void *state, unsigned char key[STORE_DIGEST_KEY_SIZE]);
    //  Call fn for every job stored (at start).
    int  (*load) (void *state, store_job_fn *fn, void *arg);
    //  Job graphs, durable stores only (NULL: none kept).  The record of
    //  tuple id of job: data, size bytes (size 0: forget it).
    int  (*graph_put) (void *state, const job_t *job, uint64_t id,
                       const void *data, size_t size);
    //  Call fn for every graph record, and for every unfinished tuple of
    //  job, in id order (at start).
    int  (*graph_load) (void *state, store_graph_fn *fn, void *arg);
    int  (*pending) (void *state, const job_t *job, store_pending_fn *fn, void *arg);
    //  A tuple's own priority and not_before (PROTOCOL.md 13): recorded,
    //  forgotten (it finished), and called fn for, each (at start).  NULL
    //  in a store that keeps nothing (memory).
    int  (*put_prio) (void *state, const job_t *job, uint64_t id, uint32_t level,
                      uint64_t not_before);
    int  (*forget_prio) (void *state, const job_t *job, uint64_t id);
    int  (*load_prio) (void *state, store_prio_fn *fn, void *arg);
    void (*destroy) (void **state_p);
    //  Schedules by name: put (new or changed), delete, and call fn for
    //  each stored (at start).  NULL in a store that keeps none (memory).
    int  (*put_schedule) (void *state, const char *name, const void *data, size_t size);
    int  (*del_schedule) (void *state, const char *name);
    int  (*load_schedules) (void *state, store_schedule_fn *fn, void *arg);
} store_ops_t;

//  Wrap an implementation; the store owns state from now on.
store_t    *store_new (const store_ops_t *ops, void *state);
//  A store that keeps nothing durable: a restart loses every tuple.
store_t    *store_memory_new (void);
//  The LMDB store in dir (created 0700 if missing), map_size bytes of
//  address space.  Leases are not stored (the broker keeps them in memory):
//  after a restart every unfinished tuple is queued again at the attempt it
//  had.  NULL (logged) if it cannot be opened.
store_t    *store_lmdb_new (const char *dir, uint64_t map_size);
void        store_destroy (store_t **self_p);
const char *store_name (const store_t *self);
bool        store_durable (const store_t *self);

int    store_begin (store_t *self);
int    store_commit (store_t *self);
//  True if a change was recorded since the last commit (an idle turn's
//  commit costs nothing, and is not timed).
bool   store_changed (const store_t *self);
int    store_put_job (store_t *self, const job_t *job);
int    store_put_batch (store_t *self, const job_t *job, uint64_t first,
                        const chunk_t *chunk);
int    store_requeue (store_t *self, const job_t *job,
                      const msg_ref_t *refs, size_t count);
int    store_remove (store_t *self, const job_t *job,
                     const msg_ref_t *refs, size_t count);
size_t store_read (store_t *self, job_t *job, uint64_t from, size_t max,
                   queue_tuple_t *out);
int    store_batch_get (store_t *self, const job_t *job, store_batch_t *record);
int    store_batch_put (store_t *self, const job_t *job, const store_batch_t *record,
                        uint64_t seq, uint64_t keep);
int    store_digest_key (store_t *self, unsigned char key[STORE_DIGEST_KEY_SIZE]);
int    store_load (store_t *self, store_job_fn *fn, void *arg);
int    store_put_schedule (store_t *self, const char *name, const void *data, size_t size);
int    store_del_schedule (store_t *self, const char *name);
int    store_load_schedules (store_t *self, store_schedule_fn *fn, void *arg);
int    store_graph_put (store_t *self, const job_t *job, uint64_t id,
                        const void *data, size_t size);
int    store_graph_load (store_t *self, store_graph_fn *fn, void *arg);
int    store_pending (store_t *self, const job_t *job, store_pending_fn *fn, void *arg);
int    store_put_prio (store_t *self, const job_t *job, uint64_t id, uint32_t level,
                       uint64_t not_before);
int    store_forget_prio (store_t *self, const job_t *job, uint64_t id);
int    store_load_prio (store_t *self, store_prio_fn *fn, void *arg);

#endif
