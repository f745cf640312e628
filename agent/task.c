//  task.c -- tasks and job records; see task.h.
#include "agent/task.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

task_job_t *
task_job_new (const char *name, const char *handler, const char *sink,
              const void *options, size_t options_size,
              uint32_t max_attempts, uint32_t timeout_ms)
{
    task_job_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->name = strdup (name);
    self->handler = strdup (handler);
    self->sink = strdup (sink);
    if (options && options_size) {
        self->options = malloc (options_size);
        if (self->options)
            memcpy (self->options, options, options_size);
        self->options_size = options_size;
    }
    self->max_attempts = max_attempts;
    self->timeout_ms = timeout_ms;
    if (!self->name || !self->handler || !self->sink
    ||  (self->options_size && !self->options)) {
        task_job_unref (&self);
        return NULL;
    }
    return self;
}

bool
task_job_same (const task_job_t *self, const char *handler, const char *sink,
               const void *options, size_t options_size,
               uint32_t max_attempts, uint32_t timeout_ms)
{
    if (!options)
        options_size = 0;
    return !strcmp (self->handler, handler) && !strcmp (self->sink, sink)
        && self->options_size == options_size
        && (!options_size || !memcmp (self->options, options, options_size))
        && self->max_attempts == max_attempts && self->timeout_ms == timeout_ms;
}

void
task_job_ref (task_job_t *self)
{
    self->refs++;
}

void
task_job_unref (task_job_t **self_p)
{
    task_job_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    if (self->refs > 1) {
        self->refs--;
        return;
    }
    if (self->table && self->name && zhashx_lookup (self->table, self->name) == self)
        zhashx_delete (self->table, self->name);
    free (self->name);
    free (self->handler);
    free (self->sink);
    free (self->options);
    free (self->done);
    free (self->dead);
    free (self->retry);
    free (self->retry_reason);
    free (self);
}

task_t *
task_new (task_job_t *job, msg_ref_t ref, uint32_t session, zframe_t **tuple_p)
{
    task_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->job = job;
    task_job_ref (job);
    self->ref = ref;
    self->session = session;
    self->tuple = *tuple_p;
    *tuple_p = NULL;
    return self;
}

void
task_destroy (task_t **self_p)
{
    task_t *self = *self_p;
    if (!self)
        return;
    zframe_destroy (&self->tuple);
    zframe_destroy (&self->data);
    free (self->partial);
    task_job_unref (&self->job);
    free (self);
    *self_p = NULL;
}

int
task_add_partial (task_t *self, const void *data, size_t size)
{
    if (self->partial_size + size > self->partial_cap) {
        size_t cap = self->partial_cap? self->partial_cap: 256;
        while (cap < self->partial_size + size)
            cap *= 2;
        uint8_t *more = realloc (self->partial, cap);
        if (!more)
            return -ENOMEM;
        self->partial = more;
        self->partial_cap = cap;
    }
    memcpy (self->partial + self->partial_size, data, size);
    self->partial_size += size;
    self->partial_outputs++;
    return 0;
}

bool
task_is_final (const task_t *self)
{
    return self->status == POOL_OK || self->dead || self->ref.attempt >= self->job->max_attempts;
}
