//  cmd_agent.c -- `drover agent`: parse flags and environment, run the agent
//  (agent/agent.h) against a broker until SIGINT or SIGTERM, then drain
//  within the grace period and exit 0.  `drover agent --worker ...` is how
//  the agent starts its own worker processes (agent/worker.h); not for users.
#include "cli/commands.h"
#include "agent/agent.h"
#include "agent/worker.h"
#include "common/curve.h"
#include "common/keys.h"

//  czmq.h pulls in <syslog.h>, whose LOG_LEVEL_DEBUG and LOG_LEVEL_INFO macros would
//  shadow common/log.h's levels; drop them (nothing here uses syslog).
#include <czmq.h>
#include "common/log.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define THREADS_MAX     4096
#define PROCESSES_MAX   1024
#define SLOTS_MAX       1000000

static void
s_usage (FILE *out, long cpus)
{
    fprintf (out,
        "usage: drover agent [OPTIONS]\n"
        "\n"
        "Take work tuples from a broker, run each with its job's handler on P\n"
        "worker processes of T handler threads each, send the results to the\n"
        "job's sink and, once the sink has stored them, report them done to the\n"
        "broker.  The agent process supervises the workers: one that dies is\n"
        "started again (back-off 100 ms doubling to 5 s) and its tuples count as\n"
        "a failed attempt.  The agent only dials out (broker and sinks); it\n"
        "needs no inbound port.\n"
        "\n"
        "options (each flag's default comes from the environment variable shown):\n"
        "  -b, --broker ENDPOINT        broker backend to connect to      DROVER_BROKER\n"
        "                               (default %s)\n"
        "  -n, --name NAME              agent name in HELLO and results  DROVER_NAME\n"
        "                               (default HOSTNAME-PID)\n"
        "  -p, --processes P            worker processes (default CPUs = DROVER_PROCESSES\n"
        "                               %ld); 0 runs the handler threads in\n"
        "                               the agent process (no crash isolation)\n"
        "  -t, --threads T              handler threads per worker        DROVER_THREADS\n"
        "                               process (default 4 x CPUs = %ld)\n"
        "  -s, --slots N                tuples held at most, announced to DROVER_SLOTS\n"
        "                               the broker (default %d x P x T); a slot\n"
        "                               is busy from WORK until the sink stored\n"
        "                               the result, so more slots than threads\n"
        "                               keep the threads busy meanwhile\n"
        "      --grace DURATION         on SIGINT/SIGTERM, time to finish DROVER_GRACE\n"
        "                               started tuples and get results stored:\n"
        "                               seconds, or with a unit: 30s, 1500ms\n"
        "                               (default 30s)\n"
        "      --grace-ms MS            the same in milliseconds          DROVER_GRACE_MS\n"
        "      --result-timeout-ms MS   send a result batch again if the  DROVER_RESULT_TIMEOUT_MS\n"
        "                               sink has not stored it by then (default %d)\n"
        "      --cert PATH              the agent's certificate (drover   DROVER_CERT\n"
        "                               keygen): NAME or NAME_secret; or\n"
        "                               DROVER_SECRET_KEY (Z85, with optional\n"
        "                               DROVER_PUBLIC_KEY).  With a keypair,\n"
        "                               results of jobs submitted with a sink\n"
        "                               key are sealed for that sink and its\n"
        "                               socket uses CURVE.  Without one, such\n"
        "                               jobs' tuples are handed back (RETRY:\n"
        "                               \"job needs sealed results\")\n"
        "      --broker-key KEY         the broker's public key: Z85 text DROVER_BROKER_KEY\n"
        "                               or a certificate file; connect to\n"
        "                               the broker with CURVE (needs --cert).\n"
        "                               A keypair and --broker-key are\n"
        "                               required unless --insecure\n"
        "      --insecure               run with what is missing: no      DROVER_INSECURE=1\n"
        "                               keypair (plain text, no seals), or\n"
        "                               a keypair without --broker-key\n"
        "                               (plain to the broker, results still\n"
        "                               sealed); given keys are still used\n"
        "      --log-level LEVEL        debug, info, warn or error        DROVER_LOG_LEVEL\n"
        "                               (default info)\n"
        "  -h, --help                   this help\n"
        "\n"
        "built-in handlers:\n"
        "  echo       output = the tuple\n"
        "  sleep      [ms]: sleep, output {\"slept_ms\": ms}\n"
        "  sha256     [data]: hex SHA-256 of data (str or bin), else of the tuple's msgpack\n"
        "  tcp-probe  [host, port] or {\"host\":..,\"port\":..}: TCP connect, output\n"
        "             {\"host\",\"port\",\"state\": open|closed|filtered,\"ms\"[,\"error\"]};\n"
        "             job option connect_timeout_ms (default 1000)\n"
        "  fail       always fails (for testing retries and dead letters)\n"
        "\n"
        "SIGINT or SIGTERM: take no more work, finish started tuples and wait for\n"
        "their results to be stored (up to --grace), say BYE, log the counters,\n"
        "exit 0.  The broker queues again whatever was not finished, without\n"
        "counting an attempt.  A second SIGINT or SIGTERM stops at once (BYE\n"
        "hands back what is running).  Workers die with the agent, even on\n"
        "kill -9.\n",
        AGENT_BROKER_DEFAULT, cpus, cpus * 4, AGENT_SLOTS_PER_THREAD,
        AGENT_RESULT_TIMEOUT_MS_DEFAULT);
}

static int
s_usage_error (const char *what, const char *value)
{
    fprintf (stderr, "drover agent: %s%s%s\ntry 'drover agent --help'\n",
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

//  A whole decimal number in [min, max]; -1 if text is not one.
static long
s_parse_long (const char *text, long min, long max)
{
    char *end = NULL;
    errno = 0;
    long value = strtol (text, &end, 10);
    if (errno || end == text || *end || value < min || value > max)
        return -1;
    return value;
}

//  A grace period: seconds, or a number with "s" or "ms"; -1 if not one.
static long
s_parse_grace (const char *text)
{
    char *end = NULL;
    errno = 0;
    long value = strtol (text, &end, 10);
    if (errno || end == text || value < 0)
        return -1;
    if (*end == 0 || !strcmp (end, "s"))
        return value <= INT_MAX / 1000? value * 1000: -1;
    if (!strcmp (end, "ms"))
        return value <= INT_MAX? value: -1;
    return -1;
}

//  `drover agent --worker ENDPOINT --worker-id ID --worker-parent PID ...`
static int
s_worker (const char *endpoint, const char *id, const char *parent, const char *threads,
          const char *level_name)
{
    long pid = parent? s_parse_long (parent, 1, INT_MAX): 0;
    long count = threads? s_parse_long (threads, 1, THREADS_MAX): 1;
    int level = level_name? log_level_parse (level_name): LOG_LEVEL_INFO;
    if (!id || pid < 0 || count < 0 || level < 0)
        return s_usage_error ("--worker is for the agent's own use", NULL);
    char role[48];
    snprintf (role, sizeof role, "agent worker %s", id);
    log_init (role, (log_level_t) level);
    return worker_main (endpoint, id, (size_t) count, (pid_t) pid);
}

//  The agent's keypair (--cert, else the environment) and the broker's
//  public key (--broker-key, which needs the keypair).  Secure by default:
//  both are required unless insecure, which allows only what is missing.
//  0, or 2 after a usage error line.
static int
s_keys (const char *cert, const char *broker_key, bool insecure, keys_t **keys_p,
        uint8_t broker_public[KEYS_KEY_SIZE])
{
    char err[512] = "";
    keys_t *keys = NULL;
    if (curve_own_keys (cert, insecure, &keys, err, sizeof err))
        return s_usage_error (err, NULL);
    if (broker_key && !keys)
        return s_usage_error ("--broker-key needs the agent's keypair (--cert or DROVER_CERT)",
                              NULL);
    if (keys && !broker_key && !insecure) {
        keys_destroy (&keys);
        return s_usage_error ("--broker-key (or DROVER_BROKER_KEY) is needed with a keypair: "
                              "the broker's public key, Z85 or its certificate file "
                              "(or --insecure: plain text to the broker)", NULL);
    }
    if (broker_key && keys_peer_public (broker_key, broker_public, err, sizeof err)) {
        keys_destroy (&keys);
        return s_usage_error (err, NULL);
    }
    *keys_p = keys;
    return 0;
}

int
cmd_agent (int argc, char **argv)
{
    enum { OPT_GRACE_MS = 256, OPT_GRACE, OPT_RESULT_TIMEOUT_MS, OPT_LOG_LEVEL,
           OPT_WORKER, OPT_WORKER_ID, OPT_WORKER_PARENT, OPT_CERT, OPT_BROKER_KEY,
           OPT_INSECURE };
    static const struct option options[] = {
        { "broker",            required_argument, NULL, 'b' },
        { "name",              required_argument, NULL, 'n' },
        { "processes",         required_argument, NULL, 'p' },
        { "threads",           required_argument, NULL, 't' },
        { "slots",             required_argument, NULL, 's' },
        { "grace",             required_argument, NULL, OPT_GRACE },
        { "grace-ms",          required_argument, NULL, OPT_GRACE_MS },
        { "result-timeout-ms", required_argument, NULL, OPT_RESULT_TIMEOUT_MS },
        { "log-level",         required_argument, NULL, OPT_LOG_LEVEL },
        { "cert",              required_argument, NULL, OPT_CERT },
        { "broker-key",        required_argument, NULL, OPT_BROKER_KEY },
        { "insecure",          no_argument,       NULL, OPT_INSECURE },
        { "worker",            required_argument, NULL, OPT_WORKER },
        { "worker-id",         required_argument, NULL, OPT_WORKER_ID },
        { "worker-parent",     required_argument, NULL, OPT_WORKER_PARENT },
        { "help",              no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    long cpus = sysconf (_SC_NPROCESSORS_ONLN);
    cpus = cpus > 0? cpus: 1;
    const char *broker = s_env ("DROVER_BROKER");
    const char *name = s_env ("DROVER_NAME");
    const char *processes = s_env ("DROVER_PROCESSES");
    const char *threads = s_env ("DROVER_THREADS");
    const char *slots = s_env ("DROVER_SLOTS");
    const char *grace = s_env ("DROVER_GRACE");
    const char *grace_ms = s_env ("DROVER_GRACE_MS");
    const char *result_timeout = s_env ("DROVER_RESULT_TIMEOUT_MS");
    const char *level_name = s_env ("DROVER_LOG_LEVEL");
    const char *cert = NULL;            //  the environment: keys_from_env
    const char *broker_key = s_env ("DROVER_BROKER_KEY");
    const char *insecure_env = s_env ("DROVER_INSECURE");
    bool insecure = false;
    const char *worker = NULL, *worker_id = NULL, *worker_parent = NULL;

    opterr = 0;
    optind = 1;
    int opt;
    while ((opt = getopt_long (argc, argv, ":b:n:p:t:s:h", options, NULL)) != -1) {
        switch (opt) {
            case 'b': broker = optarg; break;
            case 'n': name = optarg; break;
            case 'p': processes = optarg; break;
            case 't': threads = optarg; break;
            case 's': slots = optarg; break;
            //  The later of --grace and --grace-ms wins over both variables.
            case OPT_GRACE: grace = optarg; grace_ms = NULL; break;
            case OPT_GRACE_MS: grace_ms = optarg; grace = NULL; break;
            case OPT_RESULT_TIMEOUT_MS: result_timeout = optarg; break;
            case OPT_LOG_LEVEL: level_name = optarg; break;
            case OPT_CERT: cert = optarg; break;
            case OPT_BROKER_KEY: broker_key = optarg; break;
            case OPT_INSECURE: insecure_env = "1"; break;
            case OPT_WORKER: worker = optarg; break;
            case OPT_WORKER_ID: worker_id = optarg; break;
            case OPT_WORKER_PARENT: worker_parent = optarg; break;
            case 'h': s_usage (stdout, cpus); return 0;
            case ':': return s_usage_error ("option needs a value", argv[optind - 1]);
            default:  return s_usage_error ("unknown option", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return s_usage_error ("unexpected argument", argv[optind]);
    if (worker)
        return s_worker (worker, worker_id, worker_parent, threads, level_name);

    agent_config_t config = {
        .broker = broker? broker: AGENT_BROKER_DEFAULT,
        .processes = (size_t) (cpus < PROCESSES_MAX? cpus: PROCESSES_MAX),
        .threads = (size_t) (cpus * 4 < THREADS_MAX? cpus * 4: THREADS_MAX),
        .grace_ms = AGENT_GRACE_MS_DEFAULT,
        .result_timeout_ms = AGENT_RESULT_TIMEOUT_MS_DEFAULT,
    };
    if (!*config.broker)
        return s_usage_error ("--broker needs an endpoint", NULL);
    long value;
    if (processes && (value = s_parse_long (processes, 0, PROCESSES_MAX)) < 0)
        return s_usage_error ("--processes must be a number from 0 to 1024", processes);
    if (processes)
        config.processes = (size_t) value;
    if (threads && (value = s_parse_long (threads, 1, THREADS_MAX)) < 0)
        return s_usage_error ("--threads must be a number from 1 to 4096", threads);
    if (threads)
        config.threads = (size_t) value;
    if (slots && (value = s_parse_long (slots, 1, SLOTS_MAX)) < 0)
        return s_usage_error ("--slots must be a number from 1 to 1000000", slots);
    if (slots)
        config.slots = (size_t) value;
    if (grace && (value = s_parse_grace (grace)) < 0)
        return s_usage_error ("--grace must be seconds, or a number with s or ms", grace);
    if (grace)
        config.grace_ms = (int) value;
    if (grace_ms && (value = s_parse_long (grace_ms, 0, INT_MAX)) < 0)
        return s_usage_error ("--grace-ms must be a number of milliseconds", grace_ms);
    if (grace_ms)
        config.grace_ms = (int) value;
    if (result_timeout && (value = s_parse_long (result_timeout, 1, INT_MAX)) < 0)
        return s_usage_error ("--result-timeout-ms must be a positive number of milliseconds",
                              result_timeout);
    if (result_timeout)
        config.result_timeout_ms = (int) value;
    int level = level_name? log_level_parse (level_name): LOG_LEVEL_INFO;
    if (level < 0)
        return s_usage_error ("log level must be debug, info, warn or error", level_name);
    keys_t *keys = NULL;
    uint8_t broker_public[KEYS_KEY_SIZE];
    if (insecure_env) {
        if (strcmp (insecure_env, "1") && strcmp (insecure_env, "0"))
            return s_usage_error ("DROVER_INSECURE must be 1 or 0", insecure_env);
        insecure = !strcmp (insecure_env, "1");
    }
    int rc = s_keys (cert, broker_key, insecure, &keys, broker_public);
    if (rc)
        return rc;
    config.keys = keys;
    config.broker_key = broker_key? broker_public: NULL;
    char default_name[300];
    if (!name) {
        char host[256] = "agent";
        gethostname (host, sizeof host - 1);
        host[sizeof host - 1] = 0;
        snprintf (default_name, sizeof default_name, "%s-%d", host, (int) getpid ());
        name = default_name;
    }
    config.name = name;
    config.log_level = level_name? level_name: "info";
    log_init ("agent", (log_level_t) level);
    agent_signals_install ();

    if (keys)
        log_info ("agent key %s: results of jobs with a sink key are sealed%s",
                  keys_public_txt (keys), broker_key? "; CURVE to the broker": "");
    if (!keys)
        log_warn ("agent: --insecure and no keypair: traffic is unauthenticated and "
                  "unencrypted, results unsealed");
    else
    if (!broker_key)
        log_warn ("agent: --insecure and no --broker-key: traffic to the broker is "
                  "unauthenticated and unencrypted");
    agent_t *agent = agent_new (&config);
    if (!agent) {
        log_error ("could not start the agent (%zu worker processes x %zu handler threads)",
                   config.processes, config.threads);
        keys_destroy (&keys);
        return 1;
    }
    rc = agent_run (agent);
    agent_destroy (&agent);
    keys_destroy (&keys);
    return rc;
}
