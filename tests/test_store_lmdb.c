//  test_store_lmdb.c -- unit tests of the broker's durable store: tuples
//  (chunks, done bitmaps, attempts), jobs and batches go in, a reopen (what a restart does) gets them
//  back; what was not committed is gone; the queue reads stored tuples
//  through the store; the data file stays flat as tuples pass through.
#include "support.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include "broker/job.h"
#include "broker/queue.h"
#include "broker/store.h"
#include "broker/store_record.h"
#include "common/log.h"

#include <errno.h>
#include <lmdb.h>
#include <string.h>
#include <sys/stat.h>

static char *s_dir;
static char s_data[512];

static void
s_init (void)
{
    log_init ("test", LOG_LEVEL_WARN);
    s_dir = support_tmpdir ();
    cr_assert_not_null (s_dir);
    snprintf (s_data, sizeof s_data, "%s/data", s_dir);
}

static void
s_fini (void)
{
    support_rmdir (&s_dir);
}

TestSuite (store, .init = s_init, .fini = s_fini, .timeout = 300);

static bool
s_frame_is (payload_t payload, uint64_t id)
{
    char text[64];
    snprintf (text, sizeof text, "payload-%" PRIu64, id);
    size_t size;
    const void *data = payload_data (payload, &size);
    return data && size == strlen (text) && memcmp (data, text, size) == 0;
}

//  Put tuples first .. first+count-1 of job (one chunk).
static void
s_put (store_t *store, job_t *job, uint64_t first, size_t count)
{
    chunk_t *chunk = chunk_new (count, 0);
    cr_assert_not_null (chunk);
    for (size_t i = 0; i < count; i++) {
        char text[64];
        snprintf (text, sizeof text, "payload-%" PRIu64, first + i);
        cr_assert_eq (chunk_append (chunk, text, strlen (text)), 0);
    }
    cr_assert_eq (store_put_batch (store, job, first, chunk), 0);
    chunk_destroy (&chunk);
}

typedef struct {
    job_t *jobs[4];
    uint64_t queued[4], first[4], bytes[4];
    size_t count;
} loaded_t;

static void
s_loaded (job_t *job, uint64_t queued, uint64_t first_id, uint64_t bytes, void *arg)
{
    loaded_t *loaded = (loaded_t *) arg;
    cr_assert_lt (loaded->count, 4);
    loaded->jobs[loaded->count] = job;
    loaded->queued[loaded->count] = queued;
    loaded->first[loaded->count] = first_id;
    loaded->bytes[loaded->count] = bytes;
    loaded->count++;
}

static void
s_loaded_free (loaded_t *loaded)
{
    for (size_t i = 0; i < loaded->count; i++)
        job_destroy (&loaded->jobs[i]);
}

static size_t
s_dir_size (void)
{
    char path[600];
    snprintf (path, sizeof path, "%s/data.mdb", s_data);
    struct stat st;
    return stat (path, &st) == 0? (size_t) st.st_size: 0;
}

Test (store, put_lease_remove_and_recover)
{
    store_t *store = store_lmdb_new (s_data, 64 << 20);
    cr_assert_not_null (store);
    cr_assert (store_durable (store));
    struct stat st;
    cr_assert_eq (stat (s_data, &st), 0);
    cr_assert_eq (st.st_mode & 0777, 0700, "data dir is private");

    job_t *job = job_new ("scan", "echo", "tcp://127.0.0.1:1");
    job_set_number (job, 7);
    job_set_max_attempts (job, 5);
    job_set_sink_key (job, "KEY");
    cr_assert_eq (store_begin (store), 0);
    s_put (store, job, 1, 100);
    job_accept (job, 100);
    //  1..4 are sent to agents (leases are not stored); 1 and 2 finish.
    msg_ref_t leased[] = { { 1, 1 }, { 2, 1 }, { 3, 1 }, { 4, 1 } };
    cr_assert_eq (store_remove (store, job, leased, 2), 0);
    job_dispatched (job, 4);
    job_finished (job, 1, 1);
    //  4 is handed back (RETRY) with attempt 2: not leased any more.
    msg_ref_t retried = { 4, 2 };
    cr_assert_eq (store_requeue (store, job, &retried, 1), 0);
    job_requeued (job, 1);
    store_batch_t b1 = { 1, 100, "digest-b1" };
    cr_assert_eq (store_batch_put (store, job, &b1, job_batch_seq (job), 10), 0);
    job_close (job);
    cr_assert_eq (store_put_job (store, job), 0);
    cr_assert_eq (store_commit (store), 0);

    //  Reading in id order from an id, across the holes of finished ones.
    queue_tuple_t out[8];
    size_t n = store_read (store, job, 0, 3, out);
    cr_assert_eq (n, 3);
    cr_assert_eq (out[0].id, 3);
    cr_assert_eq (out[1].id, 4);
    cr_assert_eq (out[1].attempt, 2);
    cr_assert_eq (out[2].id, 5);
    cr_assert (s_frame_is (out[2].payload, 5));
    for (size_t i = 0; i < n; i++)
        payload_drop (&out[i].payload);
    store_destroy (&store);
    job_destroy (&job);

    //  A restart: tuple 3 was leased; a restart spends no attempt.
    store = store_lmdb_new (s_data, 64 << 20);
    cr_assert_not_null (store);
    loaded_t loaded = { 0 };
    cr_assert_eq (store_load (store, s_loaded, &loaded), 0);
    cr_assert_eq (loaded.count, 1);
    job = loaded.jobs[0];
    cr_assert_str_eq (job_name (job), "scan");
    cr_assert_str_eq (job_sink_key (job), "KEY");
    cr_assert_eq (job_number (job), 7);
    cr_assert_eq (job_max_attempts (job), 5);
    cr_assert (job_closed (job));
    cr_assert_eq (job_next_id (job), 101);
    cr_assert_eq (job_counters (job)->submitted, 100);
    cr_assert_eq (job_counters (job)->done, 1);
    cr_assert_eq (job_counters (job)->failed, 1);
    cr_assert_eq (loaded.queued[0], 98);
    cr_assert_eq (loaded.first[0], 3);
    cr_assert_gt (loaded.bytes[0], 98 * 9);
    n = store_read (store, job, 3, 2, out);
    cr_assert_eq (n, 2);
    cr_assert_eq (out[0].attempt, 1, "leased when stopped: no attempt spent");
    cr_assert_eq (out[1].attempt, 2, "retried: attempt as requeued");
    payload_drop (&out[0].payload);
    payload_drop (&out[1].payload);
    store_batch_t got = { 0, 0, "digest-b1" };
    cr_assert_eq (store_begin (store), 0);
    cr_assert_eq (store_batch_get (store, job, &got), 0);
    cr_assert_eq (got.first, 1);
    cr_assert_eq (got.count, 100);
    cr_assert_eq (memcmp (got.digest, "digest-b1", 10), 0);
    store_batch_t other = { 0, 0, "digest-b2" };
    cr_assert_eq (store_batch_get (store, job, &other), -ENOENT);
    cr_assert_eq (store_commit (store), 0);
    store_destroy (&store);

    //  A second restart changes nothing.
    store = store_lmdb_new (s_data, 64 << 20);
    n = store_read (store, job, 3, 2, out);
    cr_assert_eq (n, 2);
    cr_assert_eq (out[0].attempt, 1);
    cr_assert_eq (out[1].attempt, 2);
    payload_drop (&out[0].payload);
    payload_drop (&out[1].payload);
    store_destroy (&store);
    s_loaded_free (&loaded);
}

Test (store, uncommitted_changes_are_lost)
{
    store_t *store = store_lmdb_new (s_data, 64 << 20);
    job_t *job = job_new ("j", "echo", "tcp://127.0.0.1:1");
    job_set_number (job, 1);
    cr_assert_eq (store_begin (store), 0);
    cr_assert_eq (store_put_job (store, job), 0);
    s_put (store, job, 1, 10);
    cr_assert_eq (store_commit (store), 0);
    //  A turn that never commits (the broker died in it).
    cr_assert_eq (store_begin (store), 0);
    s_put (store, job, 11, 10);
    store_destroy (&store);

    store = store_lmdb_new (s_data, 64 << 20);
    loaded_t loaded = { 0 };
    cr_assert_eq (store_load (store, s_loaded, &loaded), 0);
    cr_assert_eq (loaded.count, 1);
    cr_assert_eq (loaded.queued[0], 10, "only the committed batch");
    store_destroy (&store);
    s_loaded_free (&loaded);
    job_destroy (&job);
}

Test (store, batches_are_remembered_up_to_a_bound)
{
    store_t *stores[] = { store_lmdb_new (s_data, 64 << 20), store_memory_new () };
    for (size_t s = 0; s < 2; s++) {
        store_t *store = stores[s];
        job_t *job = job_new ("j", "echo", "tcp://127.0.0.1:1");
        job_set_number (job, 1);
        cr_assert_eq (store_begin (store), 0);
        for (uint64_t i = 0; i < 5; i++) {
            store_batch_t record = { i * 10 + 1, 10, { 0 } };
            snprintf ((char *) record.digest, sizeof record.digest, "batch-%" PRIu64, i);
            cr_assert_eq (store_batch_put (store, job, &record, job_batch_seq (job), 3), 0);
        }
        //  Only the last 3 are remembered.
        store_batch_t got = { 0, 0, "batch-1" };
        cr_assert_eq (store_batch_get (store, job, &got), -ENOENT, "%s", store_name (store));
        got = (store_batch_t) { 0, 0, "batch-2" };
        cr_assert_eq (store_batch_get (store, job, &got), 0);
        cr_assert_eq (got.first, 21);
        got = (store_batch_t) { 0, 0, "batch-4" };
        cr_assert_eq (store_batch_get (store, job, &got), 0);
        cr_assert_eq (got.first, 41);
        cr_assert_eq (got.count, 10);
        cr_assert_eq (store_commit (store), 0);
        store_destroy (&store);
        job_destroy (&job);
    }
}

//  The queue reads a durable job's tuples from the store in batches, after
//  the tuples queued again (which carry their frames).
static size_t
s_reader (void *arg, job_t *job, uint64_t from, size_t max, queue_tuple_t *out)
{
    return store_read ((store_t *) arg, job, from, max, out);
}

Test (store, queue_reads_stored_tuples)
{
    store_t *store = store_lmdb_new (s_data, 64 << 20);
    queue_t *queue = queue_new_reader (s_reader, store);
    job_t *job = job_new ("j", "echo", "tcp://127.0.0.1:1");
    job_set_number (job, 3);
    cr_assert_eq (store_begin (store), 0);
    s_put (store, job, 1, 20);
    cr_assert_eq (store_commit (store), 0);
    cr_assert_eq (queue_push_stored (queue, job, 1, 20), 0);
    cr_assert_eq (queue_depth (queue), 20);
    cr_assert_eq (queue_job_depth (queue, job), 20);

    queue_tuple_t out[16];
    job_t *taken_job;
    size_t n = queue_take (queue, 8, out, &taken_job);
    cr_assert_eq (n, 8);
    cr_assert_eq (taken_job, job);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq (out[i].id, i + 1);
        cr_assert (s_frame_is (out[i].payload, i + 1));
    }
    //  Tuple 2 comes back (RETRY): it goes first, with its payload.
    queue_tuple_t back = out[1];
    out[1].payload = (payload_t) { 0 };
    back.attempt = 2;
    back.why = QUEUE_WHY_RETRY;
    cr_assert_eq (queue_return (queue, job, &back), 0);
    for (size_t i = 0; i < n; i++)
        payload_drop (&out[i].payload);
    n = queue_take (queue, 16, out, &taken_job);
    cr_assert_eq (n, 1, "requeued ones are served on their own");
    cr_assert_eq (out[0].id, 2);
    cr_assert_eq (out[0].attempt, 2);
    cr_assert_eq (out[0].why, QUEUE_WHY_RETRY);
    payload_drop (&out[0].payload);
    n = queue_take (queue, 16, out, &taken_job);
    cr_assert_eq (n, 12);
    cr_assert_eq (out[0].id, 9);
    cr_assert_eq (out[11].id, 20);
    for (size_t i = 0; i < n; i++)
        payload_drop (&out[i].payload);
    cr_assert_eq (queue_depth (queue), 0);
    cr_assert_eq (queue_take (queue, 16, out, &taken_job), 0);
    cr_assert_null (taken_job);
    queue_destroy (&queue);
    store_destroy (&store);
    job_destroy (&job);
}

//  5 x 200k tuples pass through (put, read, removed): LMDB reuses the
//  pages of removed chunks, so the file stays about as big as one backlog.
Test (store, disk_stays_flat_as_tuples_pass_through)
{
    store_t *store = store_lmdb_new (s_data, 1ULL << 30);
    job_t *job = job_new ("j", "echo", "tcp://127.0.0.1:1");
    job_set_number (job, 1);
    const size_t round = 200000, batch = 10000;
    size_t sizes[5];
    uint64_t next = 1;
    queue_tuple_t *out = calloc (batch, sizeof *out);
    msg_ref_t *refs = calloc (batch, sizeof *refs);
    for (size_t r = 0; r < 5; r++) {
        uint64_t first = next;
        for (size_t done = 0; done < round; done += batch) {
            cr_assert_eq (store_begin (store), 0);
            s_put (store, job, next, batch);
            next += batch;
            cr_assert_eq (store_commit (store), 0);
        }
        for (uint64_t from = first; from < next;) {
            cr_assert_eq (store_begin (store), 0);
            size_t n = store_read (store, job, from, batch, out);
            cr_assert_eq (n, batch);
            for (size_t i = 0; i < n; i++) {
                refs[i] = (msg_ref_t) { out[i].id, 1 };
                payload_drop (&out[i].payload);
            }
            cr_assert_eq (store_remove (store, job, refs, n), 0);
            cr_assert_eq (store_commit (store), 0);
            from = refs[n - 1].id + 1;
        }
        sizes[r] = s_dir_size ();
        fprintf (stderr, "store: after round %zu (%zu tuples in all) data.mdb is %zu KiB\n",
                     r + 1, (r + 1) * round, sizes[r] / 1024);
    }
    cr_assert_eq (store_read (store, job, 0, 1, out), 0, "all removed");
    //  A chunk is one record of overflow pages, which LMDB must find as a
    //  contiguous run among the freed ones: the file settles a little
    //  above the first backlog, then stays.
    cr_assert_leq (sizes[4], sizes[0] + sizes[0] / 4,
                   "the file grew from %zu to %zu bytes", sizes[0], sizes[4]);
    cr_assert_leq (sizes[4], sizes[2] + sizes[2] / 20,
                   "the file kept growing: %zu, then %zu bytes", sizes[2], sizes[4]);
    free (out);
    free (refs);
    store_destroy (&store);
    job_destroy (&job);
}

Test (store, one_broker_per_data_dir)
{
    store_t *store = store_lmdb_new (s_data, 64 << 20);
    cr_assert_not_null (store);
    store_t *second = store_lmdb_new (s_data, 64 << 20);
    cr_assert_null (second, "two stores on one data dir");
    store_destroy (&store);
    second = store_lmdb_new (s_data, 64 << 20);
    cr_assert_not_null (second, "the lock goes with the store");
    store_destroy (&second);
}

//  A data dir written by a broker of the per-tuple layout (tuples: job +
//  id -> attempt u32 native + payload; leases: job + id) is converted on
//  open: each tuple a chunk of one, at the attempt it had (a restart spends
//  none), and the old databases dropped.
Test (store, per_tuple_layout_is_converted)
{
    cr_assert_eq (mkdir (s_data, 0700), 0);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi tuples, leases, jobs;
    cr_assert_eq (mdb_env_create (&env), 0);
    cr_assert_eq (mdb_env_set_maxdbs (env, 8), 0);
    cr_assert_eq (mdb_env_open (env, s_data, 0, 0600), 0);
    cr_assert_eq (mdb_txn_begin (env, NULL, 0, &txn), 0);
    cr_assert_eq (mdb_dbi_open (txn, "tuples", MDB_CREATE, &tuples), 0);
    cr_assert_eq (mdb_dbi_open (txn, "leases", MDB_CREATE, &leases), 0);
    cr_assert_eq (mdb_dbi_open (txn, "jobs", MDB_CREATE, &jobs), 0);
    job_t *job = job_new ("old", "echo", "tcp://127.0.0.1:1");
    job_set_number (job, 3);
    job_accept (job, 3);
    unsigned char *record;
    size_t size;
    cr_assert_eq (store_record_encode_job (job, &record, &size), 0);
    MDB_val name = { 3, "old" }, value = { size, record };
    cr_assert_eq (mdb_put (txn, jobs, &name, &value, 0), 0);
    free (record);
    for (uint64_t id = 2; id <= 3; id++) {         //  1 finished already
        unsigned char key_bytes[12], data[64];
        store_record_put_u32 (key_bytes, 3);
        store_record_put_u64 (key_bytes + 4, id);
        uint32_t attempt = (uint32_t) id - 1;       //  2 at attempt 1, 3 at 2
        memcpy (data, &attempt, 4);
        int n = snprintf ((char *) data + 4, 60, "payload-%" PRIu64, id);
        MDB_val key = { 12, key_bytes }, tuple = { 4 + (size_t) n, data }, empty = { 0, "" };
        cr_assert_eq (mdb_put (txn, tuples, &key, &tuple, 0), 0);
        cr_assert_eq (mdb_put (txn, leases, &key, &empty, 0), 0);
    }
    cr_assert_eq (mdb_txn_commit (txn), 0);
    mdb_env_close (env);
    job_destroy (&job);

    store_t *store = store_lmdb_new (s_data, 64 << 20);
    cr_assert_not_null (store);
    loaded_t loaded = { 0 };
    cr_assert_eq (store_load (store, s_loaded, &loaded), 0);
    cr_assert_eq (loaded.count, 1);
    cr_assert_eq (loaded.queued[0], 2);
    cr_assert_eq (loaded.first[0], 2);
    queue_tuple_t out[4];
    cr_assert_eq (store_read (store, loaded.jobs[0], 0, 4, out), 2);
    cr_assert_eq (out[0].id, 2);
    cr_assert_eq (out[0].attempt, 1);
    cr_assert (s_frame_is (out[0].payload, 2));
    cr_assert_eq (out[1].id, 3);
    cr_assert_eq (out[1].attempt, 2);
    cr_assert (s_frame_is (out[1].payload, 3));
    payload_drop (&out[0].payload);
    payload_drop (&out[1].payload);
    //  Finishing them deletes the converted chunks.
    cr_assert_eq (store_begin (store), 0);
    msg_ref_t refs[] = { { 2, 1 }, { 3, 2 } };
    cr_assert_eq (store_remove (store, loaded.jobs[0], refs, 2), 0);
    cr_assert_eq (store_commit (store), 0);
    cr_assert_eq (store_read (store, loaded.jobs[0], 0, 4, out), 0);
    store_destroy (&store);
    s_loaded_free (&loaded);
}

//  The key of batch digests (broker/digest.h) is made with the store and
//  kept: a retry after a restart must get the digest its first try got.
Test (store, digest_key_is_kept_across_a_reopen)
{
    unsigned char first[STORE_DIGEST_KEY_SIZE], again[STORE_DIGEST_KEY_SIZE];
    unsigned char zero[STORE_DIGEST_KEY_SIZE] = { 0 };
    store_t *store = store_lmdb_new (s_data, 64 << 20);
    cr_assert_not_null (store);
    cr_assert_eq (store_digest_key (store, first), 0);
    cr_assert_arr_neq (first, zero, sizeof zero);
    store_destroy (&store);
    store = store_lmdb_new (s_data, 64 << 20);
    cr_assert_not_null (store);
    cr_assert_eq (store_digest_key (store, again), 0);
    cr_assert_arr_eq (first, again, sizeof first);
    store_destroy (&store);

    char other[600];
    snprintf (other, sizeof other, "%s/other", s_dir);
    store = store_lmdb_new (other, 64 << 20);
    cr_assert_not_null (store);
    cr_assert_eq (store_digest_key (store, again), 0);
    cr_assert_arr_neq (first, again, sizeof first, "each data dir its own key");
    store_destroy (&store);
}

//  An earlier broker's data dir remembers batches by BLAKE2b and has no
//  key: it gets none, now or at the next start, so that its batches are
//  still found.
Test (store, batches_without_a_key_keep_blake2b)
{
    cr_assert_eq (mkdir (s_data, 0700), 0);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi batches;
    cr_assert_eq (mdb_env_create (&env), 0);
    cr_assert_eq (mdb_env_set_maxdbs (env, 8), 0);
    cr_assert_eq (mdb_env_open (env, s_data, 0, 0600), 0);
    cr_assert_eq (mdb_txn_begin (env, NULL, 0, &txn), 0);
    cr_assert_eq (mdb_dbi_open (txn, "batches", MDB_CREATE, &batches), 0);
    unsigned char key_bytes[4 + STORE_DIGEST_SIZE] = { 0, 0, 0, 1 }, record[32] = { 0 };
    MDB_val key = { sizeof key_bytes, key_bytes }, value = { sizeof record, record };
    cr_assert_eq (mdb_put (txn, batches, &key, &value, 0), 0);
    cr_assert_eq (mdb_txn_commit (txn), 0);
    mdb_env_close (env);

    unsigned char digest_key[STORE_DIGEST_KEY_SIZE];
    for (int start = 0; start < 2; start++) {
        store_t *store = store_lmdb_new (s_data, 64 << 20);
        cr_assert_not_null (store);
        cr_assert_eq (store_digest_key (store, digest_key), -ENOENT, "start %d", start);
        store_destroy (&store);
    }
}
