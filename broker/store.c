//  store.c -- see store.h: forwards each verb to the implementation, so the
//  broker core never knows which store it runs on.
#include "broker/store.h"

#include <errno.h>
#include <stdlib.h>

struct store {
    const store_ops_t *ops;
    void *state;
    bool changed;               //  the open transaction holds changes
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

bool
store_durable (const store_t *self)
{
    return self->ops->durable;
}

int
store_begin (store_t *self)
{
    return self->ops->begin (self->state);
}

int
store_commit (store_t *self)
{
    self->changed = false;
    return self->ops->commit (self->state);
}

bool
store_changed (const store_t *self)
{
    return self->changed;
}

int
store_put_job (store_t *self, const job_t *job)
{
    self->changed = true;
    return self->ops->put_job (self->state, job);
}

int
store_put_batch (store_t *self, const job_t *job, uint64_t first, const chunk_t *chunk)
{
    self->changed = true;
    return self->ops->put_batch (self->state, job, first, chunk);
}

int
store_requeue (store_t *self, const job_t *job, const msg_ref_t *refs, size_t count)
{
    self->changed = true;
    return self->ops->requeue (self->state, job, refs, count);
}

int
store_remove (store_t *self, const job_t *job, const msg_ref_t *refs, size_t count)
{
    self->changed = true;
    return self->ops->remove (self->state, job, refs, count);
}

size_t
store_read (store_t *self, job_t *job, uint64_t from, size_t max, queue_tuple_t *out)
{
    return self->ops->read? self->ops->read (self->state, job, from, max, out): 0;
}

int
store_batch_get (store_t *self, const job_t *job, store_batch_t *record)
{
    return self->ops->batch_get (self->state, job, record);
}

int
store_batch_put (store_t *self, const job_t *job, const store_batch_t *record,
                 uint64_t seq, uint64_t keep)
{
    self->changed = true;
    return self->ops->batch_put (self->state, job, record, seq, keep);
}

int
store_digest_key (store_t *self, unsigned char key[STORE_DIGEST_KEY_SIZE])
{
    return self->ops->digest_key? self->ops->digest_key (self->state, key): -ENOENT;
}

int
store_load (store_t *self, store_job_fn *fn, void *arg)
{
    return self->ops->load? self->ops->load (self->state, fn, arg): 0;
}

int
store_put_schedule (store_t *self, const char *name, const void *data, size_t size)
{
    if (!self->ops->put_schedule)
        return 0;
    self->changed = true;
    return self->ops->put_schedule (self->state, name, data, size);
}

int
store_del_schedule (store_t *self, const char *name)
{
    if (!self->ops->del_schedule)
        return 0;
    self->changed = true;
    return self->ops->del_schedule (self->state, name);
}

int
store_load_schedules (store_t *self, store_schedule_fn *fn, void *arg)
{
    return self->ops->load_schedules? self->ops->load_schedules (self->state, fn, arg): 0;
}

int
store_graph_put (store_t *self, const job_t *job, uint64_t id, const void *data, size_t size)
{
    if (!self->ops->graph_put)
        return 0;
    self->changed = true;
    return self->ops->graph_put (self->state, job, id, data, size);
}

int
store_graph_load (store_t *self, store_graph_fn *fn, void *arg)
{
    return self->ops->graph_load? self->ops->graph_load (self->state, fn, arg): 0;
}

int
store_pending (store_t *self, const job_t *job, store_pending_fn *fn, void *arg)
{
    return self->ops->pending? self->ops->pending (self->state, job, fn, arg): 0;
}

int
store_put_prio (store_t *self, const job_t *job, uint64_t id, uint32_t level,
                uint64_t not_before)
{
    if (!self->ops->put_prio)
        return 0;
    self->changed = true;
    return self->ops->put_prio (self->state, job, id, level, not_before);
}

int
store_forget_prio (store_t *self, const job_t *job, uint64_t id)
{
    if (!self->ops->forget_prio)
        return 0;
    self->changed = true;
    return self->ops->forget_prio (self->state, job, id);
}

int
store_load_prio (store_t *self, store_prio_fn *fn, void *arg)
{
    return self->ops->load_prio? self->ops->load_prio (self->state, fn, arg): 0;
}
