//  cmd_broker.c -- `drover broker`: parse flags and environment, run the
//  broker (broker/broker.h) until SIGINT or SIGTERM, then exit 0.
#include "cli/commands.h"

//  czmq.h pulls in <syslog.h>, whose LOG_LEVEL_DEBUG and LOG_LEVEL_INFO macros would
//  shadow common/log.h's levels; drop them (nothing here uses syslog).
#include <czmq.h>
#include "broker/broker.h"
#include "common/log.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: drover broker [OPTIONS]\n"
        "\n"
        "Queue tuples from producers and hand them to agents by credit.  Producers\n"
        "send SUBMIT and STATUS to the frontend (REQ or DEALER) or SUBMIT to the\n"
        "intake (PUSH, no reply); agents connect to the backend (DEALER).  See\n"
        "proto/PROTOCOL.md.\n"
        "\n"
        "options:\n"
        "      --frontend ENDPOINTS     producers' ROUTER, comma-separated to bind several\n"
        "                               (default %s)\n"
        "      --intake ENDPOINTS       producers' PULL (default %s)\n"
        "      --backend ENDPOINTS      agents' ROUTER (default %s)\n"
        "      --heartbeat-ms N         heartbeat interval; an agent silent for 3\n"
        "                               intervals is lost (default %d)\n"
        "      --max-batch N            most tuples in one SUBMIT, else TOO_LARGE\n"
        "                               (default %d, at most 100000)\n"
        "      --max-tuple-size SIZE    most bytes in one tuple, else TOO_LARGE\n"
        "                               (default 1M)\n"
        "      --max-message-size SIZE  most bytes in one frame on any socket; a bigger\n"
        "                               frame drops the peer's connection (default 64M)\n"
        "      --max-queued N           most tuples waiting for agents, else QUEUE_FULL\n"
        "                               (default %d)\n"
        "      --store KIND             where tuples are kept: memory (the default;\n"
        "                               lost when the broker stops)\n"
        "      --log-level LEVEL        debug, info, warn or error (default info)\n"
        "  -h, --help                   this help\n"
        "\n"
        "Each flag --foo-bar takes its default from the environment variable\n"
        "DROVER_FOO_BAR (DROVER_FRONTEND, DROVER_HEARTBEAT_MS, ...); the flag wins.\n"
        "SIZE is bytes, or a number followed by K, M or G (powers of 1024).\n"
        "SIGINT or SIGTERM: stop, log the counters, exit 0.\n",
        BROKER_FRONTEND_DEFAULT, BROKER_INTAKE_DEFAULT, BROKER_BACKEND_DEFAULT,
        BROKER_HEARTBEAT_MS_DEFAULT, BROKER_MAX_BATCH_DEFAULT, BROKER_MAX_QUEUED_DEFAULT);
}

static int
s_usage_error (const char *what, const char *value)
{
    fprintf (stderr, "drover broker: %s%s%s\ntry 'drover broker --help'\n",
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

//  A decimal number, with a K/M/G suffix (powers of 1024) if sizes is true,
//  between 1 and max.  0 or -EINVAL.
static int
s_parse_number (const char *text, bool sizes, uint64_t max, uint64_t *value_p)
{
    if (!text || *text < '0' || *text > '9')
        return -EINVAL;
    errno = 0;
    char *end;
    unsigned long long value = strtoull (text, &end, 10);
    if (errno)
        return -EINVAL;
    unsigned shift = 0;
    if (sizes && *end) {
        const char *suffix = strchr ("KMG", toupper ((unsigned char) *end));
        if (!suffix)
            return -EINVAL;
        shift = 10 * (unsigned) (suffix - "KMG" + 1);
        end++;
        if (!strcasecmp (end, "iB") || !strcasecmp (end, "B"))
            end += strlen (end);
    }
    if (*end || value == 0 || value > (max >> shift))
        return -EINVAL;
    *value_p = (uint64_t) value << shift;
    return 0;
}

//  A numeric option: its text comes from the environment, then the flag.
typedef struct {
    const char *flag;
    const char *env;
    const char *text;
    bool sizes;
    uint64_t max;
    uint64_t value;
} number_t;

enum { N_HEARTBEAT, N_MAX_BATCH, N_MAX_TUPLE, N_MAX_MESSAGE, N_MAX_QUEUED, N_COUNT };

int
cmd_broker (int argc, char **argv)
{
    enum { OPT_FRONTEND = 256, OPT_INTAKE, OPT_BACKEND, OPT_STORE, OPT_LOG_LEVEL,
           OPT_NUMBER };    //  OPT_NUMBER + N_*: numeric options
    static const struct option options[] = {
        { "frontend",         required_argument, NULL, OPT_FRONTEND },
        { "intake",           required_argument, NULL, OPT_INTAKE },
        { "backend",          required_argument, NULL, OPT_BACKEND },
        { "store",            required_argument, NULL, OPT_STORE },
        { "log-level",        required_argument, NULL, OPT_LOG_LEVEL },
        { "heartbeat-ms",     required_argument, NULL, OPT_NUMBER + N_HEARTBEAT },
        { "max-batch",        required_argument, NULL, OPT_NUMBER + N_MAX_BATCH },
        { "max-tuple-size",   required_argument, NULL, OPT_NUMBER + N_MAX_TUPLE },
        { "max-message-size", required_argument, NULL, OPT_NUMBER + N_MAX_MESSAGE },
        { "max-queued",       required_argument, NULL, OPT_NUMBER + N_MAX_QUEUED },
        { "help",             no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    number_t numbers[N_COUNT] = {
        [N_HEARTBEAT]   = { "--heartbeat-ms", "DROVER_HEARTBEAT_MS", NULL, false,
                            3600 * 1000, BROKER_HEARTBEAT_MS_DEFAULT },
        [N_MAX_BATCH]   = { "--max-batch", "DROVER_MAX_BATCH", NULL, false,
                            MSG_MAX_PAYLOADS, BROKER_MAX_BATCH_DEFAULT },
        [N_MAX_TUPLE]   = { "--max-tuple-size", "DROVER_MAX_TUPLE_SIZE", NULL, true,
                            INT64_MAX, BROKER_MAX_TUPLE_DEFAULT },
        [N_MAX_MESSAGE] = { "--max-message-size", "DROVER_MAX_MESSAGE_SIZE", NULL, true,
                            INT64_MAX, BROKER_MAX_MESSAGE_DEFAULT },
        [N_MAX_QUEUED]  = { "--max-queued", "DROVER_MAX_QUEUED", NULL, false,
                            UINT64_MAX, BROKER_MAX_QUEUED_DEFAULT },
    };
    broker_config_t config;
    broker_config_defaults (&config);
    const char *frontend = s_env ("DROVER_FRONTEND");
    const char *intake = s_env ("DROVER_INTAKE");
    const char *backend = s_env ("DROVER_BACKEND");
    const char *store = s_env ("DROVER_STORE");
    const char *level_name = s_env ("DROVER_LOG_LEVEL");
    for (int i = 0; i < N_COUNT; i++)
        numbers[i].text = s_env (numbers[i].env);

    opterr = 0;
    optind = 1;
    int opt;
    while ((opt = getopt_long (argc, argv, ":h", options, NULL)) != -1) {
        if (opt >= OPT_NUMBER && opt < OPT_NUMBER + N_COUNT) {
            numbers[opt - OPT_NUMBER].text = optarg;
            continue;
        }
        switch (opt) {
            case OPT_FRONTEND: frontend = optarg; break;
            case OPT_INTAKE: intake = optarg; break;
            case OPT_BACKEND: backend = optarg; break;
            case OPT_STORE: store = optarg; break;
            case OPT_LOG_LEVEL: level_name = optarg; break;
            case 'h': s_usage (stdout); return 0;
            case ':': return s_usage_error ("option needs a value", argv[optind - 1]);
            default:  return s_usage_error ("unknown option", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return s_usage_error ("unexpected argument", argv[optind]);

    for (int i = 0; i < N_COUNT; i++) {
        number_t *number = &numbers[i];
        if (number->text
        &&  s_parse_number (number->text, number->sizes, number->max, &number->value)) {
            char what[128];
            snprintf (what, sizeof what, "%s (or %s) must be a positive %s",
                      number->flag, number->env, number->sizes? "size": "number");
            return s_usage_error (what, number->text);
        }
    }
    int level = level_name? log_level_parse (level_name): LOG_LEVEL_INFO;
    if (level < 0)
        return s_usage_error ("log level must be debug, info, warn or error", level_name);
    if (store && strcmp (store, "memory"))
        return s_usage_error ("unknown store (known: memory)", store);
    const char *endpoints[] = { frontend, intake, backend };
    for (int i = 0; i < 3; i++)
        if (endpoints[i] && !*endpoints[i])
            return s_usage_error ("an endpoint list is empty", NULL);

    if (frontend)
        config.frontend = frontend;
    if (intake)
        config.intake = intake;
    if (backend)
        config.backend = backend;
    config.heartbeat_ms = (uint32_t) numbers[N_HEARTBEAT].value;
    config.max_batch = (uint32_t) numbers[N_MAX_BATCH].value;
    config.max_tuple_size = numbers[N_MAX_TUPLE].value;
    config.max_message_size = (int64_t) numbers[N_MAX_MESSAGE].value;
    config.max_queued = numbers[N_MAX_QUEUED].value;
    log_init ("broker", (log_level_t) level);

    broker_t *broker = broker_new (&config);
    if (!broker)
        return 1;
    broker_run (broker);
    broker_destroy (&broker);
    log_info ("broker shut down");
    return 0;
}
