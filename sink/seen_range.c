//  seen_range.c -- see seen_range.h.  Pure key and value encoding, and the
//  two cursor walks over one job's ranges; the transaction, the job at
//  hand and the range at hand belong to seen_lmdb.c.
#include "sink/seen_range.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#define SEEN_RANGE_SIZE 9       //  a range's value: last id, status

//  The key prefix of a job: its name and a NUL, or for long names a NUL,
//  a BLAKE2b hash of the name and a NUL (no name starts with NUL, and the
//  empty name's prefix is one byte, so the two kinds never meet).
size_t
seen_range_prefix (const char *job, uint8_t *prefix)
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

void
seen_range_put64 (uint8_t *p, uint64_t value)
{
    for (int i = 7; i >= 0; i--, value >>= 8)
        p[i] = (uint8_t) value;
}

uint64_t
seen_range_get64 (const uint8_t *p)
{
    uint64_t value = 0;
    for (int i = 0; i < 8; i++)
        value = value << 8 | p[i];
    return value;
}

int
seen_range_write (MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix, size_t len,
                  const seen_range_t *range)
{
    uint8_t bytes[SEEN_PREFIX_MAX + 8], value[SEEN_RANGE_SIZE];
    memcpy (bytes, prefix, len);
    seen_range_put64 (bytes + len, range->first);
    seen_range_put64 (value, range->last);
    value[8] = range->status;
    MDB_val key = { len + 8, bytes }, val = { sizeof value, value };
    return mdb_put (txn, dbi, &key, &val, 0);
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
        return seen_range_get64 (val->mv_data);
    return seen_range_get64 ((const uint8_t *) key->mv_data + key->mv_size - 8);
}

//  True if key is one of prefix's (a range of the job at hand's kind).
static bool
s_of_job (const MDB_val *key, const uint8_t *prefix, size_t len)
{
    return key->mv_size == len + 8 && !memcmp (key->mv_data, prefix, len);
}

int
seen_range_find (MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix, size_t len,
                 uint64_t tuple, bool *held, uint8_t *status,
                 seen_range_t *before, uint64_t *next)
{
    MDB_cursor *cursor = NULL;
    int rc = mdb_cursor_open (txn, dbi, &cursor);
    if (rc)
        return rc;
    uint8_t bytes[SEEN_PREFIX_MAX + 8];
    memcpy (bytes, prefix, len);
    seen_range_put64 (bytes + len, tuple);
    MDB_val key = { len + 8, bytes }, val;
    *before = (seen_range_t) { 0 };
    *next = UINT64_MAX;
    *held = false;
    rc = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE);
    if (rc == 0 && s_of_job (&key, prefix, len)) {
        uint64_t first = seen_range_get64 ((const uint8_t *) key.mv_data + len);
        if (first == tuple) {
            *status = s_status (&val);
            *held = true;
        }
        else
            *next = first;
    }
    if (!*held) {
        rc = mdb_cursor_get (cursor, &key, &val, rc == 0? MDB_PREV: MDB_LAST);
        if (rc == 0 && s_of_job (&key, prefix, len)) {
            *before = (seen_range_t) { true, seen_range_get64 ((const uint8_t *) key.mv_data + len),
                                       s_last (&key, &val), s_status (&val) };
            if (before->last >= tuple) {
                *status = before->status;
                *held = true;
            }
        }
    }
    mdb_cursor_close (cursor);
    return 0;
}

int
seen_range_delete (MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix, size_t len,
                   int64_t *forgotten)
{
    MDB_cursor *cursor = NULL;
    int rc = mdb_cursor_open (txn, dbi, &cursor);
    MDB_val key = { len, (void *) prefix }, val;
    if (rc == 0)
        rc = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE);
    while (rc == 0 && s_of_job (&key, prefix, len)) {
        *forgotten += (int64_t) (s_last (&key, &val)
                                 - seen_range_get64 ((const uint8_t *) key.mv_data + len) + 1);
        rc = mdb_cursor_del (cursor, 0);
        if (rc == 0)
            rc = mdb_cursor_get (cursor, &key, &val, MDB_GET_CURRENT);
    }
    if (cursor)
        mdb_cursor_close (cursor);
    //  Past the last key (GET_CURRENT after deleting it) or past the job.
    return rc == MDB_NOTFOUND || rc == EINVAL? 0: rc;
}
