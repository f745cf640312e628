//  cmd_status.c -- `drover status`: ask the broker for one job's counters
//  (STATUS, answered by JOB) and print them for a person or, with --json,
//  as one JSON object for a script.  A libdrover client (drover/drover.h),
//  as any program asking a broker would be.  Options: the table below.
#include <czmq.h>
#include "cli/commands.h"
#include "cli/options.h"
#include "cli/security.h"
#include "common/json_write.h"
#include "common/log.h"
#include <drover/drover.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_BROKER  "tcp://127.0.0.1:5555"

typedef struct {
    const char *broker;
    const char *job;
    bool json;
    uint32_t reply_timeout_ms;
    security_options_t security;
    const char *log_level;
} status_args_t;

#define AT(field) OPTION_AT (status_args_t, field)

static const option_t s_options[] = {
    { "broker", 'b', OPTION_STRING, AT (broker), "ENDPOINT", .help = "broker frontend" },
    { "json", 0, OPTION_BOOL, AT (json),
      .help = "one JSON object instead of a table: {\"job\",\"state\",\"submitted\","
              "\"queued\",\"running\",\"done\",\"failed\"}" },
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
        "complete: closed and every tuple done or failed), tuples submitted,\n"
        "queued for an agent, running, done, and failed (dead letters).\n",
    .notes =
        "exit status: 0 if the broker knows the job, 1 if it does not or does not\n"
        "answer, 2 on a usage error.\n",
    OPTIONS_TABLE (s_options),
};

static void
s_print_json (const char *job, const drover_status_t *status)
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
s_print_table (const char *job, const drover_status_t *status)
{
    uint64_t finished = status->done + status->failed;
    printf ("job %s: %s, %" PRIu64 "/%" PRIu64 " finished (%.1f%%)\n", job, status->state,
            finished, status->submitted,
            status->submitted? 100.0 * (double) finished / (double) status->submitted: 100.0);
    printf ("  submitted  %" PRIu64 "\n  queued     %" PRIu64 "\n  running    %" PRIu64
            "\n  done       %" PRIu64 "\n  failed     %" PRIu64 "\n", status->submitted,
            status->queued, status->running, status->done, status->failed);
}

static int
s_run (void *args_v, const options_t *options)
{
    const status_args_t *args = args_v;
    if (!args->job)
        return options_usage_error (options, "which job? name it: drover status JOB", NULL);
    log_init ("status", (log_level_t) log_level_parse (args->log_level));
    security_t *security = NULL;
    int rc = security_new (SECURITY_PRODUCER, &args->security, options, &security);
    if (rc)
        return rc;
    drover_producer_t *producer = security_producer_new (security, args->broker);
    security_destroy (&security);
    if (!producer)
        return options_usage_error (options, "not a valid broker endpoint", args->broker);
    drover_producer_set_reply_timeout (producer, (int) args->reply_timeout_ms);
    drover_status_t status;
    rc = drover_producer_status (producer, args->job, &status);
    if (rc == 0) {
        if (args->json)
            s_print_json (args->job, &status);
        else
            s_print_table (args->job, &status);
    }
    else
    if (drover_producer_refused (producer) == DROVER_E_UNKNOWN_JOB)
        fprintf (stderr, "drover status: no job '%s' at the broker at %s\n", args->job,
                 args->broker);
    else
        fprintf (stderr, "drover status: %s\n", drover_producer_error (producer));
    drover_producer_destroy (&producer);
    return rc? 1: 0;
}

int
cmd_status (int argc, char **argv)
{
    status_args_t args = { .broker = DEFAULT_BROKER, .log_level = "warn",
                           .reply_timeout_ms = DROVER_REPLY_TIMEOUT_DEFAULT };
    return options_main (&s_spec, &args, argc, argv, s_run);
}
