//  store.h -- what the broker persists, behind one small interface so the
//  memory store (benchmarks, throwaway runs) and a durable one can swap.
//  Group commit: the broker calls store_begin at the start of a reactor
//  turn, records every change of the turn, and store_commit at its end; it
//  answers ACCEPTED only after the commit succeeded.
#ifndef DROVER_BROKER_STORE_H
#define DROVER_BROKER_STORE_H

#include <czmq.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/job.h"
#include "proto/msg.h"

typedef struct store store_t;

//  An implementation: each function gets the implementation's state and
//  returns 0 or a negative errno.  All changes between begin and commit form
//  one transaction; a commit that fails drops them all.
typedef struct {
    const char *name;                                   //  "memory"
    int  (*begin) (void *state);
    int  (*commit) (void *state);
    //  A job was created or changed (closed).
    int  (*put_job) (void *state, const job_t *job);
    //  Tuples first .. first+count-1 of job were accepted; frames in id order.
    int  (*put_batch) (void *state, const job_t *job, uint64_t first,
                       zframe_t *const *frames, size_t count);
    //  Tuples are queued again with the attempts in refs.
    int  (*requeue) (void *state, const job_t *job,
                     const msg_ref_t *refs, size_t count);
    //  Tuples finished (done or failed) and are forgotten.
    int  (*remove) (void *state, const job_t *job,
                    const msg_ref_t *refs, size_t count);
    void (*destroy) (void **state_p);
} store_ops_t;

//  Wrap an implementation; the store owns state from now on.
store_t    *store_new (const store_ops_t *ops, void *state);
//  A store that keeps nothing: every operation succeeds at once.
store_t    *store_memory_new (void);
void        store_destroy (store_t **self_p);
const char *store_name (const store_t *self);

int  store_begin (store_t *self);
int  store_commit (store_t *self);
int  store_put_job (store_t *self, const job_t *job);
int  store_put_batch (store_t *self, const job_t *job, uint64_t first,
                      zframe_t *const *frames, size_t count);
int  store_requeue (store_t *self, const job_t *job,
                    const msg_ref_t *refs, size_t count);
int  store_remove (store_t *self, const job_t *job,
                   const msg_ref_t *refs, size_t count);

#endif
