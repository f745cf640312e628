//  taken.c -- see taken.h.  The order that makes marking safe without the
//  pool's lock on the thread's side: taken_cancel_where sets a mark before
//  it reads current, and raises stop after; the thread sets current before
//  it clears stop and reads the mark after.  Either the mark is seen before
//  the task starts, or the stop comes after the clear and reaches the
//  handler.
#include "agent/taken.h"

#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct taken {
    pool_task_t tasks[TAKEN_MAX];       //  written under the pool's lock
    size_t size;                        //  0: none (under the pool's lock)
    atomic_size_t current;              //  the task it runs or starts next
    atomic_bool marked[TAKEN_MAX];      //  pool_cancel_where asked to stop it
    _Atomic int64_t deadline;           //  of the running task; 0 = none
    atomic_bool stop;                   //  the handler call's flag: stop now
    int stop_fd;                        //  ... and fd: an eventfd, readable while stop
};

taken_t *
taken_new (void)
{
    taken_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->stop_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (self->stop_fd < 0)
        taken_destroy (&self);
    return self;
}

void
taken_destroy (taken_t **self_p)
{
    taken_t *self = *self_p;
    if (!self)
        return;
    if (self->stop_fd >= 0)
        close (self->stop_fd);
    free (self);
    *self_p = NULL;
}

void
taken_fill (taken_t *self, waiting_t *queue, size_t count)
{
    self->size = 0;
    for (size_t i = 0; i < count && i < TAKEN_MAX && waiting_count (queue); i++) {
        self->tasks[i] = waiting_pop (queue);
        atomic_store (&self->marked[i], false);
        self->size = i + 1;
    }
    atomic_store (&self->current, 0);
}

size_t
taken_size (const taken_t *self)
{
    return self->size;
}

void
taken_clear (taken_t *self)
{
    self->size = 0;
    atomic_store (&self->current, 0);
}

size_t
taken_cancel_where (taken_t *self, pool_match_fn *match, void *arg)
{
    size_t count = 0;
    for (size_t i = atomic_load (&self->current); i < self->size; i++) {
        if (atomic_load (&self->marked[i]) || !match (arg, self->tasks[i].id))
            continue;
        atomic_store (&self->marked[i], true);
        if (atomic_load (&self->current) == i)
            taken_stop (self);
        count++;
    }
    return count;
}

size_t
taken_give_back (taken_t *self, size_t from, waiting_t *queue, waiting_fn *marked, void *arg)
{
    size_t i = self->size;
    for (; i > from; i--) {
        if (atomic_load (&self->marked[i - 1]))
            marked (arg, &self->tasks[i - 1]);
        else
        if (waiting_push_front (queue, &self->tasks[i - 1]) != 0)
            break;
    }
    size_t count = self->size - i;
    self->size = i;
    return count;
}

void
taken_stop (taken_t *self)
{
    atomic_store (&self->stop, true);
    uint64_t one = 1;
    if (write (self->stop_fd, &one, sizeof one) < 0) {
        //  Only fails if the counter would overflow: it is readable anyway.
    }
}

int64_t
taken_deadline (taken_t *self)
{
    return atomic_load (&self->deadline);
}

static uint64_t
s_now_us (clockid_t clock)
{
    struct timespec ts;
    clock_gettime (clock, &ts);
    return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

//  Move to task index: a stop asked of an earlier task is over unless the
//  whole pool is cancelled (checked again after the clear: a pool cancel
//  that came meanwhile raises the stop again).  NULL if index is marked:
//  it must not start.
static const pool_task_t *
s_start (taken_t *self, size_t index, const atomic_bool *pool_cancelled)
{
    atomic_store (&self->current, index);
    if (atomic_load (&self->stop) && !atomic_load (pool_cancelled)) {
        uint64_t count;
        if (read (self->stop_fd, &count, sizeof count) < 0) {
            //  EAGAIN: nothing to read, which is what we want.
        }
        atomic_store (&self->stop, false);
        if (atomic_load (pool_cancelled))
            taken_stop (self);
    }
    return atomic_load (&self->marked[index])? NULL: &self->tasks[index];
}

//  Outputs before the last go out at once (POOL_PARTIAL); the last stays
//  in the buffer and rides with the result.
typedef struct {
    const taken_hooks_t *hooks;
    uint64_t id;
    handler_call_t *call;
    size_t streamed;            //  where the outputs not yet sent start
    uint32_t outputs;           //  outputs already sent
} stream_t;

static int
s_stream_output (void *arg, const void *data, size_t size, bool final)
{
    stream_t *stream = arg;
    if (final)
        return 0;
    pool_record_t head = { .id = stream->id, .status = POOL_PARTIAL, .outputs = 1 };
    stream->hooks->partial (stream->hooks->arg, &head, data, size);
    stream->streamed = stream->call->mark;
    stream->outputs++;
    return 0;
}

//  Run one task, started at now_us (monotonic; plus unix_offset, Unix
//  time).  Returns when it ended.
static uint64_t
s_run (taken_t *self, registry_t *registry, const pool_task_t *task, msgpack_sbuffer *output,
       msgpack_zone *zone, taken_result_t *result, uint64_t now_us, uint64_t unix_offset,
       const taken_hooks_t *hooks)
{
    handler_call_t call;
    handler_call_init (&call, output);
    call.cancel_fd = self->stop_fd;
    call.cancelled = &self->stop;
    stream_t stream = { .hooks = hooks, .id = task->id, .call = &call, .streamed = output->size };
    call.emit = s_stream_output;
    call.emit_arg = &stream;
    result->wire = (pool_record_t) { .id = task->id, .started_us = now_us + unix_offset };
    if (task->timeout_ms)
        call.deadline = (int64_t) (now_us / 1000) + task->timeout_ms;
    int rc = registry_run (registry, &call, task->handler, task->tuple, task->tuple_size,
                           task->options, task->options_size, zone);
    uint64_t end_us = s_now_us (CLOCK_MONOTONIC);
    result->wire.duration_us = end_us - now_us;
    result->wire.status = rc == 0? POOL_OK: POOL_ERROR;
    result->wire.outputs = (uint32_t) call.outputs - stream.outputs;
    result->at = rc == 0? stream.streamed: output->size;
    result->size = rc == 0? call.mark - stream.streamed: strlen (call.error);
    if (rc != 0 && msgpack_sbuffer_write (output, call.error, result->size) != 0)
        result->size = 0;
    msgpack_zone_clear (zone);
    return end_us;
}

uint64_t
taken_run (taken_t *self, registry_t *registry, msgpack_sbuffer *output, msgpack_zone *zone,
           taken_result_t *results, const atomic_bool *pool_cancelled, uint64_t slow_us,
           const taken_hooks_t *hooks)
{
    msgpack_sbuffer_clear (output);
    uint64_t now_us = s_now_us (CLOCK_MONOTONIC);
    uint64_t unix_offset = s_now_us (CLOCK_REALTIME) - now_us;
    for (size_t i = 0; i < self->size; i++) {
        const pool_task_t *task = s_start (self, i, pool_cancelled);
        if (!task) {
            results[i] = (taken_result_t) { .wire = { .id = self->tasks[i].id,
                                                      .status = POOL_CANCELLED } };
            continue;
        }
        int64_t now_ms = (int64_t) (now_us / 1000);
        atomic_store (&self->deadline, task->timeout_ms? now_ms + task->timeout_ms: 0);
        now_us = s_run (self, registry, task, output, zone, &results[i], now_us, unix_offset,
                        hooks);
        atomic_store (&self->deadline, 0);
        if (atomic_load (&self->marked[i]) && results[i].wire.status == POOL_ERROR)
            results[i].wire.status = POOL_CANCELLED;
        if (i + 1 < self->size && results[i].wire.duration_us > slow_us)
            hooks->slow (hooks->arg, i + 1);
    }
    return now_us;
}
