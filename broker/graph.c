//  graph.c -- see graph.h.  A store record per tuple that waits or that
//  ended other than ok, keyed by job number and id:
//    'W' then (job number u32, id u64) per dependency   waiting on those
//    'F' fate u8, skipped u8, cause job u32, cause id u64, cause fate u8
//                                                     ended so (fates:
//                                                     deps_fate_t)
//  A tuple released to the queue loses its record; one that ended ok never
//  had one: after a restart every id not recorded and not unfinished in
//  the store is done ok.
#include "broker/graph.h"
#include "broker/deps.h"
#include "broker/store_record.h"
#include "common/log.h"
#include "common/peerlog.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct graph {
    deps_t *deps;
    store_t *store;             //  borrowed
    queue_t *queue;             //  borrowed
    job_t **jobs;               //  by number (borrowed)
    size_t jobs_size;
    unsigned char *record;      //  scratch: a 'W' record
    size_t record_size;
};

#define FATE_RECORD_SIZE 16

static void s_event (void *arg, deps_ref_t tuple, bool skipped, deps_ref_t cause,
                     deps_fate_t cause_fate, payload_t *payload_p);

graph_t *
graph_new (store_t *store, queue_t *queue)
{
    graph_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->store = store;
    self->queue = queue;
    self->deps = deps_new (s_event, self);
    if (!self->deps)
        graph_destroy (&self);
    return self;
}

void
graph_destroy (graph_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    graph_t *self = *self_p;
    deps_destroy (&self->deps);
    free (self->jobs);
    free (self->record);
    free (self);
    *self_p = NULL;
}

int
graph_add_job (graph_t *self, job_t *job)
{
    uint32_t number = job_number (job);
    if (number >= self->jobs_size) {
        size_t size = (size_t) number * 2 + 8;
        job_t **more = realloc (self->jobs, size * sizeof *more);
        if (!more)
            return -ENOMEM;
        memset (more + self->jobs_size, 0, (size - self->jobs_size) * sizeof *more);
        self->jobs = more;
        self->jobs_size = size;
    }
    self->jobs[number] = job;
    return deps_grow (self->deps, number, job_next_id (job));
}

job_t *
graph_job (const graph_t *self, uint32_t number)
{
    return number < self->jobs_size? self->jobs[number]: NULL;
}

uint64_t
graph_steps (const graph_t *self)
{
    return deps_steps (self->deps);
}

//  ---------------------------------------------------------------------
//  Records

static void
s_put_fate (graph_t *self, job_t *job, uint64_t id, deps_fate_t fate, bool skipped,
            deps_ref_t cause, deps_fate_t cause_fate)
{
    unsigned char record[FATE_RECORD_SIZE] = { 'F', (unsigned char) fate, skipped };
    store_record_put_u32 (record + 3, cause.job);
    store_record_put_u64 (record + 7, cause.id);
    record[15] = (unsigned char) cause_fate;
    if (store_graph_put (self->store, job, id, record, sizeof record))
        log_error ("job %s: the store failed to record how tuple %" PRIu64 " ended",
                   peerlog_str (job_name (job)).text, id);
}

static void
s_put_waits (graph_t *self, job_t *job, uint64_t id, const deps_ref_t *deps, size_t count)
{
    size_t size = 1 + 12 * count;
    if (size > self->record_size) {
        unsigned char *more = realloc (self->record, size);
        if (!more) {
            log_error ("job %s: out of memory recording what tuple %" PRIu64 " waits on",
                       peerlog_str (job_name (job)).text, id);
            return;
        }
        self->record = more;
        self->record_size = size;
    }
    self->record[0] = 'W';
    for (size_t i = 0; i < count; i++) {
        store_record_put_u32 (self->record + 1 + 12 * i, deps[i].job);
        store_record_put_u64 (self->record + 5 + 12 * i, deps[i].id);
    }
    if (store_graph_put (self->store, job, id, self->record, size))
        log_error ("job %s: the store failed to record what tuple %" PRIu64 " waits on",
                   peerlog_str (job_name (job)).text, id);
}

//  ---------------------------------------------------------------------
//  Tuples out of the graph, into the queue

//  Tuple id of job into the queue: its payload (read from the store if
//  deps held none), at the front if it is to be stored as skipped.
static void
s_queue (graph_t *self, job_t *job, uint64_t id, payload_t *payload_p, bool front)
{
    payload_t payload = *payload_p;
    *payload_p = (payload_t) { 0 };
    if (!payload.chunk) {
        queue_tuple_t tuple = { 0 };
        if (store_read (self->store, job, id, 1, &tuple) != 1 || tuple.id != id) {
            log_error ("job %s: tuple %" PRIu64 " is not in the store; it cannot run",
                       peerlog_str (job_name (job)).text, id);
            if (tuple.id != id)
                payload_drop (&tuple.payload);
            return;
        }
        payload = tuple.payload;
    }
    int rc = front? queue_requeue (self->queue, job, id, 1, &payload)
                  : queue_push (self->queue, job, id, 1, &payload);
    if (rc) {
        log_error ("job %s: out of memory queueing tuple %" PRIu64,
                   peerlog_str (job_name (job)).text, id);
        payload_drop (&payload);
    }
}

//  deps' callback: a waiting tuple is released, or skipped.
static void
s_event (void *arg, deps_ref_t tuple, bool skipped, deps_ref_t cause,
         deps_fate_t cause_fate, payload_t *payload_p)
{
    graph_t *self = (graph_t *) arg;
    job_t *job = graph_job (self, tuple.job);
    if (!job)
        return;
    job_unwait (job, 1);
    if (skipped)
        s_put_fate (self, job, tuple.id, DEPS_STOPPED, true, cause, cause_fate);
    else
    if (store_graph_put (self->store, job, tuple.id, NULL, 0))
        log_error ("job %s: the store failed to forget what tuple %" PRIu64 " waited on",
                   peerlog_str (job_name (job)).text, tuple.id);
    s_queue (self, job, tuple.id, payload_p, skipped);
}

//  deps_add for tuple id of job, with what it returned acted on: held
//  (counted waiting, recorded), skipped (recorded, queued to be stored as
//  such) or ready.  Returns true if the queue is not to read it from the
//  store (held, or queued here).
static bool
s_add (graph_t *self, job_t *job, uint64_t id, const deps_ref_t *deps, size_t count,
       payload_t *payload_p)
{
    deps_ref_t cause;
    deps_fate_t cause_fate;
    deps_ref_t tuple = { job_number (job), id };
    int rc = deps_add (self->deps, tuple, deps, count, payload_p, &cause, &cause_fate);
    if (rc == DEPS_WAITING) {
        job_wait (job, 1);
        s_put_waits (self, job, id, deps, count);
        return true;
    }
    if (rc == DEPS_SKIPPED) {
        s_put_fate (self, job, id, DEPS_STOPPED, true, cause, cause_fate);
        s_queue (self, job, id, payload_p, true);
        return true;
    }
    if (rc < 0)
        log_error ("job %s: out of memory holding tuple %" PRIu64 " for its dependencies; "
                   "it runs now", peerlog_str (job_name (job)).text, id);
    return false;
}

int
graph_accept (graph_t *self, job_t *job, uint64_t first, chunk_t *chunk,
              const deps_batch_t *batch)
{
    size_t count = chunk_count (chunk);
    int rc = deps_grow (self->deps, job_number (job), first + count);
    if (rc || !batch)
        return rc;
    bool durable = store_durable (self->store);
    if (durable && (rc = queue_push_stored (self->queue, job, first, count)))
        return rc;
    deps_ref_t *refs = NULL;
    size_t held = 0, refs_size = 0;
    for (size_t i = 0; i < count; i++) {
        size_t n;
        const deps_ref_t *deps = deps_batch_of (batch, i, &n);
        payload_t payload = durable || !n? (payload_t) { 0 }: payload_of (chunk, i);
        if (n > refs_size) {
            deps_ref_t *more = realloc (refs, n * sizeof *refs);
            if (!more) {
                payload_drop (&payload);
                rc = -ENOMEM;
                n = 0;
            }
            else {
                refs = more;
                refs_size = n;
            }
        }
        //  The batch names its own job 0: it may have had no number yet.
        for (size_t d = 0; d < n; d++)
            refs[d] = (deps_ref_t) { deps[d].job == DEPS_BATCH_OWN? job_number (job)
                                                                  : deps[d].job, deps[d].id };
        if (n && s_add (self, job, first + i, refs, n, &payload))
            held++;
        else
        if (!durable) {
            if (!payload.chunk)
                payload = payload_of (chunk, i);
            queue_push (self->queue, job, first + i, 1, &payload);
        }
        payload_drop (&payload);
    }
    free (refs);
    if (durable)
        queue_forget_stored (self->queue, job, held);
    return rc;
}

//  ---------------------------------------------------------------------
//  Tuples that end

void
graph_finished (graph_t *self, job_t *job, const msg_ref_t *refs, size_t count, bool failed)
{
    uint32_t number = job_number (job);
    for (size_t i = 0; i < count; i++) {
        deps_ref_t tuple = { number, refs[i].id }, cause;
        deps_fate_t cause_fate;
        if (job_ended (job) == JOB_OPEN
        &&  deps_skipped (self->deps, tuple, &cause, &cause_fate))
            job_skipped (job, 1);
        if (failed && deps_fate (self->deps, tuple) == DEPS_PENDING)
            s_put_fate (self, job, tuple.id, DEPS_FAILED, false, tuple, DEPS_FAILED);
        deps_ended (self->deps, tuple, failed? DEPS_FAILED: DEPS_OK, true);
    }
}

void
graph_not_run (graph_t *self, job_t *job, const msg_ref_t *refs, size_t count)
{
    uint32_t number = job_number (job);
    for (size_t i = 0; i < count; i++) {
        deps_ref_t tuple = { number, refs[i].id };
        if (deps_fate (self->deps, tuple) != DEPS_PENDING)
            continue;           //  skipped: recorded then
        s_put_fate (self, job, tuple.id, DEPS_STOPPED, false, tuple, DEPS_STOPPED);
        deps_ended (self->deps, tuple, DEPS_STOPPED, false);
    }
}

void
graph_release_job (graph_t *self, job_t *job)
{
    if (job_counters (job)->waiting > 0)
        deps_release_job (self->deps, job_number (job));
}

bool
graph_hidden (const graph_t *self, const job_t *job, uint64_t id)
{
    return deps_hidden (self->deps, (deps_ref_t) { job_number (job), id });
}

bool
graph_skipped (const graph_t *self, const job_t *job, uint64_t id, deps_ref_t *cause_p,
               char *reason, size_t size)
{
    deps_fate_t fate;
    if (!deps_skipped (self->deps, (deps_ref_t) { job_number (job), id }, cause_p, &fate))
        return false;
    job_t *cause = graph_job (self, cause_p->job);
    snprintf (reason, size, "dependency %.200s:%" PRIu64 " %s",
              cause? job_name (cause): "?", cause_p->id,
              fate == DEPS_FAILED? "failed": "did not run (skipped, cancelled, aborted "
              "or excluded)");
    return true;
}

//  ---------------------------------------------------------------------
//  Recovery

typedef struct {
    uint32_t job;
    uint64_t id;
    unsigned char *data;
    size_t size;
} found_t;

typedef struct {
    graph_t *graph;
    found_t *found;
    size_t count, capacity;
    uint32_t job;               //  store_pending's
    bool failed;
} recovery_t;

static void
s_found (void *arg, uint32_t job, uint64_t id, const void *data, size_t size)
{
    recovery_t *r = (recovery_t *) arg;
    if (r->count == r->capacity) {
        size_t capacity = r->capacity? r->capacity * 2: 64;
        found_t *more = realloc (r->found, capacity * sizeof *more);
        if (!more) {
            r->failed = true;
            return;
        }
        r->found = more;
        r->capacity = capacity;
    }
    found_t *f = &r->found[r->count];
    *f = (found_t) { job, id, malloc (size? size: 1), size };
    if (!f->data) {
        r->failed = true;
        return;
    }
    memcpy (f->data, data, size);
    r->count++;
}

static void
s_pending (void *arg, uint64_t id)
{
    recovery_t *r = (recovery_t *) arg;
    deps_set_fate (r->graph->deps, (deps_ref_t) { r->job, id }, DEPS_PENDING);
}

//  Which pass of the recovery takes record f: fates of finished tuples
//  (0), then of unfinished ones not skipped (1), then the skipped (2), then
//  what waits (3): each may depend on what came before.
static int
s_pass (const graph_t *self, const found_t *f)
{
    if (f->data[0] == 'W')
        return 3;
    if (f->data[0] != 'F' || f->size != FATE_RECORD_SIZE)
        return -1;
    if (deps_fate (self->deps, (deps_ref_t) { f->job, f->id }) != DEPS_PENDING)
        return 0;
    return f->data[2]? 2: 1;
}

//  A tuple's fate record, at start: a finished tuple's fate; an
//  unfinished one skipped before the restart is skipped again.
static void
s_recover_fate (graph_t *self, job_t *job, const found_t *f, int pass, size_t *held_p)
{
    deps_ref_t tuple = { f->job, f->id };
    deps_ref_t cause = { store_record_u32 (f->data + 3), store_record_u64 (f->data + 7) };
    payload_t none = { 0 };
    if (pass == 2 && s_add (self, job, f->id, &cause, 1, &none))
        (*held_p)++;
    else
        deps_set_fate (self->deps, tuple, (deps_fate_t) (f->data[1] & 3));
    if (pass == 0 && f->data[2])
        job_skipped (job, 1);
}

//  A waiting tuple's record, at start: held again, or released or skipped
//  if what it waits on ended meanwhile.
static void
s_recover_waits (graph_t *self, job_t *job, const found_t *f, size_t *held_p)
{
    deps_ref_t tuple = { f->job, f->id };
    size_t count = (f->size - 1) / 12;
    if (deps_fate (self->deps, tuple) != DEPS_PENDING || count == 0) {
        store_graph_put (self->store, job, f->id, NULL, 0);     //  it ran: stale
        return;
    }
    deps_ref_t *deps = malloc (count * sizeof *deps);
    for (size_t i = 0; deps && i < count; i++)
        deps[i] = (deps_ref_t) { store_record_u32 (f->data + 1 + 12 * i),
                                 store_record_u64 (f->data + 5 + 12 * i) };
    payload_t none = { 0 };
    if (deps && s_add (self, job, f->id, deps, count, &none))
        (*held_p)++;
    else
        store_graph_put (self->store, job, f->id, NULL, 0);
    free (deps);
}

int
graph_recover (graph_t *self)
{
    recovery_t r = { .graph = self };
    for (uint32_t n = 0; n < self->jobs_size; n++)
        if (self->jobs[n]) {
            r.job = n;
            int rc = deps_restore (self->deps, n, job_next_id (self->jobs[n]));
            if (rc == 0)
                rc = store_pending (self->store, self->jobs[n], s_pending, &r);
            if (rc)
                return rc;
        }
    int rc = store_graph_load (self->store, s_found, &r);
    size_t *held = calloc (self->jobs_size + 1, sizeof *held);
    if (rc == 0 && (r.failed || !held))
        rc = -ENOMEM;
    int *passes = rc == 0? calloc (r.count + 1, sizeof *passes): NULL;
    if (rc == 0 && !passes)
        rc = -ENOMEM;
    for (size_t i = 0; rc == 0 && i < r.count; i++)
        passes[i] = graph_job (self, r.found[i].job)? s_pass (self, &r.found[i]): -1;
    for (int pass = 0; rc == 0 && pass < 4; pass++)
        for (size_t i = 0; i < r.count; i++) {
            found_t *f = &r.found[i];
            if (passes[i] != pass)
                continue;
            if (pass < 3)
                s_recover_fate (self, graph_job (self, f->job), f, pass, &held[f->job]);
            else
                s_recover_waits (self, graph_job (self, f->job), f, &held[f->job]);
        }
    free (passes);
    for (uint32_t n = 0; rc == 0 && n < self->jobs_size; n++)
        if (self->jobs[n] && held[n])
            queue_forget_stored (self->queue, self->jobs[n], held[n]);
    for (size_t i = 0; i < r.count; i++)
        free (r.found[i].data);
    free (r.found);
    free (held);
    if (rc == 0 && deps_waiting (self->deps))
        log_info ("broker: %zu tuples wait on their dependencies", deps_waiting (self->deps));
    return rc;
}
