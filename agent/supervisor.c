//  supervisor.c -- worker processes seen from the agent; see supervisor.h.
//  A worker is started by fork and exec of this binary (a fresh process:
//  ZeroMQ contexts do not survive fork), with PR_SET_PDEATHSIG set between
//  the two so that it dies with us.  A dead worker is noticed by SIGCHLD (a
//  flag; waitpid runs in the reactor, so there are never zombies), its
//  tasks come back as failed attempts, and it is started again after a
//  back-off that doubles while it keeps dying young.
#include "agent/supervisor.h"
#include "agent/worker.h"
#include "common/log.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define REAP_EVERY_MS   500         //  look for dead workers even without SIGCHLD
#define QUIT_WAIT_MS    2000        //  at shutdown, then SIGKILL

//  A task out with a worker.  Workers start tasks in the order they get
//  them, on T threads, so when one dies only its T oldest unanswered tasks
//  can have been running; the others had not started.
typedef struct {
    pool_task_t task;           //  its pointers are the agent's, valid until answered
    size_t proc;                //  proc index + 1
    uint64_t seq;
} inflight_t;

//  Set by SIGCHLD; the reactor reaps.
static volatile sig_atomic_t s_child_exited;

typedef struct {
    size_t index;
    uint32_t generation;        //  counts starts; part of the identity
    pid_t pid;                  //  0 while waiting to be started
    bool ready;                 //  said hello: tasks may go to it
    size_t load;                //  tasks given, not answered
    int64_t started;
    int64_t restart_at;
    int64_t backoff_ms;
    char identity[32];
} proc_t;

struct supervisor {
    size_t processes, threads, capacity;
    char exe[PATH_MAX];
    char log_level[16];
    supervisor_result_fn *on_result;
    void *arg;

    registry_t *registry;       //  processes == 0: handlers run here ...
    pool_t *pool;               //  ... on these threads

    char dir[PATH_MAX];         //  private 0700 directory of the endpoint
    char endpoint[PATH_MAX + 16];
    zsock_t *router;
    proc_t *procs;
    pid_t *pids;
    zhashx_t *inflight;         //  task id -> inflight_t
    uint64_t next_seq;          //  orders tasks as they go to workers
    pool_task_t *queue;         //  ring of tasks waiting for a worker
    size_t queue_head, queued, queue_cap;
    size_t running;
    int64_t next_reap;
};

static void
s_on_sigchld (int sig)
{
    (void) sig;
    s_child_exited = 1;
}

static size_t
s_id_hash (const void *key)
{
    return (size_t) ((uint64_t) (uintptr_t) key * 0x9E3779B97F4A7C15ull >> 16);
}

static int
s_id_compare (const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) a, y = (uintptr_t) b;
    return x < y? -1: x > y;
}

static void
s_inflight_destroy (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

static void
s_result (supervisor_t *self, uint64_t id, pool_status_t status, const char *error)
{
    pool_result_t result = { .id = id, .status = status,
                             .started_us = (uint64_t) zclock_time () * 1000,
                             .data = zframe_new (error, error? strlen (error): 0) };
    self->on_result (self->arg, &result);
    zframe_destroy (&result.data);
}

//  ---------------------------------------------------------------------
//  Starting and losing workers

static void
s_spawn (supervisor_t *self, proc_t *proc, int64_t now)
{
    proc->generation++;
    snprintf (proc->identity, sizeof proc->identity, "w%zu.%u", proc->index, proc->generation);
    char threads[24], parent[24];
    snprintf (threads, sizeof threads, "%zu", self->threads);
    pid_t me = getpid ();
    snprintf (parent, sizeof parent, "%d", (int) me);
    char *argv[] = { self->exe, "agent", "--worker", self->endpoint, "--worker-id", proc->identity,
                     "--worker-parent", parent, "--threads", threads,
                     "--log-level", self->log_level, NULL };
    pid_t pid = fork ();
    if (pid == 0) {
        //  Only async-signal-safe calls until exec: we are a copy of a
        //  threaded process.
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        if (getppid () != me)
            _exit (1);
        sigset_t none;
        sigemptyset (&none);
        sigprocmask (SIG_SETMASK, &none, NULL);
        execv (self->exe, argv);
        _exit (127);
    }
    if (pid < 0) {
        log_error ("cannot start worker %zu: %s; trying again in %lld ms", proc->index,
                   strerror (errno), (long long) proc->backoff_ms);
        proc->restart_at = now + proc->backoff_ms;
        return;
    }
    proc->pid = pid;
    proc->ready = false;
    proc->load = 0;
    proc->started = now;
    self->pids[proc->index] = pid;
    log_info ("worker %zu started (pid %d, %zu handler threads)", proc->index, (int) pid,
              self->threads);
}

static int
s_by_seq (const void *a, const void *b)
{
    const inflight_t *x = *(inflight_t *const *) a, *y = *(inflight_t *const *) b;
    return x->seq < y->seq? -1: x->seq > y->seq;
}

//  Put a task back at the head of the queue, for another worker.
static int
s_requeue (supervisor_t *self, const pool_task_t *task)
{
    if (self->queued == self->queue_cap) {
        size_t cap = self->queue_cap? self->queue_cap * 2: 64;
        pool_task_t *ring = malloc (cap * sizeof *ring);
        if (!ring)
            return -ENOMEM;
        for (size_t i = 0; i < self->queued; i++)
            ring[i] = self->queue[(self->queue_head + i) % self->queue_cap];
        free (self->queue);
        self->queue = ring;
        self->queue_cap = cap;
        self->queue_head = 0;
    }
    self->queue_head = (self->queue_head + self->queue_cap - 1) % self->queue_cap;
    self->queue[self->queue_head] = *task;
    self->queued++;
    return 0;
}

//  A dead worker's tasks: those that may have been running come back as
//  failed attempts; those that cannot have started go to another worker,
//  costing no attempt, so a crash affects only the tuples it could touch.
static void
s_lose_tasks (supervisor_t *self, proc_t *proc, const char *reason)
{
    if (proc->load == 0)
        return;
    inflight_t **lost = malloc (proc->load * sizeof *lost);
    size_t count = 0;
    for (inflight_t *entry = zhashx_first (self->inflight); lost && entry;
         entry = zhashx_next (self->inflight))
        if (entry->proc == proc->index + 1 && count < proc->load)
            lost[count++] = entry;
    if (!lost)
        log_error ("out of memory: %zu tuples of a dead worker are lost until the broker's "
                   "lease ends", proc->load);
    qsort (lost, count, sizeof *lost, s_by_seq);
    size_t started = 0, moved = 0;
    //  Newest first, so requeueing at the head keeps the original order.
    for (size_t i = count; i-- > 0; ) {
        inflight_t entry = *lost[i];
        zhashx_delete (self->inflight, (void *) (uintptr_t) entry.task.id);
        self->running--;
        if (i >= self->threads && s_requeue (self, &entry.task) == 0)
            moved++;
        else {
            started++;
            s_result (self, entry.task.id, POOL_ERROR, reason);
        }
    }
    if (moved)
        log_info ("worker %zu: %zu tuples it held had not started; they go to other workers "
                  "without counting an attempt", proc->index, moved);
    free (lost);
    proc->load = 0;
}

static void
s_died (supervisor_t *self, proc_t *proc, int status, int64_t now)
{
    char reason[64];
    if (WIFSIGNALED (status))
        snprintf (reason, sizeof reason, "worker died (signal %d)", WTERMSIG (status));
    else
        snprintf (reason, sizeof reason, "worker died (exit status %d)",
                  WIFEXITED (status)? WEXITSTATUS (status): -1);
    if (now - proc->started >= SUPERVISOR_HEALTHY_MS)
        proc->backoff_ms = SUPERVISOR_RESTART_MIN_MS;
    log_warn ("worker %zu (pid %d) %s%s%s after %lld ms, holding %zu tuples; restarting in %lld ms",
              proc->index, (int) proc->pid, reason + 7,
              WIFSIGNALED (status)? ": ": "", WIFSIGNALED (status)? strsignal (WTERMSIG (status)): "",
              (long long) (now - proc->started), proc->load, (long long) proc->backoff_ms);
    s_lose_tasks (self, proc, reason);
    proc->pid = 0;
    proc->ready = false;
    self->pids[proc->index] = 0;
    proc->restart_at = now + proc->backoff_ms;
    proc->backoff_ms = proc->backoff_ms * 2 < SUPERVISOR_RESTART_MAX_MS
                     ? proc->backoff_ms * 2: SUPERVISOR_RESTART_MAX_MS;
}

static void
s_reap (supervisor_t *self, int64_t now)
{
    s_child_exited = 0;
    self->next_reap = now + REAP_EVERY_MS;
    for (size_t i = 0; i < self->processes; i++) {
        proc_t *proc = &self->procs[i];
        if (proc->pid <= 0)
            continue;
        int status = 0;
        pid_t rc = waitpid (proc->pid, &status, WNOHANG);
        if (rc == proc->pid || (rc < 0 && errno == ECHILD))
            s_died (self, proc, status, now);
    }
}

//  ---------------------------------------------------------------------
//  Tasks out, results in

static int
s_send_tasks (supervisor_t *self, proc_t *proc, size_t count)
{
    zmsg_t *zmsg = zmsg_new ();
    zmsg_addstr (zmsg, proc->identity);
    zmsg_addmem (zmsg, (char []) { WORKER_TASKS }, 1);
    for (size_t i = 0; i < count; i++) {
        const pool_task_t *task = &self->queue[(self->queue_head + i) % self->queue_cap];
        worker_task_t head = { .id = task->id, .timeout_ms = task->timeout_ms,
                               .options_size = task->options? (uint32_t) task->options_size: 0,
                               .handler_size = (uint32_t) strlen (task->handler) + 1 };
        zframe_t *frame = zframe_new (NULL, sizeof head + head.handler_size + head.options_size);
        if (!frame) {
            zmsg_destroy (&zmsg);
            return -1;
        }
        byte *data = zframe_data (frame);
        memcpy (data, &head, sizeof head);
        memcpy (data + sizeof head, task->handler, head.handler_size);
        if (head.options_size)
            memcpy (data + sizeof head + head.handler_size, task->options, head.options_size);
        zmsg_append (zmsg, &frame);
        zmsg_addmem (zmsg, task->tuple, task->tuple_size);
    }
    return zmsg_send (&zmsg, self->router) == 0? 0: (zmsg_destroy (&zmsg), -1);
}

//  Give queued tasks to the least loaded ready worker while one has room:
//  first up to a task per thread everywhere, then the prefetch, so that
//  tasks spread over the workers before any waits in a worker's queue.
static void
s_dispatch (supervisor_t *self)
{
    size_t limit = self->threads;
    while (self->queued) {
        proc_t *best = NULL;
        for (size_t i = 0; i < self->processes; i++) {
            proc_t *proc = &self->procs[i];
            if (proc->ready && proc->load < limit && (!best || proc->load < best->load))
                best = proc;
        }
        if (!best && limit < self->capacity) {
            limit = self->capacity;
            continue;
        }
        if (!best)
            return;
        size_t count = limit - best->load;
        count = count < self->queued? count: self->queued;
        count = count < WORKER_BATCH_MAX? count: WORKER_BATCH_MAX;
        if (s_send_tasks (self, best, count) != 0) {
            //  It is gone (reaped soon) or we are out of memory: try another.
            best->ready = false;
            continue;
        }
        for (size_t i = 0; i < count; i++) {
            inflight_t *entry = malloc (sizeof *entry);
            if (entry) {
                *entry = (inflight_t) { .task = self->queue[self->queue_head],
                                        .proc = best->index + 1, .seq = self->next_seq++ };
                if (zhashx_insert (self->inflight, (void *) (uintptr_t) entry->task.id, entry))
                    free (entry);
            }
            self->queue_head = (self->queue_head + 1) % self->queue_cap;
        }
        self->queued -= count;
        best->load += count;
        self->running += count;
        log_debug ("gave %zu tuples to worker %zu, which now holds %zu", count, best->index,
                   best->load);
    }
}

static proc_t *
s_proc_of (supervisor_t *self, zframe_t *identity)
{
    char text[32];
    size_t size = zframe_size (identity);
    if (size == 0 || size >= sizeof text)
        return NULL;
    memcpy (text, zframe_data (identity), size);
    text[size] = 0;
    size_t index;
    unsigned generation;
    if (sscanf (text, "w%zu.%u", &index, &generation) != 2 || index >= self->processes)
        return NULL;
    proc_t *proc = &self->procs[index];
    //  A message from an earlier life of this slot is stale: its tasks were
    //  handed back when that worker died.
    return proc->pid > 0 && proc->generation == generation? proc: NULL;
}

static void
s_on_results (supervisor_t *self, proc_t *proc, zmsg_t *zmsg)
{
    while (zmsg_size (zmsg) >= 2) {
        zframe_t *head = zmsg_pop (zmsg);
        pool_result_t result = { .data = zmsg_pop (zmsg) };
        worker_result_t wire;
        if (zframe_size (head) == sizeof wire) {
            memcpy (&wire, zframe_data (head), sizeof wire);
            void *key = (void *) (uintptr_t) wire.id;
            inflight_t *entry = zhashx_lookup (self->inflight, key);
            if (entry && entry->proc == proc->index + 1) {
                if (wire.status != POOL_PARTIAL) {
                    zhashx_delete (self->inflight, key);
                    proc->load--;
                    self->running--;
                }
                result.id = wire.id;
                result.status = (pool_status_t) wire.status;
                result.outputs = wire.outputs;
                result.started_us = wire.started_us;
                result.duration_us = wire.duration_us;
                self->on_result (self->arg, &result);
            }
        }
        zframe_destroy (&head);
        zframe_destroy (&result.data);
    }
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
        proc_t *proc = identity? s_proc_of (self, identity): NULL;
        char what = kind && zframe_size (kind) == 1? (char) zframe_data (kind)[0]: 0;
        if (proc && what == WORKER_HELLO) {
            proc->ready = true;
            log_debug ("worker %zu (pid %d) is ready", proc->index, (int) proc->pid);
        }
        else
        if (proc && what == WORKER_RESULTS)
            s_on_results (self, proc, zmsg);
        zframe_destroy (&identity);
        zframe_destroy (&kind);
        zmsg_destroy (&zmsg);
    }
}

static void
s_read_pool (supervisor_t *self)
{
    zsock_t *sock = pool_socket (self->pool);
    for (int budget = 10000; budget && (zsock_events (sock) & ZMQ_POLLIN); budget--) {
        pool_result_t result;
        if (pool_recv (self->pool, &result) != 0)
            return;
        if (result.status != POOL_PARTIAL)
            self->running--;
        self->on_result (self->arg, &result);
        zframe_destroy (&result.data);
    }
}

//  ---------------------------------------------------------------------
//  Public API

static int
s_open_endpoint (supervisor_t *self)
{
    const char *tmp = getenv ("TMPDIR");
    if (!tmp || !*tmp || strlen (tmp) > 60)
        tmp = "/tmp";
    snprintf (self->dir, sizeof self->dir, "%s/drover-agent-XXXXXX", tmp);
    if (!mkdtemp (self->dir)) {             //  mkdtemp makes it 0700
        log_error ("cannot create a private directory in %s: %s", tmp, strerror (errno));
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
    //  Prefetch per worker: a thread that finishes finds its next task
    //  there instead of waiting a round trip through the agent.  Measured
    //  with echo: T + T/4 capped P x T at ~25k tuples/s whatever the slots.
    self->capacity = self->threads * SUPERVISOR_PREFETCH;
    self->on_result = config->on_result;
    self->arg = config->arg;
    snprintf (self->log_level, sizeof self->log_level, "%s",
              config->log_level? config->log_level: "info");
    if (self->processes == 0) {
        self->registry = registry_new ();
        self->pool = self->registry? pool_new (self->threads, self->registry): NULL;
        if (!self->pool)
            supervisor_destroy (&self);
        return self;
    }
    if (config->exe)
        snprintf (self->exe, sizeof self->exe, "%s", config->exe);
    else {
        ssize_t len = readlink ("/proc/self/exe", self->exe, sizeof self->exe - 1);
        self->exe[len > 0? len: 0] = 0;
    }
    self->procs = calloc (self->processes, sizeof *self->procs);
    self->pids = calloc (self->processes, sizeof *self->pids);
    self->inflight = zhashx_new ();
    if (!self->exe[0] || !self->procs || !self->pids || !self->inflight
    ||  s_open_endpoint (self) != 0) {
        supervisor_destroy (&self);
        return NULL;
    }
    zhashx_set_key_duplicator (self->inflight, NULL);
    zhashx_set_key_destructor (self->inflight, NULL);
    zhashx_set_key_hasher (self->inflight, s_id_hash);
    zhashx_set_key_comparator (self->inflight, s_id_compare);
    zhashx_set_destructor (self->inflight, s_inflight_destroy);

    struct sigaction action = { .sa_handler = s_on_sigchld, .sa_flags = SA_RESTART | SA_NOCLDSTOP };
    sigemptyset (&action.sa_mask);
    sigaction (SIGCHLD, &action, NULL);
    int64_t now = zclock_mono ();
    self->next_reap = now + REAP_EVERY_MS;
    for (size_t i = 0; i < self->processes; i++) {
        self->procs[i].index = i;
        self->procs[i].backoff_ms = SUPERVISOR_RESTART_MIN_MS;
        s_spawn (self, &self->procs[i], now);
    }
    return self;
}

//  Ask each worker to quit, give them QUIT_WAIT_MS, then SIGKILL; reap all.
static void
s_stop_workers (supervisor_t *self)
{
    for (size_t i = 0; i < self->processes; i++) {
        proc_t *proc = &self->procs[i];
        if (proc->pid <= 0)
            continue;
        zmsg_t *zmsg = zmsg_new ();
        zmsg_addstr (zmsg, proc->identity);
        zmsg_addmem (zmsg, (char []) { WORKER_QUIT }, 1);
        if (zmsg_send (&zmsg, self->router) != 0) {
            zmsg_destroy (&zmsg);
            kill (proc->pid, SIGKILL);      //  never connected: nothing to finish
        }
    }
    int64_t until = zclock_mono () + QUIT_WAIT_MS;
    while (true) {
        size_t alive = 0;
        for (size_t i = 0; i < self->processes; i++) {
            proc_t *proc = &self->procs[i];
            if (proc->pid <= 0)
                continue;
            pid_t rc = waitpid (proc->pid, NULL, WNOHANG);
            if (rc == proc->pid || (rc < 0 && errno == ECHILD))
                proc->pid = 0;
            else
            if (zclock_mono () >= until) {
                log_warn ("worker %zu (pid %d) did not quit in %d ms: killing it", i,
                          (int) proc->pid, QUIT_WAIT_MS);
                kill (proc->pid, SIGKILL);
                waitpid (proc->pid, NULL, 0);
                proc->pid = 0;
            }
            else
                alive++;
        }
        if (!alive)
            break;
        zclock_sleep (5);
    }
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
    if (self->procs && self->router)
        s_stop_workers (self);
    zsock_destroy (&self->router);
    if (self->dir[0]) {
        char path[PATH_MAX + 16];
        snprintf (path, sizeof path, "%s/workers", self->dir);
        unlink (path);
        rmdir (self->dir);
    }
    zhashx_destroy (&self->inflight);
    free (self->procs);
    free (self->pids);
    free (self->queue);
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
    if (self->queued + count > self->queue_cap) {
        size_t cap = self->queue_cap? self->queue_cap: 64;
        while (cap < self->queued + count)
            cap *= 2;
        pool_task_t *ring = malloc (cap * sizeof *ring);
        if (!ring)
            return -ENOMEM;
        for (size_t i = 0; i < self->queued; i++)
            ring[i] = self->queue[(self->queue_head + i) % self->queue_cap];
        free (self->queue);
        self->queue = ring;
        self->queue_cap = cap;
        self->queue_head = 0;
    }
    for (size_t i = 0; i < count; i++)
        self->queue[(self->queue_head + self->queued + i) % self->queue_cap] = tasks[i];
    self->queued += count;
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
        return;
    }
    //  Read first: results a worker sent just before it died still count.
    s_read (self);
    if (s_child_exited || now >= self->next_reap)
        s_reap (self, now);
    for (size_t i = 0; i < self->processes; i++)
        if (self->procs[i].pid == 0 && now >= self->procs[i].restart_at)
            s_spawn (self, &self->procs[i], now);
    s_dispatch (self);
}

int64_t
supervisor_next_timer (supervisor_t *self)
{
    if (self->pool)
        return INT64_MAX;
    int64_t next = s_child_exited? 0: self->next_reap;
    for (size_t i = 0; i < self->processes; i++)
        if (self->procs[i].pid == 0 && self->procs[i].restart_at < next)
            next = self->procs[i].restart_at;
    return next;
}

size_t
supervisor_drop_waiting (supervisor_t *self)
{
    if (self->pool)
        return pool_drop_waiting (self->pool);
    size_t count = self->queued;
    while (self->queued) {
        uint64_t id = self->queue[self->queue_head].id;
        self->queue_head = (self->queue_head + 1) % self->queue_cap;
        self->queued--;
        s_result (self, id, POOL_DROPPED, NULL);
    }
    for (size_t i = 0; i < self->processes; i++) {
        proc_t *proc = &self->procs[i];
        if (!proc->ready || proc->load <= self->threads)
            continue;
        //  Its threads keep what they are free for (pool_drop_waiting).
        count += proc->load - self->threads;
        zmsg_t *zmsg = zmsg_new ();
        zmsg_addstr (zmsg, proc->identity);
        zmsg_addmem (zmsg, (char []) { WORKER_DROP }, 1);
        if (zmsg_send (&zmsg, self->router) != 0)
            zmsg_destroy (&zmsg);
    }
    return count;
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
    *count_p = self->processes;
    return self->pids;
}
