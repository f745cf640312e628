//  test_pool.c -- the handler-thread pool: never more tasks run than
//  threads, a queued task starts as soon as any thread is free, results come
//  back on the pool's socket with their timings, and dropped / cancelled /
//  timed-out tasks still come back exactly once.
#include <criterion/criterion.h>

#include "agent/pool.h"
#include "support.h"

#include <sched.h>
#include <unistd.h>

//  The handlers the pools run (one per process, as in a worker).
static registry_t *s_registry;

static void
s_setup (void)
{
    s_registry = registry_new ();
    cr_assert_not_null (s_registry);
}

static void
s_teardown (void)
{
    registry_destroy (&s_registry);
}

TestSuite (pool, .init = s_setup, .fini = s_teardown);

static const unsigned char s_echo_tuple[] = { 0x92, 0x01, 0xa1, 'x' };   //  [1, "x"]

//  A sleep task: tuple [ms] as a positive fixint (ms < 128) or uint16.
static pool_task_t
s_sleep_task (uint64_t id, unsigned char *buf, unsigned ms)
{
    buf[0] = 0x91;
    buf[1] = 0xcd;
    buf[2] = (unsigned char) (ms >> 8);
    buf[3] = (unsigned char) ms;
    return (pool_task_t) { .id = id, .handler = "sleep", .tuple = buf, .tuple_size = 4 };
}

//  Receive one result, failing the test after timeout_ms.
static void
s_recv (pool_t *pool, pool_result_t *result, int timeout_ms)
{
    cr_assert_eq (pool_recv (pool, result, timeout_ms), 0, "no result within %d ms", timeout_ms);
}

Test (pool, runs_at_most_threads_tasks_at_once)
{
    pool_t *pool = pool_new (3, s_registry);
    cr_assert_not_null (pool);
    cr_assert_eq (pool_threads (pool), 3);
    unsigned char tuples[4][4];
    pool_task_t tasks[4];
    for (int i = 0; i < 4; i++)
        tasks[i] = s_sleep_task ((uint64_t) i + 1, tuples[i], 300);
    cr_assert_eq (pool_submit (pool, tasks, 4), 0);

    //  Three run, the fourth waits for a thread.
    cr_assert (SUPPORT_WAIT (pool_running (pool) == 3, 2000));
    cr_assert_eq (pool_queued (pool), 1);

    pool_result_t results[4];
    size_t max_running = 0;
    for (int i = 0; i < 4; i++) {
        //  Sample concurrency while we wait.
        int64_t until = zclock_mono () + 5000;
        while (pool_recv (pool, &results[i], 5) != 0) {
            cr_assert_lt (zclock_mono (), until, "no result within 5 s");
            size_t running = pool_running (pool);
            max_running = running > max_running? running: max_running;
        }
    }
    cr_assert_leq (max_running, 3);

    uint64_t seen = 0;
    uint64_t first_end = UINT64_MAX;
    for (int i = 0; i < 4; i++) {
        pool_result_t *r = &results[i];
        cr_assert_eq (r->status, POOL_OK, "%.*s", (int) zframe_size (r->data), zframe_data (r->data));
        cr_assert_eq (r->outputs, 1);
        cr_assert_geq (r->duration_us, 300000);
        cr_assert_lt (r->duration_us, 3000000);
        cr_assert_gt (r->started_us, 1600000000ull * 1000000);
        seen |= 1u << r->id;
        if (r->id != 4 && r->started_us + r->duration_us < first_end)
            first_end = r->started_us + r->duration_us;
    }
    cr_assert_eq (seen, 0x1e, "each task came back once");
    //  The fourth task started only when one of the first three had ended
    //  (1 ms of slack between the wall and monotonic clocks).
    pool_result_t *fourth = NULL;
    for (int i = 0; i < 4; i++)
        if (results[i].id == 4)
            fourth = &results[i];
    cr_assert_geq (fourth->started_us + 1000, first_end);
    cr_assert_lt (fourth->started_us, first_end + 200000, "and it did not wait much longer");
    for (int i = 0; i < 4; i++)
        zframe_destroy (&results[i].data);
    pool_destroy (&pool);
    cr_assert_null (pool);
}

Test (pool, returns_outputs_and_errors)
{
    pool_t *pool = pool_new (2, s_registry);
    pool_task_t tasks[] = {
        { .id = 10, .handler = "echo", .tuple = s_echo_tuple, .tuple_size = sizeof s_echo_tuple },
        { .id = 11, .handler = "nope", .tuple = s_echo_tuple, .tuple_size = sizeof s_echo_tuple },
        { .id = 12, .handler = "fail", .tuple = s_echo_tuple, .tuple_size = sizeof s_echo_tuple },
    };
    cr_assert_eq (pool_submit (pool, tasks, 3), 0);
    for (int i = 0; i < 3; i++) {
        pool_result_t r;
        s_recv (pool, &r, 5000);
        const char *data = (const char *) zframe_data (r.data);
        int size = (int) zframe_size (r.data);
        if (r.id == 10) {
            cr_assert_eq (r.status, POOL_OK);
            cr_assert_eq (r.outputs, 1);
            cr_assert_eq (zframe_size (r.data), sizeof s_echo_tuple);
            cr_assert_eq (memcmp (data, s_echo_tuple, sizeof s_echo_tuple), 0);
        }
        else
        if (r.id == 11) {
            cr_assert_eq (r.status, POOL_ERROR);
            cr_assert_eq (r.outputs, 0);
            cr_assert_eq (strncmp (data, "unknown handler 'nope'", (size_t) size), 0, "%.*s", size, data);
        }
        else {
            cr_assert_eq (r.id, 12);
            cr_assert_eq (r.status, POOL_ERROR);
            cr_assert_eq (strncmp (data, "fail: this handler always fails", (size_t) size), 0);
        }
        zframe_destroy (&r.data);
    }
    pool_destroy (&pool);
}

Test (pool, timeout_bounds_a_task)
{
    pool_t *pool = pool_new (1, s_registry);
    unsigned char tuple[4];
    pool_task_t task = s_sleep_task (1, tuple, 30000);
    task.timeout_ms = 50;
    cr_assert_eq (pool_submit (pool, &task, 1), 0);
    pool_result_t r;
    s_recv (pool, &r, 5000);
    cr_assert_eq (r.status, POOL_ERROR);
    cr_assert_lt (r.duration_us, 5000000);
    cr_assert (zframe_streq (r.data, "sleep: timed out before 30000 ms"), "%s", zframe_strdup (r.data));
    zframe_destroy (&r.data);
    pool_destroy (&pool);
}

Test (pool, drop_queued_gives_back_unstarted_tasks)
{
    pool_t *pool = pool_new (1, s_registry);
    unsigned char tuple[4];
    pool_task_t tasks[4] = { s_sleep_task (1, tuple, 200) };
    for (int i = 1; i < 4; i++)
        tasks[i] = (pool_task_t) { .id = (uint64_t) i + 1, .handler = "echo",
                                   .tuple = s_echo_tuple, .tuple_size = sizeof s_echo_tuple };
    cr_assert_eq (pool_submit (pool, tasks, 4), 0);
    cr_assert (SUPPORT_WAIT (pool_running (pool) == 1, 2000));
    cr_assert_eq (pool_drop_queued (pool), 3);
    cr_assert_eq (pool_queued (pool), 0);
    int dropped = 0, ok = 0;
    for (int i = 0; i < 4; i++) {
        pool_result_t r;
        s_recv (pool, &r, 5000);
        if (r.status == POOL_DROPPED) {
            dropped++;
            cr_assert_gt (r.id, 1);
            cr_assert_eq (zframe_size (r.data), 0);
        }
        else {
            ok++;
            cr_assert_eq (r.id, 1);
            cr_assert_eq (r.status, POOL_OK);
        }
        zframe_destroy (&r.data);
    }
    cr_assert_eq (dropped, 3);
    cr_assert_eq (ok, 1);
    pool_destroy (&pool);
}

//  A drain gives back only what waits for a busy thread: tasks submitted to
//  idle threads count as started even if no thread has woken to take them
//  yet (asked at once, before they can have), so they run.
Test (pool, drop_waiting_keeps_what_idle_threads_take)
{
    pool_t *pool = pool_new (2, s_registry);
    unsigned char tuples[3][4];
    pool_task_t tasks[3];
    for (int i = 0; i < 3; i++)
        tasks[i] = s_sleep_task ((uint64_t) i + 1, tuples[i], 100);
    cr_assert_eq (pool_submit (pool, tasks, 3), 0);
    cr_assert_eq (pool_drop_waiting (pool), 1);
    int dropped = 0, ok = 0;
    for (int i = 0; i < 3; i++) {
        pool_result_t r;
        s_recv (pool, &r, 5000);
        if (r.status == POOL_DROPPED) {
            dropped++;
            cr_assert_eq (r.id, 3, "the last in line is the one that waits");
        }
        else
            ok += r.status == POOL_OK;
        zframe_destroy (&r.data);
    }
    cr_assert_eq (dropped, 1);
    cr_assert_eq (ok, 2);
    //  With every thread busy, nothing queued is kept.  (A thread counts
    //  as running until it is back for more, just after its result.)
    cr_assert (SUPPORT_WAIT (pool_running (pool) == 0, 2000));
    cr_assert_eq (pool_submit (pool, tasks, 3), 0);
    cr_assert (SUPPORT_WAIT (pool_running (pool) == 2, 2000));
    cr_assert_eq (pool_drop_waiting (pool), 1);
    for (int i = 0; i < 3; i++) {
        pool_result_t r;
        s_recv (pool, &r, 5000);
        zframe_destroy (&r.data);
    }
    pool_destroy (&pool);
}

Test (pool, cancel_stops_running_handlers)
{
    pool_t *pool = pool_new (2, s_registry);
    unsigned char tuples[2][4];
    pool_task_t tasks[2] = { s_sleep_task (1, tuples[0], 60000), s_sleep_task (2, tuples[1], 60000) };
    cr_assert_eq (pool_submit (pool, tasks, 2), 0);
    cr_assert (SUPPORT_WAIT (pool_running (pool) == 2, 2000));
    int64_t start = support_now_ms ();
    pool_cancel (pool);
    for (int i = 0; i < 2; i++) {
        pool_result_t r;
        s_recv (pool, &r, 5000);
        cr_assert_eq (r.status, POOL_ERROR);
        cr_assert (zframe_streq (r.data, "sleep: cancelled"));
        zframe_destroy (&r.data);
    }
    cr_assert_lt (support_now_ms () - start, 5000);
    pool_destroy (&pool);
}

static bool
s_odd (void *arg, uint64_t id)
{
    (void) arg;
    return id % 2;
}

//  A job cancelled while it runs: its running tasks stop early, its queued
//  ones never start, and the others are untouched.
Test (pool, cancel_where_stops_the_matching_tasks_only)
{
    pool_t *pool = pool_new (2, s_registry);
    unsigned char tuples[5][4];
    pool_task_t tasks[5] = {
        s_sleep_task (1, tuples[0], 60000), s_sleep_task (2, tuples[1], 200),
        s_sleep_task (3, tuples[2], 60000), s_sleep_task (4, tuples[3], 10),
        s_sleep_task (5, tuples[4], 60000) };
    cr_assert_eq (pool_submit (pool, tasks, 5), 0);
    cr_assert (SUPPORT_WAIT (pool_running (pool) == 2, 2000));
    int64_t start = support_now_ms ();
    cr_assert_eq (pool_cancel_where (pool, s_odd, NULL), 3, "1 running, 3 and 5 queued");
    bool seen[6] = { false };
    for (int i = 0; i < 5; i++) {
        pool_result_t r;
        s_recv (pool, &r, 5000);
        cr_assert (r.id >= 1 && r.id <= 5 && !seen[r.id], "id %llu once", (unsigned long long) r.id);
        seen[r.id] = true;
        if (r.id % 2 == 0)
            cr_expect_eq (r.status, POOL_OK, "task %llu ran on", (unsigned long long) r.id);
        else
            cr_expect_eq (r.status, POOL_CANCELLED, "task %llu", (unsigned long long) r.id);
        if (r.id == 1) {
            cr_expect_gt (r.started_us, 0, "it ran");
            cr_expect (zframe_streq (r.data, "sleep: cancelled"));
        }
        if (r.id == 3 || r.id == 5)
            cr_expect (r.started_us == 0 && r.duration_us == 0, "task %llu never started",
                       (unsigned long long) r.id);
        zframe_destroy (&r.data);
    }
    cr_assert_lt (support_now_ms () - start, 5000);
    pool_destroy (&pool);
}

//  A thread whose task was stopped runs its next task in full.
Test (pool, the_task_after_a_stopped_one_is_not_stopped)
{
    pool_t *pool = pool_new (1, s_registry);
    unsigned char tuples[2][4];
    pool_task_t first = s_sleep_task (1, tuples[0], 60000);
    cr_assert_eq (pool_submit (pool, &first, 1), 0);
    cr_assert (SUPPORT_WAIT (pool_running (pool) == 1, 2000));
    cr_assert_eq (pool_cancel_where (pool, s_odd, NULL), 1);
    pool_result_t r;
    s_recv (pool, &r, 5000);
    cr_assert_eq (r.status, POOL_CANCELLED);
    zframe_destroy (&r.data);
    pool_task_t next = s_sleep_task (2, tuples[1], 50);
    cr_assert_eq (pool_submit (pool, &next, 1), 0);
    s_recv (pool, &r, 5000);
    cr_assert_eq (r.id, 2);
    cr_assert_eq (r.status, POOL_OK, "%.*s", (int) zframe_size (r.data), zframe_data (r.data));
    cr_assert_geq (r.duration_us, 50000, "slept in full");
    zframe_destroy (&r.data);
    pool_destroy (&pool);
}

Test (pool, destroy_waits_for_running_tasks)
{
    pool_t *pool = pool_new (2, s_registry);
    unsigned char tuples[3][4];
    pool_task_t tasks[3];
    for (int i = 0; i < 3; i++)
        tasks[i] = s_sleep_task ((uint64_t) i, tuples[i], 100);
    cr_assert_eq (pool_submit (pool, tasks, 3), 0);
    cr_assert (SUPPORT_WAIT (pool_running (pool) == 2, 2000));
    int64_t start = support_now_ms ();
    pool_destroy (&pool);       //  the two running finish, the queued one is dropped
    cr_assert_null (pool);
    cr_assert_geq (support_now_ms () - start, 50);
}

Test (pool, reuses_threads_for_many_tasks)
{
    pool_t *pool = pool_new (4, s_registry);
    enum { COUNT = 5000 };
    pool_task_t *tasks = calloc (COUNT, sizeof *tasks);
    for (int i = 0; i < COUNT; i++)
        tasks[i] = (pool_task_t) { .id = (uint64_t) i, .handler = "echo",
                                   .tuple = s_echo_tuple, .tuple_size = sizeof s_echo_tuple };
    cr_assert_eq (pool_submit (pool, tasks, COUNT), 0);
    bool *seen = calloc (COUNT, 1);
    for (int i = 0; i < COUNT; i++) {
        pool_result_t r;
        s_recv (pool, &r, 5000);
        cr_assert_lt (r.id, COUNT);
        cr_assert_not (seen[r.id], "task %llu came back twice", (unsigned long long) r.id);
        seen[r.id] = true;
        zframe_destroy (&r.data);
    }
    free (seen);
    free (tasks);
    pool_destroy (&pool);
}

//  Fast tasks wake few threads (agent/pool.c); a slow one after them must
//  still not hold up the others while threads are free: pool_nudge, which
//  a reactor calls each turn, wakes them all once tasks waited
//  POOL_NUDGE_MS with none taken.
Test (pool, slow_tasks_after_fast_ones_get_every_thread)
{
    pool_t *pool = pool_new (3, s_registry);
    cr_assert_not_null (pool);
    pool_task_t fast[64];
    for (int i = 0; i < 64; i++)
        fast[i] = (pool_task_t) { .id = (uint64_t) i + 1, .handler = "echo",
                                  .tuple = s_echo_tuple, .tuple_size = sizeof s_echo_tuple };
    cr_assert_eq (pool_submit (pool, fast, 64), 0);
    for (int i = 0; i < 64; i++) {
        pool_result_t result;
        s_recv (pool, &result, 5000);
        zframe_destroy (&result.data);
    }
    unsigned char tuples[4][4];
    pool_task_t tasks[4];
    for (int i = 0; i < 4; i++)
        tasks[i] = s_sleep_task ((uint64_t) i + 100, tuples[i], 400);
    cr_assert_eq (pool_submit (pool, tasks, 4), 0);
    cr_assert (SUPPORT_WAIT ((pool_nudge (pool, zclock_mono ()), pool_running (pool) == 3), 2000),
               "%zu of 3 threads run the slow tasks", pool_running (pool));
    cr_assert_eq (pool_queued (pool), 1);
    for (int i = 0; i < 4; i++) {
        pool_result_t result;
        s_recv (pool, &result, 5000);
        cr_assert_eq (result.status, POOL_OK);
        zframe_destroy (&result.data);
    }
    pool_destroy (&pool);
}

//  Fast tasks are taken by the threads in batches (agent/taken.h); a
//  cancel still reaches the tasks a thread took and has not started: each
//  task comes back once, and no cancelled one starts after the cancel.
Test (pool, cancel_reaches_the_tasks_threads_took_in_batches)
{
    enum { COUNT = 200000 };
    pool_t *pool = pool_new (4, s_registry);
    cr_assert_not_null (pool);
    //  Measured fast first (a moving average over a few dozen): batches are
    //  only taken by threads that have seen fast tasks.
    pool_task_t warm[500];
    for (int i = 0; i < 500; i++)
        warm[i] = (pool_task_t) { .id = (uint64_t) COUNT + i, .handler = "echo",
                                  .tuple = s_echo_tuple, .tuple_size = sizeof s_echo_tuple };
    cr_assert_eq (pool_submit (pool, warm, 500), 0);
    pool_result_t r;
    for (int i = 0; i < 500; i++) {
        s_recv (pool, &r, 5000);
        zframe_destroy (&r.data);
    }

    pool_task_t *tasks = calloc (COUNT, sizeof *tasks);
    cr_assert_not_null (tasks);
    for (int i = 0; i < COUNT; i++)
        tasks[i] = (pool_task_t) { .id = (uint64_t) i, .handler = "echo", .tuple = s_echo_tuple,
                                   .tuple_size = sizeof s_echo_tuple };
    cr_assert_eq (pool_submit (pool, tasks, COUNT), 0);
    //  Not SUPPORT_WAIT: its 5 ms naps could let the threads finish first.
    int64_t until = support_now_ms () + 10000;
    while (pool_queued (pool) == COUNT && support_now_ms () < until)
        sched_yield ();
    cr_assert_lt (pool_queued (pool), COUNT, "the threads started");
    pool_cancel_where (pool, s_odd, NULL);
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    uint64_t cancelled_at = (uint64_t) now.tv_sec * 1000000 + (uint64_t) now.tv_nsec / 1000;

    bool *seen = calloc (COUNT, sizeof *seen);
    size_t ok_odd = 0, cancelled = 0;
    for (int i = 0; i < COUNT; i++) {
        s_recv (pool, &r, 10000);
        cr_assert (r.id < COUNT && !seen[r.id], "id %llu once", (unsigned long long) r.id);
        seen[r.id] = true;
        if (r.id % 2 == 0)
            cr_assert_eq (r.status, POOL_OK, "task %llu ran", (unsigned long long) r.id);
        else
        if (r.status == POOL_CANCELLED)
            cancelled++;
        else {
            cr_assert_eq (r.status, POOL_OK);
            cr_assert_leq (r.started_us, cancelled_at, "task %llu started after its cancel",
                           (unsigned long long) r.id);
            ok_odd++;
        }
        zframe_destroy (&r.data);
    }
    cr_assert_eq (ok_odd + cancelled, COUNT / 2);
    cr_assert_gt (cancelled, 0);
    free (seen);
    free (tasks);
    pool_destroy (&pool);
}
