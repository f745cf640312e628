//  idtable.c -- values by id, inline; see idtable.h.  Linear probing at
//  most half full; removal shifts the run after the hole back, so there
//  are no tombstones and probes stay short.  A slot is its id (0: free)
//  followed by the value.
#include "agent/idtable.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define FREE 0                  //  the id of a free slot; a real id 0 is stored as ZERO_ID
#define ZERO_ID UINT64_MAX      //  ... and UINT64_MAX is not a tuple id or an address

struct idtable {
    uint8_t *slots;
    size_t stride;              //  8 + value size, rounded up to 8
    size_t cap;                 //  a power of two
    size_t count;
};

static uint64_t
s_key (uint64_t id)
{
    return id == FREE? ZERO_ID: id;
}

static uint64_t *
s_slot (const idtable_t *self, size_t index)
{
    return (uint64_t *) (self->slots + index * self->stride);
}

static size_t
s_home (const idtable_t *self, uint64_t key)
{
    return (size_t) ((key * 0x9E3779B97F4A7C15ull) >> 17) & (self->cap - 1);
}

idtable_t *
idtable_new (size_t value_size)
{
    idtable_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->stride = 8 + (value_size + 7) / 8 * 8;
    self->cap = 256;
    self->slots = calloc (self->cap, self->stride);
    if (!self->slots)
        idtable_destroy (&self);
    return self;
}

void
idtable_destroy (idtable_t **self_p)
{
    idtable_t *self = *self_p;
    if (!self)
        return;
    free (self->slots);
    free (self);
    *self_p = NULL;
}

//  The free slot key would take, probing from its home.
static uint64_t *
s_free_slot (idtable_t *self, uint64_t key)
{
    size_t i = s_home (self, key);
    while (*s_slot (self, i) != FREE)
        i = (i + 1) & (self->cap - 1);
    return s_slot (self, i);
}

static int
s_grow (idtable_t *self)
{
    uint8_t *old = self->slots;
    size_t old_cap = self->cap;
    uint8_t *slots = calloc (old_cap * 2, self->stride);
    if (!slots)
        return -ENOMEM;
    self->slots = slots;
    self->cap = old_cap * 2;
    for (size_t i = 0; i < old_cap; i++) {
        const uint64_t *slot = (const uint64_t *) (old + i * self->stride);
        if (*slot != FREE)
            memcpy (s_free_slot (self, *slot), slot, self->stride);
    }
    free (old);
    return 0;
}

void *
idtable_add (idtable_t *self, uint64_t id)
{
    if ((self->count + 1) * 2 > self->cap && s_grow (self))
        return NULL;
    uint64_t key = s_key (id);
    uint64_t *slot = s_free_slot (self, key);
    *slot = key;
    self->count++;
    return slot + 1;
}

static uint64_t *
s_find (idtable_t *self, uint64_t key)
{
    for (size_t i = s_home (self, key); *s_slot (self, i) != FREE; i = (i + 1) & (self->cap - 1))
        if (*s_slot (self, i) == key)
            return s_slot (self, i);
    return NULL;
}

void
idtable_prefetch (const idtable_t *self, uint64_t id)
{
    __builtin_prefetch (s_slot (self, s_home (self, s_key (id))));
}

void *
idtable_find (idtable_t *self, uint64_t id)
{
    uint64_t *slot = s_find (self, s_key (id));
    return slot? slot + 1: NULL;
}

void
idtable_remove (idtable_t *self, uint64_t id)
{
    uint64_t *slot = s_find (self, s_key (id));
    if (!slot)
        return;
    size_t mask = self->cap - 1;
    size_t hole = (size_t) ((uint8_t *) slot - self->slots) / self->stride;
    *slot = FREE;
    self->count--;
    //  Move back each later slot of the run whose home is not cyclically
    //  in (hole, i]: a probe for it would stop at the hole.
    for (size_t i = (hole + 1) & mask; *s_slot (self, i) != FREE; i = (i + 1) & mask) {
        size_t home = s_home (self, *s_slot (self, i));
        bool stays = hole <= i? (hole < home && home <= i): (hole < home || home <= i);
        if (stays)
            continue;
        memcpy (s_slot (self, hole), s_slot (self, i), self->stride);
        *s_slot (self, i) = FREE;
        hole = i;
    }
}

idtable_probes_t
idtable_probes (const idtable_t *self)
{
    idtable_probes_t probes = { 0 };
    size_t mask = self->cap - 1, run = 0;
    //  The run of full slots before 0 ends at most a table's length on.
    for (size_t i = 0; i < 2 * self->cap; i++) {
        uint64_t key = *s_slot (self, i & mask);
        run = key != FREE? run + 1: 0;
        if (run + 1 > probes.longest_miss)
            probes.longest_miss = run + 1;
        if (key == FREE || i > mask)
            continue;
        size_t length = ((i - s_home (self, key)) & mask) + 1;
        probes.total += length;
        if (length > probes.longest)
            probes.longest = length;
    }
    return probes;
}

size_t
idtable_count (const idtable_t *self)
{
    return self->count;
}

void *
idtable_next (idtable_t *self, size_t *index, uint64_t *id_p)
{
    for (; *index < self->cap; (*index)++) {
        uint64_t *slot = s_slot (self, *index);
        if (*slot != FREE) {
            (*index)++;
            if (id_p)
                *id_p = *slot == ZERO_ID? 0: *slot;
            return slot + 1;
        }
    }
    return NULL;
}
