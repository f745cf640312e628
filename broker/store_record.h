//  store_record.h -- the bytes the LMDB store (store_lmdb.c) writes that
//  are not LMDB's business: numbers big-endian, so that keys sort by job
//  number and then by tuple id, and the job record, versioned, so that a
//  data dir written by an older broker is read or refused, never misread.
#ifndef DROVER_BROKER_STORE_RECORD_H
#define DROVER_BROKER_STORE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "broker/job.h"

void     store_record_put_u32 (unsigned char *p, uint32_t v);
void     store_record_put_u64 (unsigned char *p, uint64_t v);
uint32_t store_record_u32 (const unsigned char *p);
uint64_t store_record_u64 (const unsigned char *p);

//  The record of a job (its settings and counters, not its name, which is
//  the key): malloc'd into *data_p, the caller frees it.  0 or -ENOMEM.
int      store_record_encode_job (const job_t *job, unsigned char **data_p, size_t *size_p);
//  The job a record describes, named name (name_size bytes, the key), or
//  NULL if the record is damaged, of another version, or out of memory.
job_t   *store_record_decode_job (const void *name, size_t name_size,
                                  const void *data, size_t size);

#endif
