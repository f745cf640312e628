//  seen_lmdb.h -- the durable store behind seen.h: the dedupe index in an
//  LMDB environment, so that a restarted sink still drops duplicates.  One
//  write transaction per batch (begin, insert..., commit or abort); the
//  commit records the output mark with it.  Calls as seen.h's, which
//  checks their order; seen_range.h is how tuples are laid out.
#ifndef DROVER_SEEN_LMDB_H
#define DROVER_SEEN_LMDB_H

#include "sink/seen.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct seen_lmdb seen_lmdb_t;

//  As seen_open.
seen_lmdb_t *seen_lmdb_open (const char *dir, bool sync, char *err, size_t errlen);
//  Aborts an open batch.
void    seen_lmdb_destroy (seen_lmdb_t **self_p);

//  Start a batch: 0 or -errno.
int     seen_lmdb_begin (seen_lmdb_t *self);
//  Within a batch, as seen_insert; held_failed must not be NULL.
int     seen_lmdb_insert (seen_lmdb_t *self, const char *job, uint64_t tuple, bool failed,
                          bool *held_failed);
//  As seen_commit: the batch's new jobs, or -errno.
int     seen_lmdb_commit (seen_lmdb_t *self, const seen_mark_t *mark);
//  Drop the batch, if one is open.
void    seen_lmdb_abort (seen_lmdb_t *self);
//  Jobs that got their first tuple in the open batch (0 outside one).
int     seen_lmdb_new_jobs (const seen_lmdb_t *self);

bool    seen_lmdb_lookup (seen_lmdb_t *self, const char *job, uint64_t tuple, bool *failed);
int     seen_lmdb_mark (seen_lmdb_t *self, seen_mark_t *mark);
//  Not inside a batch.
int64_t seen_lmdb_forget (seen_lmdb_t *self, const char *job);
size_t  seen_lmdb_size (seen_lmdb_t *self);
size_t  seen_lmdb_jobs (seen_lmdb_t *self);

#endif
