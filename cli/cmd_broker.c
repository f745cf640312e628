//  cmd_broker.c -- `drover broker`: parse flags and environment, run the
//  broker (broker/broker.h) until SIGINT or SIGTERM, then exit 0.
#include "cli/commands.h"
#include "cli/flags.h"

//  czmq.h pulls in <syslog.h>, whose LOG_LEVEL_DEBUG and LOG_LEVEL_INFO macros would
//  shadow common/log.h's levels; drop them (nothing here uses syslog).
#include <czmq.h>
#include "broker/broker.h"
#include "common/auth.h"
#include "common/curve.h"
#include "common/keys.h"
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
        "      --max-queued-bytes SIZE  most bytes of tuples not finished, else\n"
        "                               QUEUE_FULL (default 2G)\n"
        "      --max-job-queued N       the same per job (default %d)\n"
        "      --max-job-queued-bytes SIZE\n"
        "                               the same per job (default 2G)\n"
        "      --retry-ms N             retry hint sent with QUEUE_FULL (default %d)\n"
        "      --intake-hwm N           ZMQ_RCVHWM of the intake; past it producers'\n"
        "                               PUSH blocks (default %d, 0 = no limit)\n"
        "      --store KIND             where tuples are kept: lmdb (the default;\n"
        "                               durable, in --data-dir) or memory (lost when\n"
        "                               the broker stops)\n"
        "      --data-dir DIR           the lmdb store's directory, created 0700\n"
        "                               (default %s)\n"
        "      --map-size SIZE          most bytes the lmdb store may hold; address\n"
        "                               space, not disk (default 4G)\n"
        "      --lease-slack-ms N       a tuple's lease is its job's timeout_ms plus\n"
        "                               this; when it ends the tuple is queued again\n"
        "                               (default %d)\n"
        "      --retry-backoff-ms N     wait before a retried tuple's 2nd attempt,\n"
        "                               doubling for each later one (default %d,\n"
        "                               0 = none)\n"
        "      --retry-backoff-max-ms N the longest such wait (default %d)\n"
        "      --batch-memory N         SUBMIT batch ids remembered per job, so a\n"
        "                               retried SUBMIT is answered, not queued again\n"
        "                               (default %d)\n"
        "      --cert PATH              the broker's keypair (from drover keygen; PATH_secret\n"
        "                               beside it is read): the frontend and intake become\n"
        "                               CURVE servers for producers, the backend for agents.\n"
        "                               Also DROVER_CERT, or DROVER_SECRET_KEY (Z85).\n"
        "                               Required unless --insecure\n"
        "      --insecure               without a keypair, run plain: no CURVE, anyone on\n"
        "                               the network may connect (DROVER_INSECURE=1); a\n"
        "                               keypair that is given is still used\n"
        "      --allow-producers DIR|any\n"
        "                               with a keypair, required: a directory of the public\n"
        "                               certificates of producers let in, read again when it\n"
        "                               changes (removing a file revokes the key, also on open\n"
        "                               connections: ERROR DENIED); any: every key\n"
        "      --allow-agents DIR|any   the same for agents on the backend\n"
        "      --log-level LEVEL        debug, info, warn or error (default info)\n"
        "  -h, --help                   this help\n"
        "\n"
        "Each flag --foo-bar takes its default from the environment variable\n"
        "DROVER_FOO_BAR (DROVER_FRONTEND, DROVER_HEARTBEAT_MS, ...); the flag wins.\n"
        "SIZE is bytes, or a number followed by K, M or G (powers of 1024).\n"
        "SIGINT or SIGTERM: stop, log the counters, exit 0.\n",
        BROKER_FRONTEND_DEFAULT, BROKER_INTAKE_DEFAULT, BROKER_BACKEND_DEFAULT,
        BROKER_HEARTBEAT_MS_DEFAULT, BROKER_MAX_BATCH_DEFAULT, BROKER_MAX_QUEUED_DEFAULT,
        BROKER_MAX_QUEUED_DEFAULT, BROKER_RETRY_MS_DEFAULT, BROKER_INTAKE_HWM_DEFAULT,
        BROKER_DATA_DIR_DEFAULT, BROKER_LEASE_SLACK_MS_DEFAULT,
        BROKER_RETRY_BACKOFF_MS_DEFAULT, BROKER_RETRY_BACKOFF_MAX_DEFAULT,
        BROKER_BATCH_MEMORY_DEFAULT);
}

//  A numeric option: its text comes from the environment, then the flag.
typedef struct {
    const char *flag;
    const char *env;
    const char *text;
    bool sizes;
    bool zero;                  //  0 is allowed
    uint64_t max;
    uint64_t value;
} number_t;

enum { N_HEARTBEAT, N_MAX_BATCH, N_MAX_TUPLE, N_MAX_MESSAGE, N_MAX_QUEUED,
       N_MAX_QUEUED_BYTES, N_MAX_JOB_QUEUED, N_MAX_JOB_QUEUED_BYTES, N_RETRY_MS,
       N_INTAKE_HWM, N_MAP_SIZE, N_LEASE_SLACK, N_BACKOFF, N_BACKOFF_MAX,
       N_BATCH_MEMORY, N_COUNT };

//  The ZAP handler with the producers' and agents' allow-lists.  0, -EINVAL
//  (a usage error: a list missing) or another -errno, with a line in err.
static int
s_security (auth_t **auth_p, const char *allow_producers, const char *allow_agents,
            char *err, size_t errlen)
{
    *auth_p = auth_new ();
    if (!*auth_p) {
        snprintf (err, errlen, "cannot start the ZAP handler");
        return -ENOMEM;
    }
    int rc = auth_allow (*auth_p, AUTH_DOMAIN_PRODUCERS, allow_producers, false,
                         "--allow-producers", err, errlen);
    if (rc == 0)
        rc = auth_allow (*auth_p, AUTH_DOMAIN_AGENTS, allow_agents, false,
                         "--allow-agents", err, errlen);
    if (rc) {
        auth_destroy (auth_p);
        return rc;
    }
    const char *lists[] = { allow_producers, allow_agents };
    const char *flags[] = { "--allow-producers", "--allow-agents" };
    for (int i = 0; i < 2; i++)
        if (!strcmp (lists[i], "any"))
            log_warn ("broker: %s any: every client key is let in (still encrypted)",
                      flags[i]);
    return 0;
}

int
cmd_broker (int argc, char **argv)
{
    enum { OPT_FRONTEND = 256, OPT_INTAKE, OPT_BACKEND, OPT_STORE, OPT_DATA_DIR,
           OPT_LOG_LEVEL, OPT_CERT, OPT_ALLOW_PRODUCERS, OPT_ALLOW_AGENTS,
           OPT_INSECURE, OPT_NUMBER };    //  OPT_NUMBER + N_*: numeric options
    static const struct option options[] = {
        { "frontend",         required_argument, NULL, OPT_FRONTEND },
        { "intake",           required_argument, NULL, OPT_INTAKE },
        { "backend",          required_argument, NULL, OPT_BACKEND },
        { "store",            required_argument, NULL, OPT_STORE },
        { "data-dir",         required_argument, NULL, OPT_DATA_DIR },
        { "log-level",        required_argument, NULL, OPT_LOG_LEVEL },
        { "cert",             required_argument, NULL, OPT_CERT },
        { "allow-producers",  required_argument, NULL, OPT_ALLOW_PRODUCERS },
        { "allow-agents",     required_argument, NULL, OPT_ALLOW_AGENTS },
        { "insecure",         no_argument,       NULL, OPT_INSECURE },
        { "heartbeat-ms",     required_argument, NULL, OPT_NUMBER + N_HEARTBEAT },
        { "max-batch",        required_argument, NULL, OPT_NUMBER + N_MAX_BATCH },
        { "max-tuple-size",   required_argument, NULL, OPT_NUMBER + N_MAX_TUPLE },
        { "max-message-size", required_argument, NULL, OPT_NUMBER + N_MAX_MESSAGE },
        { "max-queued",       required_argument, NULL, OPT_NUMBER + N_MAX_QUEUED },
        { "max-queued-bytes", required_argument, NULL, OPT_NUMBER + N_MAX_QUEUED_BYTES },
        { "max-job-queued",   required_argument, NULL, OPT_NUMBER + N_MAX_JOB_QUEUED },
        { "max-job-queued-bytes", required_argument, NULL, OPT_NUMBER + N_MAX_JOB_QUEUED_BYTES },
        { "retry-ms",         required_argument, NULL, OPT_NUMBER + N_RETRY_MS },
        { "intake-hwm",       required_argument, NULL, OPT_NUMBER + N_INTAKE_HWM },
        { "map-size",         required_argument, NULL, OPT_NUMBER + N_MAP_SIZE },
        { "lease-slack-ms",   required_argument, NULL, OPT_NUMBER + N_LEASE_SLACK },
        { "retry-backoff-ms", required_argument, NULL, OPT_NUMBER + N_BACKOFF },
        { "retry-backoff-max-ms", required_argument, NULL, OPT_NUMBER + N_BACKOFF_MAX },
        { "batch-memory",     required_argument, NULL, OPT_NUMBER + N_BATCH_MEMORY },
        { "help",             no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    number_t numbers[N_COUNT] = {
        [N_HEARTBEAT]   = { "--heartbeat-ms", "DROVER_HEARTBEAT_MS", NULL, false, false,
                            3600 * 1000, BROKER_HEARTBEAT_MS_DEFAULT },
        [N_MAX_BATCH]   = { "--max-batch", "DROVER_MAX_BATCH", NULL, false, false,
                            MSG_MAX_PAYLOADS, BROKER_MAX_BATCH_DEFAULT },
        [N_MAX_TUPLE]   = { "--max-tuple-size", "DROVER_MAX_TUPLE_SIZE", NULL, true, false,
                            INT64_MAX, BROKER_MAX_TUPLE_DEFAULT },
        [N_MAX_MESSAGE] = { "--max-message-size", "DROVER_MAX_MESSAGE_SIZE", NULL, true, false,
                            INT64_MAX, BROKER_MAX_MESSAGE_DEFAULT },
        [N_MAX_QUEUED]  = { "--max-queued", "DROVER_MAX_QUEUED", NULL, false, false,
                            UINT64_MAX, BROKER_MAX_QUEUED_DEFAULT },
        [N_MAX_QUEUED_BYTES] = { "--max-queued-bytes", "DROVER_MAX_QUEUED_BYTES", NULL,
                            true, false, UINT64_MAX, BROKER_MAX_QUEUED_BYTES_DEFAULT },
        [N_MAX_JOB_QUEUED] = { "--max-job-queued", "DROVER_MAX_JOB_QUEUED", NULL,
                            false, false, UINT64_MAX, BROKER_MAX_QUEUED_DEFAULT },
        [N_MAX_JOB_QUEUED_BYTES] = { "--max-job-queued-bytes", "DROVER_MAX_JOB_QUEUED_BYTES",
                            NULL, true, false, UINT64_MAX, BROKER_MAX_QUEUED_BYTES_DEFAULT },
        [N_RETRY_MS]    = { "--retry-ms", "DROVER_RETRY_MS", NULL, false, false,
                            3600 * 1000, BROKER_RETRY_MS_DEFAULT },
        [N_INTAKE_HWM]  = { "--intake-hwm", "DROVER_INTAKE_HWM", NULL, false, true,
                            INT32_MAX, BROKER_INTAKE_HWM_DEFAULT },
        [N_MAP_SIZE]    = { "--map-size", "DROVER_MAP_SIZE", NULL, true, false,
                            (uint64_t) SIZE_MAX, BROKER_MAP_SIZE_DEFAULT },
        [N_LEASE_SLACK] = { "--lease-slack-ms", "DROVER_LEASE_SLACK_MS", NULL, false, true,
                            24 * 3600 * 1000, BROKER_LEASE_SLACK_MS_DEFAULT },
        [N_BACKOFF]     = { "--retry-backoff-ms", "DROVER_RETRY_BACKOFF_MS", NULL, false, true,
                            3600 * 1000, BROKER_RETRY_BACKOFF_MS_DEFAULT },
        [N_BACKOFF_MAX] = { "--retry-backoff-max-ms", "DROVER_RETRY_BACKOFF_MAX_MS", NULL,
                            false, false, 24 * 3600 * 1000, BROKER_RETRY_BACKOFF_MAX_DEFAULT },
        [N_BATCH_MEMORY] = { "--batch-memory", "DROVER_BATCH_MEMORY", NULL, false, false,
                            100000000, BROKER_BATCH_MEMORY_DEFAULT },
    };
    broker_config_t config;
    broker_config_defaults (&config);
    const char *frontend = flags_env ("DROVER_FRONTEND");
    const char *intake = flags_env ("DROVER_INTAKE");
    const char *backend = flags_env ("DROVER_BACKEND");
    const char *store = flags_env ("DROVER_STORE");
    const char *data_dir = flags_env ("DROVER_DATA_DIR");
    const char *level_name = flags_env ("DROVER_LOG_LEVEL");
    //  DROVER_CERT and DROVER_SECRET_KEY are read by curve_own_keys.
    const char *cert = NULL;
    const char *allow_producers = flags_env ("DROVER_ALLOW_PRODUCERS");
    const char *allow_agents = flags_env ("DROVER_ALLOW_AGENTS");
    const char *insecure_env = flags_env ("DROVER_INSECURE");
    int insecure = insecure_env? flags_bool (insecure_env): 0;
    if (insecure < 0)
        return flags_usage_error ("broker", "DROVER_INSECURE must be 1 or 0", insecure_env);
    for (int i = 0; i < N_COUNT; i++)
        numbers[i].text = flags_env (numbers[i].env);

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
            case OPT_DATA_DIR: data_dir = optarg; break;
            case OPT_LOG_LEVEL: level_name = optarg; break;
            case OPT_CERT: cert = optarg; break;
            case OPT_ALLOW_PRODUCERS: allow_producers = optarg; break;
            case OPT_ALLOW_AGENTS: allow_agents = optarg; break;
            case OPT_INSECURE: insecure = 1; break;
            case 'h': s_usage (stdout); return 0;
            case ':': return flags_usage_error ("broker", "option needs a value", argv[optind - 1]);
            default:  return flags_usage_error ("broker", "unknown option", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return flags_usage_error ("broker", "unexpected argument", argv[optind]);

    for (int i = 0; i < N_COUNT; i++) {
        number_t *number = &numbers[i];
        if (number->text
        &&  flags_number (number->text, number->zero? 0: 1, number->max, number->sizes,
                          &number->value)) {
            char what[128];
            snprintf (what, sizeof what, "%s (or %s) must be a %s %s",
                      number->flag, number->env, number->zero? "non-negative": "positive",
                      number->sizes? "size": "number");
            return flags_usage_error ("broker", what, number->text);
        }
    }
    int level = level_name? log_level_parse (level_name): LOG_LEVEL_INFO;
    if (level < 0)
        return flags_usage_error ("broker", "log level must be debug, info, warn or error", level_name);
    if (store && strcmp (store, "memory") && strcmp (store, "lmdb"))
        return flags_usage_error ("broker", "unknown store (known: lmdb, memory)", store);
    if (data_dir && !*data_dir)
        return flags_usage_error ("broker", "--data-dir is empty", NULL);
    const char *endpoints[] = { frontend, intake, backend };
    for (int i = 0; i < 3; i++)
        if (endpoints[i] && !*endpoints[i])
            return flags_usage_error ("broker", "an endpoint list is empty", NULL);

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
    config.max_queued_bytes = numbers[N_MAX_QUEUED_BYTES].value;
    config.max_job_queued = numbers[N_MAX_JOB_QUEUED].value;
    config.max_job_queued_bytes = numbers[N_MAX_JOB_QUEUED_BYTES].value;
    config.retry_ms = (uint32_t) numbers[N_RETRY_MS].value;
    config.intake_hwm = (uint32_t) numbers[N_INTAKE_HWM].value;
    config.map_size = numbers[N_MAP_SIZE].value;
    config.lease_slack_ms = (uint32_t) numbers[N_LEASE_SLACK].value;
    config.retry_backoff_ms = (uint32_t) numbers[N_BACKOFF].value;
    config.retry_backoff_max_ms = (uint32_t) numbers[N_BACKOFF_MAX].value;
    config.batch_memory = numbers[N_BATCH_MEMORY].value;
    if (store)
        config.store = store;
    if (data_dir)
        config.data_dir = data_dir;
    log_init ("broker", (log_level_t) level);

    //  Secure by default: no keypair is a usage error unless --insecure,
    //  which allows only what is missing (a keypair given is still used,
    //  and with it the allow-lists stay required).
    char err[512];
    keys_t *keys = NULL;
    if (curve_own_keys (cert && *cert? cert: NULL, insecure, &keys, err, sizeof err))
        return flags_usage_error ("broker", err, NULL);
    if (!keys && (allow_producers || allow_agents)) {
        keys_destroy (&keys);
        return flags_usage_error ("broker", "--allow-producers and --allow-agents need a "
                                  "keypair (--cert): a plain connection has no key to check",
                                  NULL);
    }
    auth_t *auth = NULL;
    if (keys) {
        int rc = s_security (&auth, allow_producers, allow_agents, err, sizeof err);
        if (rc) {
            keys_destroy (&keys);
            if (rc == -EINVAL)
                return flags_usage_error ("broker", err, NULL);
            log_error ("broker: %s", err);
            return 1;
        }
        config.keys = keys;
        config.auth = auth;
    }
    else
        log_warn ("broker: --insecure and no keypair: traffic is unauthenticated and "
                  "unencrypted, anyone on the network may connect");
    broker_t *broker = broker_new (&config);
    int rc = broker? 0: 1;
    if (broker) {
        broker_run (broker);
        broker_destroy (&broker);
        log_info ("broker shut down");
    }
    //  The sockets are closed: the ZAP handler can go, after its counters.
    const char *domains[] = { AUTH_DOMAIN_PRODUCERS, AUTH_DOMAIN_AGENTS };
    for (int i = 0; auth && i < 2; i++) {
        auth_stats_t stats;
        if (auth_stats (auth, domains[i], &stats) == 0)
            log_info ("broker: %s: connections %" PRIu64 " allowed, %" PRIu64 " denied; "
                      "%zu keys, %" PRIu64 " reloads", domains[i], stats.allowed,
                      stats.denied, stats.keys, stats.reloads);
    }
    auth_destroy (&auth);
    keys_destroy (&keys);
    return rc;
}
