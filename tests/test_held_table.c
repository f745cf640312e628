//  test_held_table.c -- the broker's held table (broker/held.c) under the
//  key patterns it meets: windows of consecutive ids from several jobs at
//  once, retries among them, ids near 0 and UINT64_MAX.  Probe lengths stay
//  short whatever the pattern, and a put and a take of a sliding window
//  costs what it costs (printed: the table is on the broker's hot path).
#include <criterion/criterion.h>

#include "support_probes.h"
#include "broker/held.h"
#include "common/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void
s_quiet (void)
{
    log_init ("test", LOG_LEVEL_WARN);
}

TestSuite (held_table, .init = s_quiet);

//  Probe lengths under each pattern below, bounded (support_probes.h):
//  measured at most 1.5 mean, 25 longest, 32 for a miss.  A home that lets
//  two jobs' windows merge (hash (job) + id) costs thousands; one that
//  keeps runs of 16 ids together, mean ~9 and ~400.
static void
s_assert_short (const held_t *held, const char *pattern)
{
    held_probes_t probes = held_probes (held);
    support_assert_probes ("held", pattern, held_size (held), probes.total, probes.longest,
                           probes.longest_miss);
}

static void
s_put (held_t *held, job_t *job, uint64_t id)
{
    payload_t none = { 0 };
    cr_assert_eq (held_put (held, job, id, 1, &none), 0, "put %" PRIu64, id);
}

static void
s_take (held_t *held, job_t *job, uint64_t id)
{
    uint32_t attempt;
    payload_t payload;
    cr_assert (held_take (held, job, id, &attempt, &payload), "take %" PRIu64, id);
}

#define JOBS 8

//  Windows of the same ids in JOBS jobs at once (a home of hash (job) + id
//  would line them up in slot space), dispatched in runs and slid along,
//  with a few of each run failing and coming back later as retries.
Test (held_table, windows_of_many_jobs_and_retries)
{
    held_t *held = held_new ();
    job_t *jobs[JOBS];
    uint64_t next[JOBS], oldest[JOBS];
    for (size_t j = 0; j < JOBS; j++) {
        jobs[j] = job_new ("j", "echo", "s");
        next[j] = oldest[j] = 1;
        for (; next[j] <= 4000; next[j]++)
            s_put (held, jobs[j], next[j]);
    }
    s_assert_short (held, "8 windows of 4000");
    uint64_t retries[JOBS][64];
    size_t retrying[JOBS] = { 0 };
    srand (11);
    for (size_t round = 0; round < 2000; round++) {
        size_t j = (size_t) rand () % JOBS;
        for (size_t i = 0; i < 32; i++, oldest[j]++) {
            s_take (held, jobs[j], oldest[j]);
            if (rand () % 50 == 0 && retrying[j] < 64)
                retries[j][retrying[j]++] = oldest[j];
        }
        for (size_t i = 0; i < 32; i++)
            s_put (held, jobs[j], next[j]++);
        if (retrying[j] == 64) {
            for (size_t i = 0; i < 64; i++)
                s_put (held, jobs[j], retries[j][i]);
            retrying[j] = 0;
        }
    }
    s_assert_short (held, "slid, with retries");
    held_destroy (&held);
    for (size_t j = 0; j < JOBS; j++)
        job_destroy (&jobs[j]);
}

//  Ids the hash must spread on their own: random ones, and ids either side
//  of 0 (they wrap), in one job and across two.
Test (held_table, random_ids_and_the_ends_of_the_range)
{
    held_t *held = held_new ();
    job_t *a = job_new ("a", "echo", "s");
    job_t *b = job_new ("b", "echo", "s");
    srand (12);
    for (size_t i = 0; i < 20000; i++)
        s_put (held, a, ((uint64_t) rand () << 42) ^ ((uint64_t) rand () << 21) ^ (uint64_t) rand ());
    s_assert_short (held, "random ids");
    held_destroy (&held);
    held = held_new ();
    for (uint64_t id = UINT64_MAX - 5000; id != 5000; id++) {
        s_put (held, a, id);
        s_put (held, b, id);
    }
    s_assert_short (held, "either side of 0");
    for (uint64_t id = UINT64_MAX - 5000; id != 5001; id += 2)
        s_take (held, b, id);
    s_assert_short (held, "either side of 0, half taken");
    held_destroy (&held);
    job_destroy (&a);
    job_destroy (&b);
}

static int64_t
s_now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#define BENCH_JOBS 4

//  WORK dispatches runs of consecutive ids of one job; DONE comes back in
//  about the same order.  window tuples in flight, ops puts and takes;
//  prefetch: ask 8 ids ahead, as the broker's DONE and WORK loops do.
static double
s_bench_windows (size_t window, size_t ops, bool prefetch)
{
    held_t *held = held_new ();
    job_t *jobs[BENCH_JOBS];
    uint64_t next[BENCH_JOBS], oldest[BENCH_JOBS];
    for (size_t j = 0; j < BENCH_JOBS; j++) {
        jobs[j] = job_new ("j", "echo", "s");
        next[j] = oldest[j] = 1 + j * 1000003;
    }
    size_t per_job = window / BENCH_JOBS;
    for (size_t j = 0; j < BENCH_JOBS; j++)
        for (; next[j] - oldest[j] < per_job; next[j]++) {
            payload_t none = { 0 };
            cr_assert_eq (held_put (held, jobs[j], next[j], 1, &none), 0);
        }
    int64_t start = s_now_ns ();
    for (size_t done = 0; done < ops; done += 2 * 64) {
        size_t j = (done / 128) % BENCH_JOBS;
        for (size_t i = 0; i < 64; i++) {
            uint32_t attempt;
            payload_t payload;
            if (prefetch) {
                held_prefetch (held, jobs[j], oldest[j] + 8);
                held_prefetch (held, jobs[j], next[j] + 8);
            }
            cr_assert (held_take (held, jobs[j], oldest[j]++, &attempt, &payload));
            payload_t none = { 0 };
            cr_assert_eq (held_put (held, jobs[j], next[j]++, 1, &none), 0);
        }
    }
    double ns = (double) (s_now_ns () - start) / (double) ops;
    held_destroy (&held);
    for (size_t j = 0; j < BENCH_JOBS; j++)
        job_destroy (&jobs[j]);
    return ns;
}

Test (held_table, sliding_windows_cost)
{
    size_t windows[] = { 16384, 65536 };
    for (size_t i = 0; i < 2; i++) {
        double ns = s_bench_windows (windows[i], 4000000, false);
        double ahead = s_bench_windows (windows[i], 4000000, true);
        fprintf (stderr, "held: %zu tuples in flight, %d jobs: %.1f ns per put or take, "
                 "%.1f with held_prefetch 8 ahead\n", windows[i], BENCH_JOBS, ns, ahead);
        cr_assert (ns > 0 && ahead > 0);
    }
}
