//  exporter.c -- see exporter.h.  The families below are the broker's
//  /metrics, in the order rendered; docs/operations.md lists them.
#include "broker/exporter.h"
#include "broker/dashboard.h"
#include "broker/queue.h"
#include "common/metrics.h"

#include <czmq.h>
#include <stdlib.h>

enum {
    M_BUILD, M_QUEUED, M_RUNNING, M_TUPLES, M_JOBS, M_JOBS_SUMMED, M_WAITING,
    M_BACKING_OFF, M_BYTES, M_DISPATCHED, M_REDELIVERIES, M_EXPIRED, M_DEAD_LETTERS,
    M_DUPLICATES, M_RECOVERED, M_AGENTS, M_SLOTS, M_HELD, M_JOINED, M_LEFT, M_LOST,
    M_BAD, M_DENIED, M_CONNECTIONS, M_COMMIT,
};

static const metrics_family_t s_families[] = {
    [M_BUILD] = { "drover_build_info", METRICS_GAUGE,
        "Always 1: the role and version of this drover", { "role", "version" } },
    [M_QUEUED] = { "drover_tuples_queued", METRICS_GAUGE,
        "Tuples of the job waiting for an agent, backing off included", { "job" } },
    [M_RUNNING] = { "drover_tuples_running", METRICS_GAUGE,
        "Tuples of the job leased to agents", { "job" } },
    [M_TUPLES] = { "drover_tuples_total", METRICS_COUNTER,
        "Tuples of the job submitted, and finished done or failed", { "job", "state" } },
    [M_JOBS] = { "drover_jobs", METRICS_GAUGE,
        "Jobs the broker knows, by state", { "state" } },
    [M_JOBS_SUMMED] = { "drover_jobs_summed", METRICS_GAUGE,
        "Jobs whose series are summed into job=\"_other\"", { NULL } },
    [M_WAITING] = { "drover_tuples_waiting", METRICS_GAUGE,
        "Tuples an agent with credit would get now (back-off over)", { NULL } },
    [M_BACKING_OFF] = { "drover_tuples_backing_off", METRICS_GAUGE,
        "Tuples waiting out a back-off before their next attempt", { NULL } },
    [M_BYTES] = { "drover_tuple_bytes", METRICS_GAUGE,
        "Bytes of the tuples not finished (queued or running)", { NULL } },
    [M_DISPATCHED] = { "drover_tuples_dispatched_total", METRICS_COUNTER,
        "Tuples sent to agents in WORK, each attempt counted", { NULL } },
    [M_REDELIVERIES] = { "drover_redeliveries_total", METRICS_COUNTER,
        "Tuples queued again, by why", { "reason" } },
    [M_EXPIRED] = { "drover_leases_expired_total", METRICS_COUNTER,
        "Leases that ran out before the agent reported", { NULL } },
    [M_DEAD_LETTERS] = { "drover_dead_letters_total", METRICS_COUNTER,
        "Tuples whose attempts were used up with no result (agent lost, lease "
        "expired), sent to an agent to be stored as failed", { NULL } },
    [M_DUPLICATES] = { "drover_duplicate_submits_total", METRICS_COUNTER,
        "SUBMITs answered from a remembered batch, not queued again", { NULL } },
    [M_RECOVERED] = { "drover_tuples_recovered_total", METRICS_COUNTER,
        "Tuples found queued in the store at start", { NULL } },
    [M_AGENTS] = { "drover_agents_connected", METRICS_GAUGE,
        "Agents with a session now", { NULL } },
    [M_SLOTS] = { "drover_agent_slots", METRICS_GAUGE,
        "The agent's slots: tuples it holds plus its credit", { "agent" } },
    [M_HELD] = { "drover_agent_tuples", METRICS_GAUGE,
        "Tuples the agent holds (sent, not reported)", { "agent" } },
    [M_JOINED] = { "drover_agents_joined_total", METRICS_COUNTER,
        "Agent sessions started (HELLO)", { NULL } },
    [M_LEFT] = { "drover_agents_left_total", METRICS_COUNTER,
        "Agent sessions ended with BYE", { NULL } },
    [M_LOST] = { "drover_agents_lost_total", METRICS_COUNTER,
        "Agent sessions ended by silence or a revoked key", { NULL } },
    [M_BAD] = { "drover_bad_messages_total", METRICS_COUNTER,
        "Messages refused with an ERROR, DENIED aside", { "socket", "code" } },
    [M_DENIED] = { "drover_denied_total", METRICS_COUNTER,
        "Messages refused because their key is not allowed", { "socket" } },
    [M_CONNECTIONS] = { "drover_connections_total", METRICS_COUNTER,
        "CURVE connections the allow-lists let in or refused", { "domain", "result" } },
    [M_COMMIT] = { "drover_store_commit_seconds", METRICS_HISTOGRAM,
        "Time to commit a store transaction that held changes", { NULL } },
};

#define FAMILIES (sizeof s_families / sizeof s_families[0])

static const char *const s_sockets[BROKER_SOCKETS] = { "frontend", "intake", "backend" };

struct broker_exporter {
    broker_parts_t parts;
    metrics_t *metrics;
    job_t **jobs;               //  scratch: the jobs, newest first
    size_t jobs_capacity;
};

broker_exporter_t *
broker_exporter_new (const broker_parts_t *parts)
{
    broker_exporter_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->parts = *parts;
    self->metrics = metrics_new (s_families, FAMILIES);
    if (!self->metrics
    ||  metrics_cap (self->metrics, "job", BROKER_METRICS_JOBS)
    ||  metrics_cap (self->metrics, "agent", BROKER_METRICS_AGENTS)
    ||  dashboard_publish_page (parts->http)) {
        broker_exporter_destroy (&self);
        return NULL;
    }
    return self;
}

void
broker_exporter_destroy (broker_exporter_t **self_p)
{
    broker_exporter_t *self = *self_p;
    if (!self)
        return;
    metrics_destroy (&self->metrics);
    free (self->jobs);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  Jobs

static int
s_newest_first (const void *a, const void *b)
{
    uint32_t x = job_number (*(job_t *const *) a), y = job_number (*(job_t *const *) b);
    return x < y? 1: x > y? -1: 0;
}

//  Every job into self->jobs, newest first; how many (0 if out of memory).
static size_t
s_sorted_jobs (broker_exporter_t *self)
{
    size_t count = jobs_count (self->parts.jobs);
    if (count > self->jobs_capacity) {
        job_t **jobs = realloc (self->jobs, count * sizeof *jobs);
        if (!jobs)
            return 0;
        self->jobs = jobs;
        self->jobs_capacity = count;
    }
    size_t n = 0;
    for (job_t *job = jobs_first (self->parts.jobs); job && n < count;
         job = jobs_next (self->parts.jobs))
        self->jobs[n++] = job;
    if (n > 1)
        qsort (self->jobs, n, sizeof *self->jobs, s_newest_first);
    return n;
}

//  Per-job series, newest job first so that the cap keeps the newest.  A
//  job run with each (broker/each.h) holds no tuples: its runs have the
//  series, and it none, so that a sum over jobs counts each tuple once.
static void
s_jobs (broker_exporter_t *self)
{
    metrics_t *m = self->metrics;
    size_t count = s_sorted_jobs (self);
    double states[JOB_ABORTED + 1] = { 0 };
    for (size_t i = 0; i < count; i++) {
        job_counters_t runs;
        job_state_t state = job_state (self->jobs[i]);
        if (self->parts.each && each_status (self->parts.each, self->jobs[i], &runs, &state)) {
            states[state]++;
            continue;
        }
        const char *name = job_name (self->jobs[i]);
        const job_counters_t *c = job_counters (self->jobs[i]);
        metrics_add (m, M_QUEUED, &name, (double) c->queued);
        metrics_add (m, M_RUNNING, &name, (double) c->running);
        metrics_add (m, M_TUPLES, (const char *[]) { name, "submitted" }, (double) c->submitted);
        metrics_add (m, M_TUPLES, (const char *[]) { name, "done" }, (double) c->done);
        metrics_add (m, M_TUPLES, (const char *[]) { name, "failed" }, (double) c->failed);
        states[state]++;
    }
    for (job_state_t state = JOB_OPEN; state <= JOB_ABORTED; state++)
        metrics_add (m, M_JOBS, (const char *[]) { job_state_name (state) }, states[state]);
    metrics_add (m, M_JOBS_SUMMED, NULL, (double) metrics_capped (m, "job"));
    uint64_t queued, bytes;
    jobs_totals (self->parts.jobs, &queued, &bytes);
    metrics_add (m, M_WAITING, NULL, (double) jobs_waiting (self->parts.jobs));
    metrics_add (m, M_BACKING_OFF, NULL, (double) jobs_backing_off (self->parts.jobs));
    metrics_add (m, M_BYTES, NULL, (double) bytes);
}

//  ---------------------------------------------------------------------
//  Agents and the rest

static void
s_agents (broker_exporter_t *self)
{
    metrics_t *m = self->metrics;
    roster_t *roster = self->parts.roster;
    metrics_add (m, M_AGENTS, NULL, (double) roster_size (roster));
    for (session_t *session = roster_first (roster); session;
         session = roster_next (roster)) {
        const char *name = session_name (session);
        size_t held = held_size (session_held (session));
        metrics_add (m, M_SLOTS, &name, (double) (held + session_credit (session)));
        metrics_add (m, M_HELD, &name, (double) held);
    }
    const broker_counters_t *c = self->parts.counters;
    metrics_add (m, M_JOINED, NULL, (double) c->agents_joined);
    metrics_add (m, M_LEFT, NULL, (double) c->agents_left);
    metrics_add (m, M_LOST, NULL, (double) c->agents_lost);
}

static void
s_counters (broker_exporter_t *self)
{
    metrics_t *m = self->metrics;
    const broker_counters_t *c = self->parts.counters;
    static const char *const reasons[] = {
        [QUEUE_WHY_RETRY] = "retry", [QUEUE_WHY_LOST] = "lost",
        [QUEUE_WHY_EXPIRED] = "expired", [QUEUE_WHY_LEFT] = "left" };
    metrics_add (m, M_DISPATCHED, NULL, (double) c->dispatched);
    for (size_t why = QUEUE_WHY_RETRY; why < BROKER_REQUEUE_REASONS; why++)
        metrics_add (m, M_REDELIVERIES, &reasons[why], (double) c->requeued_why[why]);
    metrics_add (m, M_EXPIRED, NULL, (double) c->expired);
    metrics_add (m, M_DEAD_LETTERS, NULL, (double) c->dead_letters);
    metrics_add (m, M_DUPLICATES, NULL, (double) c->duplicates);
    metrics_add (m, M_RECOVERED, NULL, (double) c->recovered);
    for (int socket = 0; socket < BROKER_SOCKETS; socket++) {
        const char *name = s_sockets[socket];
        metrics_add (m, M_DENIED, &name, (double) c->refused[socket][DRV_E_DENIED]);
        for (int code = 1; code < DRV_E_MAX; code++)
            if (code != DRV_E_DENIED && c->refused[socket][code])
                metrics_add (m, M_BAD, (const char *[]) { name, msg_error_name (code) },
                             (double) c->refused[socket][code]);
    }
    const char *domains[] = { AUTH_DOMAIN_PRODUCERS, AUTH_DOMAIN_AGENTS };
    for (int i = 0; self->parts.auth && i < 2; i++) {
        auth_stats_t stats;
        if (auth_stats (self->parts.auth, domains[i], &stats))
            continue;
        metrics_add (m, M_CONNECTIONS, (const char *[]) { domains[i], "allowed" },
                     (double) stats.allowed);
        metrics_add (m, M_CONNECTIONS, (const char *[]) { domains[i], "denied" },
                     (double) stats.denied);
    }
    metrics_add_histogram (m, M_COMMIT, NULL, &c->commit_seconds);
}

static void
s_publish_metrics (broker_exporter_t *self)
{
    metrics_t *m = self->metrics;
    metrics_clear (m);
    metrics_add (m, M_BUILD, (const char *[]) { "broker", DROVER_VERSION }, 1);
    s_jobs (self);
    s_agents (self);
    s_counters (self);
    http_publish_metrics (self->parts.http, m);
}

void
broker_exporter_tick (broker_exporter_t *self, int64_t now)
{
    if (!self || !http_due (self->parts.http, now))
        return;
    s_publish_metrics (self);
    size_t size;
    char *state = dashboard_state (&self->parts, &size);
    if (state)
        http_publish (self->parts.http, "/api/state", "application/json", state, size);
    free (state);
    //  Here, the store is open and the sockets are bound.
    http_heartbeat (self->parts.http, true, NULL);
}

int64_t
broker_exporter_next (const broker_exporter_t *self)
{
    return self? http_next (self->parts.http): INT64_MAX;
}
