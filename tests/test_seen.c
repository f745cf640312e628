//  test_seen.c -- unit tests of the sink's dedupe index (sink/seen.c), each
//  run on both stores (memory and LMDB): batches committed and aborted,
//  jobs kept apart (long names too), forgetting a job; and for LMDB, that
//  each held result keeps its status (ok or failed); for LMDB, that
//  the index and its output mark survive closing and opening again, and
//  that a second process cannot share a directory.
#include <criterion/criterion.h>

#include "sink/seen.h"
#include <lmdb.h>
#include "support.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char *dir;
static char index_dir[512];

static void
setup (void)
{
    dir = support_tmpdir ();
    cr_assert_not_null (dir);
    snprintf (index_dir, sizeof index_dir, "%s/index", dir);
}

static void
teardown (void)
{
    support_rmdir (&dir);
}

TestSuite (seen, .init = setup, .fini = teardown, .timeout = 60);

static seen_t *
s_open (bool durable)
{
    if (!durable)
        return seen_new ();
    char err[256] = "";
    seen_t *seen = seen_open (index_dir, false, err, sizeof err);
    cr_assert_not_null (seen, "%s", err);
    return seen;
}

static void
s_insert_then_contains (bool durable)
{
    seen_t *seen = s_open (durable);
    cr_assert_not_null (seen);
    cr_expect_eq (seen_durable (seen), durable);
    cr_expect_not (seen_contains (seen, "scan", 1));
    cr_expect_eq (seen_insert (seen, "scan", 1, false, NULL), 1);
    cr_expect (seen_contains (seen, "scan", 1));
    cr_expect_eq (seen_insert (seen, "scan", 1, false, NULL), 0, "second insert is a duplicate");
    cr_expect_not (seen_contains (seen, "scan", 2));
    cr_expect_eq (seen_size (seen), 1);
    cr_expect_eq (seen_jobs (seen), 1);
    cr_expect_eq (seen_insert (seen, "scan", 0, false, NULL), 1, "id 0 is an id");
    cr_expect_eq (seen_insert (seen, "scan", UINT64_MAX, false, NULL), 1);
    cr_expect (seen_contains (seen, "scan", UINT64_MAX));
    seen_destroy (&seen);
    cr_expect_null (seen);
    seen_destroy (&seen);               //  a second destroy is harmless
}

Test (seen, insert_then_contains_memory) { s_insert_then_contains (false); }
Test (seen, insert_then_contains_lmdb)   { s_insert_then_contains (true); }

static void
s_batches (bool durable)
{
    seen_t *seen = s_open (durable);
    //  A batch that is aborted leaves nothing behind.
    cr_assert_eq (seen_begin (seen), 0);
    cr_expect_eq (seen_insert (seen, "b", 1, false, NULL), 1);
    cr_expect_eq (seen_insert (seen, "b", 2, false, NULL), 1);
    cr_expect_eq (seen_insert (seen, "b", 2, false, NULL), 0, "a duplicate inside the batch");
    cr_expect (seen_contains (seen, "b", 2), "visible inside the batch");
    seen_abort (seen);
    cr_expect_not (seen_contains (seen, "b", 1));
    cr_expect_not (seen_contains (seen, "b", 2));
    cr_expect_eq (seen_size (seen), 0);
    cr_expect_eq (seen_jobs (seen), 0);
    //  A committed batch counts the jobs that got their first tuple.
    cr_assert_eq (seen_begin (seen), 0);
    cr_expect_eq (seen_insert (seen, "b", 1, false, NULL), 1);
    cr_expect_eq (seen_insert (seen, "b", 2, false, NULL), 1);
    cr_expect_eq (seen_insert (seen, "c", 2, false, NULL), 1);
    seen_mark_t mark = { 1, 2, 300 };
    cr_expect_eq (seen_commit (seen, &mark), 2, "jobs b and c are new");
    cr_assert_eq (seen_begin (seen), 0);
    cr_expect_eq (seen_insert (seen, "b", 3, false, NULL), 1);
    cr_expect_eq (seen_insert (seen, "b", 1, false, NULL), 0);
    cr_expect_eq (seen_commit (seen, NULL), 0, "b had tuples already");
    cr_expect_eq (seen_size (seen), 4);
    cr_expect_eq (seen_jobs (seen), 2);
    seen_mark_t got;
    cr_assert_eq (seen_mark (seen, &got), 0, "a commit without a mark keeps the last");
    cr_expect (got.dev == 1 && got.ino == 2 && got.size == 300);
    seen_destroy (&seen);
}

Test (seen, batches_memory) { s_batches (false); }
Test (seen, batches_lmdb)   { s_batches (true); }

static void
s_distinct_jobs (bool durable)
{
    seen_t *seen = s_open (durable);
    cr_expect_eq (seen_insert (seen, "alpha", 5, false, NULL), 1);
    cr_expect_eq (seen_insert (seen, "beta", 5, false, NULL), 1, "same id in another job is new");
    cr_expect_eq (seen_insert (seen, "alph", 5, false, NULL), 1, "a prefix is another job");
    cr_expect_eq (seen_insert (seen, "", 5, false, NULL), 1, "the empty name is a job");
    cr_expect_eq (seen_insert (seen, "alpha", 5, false, NULL), 0);
    cr_expect_not (seen_contains (seen, "gamma", 5));
    //  Names too long for an LMDB key are hashed; they stay apart.
    char long_a[1000], long_b[1000];
    memset (long_a, 'x', sizeof long_a - 1);
    long_a[sizeof long_a - 1] = 0;
    memcpy (long_b, long_a, sizeof long_b);
    long_b[998] = 'y';
    cr_expect_eq (seen_insert (seen, long_a, 7, false, NULL), 1);
    cr_expect_eq (seen_insert (seen, long_b, 7, false, NULL), 1);
    cr_expect_eq (seen_insert (seen, long_a, 7, false, NULL), 0);
    cr_expect (seen_contains (seen, long_b, 7));
    //  Alternating jobs inside one batch: answers must not change.
    cr_assert_eq (seen_begin (seen), 0);
    for (uint64_t id = 1; id <= 1000; id++) {
        char job[16];
        snprintf (job, sizeof job, "job-%lu", (unsigned long) (id % 7));
        cr_assert_eq (seen_insert (seen, job, id, false, NULL), 1);
    }
    cr_expect_eq (seen_commit (seen, NULL), 7);
    for (uint64_t id = 1; id <= 1000; id++) {
        char job[16], other[16];
        snprintf (job, sizeof job, "job-%lu", (unsigned long) (id % 7));
        snprintf (other, sizeof other, "job-%lu", (unsigned long) ((id + 1) % 7));
        cr_assert (seen_contains (seen, job, id));
        cr_assert_not (seen_contains (seen, other, id));
    }
    cr_expect_eq (seen_jobs (seen), 13);
    cr_expect_eq (seen_size (seen), 1006);
    //  Forgetting a job (pruning) leaves the others.
    cr_expect_eq (seen_forget (seen, "job-3"), 143);
    cr_expect_eq (seen_forget (seen, "job-3"), 0);
    cr_expect_eq (seen_forget (seen, long_a), 1);
    cr_expect_not (seen_contains (seen, "job-3", 3));
    cr_expect (seen_contains (seen, "job-4", 4));
    cr_expect (seen_contains (seen, long_b, 7));
    cr_expect_eq (seen_jobs (seen), 11);
    cr_expect_eq (seen_size (seen), 1006 - 144);
    cr_expect_eq (seen_insert (seen, "job-3", 3, false, NULL), 1, "a forgotten tuple is new again");
    seen_destroy (&seen);
}

Test (seen, distinct_jobs_memory) { s_distinct_jobs (false); }
Test (seen, distinct_jobs_lmdb)   { s_distinct_jobs (true); }

//  Each held tuple keeps the status of its first result: a duplicate gets
//  that status back, inside a batch, across batches, and after reopening.
static void
s_statuses (bool durable)
{
    seen_t *seen = s_open (durable);
    bool held = false;
    cr_assert_eq (seen_begin (seen), 0);
    cr_expect_eq (seen_insert (seen, "st", 1, true, &held), 1);
    cr_expect (held, "a new failed result is held failed");
    cr_expect_eq (seen_insert (seen, "st", 2, false, &held), 1);
    cr_expect_not (held);
    cr_expect_eq (seen_insert (seen, "st", 1, false, &held), 0);
    cr_expect (held, "inside the batch, the first result's status");
    cr_assert_eq (seen_commit (seen, NULL), 1);
    cr_expect_eq (seen_insert (seen, "st", 1, false, &held), 0);
    cr_expect (held, "failed first, ok later: held failed");
    cr_expect_eq (seen_insert (seen, "st", 2, true, &held), 0);
    cr_expect_not (held, "ok first, failed later: held ok");
    cr_expect_eq (seen_insert (seen, "st", 0, true, &held), 1);
    cr_expect_eq (seen_insert (seen, "st", 0, false, &held), 0);
    cr_expect (held, "id 0 keeps its status too");
    //  An aborted failed insert leaves nothing behind.
    cr_assert_eq (seen_begin (seen), 0);
    cr_expect_eq (seen_insert (seen, "st", 3, true, &held), 1);
    seen_abort (seen);
    cr_expect_eq (seen_insert (seen, "st", 3, false, &held), 1);
    cr_expect_not (held);
    bool failed = false;
    cr_expect (seen_lookup (seen, "st", 1, &failed));
    cr_expect (failed);
    cr_expect (seen_lookup (seen, "st", 3, &failed));
    cr_expect_not (failed);
    cr_expect_not (seen_lookup (seen, "st", 4, &failed));
    if (durable) {
        seen_destroy (&seen);
        seen = s_open (true);
        cr_expect_eq (seen_insert (seen, "st", 1, false, &held), 0);
        cr_expect (held, "still failed after reopening");
        cr_expect_eq (seen_insert (seen, "st", 2, true, &held), 0);
        cr_expect_not (held, "still ok after reopening");
    }
    seen_destroy (&seen);
}

Test (seen, statuses_memory) { s_statuses (false); }
Test (seen, statuses_lmdb)   { s_statuses (true); }

//  An index written before statuses were kept has empty values: read as ok.
Test (seen, old_empty_values_are_ok)
{
    seen_t *seen = s_open (true);
    seen_destroy (&seen);
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi tuples;
    cr_assert_eq (mdb_env_create (&env), 0);
    cr_assert_eq (mdb_env_set_maxdbs (env, 3), 0);
    cr_assert_eq (mdb_env_open (env, index_dir, 0, 0600), 0);
    cr_assert_eq (mdb_txn_begin (env, NULL, 0, &txn), 0);
    cr_assert_eq (mdb_dbi_open (txn, "tuples", 0, &tuples), 0);
    uint8_t bytes[] = { 'o', 'l', 'd', 0, 0, 0, 0, 0, 0, 0, 0, 42 };
    MDB_val key = { sizeof bytes, bytes }, val = { 0, NULL };
    cr_assert_eq (mdb_put (txn, tuples, &key, &val, 0), 0);
    cr_assert_eq (mdb_txn_commit (txn), 0);
    mdb_env_close (env);

    seen = s_open (true);
    bool held = true;
    cr_expect_eq (seen_insert (seen, "old", 42, true, &held), 0, "the old key is held");
    cr_expect_not (held, "an empty value is an ok result");
    seen_destroy (&seen);
}

Test (seen, lmdb_survives_reopen)
{
    seen_t *seen = s_open (true);
    cr_expect_eq (seen_mark (seen, &(seen_mark_t) { 0 }), -ENOENT, "no mark yet");
    cr_assert_eq (seen_begin (seen), 0);
    for (uint64_t id = 1; id <= 300; id++)
        cr_assert_eq (seen_insert (seen, "kept", id, false, NULL), 1);
    seen_mark_t mark = { 66, 77, 12345 };
    cr_assert_eq (seen_commit (seen, &mark), 1);
    //  An aborted batch is not there after reopening.
    cr_assert_eq (seen_begin (seen), 0);
    cr_assert_eq (seen_insert (seen, "kept", 301, false, NULL), 1);
    seen_abort (seen);
    seen_destroy (&seen);

    seen = s_open (true);
    for (uint64_t id = 1; id <= 300; id++)
        cr_assert (seen_contains (seen, "kept", id), "id %lu", (unsigned long) id);
    cr_expect_not (seen_contains (seen, "kept", 301));
    cr_expect_eq (seen_insert (seen, "kept", 7, false, NULL), 0, "still a duplicate after reopening");
    seen_mark_t got;
    cr_assert_eq (seen_mark (seen, &got), 0);
    cr_expect (got.dev == 66 && got.ino == 77 && got.size == 12345);
    cr_expect_eq (seen_size (seen), 300);
    cr_expect_eq (seen_jobs (seen), 1);
    //  One sink per directory.
    char err[256] = "";
    seen_t *second = seen_open (index_dir, false, err, sizeof err);
    cr_expect_null (second);
    cr_expect (strstr (err, "in use by another sink"), "%s", err);
    seen_destroy (&seen);
    //  A file where the directory should be.
    char path[600];
    snprintf (path, sizeof path, "%s/file", dir);
    FILE *file = fopen (path, "w");
    fclose (file);
    cr_expect_null (seen_open (path, false, err, sizeof err));
    cr_expect (strstr (err, "not a directory"), "%s", err);
}

//  How fast batches of 256 go into LMDB, with and without sync; and how
//  big the file gets (one small key per stored result).
Test (seen, lmdb_batches_throughput, .timeout = 120)
{
    for (int sync = 0; sync < 2; sync++) {
        char err[256];
        char path[600];
        snprintf (path, sizeof path, "%s/speed-%d", dir, sync);
        seen_t *seen = seen_open (path, sync, err, sizeof err);
        cr_assert_not_null (seen, "%s", err);
        const uint64_t batches = sync? 200: 2000, per = 256;
        int64_t started = support_now_ms ();
        for (uint64_t b = 0; b < batches; b++) {
            cr_assert_eq (seen_begin (seen), 0);
            for (uint64_t i = 0; i < per; i++)
                cr_assert_eq (seen_insert (seen, "speed-job", b * per + i + 1, false, NULL), 1);
            seen_mark_t mark = { 1, 1, b };
            cr_assert_geq (seen_commit (seen, &mark), 0);
        }
        int64_t ms = support_now_ms () - started;
        cr_expect_eq (seen_size (seen), batches * per);
        seen_destroy (&seen);
        char data[700];
        snprintf (data, sizeof data, "%s/data.mdb", path);
        struct stat st;
        cr_assert_eq (stat (data, &st), 0);
        fprintf (stderr, "seen: lmdb%s: %lu results in batches of %lu: %ld ms, %.0f results/s, "
                 "%.1f bytes/result on disk\n", sync? " (sync)": "",
                 (unsigned long) (batches * per), (unsigned long) per, (long) ms,
                 ms? (double) (batches * per) * 1000.0 / (double) ms: 0.0,
                 (double) st.st_blocks * 512.0 / (double) (batches * per));
    }
}

//  Ranges (LMDB): ids in a shuffled order, in batches, some failed, some
//  committed and some aborted, against a plain array of what must be held;
//  then every id asked again (in and out of a batch, after reopening), and
//  the job forgotten.
Test (seen, ranges_hold_exactly_what_was_inserted)
{
    enum { IDS = 3000 };
    static uint8_t want[IDS + 2];       //  0 not held, 1 ok, 2 failed
    uint64_t order[IDS];
    for (uint64_t i = 0; i < IDS; i++)
        order[i] = i + 1;
    srand (7);
    //  Runs in order with jumps back and forth, as redelivery makes them.
    for (size_t i = 0; i < IDS; i += 1 + (size_t) (rand () % 40)) {
        size_t j = (size_t) rand () % IDS;
        uint64_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    seen_t *seen = s_open (true);
    size_t at = 0;
    for (int batch = 0; at < IDS; batch++) {
        size_t size = 1 + (size_t) (rand () % 300);
        bool abort = batch % 5 == 3;
        uint8_t undo[IDS + 2];
        memcpy (undo, want, sizeof undo);
        cr_assert_eq (seen_begin (seen), 0);
        for (size_t k = 0; k < size && at + k < IDS; k++) {
            uint64_t id = order[at + k];
            bool failed = id % 7 == 0 || (id > 1000 && id < 1100);
            bool held_failed = false;
            int rc = seen_insert (seen, "r", id, failed, &held_failed);
            cr_assert_eq (rc, want[id] == 0, "id %" PRIu64 ": %d", id, rc);
            if (want[id] == 0)
                want[id] = failed? 2: 1;
            cr_assert_eq (held_failed, want[id] == 2, "id %" PRIu64, id);
            //  Asked again in the batch, and a neighbour.
            cr_assert_eq (seen_insert (seen, "r", id, !failed, &held_failed), 0);
            cr_assert_eq (held_failed, want[id] == 2);
            cr_assert_eq (seen_contains (seen, "r", id + 1), want[id + 1] != 0);
        }
        if (abort) {
            seen_abort (seen);
            memcpy (want, undo, sizeof undo);
            continue;                   //  the same ids again next batch
        }
        cr_assert_geq (seen_commit (seen, NULL), 0);
        at += size;
    }
    for (int pass = 0; pass < 2; pass++) {
        for (uint64_t id = 0; id <= IDS + 1; id++) {
            bool failed = false;
            cr_assert_eq (seen_lookup (seen, "r", id, &failed), want[id] != 0, "id %" PRIu64,
                          id);
            cr_assert_eq (failed, want[id] == 2, "id %" PRIu64, id);
        }
        cr_expect_eq (seen_size (seen), IDS);
        seen_destroy (&seen);
        seen = s_open (true);
    }
    cr_expect_eq (seen_forget (seen, "r"), IDS);
    cr_expect_eq (seen_size (seen), 0);
    cr_expect_not (seen_contains (seen, "r", 5));
    seen_destroy (&seen);
}
