//  cmd_jobs.c -- `drover jobs` and `drover agents`: every job the broker
//  knows, every agent connected (JOBS and AGENTS, PROTOCOL.md 11, paged
//  through to the end), as a table or JSON, once or, with --watch, again
//  every interval.  The two take the same options: one table serves both.
#include <czmq.h>
#include "cli/broker_query.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "cli/refresh.h"
#include "cli/security.h"
#include "cli/views.h"
#include "common/log.h"
#include "producer/producer.h"

#include <stdio.h>

#define DEFAULT_BROKER  "tcp://127.0.0.1:5555"

typedef struct {
    const char *broker;
    refresh_options_t refresh;
    uint32_t reply_timeout_ms;
    security_options_t security;
    const char *log_level;
} list_args_t;

#define AT(field) OPTION_AT (list_args_t, field)

static const option_t s_options[] = {
    { "broker", 'b', OPTION_STRING, AT (broker), "ENDPOINT", .help = "broker frontend" },
    REFRESH_OPTIONS (list_args_t, "until interrupted"),
    { "reply-timeout", 0, OPTION_DURATION, AT (reply_timeout_ms), "DURATION", 1, 86400000,
      .help = "give up when the broker has not answered for this long" },
    SECURITY_PRODUCER_OPTIONS (list_args_t),
    OPTION_LOG_LEVEL (list_args_t, log_level),
};

static const char s_notes[] =
    "--json: one JSON array of objects, on one line; their keys are PROTOCOL.md\n"
    "section 11's (an absent key: not known).\n\n"
    "exit status: 0 once shown, 1 if the broker does not answer or refuses (a\n"
    "broker older than the listings answers UNKNOWN_COMMAND), 2 on a usage error.\n";

static const options_spec_t s_jobs_spec = {
    .command = "jobs",
    .usage = "[OPTIONS]",
    .about =
        "List every job the broker knows, in the order it created them: its state\n"
        "(open, closed, complete, cancelled, aborted), its priority (PRI, 0-9),\n"
        "tuples submitted, done, failed, queued, delayed (of the queued, those\n"
        "waiting for their not_before), waiting (on dependencies), running,\n"
        "skipped,\n"
        "its recent rate (tuples finished a second over the last 30 s), its ETA at\n"
        "that rate for the tuples submitted so far, and its age (since this broker\n"
        "process first saw it).  \"-\": not known yet.\n\n"
        "  drover jobs\n  drover jobs --watch --interval 5\n"
        "  drover jobs --json | jq '.[] | select(.state != \"complete\")'\n",
    .notes = s_notes,
    OPTIONS_TABLE (s_options),
};

static const options_spec_t s_agents_spec = {
    .command = "agents",
    .usage = "[OPTIONS]",
    .about =
        "List the agents connected to the broker, in the order they said HELLO: name,\n"
        "host (the address they connect from), slots offered, tuples in flight, tuples\n"
        "done in this session, how long since the broker last heard from them, how\n"
        "long connected, and the protocol version they speak.\n\n"
        "  drover agents\n  drover agents --json\n",
    .notes = s_notes,
    OPTIONS_TABLE (s_options),
};

typedef struct {
    broker_query_t *query;
    msg_command_t command;
    bool json;
} list_view_t;

static int
s_view (void *arg, FILE *out)
{
    list_view_t *view = arg;
    if (broker_query_list (view->query, view->command)) {
        fprintf (stderr, "drover %s: %s\n", view->command == MSG_JOBS? "jobs": "agents",
                 broker_query_error (view->query));
        return 1;
    }
    if (view->command == MSG_JOBS)
        views_jobs (out, view->query, view->json);
    else
        views_agents (out, view->query, view->json);
    return REFRESH_MORE;
}

static int
s_run (const list_args_t *args, const options_t *options, msg_command_t command)
{
    log_init (command == MSG_JOBS? "jobs": "agents",
              (log_level_t) log_level_parse (args->log_level));
    broker_query_t *query = NULL;
    int rc = security_broker_query (&args->security, options, args->broker,
                                    (int) args->reply_timeout_ms, &query);
    if (rc)
        return rc;
    list_view_t view = { query, command, args->refresh.json };
    rc = refresh_run (&args->refresh, s_view, &view);
    broker_query_destroy (&query);
    return rc;
}

static int
s_run_jobs (void *args, const options_t *options)
{
    return s_run (args, options, MSG_JOBS);
}

static int
s_run_agents (void *args, const options_t *options)
{
    return s_run (args, options, MSG_AGENTS);
}

static list_args_t
s_defaults (void)
{
    return (list_args_t) { .broker = DEFAULT_BROKER, .log_level = "warn",
                           .refresh.interval_ms = REFRESH_INTERVAL_DEFAULT,
                           .reply_timeout_ms = PRODUCER_REPLY_TIMEOUT };
}

int
cmd_jobs (int argc, char **argv)
{
    list_args_t args = s_defaults ();
    return options_main (&s_jobs_spec, &args, argc, argv, s_run_jobs);
}

int
cmd_agents (int argc, char **argv)
{
    list_args_t args = s_defaults ();
    return options_main (&s_agents_spec, &args, argc, argv, s_run_agents);
}
