//  seen.c -- see seen.h.  In memory: job name -> idset of tuple ids, and an
//  undo list for the open batch.  In LMDB: ranges of a job's tuples held
//  with one status, one key per range in "tuples" (job, NUL, first tuple
//  id big-endian: a job's ranges sort together, so a job can be forgotten
//  with one cursor sweep) whose value is the last id (big-endian) and the
//  status byte (SEEN_FAILED, or SEEN_OK); indexes written before ranges
//  have one key per tuple whose value is the status byte alone, or empty
//  (before statuses were kept: ok), read as a range of one.  A count per
//  job in "jobs", the output mark in "meta".  One write transaction per
//  batch.
//
//  Results come in runs of consecutive ids, so the range at hand is kept
//  in memory while it grows (with the first id held after it, so a new id
//  below that is known not to be held): a batch of 1,024 fresh tuples is
//  one LMDB lookup and one put, not 1,024 of each.
#include "sink/seen.h"

#include "sink/idset.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

//  Address space reserved for the map at first; the file grows only as it
//  fills, and the map doubles when a batch starts with it 3/4 full (a batch
//  of 8,192 results needs well under a MiB).
#ifndef SEEN_MAP_SIZE                           //  tests may start smaller
#define SEEN_MAP_SIZE   ((size_t) 1 << 30)      //  1 GiB
#endif
//  Jobs whose name (plus NUL and id) would not fit an LMDB key (511 bytes)
//  are keyed by a hash of the name instead.
#define SEEN_JOB_MAX    400
#define SEEN_HASH_SIZE  32
#define SEEN_PREFIX_MAX (SEEN_JOB_MAX + 2)      //  > 1 + hash + 1 too
#define SEEN_MARK_KEY   "mark"
#define SEEN_OK         0       //  status byte of a held result
#define SEEN_FAILED     1
#define SEEN_RANGE_SIZE 9       //  a range's value: last id, status

typedef struct {
    idset_t  *set;
    uint64_t  tuple;
} undo_t;

struct seen {
    //  In memory
    zhashx_t *sets;             //  job -> idset_t
    undo_t   *undo;             //  inserts of the open batch
    size_t    undo_count;
    size_t    undo_capacity;
    seen_mark_t mem_mark;
    bool      has_mark;
    //  In LMDB
    MDB_env  *env;
    MDB_dbi   tuples, jobs, meta;
    MDB_txn  *txn;              //  the open batch's write transaction
    int       lock_fd;
    uint8_t   prefix[SEEN_PREFIX_MAX];  //  key prefix of the job at hand
    size_t    prefix_len;
    char     *job;              //  the job at hand in the batch
    uint64_t  job_count;        //  its tuples, with the batch's inserts
    bool      job_dirty;
    struct {                    //  the range at hand, of the job at hand
        bool     valid;
        bool     dirty;         //  grown since it was read or written
        uint64_t first, last;
        uint64_t next;          //  first id held after it (UINT64_MAX: none)
        uint8_t  status;
    } range;
    //  Both
    bool      batch;
    int       fresh_jobs;       //  jobs that got their first tuple in the batch
};

//  LMDB's return codes as -errno.
static int
s_errno (int rc)
{
    if (rc == MDB_MAP_FULL)
        return -ENOSPC;
    if (rc > 0)
        return -rc;
    return -EIO;
}

static void
s_set_free (void **item_p)
{
    idset_destroy ((idset_t **) item_p);
}

seen_t *
seen_new (void)
{
    seen_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->lock_fd = -1;
    self->sets = zhashx_new ();
    if (!self->sets) {
        free (self);
        return NULL;
    }
    zhashx_set_destructor (self->sets, s_set_free);
    return self;
}

static int
s_open_env (seen_t *self, const char *dir, bool sync)
{
    int rc = mdb_env_create (&self->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs (self->env, 3);
    if (rc == 0)
        rc = mdb_env_set_mapsize (self->env, SEEN_MAP_SIZE);
    //  Without sync, commits reach the page cache, which survives a killed
    //  process; MDB_NOMETASYNC would still sync data pages each commit.
    if (rc == 0)
        rc = mdb_env_open (self->env, dir, sync? 0: MDB_NOSYNC, 0600);
    MDB_txn *txn = NULL;
    if (rc == 0)
        rc = mdb_txn_begin (self->env, NULL, 0, &txn);
    if (rc == 0)
        rc = mdb_dbi_open (txn, "tuples", MDB_CREATE, &self->tuples);
    if (rc == 0)
        rc = mdb_dbi_open (txn, "jobs", MDB_CREATE, &self->jobs);
    if (rc == 0)
        rc = mdb_dbi_open (txn, "meta", MDB_CREATE, &self->meta);
    if (rc == 0) {
        rc = mdb_txn_commit (txn);
        txn = NULL;
    }
    if (txn)
        mdb_txn_abort (txn);
    return rc;
}

seen_t *
seen_open (const char *dir, bool sync, char *err, size_t errlen)
{
    assert (dir);
    if (mkdir (dir, 0700) && errno != EEXIST) {
        snprintf (err, errlen, "cannot make data directory %s: %s", dir, strerror (errno));
        return NULL;
    }
    struct stat st;
    if (stat (dir, &st) || !S_ISDIR (st.st_mode)) {
        snprintf (err, errlen, "data directory %s is not a directory", dir);
        return NULL;
    }
    seen_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    //  LMDB lets several processes share an environment; two sinks sharing
    //  an index would each believe the other's results written to its file.
    char path[4096];
    snprintf (path, sizeof path, "%s/sink.lock", dir);
    self->lock_fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (self->lock_fd < 0 || flock (self->lock_fd, LOCK_EX | LOCK_NB)) {
        snprintf (err, errlen, errno == EWOULDBLOCK
                  ? "data directory %s is in use by another sink"
                  : "cannot lock data directory %s: %s", dir, strerror (errno));
        seen_destroy (&self);
        return NULL;
    }
    int rc = s_open_env (self, dir, sync);
    if (rc) {
        snprintf (err, errlen, "cannot open the index in %s: %s", dir, mdb_strerror (rc));
        seen_destroy (&self);
        return NULL;
    }
    return self;
}

void
seen_destroy (seen_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    seen_t *self = *self_p;
    if (self->batch)
        seen_abort (self);
    zhashx_destroy (&self->sets);
    free (self->undo);
    if (self->env)
        mdb_env_close (self->env);
    if (self->lock_fd >= 0)
        close (self->lock_fd);      //  releases the flock
    free (self->job);
    free (self);
    *self_p = NULL;
}

bool
seen_durable (const seen_t *self)
{
    assert (self);
    return self->env != NULL;
}

//  The key prefix of a job: its name and a NUL, or for long names a NUL,
//  a BLAKE2b hash of the name and a NUL (no name starts with NUL, and the
//  empty name's prefix is one byte, so the two kinds never meet).
static size_t
s_prefix (const char *job, uint8_t *prefix)
{
    size_t len = strlen (job);
    if (len <= SEEN_JOB_MAX) {
        memcpy (prefix, job, len + 1);
        return len + 1;
    }
    prefix[0] = 0;
    crypto_generichash (prefix + 1, SEEN_HASH_SIZE, (const uint8_t *) job, len, NULL, 0);
    prefix[1 + SEEN_HASH_SIZE] = 0;
    return SEEN_HASH_SIZE + 2;
}

static void
s_put64 (uint8_t *p, uint64_t value)
{
    for (int i = 7; i >= 0; i--, value >>= 8)
        p[i] = (uint8_t) value;
}

static uint64_t
s_get64 (const uint8_t *p)
{
    uint64_t value = 0;
    for (int i = 0; i < 8; i++)
        value = value << 8 | p[i];
    return value;
}

//  Write the range at hand back to "tuples" if it grew; forget it.
static int
s_flush_range (seen_t *self)
{
    bool dirty = self->range.valid && self->range.dirty;
    self->range.valid = false;
    if (!dirty)
        return 0;
    uint8_t bytes[SEEN_PREFIX_MAX + 8], value[SEEN_RANGE_SIZE];
    memcpy (bytes, self->prefix, self->prefix_len);
    s_put64 (bytes + self->prefix_len, self->range.first);
    s_put64 (value, self->range.last);
    value[8] = self->range.status;
    MDB_val key = { self->prefix_len + 8, bytes }, val = { sizeof value, value };
    int rc = mdb_put (self->txn, self->tuples, &key, &val, 0);
    return rc? s_errno (rc): 0;
}

//  Write the job at hand's range and count back.
static int
s_flush_job (seen_t *self)
{
    int rc = s_flush_range (self);
    if (rc)
        return rc;
    if (!self->job_dirty)
        return 0;
    uint8_t count[8];
    s_put64 (count, self->job_count);
    MDB_val key = { self->prefix_len, self->prefix };
    MDB_val val = { sizeof count, count };
    rc = mdb_put (self->txn, self->jobs, &key, &val, 0);
    self->job_dirty = false;
    return rc? s_errno (rc): 0;
}

//  Make job the job at hand: its prefix and count (results of a batch share
//  one job, so this is one lookup per batch).
static int
s_switch_job (seen_t *self, const char *job)
{
    if (self->job && !strcmp (self->job, job))
        return 0;
    int rc = s_flush_job (self);
    if (rc)
        return rc;
    free (self->job);
    self->job = strdup (job);
    if (!self->job)
        return -ENOMEM;
    self->prefix_len = s_prefix (job, self->prefix);
    MDB_val key = { self->prefix_len, self->prefix }, val;
    rc = mdb_get (self->txn, self->jobs, &key, &val);
    if (rc && rc != MDB_NOTFOUND) {
        zstr_free (&self->job);
        return s_errno (rc);
    }
    self->job_count = rc == 0 && val.mv_size == 8? s_get64 (val.mv_data): 0;
    return 0;
}

//  Double the map when it is 3/4 full (only outside a transaction).
static int
s_grow_map (seen_t *self)
{
    MDB_envinfo info;
    MDB_stat stat;
    if (mdb_env_info (self->env, &info) || mdb_env_stat (self->env, &stat))
        return 0;
    size_t used = (info.me_last_pgno + 1) * (size_t) stat.ms_psize;
    if (used < info.me_mapsize / 4 * 3)
        return 0;
    int rc = mdb_env_set_mapsize (self->env, info.me_mapsize * 2);
    return rc? s_errno (rc): 0;
}

int
seen_begin (seen_t *self)
{
    assert (self && !self->batch);
    self->fresh_jobs = 0;
    self->undo_count = 0;
    if (self->env) {
        int rc = s_grow_map (self);
        if (rc)
            return rc;
        rc = mdb_txn_begin (self->env, NULL, 0, &self->txn);
        if (rc)
            return s_errno (rc);
        zstr_free (&self->job);
        self->job_dirty = false;
        self->range.valid = false;
    }
    self->batch = true;
    return 0;
}

//  A held value's status: after the last id in a range, alone in a key of
//  one tuple (older indexes), or empty (older still: ok).
static uint8_t
s_status (const MDB_val *val)
{
    const uint8_t *bytes = val->mv_data;
    if (val->mv_size >= SEEN_RANGE_SIZE)
        return bytes[8];
    return val->mv_size >= 1? bytes[0]: SEEN_OK;
}

//  The last id of the range a key starts.
static uint64_t
s_last (const MDB_val *key, const MDB_val *val)
{
    if (val->mv_size >= SEEN_RANGE_SIZE)
        return s_get64 (val->mv_data);
    return s_get64 ((const uint8_t *) key->mv_data + key->mv_size - 8);
}

//  True if key is one of prefix's (a range of the job at hand's kind).
static bool
s_of_job (const MDB_val *key, const uint8_t *prefix, size_t len)
{
    return key->mv_size == len + 8 && !memcmp (key->mv_data, prefix, len);
}

//  Where tuple stands among prefix's ranges in txn: 1 if held (its status
//  in *status), 0 if not; either way *before is the range that starts
//  below it (valid false if none) and *next the first id held above it.
typedef struct {
    bool     valid;
    uint64_t first, last;
    uint8_t  status;
} range_t;

static int
s_find (seen_t *self, MDB_txn *txn, const uint8_t *prefix, size_t len, uint64_t tuple,
        uint8_t *status, range_t *before, uint64_t *next)
{
    MDB_cursor *cursor = NULL;
    int rc = mdb_cursor_open (txn, self->tuples, &cursor);
    if (rc)
        return s_errno (rc);
    uint8_t bytes[SEEN_PREFIX_MAX + 8];
    memcpy (bytes, prefix, len);
    s_put64 (bytes + len, tuple);
    MDB_val key = { len + 8, bytes }, val;
    *before = (range_t) { 0 };
    *next = UINT64_MAX;
    int held = 0;
    rc = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE);
    if (rc == 0 && s_of_job (&key, prefix, len)) {
        uint64_t first = s_get64 ((const uint8_t *) key.mv_data + len);
        if (first == tuple) {
            *status = s_status (&val);
            held = 1;
        }
        else
            *next = first;
    }
    if (!held) {
        rc = mdb_cursor_get (cursor, &key, &val, rc == 0? MDB_PREV: MDB_LAST);
        if (rc == 0 && s_of_job (&key, prefix, len)) {
            *before = (range_t) { true, s_get64 ((const uint8_t *) key.mv_data + len),
                                  s_last (&key, &val), s_status (&val) };
            if (before->last >= tuple) {
                *status = before->status;
                held = 1;
            }
        }
    }
    mdb_cursor_close (cursor);
    return held;
}

//  tuple, not held, into the range at hand: the range before it grows when
//  it follows on with the same status, else a range of its own starts.
static void
s_take_range (seen_t *self, uint64_t tuple, uint8_t status, const range_t *before,
              uint64_t next)
{
    bool grows = before->valid && before->last + 1 == tuple && before->status == status;
    self->range.valid = self->range.dirty = true;
    self->range.first = grows? before->first: tuple;
    self->range.last = tuple;
    self->range.next = next;
    self->range.status = status;
}

static int
s_insert_lmdb (seen_t *self, const char *job, uint64_t tuple, bool failed,
               bool *held_failed)
{
    int rc = s_switch_job (self, job);
    if (rc)
        return rc;
    uint8_t status = failed? SEEN_FAILED: SEEN_OK;
    if (self->range.valid && tuple >= self->range.first && tuple <= self->range.last) {
        *held_failed = self->range.status == SEEN_FAILED;
        return 0;
    }
    if (self->range.valid && self->range.last != UINT64_MAX && tuple == self->range.last + 1
    &&  tuple < self->range.next && status == self->range.status) {
        self->range.last = tuple;           //  the common case: no LMDB call
        self->range.dirty = true;
    }
    else {
        if ((rc = s_flush_range (self)) != 0)
            return rc;
        range_t before;
        uint64_t next;
        uint8_t held = SEEN_OK;
        rc = s_find (self, self->txn, self->prefix, self->prefix_len, tuple, &held,
                     &before, &next);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            *held_failed = held == SEEN_FAILED;
            return 0;
        }
        s_take_range (self, tuple, status, &before, next);
    }
    *held_failed = failed;
    if (self->job_count++ == 0)
        self->fresh_jobs++;
    self->job_dirty = true;
    return 1;
}

static int
s_insert_memory (seen_t *self, const char *job, uint64_t tuple, bool failed,
                 bool *held_failed)
{
    if (self->undo_count == self->undo_capacity) {
        size_t capacity = self->undo_capacity? self->undo_capacity * 2: 256;
        undo_t *undo = realloc (self->undo, capacity * sizeof *undo);
        if (!undo)
            return -ENOMEM;
        self->undo = undo;
        self->undo_capacity = capacity;
    }
    idset_t *set = zhashx_lookup (self->sets, job);
    if (!set) {
        set = idset_new ();
        if (!set)
            return -ENOMEM;
        if (zhashx_insert (self->sets, job, set)) {
            idset_destroy (&set);
            return -ENOMEM;
        }
    }
    size_t before = idset_size (set);
    uint8_t status = failed? SEEN_FAILED: SEEN_OK;
    int rc = idset_insert (set, tuple, status);
    if (rc == 1) {
        self->undo[self->undo_count++] = (undo_t) { set, tuple };
        self->fresh_jobs += before == 0;
    }
    else
    if (rc == 0)
        idset_get (set, tuple, &status);
    *held_failed = status == SEEN_FAILED;
    return rc;
}

int
seen_insert (seen_t *self, const char *job, uint64_t tuple, bool failed,
             bool *held_failed)
{
    assert (self && job);
    bool held = failed;
    if (!held_failed)
        held_failed = &held;
    if (!self->batch) {
        int rc = seen_begin (self);
        if (rc == 0)
            rc = seen_insert (self, job, tuple, failed, held_failed);
        if (rc < 0)
            seen_abort (self);
        else {
            int committed = seen_commit (self, NULL);
            rc = committed < 0? committed: rc;
        }
        return rc;
    }
    return self->env? s_insert_lmdb (self, job, tuple, failed, held_failed)
                    : s_insert_memory (self, job, tuple, failed, held_failed);
}

int
seen_commit (seen_t *self, const seen_mark_t *mark)
{
    assert (self && self->batch);
    self->batch = false;
    if (!self->env) {
        if (mark) {
            self->mem_mark = *mark;
            self->has_mark = true;
        }
        return self->fresh_jobs;
    }
    int rc = s_flush_job (self);
    if (rc == 0 && mark) {
        uint8_t bytes[24];
        s_put64 (bytes, mark->dev);
        s_put64 (bytes + 8, mark->ino);
        s_put64 (bytes + 16, mark->size);
        MDB_val key = { strlen (SEEN_MARK_KEY), SEEN_MARK_KEY };
        MDB_val val = { sizeof bytes, bytes };
        int put = mdb_put (self->txn, self->meta, &key, &val, 0);
        rc = put? s_errno (put): 0;
    }
    if (rc) {
        mdb_txn_abort (self->txn);
        self->txn = NULL;
        return rc;
    }
    int committed = mdb_txn_commit (self->txn);
    self->txn = NULL;
    return committed? s_errno (committed): self->fresh_jobs;
}

void
seen_abort (seen_t *self)
{
    assert (self);
    if (!self->batch)
        return;
    self->batch = false;
    if (self->env) {
        mdb_txn_abort (self->txn);
        self->txn = NULL;
        zstr_free (&self->job);     //  its count may hold aborted inserts
        self->range.valid = false;
        return;
    }
    for (size_t i = 0; i < self->undo_count; i++)
        idset_remove (self->undo[i].set, self->undo[i].tuple);
    self->undo_count = 0;
}

int
seen_batch_new_jobs (const seen_t *self)
{
    assert (self);
    return self->batch? self->fresh_jobs: 0;
}

//  A read of the index: inside the open batch, or in its own read-only
//  transaction.  Returns the transaction to use, or NULL.
static MDB_txn *
s_reader (seen_t *self)
{
    if (self->txn)
        return self->txn;
    MDB_txn *txn = NULL;
    return mdb_txn_begin (self->env, NULL, MDB_RDONLY, &txn)? NULL: txn;
}

static void
s_reader_end (seen_t *self, MDB_txn *txn)
{
    if (txn && txn != self->txn)
        mdb_txn_abort (txn);
}

bool
seen_contains (seen_t *self, const char *job, uint64_t tuple)
{
    return seen_lookup (self, job, tuple, NULL);
}

bool
seen_lookup (seen_t *self, const char *job, uint64_t tuple, bool *failed)
{
    assert (self && job);
    if (!self->env) {
        idset_t *set = zhashx_lookup (self->sets, job);
        uint8_t status = SEEN_OK;
        bool found = set && idset_get (set, tuple, &status);
        if (found && failed)
            *failed = status == SEEN_FAILED;
        return found;
    }
    //  The range at hand is the batch's: written first, so the read sees it.
    if (self->txn && s_flush_range (self))
        return false;
    uint8_t prefix[SEEN_PREFIX_MAX];
    size_t len = s_prefix (job, prefix);
    MDB_txn *txn = s_reader (self);
    range_t before;
    uint64_t next;
    uint8_t status = SEEN_OK;
    bool found = txn && s_find (self, txn, prefix, len, tuple, &status, &before, &next) == 1;
    if (found && failed)
        *failed = status == SEEN_FAILED;
    s_reader_end (self, txn);
    return found;
}

int
seen_mark (seen_t *self, seen_mark_t *mark)
{
    assert (self && mark);
    if (!self->env) {
        *mark = self->mem_mark;
        return self->has_mark? 0: -ENOENT;
    }
    MDB_val key = { strlen (SEEN_MARK_KEY), SEEN_MARK_KEY }, val;
    MDB_txn *txn = s_reader (self);
    int rc = txn? mdb_get (txn, self->meta, &key, &val): EIO;
    if (rc == 0 && val.mv_size == 24) {
        const uint8_t *p = val.mv_data;
        *mark = (seen_mark_t) { s_get64 (p), s_get64 (p + 8), s_get64 (p + 16) };
    }
    s_reader_end (self, txn);
    if (rc == MDB_NOTFOUND || (rc == 0 && val.mv_size != 24))
        return -ENOENT;
    return rc? s_errno (rc): 0;
}

static int64_t
s_forget_lmdb (seen_t *self, const char *job)
{
    uint8_t prefix[SEEN_PREFIX_MAX];
    size_t len = s_prefix (job, prefix);
    MDB_txn *txn = NULL;
    MDB_cursor *cursor = NULL;
    int rc = mdb_txn_begin (self->env, NULL, 0, &txn);
    if (rc == 0)
        rc = mdb_cursor_open (txn, self->tuples, &cursor);
    int64_t forgotten = 0;
    MDB_val key = { len, prefix }, val;
    if (rc == 0)
        rc = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE);
    while (rc == 0 && s_of_job (&key, prefix, len)) {
        forgotten += (int64_t) (s_last (&key, &val)
                                - s_get64 ((const uint8_t *) key.mv_data + len) + 1);
        rc = mdb_cursor_del (cursor, 0);
        if (rc == 0)
            rc = mdb_cursor_get (cursor, &key, &val, MDB_GET_CURRENT);
    }
    if (rc == MDB_NOTFOUND || rc == 0 || rc == EINVAL) {
        //  Past the last key (GET_CURRENT after deleting it) or past the job.
        key = (MDB_val) { len, prefix };
        rc = mdb_del (txn, self->jobs, &key, NULL);
        rc = rc == MDB_NOTFOUND? 0: rc;
    }
    if (cursor)
        mdb_cursor_close (cursor);
    if (rc == 0 && txn) {
        rc = mdb_txn_commit (txn);
        txn = NULL;
    }
    if (txn)
        mdb_txn_abort (txn);
    return rc? s_errno (rc): forgotten;
}

int64_t
seen_forget (seen_t *self, const char *job)
{
    assert (self && job && !self->batch);
    if (self->env)
        return s_forget_lmdb (self, job);
    idset_t *set = zhashx_lookup (self->sets, job);
    int64_t forgotten = set? (int64_t) idset_size (set): 0;
    zhashx_delete (self->sets, job);
    return forgotten;
}

static size_t
s_entries (seen_t *self, MDB_dbi dbi)
{
    MDB_stat stat;
    MDB_txn *txn = s_reader (self);
    bool ok = txn && mdb_stat (txn, dbi, &stat) == 0;
    s_reader_end (self, txn);
    return ok? stat.ms_entries: 0;
}

//  Tuples held over all jobs: the sum of "jobs"' counts (a key of
//  "tuples" may be a range of many).
static size_t
s_tuples (seen_t *self)
{
    MDB_txn *txn = s_reader (self);
    MDB_cursor *cursor = NULL;
    size_t total = 0;
    if (txn && mdb_cursor_open (txn, self->jobs, &cursor) == 0) {
        MDB_val key, val;
        for (int rc = mdb_cursor_get (cursor, &key, &val, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT))
            total += val.mv_size == 8? (size_t) s_get64 (val.mv_data): 0;
        mdb_cursor_close (cursor);
    }
    s_reader_end (self, txn);
    return total;
}

size_t
seen_size (seen_t *self)
{
    assert (self);
    if (self->env)
        return s_tuples (self);
    size_t size = 0;
    for (idset_t *set = zhashx_first (self->sets); set; set = zhashx_next (self->sets))
        size += idset_size (set);
    return size;
}

size_t
seen_jobs (seen_t *self)
{
    assert (self);
    if (self->env)
        return s_entries (self, self->jobs);
    size_t jobs = 0;
    for (idset_t *set = zhashx_first (self->sets); set; set = zhashx_next (self->sets))
        jobs += idset_size (set) > 0;
    return jobs;
}
