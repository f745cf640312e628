//  cmd_sink.c -- `drover sink`: parse flags and environment, run the sink
//  server (sink/sink.h) until SIGINT or SIGTERM, log its counters, exit 0.
#include "cli/commands.h"

//  czmq.h pulls in <syslog.h>, whose LOG_LEVEL_DEBUG and LOG_LEVEL_INFO macros would
//  shadow common/log.h's levels; drop them (nothing here uses syslog).
#include <czmq.h>
#include "common/log.h"
#include "sink/sink.h"

#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: drover sink [OPTIONS]\n"
        "\n"
        "Receive result batches from agents, drop results already stored (same\n"
        "job and tuple id), append the others to a JSON Lines file, one a line:\n"
        "  {\"job\":..,\"tuple\":..,\"attempt\":..,\"agent\":..,\"status\":\"ok\",\n"
        "   \"started_us\":..,\"duration_us\":..,\"input\":..,\"output\":..}\n"
        "with \"status\":\"failed\" and \"error\" instead of \"output\" for dead letters.\n"
        "A batch is acknowledged to its agent (STORED) only once it is written.\n"
        "\n"
        "options (each flag's default comes from the environment variable shown):\n"
        "  -b, --bind ENDPOINTS   endpoints to bind, comma-separated   DROVER_BIND\n"
        "                         (default %s)\n"
        "  -o, --output FILE      file to append results to, '-' for  DROVER_OUTPUT\n"
        "                         stdout (default -); logs go to stderr\n"
        "      --fsync            fdatasync the file after each batch  DROVER_FSYNC=1\n"
        "      --log-level LEVEL  debug, info, warn or error           DROVER_LOG_LEVEL\n"
        "                         (default info)\n"
        "  -h, --help             this help\n"
        "\n"
        "SIGINT or SIGTERM: stop after the batch at hand, log the counters, exit 0.\n",
        SINK_DEFAULT_BIND);
}

static int
s_usage_error (const char *what, const char *value)
{
    fprintf (stderr, "drover sink: %s%s%s\ntry 'drover sink --help'\n",
             what, value? ": ": "", value? value: "");
    return 2;
}

//  An environment variable, or NULL if unset or empty.
static const char *
s_env (const char *name)
{
    const char *value = getenv (name);
    return value && *value? value: NULL;
}

//  "1", "true", "yes", "on" -> 1; "0", "false", "no", "off" -> 0; else -1.
static int
s_parse_bool (const char *text)
{
    const char *yes[] = { "1", "true", "yes", "on" };
    const char *no[] = { "0", "false", "no", "off" };
    for (int i = 0; i < 4; i++) {
        if (!strcasecmp (text, yes[i]))
            return 1;
        if (!strcasecmp (text, no[i]))
            return 0;
    }
    return -1;
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
              " bad messages%s, %" PRIu64 " messages in all",
              stats->stored, stats->failed, stats->batches, stats->duplicates,
              stats->bad, codes, stats->messages);
}

int
cmd_sink (int argc, char **argv)
{
    enum { OPT_FSYNC = 256, OPT_LOG_LEVEL };
    static const struct option options[] = {
        { "bind",      required_argument, NULL, 'b' },
        { "output",    required_argument, NULL, 'o' },
        { "fsync",     no_argument,       NULL, OPT_FSYNC },
        { "log-level", required_argument, NULL, OPT_LOG_LEVEL },
        { "help",      no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    sink_config_t config = {
        .bind = s_env ("DROVER_BIND"),
        .output = s_env ("DROVER_OUTPUT"),
    };
    const char *level_name = s_env ("DROVER_LOG_LEVEL");
    const char *fsync_env = s_env ("DROVER_FSYNC");
    if (fsync_env) {
        int value = s_parse_bool (fsync_env);
        if (value < 0)
            return s_usage_error ("DROVER_FSYNC must be 1 or 0", fsync_env);
        config.fsync = value;
    }
    opterr = 0;
    optind = 1;
    int opt;
    while ((opt = getopt_long (argc, argv, ":b:o:h", options, NULL)) != -1) {
        switch (opt) {
            case 'b': config.bind = optarg; break;
            case 'o': config.output = optarg; break;
            case OPT_FSYNC: config.fsync = true; break;
            case OPT_LOG_LEVEL: level_name = optarg; break;
            case 'h': s_usage (stdout); return 0;
            case ':': return s_usage_error ("option needs a value", argv[optind - 1]);
            default:  return s_usage_error ("unknown option", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return s_usage_error ("unexpected argument", argv[optind]);
    int level = level_name? log_level_parse (level_name): LOG_LEVEL_INFO;
    if (level < 0)
        return s_usage_error ("log level must be debug, info, warn or error", level_name);
    if (config.bind && !*config.bind)
        return s_usage_error ("--bind needs at least one endpoint", NULL);
    if (config.output && !*config.output)
        return s_usage_error ("--output needs a file name or '-'", NULL);
    log_init ("sink", (log_level_t) level);

    //  A reader of stdout that goes away must not kill the sink mid-batch:
    //  the write fails with EPIPE, which is logged and answered instead.
    signal (SIGPIPE, SIG_IGN);
    sink_t *sink = sink_new (&config);
    if (!sink)
        return 1;
    const char *path = sink_output_path (sink);
    log_info ("sink ready: bound %s, writing to %s%s", sink_endpoints (sink),
              strcmp (path, "-")? path: "stdout", config.fsync? " (fsync)": "");
    sink_run (sink);
    log_info ("interrupted, shutting down");
    sink_stats_t stats;
    sink_stats (sink, &stats);
    sink_destroy (&sink);
    s_log_stats (&stats);
    return 0;
}
