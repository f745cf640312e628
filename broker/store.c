//  store.c -- see store.h: forwards each verb to the implementation, so the
//  broker core never knows which store it runs on.
#include "broker/store.h"

#include <stdlib.h>

struct store {
    const store_ops_t *ops;
    void *state;
};

store_t *
store_new (const store_ops_t *ops, void *state)
{
    store_t *self = calloc (1, sizeof *self);
    if (!self) {
        if (ops->destroy)
            ops->destroy (&state);
        return NULL;
    }
    self->ops = ops;
    self->state = state;
    return self;
}

void
store_destroy (store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    store_t *self = *self_p;
    if (self->ops->destroy)
        self->ops->destroy (&self->state);
    free (self);
    *self_p = NULL;
}

const char *
store_name (const store_t *self)
{
    return self->ops->name;
}

int
store_begin (store_t *self)
{
    return self->ops->begin (self->state);
}

int
store_commit (store_t *self)
{
    return self->ops->commit (self->state);
}

int
store_put_job (store_t *self, const job_t *job)
{
    return self->ops->put_job (self->state, job);
}

int
store_put_batch (store_t *self, const job_t *job, uint64_t first,
                 zframe_t *const *frames, size_t count)
{
    return self->ops->put_batch (self->state, job, first, frames, count);
}

int
store_requeue (store_t *self, const job_t *job, const msg_ref_t *refs, size_t count)
{
    return self->ops->requeue (self->state, job, refs, count);
}

int
store_remove (store_t *self, const job_t *job, const msg_ref_t *refs, size_t count)
{
    return self->ops->remove (self->state, job, refs, count);
}
