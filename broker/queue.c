//  queue.c -- see queue.h.  A lane is a growable ring buffer of (id,
//  attempt, payload), so pushing and taking cost no allocation per tuple.
//  A job's lanes hang off one record (a lane per level it has tuples at);
//  the lanes of a level with tuples sit in a circular list that
//  queue_take walks round robin.  A lane that runs empty is freed, so idle
//  jobs cost nothing; a held job's lanes are out of the lists until it is
//  released.
#include "broker/queue.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct owner owner_t;
typedef struct lane lane_t;
struct lane {
    owner_t *owner;
    uint32_t level;
    queue_tuple_t *ring;        //  capacity is a power of two
    size_t capacity;
    size_t head;                //  index of the oldest tuple
    size_t count;
    uint64_t stored;            //  tuples waiting in the store
    uint64_t stored_next;       //  id to read them from
    uint64_t *claimed;          //  ids from stored_next on taken by queue_claim, sorted
    size_t claimed_count, claimed_cap;
    bool linked;                //  in its level's list
    lane_t *next;               //  circular list of the level's lanes with tuples
    lane_t *prev;
};

//  A job's lanes.
struct owner {
    job_t *job;
    lane_t *lanes[QUEUE_LEVELS];
    size_t lane_count;
    bool held;
};

struct queue {
    zhashx_t *owners;           //  job_t * -> owner_t *
    lane_t *cursor[QUEUE_LEVELS];   //  per level: the lane served next, or NULL
    size_t depth;               //  tuples in all
    size_t held;                //  of them, tuples of held jobs
    size_t linked;              //  lanes in the levels' lists
    size_t top_run;             //  tuples the highest level got since the lower ones' turn
    uint32_t low_next;          //  the lower level whose turn is next
    queue_reader_fn *reader;
    void *reader_arg;
};

#define LANE_MIN_CAPACITY 64

//  Owners are keyed by the job's address: the broker owns the jobs, and a
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

static void
s_owner_destroy (owner_t **owner_p)
{
    owner_t *owner = *owner_p;
    if (!owner)
        return;
    for (size_t level = 0; level < QUEUE_LEVELS; level++)
        s_lane_destroy (&owner->lanes[level]);
    free (owner);
    *owner_p = NULL;
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
    self->owners = zhashx_new ();
    if (!self->owners) {
        free (self);
        return NULL;
    }
    zhashx_set_key_hasher (self->owners, s_hash_pointer);
    zhashx_set_key_comparator (self->owners, s_compare_pointer);
    zhashx_set_key_duplicator (self->owners, NULL);
    zhashx_set_key_destructor (self->owners, NULL);
    zhashx_set_destructor (self->owners, (zhashx_destructor_fn *) s_owner_destroy);
    return self;
}

void
queue_destroy (queue_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    queue_t *self = *self_p;
    zhashx_destroy (&self->owners);
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

//  Tuples came (delta > 0) or went: the totals follow.
static void
s_count (queue_t *self, const lane_t *lane, int64_t delta)
{
    self->depth += (size_t) delta;
    if (lane->owner->held)
        self->held += (size_t) delta;
}

static size_t
s_lane_size (const lane_t *lane)
{
    return lane->count + (size_t) lane->stored;
}

//  Link a lane at the end of its level's round: just before the cursor.
static void
s_lane_link (queue_t *self, lane_t *lane)
{
    lane_t **cursor = &self->cursor[lane->level];
    if (*cursor) {
        lane->next = *cursor;
        lane->prev = (*cursor)->prev;
        lane->prev->next = lane;
        (*cursor)->prev = lane;
    }
    else {
        lane->next = lane->prev = lane;
        *cursor = lane;
    }
    lane->linked = true;
    self->linked++;
}

static void
s_lane_unlink (queue_t *self, lane_t *lane)
{
    lane_t **cursor = &self->cursor[lane->level];
    if (lane->next == lane)
        *cursor = NULL;
    else {
        lane->prev->next = lane->next;
        lane->next->prev = lane->prev;
        if (*cursor == lane)
            *cursor = lane->next;
    }
    lane->next = lane->prev = NULL;
    lane->linked = false;
    self->linked--;
}

static owner_t *
s_owner_require (queue_t *self, job_t *job)
{
    owner_t *owner = (owner_t *) zhashx_lookup (self->owners, job);
    if (owner)
        return owner;
    owner = calloc (1, sizeof *owner);
    if (!owner)
        return NULL;
    owner->job = job;
    if (zhashx_insert (self->owners, job, owner)) {
        free (owner);
        return NULL;
    }
    return owner;
}

//  An owner with no lanes, not held, is forgotten.
static void
s_owner_check (queue_t *self, owner_t *owner)
{
    if (owner->lane_count == 0 && !owner->held)
        zhashx_delete (self->owners, owner->job);       //  destructor frees it
}

//  The lane of job at level, created (and linked, unless the job is held)
//  if new.
static lane_t *
s_lane_require (queue_t *self, job_t *job, uint32_t level)
{
    owner_t *owner = s_owner_require (self, job);
    if (!owner)
        return NULL;
    if (owner->lanes[level])
        return owner->lanes[level];
    lane_t *lane = calloc (1, sizeof *lane);
    if (!lane) {
        s_owner_check (self, owner);
        return NULL;
    }
    lane->owner = owner;
    lane->level = level;
    owner->lanes[level] = lane;
    owner->lane_count++;
    if (!owner->held)
        s_lane_link (self, lane);
    return lane;
}

//  Unlink an empty lane and free it.
static void
s_lane_remove (queue_t *self, lane_t *lane)
{
    if (lane->linked)
        s_lane_unlink (self, lane);
    owner_t *owner = lane->owner;
    owner->lanes[lane->level] = NULL;
    owner->lane_count--;
    s_lane_destroy (&lane);
    s_owner_check (self, owner);
}

//  The job's level: its priority, kept in range.
static uint32_t
s_job_level (const job_t *job)
{
    uint32_t level = job_priority (job);
    return level < QUEUE_LEVELS? level: QUEUE_LEVELS - 1;
}

static int
s_insert (queue_t *self, job_t *job, uint32_t level, queue_tuple_t tuple, bool front)
{
    lane_t *lane = s_lane_require (self, job, level < QUEUE_LEVELS? level: QUEUE_LEVELS - 1);
    if (!lane)
        return -ENOMEM;
    if (lane->count == lane->capacity && s_lane_grow (lane)) {
        if (s_lane_size (lane) == 0)
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
    tuple.level = lane->level;
    lane->ring[index] = tuple;
    lane->count++;
    s_count (self, lane, 1);
    return 0;
}

int
queue_reserve (queue_t *self, job_t *job, size_t count)
{
    if (count == 0)
        return 0;
    lane_t *lane = s_lane_require (self, job, s_job_level (job));
    if (!lane)
        return -ENOMEM;
    while (lane->capacity - lane->count < count)
        if (s_lane_grow (lane)) {
            if (s_lane_size (lane) == 0)
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
    lane_t *lane = s_lane_require (self, job, s_job_level (job));
    if (!lane)
        return -ENOMEM;
    if (lane->stored == 0)
        lane->stored_next = first;
    lane->stored += count;
    s_count (self, lane, (int64_t) count);
    return 0;
}

//  The payload moves into the queue only once the insert succeeded.
static int
s_insert_taking (queue_t *self, job_t *job, uint32_t level, queue_tuple_t tuple,
                 payload_t *payload_p, bool front)
{
    tuple.payload = *payload_p;
    int rc = s_insert (self, job, level, tuple, front);
    if (rc == 0)
        *payload_p = (payload_t) { 0 };
    return rc;
}

int
queue_push (queue_t *self, job_t *job, uint64_t id, uint32_t attempt,
            payload_t *payload_p)
{
    queue_tuple_t tuple = { .id = id, .attempt = attempt, .why = QUEUE_WHY_NEW };
    return s_insert_taking (self, job, s_job_level (job), tuple, payload_p, false);
}

int
queue_push_level (queue_t *self, job_t *job, queue_tuple_t *tuple)
{
    return s_insert_taking (self, job, tuple->level, *tuple, &tuple->payload, false);
}

int
queue_requeue (queue_t *self, job_t *job, uint64_t id, uint32_t attempt,
               payload_t *payload_p)
{
    queue_tuple_t tuple = { .id = id, .attempt = attempt, .why = QUEUE_WHY_NEW };
    return s_insert_taking (self, job, s_job_level (job), tuple, payload_p, true);
}

int
queue_return (queue_t *self, job_t *job, queue_tuple_t *tuple)
{
    return s_insert_taking (self, job, tuple->level, *tuple, &tuple->payload, true);
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

//  Note id as claimed (it waits in the store no more).  0 or -ENOMEM.
static int
s_claim_id (lane_t *lane, uint64_t id)
{
    if (lane->claimed_count == lane->claimed_cap) {
        size_t cap = lane->claimed_cap? lane->claimed_cap * 2: 16;
        uint64_t *more = realloc (lane->claimed, cap * sizeof *more);
        if (!more)
            return -ENOMEM;
        lane->claimed = more;
        lane->claimed_cap = cap;
    }
    size_t at = s_claimed_at (lane, id);
    memmove (lane->claimed + at + 1, lane->claimed + at,
             (lane->claimed_count - at) * sizeof *lane->claimed);
    lane->claimed[at] = id;
    lane->claimed_count++;
    return 0;
}

//  Drop the tuples of out[0 .. count) that were claimed (they are out
//  with an agent already, or wait elsewhere), keeping the rest in order.
//  Returns how many are left.
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
            read = self->reader (self->reader_arg, lane->owner->job, lane->stored_next,
                                 want, out);
        }
        if (read == 0) {
            s_count (self, lane, -(int64_t) lane->stored);
            lane->stored = 0;
            break;
        }
        lane->stored_next = out[read - 1].id + 1;
        n = s_drop_claimed (lane, out, read);
        if (n > lane->stored)
            n = lane->stored;       //  not counted: cannot be (see above)
        lane->stored -= n;
        s_count (self, lane, -(int64_t) n);
    }
    if (lane->stored == 0)
        lane->claimed_count = 0;    //  none of them waits any more
    return n;
}

//  The job's lane holding its stored tuples, if id may wait there unread.
static lane_t *
s_stored_lane (queue_t *self, job_t *job, uint64_t id)
{
    owner_t *owner = (owner_t *) zhashx_lookup (self->owners, job);
    lane_t *lane = owner? owner->lanes[s_job_level (job)]: NULL;
    if (!lane || lane->stored == 0 || id < lane->stored_next || s_claimed (lane, id))
        return NULL;
    return lane;
}

//  A claimed tuple left the lane's stored count.
static void
s_claimed_one (queue_t *self, lane_t *lane)
{
    lane->stored--;
    s_count (self, lane, -1);
    if (lane->stored == 0) {
        lane->claimed_count = 0;
        if (lane->count == 0)
            s_lane_remove (self, lane);
    }
}

int
queue_claim (queue_t *self, job_t *job, uint64_t id, queue_tuple_t *tuple)
{
    lane_t *lane = self->reader? s_stored_lane (self, job, id): NULL;
    if (!lane)
        return -ENOENT;
    queue_tuple_t found;
    if (self->reader (self->reader_arg, job, id, 1, &found) != 1)
        return -ENOENT;
    if (found.id != id) {
        payload_drop (&found.payload);
        return -ENOENT;
    }
    if (s_claim_id (lane, id)) {
        payload_drop (&found.payload);
        return -ENOMEM;
    }
    found.level = lane->level;
    *tuple = found;
    s_claimed_one (self, lane);
    return 0;
}

int
queue_exclude (queue_t *self, job_t *job, uint64_t id)
{
    lane_t *lane = s_stored_lane (self, job, id);
    if (!lane)
        return -ENOENT;
    if (s_claim_id (lane, id))
        return -ENOMEM;
    s_claimed_one (self, lane);
    return 0;
}

int
queue_hold (queue_t *self, job_t *job, bool held)
{
    owner_t *owner = held? s_owner_require (self, job)
                         : (owner_t *) zhashx_lookup (self->owners, job);
    if (!owner)
        return held? -ENOMEM: 0;
    if (owner->held == held)
        return 0;
    size_t tuples = 0;
    for (uint32_t level = 0; level < QUEUE_LEVELS; level++) {
        lane_t *lane = owner->lanes[level];
        if (!lane)
            continue;
        tuples += s_lane_size (lane);
        if (held)
            s_lane_unlink (self, lane);
        else
            s_lane_link (self, lane);
    }
    owner->held = held;
    if (held)
        self->held += tuples;
    else
        self->held -= tuples;
    s_owner_check (self, owner);
    return 0;
}

bool
queue_held (const queue_t *self, const job_t *job)
{
    owner_t *owner = (owner_t *) zhashx_lookup (self->owners, job);
    return owner && owner->held;
}

//  ---------------------------------------------------------------------
//  Taking: which level, which lane

//  The level's lane served next, dropping empty lanes (reserved and never
//  filled) on the way; NULL if the level has none.
static lane_t *
s_cursor (queue_t *self, uint32_t level)
{
    lane_t *lane;
    while ((lane = self->cursor[level]) && s_lane_size (lane) == 0)
        s_lane_remove (self, lane);
    return lane;
}

//  Take up to max tuples from lane, stamped with its level; the level's
//  round moves on past it.
static size_t
s_take_lane (queue_t *self, lane_t *lane, size_t max, queue_tuple_t *out)
{
    size_t n;
    if (lane->count == 0)
        n = s_take_stored (self, lane, max, out);
    else {
        n = lane->count < max? lane->count: max;
        size_t mask = lane->capacity - 1;
        for (size_t i = 0; i < n; i++)
            out[i] = lane->ring[(lane->head + i) & mask];
        lane->head = (lane->head + n) & mask;
        lane->count -= n;
        s_count (self, lane, -(int64_t) n);
    }
    for (size_t i = 0; i < n; i++)
        out[i].level = lane->level;
    self->cursor[lane->level] = lane->next;
    if (s_lane_size (lane) == 0)
        s_lane_remove (self, lane);
    return n;
}

//  The lower level (below top) whose turn it is: the lower levels take
//  their turns from the highest down, round and round.  -1 if none waits.
static int
s_lower (queue_t *self, uint32_t top)
{
    uint32_t start = self->low_next < top? self->low_next: top - 1;
    for (uint32_t i = 0; i < top; i++) {
        uint32_t level = (start + top - i) % top;
        if (s_cursor (self, level))
            return (int) level;
    }
    return -1;
}

//  The first lane of level, from its cursor round, whose job fits.
static lane_t *
s_fitting (queue_t *self, uint32_t level, queue_fits_fn *fits, void *arg)
{
    lane_t *start = s_cursor (self, level);
    if (!start || !fits)
        return start;
    lane_t *lane = start;
    do {
        if (s_lane_size (lane) > 0 && fits (arg, lane->owner->job))
            return lane;
        lane = lane->next;
    } while (lane != start);
    return NULL;
}

//  The no-starvation policy (PROTOCOL.md 13): while levels below the
//  highest wait, they get one tuple for every QUEUE_SHARE - 1 the highest
//  got, counted in tuples so that big WORKs and small ones weigh the same.
//  A lower level's turn may take as many as the highest level's run has
//  earned, so a busy agent's WORKs stay big.
size_t
queue_take_fit (queue_t *self, size_t max, queue_tuple_t *out, job_t **job_p,
                queue_fits_fn *fits, void *arg)
{
    *job_p = NULL;
    int top = QUEUE_LEVELS - 1;
    while (top >= 0 && !s_cursor (self, (uint32_t) top))
        top--;
    if (top < 0 || max == 0)
        return 0;
    int lower = top > 0? s_lower (self, (uint32_t) top): -1;
    if (lower < 0)
        self->top_run = 0;      //  nobody else waits: no debt
    int first = top;
    size_t first_max = max;
    if (lower >= 0 && self->top_run >= QUEUE_SHARE - 1) {
        first = lower;
        size_t earned = self->top_run / (QUEUE_SHARE - 1);
        first_max = earned < max? earned: max;
    }
    //  The level whose turn it is first, then the others, highest first,
    //  for an agent none of the first's jobs fits.
    for (int i = -1; i < QUEUE_LEVELS; i++) {
        int level = i < 0? first: QUEUE_LEVELS - 1 - i;
        if (i >= 0 && level == first)
            continue;
        lane_t *lane = s_fitting (self, (uint32_t) level, fits, arg);
        if (!lane)
            continue;
        *job_p = lane->owner->job;
        size_t n = s_take_lane (self, lane, level == first? first_max: max, out);
        if (level == top && lower >= 0)
            self->top_run += n;
        else
        if (level < top) {
            size_t paid = n * (QUEUE_SHARE - 1);
            self->top_run = self->top_run > paid? self->top_run - paid: 0;
            self->low_next = level > 0? (uint32_t) level - 1: QUEUE_LEVELS - 1;
        }
        return n;
    }
    return 0;
}

size_t
queue_take (queue_t *self, size_t max, queue_tuple_t *out, job_t **job_p)
{
    return queue_take_fit (self, max, out, job_p, NULL, NULL);
}

size_t
queue_depth (const queue_t *self)
{
    return self->depth - self->held;
}

size_t
queue_job_depth (const queue_t *self, const job_t *job)
{
    owner_t *owner = (owner_t *) zhashx_lookup (self->owners, job);
    size_t depth = 0;
    for (uint32_t level = 0; owner && level < QUEUE_LEVELS; level++)
        if (owner->lanes[level])
            depth += s_lane_size (owner->lanes[level]);
    return depth;
}

size_t
queue_jobs (const queue_t *self)
{
    return self->linked;
}
