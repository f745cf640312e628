//  worker.c -- a worker process; see worker.h.  One reactor: tasks from the
//  supervisor go to the pool in whole batches, and every result the pool has
//  ready goes back in one message per turn.  Signals are the supervisor's:
//  a terminal's Ctrl-C reaches the whole process group, and the supervisor
//  decides what draining means, so SIGINT and SIGTERM are ignored here.
#include "agent/worker.h"
#include "agent/pool.h"
#include "agent/registry.h"
#include "common/log.h"

#include <czmq.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

//  A task while it is on the pool: its frames hold what pool_task_t borrows.
typedef struct {
    uint64_t id;
    zframe_t *head;
    zframe_t *tuple;
} item_t;

typedef struct {
    zsock_t *dealer;
    registry_t *registry;       //  this process's handlers, run by the pool
    pool_t *pool;
    pool_task_t *submit;
    size_t submit_cap;
    bool quit;
    bool failed;                //  quit for want of memory: exit status 1
} worker_t;

static void
s_item_destroy (item_t **item_p)
{
    item_t *item = *item_p;
    if (!item)
        return;
    zframe_destroy (&item->head);
    zframe_destroy (&item->tuple);
    free (item);
    *item_p = NULL;
}

//  'T': frames in pairs after the kind frame.  A malformed pair is a bug in
//  this binary, not input from the network: it is logged and skipped.
static void
s_on_tasks (worker_t *self, zmsg_t *zmsg)
{
    size_t pairs = (zmsg_size (zmsg)) / 2;
    if (pairs > self->submit_cap) {
        pool_task_t *more = realloc (self->submit, pairs * sizeof *more);
        if (!more) {
            log_error ("worker out of memory for %zu tasks", pairs);
            return;
        }
        self->submit = more;
        self->submit_cap = pairs;
    }
    size_t count = 0;
    while (zmsg_size (zmsg) >= 2) {
        item_t *item = calloc (1, sizeof *item);
        if (!item)
            break;
        item->head = zmsg_pop (zmsg);
        item->tuple = zmsg_pop (zmsg);
        worker_task_t head;
        size_t size = zframe_size (item->head);
        const char *data = (const char *) zframe_data (item->head);
        if (size < sizeof head) {
            s_item_destroy (&item);
            continue;
        }
        memcpy (&head, data, sizeof head);
        if ((uint64_t) sizeof head + head.handler_size + head.options_size != size
        ||  head.handler_size == 0 || data[sizeof head + head.handler_size - 1]) {
            log_error ("worker: malformed task from the supervisor");
            s_item_destroy (&item);
            continue;
        }
        item->id = head.id;
        self->submit[count++] = (pool_task_t) {
            .id = (uint64_t) (uintptr_t) item,
            .handler = data + sizeof head,
            .tuple = zframe_data (item->tuple), .tuple_size = zframe_size (item->tuple),
            .options = head.options_size? data + sizeof head + head.handler_size: NULL,
            .options_size = head.options_size,
            .timeout_ms = head.timeout_ms };
    }
    if (pool_submit (self->pool, self->submit, count) != 0) {
        //  The supervisor learns of them when this worker exits: better
        //  than holding tuples nobody runs.
        log_error ("worker out of memory: exiting so that %zu tuples are retried", count);
        for (size_t i = 0; i < count; i++) {
            item_t *item = (item_t *) (uintptr_t) self->submit[i].id;
            s_item_destroy (&item);
        }
        self->quit = true;
        self->failed = true;
    }
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
            s_on_tasks (self, zmsg);
        else
        if (what == WORKER_DROP)
            pool_drop_waiting (self->pool);
        else
        if (what == WORKER_QUIT)
            self->quit = true;
        zmsg_destroy (&zmsg);
    }
}

//  Every result the pool has ready, in messages of up to WORKER_BATCH_MAX.
static void
s_read_pool (worker_t *self)
{
    zsock_t *sock = pool_socket (self->pool);
    while (zsock_events (sock) & ZMQ_POLLIN) {
        zmsg_t *out = zmsg_new ();
        zmsg_addmem (out, (char []) { WORKER_RESULTS }, 1);
        size_t count = 0;
        while (count < WORKER_BATCH_MAX && (zsock_events (sock) & ZMQ_POLLIN)) {
            pool_result_t result;
            if (pool_recv (self->pool, &result) != 0)
                break;
            item_t *item = (item_t *) (uintptr_t) result.id;
            worker_result_t wire = {
                .id = item->id, .started_us = result.started_us,
                .duration_us = result.duration_us, .status = result.status,
                .outputs = result.outputs };
            zmsg_addmem (out, &wire, sizeof wire);
            zmsg_append (out, &result.data);
            if (result.status != POOL_PARTIAL)
                s_item_destroy (&item);
            count++;
        }
        if (count == 0 || zmsg_send (&out, self->dealer) != 0)
            zmsg_destroy (&out);
        if (count == 0)
            break;
    }
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
        pool_result_t result;
        if (pool_recv (self->pool, &result) != 0)
            continue;
        item_t *item = (item_t *) (uintptr_t) result.id;
        if (result.status != POOL_PARTIAL)
            s_item_destroy (&item);
        zframe_destroy (&result.data);
    }
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
        while (!self.quit && getppid () == parent) {
            zpoller_wait (poller, 1000);
            s_read_supervisor (&self);
            s_read_pool (&self);
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
    free (self.submit);
    return self.failed? 1: rc;
}
