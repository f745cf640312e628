//  seen_lmdb.c -- see seen_lmdb.h.  Three databases: "tuples" holds each
//  job's ranges (seen_range.h), "jobs" a count of tuples per job, "meta"
//  the output mark.  One write transaction per batch.
//
//  Results come in runs of consecutive ids, so the range at hand is kept
//  in memory while it grows (with the first id held after it, so a new id
//  below that is known not to be held): a batch of 1,024 fresh tuples is
//  one LMDB lookup and one put, not 1,024 of each.
#include "sink/seen_lmdb.h"
#include "sink/seen_range.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
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
#define SEEN_MARK_KEY   "mark"

struct seen_lmdb {
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
        seen_range_t held;      //  valid false: none
        bool     dirty;         //  grown since it was read or written
        uint64_t next;          //  first id held after it (UINT64_MAX: none)
    } range;
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

static int
s_open_env (seen_lmdb_t *self, const char *dir, bool sync)
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

seen_lmdb_t *
seen_lmdb_open (const char *dir, bool sync, char *err, size_t errlen)
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
    seen_lmdb_t *self = calloc (1, sizeof *self);
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
        seen_lmdb_destroy (&self);
        return NULL;
    }
    int rc = s_open_env (self, dir, sync);
    if (rc) {
        snprintf (err, errlen, "cannot open the index in %s: %s", dir, mdb_strerror (rc));
        seen_lmdb_destroy (&self);
        return NULL;
    }
    return self;
}

void
seen_lmdb_destroy (seen_lmdb_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    seen_lmdb_t *self = *self_p;
    seen_lmdb_abort (self);
    if (self->env)
        mdb_env_close (self->env);
    if (self->lock_fd >= 0)
        close (self->lock_fd);      //  releases the flock
    free (self->job);
    free (self);
    *self_p = NULL;
}

//  Write the range at hand back to "tuples" if it grew; forget it.
static int
s_flush_range (seen_lmdb_t *self)
{
    bool dirty = self->range.held.valid && self->range.dirty;
    self->range.held.valid = false;
    if (!dirty)
        return 0;
    int rc = seen_range_write (self->txn, self->tuples, self->prefix, self->prefix_len,
                               &self->range.held);
    return rc? s_errno (rc): 0;
}

//  Write the job at hand's range and count back.
static int
s_flush_job (seen_lmdb_t *self)
{
    int rc = s_flush_range (self);
    if (rc)
        return rc;
    if (!self->job_dirty)
        return 0;
    uint8_t count[8];
    seen_range_put64 (count, self->job_count);
    MDB_val key = { self->prefix_len, self->prefix };
    MDB_val val = { sizeof count, count };
    rc = mdb_put (self->txn, self->jobs, &key, &val, 0);
    self->job_dirty = false;
    return rc? s_errno (rc): 0;
}

//  Make job the job at hand: its prefix and count (results of a batch share
//  one job, so this is one lookup per batch).
static int
s_switch_job (seen_lmdb_t *self, const char *job)
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
    self->prefix_len = seen_range_prefix (job, self->prefix);
    MDB_val key = { self->prefix_len, self->prefix }, val;
    rc = mdb_get (self->txn, self->jobs, &key, &val);
    if (rc && rc != MDB_NOTFOUND) {
        zstr_free (&self->job);
        return s_errno (rc);
    }
    self->job_count = rc == 0 && val.mv_size == 8? seen_range_get64 (val.mv_data): 0;
    return 0;
}

//  Double the map when it is 3/4 full (only outside a transaction).
static int
s_grow_map (seen_lmdb_t *self)
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
seen_lmdb_begin (seen_lmdb_t *self)
{
    assert (self && !self->txn);
    self->fresh_jobs = 0;
    int rc = s_grow_map (self);
    if (rc)
        return rc;
    rc = mdb_txn_begin (self->env, NULL, 0, &self->txn);
    if (rc) {
        self->txn = NULL;
        return s_errno (rc);
    }
    zstr_free (&self->job);
    self->job_dirty = false;
    self->range.held.valid = false;
    return 0;
}

//  tuple, not held, into the range at hand: the range before it grows when
//  it follows on with the same status, else a range of its own starts.
static void
s_take_range (seen_lmdb_t *self, uint64_t tuple, uint8_t status, const seen_range_t *before,
              uint64_t next)
{
    bool grows = before->valid && before->last + 1 == tuple && before->status == status;
    self->range.held = (seen_range_t) { true, grows? before->first: tuple, tuple, status };
    self->range.dirty = true;
    self->range.next = next;
}

int
seen_lmdb_insert (seen_lmdb_t *self, const char *job, uint64_t tuple, bool failed,
                  bool *held_failed)
{
    assert (self && self->txn && held_failed);
    int rc = s_switch_job (self, job);
    if (rc)
        return rc;
    uint8_t status = failed? SEEN_FAILED: SEEN_OK;
    seen_range_t *range = &self->range.held;
    if (range->valid && tuple >= range->first && tuple <= range->last) {
        *held_failed = range->status == SEEN_FAILED;
        return 0;
    }
    if (range->valid && range->last != UINT64_MAX && tuple == range->last + 1
    &&  tuple < self->range.next && status == range->status) {
        range->last = tuple;                //  the common case: no LMDB call
        self->range.dirty = true;
    }
    else {
        if ((rc = s_flush_range (self)) != 0)
            return rc;
        seen_range_t before;
        uint64_t next;
        bool held;
        uint8_t held_status = SEEN_OK;
        rc = seen_range_find (self->txn, self->tuples, self->prefix, self->prefix_len,
                              tuple, &held, &held_status, &before, &next);
        if (rc)
            return s_errno (rc);
        if (held) {
            *held_failed = held_status == SEEN_FAILED;
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

int
seen_lmdb_commit (seen_lmdb_t *self, const seen_mark_t *mark)
{
    assert (self && self->txn);
    int rc = s_flush_job (self);
    if (rc == 0 && mark) {
        uint8_t bytes[24];
        seen_range_put64 (bytes, mark->dev);
        seen_range_put64 (bytes + 8, mark->ino);
        seen_range_put64 (bytes + 16, mark->size);
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
seen_lmdb_abort (seen_lmdb_t *self)
{
    assert (self);
    if (!self->txn)
        return;
    mdb_txn_abort (self->txn);
    self->txn = NULL;
    zstr_free (&self->job);         //  its count may hold aborted inserts
    self->range.held.valid = false;
}

int
seen_lmdb_new_jobs (const seen_lmdb_t *self)
{
    assert (self);
    return self->txn? self->fresh_jobs: 0;
}

//  A read of the index: inside the open batch, or in its own read-only
//  transaction.  Returns the transaction to use, or NULL.
static MDB_txn *
s_reader (seen_lmdb_t *self)
{
    if (self->txn)
        return self->txn;
    MDB_txn *txn = NULL;
    return mdb_txn_begin (self->env, NULL, MDB_RDONLY, &txn)? NULL: txn;
}

static void
s_reader_end (seen_lmdb_t *self, MDB_txn *txn)
{
    if (txn && txn != self->txn)
        mdb_txn_abort (txn);
}

bool
seen_lmdb_lookup (seen_lmdb_t *self, const char *job, uint64_t tuple, bool *failed)
{
    assert (self && job);
    //  The range at hand is the batch's: written first, so the read sees it.
    if (self->txn && s_flush_range (self))
        return false;
    uint8_t prefix[SEEN_PREFIX_MAX];
    size_t len = seen_range_prefix (job, prefix);
    MDB_txn *txn = s_reader (self);
    seen_range_t before;
    uint64_t next;
    bool found = false;
    uint8_t status = SEEN_OK;
    if (txn && seen_range_find (txn, self->tuples, prefix, len, tuple, &found, &status,
                                &before, &next))
        found = false;
    if (found && failed)
        *failed = status == SEEN_FAILED;
    s_reader_end (self, txn);
    return found;
}

int
seen_lmdb_mark (seen_lmdb_t *self, seen_mark_t *mark)
{
    assert (self && mark);
    MDB_val key = { strlen (SEEN_MARK_KEY), SEEN_MARK_KEY }, val;
    MDB_txn *txn = s_reader (self);
    int rc = txn? mdb_get (txn, self->meta, &key, &val): EIO;
    if (rc == 0 && val.mv_size == 24) {
        const uint8_t *p = val.mv_data;
        *mark = (seen_mark_t) { seen_range_get64 (p), seen_range_get64 (p + 8),
                                seen_range_get64 (p + 16) };
    }
    s_reader_end (self, txn);
    if (rc == MDB_NOTFOUND || (rc == 0 && val.mv_size != 24))
        return -ENOENT;
    return rc? s_errno (rc): 0;
}

int64_t
seen_lmdb_forget (seen_lmdb_t *self, const char *job)
{
    assert (self && job && !self->txn);
    uint8_t prefix[SEEN_PREFIX_MAX];
    size_t len = seen_range_prefix (job, prefix);
    MDB_txn *txn = NULL;
    int64_t forgotten = 0;
    int rc = mdb_txn_begin (self->env, NULL, 0, &txn);
    if (rc == 0)
        rc = seen_range_delete (txn, self->tuples, prefix, len, &forgotten);
    if (rc == 0) {
        MDB_val key = { len, prefix };
        rc = mdb_del (txn, self->jobs, &key, NULL);
        rc = rc == MDB_NOTFOUND? 0: rc;
    }
    if (rc == 0 && txn) {
        rc = mdb_txn_commit (txn);
        txn = NULL;
    }
    if (txn)
        mdb_txn_abort (txn);
    return rc? s_errno (rc): forgotten;
}

size_t
seen_lmdb_jobs (seen_lmdb_t *self)
{
    assert (self);
    MDB_stat stat;
    MDB_txn *txn = s_reader (self);
    bool ok = txn && mdb_stat (txn, self->jobs, &stat) == 0;
    s_reader_end (self, txn);
    return ok? stat.ms_entries: 0;
}

//  Tuples held over all jobs: the sum of "jobs"' counts (a key of
//  "tuples" may be a range of many).
size_t
seen_lmdb_size (seen_lmdb_t *self)
{
    assert (self);
    MDB_txn *txn = s_reader (self);
    MDB_cursor *cursor = NULL;
    size_t total = 0;
    if (txn && mdb_cursor_open (txn, self->jobs, &cursor) == 0) {
        MDB_val key, val;
        for (int rc = mdb_cursor_get (cursor, &key, &val, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT))
            total += val.mv_size == 8? (size_t) seen_range_get64 (val.mv_data): 0;
        mdb_cursor_close (cursor);
    }
    s_reader_end (self, txn);
    return total;
}
