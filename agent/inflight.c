//  inflight.c -- tasks out with workers, by id; see inflight.h.  Linear
//  probing at most half full; removal shifts the run after the hole back,
//  so there are no tombstones and lookups stay short.
#include "agent/inflight.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

struct inflights {
    inflight_t *entries;        //  task.id 0: free
    size_t cap;                 //  a power of two
    size_t count;
};

static size_t
s_home (const inflights_t *self, uint64_t id)
{
    return (size_t) ((id * 0x9E3779B97F4A7C15ull) >> 17) & (self->cap - 1);
}

inflights_t *
inflights_new (void)
{
    inflights_t *self = calloc (1, sizeof *self);
    if (self) {
        self->cap = 256;
        self->entries = calloc (self->cap, sizeof *self->entries);
        if (!self->entries)
            inflights_destroy (&self);
    }
    return self;
}

void
inflights_destroy (inflights_t **self_p)
{
    inflights_t *self = *self_p;
    if (!self)
        return;
    free (self->entries);
    free (self);
    *self_p = NULL;
}

static void
s_place (inflights_t *self, const inflight_t *entry)
{
    size_t i = s_home (self, entry->task.id);
    while (self->entries[i].task.id)
        i = (i + 1) & (self->cap - 1);
    self->entries[i] = *entry;
}

static int
s_grow (inflights_t *self)
{
    inflight_t *old = self->entries;
    size_t old_cap = self->cap;
    inflight_t *entries = calloc (old_cap * 2, sizeof *entries);
    if (!entries)
        return -ENOMEM;
    self->entries = entries;
    self->cap = old_cap * 2;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].task.id)
            s_place (self, &old[i]);
    free (old);
    return 0;
}

int
inflights_insert (inflights_t *self, const inflight_t *entry)
{
    if ((self->count + 1) * 2 > self->cap && s_grow (self))
        return -ENOMEM;
    s_place (self, entry);
    self->count++;
    return 0;
}

inflight_t *
inflights_find (inflights_t *self, uint64_t id)
{
    for (size_t i = s_home (self, id); self->entries[i].task.id; i = (i + 1) & (self->cap - 1))
        if (self->entries[i].task.id == id)
            return &self->entries[i];
    return NULL;
}

void
inflights_remove (inflights_t *self, uint64_t id)
{
    inflight_t *entry = inflights_find (self, id);
    if (!entry)
        return;
    size_t mask = self->cap - 1, hole = (size_t) (entry - self->entries);
    self->entries[hole].task.id = 0;
    self->count--;
    //  Move back each later entry of the run that may sit in the hole
    //  (its home is not cyclically in (hole, i]).
    for (size_t i = (hole + 1) & mask; self->entries[i].task.id; i = (i + 1) & mask) {
        size_t home = s_home (self, self->entries[i].task.id);
        bool stays = hole <= i? (hole < home && home <= i): (hole < home || home <= i);
        if (stays)
            continue;
        self->entries[hole] = self->entries[i];
        self->entries[i].task.id = 0;
        hole = i;
    }
}

static int
s_by_seq (const void *a, const void *b)
{
    const inflight_t *x = a, *y = b;
    return x->seq < y->seq? -1: x->seq > y->seq;
}

size_t
inflights_of_slot (inflights_t *self, size_t slot, inflight_t *out, size_t max)
{
    size_t count = 0;
    for (size_t i = 0; i < self->cap && count < max; i++)
        if (self->entries[i].task.id && self->entries[i].slot == slot)
            out[count++] = self->entries[i];
    qsort (out, count, sizeof *out, s_by_seq);
    return count;
}
