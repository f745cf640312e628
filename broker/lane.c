//  lane.c -- see lane.h.  The ring is a growable power-of-two buffer of
//  (id, attempt, payload), so pushing and taking cost no allocation per
//  tuple; claimed ids are a sorted array, cleared once nothing waits in
//  the store any more.
#include "broker/lane.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct lane {
    queue_tuple_t *ring;        //  capacity is a power of two
    size_t capacity;
    size_t head;                //  index of the oldest tuple
    size_t count;
    uint64_t stored;            //  tuples waiting in the store
    uint64_t stored_next;       //  id to read them from
    uint64_t *claimed;          //  ids from stored_next on that wait elsewhere, sorted
    size_t claimed_count, claimed_cap;
};

#define LANE_MIN_CAPACITY 64

lane_t *
lane_new (void)
{
    return calloc (1, sizeof (lane_t));
}

void
lane_destroy (lane_t **self_p)
{
    lane_t *self = *self_p;
    if (!self)
        return;
    size_t mask = self->capacity - 1;
    for (size_t i = 0; i < self->count; i++)
        payload_drop (&self->ring[(self->head + i) & mask].payload);
    free (self->ring);
    free (self->claimed);
    free (self);
    *self_p = NULL;
}

size_t
lane_size (const lane_t *self)
{
    return self->count + (size_t) self->stored;
}

//  Double the ring, keeping the tuples in order from index 0.
static int
s_grow (lane_t *self)
{
    size_t capacity = self->capacity? self->capacity * 2: LANE_MIN_CAPACITY;
    queue_tuple_t *ring = malloc (capacity * sizeof *ring);
    if (!ring)
        return -ENOMEM;
    size_t mask = self->capacity - 1;
    for (size_t i = 0; i < self->count; i++)
        ring[i] = self->ring[(self->head + i) & mask];
    free (self->ring);
    self->ring = ring;
    self->capacity = capacity;
    self->head = 0;
    return 0;
}

int
lane_insert (lane_t *self, const queue_tuple_t *tuple, bool front)
{
    if (self->count == self->capacity && s_grow (self))
        return -ENOMEM;
    size_t mask = self->capacity - 1;
    size_t index;
    if (front) {
        self->head = (self->head + self->capacity - 1) & mask;
        index = self->head;
    }
    else
        index = (self->head + self->count) & mask;
    self->ring[index] = *tuple;
    self->count++;
    return 0;
}

int
lane_reserve (lane_t *self, size_t count)
{
    while (self->capacity - self->count < count)
        if (s_grow (self))
            return -ENOMEM;
    return 0;
}

void
lane_add_stored (lane_t *self, uint64_t first, size_t count)
{
    if (self->stored == 0)
        self->stored_next = first;
    self->stored += count;
}

void
lane_forget_stored (lane_t *self, size_t count)
{
    self->stored -= count < self->stored? count: self->stored;
    if (self->stored == 0)
        self->claimed_count = 0;
}

//  Where id is, or would go, in the claimed ids.
static size_t
s_claimed_at (const lane_t *self, uint64_t id)
{
    size_t low = 0, high = self->claimed_count;
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        if (self->claimed[mid] < id)
            low = mid + 1;
        else
            high = mid;
    }
    return low;
}

static bool
s_claimed (const lane_t *self, uint64_t id)
{
    size_t at = s_claimed_at (self, id);
    return at < self->claimed_count && self->claimed[at] == id;
}

//  Drop the tuples of out[0 .. count) that were claimed, keeping the rest
//  in order.  Returns how many are left.
static size_t
s_drop_claimed (lane_t *self, queue_tuple_t *out, size_t count)
{
    if (self->claimed_count == 0)
        return count;
    size_t n = 0;
    for (size_t i = 0; i < count; i++)
        if (s_claimed (self, out[i].id))
            payload_drop (&out[i].payload);
        else
            out[n++] = out[i];
    return n;
}

//  Read the next stored tuples, past those claimed.  If the store has
//  fewer than we counted (it should not), the count is corrected so the
//  lane cannot spin.
static size_t
s_take_stored (lane_t *self, size_t max, queue_tuple_t *out, queue_reader_fn *reader,
               void *arg, job_t *job)
{
    size_t n = 0;
    while (n == 0 && self->stored > 0) {
        size_t want = self->stored < max? (size_t) self->stored: max;
        size_t read = reader? reader (arg, job, self->stored_next, want, out): 0;
        if (read == 0) {
            self->stored = 0;
            break;
        }
        self->stored_next = out[read - 1].id + 1;
        n = s_drop_claimed (self, out, read);
        if (n > self->stored)
            n = self->stored;       //  not counted: cannot be (see above)
        self->stored -= n;
    }
    if (self->stored == 0)
        self->claimed_count = 0;    //  none of them waits any more
    return n;
}

size_t
lane_take (lane_t *self, size_t max, queue_tuple_t *out, queue_reader_fn *reader,
           void *arg, job_t *job)
{
    if (self->count == 0)
        return s_take_stored (self, max, out, reader, arg, job);
    size_t n = self->count < max? self->count: max;
    size_t mask = self->capacity - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = self->ring[(self->head + i) & mask];
    self->head = (self->head + n) & mask;
    self->count -= n;
    return n;
}

bool
lane_stores (const lane_t *self, uint64_t id)
{
    return self->stored > 0 && id >= self->stored_next && !s_claimed (self, id);
}

int
lane_claim (lane_t *self, uint64_t id)
{
    if (self->claimed_count == self->claimed_cap) {
        size_t cap = self->claimed_cap? self->claimed_cap * 2: 16;
        uint64_t *more = realloc (self->claimed, cap * sizeof *more);
        if (!more)
            return -ENOMEM;
        self->claimed = more;
        self->claimed_cap = cap;
    }
    size_t at = s_claimed_at (self, id);
    memmove (self->claimed + at + 1, self->claimed + at,
             (self->claimed_count - at) * sizeof *self->claimed);
    self->claimed[at] = id;
    self->claimed_count++;
    self->stored--;
    if (self->stored == 0)
        self->claimed_count = 0;
    return 0;
}
