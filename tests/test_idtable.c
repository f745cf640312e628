//  test_idtable.c -- values by id, inline: every id added is found with
//  its value until removed, whatever the order of removals (the backward
//  shift must not lose a slot of a probe run), across growth; id 0 works;
//  iteration visits each entry once.
#include <criterion/criterion.h>

#include "support_probes.h"
#include "agent/idtable.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define IDS 5000

typedef struct {
    uint64_t seq;
    char pad[40];               //  values wider than a word, as the supervisor's
} value_t;

static void
s_add (idtable_t *table, uint64_t id, uint64_t seq)
{
    value_t *value = idtable_add (table, id);
    cr_assert_not_null (value);
    value->seq = seq;
}

Test (idtable, finds_what_is_in_and_only_that)
{
    idtable_t *table = idtable_new (sizeof (value_t));
    cr_assert_not_null (table);
    static uint64_t ids[IDS];
    static bool in[IDS];
    srand (7);
    //  Addresses of tasks: aligned and close together, like the real ones.
    for (size_t i = 0; i < IDS; i++) {
        ids[i] = i == 0? 0: 0x7f0000001000ull + (uint64_t) i * 208;
        s_add (table, ids[i], i);
        in[i] = true;
    }
    for (int round = 0; round < 4; round++) {
        for (size_t i = 0; i < IDS; i++)
            if (in[i] && rand () % 2) {
                idtable_remove (table, ids[i]);
                in[i] = false;
            }
        size_t count = 0;
        for (size_t i = 0; i < IDS; i++) {
            value_t *value = idtable_find (table, ids[i]);
            cr_assert_eq (value != NULL, in[i], "id %zu: found %d, in %d", i, value != NULL, in[i]);
            if (value)
                cr_assert_eq (value->seq, i);
            count += in[i];
        }
        cr_assert_eq (idtable_count (table), count);
        size_t at = 0, seen = 0;
        uint64_t id;
        for (value_t *value; (value = idtable_next (table, &at, &id)); seen++)
            cr_assert_eq (id, ids[value->seq]);
        cr_assert_eq (seen, count);
        for (size_t i = 0; i < IDS; i += 3)
            if (!in[i]) {
                s_add (table, ids[i], i);
                in[i] = true;
            }
    }
    idtable_destroy (&table);
    cr_assert_null (table);
}

//  ---------------------------------------------------------------------
//  Probe lengths under the id patterns the agent meets, and some it may.
//  Bounded in support_probes.h: measured at most 1.6 mean, 16 longest, 21
//  for a miss; ids crowding their homes cost hundreds or more.
static void
s_assert_short (const idtable_t *table, const char *pattern)
{
    idtable_probes_t probes = idtable_probes (table);
    support_assert_probes ("idtable", pattern, idtable_count (table), probes.total,
                           probes.longest, probes.longest_miss);
}

static void
s_add_all (idtable_t *table, const uint64_t *ids, size_t count)
{
    for (size_t i = 0; i < count; i++)
        s_add (table, ids[i], i);
    for (size_t i = 0; i < count; i++) {
        value_t *value = idtable_find (table, ids[i]);
        cr_assert (value && value->seq == i, "id %zu of %zu", i, count);
    }
}

#define ARRAYS 64

//  Tasks' addresses: ARRAYS arrays (one a WORK) of tasks stride bytes
//  apart, the arrays apart (as malloc puts them), tasks added in order;
//  then the older half removed.
static void
s_addresses (size_t stride, size_t per_array)
{
    idtable_t *table = idtable_new (sizeof (value_t));
    static uint64_t ids[ARRAYS * 1024];
    srand ((unsigned) stride);
    size_t count = 0;
    for (size_t a = 0; a < ARRAYS; a++) {
        uint64_t base = 0x7f0000000000ull + a * 0x1000000 + (uint64_t) (rand () % 256) * 4096 + 16;
        for (size_t i = 0; i < per_array; i++)
            ids[count++] = base + i * stride;
    }
    s_add_all (table, ids, count);
    char pattern[64];
    snprintf (pattern, sizeof pattern, "addresses %zu apart", stride);
    s_assert_short (table, pattern);
    for (size_t i = 0; i < count / 2; i++)
        idtable_remove (table, ids[i]);
    s_assert_short (table, pattern);
    idtable_destroy (&table);
}

Test (idtable, addresses_of_tasks)
{
    size_t strides[] = { 8, 64, 96, 160, 208, 272, 1000, 4096 };
    for (size_t i = 0; i < sizeof strides / sizeof *strides; i++)
        s_addresses (strides[i], strides[i] < 64? 1024: 256);
}

//  Tuple ids: windows of the same ids from several jobs in one table,
//  slid in runs, with retries (old ids again) among them.
Test (idtable, windows_of_tuple_ids_and_retries)
{
    idtable_t *table = idtable_new (sizeof (value_t));
    uint64_t next[8], oldest[8];
    for (size_t j = 0; j < 8; j++) {
        next[j] = oldest[j] = 1 + j * 1000;       //  windows overlap
        for (; next[j] < oldest[j] + 2000; next[j]++)
            if (!idtable_find (table, next[j]))
                s_add (table, next[j], next[j]);
    }
    s_assert_short (table, "overlapping windows");
    srand (5);
    for (size_t round = 0; round < 3000; round++) {
        size_t j = (size_t) rand () % 8;
        for (size_t i = 0; i < 32; i++, oldest[j]++, next[j]++) {
            idtable_remove (table, oldest[j]);
            if (!idtable_find (table, next[j]))
                s_add (table, next[j], next[j]);
            uint64_t retry = oldest[j] - (uint64_t) (rand () % 5000);
            if (rand () % 40 == 0 && !idtable_find (table, retry))
                s_add (table, retry, retry);
        }
    }
    s_assert_short (table, "slid, with retries");
    idtable_destroy (&table);
}

Test (idtable, random_ids_and_the_ends_of_the_range)
{
    idtable_t *table = idtable_new (sizeof (value_t));
    srand (3);
    for (size_t i = 0; i < 20000; i++) {
        uint64_t id = ((uint64_t) rand () << 42) ^ ((uint64_t) rand () << 21) ^ (uint64_t) rand ();
        if (!idtable_find (table, id))
            s_add (table, id, i);
    }
    s_assert_short (table, "random ids");
    idtable_destroy (&table);
    //  UINT64_MAX itself is not an id (0 is stored as it).
    table = idtable_new (sizeof (value_t));
    for (uint64_t id = UINT64_MAX - 10000; id != 10000; id++)
        if (id != UINT64_MAX)
            s_add (table, id, id);
    s_assert_short (table, "either side of 0");
    for (uint64_t id = UINT64_MAX - 10000; id != 10001; id += 2)
        if (id != UINT64_MAX)
            idtable_remove (table, id);
    s_assert_short (table, "either side of 0, half removed");
    for (uint64_t id = UINT64_MAX - 10000; id != 10000; id++) {
        if (id == UINT64_MAX)
            continue;           //  the name of id 0 inside
        value_t *value = idtable_find (table, id);
        cr_assert_eq (value != NULL, id % 2 == 0, "%" PRIu64, id);
        if (value)
            cr_assert_eq (value->seq, id);
    }
    idtable_destroy (&table);
}

//  ---------------------------------------------------------------------
//  Cost, printed: the supervisor adds a task when it goes to a worker and
//  removes it when its result comes back, about in order; the outbox does
//  the same by tuple id.  window entries live, ops adds and removes.

static int64_t
s_now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double
s_bench (uint64_t first, uint64_t step, size_t window, size_t ops, size_t value_size)
{
    idtable_t *table = idtable_new (value_size);
    uint64_t next = first, oldest = first;
    for (size_t i = 0; i < window; i++, next += step)
        cr_assert_not_null (idtable_add (table, next));
    int64_t start = s_now_ns ();
    for (size_t done = 0; done < ops; done += 3, oldest += step, next += step) {
        cr_assert_not_null (idtable_find (table, oldest));
        idtable_remove (table, oldest);
        cr_assert_not_null (idtable_add (table, next));
    }
    double ns = (double) (s_now_ns () - start) / (double) ops;
    idtable_destroy (&table);
    return ns;
}

Test (idtable, sliding_window_cost)
{
    size_t windows[] = { 16384, 65536 };
    for (size_t i = 0; i < 2; i++) {
        double ids = s_bench (1000, 1, windows[i], 3000000, sizeof (void *));
        double tasks = s_bench (0x7f0000001000ull, 272, windows[i], 3000000, 80);
        fprintf (stderr, "idtable: %zu live: %.1f ns per find, add or remove "
                 "(tuple ids, 8-byte values); %.1f (addresses 272 apart, 80-byte values)\n",
                 windows[i], ids, tasks);
        cr_assert (ids > 0 && tasks > 0);
    }
}
