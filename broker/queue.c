//  queue.c -- see queue.h.  A job's FIFO is a lane: a growable ring buffer
//  of (id, attempt, payload), so pushing and taking cost no allocation per
//  tuple.  Lanes with tuples sit in a circular list that queue_take walks
//  round robin; a lane that runs empty is freed, so idle jobs cost nothing.
#include "broker/queue.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct lane lane_t;
struct lane {
    job_t *job;
    queue_tuple_t *ring;        //  capacity is a power of two
    size_t capacity;
    size_t head;                //  index of the oldest tuple
    size_t count;
    uint64_t stored;            //  tuples waiting in the store
    uint64_t stored_next;       //  id to read them from
    uint64_t *claimed;          //  ids from stored_next on taken by queue_claim, sorted
    size_t claimed_count, claimed_cap;
    lane_t *next;               //  circular list of lanes with tuples
    lane_t *prev;
};

struct queue {
    zhashx_t *lanes;            //  job_t * -> lane_t *
    lane_t *cursor;             //  lane queue_take serves next
    size_t depth;
    queue_reader_fn *reader;
    void *reader_arg;
};

#define LANE_MIN_CAPACITY 64

//  Lanes are keyed by the job's address: the broker owns the jobs, and a
//  pointer compares faster than a name.
static size_t
s_hash_pointer (const void *key)
{
    uintptr_t k = (uintptr_t) key;
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (size_t) k;
}

static int
s_compare_pointer (const void *a, const void *b)
{
    return a < b? -1: a > b? 1: 0;
}

static void
s_lane_destroy (lane_t **lane_p)
{
    lane_t *lane = *lane_p;
    if (!lane)
        return;
    size_t mask = lane->capacity - 1;
    for (size_t i = 0; i < lane->count; i++)
        payload_drop (&lane->ring[(lane->head + i) & mask].payload);
    free (lane->ring);
    free (lane->claimed);
    free (lane);
    *lane_p = NULL;
}

queue_t *
queue_new (void)
{
    return queue_new_reader (NULL, NULL);
}

queue_t *
queue_new_reader (queue_reader_fn *reader, void *arg)
{
    queue_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->reader = reader;
    self->reader_arg = arg;
    self->lanes = zhashx_new ();
    if (!self->lanes) {
        free (self);
        return NULL;
    }
    zhashx_set_key_hasher (self->lanes, s_hash_pointer);
    zhashx_set_key_comparator (self->lanes, s_compare_pointer);
    zhashx_set_key_duplicator (self->lanes, NULL);
    zhashx_set_key_destructor (self->lanes, NULL);
    zhashx_set_destructor (self->lanes, (zhashx_destructor_fn *) s_lane_destroy);
    return self;
}

void
queue_destroy (queue_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    queue_t *self = *self_p;
    zhashx_destroy (&self->lanes);
    free (self);
    *self_p = NULL;
}

//  Double a lane's ring, keeping the tuples in order from index 0.
static int
s_lane_grow (lane_t *lane)
{
    size_t capacity = lane->capacity? lane->capacity * 2: LANE_MIN_CAPACITY;
    queue_tuple_t *ring = malloc (capacity * sizeof *ring);
    if (!ring)
        return -ENOMEM;
    size_t mask = lane->capacity - 1;
    for (size_t i = 0; i < lane->count; i++)
        ring[i] = lane->ring[(lane->head + i) & mask];
    free (lane->ring);
    lane->ring = ring;
    lane->capacity = capacity;
    lane->head = 0;
    return 0;
}

//  The job's lane, created and linked at the end of the round if new.
static lane_t *
s_lane_require (queue_t *self, job_t *job)
{
    lane_t *lane = (lane_t *) zhashx_lookup (self->lanes, job);
    if (lane)
        return lane;
    lane = calloc (1, sizeof *lane);
    if (!lane)
        return NULL;
    lane->job = job;
    if (zhashx_insert (self->lanes, job, lane)) {
        free (lane);
        return NULL;
    }
    //  Just before the cursor is the end of the current round.
    if (self->cursor) {
        lane->next = self->cursor;
        lane->prev = self->cursor->prev;
        lane->prev->next = lane;
        self->cursor->prev = lane;
    }
    else {
        lane->next = lane->prev = lane;
        self->cursor = lane;
    }
    return lane;
}

//  Unlink an empty lane and free it.
static void
s_lane_remove (queue_t *self, lane_t *lane)
{
    if (lane->next == lane)
        self->cursor = NULL;
    else {
        lane->prev->next = lane->next;
        lane->next->prev = lane->prev;
        if (self->cursor == lane)
            self->cursor = lane->next;
    }
    zhashx_delete (self->lanes, lane->job);     //  destructor frees it
}

static int
s_insert (queue_t *self, job_t *job, uint64_t id, uint32_t attempt,
          uint32_t why, payload_t *payload_p, bool front)
{
    lane_t *lane = s_lane_require (self, job);
    if (!lane)
        return -ENOMEM;
    if (lane->count == lane->capacity && s_lane_grow (lane)) {
        if (lane->count == 0 && lane->stored == 0)
            s_lane_remove (self, lane);
        return -ENOMEM;
    }
    size_t mask = lane->capacity - 1;
    size_t index;
    if (front) {
        lane->head = (lane->head + lane->capacity - 1) & mask;
        index = lane->head;
    }
    else
        index = (lane->head + lane->count) & mask;
    lane->ring[index] = (queue_tuple_t) { id, attempt, why, *payload_p };
    *payload_p = (payload_t) { 0 };
    lane->count++;
    self->depth++;
    return 0;
}

int
queue_reserve (queue_t *self, job_t *job, size_t count)
{
    if (count == 0)
        return 0;
    lane_t *lane = s_lane_require (self, job);
    if (!lane)
        return -ENOMEM;
    while (lane->capacity - lane->count < count)
        if (s_lane_grow (lane)) {
            if (lane->count == 0 && lane->stored == 0)
                s_lane_remove (self, lane);
            return -ENOMEM;
        }
    return 0;
}

int
queue_push_stored (queue_t *self, job_t *job, uint64_t first, size_t count)
{
    if (count == 0)
        return 0;
    lane_t *lane = s_lane_require (self, job);
    if (!lane)
        return -ENOMEM;
    if (lane->stored == 0)
        lane->stored_next = first;
    lane->stored += count;
    self->depth += count;
    return 0;
}

void
queue_forget_stored (queue_t *self, job_t *job, size_t count)
{
    lane_t *lane = (lane_t *) zhashx_lookup (self->lanes, job);
    if (!lane)
        return;
    if (count > lane->stored)
        count = (size_t) lane->stored;
    lane->stored -= count;
    self->depth -= count;
    if (lane->count == 0 && lane->stored == 0)
        s_lane_remove (self, lane);
}

int
queue_push (queue_t *self, job_t *job, uint64_t id, uint32_t attempt,
            payload_t *payload_p)
{
    return s_insert (self, job, id, attempt, QUEUE_WHY_NEW, payload_p, false);
}

int
queue_requeue (queue_t *self, job_t *job, uint64_t id, uint32_t attempt,
               payload_t *payload_p)
{
    return s_insert (self, job, id, attempt, QUEUE_WHY_NEW, payload_p, true);
}

int
queue_return (queue_t *self, job_t *job, queue_tuple_t *tuple)
{
    return s_insert (self, job, tuple->id, tuple->attempt, tuple->why,
                     &tuple->payload, true);
}

//  Where id is, or would go, in the lane's claimed ids.
static size_t
s_claimed_at (const lane_t *lane, uint64_t id)
{
    size_t low = 0, high = lane->claimed_count;
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        if (lane->claimed[mid] < id)
            low = mid + 1;
        else
            high = mid;
    }
    return low;
}

static bool
s_claimed (const lane_t *lane, uint64_t id)
{
    size_t at = s_claimed_at (lane, id);
    return at < lane->claimed_count && lane->claimed[at] == id;
}

//  Drop the tuples of out[0 .. count) that were claimed (they are out
//  with an agent already), keeping the rest in order.  Returns how many
//  are left.
static size_t
s_drop_claimed (lane_t *lane, queue_tuple_t *out, size_t count)
{
    if (lane->claimed_count == 0)
        return count;
    size_t n = 0;
    for (size_t i = 0; i < count; i++)
        if (s_claimed (lane, out[i].id))
            payload_drop (&out[i].payload);
        else
            out[n++] = out[i];
    return n;
}

//  Read the lane's next stored tuples, past those claimed.  If the store
//  has fewer than we counted (it should not), the count is corrected so
//  the lane cannot spin.
static size_t
s_take_stored (queue_t *self, lane_t *lane, size_t max, queue_tuple_t *out)
{
    size_t n = 0;
    while (n == 0 && lane->stored > 0) {
        size_t read = 0;
        if (self->reader) {
            size_t want = lane->stored < max? (size_t) lane->stored: max;
            read = self->reader (self->reader_arg, lane->job, lane->stored_next, want, out);
        }
        if (read == 0) {
            self->depth -= lane->stored;
            lane->stored = 0;
            break;
        }
        lane->stored_next = out[read - 1].id + 1;
        n = s_drop_claimed (lane, out, read);
        if (n > lane->stored)
            n = lane->stored;       //  not counted: cannot be (see above)
        lane->stored -= n;
        self->depth -= n;
    }
    if (lane->stored == 0)
        lane->claimed_count = 0;    //  none of them waits any more
    self->cursor = lane->next;
    if (lane->count == 0 && lane->stored == 0)
        s_lane_remove (self, lane);
    return n;
}

int
queue_claim (queue_t *self, job_t *job, uint64_t id, queue_tuple_t *tuple)
{
    lane_t *lane = (lane_t *) zhashx_lookup (self->lanes, job);
    if (!lane || !self->reader || lane->stored == 0 || id < lane->stored_next
    ||  s_claimed (lane, id))
        return -ENOENT;
    queue_tuple_t found;
    if (self->reader (self->reader_arg, job, id, 1, &found) != 1)
        return -ENOENT;
    if (found.id != id) {
        payload_drop (&found.payload);
        return -ENOENT;
    }
    if (lane->claimed_count == lane->claimed_cap) {
        size_t cap = lane->claimed_cap? lane->claimed_cap * 2: 16;
        uint64_t *more = realloc (lane->claimed, cap * sizeof *more);
        if (!more) {
            payload_drop (&found.payload);
            return -ENOMEM;
        }
        lane->claimed = more;
        lane->claimed_cap = cap;
    }
    size_t at = s_claimed_at (lane, id);
    memmove (lane->claimed + at + 1, lane->claimed + at,
             (lane->claimed_count - at) * sizeof *lane->claimed);
    lane->claimed[at] = id;
    lane->claimed_count++;
    lane->stored--;
    self->depth--;
    *tuple = found;
    if (lane->stored == 0) {
        lane->claimed_count = 0;
        if (lane->count == 0)
            s_lane_remove (self, lane);
    }
    return 0;
}

size_t
queue_take (queue_t *self, size_t max, queue_tuple_t *out, job_t **job_p)
{
    //  A lane reserved but never filled is dropped here.
    while (self->cursor && self->cursor->count == 0 && self->cursor->stored == 0)
        s_lane_remove (self, self->cursor);
    lane_t *lane = self->cursor;
    *job_p = lane? lane->job: NULL;
    if (!lane || max == 0)
        return 0;
    if (lane->count == 0)
        return s_take_stored (self, lane, max, out);
    size_t n = lane->count < max? lane->count: max;
    size_t mask = lane->capacity - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = lane->ring[(lane->head + i) & mask];
    lane->head = (lane->head + n) & mask;
    lane->count -= n;
    self->depth -= n;
    self->cursor = lane->next;
    if (lane->count == 0 && lane->stored == 0)
        s_lane_remove (self, lane);
    return n;
}

size_t
queue_depth (const queue_t *self)
{
    return self->depth;
}

size_t
queue_job_depth (const queue_t *self, const job_t *job)
{
    lane_t *lane = (lane_t *) zhashx_lookup (self->lanes, job);
    return lane? lane->count + (size_t) lane->stored: 0;
}

size_t
queue_jobs (const queue_t *self)
{
    return zhashx_size (self->lanes);
}
