//  prio.c -- see prio.h.  Tuned tuples are remembered by (job, id) so that
//  a requeue finds their level and a finish forgets their store record;
//  jobs held or with tuples in the heap have an entry each, for `delayed`
//  and for the check that releases a job cancelled while it waited.  The
//  heap is delay.h's, in wall-clock ms; a job's entry in it has id 0
//  (tuple ids start at 1).
#include "broker/prio.h"
#include "broker/delay.h"
#include "common/log.h"
#include "common/peerlog.h"

#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

//  How often jobs that wait are checked for having ended (ms).
#define ENDED_CHECK_MS  250

typedef struct {
    const job_t *job;
    uint64_t id;
    uint32_t level;
} tuned_t;

//  A job that waits: held, or with tuples in the heap.
typedef struct {
    job_t *job;
    bool held;
    uint64_t delayed;           //  its tuples in the heap
} waiting_t;

struct prio {
    queue_t *queue;             //  borrowed
    store_t *store;             //  borrowed
    delay_t *heap;              //  not yet due, by not_before
    zhashx_t *tuned;            //  tuned_t (key and item)
    zhashx_t *waiting;          //  job_t * -> waiting_t
    int64_t next_check;         //  monotonic ms of the next ended check
};

static size_t
s_hash_tuned (const void *key)
{
    const tuned_t *t = (const tuned_t *) key;
    uint64_t k = (uint64_t) (uintptr_t) t->job ^ (t->id * 0x9e3779b97f4a7c15ULL);
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (size_t) k;
}

static int
s_compare_tuned (const void *a, const void *b)
{
    const tuned_t *x = (const tuned_t *) a, *y = (const tuned_t *) b;
    if (x->job != y->job)
        return (uintptr_t) x->job < (uintptr_t) y->job? -1: 1;
    return x->id < y->id? -1: x->id > y->id? 1: 0;
}

static size_t
s_hash_pointer (const void *key)
{
    tuned_t t = { key, 0, 0 };
    return s_hash_tuned (&t);
}

static int
s_compare_pointer (const void *a, const void *b)
{
    return a < b? -1: a > b? 1: 0;
}

prio_t *
prio_new (queue_t *queue, store_t *store)
{
    prio_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->queue = queue;
    self->store = store;
    self->heap = delay_new ();
    self->tuned = zhashx_new ();
    self->waiting = zhashx_new ();
    if (!self->heap || !self->tuned || !self->waiting) {
        prio_destroy (&self);
        return NULL;
    }
    zhashx_set_key_hasher (self->tuned, s_hash_tuned);
    zhashx_set_key_comparator (self->tuned, s_compare_tuned);
    zhashx_set_key_duplicator (self->tuned, NULL);
    zhashx_set_key_destructor (self->tuned, NULL);
    zhashx_set_destructor (self->tuned, (zhashx_destructor_fn *) zstr_free);
    zhashx_set_key_hasher (self->waiting, s_hash_pointer);
    zhashx_set_key_comparator (self->waiting, s_compare_pointer);
    zhashx_set_key_duplicator (self->waiting, NULL);
    zhashx_set_key_destructor (self->waiting, NULL);
    zhashx_set_destructor (self->waiting, (zhashx_destructor_fn *) zstr_free);
    return self;
}

void
prio_destroy (prio_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    prio_t *self = *self_p;
    delay_destroy (&self->heap);
    zhashx_destroy (&self->tuned);
    zhashx_destroy (&self->waiting);
    free (self);
    *self_p = NULL;
}

//  The job's entry among those waiting, created if need be (NULL: out of
//  memory); forgotten when it waits no more.
static waiting_t *
s_waiting (prio_t *self, job_t *job)
{
    waiting_t *waiting = (waiting_t *) zhashx_lookup (self->waiting, job);
    if (waiting)
        return waiting;
    waiting = calloc (1, sizeof *waiting);
    if (!waiting)
        return NULL;
    waiting->job = job;
    if (zhashx_insert (self->waiting, job, waiting)) {
        free (waiting);
        return NULL;
    }
    return waiting;
}

static void
s_waiting_check (prio_t *self, waiting_t *waiting)
{
    if (!waiting->held && waiting->delayed == 0)
        zhashx_delete (self->waiting, waiting->job);
}

bool
prio_tuned (const job_t *job, uint32_t level, uint64_t not_before, uint64_t now)
{
    return level != job_priority (job) || (not_before > now && not_before != job_not_before (job));
}

//  Wait in the heap until not_before.  0 or -ENOMEM.
static int
s_delay (prio_t *self, job_t *job, queue_tuple_t *tuple, uint64_t not_before)
{
    waiting_t *waiting = s_waiting (self, job);
    if (!waiting)
        return -ENOMEM;
    if (delay_push (self->heap, (int64_t) not_before, job, tuple)) {
        s_waiting_check (self, waiting);
        return -ENOMEM;
    }
    waiting->delayed++;
    return 0;
}

int
prio_place (prio_t *self, job_t *job, queue_tuple_t *tuple, uint64_t not_before,
            bool record, uint64_t now)
{
    tuned_t key = { job, tuple->id, tuple->level };
    tuned_t *tuned = (tuned_t *) zhashx_lookup (self->tuned, &key);
    if (tuned)
        tuned->level = tuple->level;
    else {
        tuned = malloc (sizeof *tuned);
        if (!tuned)
            return -ENOMEM;
        *tuned = key;
        if (zhashx_insert (self->tuned, tuned, tuned)) {
            free (tuned);
            return -ENOMEM;
        }
    }
    if (record && store_put_prio (self->store, job, tuple->id, tuple->level, not_before))
        log_error ("job %s: the store failed to record tuple %" PRIu64 "'s priority",
                   peerlog_str (job_name (job)).text, tuple->id);
    if (not_before > now)
        return s_delay (self, job, tuple, not_before);
    return queue_push_level (self->queue, job, tuple);
}

int
prio_job_added (prio_t *self, job_t *job, uint64_t now)
{
    uint64_t not_before = job_not_before (job);
    if (not_before <= now)
        return 0;
    waiting_t *waiting = s_waiting (self, job);
    queue_tuple_t release = { 0 };
    if (!waiting || queue_hold (self->queue, job, true)
    ||  delay_push (self->heap, (int64_t) not_before, job, &release)) {
        if (waiting) {
            queue_hold (self->queue, job, false);
            s_waiting_check (self, waiting);
        }
        return -ENOMEM;
    }
    waiting->held = true;
    return 0;
}

uint32_t
prio_level (const prio_t *self, const job_t *job, uint64_t id)
{
    if (zhashx_size (self->tuned) > 0) {
        tuned_t key = { job, id, 0 };
        tuned_t *tuned = (tuned_t *) zhashx_lookup (self->tuned, &key);
        if (tuned)
            return tuned->level;
    }
    return job_priority (job);
}

void
prio_finished (prio_t *self, const job_t *job, const msg_ref_t *refs, size_t count)
{
    for (size_t i = 0; zhashx_size (self->tuned) > 0 && i < count; i++) {
        tuned_t key = { job, refs[i].id, 0 };
        if (!zhashx_lookup (self->tuned, &key))
            continue;
        zhashx_delete (self->tuned, &key);
        if (store_forget_prio (self->store, job, refs[i].id))
            log_error ("job %s: the store failed to forget tuple %" PRIu64 "'s priority",
                       peerlog_str (job_name (job)).text, refs[i].id);
    }
}

//  A tuple or a job is due: to its level, or released.
static void
s_release (void *arg, job_t *job, queue_tuple_t *tuple)
{
    prio_t *self = (prio_t *) arg;
    waiting_t *waiting = (waiting_t *) zhashx_lookup (self->waiting, job);
    if (tuple->id == 0) {
        queue_hold (self->queue, job, false);
        if (waiting)
            waiting->held = false;
    }
    else {
        if (waiting && waiting->delayed > 0)
            waiting->delayed--;
        if (queue_push_level (self->queue, job, tuple)) {
            //  It is still in the store: a restart brings it back.
            log_error ("job %s: out of memory queueing tuple %" PRIu64 "; it waits for a "
                       "restart", peerlog_str (job_name (job)).text, tuple->id);
            payload_drop (&tuple->payload);
        }
    }
    if (waiting)
        s_waiting_check (self, waiting);
}

//  Jobs that ended (cancelled) while they waited go now, with their
//  tuples, so that every tuple gets its result.
static void
s_release_ended (prio_t *self)
{
    zlistx_t *ended = NULL;
    for (waiting_t *w = (waiting_t *) zhashx_first (self->waiting); w;
         w = (waiting_t *) zhashx_next (self->waiting))
        if (job_ended (w->job) != JOB_OPEN && (ended || (ended = zlistx_new ())))
            zlistx_add_end (ended, w->job);
    for (job_t *job = ended? (job_t *) zlistx_first (ended): NULL; job;
         job = (job_t *) zlistx_next (ended))
        delay_drain_job (self->heap, job, s_release, self);
    zlistx_destroy (&ended);
}

void
prio_due (prio_t *self, uint64_t now)
{
    job_t *job;
    queue_tuple_t tuple;
    while (delay_pop (self->heap, (int64_t) now, &job, &tuple))
        s_release (self, job, &tuple);
    int64_t mono = zclock_mono ();
    if (zhashx_size (self->waiting) > 0 && mono >= self->next_check) {
        s_release_ended (self);
        self->next_check = mono + ENDED_CHECK_MS;
    }
}

uint64_t
prio_next (const prio_t *self)
{
    int64_t next = delay_next (self->heap);
    if (zhashx_size (self->waiting) > 0 && next > (int64_t) zclock_time () + ENDED_CHECK_MS)
        next = zclock_time () + ENDED_CHECK_MS;
    return next == INT64_MAX? UINT64_MAX: (uint64_t) next;
}

uint64_t
prio_delayed (const prio_t *self, const job_t *job)
{
    waiting_t *waiting = (waiting_t *) zhashx_lookup (self->waiting, job);
    if (!waiting)
        return 0;
    return waiting->delayed + (waiting->held? queue_job_depth (self->queue, job): 0);
}

//  ---------------------------------------------------------------------
//  Restart

typedef struct {
    uint32_t number;
    uint64_t id;
    uint32_t level;
    uint64_t not_before;
} record_t;

typedef struct {
    record_t *records;
    size_t count, capacity;
    bool failed;
} records_t;

static void
s_collect (uint32_t number, uint64_t id, uint32_t level, uint64_t not_before, void *arg)
{
    records_t *r = (records_t *) arg;
    if (r->count == r->capacity && !r->failed) {
        size_t capacity = r->capacity? r->capacity * 2: 64;
        record_t *more = realloc (r->records, capacity * sizeof *more);
        if (!more)
            r->failed = true;
        else {
            r->records = more;
            r->capacity = capacity;
        }
    }
    if (!r->failed)
        r->records[r->count++] = (record_t) { number, id, level, not_before };
}

//  The store is read after store_load (whose read transaction is over):
//  each record's tuple, if it is still there, leaves its job's lane for
//  its level or the heap.
void
prio_recover (prio_t *self, prio_job_of_fn *job_of, void *arg, uint64_t now)
{
    records_t r = { 0 };
    if (store_load_prio (self->store, s_collect, &r) || r.failed)
        log_error ("store: cannot read the tuples' own priorities; they run at their jobs'");
    size_t placed = 0;
    for (size_t i = 0; i < r.count; i++) {
        job_t *job = job_of (arg, r.records[i].number);
        queue_tuple_t tuple;
        if (!job || store_read (self->store, job, r.records[i].id, 1, &tuple) != 1)
            continue;
        if (tuple.id != r.records[i].id || queue_exclude (self->queue, job, tuple.id)) {
            payload_drop (&tuple.payload);
            continue;
        }
        tuple.level = r.records[i].level < QUEUE_LEVELS? r.records[i].level: QUEUE_LEVELS - 1;
        if (prio_place (self, job, &tuple, r.records[i].not_before, false, now)) {
            log_error ("job %s: out of memory recovering tuple %" PRIu64 "; it runs at "
                       "its job's priority", peerlog_str (job_name (job)).text, tuple.id);
            queue_push_level (self->queue, job, &tuple);
            payload_drop (&tuple.payload);
        }
        else
            placed++;
    }
    if (placed)
        log_info ("store: %zu tuples back at their own priority or not_before", placed);
    free (r.records);
}
