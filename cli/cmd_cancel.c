//  cmd_cancel.c -- `drover cancel`: end a job early (CANCEL, answered by
//  JOB as STATUS is, PROTOCOL.md 12) and print its counters as `drover
//  status` does.  Its queued tuples are stored at its sink as cancelled, its
//  running ones stopped on their agents and stored so.
#include <czmq.h>
#include "cli/broker_query.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "cli/security.h"
#include "cli/views.h"
#include "common/log.h"
#include "producer/producer.h"
#include "proto/msg.h"

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
} cancel_args_t;

#define AT(field) OPTION_AT (cancel_args_t, field)

static const option_t s_options[] = {
    { "broker", 'b', OPTION_STRING, AT (broker), "ENDPOINT", .help = "broker frontend" },
    { "json", 0, OPTION_BOOL, AT (json), .help = "print the job's counters as JSON" },
    { "reply-timeout", 0, OPTION_DURATION, AT (reply_timeout_ms), "DURATION", 1, 86400000,
      .help = "give up when the broker has not answered for this long" },
    SECURITY_PRODUCER_OPTIONS (cancel_args_t),
    OPTION_LOG_LEVEL (cancel_args_t, log_level),
    { "job", 0, OPTION_STRING, AT (job), "JOB", .flags = OPTION_POSITIONAL,
      .help = "the job" },
};

static const options_spec_t s_spec = {
    .command = "cancel",
    .usage = "[OPTIONS] JOB",
    .about =
        "Cancel a job: its queued tuples never run, and those running are stopped\n"
        "on their agents (an exec command's process group gets SIGTERM, then\n"
        "SIGKILL after the job's kill_grace_ms, 2 s by default).  Each is stored at\n"
        "the job's sink with status \"cancelled\" (started_us and duration_us 0,\n"
        "or of what ran if it was stopped) and counted done.  The job's state becomes\n"
        "\"cancelled\", also after a broker restart, and it takes no more tuples\n"
        "(a SUBMIT to it is refused with JOB_CLOSED).  Cancelling again answers\n"
        "the same; a job already aborted stays aborted.  Prints the job's\n"
        "counters as `drover status` does (--json likewise).\n\n"
        "  drover cancel scan-1\n"
        "  drover status scan-1 --watch     # until nothing is queued or running\n",
    .notes =
        "exit status: 0 if the broker knows the job, 1 if it does not or does not\n"
        "answer, 2 on a usage error.\n",
    OPTIONS_TABLE (s_options),
};

//  CANCEL, its JOB reply printed.  0 or 1.
static int
s_cancel (broker_query_t *query, const cancel_args_t *args)
{
    msg_t *request = msg_new (MSG_CANCEL);
    if (!request || msg_set_str (request, MSG_F_JOB, args->job)) {
        msg_destroy (&request);
        fprintf (stderr, "drover cancel: out of memory\n");
        return 1;
    }
    msg_t *job = NULL;
    int rc = broker_query_ask (query, &request, &job);
    if (rc == -DRV_E_UNKNOWN_JOB)
        fprintf (stderr, "drover cancel: no job '%s' at the broker at %s\n", args->job,
                 args->broker);
    else
    if (rc)
        fprintf (stderr, "drover cancel: %s\n", broker_query_error (query));
    if (rc)
        return 1;
    views_status (stdout, job, args->json);
    msg_destroy (&job);
    return 0;
}

static int
s_run (void *args_v, const options_t *options)
{
    const cancel_args_t *args = args_v;
    if (!args->job)
        return options_usage_error (options, "which job? name it: drover cancel JOB", NULL);
    if (strlen (args->job) > 1024)       //  so the header fits, whatever it is
        return options_usage_error (options, "job name over 1024 bytes", NULL);
    log_init ("cancel", (log_level_t) log_level_parse (args->log_level));
    broker_query_t *query = NULL;
    int rc = security_broker_query (&args->security, options, args->broker,
                                    (int) args->reply_timeout_ms, &query);
    if (rc)
        return rc;
    rc = s_cancel (query, args);
    broker_query_destroy (&query);
    return rc;
}

int
cmd_cancel (int argc, char **argv)
{
    cancel_args_t args = { .broker = DEFAULT_BROKER, .log_level = "warn",
                           .reply_timeout_ms = PRODUCER_REPLY_TIMEOUT };
    return options_main (&s_spec, &args, argc, argv, s_run);
}
