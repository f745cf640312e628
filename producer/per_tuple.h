//  per_tuple.h -- a batch's `per_tuple` map (PROTOCOL.md 13.3) built as
//  its tuples are added: for priority and for not_before, runs
//  [position, count, value] of consecutive tuples that have the same value
//  of their own.  Tuples with none are in no run (they have the job's).
//  libdrover (drover.c) keeps one and sends its map with each batch.
#ifndef DROVER_PER_TUPLE_H
#define DROVER_PER_TUPLE_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  A batch can name at most this many runs: at the longest a run takes 20
//  bytes, so the map stays within 40 KiB and the header, with the job's
//  fields, under its 64 KiB limit (PROTOCOL.md 7).  The caller sends the
//  batch once per_tuple_runs reaches it.
#define PER_TUPLE_RUNS_MAX 2000

typedef struct per_tuple per_tuple_t;

per_tuple_t *per_tuple_new (void);
void per_tuple_destroy (per_tuple_t **self_p);

//  The tuple at position (1 is the batch's first; each call's position
//  above the last's) has priority (0..9, or -1: the job's) and not_before
//  (ms since the epoch, or 0: the job's).  0, or -ENOMEM.
int per_tuple_add (per_tuple_t *self, size_t position, int priority, uint64_t not_before);
//  Runs held, both keys together.
size_t per_tuple_runs (const per_tuple_t *self);
//  The map of the runs held (only the keys that have runs) into buffer,
//  cleared first, and forget them for the next batch.  0, or -ENOMEM.
int per_tuple_take (per_tuple_t *self, msgpack_sbuffer *buffer);

#endif
