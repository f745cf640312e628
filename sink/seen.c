//  seen.c -- see seen.h.  Jobs map to a set of tuple ids each; a set is an
//  open-addressing table of uint64 with linear probing, so a lookup is a
//  hash and usually one cache line, and there is no allocation per tuple.
//  Results of a batch share one job, so the last job's set is cached.
#include "sink/seen.h"

#include <czmq.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SET_MIN_CAPACITY 64     //  slots; always a power of two

//  One job's tuple ids.  0 marks an empty slot, so id 0 (never assigned by
//  a broker, but a peer may send it) lives in its own flag.
typedef struct {
    char     *job;
    uint64_t *slots;
    size_t    capacity;
    size_t    count;            //  ids in slots, not counting has_zero
    bool      has_zero;
} set_t;

struct seen {
    zhashx_t *jobs;             //  job name -> set_t
    set_t    *last;             //  set of the job looked up last
    size_t    size;
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

static void
s_set_destroy (void **item_p)
{
    set_t *set = (set_t *) *item_p;
    if (set) {
        free (set->job);
        free (set->slots);
        free (set);
        *item_p = NULL;
    }
}

static set_t *
s_set_new (const char *job)
{
    set_t *set = calloc (1, sizeof *set);
    if (!set)
        return NULL;
    set->job = strdup (job);
    set->capacity = SET_MIN_CAPACITY;
    set->slots = calloc (set->capacity, sizeof (uint64_t));
    if (!set->job || !set->slots) {
        void *item = set;
        s_set_destroy (&item);
        return NULL;
    }
    return set;
}

//  Slot holding key, or of the empty slot where it would go.
static size_t
s_set_find (const set_t *set, uint64_t key)
{
    size_t mask = set->capacity - 1;
    size_t index = (size_t) s_hash (key) & mask;
    while (set->slots[index] && set->slots[index] != key)
        index = (index + 1) & mask;
    return index;
}

static int
s_set_grow (set_t *set)
{
    size_t capacity = set->capacity * 2;
    uint64_t *slots = calloc (capacity, sizeof (uint64_t));
    if (!slots)
        return -ENOMEM;
    uint64_t *old = set->slots;
    size_t old_capacity = set->capacity;
    set->slots = slots;
    set->capacity = capacity;
    for (size_t i = 0; i < old_capacity; i++)
        if (old[i])
            set->slots[s_set_find (set, old[i])] = old[i];
    free (old);
    return 0;
}

static int
s_set_insert (set_t *set, uint64_t key)
{
    if (key == 0) {
        if (set->has_zero)
            return 0;
        set->has_zero = true;
        return 1;
    }
    size_t index = s_set_find (set, key);
    if (set->slots[index])
        return 0;
    //  Keep the load under 0.7: linear probing degrades fast above it.
    if ((set->count + 1) * 10 > set->capacity * 7) {
        if (s_set_grow (set))
            return -ENOMEM;
        index = s_set_find (set, key);
    }
    set->slots[index] = key;
    set->count++;
    return 1;
}

static bool
s_set_contains (const set_t *set, uint64_t key)
{
    if (key == 0)
        return set->has_zero;
    return set->slots[s_set_find (set, key)] != 0;
}

//  Backward-shift deletion: no tombstones, so probes stay short after
//  removals.  An entry after the hole moves into it unless its home slot
//  lies cyclically between the hole and itself.
static int
s_set_remove (set_t *set, uint64_t key)
{
    if (key == 0) {
        bool had = set->has_zero;
        set->has_zero = false;
        return had;
    }
    size_t mask = set->capacity - 1;
    size_t hole = s_set_find (set, key);
    if (!set->slots[hole])
        return 0;
    set->slots[hole] = 0;
    set->count--;
    size_t next = hole;
    while (true) {
        next = (next + 1) & mask;
        if (!set->slots[next])
            break;
        size_t home = (size_t) s_hash (set->slots[next]) & mask;
        bool stays = hole <= next? (hole < home && home <= next)
                                 : (hole < home || home <= next);
        if (stays)
            continue;
        set->slots[hole] = set->slots[next];
        set->slots[next] = 0;
        hole = next;
    }
    return 1;
}

seen_t *
seen_new (void)
{
    seen_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->jobs = zhashx_new ();
    if (!self->jobs) {
        free (self);
        return NULL;
    }
    zhashx_set_destructor (self->jobs, s_set_destroy);
    return self;
}

void
seen_destroy (seen_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    seen_t *self = *self_p;
    zhashx_destroy (&self->jobs);
    free (self);
    *self_p = NULL;
}

//  The job's set; created if create is true.  NULL if absent or no memory.
static set_t *
s_job_set (seen_t *self, const char *job, bool create)
{
    if (self->last && !strcmp (self->last->job, job))
        return self->last;
    set_t *set = (set_t *) zhashx_lookup (self->jobs, job);
    if (!set && create) {
        set = s_set_new (job);
        if (set && zhashx_insert (self->jobs, job, set)) {
            void *item = set;
            s_set_destroy (&item);
            set = NULL;
        }
    }
    if (set)
        self->last = set;
    return set;
}

int
seen_insert (seen_t *self, const char *job, uint64_t tuple)
{
    assert (self && job);
    set_t *set = s_job_set (self, job, true);
    if (!set)
        return -ENOMEM;
    int rc = s_set_insert (set, tuple);
    if (rc == 1)
        self->size++;
    return rc;
}

int
seen_remove (seen_t *self, const char *job, uint64_t tuple)
{
    assert (self && job);
    set_t *set = s_job_set (self, job, false);
    int rc = set? s_set_remove (set, tuple): 0;
    if (rc == 1)
        self->size--;
    return rc;
}

bool
seen_contains (seen_t *self, const char *job, uint64_t tuple)
{
    assert (self && job);
    set_t *set = s_job_set (self, job, false);
    return set && s_set_contains (set, tuple);
}

size_t
seen_size (const seen_t *self)
{
    assert (self);
    return self->size;
}

size_t
seen_jobs (const seen_t *self)
{
    assert (self);
    return zhashx_size (self->jobs);
}
