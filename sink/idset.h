//  idset.h -- a set of tuple ids (uint64) in memory: the sink's in-memory
//  dedupe index keeps one per job (sink/seen.c).  Open addressing with
//  linear probing: a lookup is a hash and usually one cache line, and there
//  is no allocation per id.  Each id carries one byte of value (the sink
//  keeps the stored result's status there).
#ifndef DROVER_IDSET_H
#define DROVER_IDSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct idset idset_t;

idset_t *idset_new (void);
void     idset_destroy (idset_t **self_p);

//  Returns 1 if id was added with value, 0 if it was there (its value
//  unchanged), -ENOMEM (set unchanged).
int      idset_insert (idset_t *self, uint64_t id, uint8_t value);
//  Returns 1 if id was there and is removed, 0 if it was not there.
int      idset_remove (idset_t *self, uint64_t id);
bool     idset_contains (const idset_t *self, uint64_t id);
//  True if id is there, with its value in *value (may be NULL).
bool     idset_get (const idset_t *self, uint64_t id, uint8_t *value);
size_t   idset_size (const idset_t *self);

#endif
