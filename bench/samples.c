//  samples.c -- see samples.h.  A growing array, sorted lazily.
#include "bench/samples.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct samples {
    uint64_t *values;
    size_t count, size;
    bool sorted;
};

samples_t *
samples_new (void)
{
    return calloc (1, sizeof (samples_t));
}

void
samples_destroy (samples_t **self_p)
{
    if (!*self_p)
        return;
    free ((*self_p)->values);
    free (*self_p);
    *self_p = NULL;
}

int
samples_add (samples_t *self, const uint64_t *values, size_t count)
{
    if (self->count + count > self->size) {
        size_t size = self->size? self->size: 1024;
        while (size < self->count + count)
            size *= 2;
        uint64_t *grown = realloc (self->values, size * sizeof *grown);
        if (!grown)
            return -ENOMEM;
        self->values = grown;
        self->size = size;
    }
    memcpy (self->values + self->count, values, count * sizeof *values);
    self->count += count;
    self->sorted = false;
    return 0;
}

size_t
samples_count (const samples_t *self)
{
    return self->count;
}

static int
s_compare (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y? -1: x > y;
}

uint64_t
samples_quantile (samples_t *self, double q)
{
    if (self->count == 0)
        return 0;
    if (!self->sorted) {
        qsort (self->values, self->count, sizeof *self->values, s_compare);
        self->sorted = true;
    }
    size_t rank = (size_t) ceil (q * (double) self->count);
    if (rank < 1)
        rank = 1;
    if (rank > self->count)
        rank = self->count;
    return self->values[rank - 1];
}
