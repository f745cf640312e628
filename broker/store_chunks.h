//  store_chunks.h -- the LMDB store's tuples (store_lmdb.c): one record, a
//  chunk, per accepted SUBMIT, with a done bitmap beside it written once
//  per DONE, and attempts above 1 as exceptions per tuple.  Leases are not
//  here: they live in the broker's memory, so after a restart every
//  unfinished tuple is queued again at the attempt it had.
//  Layout (keys big-endian: job number u32, then an id u64):
//    chunks    job + first id -> count u32, end offset u32 per tuple, payload
//    done      job + first id -> tuples done u32, bitmap (bit i: first + i)
//    attempts  job + tuple id -> attempt u32 (only attempts above 1)
#ifndef DROVER_BROKER_STORE_CHUNKS_H
#define DROVER_BROKER_STORE_CHUNKS_H

#include <czmq.h>
#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/chunk.h"
#include "broker/queue.h"
#include "proto/msg.h"

typedef struct {
    MDB_dbi chunks;
    MDB_dbi done;
    MDB_dbi attempts;
} store_chunks_t;

//  Each returns 0 or an LMDB / errno code (positive or LMDB's own).
//  The tuples of chunk, ids first on, of job number, as one record.
int    store_chunks_put (const store_chunks_t *dbs, MDB_txn *txn, uint32_t number,
                         uint64_t first, const chunk_t *chunk);
//  Tuples finished: marked done; a chunk all done is deleted.
int    store_chunks_done (const store_chunks_t *dbs, MDB_txn *txn, uint32_t number,
                          const msg_ref_t *refs, size_t count);
//  Tuples queued again at the attempts in refs.
int    store_chunks_requeue (const store_chunks_t *dbs, MDB_txn *txn, uint32_t number,
                             const msg_ref_t *refs, size_t count);
//  Up to max unfinished tuples of job number with id >= from, in id order,
//  their payloads in one new chunk.  Returns how many.
size_t store_chunks_read (const store_chunks_t *dbs, MDB_txn *txn, uint32_t number,
                          uint64_t from, size_t max, queue_tuple_t *out);
//  The unfinished tuples of job number: how many, the lowest id, bytes.
int    store_chunks_count (const store_chunks_t *dbs, MDB_txn *txn, uint32_t number,
                           uint64_t *queued_p, uint64_t *first_p, uint64_t *bytes_p);

//  Call fn (arg, id) for every unfinished tuple of job number, in id order.
int    store_chunks_pending (const store_chunks_t *dbs, MDB_txn *txn, uint32_t number,
                             void (*fn) (void *arg, uint64_t id), void *arg);

#endif
