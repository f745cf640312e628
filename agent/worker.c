//  worker.c -- a worker process; see worker.h.  One reactor: tasks from the
//  supervisor go to the pool in whole batches (agent/link.h), and every
//  result the pool has ready goes back in one message per turn.  Signals are the supervisor's:
//  a terminal's Ctrl-C reaches the whole process group, and the supervisor
//  decides what draining means, so SIGINT and SIGTERM are ignored here.
#include "agent/worker.h"
#include "agent/link.h"
#include "agent/pool.h"
#include "agent/registry.h"
#include "common/log.h"

#include <czmq.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

typedef struct {
    zsock_t *dealer;
    registry_t *registry;       //  this process's handlers, run by the pool
    pool_t *pool;
    pool_results_t results;     //  this turn's, for one 'R' message
    int64_t flush_at;           //  when the pool's results are due (zclock_mono)
    bool quit;
    bool failed;                //  quit for want of memory: exit status 1
} worker_t;

//  'T': a batch of tasks, decoded where it lies (agent/link.h) and queued
//  on the pool whole.  A malformed batch is a bug in this binary, not
//  input from the network: it is logged and skipped.
static void
s_on_tasks (worker_t *self, zmsg_t **zmsg_p)
{
    size_t count = 0;
    link_tasks_t *batch = link_tasks_decode (zmsg_p, &count);
    if (!batch)
        return;
    if (count && pool_submit (self->pool, link_tasks (batch), count) == 0)
        return;
    if (count) {
        //  The supervisor learns of them when this worker exits: better
        //  than holding tuples nobody runs.
        log_error ("worker out of memory: exiting so that %zu tuples are retried", count);
        self->quit = true;
        self->failed = true;
    }
    link_tasks_destroy (&batch);
}

typedef struct {
    const uint64_t *ids;        //  the supervisor's, sorted
    size_t count;
} stop_set_t;

//  pool_match_fn: the pool names tasks by link handles.
static bool
s_in_stop_set (void *arg, uint64_t handle)
{
    const stop_set_t *set = arg;
    return link_ids_has (set->ids, set->count, link_task_id (handle));
}

//  'C': stop these tasks, running or waiting here (their job was cancelled).
static void
s_on_cancel (worker_t *self, zmsg_t *zmsg)
{
    stop_set_t set = { NULL, 0 };
    uint64_t *ids = link_cancel_ids (zmsg_first (zmsg), &set.count);
    if (!ids) {
        log_error ("worker: malformed or unaffordable list of tuples to stop");
        return;
    }
    set.ids = ids;
    size_t stopped = pool_cancel_where (self->pool, s_in_stop_set, &set);
    log_debug ("worker: stopping %zu of %zu tuples asked", stopped, set.count);
    free (ids);
}

static void
s_read_supervisor (worker_t *self)
{
    for (int budget = 1000; budget && (zsock_events (self->dealer) & ZMQ_POLLIN); budget--) {
        zmsg_t *zmsg = zmsg_recv (self->dealer);
        if (!zmsg)
            return;
        zframe_t *kind = zmsg_pop (zmsg);
        char what = kind && zframe_size (kind) == 1? (char) zframe_data (kind)[0]: 0;
        zframe_destroy (&kind);
        if (what == WORKER_TASKS)
            s_on_tasks (self, &zmsg);
        else
        if (what == WORKER_DROP)
            pool_drop_waiting (self->pool);
        else
        if (what == WORKER_CANCEL)
            s_on_cancel (self, zmsg);
        else
        if (what == WORKER_QUIT)
            self->quit = true;
        zmsg_destroy (&zmsg);
    }
}

//  The pool's results once due, in one message, named as the supervisor
//  named the tasks.
static void
s_read_pool (worker_t *self)
{
    if (!pool_take_due (self->pool, &self->results, &self->flush_at))
        return;
    uint8_t *at = self->results.data, *end = at + self->results.size;
    pool_record_t head;
    const void *data;
    while (pool_results_next ((const uint8_t **) &at, end, &head, &data)) {
        uint8_t *record = (uint8_t *) data - sizeof head;
        head.id = link_task_done (head.id, head.status != POOL_PARTIAL);
        memcpy (record, &head, sizeof head);
    }
    if (link_send_results (&self->results, self->dealer))
        log_error ("worker: cannot send results to the supervisor");
}

//  Take the results ready and free their tasks, sending nothing.
static void
s_forget_results (worker_t *self)
{
    self->results.size = 0;
    if (!pool_take (self->pool, &self->results))
        return;
    const uint8_t *at = self->results.data, *end = at + self->results.size;
    pool_record_t head;
    const void *data;
    while (pool_results_next (&at, end, &head, &data))
        link_task_done (head.id, head.status != POOL_PARTIAL);
    self->results.size = 0;
}

//  Cancel what runs, drop what waits, and free every task's frames as its
//  result comes back (bounded: cancelled handlers return promptly).
static void
s_stop_pool (worker_t *self)
{
    pool_cancel (self->pool);
    pool_drop_queued (self->pool);
    zsock_t *sock = pool_socket (self->pool);
    zpoller_t *poller = zpoller_new (sock, NULL);
    int64_t until = zclock_mono () + 2000;
    while (poller && zclock_mono () < until
       && (pool_running (self->pool) || (zsock_events (sock) & ZMQ_POLLIN))) {
        if (!(zsock_events (sock) & ZMQ_POLLIN)) {
            zpoller_wait (poller, 50);
            continue;
        }
        s_forget_results (self);
    }
    //  A thread posts its last result before it wakes us.
    s_forget_results (self);
    zpoller_destroy (&poller);
    pool_destroy (&self->pool);
}

int
worker_main (const char *endpoint, const char *identity, size_t threads, pid_t parent)
{
    //  The supervisor set this before exec too; setting it again costs
    //  nothing, and the parent check closes the race where the supervisor
    //  died before the setting took effect.
    prctl (PR_SET_PDEATHSIG, SIGKILL);
    if (parent > 0 && getppid () != parent)
        return 1;
    signal (SIGINT, SIG_IGN);
    signal (SIGTERM, SIG_IGN);
    zsys_handler_set (NULL);

    worker_t self = { 0 };
    self.registry = registry_new ();
    self.pool = self.registry? pool_new (threads, self.registry): NULL;
    self.dealer = zsock_new (ZMQ_DEALER);
    if (!self.pool || !self.dealer) {
        log_error ("worker %s: cannot start %zu handler threads", identity, threads);
        pool_destroy (&self.pool);
        registry_destroy (&self.registry);
        zsock_destroy (&self.dealer);
        return 1;
    }
    zsock_set_identity (self.dealer, identity);
    zsock_set_sndhwm (self.dealer, 0);
    zsock_set_rcvhwm (self.dealer, 0);
    zsock_set_linger (self.dealer, 1000);
    int rc = 0;
    if (zsock_connect (self.dealer, "%s", endpoint) != 0) {
        log_error ("worker %s: cannot connect to %s", identity, endpoint);
        rc = 1;
    }
    else {
        zstr_send (self.dealer, (char []) { WORKER_HELLO, 0 });
        zpoller_t *poller = zpoller_new (self.dealer, pool_socket (self.pool), NULL);
        zpoller_set_nonstop (poller, true);
        int64_t nudge = INT64_MAX;
        self.flush_at = INT64_MAX;
        while (!self.quit && getppid () == parent) {
            int64_t next = nudge < self.flush_at? nudge: self.flush_at;
            int64_t wait = next - zclock_mono ();
            zpoller_wait (poller, wait < 0? 0: wait < 1000? (int) wait: 1000);
            s_read_supervisor (&self);
            s_read_pool (&self);
            nudge = pool_nudge (self.pool, zclock_mono ());
            int64_t overdue = pool_overdue (self.pool, zclock_mono ());
            if (overdue > WORKER_OVERDUE_MS) {
                //  A handler that ignores its deadline (and the cancel fd)
                //  cannot be stopped in its thread: end the process, so
                //  the supervisor hands its tuples back and starts anew.
                //  _exit: atexit handlers could wait on the stuck thread.
                log_error ("a handler is %lld ms past its deadline: worker exits "
                           "(status %d) to stop it", (long long) overdue, WORKER_OVERDUE_EXIT);
                _exit (WORKER_OVERDUE_EXIT);
            }
        }
        zpoller_destroy (&poller);
    }
    s_stop_pool (&self);
    registry_destroy (&self.registry);
    zsock_destroy (&self.dealer);
    pool_results_free (&self.results);
    return self.failed? 1: rc;
}
