//  exporter.c -- see exporter.h.  The families below are the agent's
//  /metrics, in the order rendered; docs/operations.md lists them.
#include "agent/exporter.h"
#include "common/metrics.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>

enum {
    M_BUILD, M_CONNECTED, M_SESSIONS, M_SLOTS, M_HELD, M_RUNNING, M_PENDING, M_WORKERS,
    M_DEATHS, M_TUPLES, M_DEAD_LETTERS, M_TOUCHED, M_BAD, M_HANDLER,
};

static const metrics_family_t s_families[] = {
    [M_BUILD] = { "drover_build_info", METRICS_GAUGE,
        "Always 1: the role and version of this drover", { "role", "version" } },
    [M_CONNECTED] = { "drover_broker_connected", METRICS_GAUGE,
        "1 while a broker session runs (WELCOME received), else 0", { NULL } },
    [M_SESSIONS] = { "drover_broker_sessions_total", METRICS_COUNTER,
        "Broker sessions started (HELLO sent)", { NULL } },
    [M_SLOTS] = { "drover_slots", METRICS_GAUGE,
        "Tuples this agent holds at most, announced to the broker", { NULL } },
    [M_HELD] = { "drover_slots_held", METRICS_GAUGE,
        "Slots taken: from WORK until DONE or RETRY", { NULL } },
    [M_RUNNING] = { "drover_tasks_running", METRICS_GAUGE,
        "Tuples given to handlers (started, or queued at a worker)", { NULL } },
    [M_PENDING] = { "drover_results_pending", METRICS_GAUGE,
        "Results sent to sinks and not yet stored", { NULL } },
    [M_WORKERS] = { "drover_workers", METRICS_GAUGE,
        "Worker processes, up (taking tasks) or not", { "state" } },
    [M_DEATHS] = { "drover_worker_deaths_total", METRICS_COUNTER,
        "Worker processes that died (each is started again)", { NULL } },
    [M_TUPLES] = { "drover_agent_tuples_total", METRICS_COUNTER,
        "Tuples run, by outcome: ok, failed (last attempt; dead letters included), "
        "retried, unsealable (handed back: no keypair), cancelled (stopped: job cancelled)",
        { "outcome" } },
    [M_DEAD_LETTERS] = { "drover_agent_dead_letters_total", METRICS_COUNTER,
        "Dead letters stored at the sink as failed, not run", { NULL } },
    [M_TOUCHED] = { "drover_lease_touches_total", METRICS_COUNTER,
        "Lease extensions asked of the broker (tuples in TOUCH)", { NULL } },
    [M_BAD] = { "drover_agent_bad_messages_total", METRICS_COUNTER,
        "Undecodable or unexpected messages from the broker", { NULL } },
    [M_HANDLER] = { "drover_handler_seconds", METRICS_HISTOGRAM,
        "How long handlers ran, per tuple attempt", { NULL } },
};

#define FAMILIES (sizeof s_families / sizeof s_families[0])

struct agent_exporter {
    agent_parts_t parts;
    metrics_t *metrics;
};

agent_exporter_t *
agent_exporter_new (const agent_parts_t *parts)
{
    agent_exporter_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->parts = *parts;
    self->metrics = metrics_new (s_families, FAMILIES);
    if (!self->metrics)
        agent_exporter_destroy (&self);
    return self;
}

void
agent_exporter_destroy (agent_exporter_t **self_p)
{
    agent_exporter_t *self = *self_p;
    if (!self)
        return;
    metrics_destroy (&self->metrics);
    free (self);
    *self_p = NULL;
}

bool
agent_exporter_due (agent_exporter_t *self, int64_t now)
{
    return http_due (self->parts.http, now);
}

static void
s_collect (agent_exporter_t *self, const agent_status_t *status)
{
    metrics_t *m = self->metrics;
    const agent_parts_t *p = &self->parts;
    const agent_counters_t *c = status->counters;
    size_t processes = supervisor_processes (p->workers);
    size_t ready = supervisor_ready (p->workers);
    metrics_add (m, M_BUILD, (const char *[]) { "agent", DROVER_VERSION }, 1);
    metrics_add (m, M_CONNECTED, NULL, uplink_live (p->uplink));
    metrics_add (m, M_SESSIONS, NULL, (double) c->sessions);
    metrics_add (m, M_SLOTS, NULL, (double) status->slots);
    metrics_add (m, M_HELD, NULL, (double) status->held);
    metrics_add (m, M_RUNNING, NULL, (double) running_count (p->running));
    metrics_add (m, M_PENDING, NULL, (double) outbox_pending (p->outbox));
    metrics_add (m, M_WORKERS, (const char *[]) { "up" }, (double) ready);
    metrics_add (m, M_WORKERS, (const char *[]) { "down" }, (double) (processes - ready));
    metrics_add (m, M_DEATHS, NULL, (double) supervisor_deaths (p->workers));
    metrics_add (m, M_TUPLES, (const char *[]) { "ok" }, (double) c->ok);
    metrics_add (m, M_TUPLES, (const char *[]) { "failed" }, (double) c->failed);
    metrics_add (m, M_TUPLES, (const char *[]) { "retried" }, (double) c->retried);
    metrics_add (m, M_TUPLES, (const char *[]) { "unsealable" }, (double) c->unsealable);
    metrics_add (m, M_TUPLES, (const char *[]) { "cancelled" }, (double) c->cancelled);
    metrics_add (m, M_DEAD_LETTERS, NULL, (double) c->dead_letters);
    metrics_add (m, M_TOUCHED, NULL, (double) c->touched);
    metrics_add (m, M_BAD, NULL, (double) c->bad_messages);
    metrics_add_histogram (m, M_HANDLER, NULL, &c->handler_seconds);
}

//  Ready, or why not.
static bool
s_ready (agent_exporter_t *self, const agent_status_t *status, char *why, size_t size)
{
    size_t processes = supervisor_processes (self->parts.workers);
    size_t ready = supervisor_ready (self->parts.workers);
    if (status->draining)
        snprintf (why, size, "draining: taking no more work");
    else
    if (!uplink_live (self->parts.uplink))
        snprintf (why, size, "no broker session (no WELCOME from %s)",
                  uplink_endpoint (self->parts.uplink));
    else
    if (ready < processes)
        snprintf (why, size, "%zu of %zu worker processes up", ready, processes);
    else
        return true;
    return false;
}

void
agent_exporter_publish (agent_exporter_t *self, const agent_status_t *status)
{
    metrics_clear (self->metrics);
    s_collect (self, status);
    http_publish_metrics (self->parts.http, self->metrics);
    char why[160] = "";
    bool ready = s_ready (self, status, why, sizeof why);
    http_heartbeat (self->parts.http, ready, why);
}
