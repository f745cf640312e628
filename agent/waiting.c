//  waiting.c -- the ring of tasks waiting for a thread or a worker; see
//  waiting.h.  Moved out of the pool and the supervisor, which each kept a
//  queue of their own.
#include "agent/waiting.h"

#include <errno.h>
#include <stdlib.h>

struct waiting {
    pool_task_t *ring;
    size_t head, count, cap;
};

waiting_t *
waiting_new (void)
{
    return calloc (1, sizeof (waiting_t));
}

void
waiting_destroy (waiting_t **self_p)
{
    waiting_t *self = *self_p;
    if (!self)
        return;
    free (self->ring);
    free (self);
    *self_p = NULL;
}

//  Make room for count more tasks.  0 or -ENOMEM.
static int
s_reserve (waiting_t *self, size_t count)
{
    if (self->count + count <= self->cap)
        return 0;
    size_t cap = self->cap? self->cap: 64;
    while (cap < self->count + count)
        cap *= 2;
    pool_task_t *ring = malloc (cap * sizeof *ring);
    if (!ring)
        return -ENOMEM;
    for (size_t i = 0; i < self->count; i++)
        ring[i] = self->ring[(self->head + i) % self->cap];
    free (self->ring);
    self->ring = ring;
    self->cap = cap;
    self->head = 0;
    return 0;
}

int
waiting_push (waiting_t *self, const pool_task_t *tasks, size_t count)
{
    if (s_reserve (self, count))
        return -ENOMEM;
    for (size_t i = 0; i < count; i++)
        self->ring[(self->head + self->count + i) % self->cap] = tasks[i];
    self->count += count;
    return 0;
}

int
waiting_push_front (waiting_t *self, const pool_task_t *task)
{
    if (s_reserve (self, 1))
        return -ENOMEM;
    self->head = (self->head + self->cap - 1) % self->cap;
    self->ring[self->head] = *task;
    self->count++;
    return 0;
}

pool_task_t
waiting_pop (waiting_t *self)
{
    pool_task_t task = self->ring[self->head];
    self->head = (self->head + 1) % self->cap;
    self->count--;
    return task;
}

const pool_task_t *
waiting_at (const waiting_t *self, size_t index)
{
    return &self->ring[(self->head + index) % self->cap];
}

size_t
waiting_count (const waiting_t *self)
{
    return self->count;
}

size_t
waiting_remove_where (waiting_t *self, pool_match_fn *match, void *match_arg,
                      waiting_fn *removed, void *removed_arg)
{
    size_t kept = 0, taken = 0;
    for (size_t i = 0; i < self->count; i++) {
        pool_task_t task = self->ring[(self->head + i) % self->cap];
        if (match (match_arg, task.id)) {
            removed (removed_arg, &task);
            taken++;
        }
        else
            self->ring[(self->head + kept++) % self->cap] = task;
    }
    self->count = kept;
    return taken;
}

size_t
waiting_remove_after (waiting_t *self, size_t keep, waiting_fn *removed, void *removed_arg)
{
    if (keep >= self->count)
        return 0;
    size_t taken = self->count - keep;
    for (size_t i = keep; i < self->count; i++)
        removed (removed_arg, &self->ring[(self->head + i) % self->cap]);
    self->count = keep;
    return taken;
}
