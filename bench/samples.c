//  samples.c -- see samples.h.  A histogram, not every value: a million
//  tuples per pass, several rounds and rows would keep hundreds of MB of
//  latencies.  Values below BUCKETS_EXACT us are kept exactly; above, a
//  bucket is 1/512 of its power of two wide, so a quantile is off by at
//  most 0.1% (the bucket's middle is reported).  The maximum is exact.
#include "bench/samples.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#define SUB_BITS        10
#define BUCKETS_EXACT   (1u << SUB_BITS)            //  0 .. 1023 us, one each
#define BUCKETS_HALF    (BUCKETS_EXACT / 2)
#define VALUE_BITS      40                          //  2^40 us: 12 days
#define BUCKETS         (BUCKETS_EXACT + (VALUE_BITS - SUB_BITS) * BUCKETS_HALF)

struct samples {
    uint64_t counts[BUCKETS];
    size_t count;
    uint64_t max;
};

samples_t *
samples_new (void)
{
    return calloc (1, sizeof (samples_t));
}

void
samples_destroy (samples_t **self_p)
{
    free (*self_p);
    *self_p = NULL;
}

//  Above the exact range: the top SUB_BITS - 1 bits after the leading one
//  pick one of BUCKETS_HALF buckets in the value's power of two.
static size_t
s_index (uint64_t value)
{
    if (value >= (1ull << VALUE_BITS))
        value = (1ull << VALUE_BITS) - 1;
    if (value < BUCKETS_EXACT)
        return (size_t) value;
    int shift = 63 - __builtin_clzll (value) - (SUB_BITS - 1);
    return BUCKETS_EXACT + (size_t) (shift - 1) * BUCKETS_HALF
         + (size_t) ((value >> shift) - BUCKETS_HALF);
}

//  The middle of bucket index (its value, in the exact range).
static uint64_t
s_value (size_t index)
{
    if (index < BUCKETS_EXACT)
        return index;
    size_t above = index - BUCKETS_EXACT;
    int shift = (int) (above / BUCKETS_HALF) + 1;
    uint64_t low = (uint64_t) (above % BUCKETS_HALF + BUCKETS_HALF) << shift;
    return low + (1ull << shift) / 2;
}

int
samples_add (samples_t *self, const uint64_t *values, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        self->counts[s_index (values[i])]++;
        if (values[i] > self->max)
            self->max = values[i];
    }
    self->count += count;
    return 0;
}

size_t
samples_count (const samples_t *self)
{
    return self->count;
}

uint64_t
samples_quantile (samples_t *self, double q)
{
    if (self->count == 0)
        return 0;
    size_t rank = (size_t) ceil (q * (double) self->count);
    if (rank < 1)
        rank = 1;
    if (rank >= self->count)
        return self->max;
    size_t seen = 0;
    for (size_t i = 0; i < BUCKETS; i++) {
        seen += self->counts[i];
        if (seen >= rank) {
            uint64_t value = s_value (i);
            return value < self->max? value: self->max;
        }
    }
    return self->max;
}
