//  supervisor.c -- tasks to worker processes and results back; see
//  supervisor.h.  The processes themselves (start, reap, restart) are
//  agent/processes.h; a dead one's tasks come back here as failed attempts
//  or, if they cannot have started, go to another worker.  Tasks wait for
//  a worker in agent/waiting.h.
#include "agent/supervisor.h"
#include "agent/idtable.h"
#include "agent/link.h"
#include "agent/processes.h"
#include "agent/tmpdir.h"
#include "agent/waiting.h"
#include "agent/worker.h"
#include "common/log.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define QUIT_WAIT_MS    2000        //  at shutdown, then SIGKILL

//  A task out with a worker.  Workers start tasks in the order they get
//  them, on T threads, so when one dies only its T oldest unanswered tasks
//  can have been running; the others had not started.
typedef struct {
    pool_task_t task;           //  its pointers are the agent's, valid until answered
    size_t slot;                //  the worker's slot + 1
    uint64_t seq;
    bool stopping;              //  supervisor_cancel named it: never to start elsewhere
} inflight_t;

//  What the supervisor knows of the worker in a slot.
typedef struct {
    bool ready;                 //  said hello: tasks may go to it
    size_t load;                //  tasks given, not answered
    size_t planned;             //  s_dispatch's: tasks it is about to get
} slot_t;

struct supervisor {
    size_t processes, threads;
    supervisor_result_fn *on_result;
    supervisor_ahead_fn *on_ahead;
    void *arg;

    registry_t *registry;       //  processes == 0: handlers run here ...
    pool_t *pool;               //  ... on these threads

    char dir[PATH_MAX];         //  private 0700 directory of the endpoint
    int dir_lock;               //  holds dir's lock (agent/tmpdir.h)
    char endpoint[PATH_MAX + 16];
    zsock_t *router;
    processes_t *workers;
    slot_t *slots;
    idtable_t *inflight;        //  task id -> inflight_t
    uint64_t next_seq;          //  orders tasks as they go to workers
    pool_task_t *scratch;       //  WORKER_BATCH_MAX tasks on their way to a worker
    pool_results_t taken;       //  processes == 0: results from our threads
    int64_t nudge;              //  processes == 0: when to call pool_nudge
    int64_t flush_at;           //  processes == 0: when results are due
    waiting_t *queue;           //  tasks waiting for a worker
    size_t running;
    double task_us;             //  handler time per task, a moving average
    bool measured;              //  task_us means something
    uint64_t deaths;            //  worker processes that died
};

static void
s_result (supervisor_t *self, uint64_t id, pool_status_t status, const char *error)
{
    pool_record_t result = { .id = id, .status = status,
                             .started_us = (uint64_t) zclock_time () * 1000,
                             .size = error? (uint32_t) strlen (error): 0 };
    self->on_result (self->arg, &result, error);
}

//  ---------------------------------------------------------------------
//  Losing a worker

static int
s_by_seq (const void *a, const void *b)
{
    const inflight_t *x = a, *y = b;
    return x->seq < y->seq? -1: x->seq > y->seq;
}

//  A dead worker's tasks: those that may have been running come back as
//  failed attempts; those that cannot have started go to another worker,
//  costing no attempt, so a crash affects only the tuples it could touch.
static void
s_lose_tasks (supervisor_t *self, size_t index, const char *reason)
{
    slot_t *slot = &self->slots[index];
    if (slot->load == 0)
        return;
    inflight_t *lost = malloc (slot->load * sizeof *lost);
    size_t count = 0, at = 0;
    for (inflight_t *entry; lost && count < slot->load
                         && (entry = idtable_next (self->inflight, &at, NULL)); )
        if (entry->slot == index + 1)
            lost[count++] = *entry;
    if (!lost)
        log_error ("out of memory: %zu tuples of a dead worker are lost until the broker's "
                   "lease ends", slot->load);
    if (count)
        qsort (lost, count, sizeof *lost, s_by_seq);
    size_t moved = 0;
    //  Newest first, so requeueing at the head keeps the original order.
    for (size_t i = count; i-- > 0; ) {
        inflight_t entry = lost[i];
        idtable_remove (self->inflight, entry.task.id);
        self->running--;
        if (i >= self->threads && entry.stopping) {
            pool_record_t result = { .id = entry.task.id, .status = POOL_CANCELLED };
            self->on_result (self->arg, &result, NULL);
        }
        else
        if (i >= self->threads && waiting_push_front (self->queue, &entry.task) == 0)
            moved++;
        else
            s_result (self, entry.task.id, POOL_ERROR, reason);
    }
    if (moved)
        log_info ("worker %zu: %zu tuples it held had not started; they go to other workers "
                  "without counting an attempt", index, moved);
    free (lost);
    slot->load = 0;
}

//  processes.h's callback: a worker exited.
static void
s_on_died (void *arg, const processes_death_t *death)
{
    supervisor_t *self = arg;
    int status = death->status;
    char reason[64];
    if (WIFSIGNALED (status))
        snprintf (reason, sizeof reason, "worker died (signal %d)", WTERMSIG (status));
    else
        snprintf (reason, sizeof reason, "worker died (exit status %d)",
                  WIFEXITED (status)? WEXITSTATUS (status): -1);
    log_warn ("worker %zu (pid %d) %s%s%s after %lld ms, holding %zu tuples; restarting in %lld ms",
              death->slot, (int) death->pid, reason + 7,
              WIFSIGNALED (status)? ": ": "", WIFSIGNALED (status)? strsignal (WTERMSIG (status)): "",
              (long long) death->age_ms, self->slots[death->slot].load,
              (long long) death->restart_ms);
    s_lose_tasks (self, death->slot, reason);
    self->slots[death->slot].ready = false;
    self->deaths++;
}

//  ---------------------------------------------------------------------
//  Tasks out, results in

//  The next count queued tasks to worker index, as one message, and on
//  record as its.
static int
s_give (supervisor_t *self, size_t index, size_t count)
{
    for (size_t i = 0; i < count; i++)
        self->scratch[i] = *waiting_at (self->queue, i);
    int rc = link_send_tasks (self->router, processes_identity (self->workers, index),
                              self->scratch, count);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < count; i++) {
        if (i + IDTABLE_AHEAD < count)
            idtable_prefetch (self->inflight, waiting_at (self->queue, IDTABLE_AHEAD)->id);
        pool_task_t task = waiting_pop (self->queue);
        inflight_t *entry = idtable_add (self->inflight, task.id);
        if (entry)
            *entry = (inflight_t) { .task = task, .slot = index + 1, .seq = self->next_seq++ };
        else
            log_error ("out of memory: a task's worker is not recorded");
    }
    slot_t *slot = &self->slots[index];
    slot->load += count;
    self->running += count;
    log_debug ("gave %zu tuples to worker %zu, which now holds %zu", count, index, slot->load);
    return 0;
}

//  The ready worker with the least load (planned included) under limit,
//  or -1.
static ssize_t
s_least_loaded (supervisor_t *self, size_t limit)
{
    ssize_t best = -1;
    size_t least = limit;
    for (size_t i = 0; i < self->processes; i++) {
        const slot_t *slot = &self->slots[i];
        size_t load = slot->load + slot->planned;
        if (slot->ready && load < least) {
            best = (ssize_t) i;
            least = load;
        }
    }
    return best;
}

static bool
s_all_ready (const supervisor_t *self)
{
    for (size_t i = 0; i < self->processes; i++)
        if (!self->slots[i].ready)
            return false;
    return true;
}

//  Tasks a worker holds at most: its threads' prefetch, in handler time
//  (SUPERVISOR_PREFETCH_US each) as far as the bounds allow.  Measured with
//  echo (P=2 x T=8, 1M tuples, 5 pairs of passes): a fixed 64 per thread
//  held each worker to 512, and the worker hop carried 10,100 messages in
//  4 s of a pass; at 1,024 per thread it carries 5,900 (while moving more
//  tuples), and the workers take a fifth less CPU a tuple.  Slow tasks
//  keep 64: the agent's credit holds little of them anyway
//  (agent/credit.h), and what a worker queues cannot move to another
//  that frees up first.
static size_t
s_capacity (const supervisor_t *self)
{
    size_t prefetch = SUPERVISOR_PREFETCH_MIN;
    if (self->measured && self->task_us * SUPERVISOR_PREFETCH_MAX <= SUPERVISOR_PREFETCH_US)
        prefetch = SUPERVISOR_PREFETCH_MAX;
    else
    if (self->measured && self->task_us * SUPERVISOR_PREFETCH_MIN < SUPERVISOR_PREFETCH_US)
        prefetch = (size_t) (SUPERVISOR_PREFETCH_US / self->task_us);
    return self->threads * prefetch;
}

//  Plan which ready workers get the queued tasks while one has room: first
//  up to a task per thread everywhere, then the prefetch, so that tasks
//  spread over the workers before any waits in a worker's queue.  No
//  prefetch while a worker is still starting (or restarting): what it would
//  have run would sit in the others' queues, never moved to it.
static void
s_plan (supervisor_t *self)
{
    size_t queued = waiting_count (self->queue);
    size_t limit = self->threads, capacity = s_capacity (self);
    while (queued) {
        ssize_t best = s_least_loaded (self, limit);
        if (best < 0 && limit < capacity && s_all_ready (self)) {
            limit = capacity;
            continue;
        }
        if (best < 0)
            return;
        slot_t *slot = &self->slots[best];
        size_t count = limit - slot->load - slot->planned;
        count = count < queued? count: queued;
        slot->planned += count;
        queued -= count;
    }
}

//  Give each worker what s_plan gave it, in as few messages as it takes:
//  both rounds of the plan in one, since each message wakes ZeroMQ's I/O
//  threads and the worker's reactor.
static void
s_dispatch (supervisor_t *self)
{
    s_plan (self);
    bool failed = false;
    for (size_t index = 0; index < self->processes; index++) {
        slot_t *slot = &self->slots[index];
        while (slot->planned) {
            size_t count = slot->planned < WORKER_BATCH_MAX? slot->planned: WORKER_BATCH_MAX;
            slot->planned -= count;
            if (s_give (self, index, count) != 0) {
                //  It is gone (reaped soon) or we are out of memory.
                slot->ready = false;
                slot->planned = 0;
                failed = true;
            }
        }
    }
    if (failed)
        s_dispatch (self);          //  the others, if they have room
}

//  A result from worker index (or from our own threads: index SIZE_MAX).
static void
s_on_record (supervisor_t *self, size_t index, const pool_record_t *head, const void *data)
{
    if (index != SIZE_MAX) {
        inflight_t *entry = idtable_find (self->inflight, head->id);
        if (!entry || entry->slot != index + 1)
            return;             //  from an earlier life of the slot
        if (head->status != POOL_PARTIAL) {
            idtable_remove (self->inflight, head->id);
            self->slots[index].load--;
        }
    }
    if (head->status != POOL_PARTIAL)
        self->running--;
    self->on_result (self->arg, head, data);
}

//  The caller's hint for a result a few records ahead, once its inflight
//  slot (fetched further ahead) shows the task is still ours: a stale
//  record's id names a task that may be gone.
static void
s_hint (supervisor_t *self, size_t index, uint64_t id)
{
    if (!self->on_ahead)
        return;
    if (index != SIZE_MAX) {
        inflight_t *entry = idtable_find (self->inflight, id);
        if (!entry || entry->slot != index + 1)
            return;
    }
    self->on_ahead (self->arg, id);
}

//  A results message's count tasks that ran took us of handler time in
//  all.  Each message's mean, averaged over the last few: one task that a
//  busy CPU held up among a thousand fast ones moves nothing, while a
//  message of slow ones counts at once.
static void
s_measure (supervisor_t *self, uint64_t us, size_t count)
{
    if (!count)
        return;
    double mean = (double) us / (double) count;
    self->task_us = self->measured? self->task_us + (mean - self->task_us) / 4: mean;
    self->measured = true;
}

//  Results packed (agent/pool.h), from worker index or SIZE_MAX: our own.
//  Two cursors run ahead of the record handled: a worker's inflight slot
//  is fetched 2 * IDTABLE_AHEAD records ahead (our own threads' have
//  none), the caller hinted at IDTABLE_AHEAD (the slot is in the cache by
//  then).
static void
s_on_records (supervisor_t *self, size_t index, const uint8_t *at, size_t size)
{
    if (!size)
        return;
    const uint8_t *end = at + size, *hint = at;
    const uint8_t *fetch = index == SIZE_MAX? end: at;
    pool_record_t head, next;
    const void *data, *next_data;
    for (size_t i = 0; i < 2 * IDTABLE_AHEAD; i++) {
        if (pool_results_next (&fetch, end, &next, &next_data))
            idtable_prefetch (self->inflight, next.id);
        if (i < IDTABLE_AHEAD && pool_results_next (&hint, end, &next, &next_data))
            s_hint (self, index, next.id);
    }
    uint64_t ran_us = 0;
    size_t ran = 0;
    while (pool_results_next (&at, end, &head, &data)) {
        if (pool_results_next (&fetch, end, &next, &next_data))
            idtable_prefetch (self->inflight, next.id);
        if (pool_results_next (&hint, end, &next, &next_data))
            s_hint (self, index, next.id);
        if (head.status != POOL_PARTIAL && head.started_us) {
            ran_us += head.duration_us;
            ran++;
        }
        s_on_record (self, index, &head, data);
    }
    if (index != SIZE_MAX)
        s_measure (self, ran_us, ran);
    if (at != end)
        log_error ("worker %zu: malformed results", index);
}

static void
s_read (supervisor_t *self)
{
    for (int budget = 1000; budget && (zsock_events (self->router) & ZMQ_POLLIN); budget--) {
        zmsg_t *zmsg = zmsg_recv (self->router);
        if (!zmsg)
            return;
        zframe_t *identity = zmsg_pop (zmsg);
        zframe_t *kind = zmsg_pop (zmsg);
        //  A message from an earlier life of a slot is stale: its tasks
        //  were handed back when that worker died.
        ssize_t index = identity? processes_find (self->workers, zframe_data (identity),
                                                  zframe_size (identity)): -1;
        char what = kind && zframe_size (kind) == 1? (char) zframe_data (kind)[0]: 0;
        if (index >= 0 && what == WORKER_HELLO) {
            self->slots[index].ready = true;
            size_t count;
            log_debug ("worker %zd (pid %d) is ready", index,
                       (int) processes_pids (self->workers, &count)[index]);
        }
        else
        if (index >= 0 && what == WORKER_RESULTS && zmsg_first (zmsg))
            s_on_records (self, (size_t) index, zframe_data (zmsg_first (zmsg)),
                          zframe_size (zmsg_first (zmsg)));
        zframe_destroy (&identity);
        zframe_destroy (&kind);
        zmsg_destroy (&zmsg);
    }
}

static void
s_read_pool (supervisor_t *self)
{
    self->taken.size = 0;
    if (pool_take_due (self->pool, &self->taken, &self->flush_at))
        s_on_records (self, SIZE_MAX, self->taken.data, self->taken.size);
    self->taken.size = 0;
}

//  ---------------------------------------------------------------------
//  Public API

static int
s_open_endpoint (supervisor_t *self)
{
    int rc = tmpdir_make (tmpdir_root (), TMPDIR_AGENT, self->dir, sizeof self->dir,
                          &self->dir_lock);
    if (rc) {
        log_error ("cannot create a private directory in %s: %s", tmpdir_root (), strerror (-rc));
        self->dir[0] = 0;
        return -1;
    }
    snprintf (self->endpoint, sizeof self->endpoint, "ipc://%s/workers", self->dir);
    self->router = zsock_new (ZMQ_ROUTER);
    if (!self->router)
        return -1;
    zsock_set_router_mandatory (self->router, 1);
    zsock_set_sndhwm (self->router, 0);
    zsock_set_rcvhwm (self->router, 0);
    zsock_set_sndtimeo (self->router, 0);
    zsock_set_linger (self->router, 0);
    if (zsock_bind (self->router, "%s", self->endpoint) != 0) {
        log_error ("cannot bind %s: %s", self->endpoint, zmq_strerror (zmq_errno ()));
        return -1;
    }
    return 0;
}

supervisor_t *
supervisor_new (const supervisor_config_t *config)
{
    supervisor_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->processes = config->processes;
    self->threads = config->threads? config->threads: 1;
    //  Prefetch per worker (s_capacity): a thread that finishes finds its
    //  next task there instead of waiting a round trip through the agent.
    //  Measured with echo: T + T/4 capped P x T at ~25k tuples/s whatever
    //  the slots; 16 per thread left the threads idle between batches of
    //  ~60 (0.1 context switches a tuple in the workers); 64 halved that
    //  and the supervisor's and workers' CPU per tuple dropped by a third.
    self->on_result = config->on_result;
    self->on_ahead = config->on_ahead;
    self->arg = config->arg;
    if (self->processes == 0) {
        self->registry = registry_new ();
        self->pool = self->registry? pool_new (self->threads, self->registry): NULL;
        self->nudge = self->flush_at = INT64_MAX;
        if (!self->pool)
            supervisor_destroy (&self);
        return self;
    }
    self->slots = calloc (self->processes, sizeof *self->slots);
    self->scratch = calloc (WORKER_BATCH_MAX, sizeof *self->scratch);
    self->inflight = idtable_new (sizeof (inflight_t));
    self->queue = waiting_new ();
    if (!self->slots || !self->scratch || !self->inflight || !self->queue
    ||  s_open_endpoint (self) != 0) {
        supervisor_destroy (&self);
        return NULL;
    }
    processes_config_t workers = {
        .count = self->processes, .threads = self->threads, .exe = config->exe,
        .endpoint = self->endpoint, .log_level = config->log_level,
        .on_died = s_on_died, .arg = self };
    self->workers = processes_new (&workers);
    if (!self->workers)
        supervisor_destroy (&self);
    return self;
}

//  Ask each worker to quit, give them QUIT_WAIT_MS, then SIGKILL; reap all.
static void
s_stop_workers (supervisor_t *self)
{
    for (size_t i = 0; self->router && i < self->processes; i++) {
        const char *identity = processes_identity (self->workers, i);
        if (!identity)
            continue;
        zmsg_t *zmsg = zmsg_new ();
        zmsg_addstr (zmsg, identity);
        zmsg_addmem (zmsg, (char []) { WORKER_QUIT }, 1);
        if (zmsg_send (&zmsg, self->router) != 0) {
            zmsg_destroy (&zmsg);
            processes_kill (self->workers, i);      //  never connected: nothing to finish
        }
    }
    processes_destroy (&self->workers, QUIT_WAIT_MS);
}

void
supervisor_destroy (supervisor_t **self_p)
{
    supervisor_t *self = *self_p;
    if (!self)
        return;
    if (self->pool) {
        pool_cancel (self->pool);
        pool_destroy (&self->pool);
    }
    registry_destroy (&self->registry);
    if (self->workers)
        s_stop_workers (self);
    zsock_destroy (&self->router);
    if (self->dir[0]) {
        char path[PATH_MAX + 16];
        snprintf (path, sizeof path, "%s/workers", self->dir);
        unlink (path);
        rmdir (self->dir);
        close (self->dir_lock);
    }
    idtable_destroy (&self->inflight);
    free (self->slots);
    free (self->scratch);
    pool_results_free (&self->taken);
    waiting_destroy (&self->queue);
    free (self);
    *self_p = NULL;
}

int
supervisor_submit (supervisor_t *self, const pool_task_t *tasks, size_t count)
{
    if (self->pool) {
        int rc = pool_submit (self->pool, tasks, count);
        if (rc == 0)
            self->running += count;
        return rc;
    }
    if (waiting_push (self->queue, tasks, count))
        return -ENOMEM;
    s_dispatch (self);
    return 0;
}

zsock_t *
supervisor_socket (supervisor_t *self)
{
    return self->pool? pool_socket (self->pool): self->router;
}

void
supervisor_work (supervisor_t *self, int64_t now)
{
    if (self->pool) {
        s_read_pool (self);
        self->nudge = pool_nudge (self->pool, now);
        return;
    }
    //  Read first: results a worker sent just before it died still count.
    s_read (self);
    processes_work (self->workers, now);
    s_dispatch (self);
}

int64_t
supervisor_next_timer (supervisor_t *self)
{
    if (self->pool)
        return self->nudge < self->flush_at? self->nudge: self->flush_at;
    return processes_next_timer (self->workers);
}

size_t
supervisor_drop_waiting (supervisor_t *self)
{
    if (self->pool)
        return pool_drop_waiting (self->pool);
    size_t count = waiting_count (self->queue);
    while (waiting_count (self->queue))
        s_result (self, waiting_pop (self->queue).id, POOL_DROPPED, NULL);
    for (size_t i = 0; i < self->processes; i++) {
        const slot_t *slot = &self->slots[i];
        if (!slot->ready || slot->load <= self->threads)
            continue;
        //  Its threads keep what they are free for (pool_drop_waiting).
        count += slot->load - self->threads;
        zmsg_t *zmsg = zmsg_new ();
        zmsg_addstr (zmsg, processes_identity (self->workers, i));
        zmsg_addmem (zmsg, (char []) { WORKER_DROP }, 1);
        if (zmsg_send (&zmsg, self->router) != 0)
            zmsg_destroy (&zmsg);
    }
    return count;
}

typedef struct {
    const uint64_t *ids;        //  sorted
    size_t count;
} id_set_t;

static bool
s_in_set (void *arg, uint64_t id)
{
    const id_set_t *set = arg;
    return link_ids_has (set->ids, set->count, id);
}

//  A queued task of a cancelled job: its id into the list (agent/waiting.h).
typedef struct {
    uint64_t *ids;
    size_t count;
} id_list_t;

static void
s_unqueued (void *arg, const pool_task_t *task)
{
    id_list_t *list = arg;
    list->ids[list->count++] = task->id;
}

void
supervisor_cancel (supervisor_t *self, uint64_t *ids, size_t count)
{
    link_ids_sort (ids, count);
    id_set_t set = { ids, count };
    if (self->pool) {
        pool_cancel_where (self->pool, s_in_set, &set);
        return;
    }
    uint64_t *some = malloc ((count? count: 1) * sizeof *some);
    if (!some) {
        log_error ("out of memory: %zu tuples of a cancelled job run on", count);
        return;
    }
    //  To each worker, the ids it holds.
    for (size_t slot = 0; slot < self->processes; slot++) {
        size_t held = 0;
        for (size_t i = 0; i < count; i++) {
            inflight_t *entry = idtable_find (self->inflight, ids[i]);
            if (entry && entry->slot == slot + 1) {
                entry->stopping = true;
                some[held++] = ids[i];
            }
        }
        if (held && link_send_cancel (self->router, processes_identity (self->workers, slot),
                                      some, held))
            log_warn ("worker %zu: cannot ask it to stop %zu tuples", slot, held);
    }
    id_list_t unqueued = { some, 0 };
    size_t taken = waiting_remove_where (self->queue, s_in_set, &set, s_unqueued, &unqueued);
    for (size_t i = 0; i < taken; i++) {
        pool_record_t result = { .id = some[i], .status = POOL_CANCELLED };
        self->on_result (self->arg, &result, NULL);
    }
    free (some);
}

size_t
supervisor_running (supervisor_t *self)
{
    return self->running;
}

size_t
supervisor_threads (supervisor_t *self)
{
    return self->threads * (self->processes? self->processes: 1);
}

const pid_t *
supervisor_pids (supervisor_t *self, size_t *count_p)
{
    if (!self->workers) {
        *count_p = 0;
        return NULL;
    }
    return processes_pids (self->workers, count_p);
}

size_t
supervisor_ready (supervisor_t *self)
{
    size_t ready = 0;
    for (size_t i = 0; i < self->processes; i++)
        ready += self->slots[i].ready;
    return ready;
}

size_t
supervisor_processes (supervisor_t *self)
{
    return self->processes;
}

uint64_t
supervisor_deaths (supervisor_t *self)
{
    return self->deaths;
}
