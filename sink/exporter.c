//  exporter.c -- see exporter.h.  The families below are the sink's
//  /metrics, in the order rendered; docs/operations.md lists them.
#include "sink/exporter.h"
#include "common/metrics.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    M_BUILD, M_STORED, M_FAILED, M_DUPLICATES, M_BATCHES, M_MESSAGES, M_BAD, M_DENIED,
    M_SEALED, M_RECOVERED, M_WRITE_ERRORS, M_INDEXED, M_LATENCY,
};

static const metrics_family_t s_families[] = {
    [M_BUILD] = { "drover_build_info", METRICS_GAUGE,
        "Always 1: the role and version of this drover", { "role", "version" } },
    [M_STORED] = { "drover_results_stored_total", METRICS_COUNTER,
        "Results written to the output, dead letters included", { NULL } },
    [M_FAILED] = { "drover_dead_letters_stored_total", METRICS_COUNTER,
        "Of those, results with status failed", { NULL } },
    [M_DUPLICATES] = { "drover_duplicates_dropped_total", METRICS_COUNTER,
        "Results dropped because the same job and tuple was stored before", { NULL } },
    [M_BATCHES] = { "drover_result_batches_total", METRICS_COUNTER,
        "RESULT batches stored and acknowledged with STORED", { NULL } },
    [M_MESSAGES] = { "drover_messages_total", METRICS_COUNTER,
        "Messages received, good or bad", { NULL } },
    [M_BAD] = { "drover_bad_messages_total", METRICS_COUNTER,
        "Messages refused with an ERROR, DENIED aside", { "socket", "code" } },
    [M_DENIED] = { "drover_denied_total", METRICS_COUNTER,
        "Messages refused as not allowed (unsealed, or no key to open them)", { "socket" } },
    [M_SEALED] = { "drover_sealed_batches_total", METRICS_COUNTER,
        "Sealed batches opened, or refused as tampered or replayed", { "result" } },
    [M_RECOVERED] = { "drover_results_recovered_total", METRICS_COUNTER,
        "Results found in the output at start that the index lacked", { NULL } },
    [M_WRITE_ERRORS] = { "drover_output_write_errors_total", METRICS_COUNTER,
        "Batches the output could not take (the agent sends them again)", { NULL } },
    [M_INDEXED] = { "drover_index_results", METRICS_GAUGE,
        "Results in the dedupe index", { NULL } },
    [M_LATENCY] = { "drover_result_latency_seconds", METRICS_HISTOGRAM,
        "From the handler's start (the agent's clock) to the result stored", { NULL } },
};

#define FAMILIES (sizeof s_families / sizeof s_families[0])

struct sink_exporter {
    http_t *http;
    output_t *output;
    seen_t *seen;
    metrics_t *metrics;
};

sink_exporter_t *
sink_exporter_new (http_t *http, output_t *output, seen_t *seen)
{
    sink_exporter_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    *self = (sink_exporter_t) { http, output, seen, metrics_new (s_families, FAMILIES) };
    if (!self->metrics)
        sink_exporter_destroy (&self);
    return self;
}

void
sink_exporter_destroy (sink_exporter_t **self_p)
{
    sink_exporter_t *self = *self_p;
    if (!self)
        return;
    metrics_destroy (&self->metrics);
    free (self);
    *self_p = NULL;
}

bool
sink_exporter_due (sink_exporter_t *self, int64_t now)
{
    return http_due (self->http, now);
}

static void
s_collect (metrics_t *m, const sink_stats_t *stats, seen_t *seen)
{
    const char *socket = "sink";
    metrics_add (m, M_BUILD, (const char *[]) { "sink", DROVER_VERSION }, 1);
    metrics_add (m, M_STORED, NULL, (double) stats->stored);
    metrics_add (m, M_FAILED, NULL, (double) stats->failed);
    metrics_add (m, M_DUPLICATES, NULL, (double) stats->duplicates);
    metrics_add (m, M_BATCHES, NULL, (double) stats->batches);
    metrics_add (m, M_MESSAGES, NULL, (double) stats->messages);
    for (int code = 1; code < DRV_E_MAX; code++)
        if (code != DRV_E_DENIED && stats->errors[code])
            metrics_add (m, M_BAD, (const char *[]) { socket, msg_error_name (code) },
                         (double) stats->errors[code]);
    metrics_add (m, M_DENIED, &socket, (double) stats->errors[DRV_E_DENIED]);
    metrics_add (m, M_SEALED, (const char *[]) { "opened" }, (double) stats->sealed);
    metrics_add (m, M_SEALED, (const char *[]) { "tampered" }, (double) stats->tampered);
    metrics_add (m, M_SEALED, (const char *[]) { "replayed" }, (double) stats->replayed);
    metrics_add (m, M_RECOVERED, NULL, (double) stats->recovered);
    metrics_add (m, M_WRITE_ERRORS, NULL, (double) stats->write_errors);
    metrics_add (m, M_INDEXED, NULL, (double) seen_size (seen));
    metrics_add_histogram (m, M_LATENCY, NULL, &stats->latency);
}

void
sink_exporter_publish (sink_exporter_t *self, const sink_stats_t *stats)
{
    metrics_clear (self->metrics);
    s_collect (self->metrics, stats, self->seen);
    http_publish_metrics (self->http, self->metrics);
    char why[160] = "";
    int error = output_error (self->output);
    if (error)
        snprintf (why, sizeof why, "output %s: the last write failed: %s",
                  output_path (self->output), strerror (-error));
    http_heartbeat (self->http, error == 0, why);
}
