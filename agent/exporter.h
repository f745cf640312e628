//  exporter.h -- the agent's side of --http (common/http.h): every
//  HTTP_PUBLISH_MS the agent's loop hands its counters to
//  agent_exporter_publish, which renders /metrics from them and from the
//  parts it was lent, and tells the server the loop is alive, and ready
//  while a broker session runs (WELCOME received), every worker process is
//  up and the agent is not draining.  Only the loop's thread calls it.
#ifndef DROVER_AGENT_EXPORTER_H
#define DROVER_AGENT_EXPORTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/counters.h"
#include "agent/outbox.h"
#include "agent/running.h"
#include "agent/supervisor.h"
#include "agent/uplink.h"
#include "common/http.h"

//  What the exporter reads, all borrowed from the agent.
typedef struct {
    http_t *http;
    uplink_t *uplink;
    supervisor_t *workers;
    running_t *running;
    outbox_t *outbox;
} agent_parts_t;

//  The agent's own numbers at the moment of publishing.
typedef struct {
    const agent_counters_t *counters;
    size_t slots;               //  announced to the broker
    size_t held;                //  taken by tuples, from WORK to DONE or RETRY
    bool draining;
} agent_status_t;

typedef struct agent_exporter agent_exporter_t;

//  NULL if out of memory.
agent_exporter_t *agent_exporter_new (const agent_parts_t *parts);
void agent_exporter_destroy (agent_exporter_t **self_p);
//  True once every HTTP_PUBLISH_MS: then publish.
bool agent_exporter_due (agent_exporter_t *self, int64_t now);
void agent_exporter_publish (agent_exporter_t *self, const agent_status_t *status);

#endif
