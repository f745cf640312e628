//  queue.c -- see queue.h.  Each (job, level) with tuples has a lane
//  (lane.h) and a node here; a job's nodes hang off one record (its owner),
//  and the nodes of a level sit in a circular list that queue_take walks
//  round robin.  A lane that runs empty is freed, so idle jobs cost
//  nothing; a held job's nodes are out of the lists until it is released.
#include "broker/queue.h"
#include "broker/lane.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct owner owner_t;
typedef struct node node_t;

//  A lane in its level's round.
struct node {
    owner_t *owner;
    uint32_t level;
    lane_t *lane;
    bool linked;                //  in its level's list
    node_t *next;               //  circular list of the level's lanes
    node_t *prev;
};

//  A job's lanes.
struct owner {
    job_t *job;
    node_t *nodes[QUEUE_LEVELS];
    size_t node_count;
    bool held;
};

struct queue {
    zhashx_t *owners;           //  job_t * -> owner_t *
    node_t *cursor[QUEUE_LEVELS];   //  per level: the lane served next, or NULL
    size_t depth;               //  tuples in all
    size_t held;                //  of them, tuples of held jobs
    size_t linked;              //  lanes in the levels' lists
    size_t top_run;             //  tuples the highest level got since the lower ones' turn
    uint32_t low_next;          //  the lower level whose turn is next
    queue_reader_fn *reader;
    void *reader_arg;
};

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
s_node_destroy (node_t **node_p)
{
    node_t *node = *node_p;
    if (!node)
        return;
    lane_destroy (&node->lane);
    free (node);
    *node_p = NULL;
}

static void
s_owner_destroy (owner_t **owner_p)
{
    owner_t *owner = *owner_p;
    if (!owner)
        return;
    for (size_t level = 0; level < QUEUE_LEVELS; level++)
        s_node_destroy (&owner->nodes[level]);
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

//  A node's lane changed from before tuples: the totals follow.
static void
s_count (queue_t *self, const node_t *node, size_t before)
{
    size_t after = lane_size (node->lane);
    self->depth = self->depth + after - before;
    if (node->owner->held)
        self->held = self->held + after - before;
}

//  Link a node at the end of its level's round: just before the cursor.
static void
s_link (queue_t *self, node_t *node)
{
    node_t **cursor = &self->cursor[node->level];
    if (*cursor) {
        node->next = *cursor;
        node->prev = (*cursor)->prev;
        node->prev->next = node;
        (*cursor)->prev = node;
    }
    else {
        node->next = node->prev = node;
        *cursor = node;
    }
    node->linked = true;
    self->linked++;
}

static void
s_unlink (queue_t *self, node_t *node)
{
    node_t **cursor = &self->cursor[node->level];
    if (node->next == node)
        *cursor = NULL;
    else {
        node->prev->next = node->next;
        node->next->prev = node->prev;
        if (*cursor == node)
            *cursor = node->next;
    }
    node->next = node->prev = NULL;
    node->linked = false;
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
    if (owner->node_count == 0 && !owner->held)
        zhashx_delete (self->owners, owner->job);       //  destructor frees it
}

//  The node of job at level, created (and linked, unless the job is held)
//  if new.
static node_t *
s_node_require (queue_t *self, job_t *job, uint32_t level)
{
    owner_t *owner = s_owner_require (self, job);
    if (!owner)
        return NULL;
    if (owner->nodes[level])
        return owner->nodes[level];
    node_t *node = calloc (1, sizeof *node);
    if (node && !(node->lane = lane_new ())) {
        free (node);
        node = NULL;
    }
    if (!node) {
        s_owner_check (self, owner);
        return NULL;
    }
    node->owner = owner;
    node->level = level;
    owner->nodes[level] = node;
    owner->node_count++;
    if (!owner->held)
        s_link (self, node);
    return node;
}

//  Unlink a node whose lane is empty and free both.
static void
s_node_remove (queue_t *self, node_t *node)
{
    if (node->linked)
        s_unlink (self, node);
    owner_t *owner = node->owner;
    owner->nodes[node->level] = NULL;
    owner->node_count--;
    s_node_destroy (&node);
    s_owner_check (self, owner);
}

static void
s_node_check (queue_t *self, node_t *node)
{
    if (lane_size (node->lane) == 0)
        s_node_remove (self, node);
}

//  The job's level: its priority, kept in range.
static uint32_t
s_job_level (const job_t *job)
{
    uint32_t level = job_priority (job);
    return level < QUEUE_LEVELS? level: QUEUE_LEVELS - 1;
}

//  The payload moves into the queue only once the insert succeeded.
static int
s_insert (queue_t *self, job_t *job, uint32_t level, queue_tuple_t tuple,
          payload_t *payload_p, bool front)
{
    node_t *node = s_node_require (self, job, level < QUEUE_LEVELS? level: QUEUE_LEVELS - 1);
    if (!node)
        return -ENOMEM;
    tuple.payload = *payload_p;
    tuple.level = node->level;
    size_t before = lane_size (node->lane);
    if (lane_insert (node->lane, &tuple, front)) {
        s_node_check (self, node);
        return -ENOMEM;
    }
    *payload_p = (payload_t) { 0 };
    s_count (self, node, before);
    return 0;
}

int
queue_reserve (queue_t *self, job_t *job, size_t count)
{
    if (count == 0)
        return 0;
    node_t *node = s_node_require (self, job, s_job_level (job));
    if (!node)
        return -ENOMEM;
    if (lane_reserve (node->lane, count)) {
        s_node_check (self, node);
        return -ENOMEM;
    }
    return 0;
}

int
queue_push_stored (queue_t *self, job_t *job, uint64_t first, size_t count)
{
    if (count == 0)
        return 0;
    node_t *node = s_node_require (self, job, s_job_level (job));
    if (!node)
        return -ENOMEM;
    size_t before = lane_size (node->lane);
    lane_add_stored (node->lane, first, count);
    s_count (self, node, before);
    return 0;
}

void
queue_forget_stored (queue_t *self, job_t *job, size_t count)
{
    owner_t *owner = (owner_t *) zhashx_lookup (self->owners, job);
    node_t *node = owner? owner->nodes[s_job_level (job)]: NULL;
    if (!node)
        return;
    size_t before = lane_size (node->lane);
    lane_forget_stored (node->lane, count);
    s_count (self, node, before);
    s_node_check (self, node);
}

int
queue_push (queue_t *self, job_t *job, uint64_t id, uint32_t attempt,
            payload_t *payload_p)
{
    queue_tuple_t tuple = { .id = id, .attempt = attempt, .why = QUEUE_WHY_NEW };
    return s_insert (self, job, s_job_level (job), tuple, payload_p, false);
}

int
queue_push_level (queue_t *self, job_t *job, queue_tuple_t *tuple)
{
    return s_insert (self, job, tuple->level, *tuple, &tuple->payload, false);
}

int
queue_requeue (queue_t *self, job_t *job, uint64_t id, uint32_t attempt,
               payload_t *payload_p)
{
    queue_tuple_t tuple = { .id = id, .attempt = attempt, .why = QUEUE_WHY_NEW };
    return s_insert (self, job, s_job_level (job), tuple, payload_p, true);
}

int
queue_return (queue_t *self, job_t *job, queue_tuple_t *tuple)
{
    return s_insert (self, job, tuple->level, *tuple, &tuple->payload, true);
}

//  The node of the job's lane that holds its stored tuples, if id waits
//  there unread.
static node_t *
s_stored_node (queue_t *self, job_t *job, uint64_t id)
{
    owner_t *owner = (owner_t *) zhashx_lookup (self->owners, job);
    node_t *node = owner? owner->nodes[s_job_level (job)]: NULL;
    return node && lane_stores (node->lane, id)? node: NULL;
}

static int
s_claim (queue_t *self, node_t *node, uint64_t id)
{
    size_t before = lane_size (node->lane);
    if (lane_claim (node->lane, id))
        return -ENOMEM;
    s_count (self, node, before);
    s_node_check (self, node);
    return 0;
}

int
queue_claim (queue_t *self, job_t *job, uint64_t id, queue_tuple_t *tuple)
{
    node_t *node = self->reader? s_stored_node (self, job, id): NULL;
    if (!node)
        return -ENOENT;
    queue_tuple_t found;
    if (self->reader (self->reader_arg, job, id, 1, &found) != 1)
        return -ENOENT;
    found.level = node->level;
    if (found.id != id || s_claim (self, node, id)) {
        int rc = found.id != id? -ENOENT: -ENOMEM;
        payload_drop (&found.payload);
        return rc;
    }
    *tuple = found;
    return 0;
}

int
queue_exclude (queue_t *self, job_t *job, uint64_t id)
{
    node_t *node = s_stored_node (self, job, id);
    return node? s_claim (self, node, id): -ENOENT;
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
        node_t *node = owner->nodes[level];
        if (!node)
            continue;
        tuples += lane_size (node->lane);
        if (held)
            s_unlink (self, node);
        else
            s_link (self, node);
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
static node_t *
s_cursor (queue_t *self, uint32_t level)
{
    node_t *node;
    while ((node = self->cursor[level]) && lane_size (node->lane) == 0)
        s_node_remove (self, node);
    return node;
}

//  Take up to max tuples from node's lane, stamped with its level; the
//  level's round moves on past it.
static size_t
s_take_lane (queue_t *self, node_t *node, size_t max, queue_tuple_t *out)
{
    size_t before = lane_size (node->lane);
    size_t n = lane_take (node->lane, max, out, self->reader, self->reader_arg,
                          node->owner->job);
    s_count (self, node, before);
    for (size_t i = 0; i < n; i++)
        out[i].level = node->level;
    self->cursor[node->level] = node->next;
    s_node_check (self, node);
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
static node_t *
s_fitting (queue_t *self, uint32_t level, queue_fits_fn *fits, void *arg)
{
    node_t *start = s_cursor (self, level);
    if (!start || !fits)
        return start;
    node_t *node = start;
    do {
        if (lane_size (node->lane) > 0 && fits (arg, node->owner->job))
            return node;
        node = node->next;
    } while (node != start);
    return NULL;
}

//  The most tuples one turn of the lower levels may have earned.
#define TOP_RUN_MAX 1024

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
        node_t *node = s_fitting (self, (uint32_t) level, fits, arg);
        if (!node)
            continue;
        *job_p = node->owner->job;
        size_t n = s_take_lane (self, node, level == first? first_max: max, out);
        if (level == top && lower >= 0) {
            //  Capped: lower levels no agent could take for a while get
            //  their share again, not a burst of all they were owed.
            self->top_run += n;
            if (self->top_run > (QUEUE_SHARE - 1) * TOP_RUN_MAX)
                self->top_run = (QUEUE_SHARE - 1) * TOP_RUN_MAX;
        }
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
        if (owner->nodes[level])
            depth += lane_size (owner->nodes[level]->lane);
    return depth;
}

size_t
queue_jobs (const queue_t *self)
{
    return self->linked;
}
