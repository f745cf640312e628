//  exporter.h -- the broker's side of --http (common/http.h).  Every
//  HTTP_PUBLISH_MS the loop calls broker_exporter_tick, which renders
//  /metrics from the broker's counters, jobs and agents, and /api/state for
//  the dashboard page (broker/dashboard.h), publishes both and tells the
//  server the loop is alive and ready.  It reads what it is lent in the
//  loop's own thread; the server's thread sees only the published copies.
//
//  Per-job series (drover_tuples_*{job}) are kept for the
//  BROKER_METRICS_JOBS newest jobs (by creation); older jobs are summed
//  into job="_other", which a job never leaves once in it, so its counters
//  only grow.  Per-agent series likewise for BROKER_METRICS_AGENTS agents.
#ifndef DROVER_BROKER_EXPORTER_H
#define DROVER_BROKER_EXPORTER_H

#include <stdint.h>

#include "broker/parts.h"
#include "common/http.h"

#define BROKER_METRICS_JOBS     100
#define BROKER_METRICS_AGENTS   100


typedef struct broker_exporter broker_exporter_t;

//  Publish the dashboard page at once.  NULL if out of memory.
broker_exporter_t *broker_exporter_new (const broker_parts_t *parts);
void    broker_exporter_destroy (broker_exporter_t **self_p);
//  Publish if due.  self may be NULL (no --http): nothing to do.
void    broker_exporter_tick (broker_exporter_t *self, int64_t now);
//  When the next tick is due (zclock_mono ms); INT64_MAX for NULL.
int64_t broker_exporter_next (const broker_exporter_t *self);

#endif
