//  test_seen.c -- unit tests of the sink's dedupe index (sink/seen.c):
//  insert and contains, many keys through table growth, removal without
//  losing neighbours, and jobs kept apart.
#include <criterion/criterion.h>

#include "sink/seen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Test (seen, insert_then_contains)
{
    seen_t *seen = seen_new ();
    cr_assert_not_null (seen);
    cr_expect_not (seen_contains (seen, "scan", 1));
    cr_expect_eq (seen_insert (seen, "scan", 1), 1);
    cr_expect (seen_contains (seen, "scan", 1));
    cr_expect_eq (seen_insert (seen, "scan", 1), 0, "second insert is a duplicate");
    cr_expect_not (seen_contains (seen, "scan", 2));
    cr_expect_eq (seen_size (seen), 1);
    cr_expect_eq (seen_jobs (seen), 1);
    seen_destroy (&seen);
    cr_expect_null (seen);
    seen_destroy (&seen);               //  a second destroy is harmless
}

Test (seen, zero_and_huge_ids)
{
    seen_t *seen = seen_new ();
    cr_expect_not (seen_contains (seen, "j", 0));
    cr_expect_eq (seen_insert (seen, "j", 0), 1);
    cr_expect_eq (seen_insert (seen, "j", 0), 0);
    cr_expect_eq (seen_insert (seen, "j", UINT64_MAX), 1);
    cr_expect (seen_contains (seen, "j", 0));
    cr_expect (seen_contains (seen, "j", UINT64_MAX));
    cr_expect_eq (seen_size (seen), 2);
    cr_expect_eq (seen_remove (seen, "j", 0), 1);
    cr_expect_not (seen_contains (seen, "j", 0));
    cr_expect_eq (seen_remove (seen, "j", 0), 0);
    cr_expect_eq (seen_size (seen), 1);
    seen_destroy (&seen);
}

Test (seen, many_keys)
{
    seen_t *seen = seen_new ();
    const uint64_t count = 1000000;
    for (uint64_t id = 1; id <= count; id++)
        cr_assert_eq (seen_insert (seen, "big", id), 1, "id %lu", (unsigned long) id);
    cr_assert_eq (seen_size (seen), count);
    for (uint64_t id = 1; id <= count; id++)
        cr_assert (seen_contains (seen, "big", id), "id %lu lost", (unsigned long) id);
    for (uint64_t id = count + 1; id <= count + 1000; id++)
        cr_assert_not (seen_contains (seen, "big", id));
    //  Sparse, random-looking ids as well as dense ones.
    srand (7);
    uint64_t sparse[5000];
    for (int i = 0; i < 5000; i++) {
        sparse[i] = ((uint64_t) rand () << 33) ^ ((uint64_t) rand () << 2) ^ 3;
        seen_insert (seen, "big", sparse[i]);
    }
    for (int i = 0; i < 5000; i++)
        cr_assert (seen_contains (seen, "big", sparse[i]));
    seen_destroy (&seen);
}

Test (seen, remove_keeps_the_others)
{
    seen_t *seen = seen_new ();
    const uint64_t count = 20000;
    for (uint64_t id = 1; id <= count; id++)
        seen_insert (seen, "r", id);
    for (uint64_t id = 1; id <= count; id += 2)
        cr_assert_eq (seen_remove (seen, "r", id), 1);
    cr_assert_eq (seen_size (seen), count / 2);
    for (uint64_t id = 1; id <= count; id++)
        cr_assert_eq (seen_contains (seen, "r", id), id % 2 == 0, "id %lu", (unsigned long) id);
    cr_expect_eq (seen_remove (seen, "r", 1), 0, "already removed");
    cr_expect_eq (seen_remove (seen, "nosuchjob", 2), 0);
    //  Removed ids can come back.
    cr_expect_eq (seen_insert (seen, "r", 1), 1);
    cr_expect (seen_contains (seen, "r", 1));
    seen_destroy (&seen);
}

Test (seen, distinct_jobs)
{
    seen_t *seen = seen_new ();
    cr_expect_eq (seen_insert (seen, "alpha", 5), 1);
    cr_expect_eq (seen_insert (seen, "beta", 5), 1, "same id in another job is new");
    cr_expect_eq (seen_insert (seen, "alph", 5), 1, "a prefix is another job");
    cr_expect_eq (seen_insert (seen, "alpha", 5), 0);
    cr_expect_not (seen_contains (seen, "gamma", 5));
    cr_expect_eq (seen_remove (seen, "beta", 5), 1);
    cr_expect (seen_contains (seen, "alpha", 5), "removing in beta leaves alpha");
    cr_expect_not (seen_contains (seen, "beta", 5));
    cr_expect_eq (seen_jobs (seen), 3);
    //  Alternating jobs defeats the last-job cache; answers must not change.
    for (uint64_t id = 1; id <= 1000; id++) {
        char job[16];
        snprintf (job, sizeof job, "job-%lu", (unsigned long) (id % 7));
        cr_assert_eq (seen_insert (seen, job, id), 1);
    }
    for (uint64_t id = 1; id <= 1000; id++) {
        char job[16], other[16];
        snprintf (job, sizeof job, "job-%lu", (unsigned long) (id % 7));
        snprintf (other, sizeof other, "job-%lu", (unsigned long) ((id + 1) % 7));
        cr_assert (seen_contains (seen, job, id));
        cr_assert_not (seen_contains (seen, other, id));
    }
    cr_expect_eq (seen_jobs (seen), 10);
    cr_expect_eq (seen_size (seen), 1002);
    seen_destroy (&seen);
}
