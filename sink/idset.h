//  idset.h -- a set of tuple ids (uint64) in memory: the sink's in-memory
//  dedupe index keeps one per job (sink/seen.c).  Ids are kept in blocks of
//  64 neighbours, a bit each, in a hash of blocks: a broker numbers a job's
//  tuples in order, so 64 results in a row touch one block (one cache miss,
//  not one each), and a million ids take about 0.5 MB.  Each id carries one
//  flag bit (the sink keeps there whether the stored result failed).
#ifndef DROVER_IDSET_H
#define DROVER_IDSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct idset idset_t;

idset_t *idset_new (void);
void     idset_destroy (idset_t **self_p);

//  Returns 1 if id was added with flag, 0 if it was there (its flag
//  unchanged), -ENOMEM (set unchanged).
int      idset_insert (idset_t *self, uint64_t id, bool flag);
//  Returns 1 if id was there and is removed, 0 if it was not there.
int      idset_remove (idset_t *self, uint64_t id);
bool     idset_contains (const idset_t *self, uint64_t id);
//  True if id is there, with its flag in *flag (may be NULL).
bool     idset_get (const idset_t *self, uint64_t id, bool *flag);
size_t   idset_size (const idset_t *self);

#endif
