//  cmd_status.c -- `drover status`: ask the broker for one job's counters
//  (STATUS, answered by JOB) and print them for a person or, with --json,
//  as one JSON object for a script; with --watch, again every interval
//  until the job is complete.  Options: the table below.
#include <czmq.h>
#include "cli/broker_query.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "cli/refresh.h"
#include "cli/security.h"
#include "cli/views.h"
#include "common/log.h"
#include "producer/producer.h"
#include "proto/msg.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_BROKER  "tcp://127.0.0.1:5555"

typedef struct {
    const char *broker;
    const char *job;
    refresh_options_t refresh;
    uint32_t reply_timeout_ms;
    security_options_t security;
    const char *log_level;
} status_args_t;

#define AT(field) OPTION_AT (status_args_t, field)

static const option_t s_options[] = {
    { "broker", 'b', OPTION_STRING, AT (broker), "ENDPOINT", .help = "broker frontend" },
    REFRESH_OPTIONS (status_args_t, "until the job is complete or interrupted"),
    { "reply-timeout", 0, OPTION_DURATION, AT (reply_timeout_ms), "DURATION", 1, 86400000,
      .help = "give up when the broker has not answered for this long" },
    SECURITY_PRODUCER_OPTIONS (status_args_t),
    OPTION_LOG_LEVEL (status_args_t, log_level),
    { "job", 0, OPTION_STRING, AT (job), "JOB", .flags = OPTION_POSITIONAL,
      .help = "the job" },
};

static const options_spec_t s_spec = {
    .command = "status",
    .usage = "[OPTIONS] JOB",
    .about =
        "Print a job's counters: its state (open: may get more tuples; closed;\n"
        "complete: closed and every tuple done or failed; cancelled: drover\n"
        "cancel; aborted: abort_after tuples failed), tuples submitted,\n"
        "queued for an agent, waiting on their dependencies (a job graph: submit\n"
        "--deps), running, done, failed (dead letters), and skipped (stored as\n"
        "skipped, a dependency having failed; counted in done too); its recent\n"
        "rate (tuples finished a second, over the last 30 s) and its ETA at that\n"
        "rate for the tuples submitted so far (\"-\" until known); of the queued,\n"
        "those delayed (waiting for their not_before: drover submit --delay); the\n"
        "job's not_before if it has one, its priority (0-9), timeout_ms and\n"
        "max_attempts.\n\n"
        "  drover status scan-1\n  drover status scan-1 --watch\n\n"
        "--json: one JSON object, {\"job\",\"state\",\"submitted\",\"queued\",\"running\",\n"
        "\"done\",\"failed\",\"waiting\",\"skipped\"} and, once known, \"rate_milli\" (tuples\n"
        "finished per 1000 s) and \"eta_ms\"; then \"delayed\", \"priority\",\n"
        "\"not_before\" (ms since the epoch, if any), \"max_attempts\" and\n"
        "\"timeout_ms\" (from a broker that sends them).\n",
    .notes =
        "exit status: 0 if the broker knows the job, 1 if it does not or does not\n"
        "answer, 2 on a usage error.\n",
    OPTIONS_TABLE (s_options),
};

typedef struct {
    broker_query_t *query;
    const status_args_t *args;
} status_view_t;

static int
s_view (void *arg, FILE *out)
{
    status_view_t *view = arg;
    msg_t *request = msg_new (MSG_STATUS);
    if (!request || msg_set_str (request, MSG_F_JOB, view->args->job)) {
        msg_destroy (&request);
        fprintf (stderr, "drover status: out of memory\n");
        return 1;
    }
    msg_t *job = NULL;
    int rc = broker_query_ask (view->query, &request, &job);
    if (rc == -DRV_E_UNKNOWN_JOB)
        fprintf (stderr, "drover status: no job '%s' at the broker at %s\n", view->args->job,
                 view->args->broker);
    else
    if (rc)
        fprintf (stderr, "drover status: %s\n", broker_query_error (view->query));
    if (rc)
        return 1;
    views_status (out, job, view->args->refresh.json);
    //  A job cancelled or aborted is over once nothing runs or waits.
    const char *state = msg_str (job, MSG_F_STATE);
    bool ended = (!strcmp (state, "cancelled") || !strcmp (state, "aborted"))
              && msg_uint (job, MSG_F_QUEUED) == 0 && msg_uint (job, MSG_F_RUNNING) == 0;
    rc = strcmp (state, "complete") && !ended? REFRESH_MORE: REFRESH_DONE;
    msg_destroy (&job);
    return rc;
}

static int
s_run (void *args_v, const options_t *options)
{
    const status_args_t *args = args_v;
    if (!args->job)
        return options_usage_error (options, "which job? name it: drover status JOB", NULL);
    if (strlen (args->job) > 1024)       //  so the header fits, whatever it is
        return options_usage_error (options, "job name over 1024 bytes", NULL);
    log_init ("status", (log_level_t) log_level_parse (args->log_level));
    broker_query_t *query = NULL;
    int rc = security_broker_query (&args->security, options, args->broker,
                                    (int) args->reply_timeout_ms, &query);
    if (rc)
        return rc;
    status_view_t view = { query, args };
    rc = refresh_run (&args->refresh, s_view, &view);
    broker_query_destroy (&query);
    return rc;
}

int
cmd_status (int argc, char **argv)
{
    status_args_t args = { .broker = DEFAULT_BROKER, .log_level = "warn",
                           .refresh.interval_ms = REFRESH_INTERVAL_DEFAULT,
                           .reply_timeout_ms = PRODUCER_REPLY_TIMEOUT };
    return options_main (&s_spec, &args, argc, argv, s_run);
}
