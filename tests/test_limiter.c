//  test_limiter.c -- unit tests of spec/limiter.c in simulated time: rate
//  and concurrency per key, no head-of-line blocking, waiting keys handed
//  back by limiter_next on time, LRU eviction of idle keys only, keys by
//  host, network and bytes; and a whole dispatcher simulated over many
//  keys, measuring per-key rates and overlaps.
#include <criterion/criterion.h>

#include "spec/limiter.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS 1000000LL

static limit_key_t
s_key (const char *host)
{
    limit_key_t key;
    limit_key_host (&key, host, strlen (host), false);
    return key;
}

static bool
s_same (const limit_key_t *a, const limit_key_t *b)
{
    return !memcmp (a->bytes, b->bytes, sizeof a->bytes);
}

Test (limiter, keys_by_host_network_and_bytes)
{
    limit_key_t a = s_key ("10.0.0.1"), b = s_key ("::ffff:10.0.0.1"), c, d;
    cr_expect (s_same (&a, &b));
    limit_key_host (&c, "10.0.0.1", 8, true);
    limit_key_host (&d, "10.0.0.254", 10, true);
    cr_expect (s_same (&c, &d));
    limit_key_host (&d, "10.0.1.1", 8, true);
    cr_expect_not (s_same (&c, &d));
    limit_key_host (&c, "2001:db8:0:1::5", 15, true);
    limit_key_host (&d, "2001:db8:0:1:ffff::", 19, true);
    cr_expect (s_same (&c, &d));
    limit_key_host (&d, "2001:db8:0:2::5", 15, true);
    cr_expect_not (s_same (&c, &d));
    a = s_key ("Scan.Example");
    b = s_key ("scan.example");
    cr_expect (s_same (&a, &b));
    limit_key_host (&c, "scan.example", 12, true);
    cr_expect (s_same (&a, &c));
    limit_key_bytes (&c, "scan.example", 12);
    cr_expect_not (s_same (&a, &c));
    limit_key_bytes (&d, "scan.examplf", 12);
    cr_expect_not (s_same (&c, &d));
}

Test (limiter, concurrency_per_key_without_head_of_line_blocking)
{
    limiter_t *limiter = limiter_new (&(limiter_config_t) { .concurrency = 2, .max_keys = 8 });
    cr_assert_not_null (limiter);
    limit_key_t a = s_key ("a.example"), b = s_key ("b.example");
    int64_t ready_at = 0;
    cr_expect_eq (limiter_acquire (limiter, &a, 0, &ready_at), 0);
    cr_expect_eq (limiter_acquire (limiter, &a, 0, &ready_at), 0);
    cr_expect_eq (limiter_acquire (limiter, &a, 0, &ready_at), -EAGAIN);
    cr_expect_eq (ready_at, INT64_MAX);
    //  a at its limit does not hold up b.
    cr_expect_eq (limiter_acquire (limiter, &b, 0, NULL), 0);
    //  a waits; it is handed back when one of its tuples finishes.
    cr_expect_eq (limiter_wait (limiter, &a, 0), 0);
    limit_key_t next;
    cr_expect_not (limiter_next (limiter, 5 * MS, &next));
    cr_expect_eq (limiter_next_at (limiter), INT64_MAX);
    limiter_release (limiter, &a, 6 * MS);
    cr_expect_eq (limiter_next_at (limiter), INT64_MIN);
    cr_assert (limiter_next (limiter, 6 * MS, &next));
    cr_expect (s_same (&next, &a));
    cr_expect_not (limiter_next (limiter, 6 * MS, &next));
    cr_expect_eq (limiter_acquire (limiter, &a, 6 * MS, NULL), 0);
    cr_expect_eq (limiter_acquire (limiter, &a, 6 * MS, NULL), -EAGAIN);
    limiter_destroy (&limiter);
    cr_expect_null (limiter);
}

Test (limiter, waiting_on_the_rate_comes_back_on_time)
{
    limiter_t *limiter = limiter_new (&(limiter_config_t) { .rate = 50, .burst = 2,
                                                            .max_keys = 8 });
    limit_key_t a = s_key ("192.0.2.1"), b = s_key ("192.0.2.2");
    int64_t now = 1000 * MS, ready_at = 0;
    cr_expect_eq (limiter_acquire (limiter, &a, now, NULL), 0);
    limiter_release (limiter, &a, now);
    cr_expect_eq (limiter_acquire (limiter, &a, now, NULL), 0);
    limiter_release (limiter, &a, now);
    cr_expect_eq (limiter_acquire (limiter, &a, now, &ready_at), -EAGAIN);
    cr_expect_eq (ready_at, now + 20 * MS);         //  50/s: one per 20 ms
    cr_expect_eq (limiter_acquire (limiter, &b, now, NULL), 0);
    cr_expect_eq (limiter_wait (limiter, &a, now), 0);
    cr_expect_eq (limiter_wait (limiter, &a, now), 0);      //  once is enough
    int64_t at = limiter_next_at (limiter);
    //  Due no earlier than a may go, and at most a slot (period/254) later.
    cr_expect (at >= ready_at && at <= ready_at + 20 * MS / 254 + 1, "next at %lld",
               (long long) (at - now));
    limit_key_t next;
    cr_expect_not (limiter_next (limiter, ready_at - 1, &next));
    cr_assert (limiter_next (limiter, at, &next));
    cr_expect (s_same (&next, &a));
    cr_expect_eq (limiter_acquire (limiter, &a, at, NULL), 0);
    cr_expect_not (limiter_next (limiter, at + 1000 * MS, &next));
    cr_expect_eq (limiter_next_at (limiter), INT64_MAX);
    limiter_destroy (&limiter);
}

Test (limiter, eviction_takes_the_key_idle_longest_never_one_in_use)
{
    limiter_t *limiter = limiter_new (&(limiter_config_t) { .concurrency = 1, .max_keys = 3 });
    limit_key_t keys[5];
    for (int i = 0; i < 5; i++) {
        char name[16];
        snprintf (name, sizeof name, "h%d.example", i);
        keys[i] = s_key (name);
    }
    for (int i = 0; i < 3; i++) {
        cr_assert_eq (limiter_acquire (limiter, &keys[i], i, NULL), 0);
        limiter_release (limiter, &keys[i], i);
    }
    cr_expect_eq (limiter_keys (limiter), 3);
    //  Key 0 used again: key 1 is now idle longest, and goes for key 3.
    cr_assert_eq (limiter_acquire (limiter, &keys[0], 10, NULL), 0);
    cr_assert_eq (limiter_acquire (limiter, &keys[3], 11, NULL), 0);
    cr_expect_eq (limiter_keys (limiter), 3);
    //  Keys 0 and 3 are running; key 2 is the only idle one: it goes.
    cr_assert_eq (limiter_acquire (limiter, &keys[4], 12, NULL), 0);
    //  Now all three run: a new key cannot be tracked.
    cr_expect_eq (limiter_acquire (limiter, &keys[1], 13, NULL), -ENOSPC);
    cr_expect_eq (limiter_wait (limiter, &keys[1], 13), -ENOSPC);
    //  The running keys kept their counts through it all.
    cr_expect_eq (limiter_acquire (limiter, &keys[0], 14, NULL), -EAGAIN);
    cr_expect_eq (limiter_acquire (limiter, &keys[3], 14, NULL), -EAGAIN);
    limiter_release (limiter, &keys[3], 15);
    cr_expect_eq (limiter_acquire (limiter, &keys[1], 16, NULL), 0);
    limiter_destroy (&limiter);
}

Test (limiter, config_limits)
{
    cr_expect_null (limiter_new (&(limiter_config_t) { .max_keys = 0 }));
    cr_expect_null (limiter_new (&(limiter_config_t) { .max_keys = (1u << 24) + 1 }));
    cr_expect_null (limiter_new (&(limiter_config_t) { .rate = 10, .burst = 0, .max_keys = 1 }));
    cr_expect_null (limiter_new (&(limiter_config_t) { .rate = -1, .max_keys = 1 }));
    limiter_t *limiter = limiter_new (&(limiter_config_t) { .max_keys = 1 });
    cr_expect_not_null (limiter);   //  no limits at all: every acquire goes
    limit_key_t a = s_key ("a");
    for (int i = 0; i < 100; i++)
        cr_expect_eq (limiter_acquire (limiter, &a, 0, NULL), 0);
    limiter_destroy (&limiter);
}

//  A dispatcher in simulated time, as limiter.h describes it: HOSTS keys
//  with tuples queued, each tuple running `took` ns; per-key rate 200/s,
//  burst 1, concurrency 2.  One host's tuples take much longer (a slow
//  host at its concurrency limit): the others must not slow down.
#define HOSTS 5
#define PER_HOST 400

typedef struct {
    int64_t end;
    int host;
} running_t;

Test (limiter, simulated_dispatcher_keeps_every_limit_without_blocking)
{
    limiter_t *limiter = limiter_new (&(limiter_config_t) { .rate = 200, .burst = 1,
                                                            .concurrency = 2, .max_keys = 64 });
    limit_key_t keys[HOSTS];
    int queued[HOSTS], done[HOSTS] = { 0 }, busy[HOSTS] = { 0 }, worst[HOSTS] = { 0 };
    int64_t first_start[HOSTS], last_start[HOSTS];
    bool waiting[HOSTS] = { false };
    for (int h = 0; h < HOSTS; h++) {
        char name[16];
        snprintf (name, sizeof name, "10.0.0.%d", h + 1);
        keys[h] = s_key (name);
        queued[h] = PER_HOST;
        first_start[h] = -1;
    }
    running_t running[HOSTS * 2];
    int running_count = 0;
    int64_t now = 0;
    int host = 0;
    while (now < 60000 * MS) {
        //  Finish what has ended.
        for (int r = 0; r < running_count; ) {
            if (running[r].end <= now) {
                limiter_release (limiter, &keys[running[r].host], now);
                busy[running[r].host]--;
                done[running[r].host]++;
                running[r] = running[--running_count];
            }
            else
                r++;
        }
        //  Keys handed back first, then new tuples round-robin.
        limit_key_t next;
        int start_host = -1;
        if (limiter_next (limiter, now, &next)) {
            for (int h = 0; h < HOSTS; h++)
                if (!memcmp (next.bytes, keys[h].bytes, 16))
                    start_host = h, waiting[h] = false;
            cr_assert_geq (start_host, 0);
            cr_assert_eq (limiter_acquire (limiter, &keys[start_host], now, NULL), 0);
        }
        else
        for (int tries = 0; tries < HOSTS && start_host < 0; tries++, host = (host + 1) % HOSTS) {
            if (queued[host] == 0 || waiting[host])
                continue;
            if (limiter_acquire (limiter, &keys[host], now, NULL) == 0)
                start_host = host;
            else {
                cr_assert_eq (limiter_wait (limiter, &keys[host], now), 0);
                waiting[host] = true;
            }
        }
        if (start_host >= 0) {
            int h = start_host;
            queued[h]--;
            if (first_start[h] < 0)
                first_start[h] = now;
            last_start[h] = now;
            cr_assert_lt (running_count, HOSTS * 2);
            running[running_count++] = (running_t) { now + (h == 0? 50 * MS: 2 * MS), h };
            if (++busy[h] > worst[h])
                worst[h] = busy[h];
            continue;               //  the same instant: try to start more
        }
        //  Nothing to start now: jump to the next event.
        int64_t wake = limiter_next_at (limiter);
        for (int r = 0; r < running_count; r++)
            wake = running[r].end < wake? running[r].end: wake;
        if (wake == INT64_MAX)
            break;
        now = wake > now? wake: now + 1;
    }
    for (int h = 0; h < HOSTS; h++) {
        cr_expect_eq (done[h], PER_HOST, "host %d finished %d", h, done[h]);
        cr_expect_leq (worst[h], 2, "host %d ran %d at once", h, worst[h]);
        double seconds = (double) (last_start[h] - first_start[h]) / 1e9;
        double rate = (PER_HOST - 1) / seconds;
        if (h == 0)                 //  2 at a time, 50 ms each: 40/s at most
            cr_expect (rate <= 40.5, "slow host ran at %.1f/s", rate);
        else
            cr_expect (rate >= 199 && rate <= 200.5, "host %d ran at %.1f/s", h, rate);
    }
    limiter_destroy (&limiter);
}
