//  store_chunks.c -- see store_chunks.h.  A chunk is written once, when its
//  SUBMIT is accepted, and deleted when its last tuple is done; in between
//  only its done record changes (a few bytes per DONE, not a record per
//  tuple), so a batch costs the store two or three B-tree writes, whatever
//  its size.  Every length read from a record is checked before use.
#include "broker/store_chunks.h"
#include "broker/store_record.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    unsigned char bytes[12];
} chunk_key_t;

static MDB_val
s_key (chunk_key_t *key, uint32_t number, uint64_t id)
{
    store_record_put_u32 (key->bytes, number);
    store_record_put_u64 (key->bytes + 4, id);
    return (MDB_val) { sizeof key->bytes, key->bytes };
}

static bool
s_key_of (const MDB_val *key, uint32_t number)
{
    return key->mv_size == 12 && store_record_u32 (key->mv_data) == number;
}

static uint64_t
s_key_id (const MDB_val *key)
{
    return store_record_u64 ((const unsigned char *) key->mv_data + 4);
}

//  A chunk record's tuple count, or 0 if the record is damaged.
static uint32_t
s_count (const MDB_val *value)
{
    if (value->mv_size < 4)
        return 0;
    const unsigned char *p = value->mv_data;
    uint32_t count = store_record_u32 (p);
    size_t head = 4 + 4 * (size_t) count;
    if (count == 0 || head > value->mv_size
    ||  head + store_record_u32 (p + 4 * (size_t) count) != value->mv_size)
        return 0;
    return count;
}

//  Tuple index of a chunk (count checked): its bytes and size.
static const void *
s_tuple (const MDB_val *value, uint32_t count, uint32_t index, size_t *size_p)
{
    const unsigned char *p = value->mv_data;
    uint32_t start = index? store_record_u32 (p + 4 * (size_t) index): 0;
    uint32_t end = store_record_u32 (p + 4 + 4 * (size_t) index);
    *size_p = end >= start? end - start: 0;
    return p + 4 + 4 * (size_t) count + start;
}

static bool
s_holds (const MDB_val *key, const MDB_val *value, uint32_t number, uint64_t id)
{
    if (!s_key_of (key, number))
        return false;
    uint64_t first = s_key_id (key);
    return id >= first && id - first < s_count (value);
}

//  Put the cursor on the chunk of job number that holds id, or else on
//  the first chunk after id (which may be another job's).  0 or MDB_NOTFOUND.
static int
s_seek (MDB_cursor *cursor, uint32_t number, uint64_t id, MDB_val *key, MDB_val *value)
{
    chunk_key_t k;
    *key = s_key (&k, number, id);
    int rc = mdb_cursor_get (cursor, key, value, MDB_SET_RANGE);
    if (rc == 0 && s_key_of (key, number) && s_key_id (key) == id)
        return 0;
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    MDB_val before_key, before;
    if (mdb_cursor_get (cursor, &before_key, &before, rc? MDB_LAST: MDB_PREV) == 0
    &&  s_holds (&before_key, &before, number, id)) {
        *key = before_key;
        *value = before;
        return 0;
    }
    if (rc)
        return rc;
    *key = s_key (&k, number, id);
    return mdb_cursor_get (cursor, key, value, MDB_SET_RANGE);
}

int
store_chunks_put (const store_chunks_t *dbs, MDB_txn *txn, uint32_t number,
                  uint64_t first, const chunk_t *chunk)
{
    size_t count = chunk_count (chunk);
    if (count == 0)
        return 0;
    size_t head = 4 + 4 * count, bytes = chunk_bytes (chunk);
    if (count > UINT32_MAX || bytes > UINT32_MAX - head)
        return EINVAL;
    chunk_key_t k;
    MDB_val key = s_key (&k, number, first);
    MDB_val value = { head + bytes, NULL };
    int rc = mdb_put (txn, dbs->chunks, &key, &value, MDB_RESERVE);
    if (rc)
        return rc;
    unsigned char *p = value.mv_data;
    store_record_put_u32 (p, (uint32_t) count);
    for (size_t i = 0; i < count; i++) {
        size_t end;
        chunk_slice (chunk, 0, i + 1, &end);
        store_record_put_u32 (p + 4 + 4 * i, (uint32_t) end);
    }
    size_t size;
    const void *data = chunk_slice (chunk, 0, count, &size);
    if (size)
        memcpy (p + head, data, size);
    return 0;
}

//  ---------------------------------------------------------------------
//  Done bitmaps

//  The done record of one chunk, being changed.
typedef struct {
    bool open;
    uint64_t first;
    uint32_t count;
    uint32_t done;
    unsigned char *bits;        //  (count + 7) / 8 bytes
    size_t capacity;
} marks_t;

//  Load the done record of the chunk holding id into marks.  0, MDB_NOTFOUND
//  (no such chunk: finished already), or an error.
static int
s_marks_load (const store_chunks_t *dbs, MDB_txn *txn, uint32_t number, uint64_t id,
              marks_t *marks)
{
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (txn, dbs->chunks, &cursor);
    if (rc)
        return rc;
    MDB_val key, value;
    rc = s_seek (cursor, number, id, &key, &value);
    if (rc == 0 && !s_holds (&key, &value, number, id))
        rc = MDB_NOTFOUND;
    if (rc == 0) {
        marks->first = s_key_id (&key);
        marks->count = s_count (&value);
    }
    mdb_cursor_close (cursor);
    if (rc)
        return rc;
    size_t size = (marks->count + 7) / 8;
    if (size > marks->capacity) {
        unsigned char *bits = realloc (marks->bits, size);
        if (!bits)
            return ENOMEM;
        marks->bits = bits;
        marks->capacity = size;
    }
    memset (marks->bits, 0, size);
    marks->done = 0;
    chunk_key_t k;
    MDB_val done_key = s_key (&k, number, marks->first), done;
    rc = mdb_get (txn, dbs->done, &done_key, &done);
    if (rc == 0 && done.mv_size == 4 + size) {
        marks->done = store_record_u32 (done.mv_data);
        memcpy (marks->bits, (unsigned char *) done.mv_data + 4, size);
    }
    else
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    marks->open = true;
    return 0;
}

//  Write the done record back, or delete the chunk if all of it is done.
static int
s_marks_flush (const store_chunks_t *dbs, MDB_txn *txn, uint32_t number, marks_t *marks)
{
    if (!marks->open)
        return 0;
    marks->open = false;
    chunk_key_t k;
    MDB_val key = s_key (&k, number, marks->first);
    int rc;
    if (marks->done >= marks->count) {
        rc = mdb_del (txn, dbs->chunks, &key, NULL);
        if (rc == 0 || rc == MDB_NOTFOUND)
            rc = mdb_del (txn, dbs->done, &key, NULL);
        return rc == MDB_NOTFOUND? 0: rc;
    }
    size_t size = (marks->count + 7) / 8;
    MDB_val value = { 4 + size, NULL };
    rc = mdb_put (txn, dbs->done, &key, &value, MDB_RESERVE);
    if (rc)
        return rc;
    store_record_put_u32 (value.mv_data, marks->done);
    memcpy ((unsigned char *) value.mv_data + 4, marks->bits, size);
    return 0;
}

int
store_chunks_done (const store_chunks_t *dbs, MDB_txn *txn, uint32_t number,
                   const msg_ref_t *refs, size_t count)
{
    marks_t marks = { 0 };
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        uint64_t id = refs[i].id;
        if (refs[i].attempt > 1) {
            chunk_key_t k;
            MDB_val key = s_key (&k, number, id);
            rc = mdb_del (txn, dbs->attempts, &key, NULL);
            if (rc == MDB_NOTFOUND)
                rc = 0;
        }
        if (rc == 0 && !(marks.open && id >= marks.first && id - marks.first < marks.count)) {
            rc = s_marks_flush (dbs, txn, number, &marks);
            if (rc == 0)
                rc = s_marks_load (dbs, txn, number, id, &marks);
            if (rc == MDB_NOTFOUND) {
                rc = 0;             //  finished already
                continue;
            }
        }
        if (rc)
            break;
        uint64_t bit = id - marks.first;
        if (!(marks.bits[bit / 8] & (1u << (bit % 8)))) {
            marks.bits[bit / 8] |= (unsigned char) (1u << (bit % 8));
            marks.done++;
        }
    }
    if (rc == 0)
        rc = s_marks_flush (dbs, txn, number, &marks);
    free (marks.bits);
    return rc;
}

int
store_chunks_requeue (const store_chunks_t *dbs, MDB_txn *txn, uint32_t number,
                      const msg_ref_t *refs, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (refs[i].attempt <= 1)
            continue;
        chunk_key_t k;
        MDB_val key = s_key (&k, number, refs[i].id);
        unsigned char attempt[4];
        store_record_put_u32 (attempt, refs[i].attempt);
        MDB_val value = { 4, attempt };
        int rc = mdb_put (txn, dbs->attempts, &key, &value, 0);
        if (rc)
            return rc;
    }
    return 0;
}

//  ---------------------------------------------------------------------
//  Reading back

//  The done bitmap of the chunk at key, or NULL if none is done.
static const unsigned char *
s_done_bits (const store_chunks_t *dbs, MDB_txn *txn, MDB_val *key, uint32_t count)
{
    MDB_val done;
    if (mdb_get (txn, dbs->done, key, &done) || done.mv_size != 4 + (count + 7) / 8)
        return NULL;
    return (const unsigned char *) done.mv_data + 4;
}

static bool
s_is_done (const unsigned char *bits, uint32_t index)
{
    return bits && (bits[index / 8] & (1u << (index % 8)));
}

//  Attempts above 1, walked in id order beside the chunks.
typedef struct {
    MDB_cursor *cursor;
    uint32_t number;
    bool more;
    uint64_t id;
    uint32_t attempt;
} exceptions_t;

static void
s_exception_next (exceptions_t *e, MDB_val *key, MDB_cursor_op op)
{
    MDB_val value;
    e->more = e->cursor && mdb_cursor_get (e->cursor, key, &value, op) == 0
           && s_key_of (key, e->number) && value.mv_size == 4;
    if (e->more) {
        e->id = s_key_id (key);
        e->attempt = store_record_u32 (value.mv_data);
    }
}

static uint32_t
s_attempt (exceptions_t *e, uint64_t id)
{
    MDB_val key;
    while (e->more && e->id < id)
        s_exception_next (e, &key, MDB_NEXT);
    return e->more && e->id == id && e->attempt > 1? e->attempt: 1;
}

size_t
store_chunks_read (const store_chunks_t *dbs, MDB_txn *txn, uint32_t number,
                   uint64_t from, size_t max, queue_tuple_t *out)
{
    MDB_cursor *cursor;
    chunk_t *chunk = chunk_new (max, max * 128);
    if (!chunk)
        return 0;
    if (mdb_cursor_open (txn, dbs->chunks, &cursor)) {
        chunk_destroy (&chunk);
        return 0;
    }
    exceptions_t e = { .number = number };
    if (mdb_cursor_open (txn, dbs->attempts, &e.cursor))
        e.cursor = NULL;
    chunk_key_t k;
    MDB_val ekey = s_key (&k, number, from);
    s_exception_next (&e, &ekey, MDB_SET_RANGE);
    size_t n = 0;
    MDB_val key, value;
    int rc = s_seek (cursor, number, from, &key, &value);
    while (rc == 0 && n < max && s_key_of (&key, number)) {
        uint64_t first = s_key_id (&key);
        uint32_t count = s_count (&value);
        const unsigned char *bits = s_done_bits (dbs, txn, &key, count);
        for (uint32_t i = from > first? (uint32_t) (from - first): 0; i < count && n < max; i++) {
            if (s_is_done (bits, i))
                continue;
            size_t size;
            const void *data = s_tuple (&value, count, i, &size);
            if (chunk_append (chunk, data, size))
                break;
            out[n] = (queue_tuple_t) {
                .id = first + i, .attempt = s_attempt (&e, first + i),
                .payload = payload_of (chunk, n)
            };
            n++;
        }
        rc = mdb_cursor_get (cursor, &key, &value, MDB_NEXT);
    }
    if (e.cursor)
        mdb_cursor_close (e.cursor);
    mdb_cursor_close (cursor);
    chunk_destroy (&chunk);         //  the payloads hold it now
    return n;
}

int
store_chunks_count (const store_chunks_t *dbs, MDB_txn *txn, uint32_t number,
                    uint64_t *queued_p, uint64_t *first_p, uint64_t *bytes_p)
{
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (txn, dbs->chunks, &cursor);
    if (rc)
        return rc;
    uint64_t queued = 0, first = 0, bytes = 0;
    MDB_val key, value;
    rc = s_seek (cursor, number, 0, &key, &value);
    while (rc == 0 && s_key_of (&key, number)) {
        uint32_t count = s_count (&value);
        const unsigned char *bits = s_done_bits (dbs, txn, &key, count);
        for (uint32_t i = 0; i < count; i++) {
            if (s_is_done (bits, i))
                continue;
            if (queued++ == 0)
                first = s_key_id (&key) + i;
            size_t size;
            s_tuple (&value, count, i, &size);
            bytes += size;
        }
        rc = mdb_cursor_get (cursor, &key, &value, MDB_NEXT);
    }
    mdb_cursor_close (cursor);
    *queued_p = queued;
    *first_p = first;
    *bytes_p = bytes;
    return rc == MDB_NOTFOUND || rc == 0? 0: rc;
}

int
store_chunks_pending (const store_chunks_t *dbs, MDB_txn *txn, uint32_t number,
                      void (*fn) (void *arg, uint64_t id), void *arg)
{
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (txn, dbs->chunks, &cursor);
    if (rc)
        return rc;
    MDB_val key, value;
    rc = s_seek (cursor, number, 0, &key, &value);
    while (rc == 0 && s_key_of (&key, number)) {
        uint32_t count = s_count (&value);
        const unsigned char *bits = s_done_bits (dbs, txn, &key, count);
        for (uint32_t i = 0; i < count; i++)
            if (!s_is_done (bits, i))
                fn (arg, s_key_id (&key) + i);
        rc = mdb_cursor_get (cursor, &key, &value, MDB_NEXT);
    }
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND || rc == 0? 0: rc;
}
