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
    pass->duplicates = lat_duplicates (lat);
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

void
bench_pass_run (bench_pass_t *pass, size_t tuples, size_t batch, size_t window,
                usage_meter_t *meter, bench_send_fn *fn, void *state)
{
    lat_t *lat = lat_new (tuples);
    if (!lat) {
        bench_pass_fail (pass, "out of memory");
        return;
    }
    if (meter)
        usage_meter_start (meter);
    int rc = fn (state, lat, batch, window, pass);
    if (meter)
        usage_meter_stop (meter, &pass->usage);
    if (rc == 0 && bench_pass_take (pass, lat))
        bench_pass_fail (pass, "out of memory");
    lat_destroy (&lat);
}

void
bench_passes_run (const bench_params_t *params, size_t tuples, size_t batch,
                  usage_meter_t *meter, bench_send_fn *fn, void *state,
                  bench_pass_t *load, bench_pass_t *light)
{
    bench_pass_t warm = { 0 };
    bench_pass_run (&warm, params->warmup, batch, params->window, NULL, fn, state);
    if (warm.error[0])
        bench_pass_fail (load, "warm-up: %s", warm.error);
    bench_pass_reset (&warm);
    if (!load->error[0])
        bench_pass_run (load, tuples, batch, params->window, meter, fn, state);
    if (!load->error[0] && params->light && light)
        bench_pass_run (light, params->light, 1, 1, NULL, fn, state);
}
