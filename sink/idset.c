//  idset.c -- see idset.h.  An open-addressing table (linear probing) of
//  blocks; a block's key is its first id / 64, plus one so that key 0
//  marks an empty slot.  A block whose last id is removed leaves the table.
#include "sink/idset.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>

#define IDSET_MIN_CAPACITY 16       //  slots; always a power of two

typedef struct {
    uint64_t key;                   //  id / 64 + 1; 0: an empty slot
    uint64_t held;                  //  bit i: id key * 64 - 64 + i is held
    uint64_t flags;                 //  and its flag (only where held)
} block_t;

struct idset {
    block_t *slots;
    size_t   capacity;
    size_t   blocks;                //  slots in use
    size_t   count;                 //  ids held
};

static uint64_t
s_hash (uint64_t key)
{
    //  MurmurHash3's finalizer: keys are dense and sequential, so mix all
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
    self->slots = calloc (self->capacity, sizeof *self->slots);
    if (!self->slots) {
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
    free (*self_p);
    *self_p = NULL;
}

//  Slot holding key, or the empty slot where it would go.
static size_t
s_find (const idset_t *self, uint64_t key)
{
    size_t mask = self->capacity - 1;
    size_t index = (size_t) s_hash (key) & mask;
    while (self->slots[index].key && self->slots[index].key != key)
        index = (index + 1) & mask;
    return index;
}

static int
s_grow (idset_t *self)
{
    block_t *old = self->slots;
    size_t old_capacity = self->capacity;
    self->slots = calloc (old_capacity * 2, sizeof *self->slots);
    if (!self->slots) {
        self->slots = old;
        return -ENOMEM;
    }
    self->capacity = old_capacity * 2;
    for (size_t i = 0; i < old_capacity; i++)
        if (old[i].key)
            self->slots[s_find (self, old[i].key)] = old[i];
    free (old);
    return 0;
}

int
idset_insert (idset_t *self, uint64_t id, bool flag)
{
    assert (self);
    uint64_t key = (id >> 6) + 1, bit = 1ULL << (id & 63);
    size_t index = s_find (self, key);
    if (!self->slots[index].key) {
        //  Keep the load under 0.7: linear probing degrades fast above it.
        if ((self->blocks + 1) * 10 > self->capacity * 7) {
            if (s_grow (self))
                return -ENOMEM;
            index = s_find (self, key);
        }
        //  The whole slot: one a block was shifted out of keeps its bits.
        self->slots[index] = (block_t) { .key = key };
        self->blocks++;
    }
    block_t *block = &self->slots[index];
    if (block->held & bit)
        return 0;
    block->held |= bit;
    block->flags = flag? block->flags | bit: block->flags & ~bit;
    self->count++;
    return 1;
}

bool
idset_contains (const idset_t *self, uint64_t id)
{
    return idset_get (self, id, NULL);
}

bool
idset_get (const idset_t *self, uint64_t id, bool *flag)
{
    assert (self);
    uint64_t key = (id >> 6) + 1, bit = 1ULL << (id & 63);
    const block_t *block = &self->slots[s_find (self, key)];
    if (!(block->key && (block->held & bit)))
        return false;
    if (flag)
        *flag = (block->flags & bit) != 0;
    return true;
}

//  Backward-shift deletion of the block in slot hole: no tombstones, so
//  probes stay short after removals.  A block after the hole moves into it
//  unless its home slot lies cyclically between the hole and itself.
static void
s_remove_block (idset_t *self, size_t hole)
{
    size_t mask = self->capacity - 1;
    self->slots[hole].key = 0;
    self->blocks--;
    size_t next = hole;
    while (true) {
        next = (next + 1) & mask;
        if (!self->slots[next].key)
            break;
        size_t home = (size_t) s_hash (self->slots[next].key) & mask;
        bool stays = hole <= next? (hole < home && home <= next)
                                 : (hole < home || home <= next);
        if (stays)
            continue;
        self->slots[hole] = self->slots[next];
        self->slots[next].key = 0;
        hole = next;
    }
}

int
idset_remove (idset_t *self, uint64_t id)
{
    assert (self);
    uint64_t key = (id >> 6) + 1, bit = 1ULL << (id & 63);
    size_t index = s_find (self, key);
    block_t *block = &self->slots[index];
    if (!(block->key && (block->held & bit)))
        return 0;
    block->held &= ~bit;
    block->flags &= ~bit;
    self->count--;
    if (!block->held)
        s_remove_block (self, index);
    return 1;
}

size_t
idset_size (const idset_t *self)
{
    assert (self);
    return self->count;
}
