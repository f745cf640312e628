//  cmd_sink.c -- `drover sink`: parse flags and environment, run the sink
//  server (sink/sink.h) until SIGINT or SIGTERM, log its counters, exit 0.
#include "cli/commands.h"
#include "cli/flags.h"

//  czmq.h pulls in <syslog.h>, whose LOG_LEVEL_DEBUG and LOG_LEVEL_INFO macros would
//  shadow common/log.h's levels; drop them (nothing here uses syslog).
#include <czmq.h>
#include "common/curve.h"
#include "common/keys.h"
#include "common/log.h"
#include "sink/sink.h"

#include <getopt.h>
#include <limits.h>
#include <sys/stat.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
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
        "A batch is acknowledged to its agent (STORED) only once it is written\n"
        "and recorded in the dedupe index.  The index (LMDB) keeps one small key\n"
        "per stored result, so a restarted sink still drops duplicates; at start\n"
        "it indexes lines a crash left written but not recorded.\n"
        "\n"
        "options (each flag's default comes from the environment variable shown):\n"
        "  -b, --bind ENDPOINTS   endpoints to bind, comma-separated   DROVER_BIND\n"
        "                         (default %s)\n"
        "  -o, --output FILE      file to append results to, '-' for  DROVER_OUTPUT\n"
        "                         stdout (default -); logs go to stderr\n"
        "      --fsync            fdatasync the file and the index     DROVER_FSYNC=1\n"
        "                         after each batch (survive power loss, not only a\n"
        "                         killed sink)\n"
        "  -d, --data-dir DIR     dedupe index directory, made 0700    DROVER_DATA_DIR\n"
        "                         (default: FILE.sink-data beside the output file,\n"
        "                         ./drover-sink-data for stdout); one sink per DIR\n"
        "      --store KIND       lmdb (durable, default) or memory    DROVER_STORE\n"
        "                         (lost at exit: throwaway runs)\n"
        "      --cert PATH        the sink's certificate (drover keygen) DROVER_CERT\n"
        "                         NAME or NAME_secret; or DROVER_SECRET_KEY (Z85).\n"
        "                         With a keypair, the socket uses CURVE and results\n"
        "                         must be sealed for this key (RESULT with key).\n"
        "                         Required unless --insecure\n"
        "      --insecure         without a keypair, run plain: no     DROVER_INSECURE=1\n"
        "                         CURVE, no seals, any agent may connect; a\n"
        "                         keypair that is given is still used\n"
        "      --allow-plain      with a keypair, accept unsealed      DROVER_ALLOW_PLAIN=1\n"
        "                         results too\n"
        "      --allow-agents DIR with a keypair, let in only agents   DROVER_ALLOW_AGENTS\n"
        "                         whose public certificates are in DIR (CURVE, ZAP;\n"
        "                         removing a file revokes it); default: any agent\n"
        "                         that knows the sink's public key\n"
        "      --log-level LEVEL  debug, info, warn or error           DROVER_LOG_LEVEL\n"
        "                         (default info)\n"
        "  -h, --help             this help\n"
        "\n"
        "SIGINT or SIGTERM: stop after the batch at hand, log the counters, exit 0.\n",
        SINK_DEFAULT_BIND);
}

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

//  The keypair from --cert, else from DROVER_CERT or DROVER_SECRET_KEY.
static int
s_load_keys (const char *cert, keys_t **keys_p)
{
    char err[512];
    if (!cert) {
        if (keys_from_env (keys_p, err, sizeof err) == 0)
            return 0;
        log_error ("%s", err);
        return -1;
    }
    *keys_p = keys_load (cert, err, sizeof err);
    if (*keys_p && !keys_has_secret (*keys_p)) {
        snprintf (err, sizeof err, "%s: no secret key (give NAME_secret or NAME "
                  "with NAME_secret beside it)", cert);
        keys_destroy (keys_p);
    }
    if (!*keys_p) {
        log_error ("cannot load the sink's certificate: %s", err);
        return -1;
    }
    return 0;
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

int
cmd_sink (int argc, char **argv)
{
    enum { OPT_FSYNC = 256, OPT_LOG_LEVEL, OPT_STORE, OPT_CERT, OPT_ALLOW_PLAIN,
           OPT_ALLOW_AGENTS, OPT_INSECURE };
    static const struct option options[] = {
        { "bind",      required_argument, NULL, 'b' },
        { "output",    required_argument, NULL, 'o' },
        { "fsync",     no_argument,       NULL, OPT_FSYNC },
        { "data-dir",  required_argument, NULL, 'd' },
        { "store",     required_argument, NULL, OPT_STORE },
        { "cert",      required_argument, NULL, OPT_CERT },
        { "allow-plain", no_argument,     NULL, OPT_ALLOW_PLAIN },
        { "allow-agents", required_argument, NULL, OPT_ALLOW_AGENTS },
        { "insecure",  no_argument,       NULL, OPT_INSECURE },
        { "log-level", required_argument, NULL, OPT_LOG_LEVEL },
        { "help",      no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    sink_config_t config = {
        .bind = flags_env ("DROVER_BIND"),
        .output = flags_env ("DROVER_OUTPUT"),
        .data_dir = flags_env ("DROVER_DATA_DIR"),
        .allow_agents = flags_env ("DROVER_ALLOW_AGENTS"),
    };
    const char *store = flags_env ("DROVER_STORE");
    const char *cert = NULL;            //  DROVER_CERT: keys_from_env reads it
    const char *plain_env = flags_env ("DROVER_ALLOW_PLAIN");
    if (plain_env) {
        int value = flags_bool (plain_env);
        if (value < 0)
            return flags_usage_error ("sink", "DROVER_ALLOW_PLAIN must be 1 or 0", plain_env);
        config.allow_plain = value;
    }
    const char *insecure_env = flags_env ("DROVER_INSECURE");
    int insecure = insecure_env? flags_bool (insecure_env): 0;
    if (insecure < 0)
        return flags_usage_error ("sink", "DROVER_INSECURE must be 1 or 0", insecure_env);
    const char *level_name = flags_env ("DROVER_LOG_LEVEL");
    const char *fsync_env = flags_env ("DROVER_FSYNC");
    if (fsync_env) {
        int value = flags_bool (fsync_env);
        if (value < 0)
            return flags_usage_error ("sink", "DROVER_FSYNC must be 1 or 0", fsync_env);
        config.fsync = value;
    }
    opterr = 0;
    optind = 1;
    int opt;
    while ((opt = getopt_long (argc, argv, ":b:o:d:h", options, NULL)) != -1) {
        switch (opt) {
            case 'b': config.bind = optarg; break;
            case 'o': config.output = optarg; break;
            case OPT_FSYNC: config.fsync = true; break;
            case 'd': config.data_dir = optarg; break;
            case OPT_STORE: store = optarg; break;
            case OPT_CERT: cert = optarg; break;
            case OPT_ALLOW_PLAIN: config.allow_plain = true; break;
            case OPT_ALLOW_AGENTS: config.allow_agents = optarg; break;
            case OPT_INSECURE: insecure = 1; break;
            case OPT_LOG_LEVEL: level_name = optarg; break;
            case 'h': s_usage (stdout); return 0;
            case ':': return flags_usage_error ("sink", "option needs a value", argv[optind - 1]);
            default:  return flags_usage_error ("sink", "unknown option", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return flags_usage_error ("sink", "unexpected argument", argv[optind]);
    int level = level_name? log_level_parse (level_name): LOG_LEVEL_INFO;
    if (level < 0)
        return flags_usage_error ("sink", "log level must be debug, info, warn or error", level_name);
    if (config.bind && !*config.bind)
        return flags_usage_error ("sink", "--bind needs at least one endpoint", NULL);
    if (config.output && !*config.output)
        return flags_usage_error ("sink", "--output needs a file name or '-'", NULL);
    if (store && strcmp (store, "lmdb") && strcmp (store, "memory"))
        return flags_usage_error ("sink", "--store must be lmdb or memory", store);
    if (config.data_dir && !*config.data_dir)
        return flags_usage_error ("sink", "--data-dir needs a directory", NULL);
    if (cert && !*cert)
        return flags_usage_error ("sink", "--cert needs a certificate path", NULL);
    //  Secure by default: without any keypair configured, refuse unless
    //  --insecure.  A keypair that is configured is loaded below and used.
    if (!cert && !insecure) {
        char err[512];
        keys_t *probe = NULL;
        int rc = curve_own_keys (NULL, false, &probe, err, sizeof err);
        keys_destroy (&probe);
        if (rc)
            return flags_usage_error ("sink", err, NULL);
    }
    log_init ("sink", (log_level_t) level);

    char data_dir[PATH_MAX];
    if (store && !strcmp (store, "memory"))
        config.data_dir = NULL;
    else
    if (!config.data_dir)
        config.data_dir = s_default_data_dir (config.output, data_dir, sizeof data_dir);
    keys_t *keys = NULL;
    if (s_load_keys (cert, &keys))
        return 1;
    config.keys = keys;
    if (!keys && (config.allow_plain || config.allow_agents))
        log_warn ("--allow-plain and --allow-agents need a keypair (--cert); ignored");

    //  A reader of stdout that goes away must not kill the sink mid-batch:
    //  the write fails with EPIPE, which is logged and answered instead.
    signal (SIGPIPE, SIG_IGN);
    sink_t *sink = sink_new (&config);
    if (!sink) {
        keys_destroy (&keys);
        return 1;
    }
    const char *path = sink_output_path (sink);
    if (keys)
        log_info ("sink key %s: CURVE on, %s, %s", keys_public_txt (keys),
                  config.allow_plain? "sealed and plain results accepted"
                                    : "sealed results only",
                  config.allow_agents? config.allow_agents: "any agent key let in");
    else
        log_warn ("sink: --insecure and no keypair: traffic is unauthenticated and "
                  "unencrypted, results arrive unsealed");
    keys_destroy (&keys);
    log_info ("sink ready: bound %s, writing to %s%s, dedupe %s", sink_endpoints (sink),
              strcmp (path, "-")? path: "stdout", config.fsync? " (fsync)": "",
              config.data_dir? "lmdb": "in memory");
    sink_run (sink);
    log_info ("interrupted, shutting down");
    sink_stats_t stats;
    sink_stats (sink, &stats);
    sink_destroy (&sink);
    s_log_stats (&stats);
    return 0;
}
