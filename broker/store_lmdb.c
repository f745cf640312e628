//  store_lmdb.c -- the durable store (`--store lmdb`, the default): tuples
//  (a chunk per SUBMIT, store_chunks.h), jobs and remembered SUBMIT batches
//  in one LMDB environment under --data-dir, written one transaction per
//  reactor turn.  Leases are not stored (they live in memory): a restart
//  queues every unfinished tuple again at the attempt it had.
//  Layout (keys big-endian so records sort by job, then id):
//    chunks, done, attempts   the tuples (store_chunks.h)
//    jobs         job name -> job record (store_record.h)
//    batches      job number u32 + digest -> first u64, count u64, digest
//                 (the digest of a SUBMIT's batch id and tuples)
//    batch_order  job number u32 + seq u64 -> batch id (to forget old ones)
//    schedules    schedule name -> its record (broker/schedule.h)
//    graph        job number u32 + tuple id u64 -> a job graph's record of
//                 the tuple (jobs_graph.c: what it waits on, or how it ended)
//    prio         tuples with a priority or not_before of their own (store_prio.h)
//    meta         "digest_key" -> the secret key of batch digests (broker/digest.h)
//  Done chunks are deleted, so LMDB reuses their pages: the file stays as
//  big as the largest backlog, not the total that passed through.
#include "broker/store.h"
#include "broker/store_chunks.h"
#include "broker/store_prio.h"
#include "broker/store_record.h"
#include "common/log.h"
#include "common/peerlog.h"

#include <errno.h>
#include <inttypes.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

typedef struct {
    int lock_fd;                //  flock: one broker per data dir
    MDB_env *env;
    MDB_txn *txn;               //  the turn's write transaction, or NULL
    store_chunks_t chunks;      //  the tuples
    MDB_dbi jobs;
    MDB_dbi batches;
    MDB_dbi batch_order;
    MDB_dbi schedules;
    MDB_dbi graph;
    MDB_dbi prio;
    MDB_dbi meta;
    bool keyed;                 //  digest_key is set
    unsigned char digest_key[STORE_DIGEST_KEY_SIZE];
} lmdb_t;

//  ---------------------------------------------------------------------
//  Transactions

static int
s_errno (int rc)
{
    //  LMDB returns errno values or its own codes (all negative, below
    //  -30000); a full map is what an operator can fix.
    if (rc == MDB_MAP_FULL)
        return -ENOSPC;
    return rc > 0? -rc: -EIO;
}

static int
s_begin (void *state)
{
    lmdb_t *self = (lmdb_t *) state;
    if (self->txn)
        return 0;
    int rc = mdb_txn_begin (self->env, NULL, 0, &self->txn);
    if (rc) {
        self->txn = NULL;
        log_error ("store: cannot begin a transaction: %s", mdb_strerror (rc));
        return s_errno (rc);
    }
    return 0;
}

static int
s_commit (void *state)
{
    lmdb_t *self = (lmdb_t *) state;
    if (!self->txn)
        return -EINVAL;
    int rc = mdb_txn_commit (self->txn);
    self->txn = NULL;
    if (rc) {
        log_error ("store: commit failed: %s", mdb_strerror (rc));
        return s_errno (rc);
    }
    return 0;
}

static int
s_put_job (void *state, const job_t *job)
{
    lmdb_t *self = (lmdb_t *) state;
    if (!self->txn)
        return -EINVAL;
    unsigned char *record;
    size_t size;
    if (store_record_encode_job (job, &record, &size))
        return -ENOMEM;
    MDB_val key = { strlen (job_name (job)), (void *) job_name (job) };
    MDB_val value = { size, record };
    int rc = mdb_put (self->txn, self->jobs, &key, &value, 0);
    free (record);
    return rc? s_errno (rc): 0;
}

static int
s_put_batch (void *state, const job_t *job, uint64_t first, const chunk_t *chunk)
{
    lmdb_t *self = (lmdb_t *) state;
    if (!self->txn)
        return -EINVAL;
    int rc = store_chunks_put (&self->chunks, self->txn, job_number (job), first, chunk);
    return rc? s_errno (rc): 0;
}

static int
s_requeue (void *state, const job_t *job, const msg_ref_t *refs, size_t count)
{
    lmdb_t *self = (lmdb_t *) state;
    if (!self->txn)
        return -EINVAL;
    int rc = store_chunks_requeue (&self->chunks, self->txn, job_number (job), refs, count);
    return rc? s_errno (rc): 0;
}

static int
s_remove (void *state, const job_t *job, const msg_ref_t *refs, size_t count)
{
    lmdb_t *self = (lmdb_t *) state;
    if (!self->txn)
        return -EINVAL;
    int rc = store_chunks_done (&self->chunks, self->txn, job_number (job), refs, count);
    return rc? s_errno (rc): 0;
}

static size_t
s_read (void *state, job_t *job, uint64_t from, size_t max, queue_tuple_t *out)
{
    lmdb_t *self = (lmdb_t *) state;
    MDB_txn *txn = self->txn;
    bool own = !txn;
    if (own && mdb_txn_begin (self->env, NULL, MDB_RDONLY, &txn))
        return 0;
    size_t n = store_chunks_read (&self->chunks, txn, job_number (job), from, max, out);
    if (own)
        mdb_txn_abort (txn);
    return n;
}

//  ---------------------------------------------------------------------
//  Remembered batches

//  A batch's key: the job number and the digest of its batch id and
//  tuples.  (Earlier brokers keyed by the batch id itself: such records are
//  never looked up again, and go as their batch_order entries age out.)
typedef struct {
    unsigned char bytes[4 + STORE_DIGEST_SIZE];
} batch_key_t;

static MDB_val
s_batch_key (batch_key_t *key, uint32_t number, const store_batch_t *record)
{
    store_record_put_u32 (key->bytes, number);
    memcpy (key->bytes + 4, record->digest, STORE_DIGEST_SIZE);
    return (MDB_val) { sizeof key->bytes, key->bytes };
}

static int
s_batch_get (void *state, const job_t *job, store_batch_t *record)
{
    lmdb_t *self = (lmdb_t *) state;
    if (!self->txn)
        return -EINVAL;
    batch_key_t k;
    MDB_val key = s_batch_key (&k, job_number (job), record);
    MDB_val value;
    int rc = mdb_get (self->txn, self->batches, &key, &value);
    if (rc == MDB_NOTFOUND)
        return -ENOENT;
    if (rc || value.mv_size != 16 + STORE_DIGEST_SIZE)
        return rc? s_errno (rc): -EIO;
    //  The digest is in the value too: a key of the old layout that
    //  happened to match is not this batch.
    if (memcmp ((unsigned char *) value.mv_data + 16, record->digest, STORE_DIGEST_SIZE))
        return -ENOENT;
    record->first = store_record_u64 (value.mv_data);
    record->count = store_record_u64 ((unsigned char *) value.mv_data + 8);
    return 0;
}

static int
s_digest_key (void *state, unsigned char key[STORE_DIGEST_KEY_SIZE])
{
    lmdb_t *self = (lmdb_t *) state;
    if (!self->keyed)
        return -ENOENT;
    memcpy (key, self->digest_key, STORE_DIGEST_KEY_SIZE);
    return 0;
}

//  Forget the batch remembered as number seq of job number.
static void
s_batch_forget (lmdb_t *self, uint32_t number, uint64_t seq)
{
    unsigned char order_bytes[12];
    store_record_put_u32 (order_bytes, number);
    store_record_put_u64 (order_bytes + 4, seq);
    MDB_val order = { 12, order_bytes }, old;
    if (mdb_get (self->txn, self->batch_order, &order, &old) != 0)
        return;
    //  mdb_del may move the value: copy the key out first.
    unsigned char buffer[512];
    if (old.mv_size <= sizeof buffer) {
        memcpy (buffer, old.mv_data, old.mv_size);
        MDB_val key = { old.mv_size, buffer };
        mdb_del (self->txn, self->batches, &key, NULL);
    }
    mdb_del (self->txn, self->batch_order, &order, NULL);
}

static int
s_batch_put (void *state, const job_t *job, const store_batch_t *batch_record,
             uint64_t seq, uint64_t keep)
{
    lmdb_t *self = (lmdb_t *) state;
    if (!self->txn)
        return -EINVAL;
    uint32_t number = job_number (job);
    if (seq >= keep)
        s_batch_forget (self, number, seq - keep);
    batch_key_t k;
    MDB_val key = s_batch_key (&k, number, batch_record);
    unsigned char record[16 + STORE_DIGEST_SIZE];
    store_record_put_u64 (record, batch_record->first);
    store_record_put_u64 (record + 8, batch_record->count);
    memcpy (record + 16, batch_record->digest, STORE_DIGEST_SIZE);
    MDB_val value = { sizeof record, record };
    int rc = mdb_put (self->txn, self->batches, &key, &value, 0);
    if (rc == 0) {
        unsigned char order_bytes[12];
        store_record_put_u32 (order_bytes, number);
        store_record_put_u64 (order_bytes + 4, seq);
        MDB_val order = { 12, order_bytes };
        rc = mdb_put (self->txn, self->batch_order, &order, &key, 0);
    }
    return rc? s_errno (rc): 0;
}

//  ---------------------------------------------------------------------
//  Job graphs

static int
s_graph_put (void *state, const job_t *job, uint64_t id, const void *data, size_t size)
{
    lmdb_t *self = (lmdb_t *) state;
    if (!self->txn)
        return -EINVAL;
    unsigned char bytes[12];
    store_record_put_u32 (bytes, job_number (job));
    store_record_put_u64 (bytes + 4, id);
    MDB_val key = { sizeof bytes, bytes };
    MDB_val value = { size, (void *) data };
    int rc = size? mdb_put (self->txn, self->graph, &key, &value, 0)
                 : mdb_del (self->txn, self->graph, &key, NULL);
    return rc && rc != MDB_NOTFOUND? s_errno (rc): 0;
}

//  The turn's transaction, or a read-only one of our own (*own_p).
static int
s_read_txn (lmdb_t *self, MDB_txn **txn_p, bool *own_p)
{
    *own_p = !self->txn;
    *txn_p = self->txn;
    return *own_p? mdb_txn_begin (self->env, NULL, MDB_RDONLY, txn_p): 0;
}

static int
s_graph_load (void *state, store_graph_fn *fn, void *arg)
{
    lmdb_t *self = (lmdb_t *) state;
    MDB_txn *txn;
    bool own;
    MDB_cursor *cursor = NULL;
    int rc = s_read_txn (self, &txn, &own);
    if (rc == 0)
        rc = mdb_cursor_open (txn, self->graph, &cursor);
    MDB_val key, value;
    for (int got = rc? rc: mdb_cursor_get (cursor, &key, &value, MDB_FIRST); got == 0;
         got = mdb_cursor_get (cursor, &key, &value, MDB_NEXT))
        if (key.mv_size == 12)
            fn (arg, store_record_u32 (key.mv_data),
                store_record_u64 ((unsigned char *) key.mv_data + 4), value.mv_data,
                value.mv_size);
    if (cursor)
        mdb_cursor_close (cursor);
    if (own && txn)
        mdb_txn_abort (txn);
    return rc? s_errno (rc): 0;
}

static int
s_pending (void *state, const job_t *job, store_pending_fn *fn, void *arg)
{
    lmdb_t *self = (lmdb_t *) state;
    MDB_txn *txn;
    bool own;
    int rc = s_read_txn (self, &txn, &own);
    if (rc == 0)
        rc = store_chunks_pending (&self->chunks, txn, job_number (job), fn, arg);
    if (own && txn)
        mdb_txn_abort (txn);
    return rc? s_errno (rc): 0;
}

//  ---------------------------------------------------------------------
//  Start: recovery and loading

//  The scan at start touched every chunk's pages; the broker reads few of
//  them again soon (the queue reads ahead a window at a time).  Unmap them
//  from the process: they stay in the page cache, the kernel's to keep or
//  reclaim, and the broker's RSS no longer grows with the queue it found.
//  Safe because the map is read-only (no MDB_WRITEMAP): pages fault back
//  in from the file when read.  LMDB does not say where its map is
//  (me_mapaddr is only set for MDB_FIXEDMAP): /proc/self/maps does, by the
//  data file's inode.
static void
s_release_pages (lmdb_t *self)
{
    int fd;
    struct stat st;
    if (mdb_env_get_fd (self->env, &fd) || fstat (fd, &st))
        return;
    FILE *maps = fopen ("/proc/self/maps", "r");
    if (!maps)
        return;
    char line[512];
    while (fgets (line, sizeof line, maps)) {
        unsigned long from, to, inode;
        unsigned int major_no, minor_no;
        if (sscanf (line, "%lx-%lx %*s %*s %x:%x %lu", &from, &to, &major_no, &minor_no,
                    &inode) == 5
        &&  inode == (unsigned long) st.st_ino
        &&  major_no == major (st.st_dev) && minor_no == minor (st.st_dev)
        &&  madvise ((void *) from, to - from, MADV_DONTNEED))
            log_debug ("store: cannot release the pages read at start: %s", strerror (errno));
    }
    fclose (maps);
}

static int
s_load (void *state, store_job_fn *fn, void *arg)
{
    lmdb_t *self = (lmdb_t *) state;
    MDB_txn *txn;
    int rc = mdb_txn_begin (self->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return s_errno (rc);
    MDB_cursor *jobs;
    rc = mdb_cursor_open (txn, self->jobs, &jobs);
    if (rc) {
        mdb_txn_abort (txn);
        return s_errno (rc);
    }
    MDB_val name, record;
    for (int got = mdb_cursor_get (jobs, &name, &record, MDB_FIRST); got == 0;
         got = mdb_cursor_get (jobs, &name, &record, MDB_NEXT)) {
        job_t *job = store_record_decode_job (name.mv_data, name.mv_size,
                                              record.mv_data, record.mv_size);
        if (!job) {
            log_error ("store: job record %s is damaged; skipped",
                       peerlog_mem (name.mv_data, name.mv_size).text);
            continue;
        }
        //  Count what is still queued; a scan of the chunks, once, at start.
        uint64_t queued = 0, bytes = 0, first = 0;
        rc = store_chunks_count (&self->chunks, txn, job_number (job), &queued, &first, &bytes);
        if (rc)
            log_error ("store: job %s: cannot read its tuples: %s",
                       peerlog_str (job_name (job)).text, mdb_strerror (rc));
        fn (job, queued, first, bytes, arg);
    }
    mdb_cursor_close (jobs);
    mdb_txn_abort (txn);
    s_release_pages (self);
    return 0;
}

static int
s_put_prio (void *state, const job_t *job, uint64_t id, uint32_t level, uint64_t not_before)
{
    lmdb_t *self = (lmdb_t *) state;
    if (!self->txn)
        return -EINVAL;
    int rc = store_prio_put (self->txn, self->prio, job_number (job), id, level, not_before);
    return rc? s_errno (rc): 0;
}

static int
s_forget_prio (void *state, const job_t *job, uint64_t id)
{
    lmdb_t *self = (lmdb_t *) state;
    if (!self->txn)
        return -EINVAL;
    int rc = store_prio_forget (self->txn, self->prio, job_number (job), id);
    return rc? s_errno (rc): 0;
}

static int
s_load_prio (void *state, store_prio_fn *fn, void *arg)
{
    lmdb_t *self = (lmdb_t *) state;
    MDB_txn *txn;
    int rc = mdb_txn_begin (self->env, NULL, MDB_RDONLY, &txn);
    if (rc == 0) {
        rc = store_prio_load (txn, self->prio, fn, arg);
        mdb_txn_abort (txn);
    }
    return rc? s_errno (rc): 0;
}

static void
s_destroy (void **state_p)
{
    lmdb_t *self = (lmdb_t *) *state_p;
    if (!self)
        return;
    if (self->txn)
        mdb_txn_abort (self->txn);
    if (self->env)
        mdb_env_close (self->env);
    if (self->lock_fd >= 0)
        close (self->lock_fd);
    sodium_memzero (self->digest_key, sizeof self->digest_key);
    free (self);
    *state_p = NULL;
}

//  ---------------------------------------------------------------------
//  Schedules (PROTOCOL.md 15): few and small, one record each

static int
s_put_schedule (void *state, const char *name, const void *data, size_t size)
{
    lmdb_t *self = (lmdb_t *) state;
    if (!self->txn)
        return -EINVAL;
    MDB_val key = { strlen (name), (void *) name };
    MDB_val value = { size, (void *) data };
    int rc = mdb_put (self->txn, self->schedules, &key, &value, 0);
    return rc? s_errno (rc): 0;
}

static int
s_del_schedule (void *state, const char *name)
{
    lmdb_t *self = (lmdb_t *) state;
    if (!self->txn)
        return -EINVAL;
    MDB_val key = { strlen (name), (void *) name };
    int rc = mdb_del (self->txn, self->schedules, &key, NULL);
    return rc && rc != MDB_NOTFOUND? s_errno (rc): 0;
}

static int
s_load_schedules (void *state, store_schedule_fn *fn, void *arg)
{
    lmdb_t *self = (lmdb_t *) state;
    MDB_txn *txn;
    MDB_cursor *cursor;
    int rc = mdb_txn_begin (self->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return s_errno (rc);
    rc = mdb_cursor_open (txn, self->schedules, &cursor);
    if (rc) {
        mdb_txn_abort (txn);
        return s_errno (rc);
    }
    MDB_val name, record;
    for (int got = mdb_cursor_get (cursor, &name, &record, MDB_FIRST); got == 0;
         got = mdb_cursor_get (cursor, &name, &record, MDB_NEXT))
        fn (name.mv_data, name.mv_size, record.mv_data, record.mv_size, arg);
    mdb_cursor_close (cursor);
    mdb_txn_abort (txn);
    return 0;
}

static const store_ops_t s_lmdb_ops = {
    .name = "lmdb",
    .durable = true,
    .begin = s_begin,
    .commit = s_commit,
    .put_job = s_put_job,
    .put_batch = s_put_batch,
    .requeue = s_requeue,
    .remove = s_remove,
    .read = s_read,
    .batch_get = s_batch_get,
    .batch_put = s_batch_put,
    .digest_key = s_digest_key,
    .load = s_load,
    .graph_put = s_graph_put,
    .graph_load = s_graph_load,
    .pending = s_pending,
    .put_prio = s_put_prio,
    .forget_prio = s_forget_prio,
    .load_prio = s_load_prio,
    .destroy = s_destroy,
    .put_schedule = s_put_schedule,
    .del_schedule = s_del_schedule,
    .load_schedules = s_load_schedules,
};

//  A data dir of an earlier broker kept a record per tuple (tuples: job +
//  id -> attempt u32 native + payload) and its leases: each tuple becomes
//  a chunk of one at its attempt (a restart spends none), and both go.
static int
s_migrate (lmdb_t *self, MDB_txn *txn, size_t *count_p)
{
    MDB_dbi tuples, leases;
    int rc = mdb_dbi_open (txn, "tuples", 0, &tuples);
    if (rc == MDB_NOTFOUND)
        return 0;
    MDB_cursor *cursor;
    if (rc || (rc = mdb_cursor_open (txn, tuples, &cursor)))
        return rc;
    MDB_val key, value;
    for (int got = mdb_cursor_get (cursor, &key, &value, MDB_FIRST); got == 0 && rc == 0;
         got = mdb_cursor_get (cursor, &key, &value, MDB_NEXT)) {
        if (key.mv_size != 12 || value.mv_size < 4)
            continue;
        uint32_t number = store_record_u32 (key.mv_data);
        uint64_t id = store_record_u64 ((unsigned char *) key.mv_data + 4);
        msg_ref_t ref = { id, 1 };
        memcpy (&ref.attempt, value.mv_data, 4);
        chunk_t *chunk = chunk_new (1, value.mv_size - 4);
        rc = chunk? chunk_append (chunk, (char *) value.mv_data + 4, value.mv_size - 4): ENOMEM;
        if (rc == 0)
            rc = store_chunks_put (&self->chunks, txn, number, id, chunk);
        if (rc == 0)
            rc = store_chunks_requeue (&self->chunks, txn, number, &ref, 1);
        chunk_destroy (&chunk);
        (*count_p)++;
    }
    mdb_cursor_close (cursor);
    if (rc == 0)
        rc = mdb_drop (txn, tuples, 1);
    if (rc == 0 && mdb_dbi_open (txn, "leases", 0, &leases) == 0)
        rc = mdb_drop (txn, leases, 1);
    return rc;
}

//  The key of batch digests: the one kept, or a new one if no batch is
//  remembered yet.  A store with batches but no key (an earlier broker's)
//  keeps BLAKE2b: a retry across the upgrade must get the digest its first
//  try got.
static int
s_open_digest_key (lmdb_t *self, MDB_txn *txn)
{
    MDB_val key = { 10, "digest_key" }, value;
    int rc = mdb_get (txn, self->meta, &key, &value);
    if (rc == 0 && value.mv_size == STORE_DIGEST_KEY_SIZE) {
        memcpy (self->digest_key, value.mv_data, STORE_DIGEST_KEY_SIZE);
        self->keyed = true;
        return 0;
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    if (rc == 0)
        log_warn ("store: the key of batch digests is %zu bytes, not %d: it is not used",
                  value.mv_size, STORE_DIGEST_KEY_SIZE);
    MDB_stat stat;
    if ((rc = mdb_stat (txn, self->batches, &stat)))
        return rc;
    if (stat.ms_entries) {
        log_info ("store: %zu SUBMIT batches remembered by an earlier broker: "
                  "batch digests stay BLAKE2b in this data dir", stat.ms_entries);
        return 0;
    }
    if (sodium_init () < 0)
        return EIO;
    randombytes_buf (self->digest_key, STORE_DIGEST_KEY_SIZE);
    value = (MDB_val) { STORE_DIGEST_KEY_SIZE, self->digest_key };
    if ((rc = mdb_put (txn, self->meta, &key, &value, 0)) == 0)
        self->keyed = true;
    return rc;
}

static int
s_open_dbs (lmdb_t *self)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin (self->env, NULL, 0, &txn);
    if (rc)
        return rc;
    if ((rc = mdb_dbi_open (txn, "chunks", MDB_CREATE, &self->chunks.chunks))
    ||  (rc = mdb_dbi_open (txn, "done", MDB_CREATE, &self->chunks.done))
    ||  (rc = mdb_dbi_open (txn, "attempts", MDB_CREATE, &self->chunks.attempts))
    ||  (rc = mdb_dbi_open (txn, "jobs", MDB_CREATE, &self->jobs))
    ||  (rc = mdb_dbi_open (txn, "batches", MDB_CREATE, &self->batches))
    ||  (rc = mdb_dbi_open (txn, "batch_order", MDB_CREATE, &self->batch_order))
    ||  (rc = mdb_dbi_open (txn, "schedules", MDB_CREATE, &self->schedules))
    ||  (rc = mdb_dbi_open (txn, "graph", MDB_CREATE, &self->graph))
    ||  (rc = mdb_dbi_open (txn, "prio", MDB_CREATE, &self->prio))
    ||  (rc = mdb_dbi_open (txn, "meta", MDB_CREATE, &self->meta))
    ||  (rc = s_open_digest_key (self, txn))) {
        mdb_txn_abort (txn);
        return rc;
    }
    size_t migrated = 0;
    rc = s_migrate (self, txn, &migrated);
    if (rc) {
        mdb_txn_abort (txn);
        return rc;
    }
    if (migrated)
        log_info ("store: %zu tuples stored one a record by an earlier broker; "
                  "now one chunk each", migrated);
    return mdb_txn_commit (txn);
}

store_t *
store_lmdb_new (const char *dir, uint64_t map_size)
{
    if (mkdir (dir, 0700) && errno != EEXIST) {
        log_error ("store: cannot create %s: %s", dir, strerror (errno));
        return NULL;
    }
    lmdb_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    //  LMDB lets several processes share an environment; two brokers on
    //  one data dir would hand out the same tuples twice.
    char path[4096];
    snprintf (path, sizeof path, "%s/broker.lock", dir);
    self->lock_fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (self->lock_fd < 0 || flock (self->lock_fd, LOCK_EX | LOCK_NB)) {
        log_error ("store: %s: %s", path, errno == EWOULDBLOCK?
                   "another broker uses this data dir": strerror (errno));
        void *state = self;
        s_destroy (&state);
        return NULL;
    }
    int rc = mdb_env_create (&self->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs (self->env, 16);
    if (rc == 0)
        rc = mdb_env_set_mapsize (self->env, (size_t) map_size);
    if (rc == 0)
        rc = mdb_env_open (self->env, dir, 0, 0600);
    if (rc == 0)
        rc = s_open_dbs (self);
    if (rc) {
        log_error ("store: cannot open LMDB in %s: %s", dir, mdb_strerror (rc));
        void *state = self;
        s_destroy (&state);
        return NULL;
    }
    return store_new (&s_lmdb_ops, self);
}
