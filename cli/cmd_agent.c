//  cmd_agent.c -- `drover agent`: parse flags and environment, run the agent
//  (agent/agent.h) against a broker until SIGINT or SIGTERM, then drain
//  within the grace period and exit 0.
#include "cli/commands.h"
#include "agent/agent.h"

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

#define THREADS_MAX 4096

static void
s_usage (FILE *out, long cpus)
{
    fprintf (out,
        "usage: drover agent [OPTIONS]\n"
        "\n"
        "Take work tuples from a broker, run each with its job's handler on a\n"
        "pool of handler threads, send the results to the job's sink and, once\n"
        "the sink has stored them, report them done to the broker.  The agent\n"
        "only dials out (broker and sinks); it needs no inbound port.\n"
        "\n"
        "options (each flag's default comes from the environment variable shown):\n"
        "  -b, --broker ENDPOINT        broker backend to connect to      DROVER_BROKER\n"
        "                               (default %s)\n"
        "  -n, --name NAME              agent name in HELLO and results  DROVER_NAME\n"
        "                               (default HOSTNAME-PID)\n"
        "  -t, --threads N              handler threads, also the slots  DROVER_THREADS\n"
        "                               offered to the broker (default 4 x CPUs = %ld)\n"
        "      --grace-ms MS            on SIGINT/SIGTERM, time to finish DROVER_GRACE_MS\n"
        "                               running tuples and get results stored\n"
        "                               (default %d)\n"
        "      --result-timeout-ms MS   send a result batch again if the  DROVER_RESULT_TIMEOUT_MS\n"
        "                               sink has not stored it by then (default %d)\n"
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
        "SIGINT or SIGTERM: take no more work, finish running tuples and wait for\n"
        "their results to be stored (up to --grace-ms), say BYE, log the counters,\n"
        "exit 0.  The broker queues again whatever was not finished.\n",
        AGENT_BROKER_DEFAULT, cpus * 4, AGENT_GRACE_MS_DEFAULT, AGENT_RESULT_TIMEOUT_MS_DEFAULT);
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

int
cmd_agent (int argc, char **argv)
{
    enum { OPT_GRACE_MS = 256, OPT_RESULT_TIMEOUT_MS, OPT_LOG_LEVEL };
    static const struct option options[] = {
        { "broker",            required_argument, NULL, 'b' },
        { "name",              required_argument, NULL, 'n' },
        { "threads",           required_argument, NULL, 't' },
        { "grace-ms",          required_argument, NULL, OPT_GRACE_MS },
        { "result-timeout-ms", required_argument, NULL, OPT_RESULT_TIMEOUT_MS },
        { "log-level",         required_argument, NULL, OPT_LOG_LEVEL },
        { "help",              no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    long cpus = sysconf (_SC_NPROCESSORS_ONLN);
    cpus = cpus > 0? cpus: 1;
    const char *broker = s_env ("DROVER_BROKER");
    const char *name = s_env ("DROVER_NAME");
    const char *threads = s_env ("DROVER_THREADS");
    const char *grace = s_env ("DROVER_GRACE_MS");
    const char *result_timeout = s_env ("DROVER_RESULT_TIMEOUT_MS");
    const char *level_name = s_env ("DROVER_LOG_LEVEL");

    opterr = 0;
    optind = 1;
    int opt;
    while ((opt = getopt_long (argc, argv, ":b:n:t:h", options, NULL)) != -1) {
        switch (opt) {
            case 'b': broker = optarg; break;
            case 'n': name = optarg; break;
            case 't': threads = optarg; break;
            case OPT_GRACE_MS: grace = optarg; break;
            case OPT_RESULT_TIMEOUT_MS: result_timeout = optarg; break;
            case OPT_LOG_LEVEL: level_name = optarg; break;
            case 'h': s_usage (stdout, cpus); return 0;
            case ':': return s_usage_error ("option needs a value", argv[optind - 1]);
            default:  return s_usage_error ("unknown option", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return s_usage_error ("unexpected argument", argv[optind]);

    agent_config_t config = {
        .broker = broker? broker: AGENT_BROKER_DEFAULT,
        .threads = (size_t) (cpus * 4 < THREADS_MAX? cpus * 4: THREADS_MAX),
        .grace_ms = AGENT_GRACE_MS_DEFAULT,
        .result_timeout_ms = AGENT_RESULT_TIMEOUT_MS_DEFAULT,
    };
    if (!*config.broker)
        return s_usage_error ("--broker needs an endpoint", NULL);
    long value;
    if (threads && (value = s_parse_long (threads, 1, THREADS_MAX)) < 0)
        return s_usage_error ("--threads must be a number from 1 to 4096", threads);
    if (threads)
        config.threads = (size_t) value;
    if (grace && (value = s_parse_long (grace, 0, INT_MAX)) < 0)
        return s_usage_error ("--grace-ms must be a number of milliseconds", grace);
    if (grace)
        config.grace_ms = (int) value;
    if (result_timeout && (value = s_parse_long (result_timeout, 1, INT_MAX)) < 0)
        return s_usage_error ("--result-timeout-ms must be a positive number of milliseconds",
                              result_timeout);
    if (result_timeout)
        config.result_timeout_ms = (int) value;
    int level = level_name? log_level_parse (level_name): LOG_LEVEL_INFO;
    if (level < 0)
        return s_usage_error ("log level must be debug, info, warn or error", level_name);
    char default_name[300];
    if (!name) {
        char host[256] = "agent";
        gethostname (host, sizeof host - 1);
        host[sizeof host - 1] = 0;
        snprintf (default_name, sizeof default_name, "%s-%d", host, (int) getpid ());
        name = default_name;
    }
    config.name = name;
    log_init ("agent", (log_level_t) level);

    agent_t *agent = agent_new (&config);
    if (!agent) {
        log_error ("could not start the agent (%zu handler threads)", config.threads);
        return 1;
    }
    int rc = agent_run (agent);
    agent_destroy (&agent);
    return rc;
}
