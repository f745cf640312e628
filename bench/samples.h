//  samples.h -- latencies pooled over the rounds of one system, and the
//  percentiles the report prints.  Percentiles are nearest-rank: p99 is a
//  latency that at least 99% of the tuples did not exceed (within 0.1%:
//  values are kept in a histogram; the maximum is exact).
#ifndef DROVER_BENCH_SAMPLES_H
#define DROVER_BENCH_SAMPLES_H

#include <stddef.h>
#include <stdint.h>

typedef struct samples samples_t;

samples_t *samples_new (void);
void       samples_destroy (samples_t **self_p);
//  Append count latencies (us).  Returns 0 or -ENOMEM.
int        samples_add (samples_t *self, const uint64_t *values, size_t count);
size_t     samples_count (const samples_t *self);
//  The q-quantile (0 < q <= 1) in us; 0 when empty.  Sorts on first use.
uint64_t   samples_quantile (samples_t *self, double q);

#endif
