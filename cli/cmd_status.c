//  cmd_status.c -- `drover status`: ask the broker for one job's counters
//  (STATUS, answered by JOB) and print them for a person or, with --json,
//  as one JSON object for a script.
#include "cli/commands.h"
#include "cli/flags.h"
#include "producer/producer.h"

#include <czmq.h>
#include "common/json_write.h"
#include "common/curve.h"
#include "common/log.h"
#include "proto/msg.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_BROKER  "tcp://127.0.0.1:5555"

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: drover status [OPTIONS] JOB\n"
        "\n"
        "Print a job's counters: its state (open: may get more tuples; closed;\n"
        "complete: closed and every tuple done or failed), tuples submitted,\n"
        "queued for an agent, running, done, and failed (dead letters).\n"
        "\n"
        "options (each flag's default comes from the environment variable shown):\n"
        "  -b, --broker ENDPOINT   broker frontend                          DROVER_BROKER\n"
        "                          (default tcp://127.0.0.1:5555)\n"
        "      --json              one JSON object instead of a table:      DROVER_JSON=1\n"
        "                          {\"job\",\"state\",\"submitted\",\"queued\",\n"
        "                          \"running\",\"done\",\"failed\"}\n"
        "      --reply-timeout S   give up when the broker has not          DROVER_REPLY_TIMEOUT\n"
        "                          answered for S seconds (default 10)\n"
        "      --cert PATH         our keypair (from drover keygen): talk   DROVER_CERT\n"
        "                          CURVE to the broker (or DROVER_SECRET_KEY, Z85)\n"
        "      --broker-key KEY    the broker's public key, Z85 or its      DROVER_BROKER_KEY\n"
        "                          certificate file; needed with a keypair\n"
        "      --insecure          without a keypair, talk plain text to    DROVER_INSECURE=1\n"
        "                          the broker (a keypair given is still used)\n"
        "      --log-level LEVEL   debug, info, warn or error               DROVER_LOG_LEVEL\n"
        "                          (default warn)\n"
        "  -h, --help              this help\n"
        "\n"
        "JOB defaults to DROVER_JOB.  exit status: 0 if the broker knows the job,\n"
        "1 if it does not or does not answer, 2 on a usage error.\n");
}

static void
s_print_json (const char *job, const producer_status_t *status)
{
    //  The job name goes through the JSON writer: it may hold anything.
    msgpack_object name = { .type = MSGPACK_OBJECT_STR };
    name.via.str.ptr = job;
    name.via.str.size = (uint32_t) strlen (job);
    fputs ("{\"job\":", stdout);
    json_write (stdout, &name);
    name.via.str.ptr = status->state;
    name.via.str.size = (uint32_t) strlen (status->state);
    fputs (",\"state\":", stdout);
    json_write (stdout, &name);
    printf (",\"submitted\":%" PRIu64 ",\"queued\":%" PRIu64 ",\"running\":%" PRIu64
            ",\"done\":%" PRIu64 ",\"failed\":%" PRIu64 "}\n", status->submitted,
            status->queued, status->running, status->done, status->failed);
}

static void
s_print_table (const char *job, const producer_status_t *status)
{
    uint64_t finished = status->done + status->failed;
    printf ("job %s: %s, %" PRIu64 "/%" PRIu64 " finished (%.1f%%)\n", job, status->state,
            finished, status->submitted,
            status->submitted? 100.0 * (double) finished / (double) status->submitted: 100.0);
    printf ("  submitted  %" PRIu64 "\n  queued     %" PRIu64 "\n  running    %" PRIu64
            "\n  done       %" PRIu64 "\n  failed     %" PRIu64 "\n", status->submitted,
            status->queued, status->running, status->done, status->failed);
}

int
cmd_status (int argc, char **argv)
{
    enum { OPT_JSON = 256, OPT_REPLY_TIMEOUT, OPT_LOG_LEVEL, OPT_CERT, OPT_BROKER_KEY,
           OPT_INSECURE };
    static const struct option options[] = {
        { "broker",        required_argument, NULL, 'b' },
        { "json",          no_argument,       NULL, OPT_JSON },
        { "reply-timeout", required_argument, NULL, OPT_REPLY_TIMEOUT },
        { "log-level",     required_argument, NULL, OPT_LOG_LEVEL },
        { "cert",          required_argument, NULL, OPT_CERT },
        { "broker-key",    required_argument, NULL, OPT_BROKER_KEY },
        { "insecure",      no_argument,       NULL, OPT_INSECURE },
        { "help",          no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *broker = flags_env ("DROVER_BROKER");
    const char *json_env = flags_env ("DROVER_JSON");
    const char *reply_timeout = flags_env ("DROVER_REPLY_TIMEOUT");
    const char *level_name = flags_env ("DROVER_LOG_LEVEL");
    const char *cert = NULL;        //  DROVER_CERT: curve_own_keys reads it
    const char *broker_key = flags_env ("DROVER_BROKER_KEY");
    const char *insecure_env = flags_env ("DROVER_INSECURE");
    int insecure = insecure_env? flags_bool (insecure_env): 0;
    if (insecure < 0)
        return flags_usage_error ("status", "DROVER_INSECURE must be 1 or 0", insecure_env);
    bool json = json_env && (!strcmp (json_env, "1") || !strcasecmp (json_env, "true")
                             || !strcasecmp (json_env, "yes") || !strcasecmp (json_env, "on"));
    opterr = 0;
    optind = 1;
    int opt;
    while ((opt = getopt_long (argc, argv, ":b:h", options, NULL)) != -1) {
        switch (opt) {
            case 'b': broker = optarg; break;
            case OPT_JSON: json = true; break;
            case OPT_REPLY_TIMEOUT: reply_timeout = optarg; break;
            case OPT_LOG_LEVEL: level_name = optarg; break;
            case OPT_CERT: cert = optarg; break;
            case OPT_BROKER_KEY: broker_key = optarg; break;
            case OPT_INSECURE: insecure = 2; break;     //  2: from the command line
            case 'h': s_usage (stdout); return 0;
            case ':': return flags_usage_error ("status", "option needs a value", argv[optind - 1]);
            default:  return flags_usage_error ("status", "unknown option", argv[optind - 1]);
        }
    }
    const char *job = optind < argc? argv[optind++]: flags_env ("DROVER_JOB");
    if (optind < argc)
        return flags_usage_error ("status", "one job at a time; unexpected argument", argv[optind]);
    if (!job || !*job)
        return flags_usage_error ("status", "which job? name it: drover status JOB", NULL);
    double seconds = PRODUCER_REPLY_TIMEOUT / 1000.0;
    if (reply_timeout) {
        char *end;
        seconds = strtod (reply_timeout, &end);
        if (*end || !(seconds >= 0.001 && seconds <= 86400))
            return flags_usage_error ("status", "--reply-timeout must be seconds, 0.001-86400", reply_timeout);
    }
    int level = level_name? log_level_parse (level_name): LOG_LEVEL_WARN;
    if (level < 0)
        return flags_usage_error ("status", "log level must be debug, info, warn or error", level_name);
    log_init ("status", (log_level_t) level);
    if (!broker)
        broker = DEFAULT_BROKER;

    char err[512];
    keys_t *keys = NULL;
    uint8_t broker_public[KEYS_KEY_SIZE];
    if (producer_client_keys (cert, broker_key, &keys, broker_public, err, sizeof err))
        return flags_usage_error ("status", err, NULL);
    //  Secure by default: no keypair at all needs --insecure (curve_own_keys
    //  words the error: it names --cert, the environment and --insecure).
    if (!keys && !insecure && curve_own_keys (NULL, false, &keys, err, sizeof err))
        return flags_usage_error ("status", err, NULL);
    //  A warning for --insecure typed on the command line; DROVER_INSECURE=1
    //  set once for a shell or a script gets the note at info level, so
    //  stderr stays the command's own (the broker warns anyway).
    if (!keys)
        log_write (insecure == 2? LOG_LEVEL_WARN: LOG_LEVEL_INFO,
                   "status: --insecure and no keypair: traffic to the broker is "
                   "unauthenticated and unencrypted");
    producer_t *producer = producer_new_curve (broker, keys, keys? broker_public: NULL);
    keys_destroy (&keys);
    if (!producer)
        return flags_usage_error ("status", "not a valid broker endpoint", broker);
    producer_set_reply_timeout (producer, (int) (seconds * 1000 + 0.5));
    producer_status_t status;
    int rc = producer_status (producer, job, &status);
    if (rc == 0) {
        if (json)
            s_print_json (job, &status);
        else
            s_print_table (job, &status);
    }
    else
    if (producer_refused (producer) == DRV_E_UNKNOWN_JOB)
        fprintf (stderr, "drover status: no job '%s' at the broker at %s\n", job, broker);
    else
        fprintf (stderr, "drover status: %s\n", producer_error (producer));
    producer_destroy (&producer);
    return rc? 1: 0;
}
