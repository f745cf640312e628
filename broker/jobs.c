//  jobs.c -- see jobs.h.  The table is a zhashx by name that owns the jobs;
//  the queue and the back-off heap hold tuples and point at those jobs, so
//  they go first at destroy.  A tuple that cannot be queued again (out of
//  memory) ends failed rather than vanishing from the counters.
#include "broker/jobs.h"
#include "broker/delay.h"
#include "broker/digest.h"
#include "broker/graph.h"
#include "broker/prio.h"
#include "common/log.h"
#include "common/peerlog.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct jobs {
    zhashx_t *jobs;             //  name -> job_t
    queue_t *queue;             //  tuples waiting for an agent
    delay_t *delay;             //  tuples waiting out their back-off
    graph_t *graph;             //  tuples waiting on their dependencies
    prio_t *prio;               //  priorities and not_before (PROTOCOL.md 13)
    digest_t *digest;           //  of SUBMIT batches, with the store's key
    store_t *store;             //  borrowed
    broker_counters_t *counters;
    uint32_t next_number;       //  the next new job's number in the store
    uint32_t retry_backoff_ms;
    uint32_t retry_backoff_max_ms;
    uint64_t batch_memory;      //  SUBMIT batch ids remembered per job
    size_t largest_fields;      //  the most bytes of fields a job has had (job_fields_size)
    jobs_ended_fn *on_ended;    //  tuples that stop running, or NULL
    void *on_ended_arg;
    jobs_cancelled_fn *on_cancelled;    //  jobs cancelled, or NULL
    void *on_cancelled_arg;
};

//  The queue's reader: a durable store keeps the payloads of fresh tuples.
//  Those the graph holds (waiting on dependencies, or queued by it) are
//  passed over: reads go on until max are found or the store has no more.
static size_t
s_read_stored (void *arg, job_t *job, uint64_t from, size_t max, queue_tuple_t *out)
{
    jobs_t *self = (jobs_t *) arg;
    size_t n = 0;
    while (n < max) {
        size_t read = store_read (self->store, job, from, max - n, out + n);
        if (read == 0)
            break;
        from = out[n + read - 1].id + 1;
        size_t kept = 0;
        for (size_t i = 0; i < read; i++)
            if (graph_hidden (self->graph, job, out[n + i].id))
                payload_drop (&out[n + i].payload);
            else
                out[n + kept++] = out[n + i];
        n += kept;
    }
    return n;
}

jobs_t *
jobs_new (store_t *store, broker_counters_t *counters, const broker_config_t *config)
{
    jobs_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->store = store;
    self->counters = counters;
    self->next_number = 1;
    self->retry_backoff_ms = config->retry_backoff_ms;
    self->retry_backoff_max_ms = config->retry_backoff_max_ms;
    self->batch_memory = config->batch_memory;
    self->jobs = zhashx_new ();
    self->queue = queue_new_reader (s_read_stored, self);
    self->delay = delay_new ();
    self->graph = self->queue? graph_new (store, self->queue): NULL;
    self->prio = self->queue? prio_new (self->queue, store): NULL;
    self->digest = digest_new (store);
    if (!self->jobs || !self->queue || !self->delay || !self->graph || !self->prio
    ||  !self->digest) {
        jobs_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->jobs, (zhashx_destructor_fn *) job_destroy);
    return self;
}

void
jobs_destroy (jobs_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    jobs_t *self = *self_p;
    graph_destroy (&self->graph);
    prio_destroy (&self->prio);
    queue_destroy (&self->queue);
    delay_destroy (&self->delay);
    digest_destroy (&self->digest);
    zhashx_destroy (&self->jobs);
    free (self);
    *self_p = NULL;
}

void
jobs_set_on_ended (jobs_t *self, jobs_ended_fn *fn, void *arg)
{
    self->on_ended = fn;
    self->on_ended_arg = arg;
}

void
jobs_set_on_cancelled (jobs_t *self, jobs_cancelled_fn *fn, void *arg)
{
    self->on_cancelled = fn;
    self->on_cancelled_arg = arg;
}

void
jobs_cancel (jobs_t *self, job_t *job)
{
    job_end (job, JOB_CANCELLED);
    //  Its tuples waiting on dependencies go as cancelled too (PROTOCOL.md 14).
    graph_release_job (self->graph, job);
    //  Again on a repeated CANCEL: an agent that missed the first hears it.
    if (job_ended (job) == JOB_CANCELLED && self->on_cancelled)
        self->on_cancelled (self->on_cancelled_arg, job);
}

job_t *
jobs_lookup (jobs_t *self, const char *name)
{
    return (job_t *) zhashx_lookup (self->jobs, name);
}

job_t *
jobs_first (jobs_t *self)
{
    return (job_t *) zhashx_first (self->jobs);
}

job_t *
jobs_next (jobs_t *self)
{
    return (job_t *) zhashx_next (self->jobs);
}

size_t
jobs_count (const jobs_t *self)
{
    return zhashx_size (self->jobs);
}

//  Jobs are never forgotten while the broker runs, so the largest only grows.
static void
s_note_fields (jobs_t *self, const job_t *job)
{
    size_t fields = job_fields_size (job);
    if (fields > self->largest_fields)
        self->largest_fields = fields;
}

size_t
jobs_largest_fields (const jobs_t *self)
{
    return self->largest_fields;
}

job_t *
jobs_add (jobs_t *self, job_t **job_p)
{
    job_t *job = *job_p;
    *job_p = NULL;
    job_set_number (job, self->next_number++);
    if (zhashx_insert (self->jobs, job_name (job), job)) {
        job_destroy (&job);
        return NULL;
    }
    s_note_fields (self, job);
    if (store_put_job (self->store, job))
        log_error ("job %s: the store failed to record it", peerlog_str (job_name (job)).text);
    if (graph_add_job (self->graph, job))
        log_error ("job %s: out of memory for its graph", peerlog_str (job_name (job)).text);
    if (prio_job_added (self->prio, job, zclock_time ()))
        log_error ("job %s: out of memory holding it until its not_before; it runs now",
                   peerlog_str (job_name (job)).text);
    return job;
}

job_t *
jobs_adopt (jobs_t *self, job_t **job_p, uint64_t first, size_t count)
{
    job_t *job = *job_p;
    *job_p = NULL;
    if (zhashx_insert (self->jobs, job_name (job), job)) {
        log_error ("job %s: out of memory recovering it", peerlog_str (job_name (job)).text);
        job_destroy (&job);
        return NULL;
    }
    if (queue_push_stored (self->queue, job, first, count)) {
        log_error ("job %s: out of memory recovering it", peerlog_str (job_name (job)).text);
        zhashx_delete (self->jobs, job_name (job));     //  destroys it
        return NULL;
    }
    if (job_number (job) >= self->next_number)
        self->next_number = job_number (job) + 1;
    s_note_fields (self, job);
    if (graph_add_job (self->graph, job))
        log_error ("job %s: out of memory for its graph", peerlog_str (job_name (job)).text);
    if (prio_job_added (self->prio, job, zclock_time ()))
        log_error ("job %s: out of memory holding it until its not_before; it runs now",
                   peerlog_str (job_name (job)).text);
    return job;
}

//  prio_recover's way from a job number to the job.
typedef struct {
    job_t **by_number;
    uint32_t count;
} numbers_t;

static job_t *
s_job_by_number (void *arg, uint32_t number)
{
    numbers_t *numbers = (numbers_t *) arg;
    return number < numbers->count? numbers->by_number[number]: NULL;
}

void
jobs_recover_prio (jobs_t *self)
{
    numbers_t numbers = { calloc (self->next_number, sizeof (job_t *)), self->next_number };
    if (!numbers.by_number) {
        log_error ("broker: out of memory recovering the tuples' own priorities");
        return;
    }
    for (job_t *job = (job_t *) zhashx_first (self->jobs); job;
         job = (job_t *) zhashx_next (self->jobs))
        if (job_number (job) < numbers.count)
            numbers.by_number[job_number (job)] = job;
    prio_recover (self->prio, s_job_by_number, &numbers, zclock_time ());
    free (numbers.by_number);
}

void
jobs_put_dirty (jobs_t *self)
{
    for (job_t *job = (job_t *) zhashx_first (self->jobs); job;
         job = (job_t *) zhashx_next (self->jobs))
        if (job_dirty (job)) {
            if (store_put_job (self->store, job))
                log_error ("job %s: the store failed to record it",
                           peerlog_str (job_name (job)).text);
            job_clean (job);
        }
}

//  ---------------------------------------------------------------------
//  Tuples coming in

//  Tuple index of chunk in a chunk of its own: a tuned tuple kept in
//  memory must not keep its whole SUBMIT there.
static payload_t
s_own_payload (chunk_t *chunk, size_t index)
{
    size_t size;
    const void *data = chunk_tuple (chunk, index, &size);
    chunk_t *own = chunk_new (1, size);
    payload_t payload = { 0 };
    if (own && chunk_append (own, data, size) == 0)
        payload = payload_of (own, 0);
    chunk_destroy (&own);
    return payload;
}

//  Tuple index (id) at its own level or not_before (prio.h): placed, and
//  no longer counted in its job's lane.  false if it could not be (out
//  of memory): it then waits at its job's level, as if it were not tuned.
static bool
s_place_tuned (jobs_t *self, job_t *job, chunk_t *chunk, size_t index, uint64_t id,
               uint32_t level, uint64_t not_before, bool durable, uint64_t now)
{
    queue_tuple_t tuple = { .id = id, .attempt = 1, .level = level };
    tuple.payload = durable? s_own_payload (chunk, index): payload_of (chunk, index);
    if (!tuple.payload.chunk || prio_place (self->prio, job, &tuple, not_before, true, now)) {
        payload_drop (&tuple.payload);
        log_error ("job %s: out of memory placing tuple %" PRIu64 " at its own priority",
                   peerlog_str (job_name (job)).text, id);
        return false;
    }
    //  Placed: if its lane cannot skip it, it runs twice (at least once).
    if (durable && queue_exclude (self->queue, job, id))
        log_error ("job %s: out of memory; tuple %" PRIu64 " may run twice",
                   peerlog_str (job_name (job)).text, id);
    return true;
}

//  The accepted tuples into the queue: in memory, a payload (a reference
//  into the chunk) each; with a durable store, the lane counted them
//  already.  Tuned ones go where prio.h puts them.
static void
s_queue_accepted (jobs_t *self, job_t *job, chunk_t *chunk, uint64_t first,
                  const prio_tuples_t *tuned, bool durable)
{
    uint64_t now = zclock_time ();
    size_t count = chunk_count (chunk);
    for (size_t i = 0; i < count; i++) {
        uint32_t level = 0;
        uint64_t not_before = 0;
        if (tuned)
            prio_tuples_get (tuned, job, i, &level, &not_before);
        if (tuned && prio_tuned (job, level, not_before, now)
        &&  s_place_tuned (self, job, chunk, i, first + i, level, not_before, durable, now))
            continue;
        payload_t payload = durable? (payload_t) { 0 }: payload_of (chunk, i);
        if (!durable)
            queue_push (self->queue, job, first + i, 1, &payload);
    }
}

int
jobs_accept (jobs_t *self, job_t *job, chunk_t **chunk_p,
             store_batch_t *record, uint64_t *first_p)
{
    return jobs_accept_batch (self, job, chunk_p, record, NULL, NULL, first_p);
}

//  With a durable store the payloads are on disk and read back at
//  dispatch; in memory the chunk itself waits in the queue, a payload
//  (a reference) per tuple.
int
jobs_accept_batch (jobs_t *self, job_t *job, chunk_t **chunk_p, store_batch_t *record,
                   const prio_tuples_t *tuned, const deps_batch_t *deps, uint64_t *first_p)
{
    chunk_t *chunk = *chunk_p;
    *chunk_p = NULL;
    size_t count = chunk_count (chunk);
    bool durable = store_durable (self->store);
    //  In memory, room first: the pushes below must not fail half way.
    int rc = durable? 0: queue_reserve (self->queue, job, count);
    uint64_t first = job_next_id (job);
    if (rc == 0)
        rc = store_put_batch (self->store, job, first, chunk);
    if (rc == 0 && durable && !deps)
        rc = queue_push_stored (self->queue, job, first, count);
    if (rc == 0 && record) {
        record->first = first;
        record->count = count;
        rc = store_batch_put (self->store, job, record, job_batch_seq (job),
                              self->batch_memory);
    }
    if (rc) {
        //  What part of the batch reached the transaction is overwritten by
        //  the job's next batch, which gets the same ids.
        chunk_destroy (&chunk);
        return rc;
    }
    job_accept (job, count);
    job_add_bytes (job, chunk_bytes (chunk));
    //  The graph keeps every tuple's outcome, so it sees every batch; with
    //  dependencies it queues the batch (or holds it) itself.
    if (graph_accept (self->graph, job, first, chunk, deps))
        log_error ("job %s: out of memory placing a batch with dependencies",
                   peerlog_str (job_name (job)).text);
    if (!deps)
        s_queue_accepted (self, job, chunk, first, tuned, durable);
    chunk_destroy (&chunk);
    self->counters->accepted += count;
    *first_p = first;
    return 0;
}

int
jobs_remember (jobs_t *self, job_t *job, store_batch_t *record, uint64_t first,
               uint64_t count)
{
    record->first = first;
    record->count = count;
    return store_batch_put (self->store, job, record, job_batch_seq (job),
                            self->batch_memory);
}

int
jobs_batch_digest (jobs_t *self, const char *batch, const msg_t *msg,
                   store_batch_t *record)
{
    return digest_batch (self->digest, batch, msg, record->digest);
}

int
jobs_batch (jobs_t *self, const job_t *job, store_batch_t *record)
{
    return store_batch_get (self->store, job, record);
}

void
jobs_totals (jobs_t *self, uint64_t *queued_p, uint64_t *bytes_p)
{
    uint64_t queued = 0, bytes = 0;
    for (job_t *job = (job_t *) zhashx_first (self->jobs); job;
         job = (job_t *) zhashx_next (self->jobs)) {
        //  Tuples waiting on dependencies take room as queued ones do.
        queued += job_counters (job)->queued + job_counters (job)->waiting;
        bytes += job_bytes (job);
    }
    *queued_p = queued;
    *bytes_p = bytes;
}

//  ---------------------------------------------------------------------
//  Tuples going out and coming back

size_t
jobs_take (jobs_t *self, size_t max, queue_tuple_t *out, job_t **job_p)
{
    return queue_take (self->queue, max, out, job_p);
}

size_t
jobs_take_fit (jobs_t *self, size_t max, queue_tuple_t *out, job_t **job_p,
               queue_fits_fn *fits, void *arg)
{
    return queue_take_fit (self->queue, max, out, job_p, fits, arg);
}

//  A running tuple that cannot be queued again (out of memory) ends failed.
static void
s_fail (jobs_t *self, job_t *job, queue_tuple_t *tuple)
{
    log_error ("job %s: out of memory queueing tuple %" PRIu64 " again; counted failed",
               peerlog_str (job_name (job)).text, tuple->id);
    msg_ref_t ref = { tuple->id, tuple->attempt };
    store_remove (self->store, job, &ref, 1);
    job_sub_bytes (job, payload_size (tuple->payload));
    payload_drop (&tuple->payload);
    job_finished (job, 0, 1);
    self->counters->failed++;
}

void
jobs_untake (jobs_t *self, job_t *job, queue_tuple_t *tuple)
{
    if (queue_return (self->queue, job, tuple)) {
        //  Counted queued still: count it failed from there.
        job_dispatched (job, 1);
        s_fail (self, job, tuple);
    }
}

void
jobs_leased (jobs_t *self, job_t *job, const msg_ref_t *refs, size_t count)
{
    //  Leases are kept in memory only (the agent's held table): a restart
    //  queues the tuple again at the same attempt.
    (void) self;
    (void) refs;
    job_dispatched (job, count);
}

int
jobs_claim (jobs_t *self, job_t *job, uint64_t id, queue_tuple_t *tuple)
{
    if (graph_hidden (self->graph, job, id))
        return -ENOENT;         //  the graph queues it (held or skipped)
    int rc = queue_claim (self->queue, job, id, tuple);
    if (rc == 0)
        job_dispatched (job, 1);
    return rc;
}

void
jobs_finished (jobs_t *self, job_t *job, const msg_ref_t *refs, size_t count, bool failed)
{
    if (count == 0)
        return;
    for (size_t i = 0; self->on_ended && i < count; i++)
        self->on_ended (self->on_ended_arg, job, refs[i].id);
    if (store_remove (self->store, job, refs, count))
        log_error ("job %s: the store failed to forget %zu tuples",
                   peerlog_str (job_name (job)).text, count);
    graph_finished (self->graph, job, refs, count, failed);
    prio_finished (self->prio, job, refs, count);
    job_finished (job, failed? 0: count, failed? count: 0);
    if (failed)
        self->counters->failed += count;
    else
        self->counters->done += count;
    //  An abort leaves nothing to wait for: what waits is stored as aborted.
    if (job_ended (job) != JOB_OPEN)
        graph_release_job (self->graph, job);
}

void
jobs_not_run (jobs_t *self, job_t *job, const msg_ref_t *refs, size_t count)
{
    graph_not_run (self->graph, job, refs, count);
}

void
jobs_release_waiting (jobs_t *self, job_t *job)
{
    graph_release_job (self->graph, job);
}

bool
jobs_skipped (jobs_t *self, const job_t *job, uint64_t id, deps_ref_t *cause_p,
              char *reason, size_t size)
{
    return graph_skipped (self->graph, job, id, cause_p, reason, size);
}

int
jobs_recover_graph (jobs_t *self)
{
    return graph_recover (self->graph);
}

uint64_t
jobs_graph_steps (const jobs_t *self)
{
    return graph_steps (self->graph);
}

//  deps_batch's lookup of another job by name.
static bool
s_job_by_name (void *arg, const char *name, size_t size, uint32_t *number_p, uint64_t *next_id_p)
{
    jobs_t *self = (jobs_t *) arg;
    char key[BROKER_MAX_JOB_NAME + 1];
    if (size > BROKER_MAX_JOB_NAME)
        return false;
    memcpy (key, name, size);
    key[size] = 0;
    job_t *job = jobs_lookup (self, key);
    if (!job)
        return false;
    *number_p = job_number (job);
    *next_id_p = job_next_id (job);
    return true;
}

deps_batch_t *
jobs_deps_check (jobs_t *self, const char *name, const job_t *job, const void *map,
                 size_t size, size_t count, char *reason, size_t reason_size)
{
    return deps_batch_new (map, size, count, name, job? job_next_id (job): 1, s_job_by_name, self,
                           reason, reason_size);
}

//  Back-off before attempt n (n >= 2): base, doubling, capped.
static int64_t
s_backoff (const jobs_t *self, uint32_t attempt)
{
    int64_t wait = self->retry_backoff_ms;
    for (uint32_t i = 2; i < attempt && wait < self->retry_backoff_max_ms; i++)
        wait *= 2;
    return wait < self->retry_backoff_max_ms? wait: self->retry_backoff_max_ms;
}

void
jobs_requeue (jobs_t *self, job_t *job, queue_tuple_t *tuple, bool backoff)
{
    //  Dead letters (attempts used up) go at once: nothing will run them.
    bool dead = tuple->attempt > job_max_attempts (job);
    msg_ref_t ref = { tuple->id, tuple->attempt };
    tuple->level = prio_level (self->prio, job, tuple->id);
    if (self->on_ended)
        self->on_ended (self->on_ended_arg, job, tuple->id);
    int rc;
    if (backoff && !dead && self->retry_backoff_ms > 0)
        rc = delay_push (self->delay, zclock_mono () + s_backoff (self, tuple->attempt),
                         job, tuple);
    else
        rc = queue_return (self->queue, job, tuple);
    if (rc) {
        s_fail (self, job, tuple);
        return;
    }
    store_requeue (self->store, job, &ref, 1);
    job_requeued (job, 1);
    self->counters->requeued++;
    self->counters->requeued_why[tuple->why < BROKER_REQUEUE_REASONS? tuple->why: 0]++;
}

void
jobs_delays_due (jobs_t *self, int64_t now)
{
    job_t *job;
    queue_tuple_t tuple;
    while (delay_pop (self->delay, now, &job, &tuple))
        jobs_untake (self, job, &tuple);
    prio_due (self->prio, (uint64_t) zclock_time ());
}

int64_t
jobs_next_due (const jobs_t *self)
{
    int64_t next = delay_next (self->delay);
    uint64_t wall = prio_next (self->prio);
    if (wall == UINT64_MAX)
        return next;
    //  A not_before is wall-clock time; the broker's timers are monotonic.
    int64_t now = zclock_time ();
    int64_t in = (int64_t) wall > now? (int64_t) wall - now: 0;
    int64_t due = zclock_mono () + in;
    return due < next? due: next;
}

uint64_t
jobs_delayed (const jobs_t *self, const job_t *job)
{
    return prio_delayed (self->prio, job);
}

size_t
jobs_waiting (const jobs_t *self)
{
    return queue_depth (self->queue);
}

size_t
jobs_waiting_jobs (const jobs_t *self)
{
    return queue_jobs (self->queue);
}

size_t
jobs_backing_off (const jobs_t *self)
{
    return delay_size (self->delay);
}
