//  deps.c -- see deps.h.  Nodes (a tuple waiting, or one others wait on)
//  live in an open-addressing table keyed by (job number, id), linear
//  probing with backward-shift deletion, so that no tombstones pile up as
//  tuples come and go.  A node forgets its dependents once it has ended:
//  each edge is followed once.  Skips spread with an explicit stack, not
//  recursion: a chain of 100,000 must not overflow the C stack.
#include "broker/deps.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    NODE_TARGET = 0,            //  only waited on
    NODE_WAITING,               //  waits; hidden
    NODE_OUT                    //  released or skipped, not finished; hidden
} node_state_t;

typedef struct {
    deps_ref_t ref;
    node_state_t state;
    uint32_t unmet;             //  WAITING: dependencies not done yet
    bool skipped;               //  OUT: skipped, not released
    deps_ref_t cause;           //  OUT and skipped: the root of the skip
    deps_fate_t cause_fate;
    payload_t payload;          //  WAITING: its payload, if deps holds it
    deps_ref_t *dependents;     //  waiting on this one, until it ends
    uint32_t count, capacity;
} node_t;

typedef struct {
    uint8_t *fates;             //  2 bits an id
    size_t fates_size;          //  bytes allocated, zeroed past next_id
    uint64_t next_id;
} ledger_t;

struct deps {
    node_t **slots;             //  capacity a power of two
    size_t capacity;
    size_t size;
    ledger_t *ledgers;          //  by job number
    size_t ledgers_size;
    size_t waiting;
    uint64_t steps;
    deps_event_fn *fn;
    void *arg;
    //  Stack of tuples that ended, their dependents not yet resolved.
    struct resolve { deps_ref_t ref; deps_fate_t fate; deps_ref_t cause;
                     deps_fate_t cause_fate; } *stack;
    size_t stack_size, stack_capacity;
};

#define MIN_SLOTS 64

deps_t *
deps_new (deps_event_fn *fn, void *arg)
{
    deps_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->fn = fn;
    self->arg = arg;
    self->capacity = MIN_SLOTS;
    self->slots = calloc (self->capacity, sizeof *self->slots);
    if (!self->slots)
        deps_destroy (&self);
    return self;
}

static void
s_node_destroy (node_t **node_p)
{
    node_t *node = *node_p;
    if (!node)
        return;
    payload_drop (&node->payload);
    free (node->dependents);
    free (node);
    *node_p = NULL;
}

void
deps_destroy (deps_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    deps_t *self = *self_p;
    for (size_t i = 0; self->slots && i < self->capacity; i++)
        s_node_destroy (&self->slots[i]);
    free (self->slots);
    for (size_t i = 0; i < self->ledgers_size; i++)
        free (self->ledgers[i].fates);
    free (self->ledgers);
    free (self->stack);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  The ledger

int
deps_grow (deps_t *self, uint32_t job, uint64_t next_id)
{
    if (job >= self->ledgers_size) {
        size_t size = (size_t) job * 2 + 8;
        ledger_t *more = realloc (self->ledgers, size * sizeof *more);
        if (!more)
            return -ENOMEM;
        memset (more + self->ledgers_size, 0, (size - self->ledgers_size) * sizeof *more);
        self->ledgers = more;
        self->ledgers_size = size;
    }
    ledger_t *ledger = &self->ledgers[job];
    if (next_id <= ledger->next_id)
        return 0;
    size_t have = ledger->fates_size;
    size_t need = (size_t) ((next_id + 3) / 4);
    if (need > have) {
        //  Doubling, against the bytes allocated (not next_id): a job
        //  accepted a batch at a time grows in O(n) in all.  Measured
        //  against next_id it reallocated and zeroed half the ledger for
        //  every SUBMIT (2% of the broker's CPU at 3,000,000 tuples).
        size_t bytes = have * 2 > need? have * 2: need;
        uint8_t *fates = realloc (ledger->fates, bytes);
        if (!fates)
            return -ENOMEM;
        memset (fates + have, 0, bytes - have);
        self->steps += bytes - have;            //  a step a byte zeroed
        ledger->fates = fates;
        ledger->fates_size = bytes;
    }
    ledger->next_id = next_id;
    return 0;
}

int
deps_restore (deps_t *self, uint32_t job, uint64_t next_id)
{
    uint64_t from = deps_next_id (self, job);
    int rc = deps_grow (self, job, next_id);
    for (uint64_t id = from; rc == 0 && id < next_id; id++)
        deps_set_fate (self, (deps_ref_t) { job, id }, DEPS_OK);
    return rc;
}

uint64_t
deps_next_id (const deps_t *self, uint32_t job)
{
    return job < self->ledgers_size? self->ledgers[job].next_id: 0;
}

deps_fate_t
deps_fate (const deps_t *self, deps_ref_t tuple)
{
    if (tuple.job >= self->ledgers_size || tuple.id >= self->ledgers[tuple.job].next_id)
        return DEPS_PENDING;
    uint8_t byte = self->ledgers[tuple.job].fates[tuple.id / 4];
    return (deps_fate_t) (byte >> (tuple.id % 4 * 2) & 3);
}

void
deps_set_fate (deps_t *self, deps_ref_t tuple, deps_fate_t fate)
{
    if (tuple.job >= self->ledgers_size || tuple.id >= self->ledgers[tuple.job].next_id)
        return;
    uint8_t *byte = &self->ledgers[tuple.job].fates[tuple.id / 4];
    unsigned shift = (unsigned) (tuple.id % 4 * 2);
    *byte = (uint8_t) ((*byte & ~(3u << shift)) | (unsigned) fate << shift);
}

//  ---------------------------------------------------------------------
//  The node table

static size_t
s_hash (deps_ref_t ref)
{
    uint64_t k = ref.id ^ ((uint64_t) ref.job << 40) ^ ((uint64_t) ref.job >> 24);
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (size_t) k;
}

static bool
s_same (deps_ref_t a, deps_ref_t b)
{
    return a.job == b.job && a.id == b.id;
}

static size_t
s_slot (const deps_t *self, deps_ref_t ref)
{
    size_t mask = self->capacity - 1;
    size_t i = s_hash (ref) & mask;
    while (self->slots[i] && !s_same (self->slots[i]->ref, ref))
        i = (i + 1) & mask;
    return i;
}

static node_t *
s_find (const deps_t *self, deps_ref_t ref)
{
    if (self->size == 0)
        return NULL;
    return self->slots[s_slot (self, ref)];
}

static int
s_rehash (deps_t *self)
{
    size_t capacity = self->capacity * 2;
    node_t **slots = calloc (capacity, sizeof *slots);
    if (!slots)
        return -ENOMEM;
    node_t **old = self->slots;
    size_t old_capacity = self->capacity;
    self->slots = slots;
    self->capacity = capacity;
    for (size_t i = 0; i < old_capacity; i++)
        if (old[i])
            self->slots[s_slot (self, old[i]->ref)] = old[i];
    free (old);
    return 0;
}

//  The node of ref, made (as a target) if new.  NULL if out of memory.
static node_t *
s_require (deps_t *self, deps_ref_t ref)
{
    node_t *node = s_find (self, ref);
    if (node)
        return node;
    if ((self->size + 1) * 2 > self->capacity && s_rehash (self))
        return NULL;
    node = calloc (1, sizeof *node);
    if (!node)
        return NULL;
    node->ref = ref;
    self->slots[s_slot (self, ref)] = node;
    self->size++;
    return node;
}

//  Take ref's node out of the table and free it: the entries after it in
//  its probe run move back so that every lookup still finds its own.
static void
s_remove (deps_t *self, deps_ref_t ref)
{
    size_t mask = self->capacity - 1;
    size_t i = s_slot (self, ref);
    if (!self->slots[i])
        return;
    s_node_destroy (&self->slots[i]);
    self->size--;
    for (size_t j = (i + 1) & mask; self->slots[j]; j = (j + 1) & mask) {
        size_t home = s_hash (self->slots[j]->ref) & mask;
        //  Entry j may move to the hole at i unless its home lies in (i, j].
        bool stays = i <= j? (home > i && home <= j): (home > i || home <= j);
        if (stays)
            continue;
        self->slots[i] = self->slots[j];
        self->slots[j] = NULL;
        i = j;
    }
}

static int
s_append (node_t *node, deps_ref_t dependent)
{
    if (node->count == node->capacity) {
        uint32_t capacity = node->capacity? node->capacity * 2: 2;
        deps_ref_t *more = realloc (node->dependents, capacity * sizeof *more);
        if (!more)
            return -ENOMEM;
        node->dependents = more;
        node->capacity = capacity;
    }
    node->dependents[node->count++] = dependent;
    return 0;
}

//  ---------------------------------------------------------------------
//  Resolving

static int
s_push (deps_t *self, deps_ref_t ref, deps_fate_t fate, deps_ref_t cause,
        deps_fate_t cause_fate)
{
    if (self->stack_size == self->stack_capacity) {
        size_t capacity = self->stack_capacity? self->stack_capacity * 2: 64;
        struct resolve *more = realloc (self->stack, capacity * sizeof *more);
        if (!more)
            return -ENOMEM;
        self->stack = more;
        self->stack_capacity = capacity;
    }
    self->stack[self->stack_size++] = (struct resolve) { ref, fate, cause, cause_fate };
    return 0;
}

//  One dependent w of a tuple that ended as r->fate.
static void
s_resolve_one (deps_t *self, deps_ref_t w, const struct resolve *r)
{
    node_t *node = s_find (self, w);
    if (!node || node->state != NODE_WAITING)
        return;                 //  skipped already (a second failed dependency)
    if (r->fate == DEPS_OK && --node->unmet > 0)
        return;
    node->state = NODE_OUT;
    self->waiting--;
    payload_t payload = node->payload;
    node->payload = (payload_t) { 0 };
    bool skipped = r->fate != DEPS_OK;
    if (skipped) {
        node->skipped = true;
        node->cause = r->cause;
        node->cause_fate = r->cause_fate;
        deps_set_fate (self, w, DEPS_STOPPED);
        //  Out of memory, its own dependents would wait for ever: rare
        //  enough (a few bytes) to leave to the operator's cancel.
        s_push (self, w, DEPS_STOPPED, r->cause, r->cause_fate);
    }
    if (self->fn)
        self->fn (self->arg, w, skipped, r->cause, r->cause_fate, &payload);
    payload_drop (&payload);
}

//  Release or skip what waits on the tuples on the stack, until it is empty.
static void
s_resolve (deps_t *self)
{
    while (self->stack_size > 0) {
        struct resolve r = self->stack[--self->stack_size];
        self->steps++;
        node_t *node = s_find (self, r.ref);
        if (!node)
            continue;
        deps_ref_t *dependents = node->dependents;
        uint32_t count = node->count;
        node->dependents = NULL;
        node->count = node->capacity = 0;
        if (node->state == NODE_TARGET)
            s_remove (self, r.ref);
        for (uint32_t i = 0; i < count; i++) {
            self->steps++;
            s_resolve_one (self, dependents[i], &r);
        }
        free (dependents);
    }
}

//  The root of a skip through dependency dep, which ended as fate.
static void
s_cause (const deps_t *self, deps_ref_t dep, deps_fate_t fate, deps_ref_t *cause_p,
         deps_fate_t *fate_p)
{
    if (!deps_skipped (self, dep, cause_p, fate_p)) {
        *cause_p = dep;
        *fate_p = fate;
    }
}

int
deps_add (deps_t *self, deps_ref_t tuple, const deps_ref_t *deps, size_t count,
          payload_t *payload_p, deps_ref_t *cause_p, deps_fate_t *fate_p)
{
    self->steps++;
    uint32_t unmet = 0;
    for (size_t i = 0; i < count; i++) {
        self->steps++;
        deps_fate_t fate = deps_fate (self, deps[i]);
        if (fate == DEPS_PENDING)
            unmet++;
        else
        if (fate != DEPS_OK) {
            node_t *node = s_require (self, tuple);
            if (!node)
                return -ENOMEM;
            node->state = NODE_OUT;
            node->skipped = true;
            s_cause (self, deps[i], fate, &node->cause, &node->cause_fate);
            *cause_p = node->cause;
            *fate_p = node->cause_fate;
            payload_drop (payload_p);
            deps_set_fate (self, tuple, DEPS_STOPPED);
            //  Earlier tuples of its batch may wait on it.
            if (s_push (self, tuple, DEPS_STOPPED, node->cause, node->cause_fate) == 0)
                s_resolve (self);
            return DEPS_SKIPPED;
        }
    }
    if (unmet == 0)
        return DEPS_READY;
    node_t *node = s_require (self, tuple);
    if (!node)
        return -ENOMEM;
    for (size_t i = 0; i < count; i++) {
        if (deps_fate (self, deps[i]) != DEPS_PENDING)
            continue;
        node_t *target = s_require (self, deps[i]);
        //  The table may have grown: find the tuple's node again.
        if (!target || s_append (target, tuple))
            return -ENOMEM;
    }
    node = s_find (self, tuple);
    node->state = NODE_WAITING;
    node->unmet = unmet;
    node->payload = *payload_p;
    *payload_p = (payload_t) { 0 };
    self->waiting++;
    return DEPS_WAITING;
}

void
deps_ended (deps_t *self, deps_ref_t tuple, deps_fate_t fate, bool finished)
{
    self->steps++;
    node_t *node = s_find (self, tuple);
    if (fate != DEPS_PENDING && deps_fate (self, tuple) == DEPS_PENDING) {
        deps_set_fate (self, tuple, fate);
        //  Most tuples have no node: nothing waits on them.
        if (node && s_push (self, tuple, fate, tuple, fate) == 0)
            s_resolve (self);
        node = s_find (self, tuple);
    }
    if (finished && node && node->state != NODE_WAITING && node->count == 0)
        s_remove (self, tuple);
}

void
deps_release_job (deps_t *self, uint32_t job)
{
    for (size_t i = 0; i < self->capacity; i++) {
        node_t *node = self->slots[i];
        if (!node || node->ref.job != job || node->state != NODE_WAITING)
            continue;
        node->state = NODE_OUT;
        self->waiting--;
        payload_t payload = node->payload;
        node->payload = (payload_t) { 0 };
        if (self->fn)
            self->fn (self->arg, node->ref, false, node->ref, DEPS_PENDING, &payload);
        payload_drop (&payload);
    }
}

bool
deps_hidden (const deps_t *self, deps_ref_t tuple)
{
    node_t *node = s_find (self, tuple);
    return node && node->state != NODE_TARGET;
}

bool
deps_skipped (const deps_t *self, deps_ref_t tuple, deps_ref_t *cause_p, deps_fate_t *fate_p)
{
    node_t *node = s_find (self, tuple);
    if (!node || node->state != NODE_OUT || !node->skipped)
        return false;
    *cause_p = node->cause;
    *fate_p = node->cause_fate;
    return true;
}

size_t
deps_waiting (const deps_t *self)
{
    return self->waiting;
}

uint64_t
deps_steps (const deps_t *self)
{
    return self->steps;
}
