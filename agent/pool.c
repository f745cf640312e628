//  pool.c -- handler threads behind a mutex/condvar queue; see pool.h.
//  Tasks go in under the lock; results are packed into a buffer under the
//  same lock (agent/done.h), and the thread that makes it non-empty sends
//  an empty message over inproc PUSH/PULL so that the caller's reactor wakes.
//  Tasks wait in agent/waiting.h, a ring that grows and is reused, and the
//  buffers grow and are reused too, so steady running costs no allocation
//  per task here.
//
//  Not every idle thread is woken for new tasks: as many as the queued
//  work needs at the measured handler time (s_wake_locked), so that fast
//  handlers (echo: a microsecond) run on one or two threads instead of
//  waking all T for a few tasks each, which cost a worker ~0.2 context
//  switches per tuple.  A thread that takes a task wakes another if the
//  queue still needs one; and if no task was taken for POOL_NUDGE_MS while
//  some wait and every awake thread is busy (they hit slow tuples),
//  pool_nudge wakes as many more as the queue needs.  Not when an awake
//  thread has yet to take its tasks: then the CPU is short, not a thread,
//  and a herd of woken threads only fought over it and the lock (a third
//  of a worker's wake-ups on 2 loaded cores).
//
//  Fast tasks (as measured) are taken a batch at a time, each thread its
//  share of the queue up to TAKEN_MAX, and their results posted together:
//  one lock round trip and one clock reading per task at most, where one
//  task at a time cost an echo tuple two lock round trips (contended by
//  the other threads), five clock readings, and futex sleeps and wake-ups.
//  A task that turns out slow hands the rest of its batch back.
//
//  Stopping: each thread has its own eventfd and flag, the call's cancel fd
//  and flag (agent/handler.h), so that one task can be stopped
//  (pool_cancel_where, which also marks the tasks a thread took and has not
//  started: agent/taken.h) without the others; pool_cancel sets them all
//  and leaves them set.
#include "agent/pool.h"
#include "agent/done.h"
#include "agent/registry.h"
#include "agent/taken.h"
#include "agent/waiting.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

//  A thread takes a batch of tasks at once when they have been fast (up to
//  TAKEN_MAX, at most POOL_SLICE_US / 4 of work), so that an echo tuple
//  costs no lock round trip of its own (agent/taken.h).
typedef struct {
    pool_t *pool;
    pthread_t thread;
    bool started;
    taken_t *taken;
} worker_t;

//  A running thread, for taken_run's hooks.
typedef struct {
    worker_t *worker;
    zsock_t *push;              //  wakes the pool's reactor
} thread_t;

struct pool {
    pthread_mutex_t lock;
    pthread_cond_t ready;       //  a task was queued, or stopping
    waiting_t *queue;           //  queued tasks, oldest first
    size_t running;
    bool stopping;
    size_t waiting;             //  threads waiting for a task
    size_t signalled;           //  of them, woken and not yet running
    size_t busy;                //  threads between a take and its finish
    double task_us;             //  handler time per task, a moving average
    bool measured;              //  task_us means something
    int64_t last_take;          //  when a thread last took a task (zclock_mono)
    atomic_bool cancelled;      //  pool_cancel: every task stops, now and later
    done_t *done;               //  results not yet taken, under the lock
    pool_results_t taken;       //  pool_recv's: taken, not yet returned
    size_t taken_at;
    char endpoint[64];
    zsock_t *results;           //  PULL: wake-ups from every thread
    zsock_t *notify;            //  PUSH: wake-ups from the caller (dropped tasks)
    size_t threads;
    worker_t *workers;
    registry_t *registry;       //  the handlers, borrowed
};

static uint64_t
s_now_us (clockid_t clock)
{
    struct timespec ts;
    clock_gettime (clock, &ts);
    return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

//  Queue one result, the lock held; urgent: it goes at once.  True if the
//  caller must wake the reactor (s_wake) once it has let go of the lock.
static bool
s_post_locked (pool_t *self, const pool_record_t *head, const void *data, size_t size,
               bool urgent, uint64_t now_us)
{
    return done_post (self->done, head, data, size, urgent,
                      waiting_count (self->queue) + self->running, now_us);
}

//  Never blocks: the sockets have no high-water mark, and wake-ups are
//  bounded by the takes.
static void
s_wake (zsock_t *sock)
{
    zmq_send (zsock_resolve (sock), "", 0, 0);
}

static void
s_post (pool_t *self, zsock_t *push, const pool_record_t *head, const void *data, size_t size)
{
    pthread_mutex_lock (&self->lock);
    bool wake = s_post_locked (self, head, data, size, true, s_now_us (CLOCK_MONOTONIC));
    pthread_mutex_unlock (&self->lock);
    if (wake)
        s_wake (push);
}

//  Threads the queued tasks need, the lock held: enough that each gets
//  about POOL_SLICE_US of work; all of them before anything was measured.
static size_t
s_wanted_locked (pool_t *self)
{
    size_t queued = waiting_count (self->queue);
    if (!queued)
        return 0;
    if (!self->measured)
        return self->threads;
    double wanted = (double) queued * self->task_us / POOL_SLICE_US + 1;
    return wanted < (double) self->threads? (size_t) wanted: self->threads;
}

//  Wake count more waiting threads (all if that is as many), the lock
//  held.  Those woken count as awake at once, so that the next call does
//  not wake others for the same tasks before they run.
static void
s_signal_locked (pool_t *self, size_t count)
{
    size_t sleeping = self->waiting - self->signalled;
    if (count == 0 || sleeping == 0)
        return;
    if (count >= sleeping) {
        pthread_cond_broadcast (&self->ready);
        self->signalled = self->waiting;
        return;
    }
    self->signalled += count;
    while (count--)
        pthread_cond_signal (&self->ready);
}

//  Wake waiting threads up to what the queue needs, the lock held.
static void
s_wake_locked (pool_t *self)
{
    size_t awake = self->threads - self->waiting + self->signalled;
    size_t wanted = s_wanted_locked (self);
    s_signal_locked (self, wanted > awake? wanted - awake: 0);
}

//  Wait for a task, the lock held.  False when the pool stops; *waited is
//  set if the thread slept (its clock reading is old then).
static bool
s_wait_locked (pool_t *self, bool *waited)
{
    while (!self->stopping && !waiting_count (self->queue)) {
        *waited = true;
        self->waiting++;
        pthread_cond_wait (&self->ready, &self->lock);
        self->waiting--;
        if (self->signalled)
            self->signalled--;
    }
    return !self->stopping;
}

//  How many tasks a thread takes at once, the lock held: one unless they
//  have been fast, and no more than its share of the queue were every
//  thread awake (a few tasks are never batched: they may be slow ones).
static size_t
s_batch_size_locked (pool_t *self)
{
    size_t queued = waiting_count (self->queue);
    if (!self->measured || self->task_us * TAKEN_MAX * 4 > POOL_SLICE_US)
        return 1;
    size_t share = queued / self->threads;
    return share < 1? 1: share > TAKEN_MAX? TAKEN_MAX: share;
}

//  Take the thread's next batch at now_us, the lock held.
static void
s_take_locked (pool_t *self, worker_t *worker, uint64_t now_us)
{
    taken_fill (worker->taken, self->queue, s_batch_size_locked (self));
    self->running += taken_size (worker->taken);
    self->busy++;
    self->last_take = (int64_t) (now_us / 1000);
    if (waiting_count (self->queue) && self->waiting)
        s_wake_locked (self);
}

//  A task taken out of the queue comes back as status, at once (the lock
//  held; waiting_fn).
typedef struct {
    pool_t *pool;
    pool_status_t status;
    bool wake;                  //  s_post_locked said to wake the reactor
} given_back_t;

static void
s_give_back (void *arg, const pool_task_t *task)
{
    given_back_t *back = arg;
    pool_record_t head = { .id = task->id, .status = back->status };
    back->wake |= s_post_locked (back->pool, &head, NULL, 0, true, s_now_us (CLOCK_MONOTONIC));
}

//  The task before from was slow: the batch's tasks after it go back to
//  the front of the queue for other threads (those marked are answered),
//  so that fast tasks that turned slow wait behind one slow task at most.
static void
s_give_back_rest (worker_t *worker, zsock_t *push, size_t from)
{
    pool_t *self = worker->pool;
    pthread_mutex_lock (&self->lock);
    given_back_t back = { self, POOL_CANCELLED, false };
    self->running -= taken_give_back (worker->taken, from, self->queue, s_give_back, &back);
    s_wake_locked (self);
    pthread_mutex_unlock (&self->lock);
    if (back.wake)
        s_wake (push);
}

//  taken_hooks_t: an output before a task's last goes at once.
static void
s_partial (void *arg, const pool_record_t *head, const void *data, size_t size)
{
    thread_t *thread = arg;
    s_post (thread->worker->pool, thread->push, head, data, size);
}

//  taken_hooks_t: the task before from was slow.
static void
s_slow (void *arg, size_t from)
{
    thread_t *thread = arg;
    s_give_back_rest (thread->worker, thread->push, from);
}

//  The thread's batch is over, the lock held: count it and post its
//  results.  True if the reactor must be woken once the lock is let go.
static bool
s_finish_locked (pool_t *self, worker_t *worker, const taken_result_t *ran,
                 const msgpack_sbuffer *output, uint64_t now_us)
{
    bool wake = false;
    size_t count = taken_size (worker->taken);
    taken_clear (worker->taken);
    self->running -= count;
    self->busy--;
    for (size_t i = 0; i < count; i++) {
        const pool_record_t *wire = &ran[i].wire;
        if (wire->started_us) {
            //  Slowness counts at once (1/8 per task), speed over a few dozen.
            double us = (double) wire->duration_us;
            self->task_us = self->measured? self->task_us + (us - self->task_us) / 8: us;
            self->measured = true;
        }
        wake |= s_post_locked (self, wire, output->data + ran[i].at, ran[i].size, false, now_us);
    }
    return wake;
}

//  A handler thread: one lock round trip a batch (the end of one and the
//  start of the next share it), and the wake-up a result asks for is sent
//  with the lock let go, before the thread runs its next batch or sleeps.
static void *
s_worker (void *arg)
{
    worker_t *worker = arg;
    pool_t *self = worker->pool;
    zsock_t *push = zsock_new (ZMQ_PUSH);
    if (push) {
        zsock_set_sndhwm (push, 0);
        if (zsock_connect (push, "%s", self->endpoint))
            zsock_destroy (&push);
    }
    msgpack_sbuffer output;
    msgpack_sbuffer_init (&output);
    msgpack_zone zone;
    msgpack_zone_init (&zone, 4096);
    taken_result_t ran[TAKEN_MAX];
    thread_t thread = { worker, push };
    taken_hooks_t hooks = { s_partial, s_slow, &thread };

    bool wake = false;
    uint64_t now_us = s_now_us (CLOCK_MONOTONIC);
    pthread_mutex_lock (&self->lock);
    while (push) {
        bool waited = false;
        if (wake && !waiting_count (self->queue)) {
            pthread_mutex_unlock (&self->lock);
            s_wake (push);
            wake = false;
            pthread_mutex_lock (&self->lock);
        }
        if (!s_wait_locked (self, &waited))
            break;
        if (waited)
            now_us = s_now_us (CLOCK_MONOTONIC);
        s_take_locked (self, worker, now_us);
        pthread_mutex_unlock (&self->lock);
        if (wake)
            s_wake (push);
        now_us = taken_run (worker->taken, self->registry, &output, &zone, ran,
                            &self->cancelled, POOL_SLICE_US / 4, &hooks);
        pthread_mutex_lock (&self->lock);
        wake = s_finish_locked (self, worker, ran, &output, now_us);
        if (output.alloc > 1024 * 1024) {
            //  One huge output should not pin its buffer for the thread's life.
            msgpack_sbuffer_destroy (&output);
            msgpack_sbuffer_init (&output);
        }
    }
    pthread_mutex_unlock (&self->lock);
    if (wake)
        s_wake (push);
    msgpack_zone_destroy (&zone);
    msgpack_sbuffer_destroy (&output);
    zsock_destroy (&push);
    return NULL;
}

pool_t *
pool_new (size_t threads, registry_t *registry)
{
    pool_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->threads = threads? threads: 1;
    self->registry = registry;
    pthread_mutex_init (&self->lock, NULL);
    pthread_cond_init (&self->ready, NULL);
    snprintf (self->endpoint, sizeof self->endpoint, "inproc://drover-pool-%p", (void *) self);
    self->results = zsock_new (ZMQ_PULL);
    self->notify = zsock_new (ZMQ_PUSH);
    self->queue = waiting_new ();
    self->done = done_new ();
    self->workers = calloc (self->threads, sizeof (worker_t));
    if (!self->results || !self->notify || !self->queue || !self->done
    ||  !self->workers)
        goto failed;
    for (size_t i = 0; i < self->threads; i++)
        if (!(self->workers[i].taken = taken_new ()))
            goto failed;
    zsock_set_rcvhwm (self->results, 0);
    zsock_set_sndhwm (self->notify, 0);
    if (zsock_bind (self->results, "%s", self->endpoint) != 0
    ||  zsock_connect (self->notify, "%s", self->endpoint) != 0)
        goto failed;

    //  Signals belong to the agent's main thread (zsys_interrupted), so the
    //  threads start with SIGINT and SIGTERM blocked.
    sigset_t block, saved;
    sigemptyset (&block);
    sigaddset (&block, SIGINT);
    sigaddset (&block, SIGTERM);
    pthread_sigmask (SIG_BLOCK, &block, &saved);
    for (size_t i = 0; i < self->threads; i++) {
        self->workers[i].pool = self;
        self->workers[i].started =
            pthread_create (&self->workers[i].thread, NULL, s_worker, &self->workers[i]) == 0;
        if (!self->workers[i].started)
            break;
    }
    pthread_sigmask (SIG_SETMASK, &saved, NULL);
    if (!self->workers[self->threads - 1].started)
        goto failed;
    return self;

failed:
    pool_destroy (&self);
    return NULL;
}

void
pool_destroy (pool_t **self_p)
{
    pool_t *self = *self_p;
    if (!self)
        return;
    pthread_mutex_lock (&self->lock);
    self->stopping = true;
    pthread_cond_broadcast (&self->ready);
    pthread_mutex_unlock (&self->lock);
    for (size_t i = 0; self->workers && i < self->threads; i++) {
        if (self->workers[i].started)
            pthread_join (self->workers[i].thread, NULL);
        taken_destroy (&self->workers[i].taken);
    }
    waiting_destroy (&self->queue);
    done_destroy (&self->done);
    pool_results_free (&self->taken);
    free (self->workers);
    zsock_destroy (&self->notify);
    zsock_destroy (&self->results);
    pthread_cond_destroy (&self->ready);
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}

int
pool_submit (pool_t *self, const pool_task_t *tasks, size_t count)
{
    if (!count)
        return 0;
    pthread_mutex_lock (&self->lock);
    if (waiting_push (self->queue, tasks, count)) {
        pthread_mutex_unlock (&self->lock);
        return -ENOMEM;
    }
    s_wake_locked (self);
    pthread_mutex_unlock (&self->lock);
    return 0;
}

int64_t
pool_nudge (pool_t *self, int64_t now)
{
    pthread_mutex_lock (&self->lock);
    int64_t next = INT64_MAX;
    if (waiting_count (self->queue) && self->waiting > self->signalled) {
        //  A thread awake and not busy has yet to run (the CPU is short, no
        //  task is slow): waking more would only crowd it.
        bool stuck = self->threads - self->waiting + self->signalled == self->busy;
        if (now - self->last_take >= POOL_NUDGE_MS) {
            //  The busy threads count for nothing: the queue gets its own.
            if (stuck)
                s_signal_locked (self, s_wanted_locked (self));
            //  Counted as a take: the woken threads' own takes come next.
            self->last_take = now;
        }
        next = self->last_take + POOL_NUDGE_MS;
    }
    pthread_mutex_unlock (&self->lock);
    return next;
}

zsock_t *
pool_socket (pool_t *self)
{
    return self->results;
}

//  Take the results ready (all, or only if due) into results; if none
//  were taken, when to look again in *next_ms (zclock_mono; INT64_MAX: when
//  woken).  Returns how many.
static size_t
s_take (pool_t *self, pool_results_t *results, bool all, int64_t *next_ms)
{
    //  Wake-ups first, then the results: one posted after this take
    //  finds woken false and wakes us again.
    void *handle = zsock_resolve (self->results);
    char byte;
    while (zmq_recv (handle, &byte, 1, ZMQ_DONTWAIT) >= 0)
        ;
    pthread_mutex_lock (&self->lock);
    size_t held = waiting_count (self->queue) + self->running;
    size_t count = done_take (self->done, results, all, held, s_now_us (CLOCK_MONOTONIC), next_ms);
    pthread_mutex_unlock (&self->lock);
    return count;
}

size_t
pool_take (pool_t *self, pool_results_t *results)
{
    int64_t next;
    return s_take (self, results, true, &next);
}

size_t
pool_take_due (pool_t *self, pool_results_t *results, int64_t *next_ms)
{
    return s_take (self, results, false, next_ms);
}

int
pool_recv (pool_t *self, pool_result_t *result, int timeout_ms)
{
    memset (result, 0, sizeof *result);
    int64_t until = timeout_ms < 0? INT64_MAX: zclock_mono () + timeout_ms;
    while (self->taken_at >= self->taken.size) {
        self->taken.size = self->taken_at = 0;
        if (pool_take (self, &self->taken))
            break;
        int64_t now = zclock_mono ();
        int64_t left = until - now;
        if (left <= 0)
            return -1;
        int64_t nudge = pool_nudge (self, now) - now;
        left = nudge < left? nudge: left;
        zmq_pollitem_t item = { zsock_resolve (self->results), 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, left > 1000? 1000: (long) left) < 0)
            return -1;
    }
    const uint8_t *at = self->taken.data + self->taken_at;
    pool_record_t head;
    const void *data;
    if (!pool_results_next (&at, self->taken.data + self->taken.size, &head, &data))
        return -1;
    self->taken_at = (size_t) (at - self->taken.data);
    result->id = head.id;
    result->status = (pool_status_t) head.status;
    result->outputs = head.outputs;
    result->started_us = head.started_us;
    result->duration_us = head.duration_us;
    result->data = zframe_new (data, head.size);
    return result->data? 0: -1;
}

//  Give back the queued tasks after the first keep (all if keep_idle is
//  false; else as many as threads are idle, counted under the same lock so
//  none takes a task meanwhile) as POOL_DROPPED.  Returns how many.
static size_t
s_drop (pool_t *self, bool keep_idle)
{
    pthread_mutex_lock (&self->lock);
    size_t keep = keep_idle? self->threads - self->running: 0;
    given_back_t back = { self, POOL_DROPPED, false };
    size_t count = waiting_remove_after (self->queue, keep, s_give_back, &back);
    bool wake = back.wake;
    pthread_mutex_unlock (&self->lock);
    if (wake)
        s_wake (self->notify);
    return count;
}

size_t
pool_drop_queued (pool_t *self)
{
    return s_drop (self, false);
}

size_t
pool_drop_waiting (pool_t *self)
{
    return s_drop (self, true);
}

void
pool_cancel (pool_t *self)
{
    pthread_mutex_lock (&self->lock);
    atomic_store (&self->cancelled, true);
    for (size_t i = 0; i < self->threads; i++)
        taken_stop (self->workers[i].taken);
    pthread_mutex_unlock (&self->lock);
}

size_t
pool_cancel_where (pool_t *self, pool_match_fn *match, void *arg)
{
    size_t count = 0;
    bool wake = false;
    pthread_mutex_lock (&self->lock);
    //  Not started: out of the queue, answered at once.
    given_back_t back = { self, POOL_CANCELLED, false };
    count += waiting_remove_where (self->queue, match, arg, s_give_back, &back);
    wake |= back.wake;
    //  Taken by a thread: marked, so that it never starts, or (running)
    //  told to stop; they answer when their batch is over.
    for (size_t i = 0; i < self->threads; i++)
        count += taken_cancel_where (self->workers[i].taken, match, arg);
    pthread_mutex_unlock (&self->lock);
    if (wake)
        s_wake (self->notify);
    return count;
}

int64_t
pool_overdue (pool_t *self, int64_t now)
{
    int64_t most = 0;
    pthread_mutex_lock (&self->lock);
    for (size_t i = 0; i < self->threads; i++) {
        int64_t deadline = taken_deadline (self->workers[i].taken);
        if (deadline && now - deadline > most)
            most = now - deadline;
    }
    pthread_mutex_unlock (&self->lock);
    return most;
}

size_t
pool_threads (pool_t *self)
{
    return self->threads;
}

size_t
pool_running (pool_t *self)
{
    pthread_mutex_lock (&self->lock);
    size_t running = self->running;
    pthread_mutex_unlock (&self->lock);
    return running;
}

size_t
pool_queued (pool_t *self)
{
    pthread_mutex_lock (&self->lock);
    size_t queued = waiting_count (self->queue);
    pthread_mutex_unlock (&self->lock);
    return queued;
}
