//  seen_range.h -- how the durable dedupe index (seen_lmdb.h) lays out a
//  job's tuples in an LMDB database: ranges of tuple ids held with one
//  status, one key per range (the job's prefix, then the first id
//  big-endian) whose value is the last id (big-endian) and the status
//  byte.  Indexes written before ranges have one key per tuple whose value
//  is the status byte alone, or empty (before statuses were kept: ok),
//  read as a range of one.  A job's ranges sort together, so finding a
//  tuple is one cursor lookup and forgetting a job one sweep.
#ifndef DROVER_SEEN_RANGE_H
#define DROVER_SEEN_RANGE_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Jobs whose name (plus NUL and id) would not fit an LMDB key (511 bytes)
//  are keyed by a hash of the name instead.
#define SEEN_JOB_MAX    400
#define SEEN_HASH_SIZE  32
#define SEEN_PREFIX_MAX (SEEN_JOB_MAX + 2)      //  > 1 + hash + 1 too
#define SEEN_OK         0       //  status byte of a held result
#define SEEN_FAILED     1

//  Tuples first..last, held with status.
typedef struct {
    bool     valid;
    uint64_t first, last;
    uint8_t  status;
} seen_range_t;

//  The key prefix of job into prefix (SEEN_PREFIX_MAX bytes): its length.
size_t   seen_range_prefix (const char *job, uint8_t *prefix);
//  Big-endian 64-bit numbers, as keys and values hold them.
void     seen_range_put64 (uint8_t *p, uint64_t value);
uint64_t seen_range_get64 (const uint8_t *p);

//  Write range (prefix's) to dbi: an LMDB return code.
int      seen_range_write (MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix, size_t len,
                           const seen_range_t *range);
//  Where tuple stands among prefix's ranges in dbi: *held true if held
//  (its status in *status); either way *before is the range that starts
//  below it (valid false if none) and *next the first id held above it
//  (UINT64_MAX: none).  An LMDB return code.
int      seen_range_find (MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix, size_t len,
                          uint64_t tuple, bool *held, uint8_t *status,
                          seen_range_t *before, uint64_t *next);
//  Delete prefix's ranges from dbi, adding the tuples they held to
//  *forgotten: an LMDB return code (0 once none is left).
int      seen_range_delete (MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix, size_t len,
                            int64_t *forgotten);

#endif
