//  cmd_broker.c -- `drover broker`: its options (the table below), its keys
//  and allow-lists (cli/security.h), then the broker (broker/broker.h)
//  until SIGINT or SIGTERM, then exit 0.
#include <czmq.h>
#include "cli/commands.h"
#include "cli/http_options.h"
#include "cli/options.h"
#include "cli/security.h"
#include "broker/broker.h"
#include "common/log.h"

#include <inttypes.h>
#include <stdint.h>

typedef struct {
    broker_config_t config;
    security_options_t security;
    http_options_t http;
    const char *scheduling;
    const char *log_level;
} broker_args_t;

#define AT(field) OPTION_AT (broker_args_t, field)
#define HOUR_MS (3600 * 1000)
#define DAY_MS  (24 * HOUR_MS)

static const char *const s_stores[] = { "lmdb", "memory", NULL };

static const option_t s_options[] = {
    { "frontend", 0, OPTION_STRING, AT (config.frontend), "ENDPOINTS",
      .help = "producers' ROUTER (SUBMIT, STATUS), comma-separated to bind several" },
    { "intake", 0, OPTION_STRING, AT (config.intake), "ENDPOINTS",
      .help = "producers' PULL (SUBMIT without a reply)" },
    { "backend", 0, OPTION_STRING, AT (config.backend), "ENDPOINTS",
      .help = "agents' ROUTER" },
    { "heartbeat-ms", 0, OPTION_NUMBER, AT (config.heartbeat_ms), "N", 1, HOUR_MS,
      .help = "heartbeat interval; an agent silent for 3 intervals is lost" },
    { "max-batch", 0, OPTION_NUMBER, AT (config.max_batch), "N", 1, MSG_MAX_PAYLOADS,
      .help = "most tuples in one SUBMIT, at most 100000; more: TOO_LARGE" },
    { "max-tuple-size", 0, OPTION_SIZE, AT (config.max_tuple_size), "SIZE", 1, INT64_MAX,
      .help = "most bytes in one tuple, else TOO_LARGE" },
    { "max-message-size", 0, OPTION_SIZE, AT (config.max_message_size), "SIZE", 1, INT64_MAX,
      .help = "most bytes in one frame on any socket; a bigger frame drops the peer's "
              "connection" },
    { "max-queued", 0, OPTION_NUMBER, AT (config.max_queued), "N", 1, UINT64_MAX,
      .help = "most tuples waiting for agents, else QUEUE_FULL" },
    { "max-queued-bytes", 0, OPTION_SIZE, AT (config.max_queued_bytes), "SIZE", 1, UINT64_MAX,
      .help = "most bytes of tuples not finished, else QUEUE_FULL" },
    { "max-job-queued", 0, OPTION_NUMBER, AT (config.max_job_queued), "N", 1, UINT64_MAX,
      .help = "the same per job" },
    { "max-job-queued-bytes", 0, OPTION_SIZE, AT (config.max_job_queued_bytes), "SIZE",
      1, UINT64_MAX, .help = "the same per job" },
    { "retry-ms", 0, OPTION_NUMBER, AT (config.retry_ms), "N", 1, HOUR_MS,
      .help = "retry hint sent with QUEUE_FULL" },
    { "intake-hwm", 0, OPTION_NUMBER, AT (config.intake_hwm), "N", 0, INT32_MAX,
      .help = "ZMQ_RCVHWM of the intake, 0 for no limit; past it producers' PUSH blocks" },
    { "store", 0, OPTION_CHOICE, AT (config.store), "KIND", .choices = s_stores,
      .help = "where tuples are kept: lmdb (durable, in --data-dir) or memory (lost when "
              "the broker stops)" },
    { "data-dir", 0, OPTION_STRING, AT (config.data_dir), "DIR",
      .help = "the lmdb store's directory, created 0700" },
    { "map-size", 0, OPTION_SIZE, AT (config.map_size), "SIZE", 1, SIZE_MAX,
      .help = "most bytes the lmdb store may hold; address space, not disk" },
    { "lease-slack-ms", 0, OPTION_NUMBER, AT (config.lease_slack_ms), "N", 0, DAY_MS,
      .help = "a tuple's lease is its job's timeout_ms plus this; when it ends the tuple "
              "is queued again" },
    { "reclaim-ms", 0, OPTION_NUMBER, AT (config.reclaim_ms), "N", 0, HOUR_MS,
      .help = "after a restart with tuples in the store, hand out no work for this long, "
              "so agents reconnecting resume the tuples they hold; 0 for none" },
    { "retry-backoff-ms", 0, OPTION_NUMBER, AT (config.retry_backoff_ms), "N", 0, HOUR_MS,
      .help = "wait before a retried tuple's 2nd attempt, doubling for each later one; "
              "0 for none" },
    { "retry-backoff-max-ms", 0, OPTION_NUMBER, AT (config.retry_backoff_max_ms), "N",
      1, DAY_MS, .help = "the longest such wait" },
    { "batch-memory", 0, OPTION_NUMBER, AT (config.batch_memory), "N", 1, 100000000,
      .help = "SUBMIT batch ids remembered per job, so a retried SUBMIT is answered, not "
              "queued again" },
    { "exclude-file", 0, OPTION_STRING, AT (config.exclude_file), "FILE",
      .help = "targets no job may ever touch (docs/campaigns.md syntax, '#' comments), "
              "read again when it changes: their tuples are never run; an agent stores each "
              "at the sink as status excluded, and they are counted" },
    SECURITY_CERT (broker_args_t,
        "the broker's keypair (from drover keygen; PATH_secret beside it is read): the "
        "frontend and intake become CURVE servers for producers, the backend for agents.  "
        "Or DROVER_SECRET_KEY (Z85).  Required unless --insecure"),
    SECURITY_INSECURE (broker_args_t,
        "without a keypair, run plain: no CURVE, anyone on the network may connect; a "
        "keypair that is given is still used"),
    { "allow-producers", 0, OPTION_STRING, AT (security.allow_producers), "DIR|any",
      .help = "with a keypair, required: a directory of the public certificates of "
              "producers let in, read again when it changes (removing a file revokes the "
              "key, also on open connections: ERROR DENIED); any: every key" },
    { "allow-agents", 0, OPTION_STRING, AT (security.allow_agents), "DIR|any",
      .help = "the same for agents on the backend" },
    HTTP_OPTIONS (broker_args_t, "Prometheus /metrics, /healthz, /readyz and a live "
                  "dashboard (/)"),
    OPTION_SCHEDULING (broker_args_t, scheduling),
    OPTION_LOG_LEVEL (broker_args_t, log_level),
};

static const options_spec_t s_spec = {
    .command = "broker",
    .usage = "[OPTIONS]",
    .about =
        "Queue tuples from producers and hand them to agents by credit.  Producers\n"
        "send SUBMIT and STATUS to the frontend (REQ or DEALER) or SUBMIT to the\n"
        "intake (PUSH, no reply); agents connect to the backend (DEALER).  See\n"
        "proto/PROTOCOL.md.\n",
    .notes = "SIGINT or SIGTERM: stop, log the counters, exit 0.\n",
    OPTIONS_TABLE (s_options),
};

//  The ZAP handler's counters, once the sockets are closed.
static void
s_log_auth (auth_t *auth)
{
    const char *domains[] = { AUTH_DOMAIN_PRODUCERS, AUTH_DOMAIN_AGENTS };
    for (int i = 0; auth && i < 2; i++) {
        auth_stats_t stats;
        if (auth_stats (auth, domains[i], &stats) == 0)
            log_info ("broker: %s: connections %" PRIu64 " allowed, %" PRIu64 " denied; "
                      "%zu keys, %" PRIu64 " reloads", domains[i], stats.allowed,
                      stats.denied, stats.keys, stats.reloads);
    }
}

static int
s_run (void *args_v, const options_t *options)
{
    broker_args_t *args = args_v;
    log_init ("broker", (log_level_t) log_level_parse (args->log_level));
    sched_policy_start (args->scheduling);
    security_t *security = NULL;
    int rc = security_new (SECURITY_BROKER, &args->security, options, &security);
    if (rc)
        return rc;
    args->config.keys = security_keys (security);
    args->config.auth = security_auth (security);
    //  Before the broker: /healthz and /readyz answer (starting) while a
    //  large store opens.
    http_t *http = NULL;
    rc = http_options_start (&args->http, options, args->config.keys != NULL, &http);
    if (rc) {
        security_destroy (&security);
        return rc;
    }
    args->config.http = http;
    broker_t *broker = broker_new (&args->config);
    if (broker) {
        broker_run (broker);
        broker_destroy (&broker);
        log_info ("broker shut down");
    }
    else
        rc = 1;
    http_destroy (&http);
    s_log_auth (security_auth (security));
    security_destroy (&security);
    return rc;
}

int
cmd_broker (int argc, char **argv)
{
    broker_args_t args = { .scheduling = SCHED_POLICY_DEFAULT, .log_level = "info" };
    broker_config_defaults (&args.config);
    return options_main (&s_spec, &args, argc, argv, s_run);
}
