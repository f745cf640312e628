//  lat.h -- per-tuple timing for one benchmark pass: when each tuple was
//  sent and when its result was seen, in one process's monotonic clock, so
//  a latency never mixes clocks.  The sender and the observer may be two
//  threads: marks are atomics, and the sender can sleep until enough
//  results are in (lat_wait) instead of spinning on a 2-core machine.
#ifndef DROVER_BENCH_LAT_H
#define DROVER_BENCH_LAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lat lat_t;

//  Track tuples 0 .. count-1.  NULL if out of memory.
lat_t   *lat_new (size_t count);
void     lat_destroy (lat_t **self_p);

size_t   lat_count (const lat_t *self);
//  Tuple seq was handed to the system under test at now_us.
void     lat_sent (lat_t *self, size_t seq, uint64_t now_us);
//  The same for tuples first .. first + count - 1, sent together.
void     lat_sent_batch (lat_t *self, size_t first, size_t count, uint64_t now_us);
//  Tuple seq's result was seen at now_us.  False for a seq out of range, one
//  never sent, or one seen before (a duplicate is not a second result).
bool     lat_seen (lat_t *self, size_t seq, uint64_t now_us);
//  Results seen so far.
size_t   lat_done (const lat_t *self);
//  Results seen again after the first time (lat_seen returned false for
//  them): a system that promises each result once must show 0.
size_t   lat_duplicates (const lat_t *self);
//  Wake the thread in lat_wait if the results it waits for are in; the
//  observer calls it after a chunk of marks.
void     lat_notify (lat_t *self);
//  Sleep until at least target results were seen, or timeout_ms passed.
//  Returns lat_done ().  One thread at a time waits.
size_t   lat_wait (lat_t *self, size_t target, int timeout_ms);

//  First send and last result times (0 if none).
uint64_t lat_first_sent (const lat_t *self);
uint64_t lat_last_seen (const lat_t *self);
//  Latencies (us) of the tuples seen, in seq order, into out (room for
//  lat_count); returns how many were written.
size_t   lat_export (const lat_t *self, uint64_t *out);

//  Monotonic clock, microseconds.
uint64_t lat_now_us (void);

#endif
