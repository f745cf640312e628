//  store_prio.h -- the LMDB store's record of tuples whose priority or
//  not_before differ from their job's (PROTOCOL.md 13, broker/prio.h):
//  one small record each, only for such tuples, deleted when the tuple
//  finishes, read once at start.
//  Layout: prio   job number u32 + tuple id u64 (big-endian) -> level u32,
//                 not_before u64 (ms since the epoch; 0: none)
#ifndef DROVER_BROKER_STORE_PRIO_H
#define DROVER_BROKER_STORE_PRIO_H

#include <lmdb.h>
#include <stdint.h>

#include "broker/store.h"

//  Each returns 0 or an LMDB / errno code (positive or LMDB's own).
int store_prio_put (MDB_txn *txn, MDB_dbi dbi, uint32_t number, uint64_t id,
                    uint32_t level, uint64_t not_before);
//  Forgetting a tuple never recorded is no error.
int store_prio_forget (MDB_txn *txn, MDB_dbi dbi, uint32_t number, uint64_t id);
//  fn for every record, in job then id order.
int store_prio_load (MDB_txn *txn, MDB_dbi dbi, store_prio_fn *fn, void *arg);

#endif
