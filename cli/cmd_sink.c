//  cmd_sink.c -- `drover sink`: its options (the table below), its keys
//  (cli/security.h), then the sink server (sink/sink.h) until SIGINT or
//  SIGTERM; then log its counters and exit 0.
#include <czmq.h>
#include "cli/commands.h"
#include "cli/http_options.h"
#include "cli/options.h"
#include "cli/security.h"
#include "common/log.h"
#include "sink/sink.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    sink_config_t config;
    security_options_t security;
    http_options_t http;
    const char *store;
    bool manifests;
    const char *scheduling;
    const char *log_level;
} sink_args_t;

#define AT(field) OPTION_AT (sink_args_t, field)

static const char *const s_stores[] = { "lmdb", "memory", NULL };

static const option_t s_options[] = {
    { "bind", 'b', OPTION_STRING, AT (config.bind), "ENDPOINTS",
      .help = "endpoints to bind, comma-separated" },
    { "output", 'o', OPTION_STRING, AT (config.output), "FILE",
      .help = "file to append results to, '-' for stdout; logs go to stderr" },
    { "fsync", 0, OPTION_BOOL, AT (config.fsync),
      .help = "fdatasync the file and the index after each batch (survive power loss, "
              "not only a killed sink)" },
    { "data-dir", 'd', OPTION_STRING, AT (config.data_dir), "DIR",
      .default_text = "FILE.sink-data beside the output file, ./drover-sink-data for stdout",
      .help = "dedupe index directory, made 0700; one sink per DIR" },
    { "manifests", 0, OPTION_BOOL, AT (manifests),
      .help = "with an output file, write each job's manifest, FILE.JOB.manifest.json "
              "(drover results --verify checks one), once the job has had no new result "
              "for --manifest-delay, again if more come; off by default, as reading the "
              "lines back costs the sink about 4 us a result (3x its CPU)" },
    { "manifest-delay", 0, OPTION_DURATION, AT (config.manifest_delay_ms), "DURATION", 0,
      3600000, .help = "how long a job has had no new result before its manifest is "
                       "written" },
    { "store", 0, OPTION_CHOICE, AT (store), "KIND", .choices = s_stores,
      .help = "lmdb (durable) or memory (lost at exit: throwaway runs)" },
    SECURITY_CERT (sink_args_t,
        "the sink's certificate (drover keygen): NAME or NAME_secret; or DROVER_SECRET_KEY "
        "(Z85).  With a keypair, the socket uses CURVE and results must be sealed for this "
        "key (RESULT with key).  Required unless --insecure"),
    SECURITY_INSECURE (sink_args_t,
        "without a keypair, run plain: no CURVE, no seals, any agent may connect; a keypair "
        "that is given is still used"),
    { "allow-plain", 0, OPTION_BOOL, AT (security.allow_plain),
      .help = "with a keypair, accept unsealed results too" },
    { "allow-agents", 0, OPTION_STRING, AT (security.allow_agents), "DIR|any",
      .help = "with a keypair, let in only agents whose public certificates are in DIR "
              "(CURVE, ZAP; read again when it changes: removing a file revokes the key); "
              "default: any, any agent that knows the sink's public key" },
    HTTP_OPTIONS (sink_args_t, "Prometheus /metrics, /healthz and /readyz"),
    OPTION_SCHEDULING (sink_args_t, scheduling),
    OPTION_LOG_LEVEL (sink_args_t, log_level),
};

static const options_spec_t s_spec = {
    .command = "sink",
    .usage = "[OPTIONS]",
    .about =
        "Receive result batches from agents, drop results already stored (same\n"
        "job and tuple id), append the others to a JSON Lines file, one a line:\n"
        "  {\"job\":..,\"tuple\":..,\"attempt\":..,\"agent\":..,\"status\":\"ok\",\n"
        "   \"started_us\":..,\"duration_us\":..,\"input\":..,\"output\":..}\n"
        "with \"status\":\"failed\" and \"error\" instead of \"output\" for dead letters.\n"
        "A batch is acknowledged to its agent (STORED) only once it is written\n"
        "and recorded in the dedupe index.  The index (LMDB) keeps one small key\n"
        "per stored result, so a restarted sink still drops duplicates; at start\n"
        "it indexes lines a crash left written but not recorded.\n",
    .notes = "SIGINT or SIGTERM: stop after the batch at hand, log the counters, exit 0.\n",
    OPTIONS_TABLE (s_options),
};

//  The index beside its output file (FILE.sink-data), so that each output
//  has its own; stdout and devices get ./drover-sink-data.
static const char *
s_default_data_dir (const char *output, char *buf, size_t size)
{
    struct stat st;
    bool file = output && strcmp (output, "-")
             && (stat (output, &st)? errno == ENOENT: S_ISREG (st.st_mode));
    if (!file || snprintf (buf, size, "%s.sink-data", output) >= (int) size)
        snprintf (buf, size, "./drover-sink-data");
    return buf;
}

static void
s_log_stats (const sink_stats_t *stats)
{
    char codes[512] = "";
    size_t used = 0;
    for (int code = 1; code < DRV_E_MAX; code++)
        if (stats->errors[code] && used < sizeof codes) {
            int n = snprintf (codes + used, sizeof codes - used, "%s%s %" PRIu64,
                              used? ", ": " (", msg_error_name (code),
                              stats->errors[code]);
            used += n > 0? (size_t) n: 0;
        }
    if (used && used < sizeof codes - 1)
        strcat (codes, ")");
    log_info ("sink shut down: %" PRIu64 " results stored (%" PRIu64 " failed) in %"
              PRIu64 " batches, %" PRIu64 " duplicates dropped, %" PRIu64
              " bad messages%s, %" PRIu64 " messages in all; sealed batches: %" PRIu64
              " opened, %" PRIu64 " tampered, %" PRIu64 " replayed; %" PRIu64
              " results recovered at start",
              stats->stored, stats->failed, stats->batches, stats->duplicates,
              stats->bad, codes, stats->messages, stats->sealed, stats->tampered,
              stats->replayed, stats->recovered);
}

static int
s_run (void *args_v, const options_t *options)
{
    sink_args_t *args = args_v;
    sink_config_t *config = &args->config;
    log_init ("sink", (log_level_t) log_level_parse (args->log_level));
    sched_policy_start (args->scheduling);
    security_t *security = NULL;
    int rc = security_new (SECURITY_SINK, &args->security, options, &security);
    if (rc)
        return rc;
    char data_dir[PATH_MAX];
    if (!strcmp (args->store, "memory"))
        config->data_dir = NULL;
    else
    if (!config->data_dir)
        config->data_dir = s_default_data_dir (config->output, data_dir, sizeof data_dir);
    keys_t *keys = security_keys (security);
    config->keys = keys;
    config->allow_plain = args->security.allow_plain;
    config->auth = security_auth (security);
    config->manifests = args->manifests;
    //  A reader of stdout that goes away must not kill the sink mid-batch:
    //  the write fails with EPIPE, which is logged and answered instead.
    signal (SIGPIPE, SIG_IGN);
    //  Before the sink: /healthz and /readyz answer (starting) while the
    //  output opens and the index recovers.
    http_t *http = NULL;
    rc = http_options_start (&args->http, options, false, &http);
    if (rc) {
        security_destroy (&security);
        return rc;
    }
    config->http = http;
    sink_t *sink = sink_new (config);
    if (!sink) {
        http_destroy (&http);
        security_destroy (&security);
        return 1;
    }
    const char *allowed = args->security.allow_agents;
    if (keys)
        log_info ("sink key %s: CURVE on, %s, %s%s", keys_public_txt (keys),
                  config->allow_plain? "sealed and plain results accepted"
                                     : "sealed results only",
                  allowed && strcmp (allowed, "any")? "agent keys let in from ": "",
                  allowed && strcmp (allowed, "any")? allowed: "any agent key let in");
    const char *path = sink_output_path (sink);
    log_info ("sink ready: bound %s, writing to %s%s, dedupe %s", sink_endpoints (sink),
              strcmp (path, "-")? path: "stdout", config->fsync? " (fsync)": "",
              config->data_dir? "lmdb": "in memory");
    sink_run (sink);
    log_info ("interrupted, shutting down");
    sink_stats_t stats;
    sink_stats (sink, &stats);
    sink_destroy (&sink);
    http_destroy (&http);
    s_log_stats (&stats);
    auth_stats_t connections;
    if (config->auth && auth_stats (config->auth, AUTH_DOMAIN_AGENTS, &connections) == 0)
        log_info ("sink: agents: connections %" PRIu64 " allowed, %" PRIu64 " denied; %zu keys, "
                  "%" PRIu64 " reloads", connections.allowed, connections.denied,
                  connections.keys, connections.reloads);
    security_destroy (&security);        //  the ZAP handler, after the socket
    return 0;
}

int
cmd_sink (int argc, char **argv)
{
    sink_args_t args = { .config = { .bind = SINK_DEFAULT_BIND, .output = "-",
                                     .manifest_delay_ms = 1000 },
                         .store = "lmdb", .scheduling = SCHED_POLICY_DEFAULT,
                         .log_level = "info" };
    return options_main (&s_spec, &args, argc, argv, s_run);
}
