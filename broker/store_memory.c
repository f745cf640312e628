//  store_memory.c -- the store that keeps nothing (`--store memory`): the
//  queue in memory is all there is, so a broker restart loses every tuple.
//  For benchmarks and throwaway runs; see store.h for the interface.
#include "broker/store.h"

static int
s_nothing (void *state)
{
    (void) state;
    return 0;
}

static int
s_put_job (void *state, const job_t *job)
{
    (void) state;
    (void) job;
    return 0;
}

static int
s_put_batch (void *state, const job_t *job, uint64_t first,
             zframe_t *const *frames, size_t count)
{
    (void) state;
    (void) job;
    (void) first;
    (void) frames;
    (void) count;
    return 0;
}

static int
s_refs (void *state, const job_t *job, const msg_ref_t *refs, size_t count)
{
    (void) state;
    (void) job;
    (void) refs;
    (void) count;
    return 0;
}

static const store_ops_t s_memory_ops = {
    .name = "memory",
    .begin = s_nothing,
    .commit = s_nothing,
    .put_job = s_put_job,
    .put_batch = s_put_batch,
    .requeue = s_refs,
    .remove = s_refs,
    .destroy = NULL,
};

store_t *
store_memory_new (void)
{
    return store_new (&s_memory_ops, NULL);
}
