//  pass.c -- the outcome of one measured pass (bench.h).
#include "bench/bench.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int
bench_pass_take (bench_pass_t *pass, const lat_t *lat)
{
    free (pass->latencies);
    pass->latencies = malloc ((lat_count (lat)? lat_count (lat): 1) * sizeof (uint64_t));
    if (!pass->latencies)
        return -ENOMEM;
    pass->tuples = lat_count (lat);
    pass->done = lat_export (lat, pass->latencies);
    uint64_t first = lat_first_sent (lat), last = lat_last_seen (lat);
    pass->elapsed_us = last > first? last - first: 0;
    return 0;
}

void
bench_pass_fail (bench_pass_t *pass, const char *fmt, ...)
{
    if (pass->error[0])
        return;                     //  keep the first cause
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (pass->error, sizeof pass->error, fmt, ap);
    va_end (ap);
}

void
bench_pass_reset (bench_pass_t *pass)
{
    free (pass->latencies);
    memset (pass, 0, sizeof *pass);
}
