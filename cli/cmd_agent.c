//  cmd_agent.c -- `drover agent`: its options (the table below), its keys
//  (cli/security.h), then the agent (agent/agent.h) against a broker until
//  SIGINT or SIGTERM, then drain within the grace period and exit 0.
//  `drover agent --worker ...` is how the agent starts its own worker
//  processes (agent/worker.h): flags only, not for users.
#include <czmq.h>
#include "cli/commands.h"
#include "cli/http_options.h"
#include "cli/options.h"
#include "cli/security.h"
#include "agent/agent.h"
#include "agent/worker.h"
#include "broker/labels.h"
#include "common/log.h"

#include <limits.h>
#include <msgpack.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define THREADS_MAX     4096
#define PROCESSES_MAX   1024
#define SLOTS_MAX       1000000

typedef struct {
    agent_config_t config;
    security_options_t security;
    http_options_t http;
    const char *labels;         //  --label k=v,k=v
    const char *scheduling;
} agent_args_t;

#define AT(field) OPTION_AT (agent_args_t, field)

static const option_t s_options[] = {
    { "broker", 'b', OPTION_STRING, AT (config.broker), "ENDPOINT",
      .help = "broker backend to connect to" },
    { "label", 'l', OPTION_STRING, AT (labels), "K=V[,K=V...]",
      .help = "labels sent in HELLO and with every result, e.g. site=dc1,zone=dmz: jobs "
              "whose options say \"requires\": {\"site\": \"dc1\"} run only on agents with them" },
    { "name", 'n', OPTION_STRING, AT (config.name), "NAME", .default_text = "HOSTNAME-PID",
      .help = "agent name in HELLO and results" },
    { "processes", 'p', OPTION_NUMBER, AT (config.processes), "P", 0, PROCESSES_MAX,
      .help = "worker processes, one per CPU unless given; 0 runs the handler threads in "
              "the agent process (no crash isolation)" },
    { "threads", 't', OPTION_NUMBER, AT (config.threads), "T", 1, THREADS_MAX,
      .help = "handler threads per worker process, 4 per CPU unless given" },
    { "slots", 's', OPTION_NUMBER, AT (config.slots), "N", 1, SLOTS_MAX,
      .default_text = "adaptive",
      .help = "tuples held at most, announced to the broker; a slot is busy from WORK "
              "until the sink stored the result.  By default the agent adapts: P x T plus "
              "about 20 ms of work at the rate it measures, at most 16384, so short tuples "
              "keep thousands in flight and slow ones prefetch little" },
    { "grace", 0, OPTION_DURATION, AT (config.grace_ms), "DURATION", 0, INT_MAX,
      .help = "on SIGINT/SIGTERM, time to finish started tuples and get results stored" },
    { "grace-ms", 0, OPTION_NUMBER, AT (config.grace_ms), "MS", 0, INT_MAX,
      .default_text = "", .help = "the same in milliseconds (of --grace and --grace-ms, "
                                  "the later wins)" },
    { "result-timeout-ms", 0, OPTION_NUMBER, AT (config.result_timeout_ms), "MS", 1, INT_MAX,
      .help = "send a result batch again if the sink has not stored it by then" },
    SECURITY_CERT (agent_args_t,
        "the agent's certificate (drover keygen): NAME or NAME_secret; or DROVER_SECRET_KEY "
        "(Z85, with optional DROVER_PUBLIC_KEY).  With a keypair, results of jobs submitted "
        "with a sink key are sealed for that sink and its socket uses CURVE.  Without one, "
        "such jobs' tuples are handed back (RETRY: \"job needs sealed results\")"),
    SECURITY_BROKER_KEY (agent_args_t,
        "the broker's public key: Z85 text or a certificate file; connect to the broker "
        "with CURVE (needs --cert).  A keypair and --broker-key are required unless "
        "--insecure"),
    SECURITY_INSECURE (agent_args_t,
        "run with what is missing: no keypair (plain text, no seals), or a keypair without "
        "--broker-key (plain to the broker, results still sealed); given keys are still "
        "used"),
    HTTP_OPTIONS (agent_args_t, "Prometheus /metrics, /healthz and /readyz"),
    OPTION_SCHEDULING (agent_args_t, scheduling),
    OPTION_LOG_LEVEL (agent_args_t, config.log_level),
};

static const options_spec_t s_spec = {
    .command = "agent",
    .usage = "[OPTIONS]",
    .about =
        "Take work tuples from a broker, run each with its job's handler on P\n"
        "worker processes of T handler threads each, send the results to the\n"
        "job's sink and, once the sink has stored them, report them done to the\n"
        "broker.  The agent process supervises the workers: one that dies is\n"
        "started again (back-off 100 ms doubling to 5 s) and its tuples count as\n"
        "a failed attempt.  The agent only dials out (broker and sinks); it\n"
        "needs no inbound port.\n",
    .notes =
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
    OPTIONS_TABLE (s_options),
};

//  `drover agent --worker ENDPOINT --worker-id ID --worker-parent PID
//  --threads T --log-level LEVEL`, as the supervisor (agent/supervisor.c)
//  starts it: flags only, so neither the environment nor a config file
//  edited since the agent started can change or stop a worker.
typedef struct {
    const char *endpoint, *id, *log_level;
    uint32_t parent, threads;
} worker_args_t;

static const option_t s_worker_options[] = {
    { "worker", 0, OPTION_STRING, OPTION_AT (worker_args_t, endpoint), "ENDPOINT",
      .help = "the supervisor's endpoint" },
    { "worker-id", 0, OPTION_STRING, OPTION_AT (worker_args_t, id), "ID",
      .help = "this worker's identity" },
    { "worker-parent", 0, OPTION_NUMBER, OPTION_AT (worker_args_t, parent), "PID",
      1, INT_MAX, .help = "the agent's process id: exit when it is gone" },
    { "threads", 't', OPTION_NUMBER, OPTION_AT (worker_args_t, threads), "T",
      1, THREADS_MAX, .help = "handler threads" },
    OPTION_LOG_LEVEL (worker_args_t, log_level),
};

static const options_spec_t s_worker_spec = {
    .command = "agent",
    .usage = "--worker ENDPOINT --worker-id ID [OPTIONS]",
    .about = "A worker process of an agent; the agent starts these itself.\n",
    OPTIONS_TABLE (s_worker_options),
    .no_config = true,
};

static int
s_worker (void *args_v, const options_t *options)
{
    worker_args_t *args = args_v;
    if (!args->id)
        return options_usage_error (options, "--worker is for the agent's own use", NULL);
    char role[48];
    snprintf (role, sizeof role, "agent worker %s", args->id);
    log_init (role, (log_level_t) log_level_parse (args->log_level));
    return worker_main (args->endpoint, args->id, args->threads, (pid_t) args->parent);
}

static int s_run_agent (agent_args_t *args, const options_t *options);

//  --label's K=V pairs as a msgpack map into buf (checked as the broker
//  checks them).  0, or a usage error's status.
static int
s_labels (const char *text, msgpack_sbuffer *buf, const options_t *options)
{
    char *copy = strdup (text), *saveptr = NULL;
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    uint32_t count = 0;
    for (const char *p = text; *p; p++)
        count += *p == ',';
    msgpack_pack_map (&pk, count + 1);
    uint32_t packed = 0;
    for (char *pair = copy? strtok_r (copy, ",", &saveptr): NULL; pair;
         pair = strtok_r (NULL, ",", &saveptr), packed++) {
        char *eq = strchr (pair, '=');
        size_t key = eq? (size_t) (eq - pair): strlen (pair);
        msgpack_pack_str_with_body (&pk, pair, key);
        msgpack_pack_str_with_body (&pk, eq? eq + 1: "", eq? strlen (eq + 1): 0);
    }
    free (copy);
    char out[LABELS_TEXT_MAX], reason[128] = "out of memory";
    if (packed != count + 1 || labels_text (buf->data, buf->size, out, reason, sizeof reason))
        return options_usage_error (options, "--label wants K=V[,K=V...]", reason);
    return 0;
}

static int
s_run (void *args_v, const options_t *options)
{
    agent_args_t *args = args_v;
    msgpack_sbuffer labels;
    msgpack_sbuffer_init (&labels);
    int rc = args->labels? s_labels (args->labels, &labels, options): 0;
    if (rc == 0 && args->labels) {
        args->config.labels = labels.data;
        args->config.labels_size = labels.size;
    }
    if (rc == 0)
        rc = s_run_agent (args, options);
    msgpack_sbuffer_destroy (&labels);
    return rc;
}

static int
s_run_agent (agent_args_t *args, const options_t *options)
{
    agent_config_t *config = &args->config;
    char name[300];
    if (!config->name) {
        char host[256] = "agent";
        gethostname (host, sizeof host - 1);
        host[sizeof host - 1] = 0;
        snprintf (name, sizeof name, "%s-%d", host, (int) getpid ());
        config->name = name;
    }
    log_init ("agent", (log_level_t) log_level_parse (config->log_level));
    sched_policy_start (args->scheduling);
    security_t *security = NULL;
    int rc = security_new (SECURITY_AGENT, &args->security, options, &security);
    if (rc)
        return rc;
    config->keys = security_keys (security);
    config->broker_key = security_broker_key (security);
    if (config->keys)
        log_info ("agent key %s: results of jobs with a sink key are sealed%s",
                  keys_public_txt (config->keys),
                  config->broker_key? "; CURVE to the broker": "");
    agent_signals_install ();
    http_t *http = NULL;
    rc = http_options_start (&args->http, options, false, &http);
    if (rc) {
        security_destroy (&security);
        return rc;
    }
    config->http = http;
    agent_t *agent = agent_new (config);
    if (agent) {
        rc = agent_run (agent);
        agent_destroy (&agent);
    }
    else {
        log_error ("could not start the agent (%zu worker processes x %zu handler threads)",
                   config->processes, config->threads);
        rc = 1;
    }
    http_destroy (&http);
    security_destroy (&security);
    return rc;
}

int
cmd_agent (int argc, char **argv)
{
    if (argc > 1 && !strncmp (argv[1], "--worker", 8)
    &&  (argv[1][8] == 0 || argv[1][8] == '=')) {
        worker_args_t args = { .threads = 1, .log_level = "info" };
        return options_main (&s_worker_spec, &args, argc, argv, s_worker);
    }
    long cpus = sysconf (_SC_NPROCESSORS_ONLN);
    cpus = cpus > 0? cpus: 1;
    agent_args_t args = { .config = {
        .broker = AGENT_BROKER_DEFAULT,
        .processes = (size_t) (cpus < PROCESSES_MAX? cpus: PROCESSES_MAX),
        .threads = (size_t) (cpus * 4 < THREADS_MAX? cpus * 4: THREADS_MAX),
        .grace_ms = AGENT_GRACE_MS_DEFAULT,
        .result_timeout_ms = AGENT_RESULT_TIMEOUT_MS_DEFAULT,
        .log_level = "info",
    }, .scheduling = SCHED_POLICY_DEFAULT };
    return options_main (&s_spec, &args, argc, argv, s_run);
}
