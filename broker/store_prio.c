//  store_prio.c -- see store_prio.h.  Records of the wrong size are
//  skipped at load (a damaged record costs a tuple its own priority, never
//  the tuple: it is still in its chunk).
#include "broker/store_prio.h"
#include "broker/store_record.h"

static MDB_val
s_key (unsigned char *bytes, uint32_t number, uint64_t id)
{
    store_record_put_u32 (bytes, number);
    store_record_put_u64 (bytes + 4, id);
    return (MDB_val) { 12, bytes };
}

int
store_prio_put (MDB_txn *txn, MDB_dbi dbi, uint32_t number, uint64_t id,
                uint32_t level, uint64_t not_before)
{
    unsigned char key_bytes[12], record[12];
    MDB_val key = s_key (key_bytes, number, id);
    store_record_put_u32 (record, level);
    store_record_put_u64 (record + 4, not_before);
    MDB_val value = { sizeof record, record };
    return mdb_put (txn, dbi, &key, &value, 0);
}

int
store_prio_forget (MDB_txn *txn, MDB_dbi dbi, uint32_t number, uint64_t id)
{
    unsigned char key_bytes[12];
    MDB_val key = s_key (key_bytes, number, id);
    int rc = mdb_del (txn, dbi, &key, NULL);
    return rc == MDB_NOTFOUND? 0: rc;
}

int
store_prio_load (MDB_txn *txn, MDB_dbi dbi, store_prio_fn *fn, void *arg)
{
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (txn, dbi, &cursor);
    if (rc)
        return rc;
    MDB_val key, value;
    for (rc = mdb_cursor_get (cursor, &key, &value, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get (cursor, &key, &value, MDB_NEXT)) {
        if (key.mv_size != 12 || value.mv_size != 12)
            continue;
        const unsigned char *k = key.mv_data, *v = value.mv_data;
        fn (store_record_u32 (k), store_record_u64 (k + 4), store_record_u32 (v),
            store_record_u64 (v + 4), arg);
    }
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND? 0: rc;
}
