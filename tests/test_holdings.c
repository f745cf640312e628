//  test_holdings.c -- HELLO's `held` map (proto/holdings.h): what the agent
//  encodes is what the broker reads, in runs; a malformed map is refused;
//  a map over the size given leaves whole jobs out.
#include "proto/holdings.h"
#include "proto/schema.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char job[8][16];
    msg_run_t runs[8][8];
    size_t counts[8];
    size_t jobs;
} seen_t;

static void
s_seen (void *arg, const char *job, const msg_run_t *runs, size_t count)
{
    seen_t *seen = arg;
    cr_assert_lt (seen->jobs, 8);
    cr_assert_leq (count, 8);
    snprintf (seen->job[seen->jobs], sizeof seen->job[0], "%s", job);
    memcpy (seen->runs[seen->jobs], runs, count * sizeof *runs);
    seen->counts[seen->jobs++] = count;
}

Test (holdings, encodes_runs_by_job_and_reads_them_back)
{
    holdings_t *held = holdings_new ();
    //  Out of order, one tuple twice, two jobs, one attempt apart.
    msg_ref_t a[] = { { 7, 1 }, { 5, 1 }, { 6, 1 }, { 9, 2 }, { 6, 1 } };
    for (size_t i = 0; i < 5; i++)
        cr_assert_eq (holdings_add (held, "a", a[i]), 0);
    cr_assert_eq (holdings_add (held, "b", (msg_ref_t) { 1, 3 }), 0);
    cr_assert_eq (holdings_count (held), 6);
    void *data = NULL;
    size_t size = 0, named = 0;
    cr_assert_eq (holdings_encode (held, 60000, &data, &size, &named), 0);
    cr_assert_eq (named, 5, "the tuple named twice counts once");
    seen_t seen = { 0 };
    cr_assert_eq (holdings_each (data, size, s_seen, &seen), 0);
    cr_assert_eq (seen.jobs, 2);
    cr_assert_str_eq (seen.job[0], "a");
    cr_assert_eq (seen.counts[0], 2);
    cr_assert (seen.runs[0][0].first == 5 && seen.runs[0][0].count == 3
               && seen.runs[0][0].attempt == 1);
    cr_assert (seen.runs[0][1].first == 9 && seen.runs[0][1].count == 1
               && seen.runs[0][1].attempt == 2);
    cr_assert_str_eq (seen.job[1], "b");
    cr_assert (seen.counts[1] == 1 && seen.runs[1][0].first == 1 && seen.runs[1][0].attempt == 3);
    free (data);
    holdings_destroy (&held);
    cr_assert_null (held);
}

Test (holdings, an_empty_map_says_nothing_is_held)
{
    holdings_t *held = holdings_new ();
    void *data = NULL;
    size_t size = 0, named = 7;
    cr_assert_eq (holdings_encode (held, 60000, &data, &size, &named), 0);
    cr_assert_eq (named, 0);
    cr_assert (size == 1 && ((unsigned char *) data)[0] == 0x80, "an empty msgpack map");
    seen_t seen = { 0 };
    cr_assert_eq (holdings_each (data, size, s_seen, &seen), 0);
    cr_assert_eq (seen.jobs, 0);
    free (data);
    holdings_destroy (&held);
}

Test (holdings, what_does_not_fit_is_left_out_a_job_at_a_time)
{
    holdings_t *held = holdings_new ();
    //  Every other id: one run per tuple, about 8 bytes each.
    for (uint64_t id = 1; id <= 400; id += 2)
        cr_assert_eq (holdings_add (held, "big", (msg_ref_t) { id, 1 }), 0);
    cr_assert_eq (holdings_add (held, "a", (msg_ref_t) { 1, 1 }), 0);
    void *data = NULL;
    size_t size = 0, named = 0;
    cr_assert_eq (holdings_encode (held, 200, &data, &size, &named), 0);
    cr_assert_leq (size, 200);
    cr_assert_eq (named, 1, "job a fits, job big does not");
    seen_t seen = { 0 };
    cr_assert_eq (holdings_each (data, size, s_seen, &seen), 0);
    cr_assert (seen.jobs == 1 && !strcmp (seen.job[0], "a"));
    free (data);
    holdings_destroy (&held);
}

Test (holdings, malformed_maps_are_refused)
{
    seen_t seen = { 0 };
    //  Not a map; a job whose value is not runs; a run of 0 tuples; an
    //  attempt 0; a key that is not a string.
    const char *bad[] = { "\x90", "\x81\xa1j\xa1x", "\x81\xa1j\x91\x93\x01\x00\x01",
                          "\x81\xa1j\x91\x93\x01\x01\x00", "\x81\x01\x90" };
    const size_t sizes[] = { 1, 5, 8, 8, 3 };
    for (size_t i = 0; i < 5; i++)
        cr_assert_eq (holdings_each (bad[i], sizes[i], s_seen, &seen), -DRV_E_BAD_TYPE,
                      "case %zu", i);
    cr_assert_eq (seen.jobs, 0);
}
