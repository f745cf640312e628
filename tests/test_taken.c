//  test_taken.c -- a handler thread's batch (agent/taken.h): tasks run in
//  order with their results kept, a marked task never starts, the running
//  one is stopped when marked, a slow task hands the rest back to the
//  queue's head in order, and marked ones come back answered instead.
#include <criterion/criterion.h>

#include "agent/taken.h"
#include "support.h"

#include <pthread.h>
#include <string.h>

//  The handlers, and the thread's output buffer and zone, as a pool
//  thread keeps them.
static registry_t *s_registry;
static msgpack_sbuffer s_output;
static msgpack_zone s_zone;

static void
s_setup (void)
{
    s_registry = registry_new ();
    cr_assert_not_null (s_registry);
    msgpack_sbuffer_init (&s_output);
    msgpack_zone_init (&s_zone, 4096);
}

static void
s_teardown (void)
{
    msgpack_zone_destroy (&s_zone);
    msgpack_sbuffer_destroy (&s_output);
    registry_destroy (&s_registry);
}

TestSuite (taken, .init = s_setup, .fini = s_teardown);

static atomic_bool s_not_cancelled = false;     //  the pool's pool_cancel flag
static const unsigned char s_echo_tuple[] = { 0x92, 0x01, 0xa1, 'x' };   //  [1, "x"]

static pool_task_t
s_echo (uint64_t id)
{
    return (pool_task_t) { .id = id, .handler = "echo", .tuple = s_echo_tuple,
                           .tuple_size = sizeof s_echo_tuple };
}

//  A sleep task: tuple [ms] as a uint16.
static pool_task_t
s_sleep (uint64_t id, unsigned char *buf, unsigned ms)
{
    buf[0] = 0x91;
    buf[1] = 0xcd;
    buf[2] = (unsigned char) (ms >> 8);
    buf[3] = (unsigned char) ms;
    return (pool_task_t) { .id = id, .handler = "sleep", .tuple = buf, .tuple_size = 4 };
}

typedef struct {
    taken_t *taken;
    waiting_t *queue;
    size_t slow_calls, slow_from;
    size_t answered;
    uint64_t answered_ids[TAKEN_MAX];
    pool_match_fn *mark_when_slow;      //  marks from the slow hook (as a cancel would)
} hook_state_t;

static void
s_partial (void *arg, const pool_record_t *head, const void *data, size_t size)
{
    (void) arg; (void) head; (void) data; (void) size;
}

static void
s_answered (void *arg, const pool_task_t *task)
{
    hook_state_t *state = arg;
    state->answered_ids[state->answered++] = task->id;
}

static void
s_slow (void *arg, size_t from)
{
    hook_state_t *state = arg;
    state->slow_calls++;
    state->slow_from = from;
    if (state->mark_when_slow)
        taken_cancel_where (state->taken, state->mark_when_slow, NULL);
    taken_give_back (state->taken, from, state->queue, s_answered, state);
}

static bool
s_is_odd (void *arg, uint64_t id)
{
    (void) arg;
    return id & 1;
}

static bool
s_is_4 (void *arg, uint64_t id)
{
    (void) arg;
    return id == 4;
}

static void
s_fill (taken_t *taken, waiting_t *queue, const pool_task_t *tasks, size_t count)
{
    cr_assert_eq (waiting_push (queue, tasks, count), 0);
    taken_fill (taken, queue, count);
    cr_assert_eq (taken_size (taken), count);
    cr_assert_eq (waiting_count (queue), 0);
}

Test (taken, runs_in_order_and_skips_marked_tasks)
{
    taken_t *taken = taken_new ();
    waiting_t *queue = waiting_new ();
    cr_assert (taken && queue);
    pool_task_t tasks[6];
    for (uint64_t i = 0; i < 6; i++)
        tasks[i] = s_echo (i + 1);
    s_fill (taken, queue, tasks, 6);
    cr_assert_eq (taken_cancel_where (taken, s_is_odd, NULL), 3);
    cr_assert_eq (taken_cancel_where (taken, s_is_odd, NULL), 0, "marked once");

    taken_result_t results[TAKEN_MAX];
    hook_state_t state = { .taken = taken, .queue = queue };
    taken_hooks_t hooks = { s_partial, s_slow, &state };
    taken_run (taken, s_registry, &s_output, &s_zone, results, &s_not_cancelled, 1000000, &hooks);
    for (uint64_t i = 0; i < 6; i++) {
        cr_assert_eq (results[i].wire.id, i + 1);
        if ((i + 1) & 1) {
            cr_assert_eq (results[i].wire.status, POOL_CANCELLED);
            cr_assert_eq (results[i].wire.started_us, 0, "never started");
            cr_assert_eq (results[i].size, 0);
        }
        else {
            cr_assert_eq (results[i].wire.status, POOL_OK);
            cr_assert_gt (results[i].wire.started_us, 0);
            cr_assert_eq (results[i].wire.outputs, 1);
            //  echo's output is its input, at its offset in the buffer
            cr_assert_eq (results[i].size, sizeof s_echo_tuple);
            cr_assert_eq (memcmp (s_output.data + results[i].at, s_echo_tuple,
                                  sizeof s_echo_tuple), 0);
        }
    }
    cr_assert_eq (state.slow_calls, 0);
    waiting_destroy (&queue);
    taken_destroy (&taken);
}

Test (taken, a_slow_task_gives_back_the_rest_in_order)
{
    taken_t *taken = taken_new ();
    waiting_t *queue = waiting_new ();
    cr_assert (taken && queue);
    unsigned char buf[4];
    pool_task_t tasks[5] = { s_echo (1), s_sleep (2, buf, 30), s_echo (3), s_echo (4),
                             s_echo (5) };
    s_fill (taken, queue, tasks, 5);
    //  Something else queued meanwhile stays behind what is given back.
    pool_task_t later = s_echo (9);
    cr_assert_eq (waiting_push (queue, &later, 1), 0);

    taken_result_t results[TAKEN_MAX];
    hook_state_t state = { .taken = taken, .queue = queue, .mark_when_slow = s_is_4 };
    taken_hooks_t hooks = { s_partial, s_slow, &state };
    taken_run (taken, s_registry, &s_output, &s_zone, results, &s_not_cancelled, 10000, &hooks);
    cr_assert_eq (state.slow_calls, 1, "only the sleep of 30 ms is over 10 ms");
    cr_assert_eq (state.slow_from, 2);
    cr_assert_eq (taken_size (taken), 2, "the batch ends with the slow task");
    cr_assert_eq (results[0].wire.status, POOL_OK);
    cr_assert_eq (results[1].wire.status, POOL_OK);
    cr_assert_geq (results[1].wire.duration_us, 30000);
    //  4 was marked: answered, not queued again; 3 and 5 lead the queue.
    cr_assert_eq (state.answered, 1);
    cr_assert_eq (state.answered_ids[0], 4);
    cr_assert_eq (waiting_count (queue), 3);
    cr_assert_eq (waiting_pop (queue).id, 3);
    cr_assert_eq (waiting_pop (queue).id, 5);
    cr_assert_eq (waiting_pop (queue).id, 9);
    waiting_destroy (&queue);
    taken_destroy (&taken);
}

//  A mark on the task that runs raises its stop: the handler (a sleep of
//  a minute) returns at once, as cancelled; the next task is not stopped.
typedef struct {
    taken_t *taken;
    bool saw_it_run;
} marker_t;

//  Once task 1 runs (its deadline is set), mark it.
static void *
s_mark_when_running (void *arg)
{
    marker_t *marker = arg;
    marker->saw_it_run = SUPPORT_WAIT (taken_deadline (marker->taken) != 0, 10000);
    taken_cancel_where (marker->taken, s_is_odd, NULL);
    return NULL;
}

Test (taken, marking_the_running_task_stops_it_and_not_the_next)
{
    taken_t *taken = taken_new ();
    waiting_t *queue = waiting_new ();
    cr_assert (taken && queue);
    unsigned char buf[2][4];
    pool_task_t tasks[2] = { s_sleep (1, buf[0], 60000), s_sleep (2, buf[1], 20) };
    tasks[0].timeout_ms = 120000;
    s_fill (taken, queue, tasks, 2);
    taken_result_t results[TAKEN_MAX];
    hook_state_t state = { .taken = taken, .queue = queue };
    taken_hooks_t hooks = { s_partial, s_slow, &state };
    marker_t marker = { taken, false };
    pthread_t thread;
    cr_assert_eq (pthread_create (&thread, NULL, s_mark_when_running, &marker), 0);
    taken_run (taken, s_registry, &s_output, &s_zone, results, &s_not_cancelled, UINT64_MAX, &hooks);
    pthread_join (thread, NULL);
    cr_assert (marker.saw_it_run);
    cr_assert_eq (results[0].wire.status, POOL_CANCELLED);
    cr_assert_lt (results[0].wire.duration_us, 30 * 1000000ull, "stopped, not slept out");
    cr_assert_eq (results[1].wire.status, POOL_OK, "the next task is not stopped");
    cr_assert_geq (results[1].wire.duration_us, 20000);
    waiting_destroy (&queue);
    taken_destroy (&taken);
}
