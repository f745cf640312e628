//  exporter.h -- the sink's side of --http (common/http.h): every
//  HTTP_PUBLISH_MS the sink's loop hands its counters to
//  sink_exporter_publish, which renders /metrics and tells the server the
//  loop is alive, and ready while the output takes writes (the index is
//  open once the sink runs).  Only the loop's thread calls it.
#ifndef DROVER_SINK_EXPORTER_H
#define DROVER_SINK_EXPORTER_H

#include <stdbool.h>
#include <stdint.h>

#include "common/http.h"
#include "sink/output.h"
#include "sink/seen.h"
#include "sink/stats.h"

typedef struct sink_exporter sink_exporter_t;

//  http, output and seen are borrowed.  NULL if out of memory.
sink_exporter_t *sink_exporter_new (http_t *http, output_t *output, seen_t *seen);
void sink_exporter_destroy (sink_exporter_t **self_p);
//  True once every HTTP_PUBLISH_MS: then publish.
bool sink_exporter_due (sink_exporter_t *self, int64_t now);
void sink_exporter_publish (sink_exporter_t *self, const sink_stats_t *stats);

#endif
