//  held.c -- see held.h.  An open-addressing hash table (linear probing,
//  backward-shift deletion, load at most 1/2): one array, no allocation per
//  tuple, and its size is bounded by the agent's credit.
#include "broker/held.h"

#include <errno.h>
#include <stdlib.h>

typedef struct {
    job_t *job;                 //  NULL: empty slot
    uint64_t id;
    uint32_t attempt;
    int64_t deadline;           //  lease end, monotonic ms
    payload_t payload;
} slot_t;

struct held {
    slot_t *slots;              //  capacity is a power of two, or 0
    size_t capacity;
    size_t size;
};

#define HELD_MIN_CAPACITY 16

static size_t
s_hash (const job_t *job, uint64_t id)
{
    uint64_t k = (uint64_t) (uintptr_t) job * 0x9e3779b97f4a7c15ULL ^ id;
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return (size_t) k;
}

held_t *
held_new (void)
{
    return calloc (1, sizeof (held_t));
}

void
held_destroy (held_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    held_t *self = *self_p;
    for (size_t i = 0; i < self->capacity; i++)
        if (self->slots[i].job)
            payload_drop (&self->slots[i].payload);
    free (self->slots);
    free (self);
    *self_p = NULL;
}

//  Index of (job, id)'s slot, or of the empty slot where it would go.
static size_t
s_find (const held_t *self, const job_t *job, uint64_t id)
{
    size_t mask = self->capacity - 1;
    size_t i = s_hash (job, id) & mask;
    while (self->slots[i].job
       && (self->slots[i].job != job || self->slots[i].id != id))
        i = (i + 1) & mask;
    return i;
}

static int
s_grow (held_t *self)
{
    size_t capacity = self->capacity? self->capacity * 2: HELD_MIN_CAPACITY;
    slot_t *slots = calloc (capacity, sizeof *slots);
    if (!slots)
        return -ENOMEM;
    slot_t *old = self->slots;
    size_t old_capacity = self->capacity;
    self->slots = slots;
    self->capacity = capacity;
    for (size_t i = 0; i < old_capacity; i++)
        if (old[i].job)
            self->slots[s_find (self, old[i].job, old[i].id)] = old[i];
    free (old);
    return 0;
}

int
held_put (held_t *self, job_t *job, uint64_t id, uint32_t attempt,
          payload_t *payload_p)
{
    if ((self->size + 1) * 2 > self->capacity && s_grow (self))
        return -ENOMEM;
    size_t i = s_find (self, job, id);
    if (self->slots[i].job)
        return -EEXIST;
    self->slots[i] = (slot_t) { job, id, attempt, INT64_MAX, *payload_p };
    *payload_p = (payload_t) { 0 };
    self->size++;
    return 0;
}

void
held_prefetch (const held_t *self, const job_t *job, uint64_t id)
{
    if (self->capacity)
        __builtin_prefetch (&self->slots[s_hash (job, id) & (self->capacity - 1)]);
}

bool
held_take (held_t *self, const job_t *job, uint64_t id,
           uint32_t *attempt_p, payload_t *payload_p)
{
    if (self->size == 0)
        return false;
    size_t mask = self->capacity - 1;
    size_t i = s_find (self, job, id);
    if (!self->slots[i].job)
        return false;
    *attempt_p = self->slots[i].attempt;
    *payload_p = self->slots[i].payload;
    self->slots[i].job = NULL;
    self->size--;
    //  Backward shift: move later entries of the probe run into the hole
    //  unless that would put them before their home slot.
    size_t hole = i;
    for (size_t j = (i + 1) & mask; self->slots[j].job; j = (j + 1) & mask) {
        size_t home = s_hash (self->slots[j].job, self->slots[j].id) & mask;
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            self->slots[hole] = self->slots[j];
            self->slots[j].job = NULL;
            hole = j;
        }
    }
    return true;
}

bool
held_touch (held_t *self, const job_t *job, uint64_t id, int64_t deadline)
{
    if (self->size == 0)
        return false;
    size_t i = s_find (self, job, id);
    if (!self->slots[i].job)
        return false;
    self->slots[i].deadline = deadline;
    return true;
}

//  A scan of the table: it is bounded by the agent's credit, and runs a
//  few times per heartbeat interval, not per message.
size_t
held_expired (const held_t *self, int64_t now, held_ref_t *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < self->capacity && n < max; i++)
        if (self->slots[i].job && self->slots[i].deadline < now)
            out[n++] = (held_ref_t) { self->slots[i].job, self->slots[i].id };
    return n;
}

size_t
held_count_job (const held_t *self, const job_t *job)
{
    size_t n = 0;
    for (size_t i = 0; i < self->capacity; i++)
        n += self->slots[i].job == job;
    return n;
}

held_probes_t
held_probes (const held_t *self)
{
    held_probes_t probes = { 0 };
    size_t mask = self->capacity - 1, run = 0;
    //  The run of full slots before 0 ends at most a table's length on.
    for (size_t i = 0; i < 2 * self->capacity; i++) {
        const slot_t *slot = &self->slots[i & mask];
        run = slot->job? run + 1: 0;
        if (run + 1 > probes.longest_miss)
            probes.longest_miss = run + 1;
        if (!slot->job || i > mask)
            continue;
        size_t length = ((i - s_hash (slot->job, slot->id)) & mask) + 1;
        probes.total += length;
        if (length > probes.longest)
            probes.longest = length;
    }
    return probes;
}

size_t
held_size (const held_t *self)
{
    return self->size;
}

void
held_drain (held_t *self, held_fn *fn, void *arg)
{
    for (size_t i = 0; i < self->capacity; i++) {
        slot_t *slot = &self->slots[i];
        if (!slot->job)
            continue;
        job_t *job = slot->job;
        slot->job = NULL;
        fn (job, slot->id, slot->attempt, &slot->payload, arg);
        payload_drop (&slot->payload);      //  if fn left it
    }
    self->size = 0;
}
