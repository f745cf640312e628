//  idset.c -- see idset.h.  Slot value 0 marks an empty slot, so id 0
//  (never assigned by a broker, but a peer may send it) lives in a flag.
//  Values sit in a parallel byte array, so probing touches ids only.
#include "sink/idset.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>

#define IDSET_MIN_CAPACITY 64       //  slots; always a power of two

struct idset {
    uint64_t *slots;
    uint8_t  *values;               //  values[i] belongs to slots[i]
    size_t    capacity;
    size_t    count;                //  ids in slots, not counting has_zero
    bool      has_zero;
    uint8_t   zero_value;
};

static uint64_t
s_hash (uint64_t key)
{
    //  MurmurHash3's finalizer: ids are dense and sequential, so mix all
    //  bits before masking.
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    key *= 0xc4ceb9fe1a85ec53ULL;
    key ^= key >> 33;
    return key;
}

idset_t *
idset_new (void)
{
    idset_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->capacity = IDSET_MIN_CAPACITY;
    self->slots = calloc (self->capacity, sizeof (uint64_t));
    self->values = calloc (self->capacity, 1);
    if (!self->slots || !self->values) {
        free (self->slots);
        free (self->values);
        free (self);
        return NULL;
    }
    return self;
}

void
idset_destroy (idset_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free ((*self_p)->slots);
    free ((*self_p)->values);
    free (*self_p);
    *self_p = NULL;
}

//  Slot holding key, or of the empty slot where it would go.
static size_t
s_find (const idset_t *self, uint64_t key)
{
    size_t mask = self->capacity - 1;
    size_t index = (size_t) s_hash (key) & mask;
    while (self->slots[index] && self->slots[index] != key)
        index = (index + 1) & mask;
    return index;
}

static int
s_grow (idset_t *self)
{
    size_t capacity = self->capacity * 2;
    uint64_t *slots = calloc (capacity, sizeof (uint64_t));
    uint8_t *values = calloc (capacity, 1);
    if (!slots || !values) {
        free (slots);
        free (values);
        return -ENOMEM;
    }
    uint64_t *old = self->slots;
    uint8_t *old_values = self->values;
    size_t old_capacity = self->capacity;
    self->slots = slots;
    self->values = values;
    self->capacity = capacity;
    for (size_t i = 0; i < old_capacity; i++)
        if (old[i]) {
            size_t index = s_find (self, old[i]);
            self->slots[index] = old[i];
            self->values[index] = old_values[i];
        }
    free (old);
    free (old_values);
    return 0;
}

int
idset_insert (idset_t *self, uint64_t id, uint8_t value)
{
    assert (self);
    if (id == 0) {
        if (self->has_zero)
            return 0;
        self->has_zero = true;
        self->zero_value = value;
        return 1;
    }
    size_t index = s_find (self, id);
    if (self->slots[index])
        return 0;
    //  Keep the load under 0.7: linear probing degrades fast above it.
    if ((self->count + 1) * 10 > self->capacity * 7) {
        if (s_grow (self))
            return -ENOMEM;
        index = s_find (self, id);
    }
    self->slots[index] = id;
    self->values[index] = value;
    self->count++;
    return 1;
}

bool
idset_contains (const idset_t *self, uint64_t id)
{
    return idset_get (self, id, NULL);
}

bool
idset_get (const idset_t *self, uint64_t id, uint8_t *value)
{
    assert (self);
    if (id == 0) {
        if (self->has_zero && value)
            *value = self->zero_value;
        return self->has_zero;
    }
    size_t index = s_find (self, id);
    if (!self->slots[index])
        return false;
    if (value)
        *value = self->values[index];
    return true;
}

//  Backward-shift deletion: no tombstones, so probes stay short after
//  removals.  An entry after the hole moves into it unless its home slot
//  lies cyclically between the hole and itself.
int
idset_remove (idset_t *self, uint64_t id)
{
    assert (self);
    if (id == 0) {
        bool had = self->has_zero;
        self->has_zero = false;
        return had;
    }
    size_t mask = self->capacity - 1;
    size_t hole = s_find (self, id);
    if (!self->slots[hole])
        return 0;
    self->slots[hole] = 0;
    self->count--;
    size_t next = hole;
    while (true) {
        next = (next + 1) & mask;
        if (!self->slots[next])
            break;
        size_t home = (size_t) s_hash (self->slots[next]) & mask;
        bool stays = hole <= next? (hole < home && home <= next)
                                 : (hole < home || home <= next);
        if (stays)
            continue;
        self->slots[hole] = self->slots[next];
        self->values[hole] = self->values[next];
        self->slots[next] = 0;
        hole = next;
    }
    return 1;
}

size_t
idset_size (const idset_t *self)
{
    assert (self);
    return self->count + self->has_zero;
}
