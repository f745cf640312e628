//  store_lmdb.c -- the durable store (`--store lmdb`, the default): queued
//  tuples, leases, jobs and remembered SUBMIT batches in one LMDB
//  environment under --data-dir, written one transaction per reactor turn.
//  Layout (keys big-endian so tuples sort by job, then id):
//    tuples       job number u32 + tuple id u64 -> attempt u32 (LE) + payload
//    leases       job number u32 + tuple id u64 -> (empty): sent, not done
//    jobs         job name -> job record (store_record.h)
//    batches      job number u32 + digest -> first u64, count u64, digest
//                 (the digest of a SUBMIT's batch id and tuples)
//    batch_order  job number u32 + seq u64 -> batch id (to forget old ones)
//  Done tuples are deleted, so LMDB reuses their pages: the file stays as
//  big as the largest backlog, not the total that passed through.
#include "broker/store.h"
#include "broker/store_record.h"
#include "common/log.h"
#include "common/peerlog.h"

#include <errno.h>
#include <inttypes.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    int lock_fd;                //  flock: one broker per data dir
    MDB_env *env;
    MDB_txn *txn;               //  the turn's write transaction, or NULL
    MDB_dbi tuples;
    MDB_dbi leases;
    MDB_dbi jobs;
    MDB_dbi batches;
    MDB_dbi batch_order;
} lmdb_t;

//  ---------------------------------------------------------------------
//  Keys

typedef struct {
    unsigned char bytes[12];
} tuple_key_t;

static MDB_val
s_tuple_key (tuple_key_t *key, uint32_t number, uint64_t id)
{
    store_record_put_u32 (key->bytes, number);
    store_record_put_u64 (key->bytes + 4, id);
    return (MDB_val) { sizeof key->bytes, key->bytes };
}

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
s_put_batch (void *state, const job_t *job, uint64_t first,
             zframe_t *const *frames, size_t count)
{
    lmdb_t *self = (lmdb_t *) state;
    if (!self->txn)
        return -EINVAL;
    for (size_t i = 0; i < count; i++) {
        tuple_key_t k;
        MDB_val key = s_tuple_key (&k, job_number (job), first + i);
        size_t size = zframe_size (frames[i]);
        MDB_val value = { 4 + size, NULL };
        int rc = mdb_put (self->txn, self->tuples, &key, &value, MDB_RESERVE);
        if (rc)
            return s_errno (rc);
        uint32_t attempt = 1;
        memcpy (value.mv_data, &attempt, 4);
        if (size)
            memcpy ((char *) value.mv_data + 4, zframe_data (frames[i]), size);
    }
    return 0;
}

static int
s_lease (void *state, const job_t *job, const msg_ref_t *refs, size_t count)
{
    lmdb_t *self = (lmdb_t *) state;
    if (!self->txn)
        return -EINVAL;
    MDB_val empty = { 0, "" };
    for (size_t i = 0; i < count; i++) {
        tuple_key_t k;
        MDB_val key = s_tuple_key (&k, job_number (job), refs[i].id);
        int rc = mdb_put (self->txn, self->leases, &key, &empty, 0);
        if (rc)
            return s_errno (rc);
    }
    return 0;
}

//  Rewrite a tuple's attempt in place (the payload stays).
static int
s_set_attempt (lmdb_t *self, MDB_txn *txn, MDB_val *key, uint32_t attempt)
{
    MDB_val value;
    int rc = mdb_get (txn, self->tuples, key, &value);
    if (rc == MDB_NOTFOUND)
        return 0;               //  finished meanwhile: nothing to do
    if (rc || value.mv_size < 4)
        return rc? s_errno (rc): -EIO;
    //  mdb_put may move the old value; copy it out first.
    size_t size = value.mv_size;
    char *copy = malloc (size);
    if (!copy)
        return -ENOMEM;
    memcpy (copy, value.mv_data, size);
    memcpy (copy, &attempt, 4);
    MDB_val updated = { size, copy };
    rc = mdb_put (txn, self->tuples, key, &updated, 0);
    free (copy);
    return rc? s_errno (rc): 0;
}

static int
s_requeue (void *state, const job_t *job, const msg_ref_t *refs, size_t count)
{
    lmdb_t *self = (lmdb_t *) state;
    if (!self->txn)
        return -EINVAL;
    for (size_t i = 0; i < count; i++) {
        tuple_key_t k;
        MDB_val key = s_tuple_key (&k, job_number (job), refs[i].id);
        int rc = mdb_del (self->txn, self->leases, &key, NULL);
        if (rc && rc != MDB_NOTFOUND)
            return s_errno (rc);
        rc = s_set_attempt (self, self->txn, &key, refs[i].attempt);
        if (rc)
            return rc;
    }
    return 0;
}

static int
s_remove (void *state, const job_t *job, const msg_ref_t *refs, size_t count)
{
    lmdb_t *self = (lmdb_t *) state;
    if (!self->txn)
        return -EINVAL;
    for (size_t i = 0; i < count; i++) {
        tuple_key_t k;
        MDB_val key = s_tuple_key (&k, job_number (job), refs[i].id);
        int rc = mdb_del (self->txn, self->leases, &key, NULL);
        if (rc == 0 || rc == MDB_NOTFOUND)
            rc = mdb_del (self->txn, self->tuples, &key, NULL);
        if (rc && rc != MDB_NOTFOUND)
            return s_errno (rc);
    }
    return 0;
}

static size_t
s_read (void *state, job_t *job, uint64_t from, size_t max, queue_tuple_t *out)
{
    lmdb_t *self = (lmdb_t *) state;
    MDB_txn *txn = self->txn;
    bool own = !txn;
    if (own && mdb_txn_begin (self->env, NULL, MDB_RDONLY, &txn))
        return 0;
    MDB_cursor *cursor;
    size_t n = 0;
    if (mdb_cursor_open (txn, self->tuples, &cursor) == 0) {
        tuple_key_t k;
        MDB_val key = s_tuple_key (&k, job_number (job), from);
        MDB_val value;
        int rc = mdb_cursor_get (cursor, &key, &value, MDB_SET_RANGE);
        while (rc == 0 && n < max) {
            if (key.mv_size != 12
            ||  store_record_u32 (key.mv_data) != job_number (job) || value.mv_size < 4)
                break;
            zframe_t *frame = zframe_new ((char *) value.mv_data + 4, value.mv_size - 4);
            if (!frame)
                break;
            uint32_t attempt;
            memcpy (&attempt, value.mv_data, 4);
            out[n++] = (queue_tuple_t) {
                .id = store_record_u64 ((unsigned char *) key.mv_data + 4),
                .attempt = attempt, .frame = frame
            };
            rc = mdb_cursor_get (cursor, &key, &value, MDB_NEXT);
        }
        mdb_cursor_close (cursor);
    }
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
//  Start: recovery and loading

//  Tuples leased when the broker stopped may have run: count the attempt,
//  and forget the lease (they are queued again).
static int
s_recover_leases (lmdb_t *self, size_t *count_p)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin (self->env, NULL, 0, &txn);
    if (rc)
        return s_errno (rc);
    MDB_cursor *cursor;
    rc = mdb_cursor_open (txn, self->leases, &cursor);
    size_t count = 0;
    MDB_val key, value;
    int got = rc? rc: mdb_cursor_get (cursor, &key, &value, MDB_FIRST);
    while (rc == 0 && got == 0) {
        MDB_val tuple_key = key;
        MDB_val tuple;
        if (mdb_get (txn, self->tuples, &tuple_key, &tuple) == 0 && tuple.mv_size >= 4) {
            uint32_t attempt;
            memcpy (&attempt, tuple.mv_data, 4);
            unsigned char copy[12];
            memcpy (copy, key.mv_data, key.mv_size < 12? key.mv_size: 12);
            MDB_val k = { key.mv_size < 12? key.mv_size: 12, copy };
            rc = s_set_attempt (self, txn, &k, attempt + 1);
            count++;
        }
        got = mdb_cursor_get (cursor, &key, &value, MDB_NEXT);
    }
    if (!rc)
        mdb_cursor_close (cursor);
    if (rc == 0)
        rc = mdb_drop (txn, self->leases, 0);
    if (rc) {
        mdb_txn_abort (txn);
        return rc < 0? rc: s_errno (rc);
    }
    *count_p = count;
    rc = mdb_txn_commit (txn);
    return rc? s_errno (rc): 0;
}

static int
s_load (void *state, store_job_fn *fn, void *arg)
{
    lmdb_t *self = (lmdb_t *) state;
    MDB_txn *txn;
    int rc = mdb_txn_begin (self->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return s_errno (rc);
    MDB_cursor *jobs, *tuples;
    rc = mdb_cursor_open (txn, self->jobs, &jobs);
    if (rc == 0 && (rc = mdb_cursor_open (txn, self->tuples, &tuples)))
        mdb_cursor_close (jobs);
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
        //  Count what is still queued; a scan, once, at start.
        uint64_t queued = 0, bytes = 0, first = 0;
        tuple_key_t k;
        MDB_val key = s_tuple_key (&k, job_number (job), 0), value;
        for (int more = mdb_cursor_get (tuples, &key, &value, MDB_SET_RANGE);
             more == 0 && key.mv_size == 12 && store_record_u32 (key.mv_data) == job_number (job);
             more = mdb_cursor_get (tuples, &key, &value, MDB_NEXT)) {
            if (queued++ == 0)
                first = store_record_u64 ((unsigned char *) key.mv_data + 4);
            bytes += value.mv_size - 4;
        }
        fn (job, queued, first, bytes, arg);
    }
    mdb_cursor_close (jobs);
    mdb_cursor_close (tuples);
    mdb_txn_abort (txn);
    return 0;
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
    free (self);
    *state_p = NULL;
}

static const store_ops_t s_lmdb_ops = {
    .name = "lmdb",
    .durable = true,
    .begin = s_begin,
    .commit = s_commit,
    .put_job = s_put_job,
    .put_batch = s_put_batch,
    .lease = s_lease,
    .requeue = s_requeue,
    .remove = s_remove,
    .read = s_read,
    .batch_get = s_batch_get,
    .batch_put = s_batch_put,
    .load = s_load,
    .destroy = s_destroy,
};

static int
s_open_dbs (lmdb_t *self)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin (self->env, NULL, 0, &txn);
    if (rc)
        return rc;
    if ((rc = mdb_dbi_open (txn, "tuples", MDB_CREATE, &self->tuples))
    ||  (rc = mdb_dbi_open (txn, "leases", MDB_CREATE, &self->leases))
    ||  (rc = mdb_dbi_open (txn, "jobs", MDB_CREATE, &self->jobs))
    ||  (rc = mdb_dbi_open (txn, "batches", MDB_CREATE, &self->batches))
    ||  (rc = mdb_dbi_open (txn, "batch_order", MDB_CREATE, &self->batch_order))) {
        mdb_txn_abort (txn);
        return rc;
    }
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
        rc = mdb_env_set_maxdbs (self->env, 8);
    if (rc == 0)
        rc = mdb_env_set_mapsize (self->env, (size_t) map_size);
    if (rc == 0)
        rc = mdb_env_open (self->env, dir, 0, 0600);
    if (rc == 0)
        rc = s_open_dbs (self);
    size_t leased = 0;
    if (rc == 0) {
        int recovered = s_recover_leases (self, &leased);
        if (recovered)
            rc = -recovered;
    }
    if (rc) {
        log_error ("store: cannot open LMDB in %s: %s", dir, mdb_strerror (rc));
        void *state = self;
        s_destroy (&state);
        return NULL;
    }
    if (leased)
        log_info ("store: %zu tuples were leased when the broker stopped; queued again "
                  "with the attempt counted", leased);
    return store_new (&s_lmdb_ops, self);
}
