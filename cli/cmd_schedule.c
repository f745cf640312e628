//  cmd_schedule.c -- `drover schedule add|list|rm`: recurring jobs kept by
//  the broker (SCHEDULE, PROTOCOL.md 15).  add sends the job as a SUBMIT
//  would describe it (submit's flags, a spec or a FILE of tuples, read
//  here) with a cron expression or an interval; the broker makes a job
//  NAME-<UTC time> at each tick.  One options table per verb.
#include <czmq.h>
#include "cli/broker_query.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "cli/security.h"
#include "cli/spec_option.h"
#include "cli/views.h"
#include "common/log.h"
#include "producer/job_fields.h"
#include "producer/producer.h"
#include "producer/tuple_input.h"
#include "proto/msg.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_BROKER  "tcp://127.0.0.1:5555"
#define DEFAULT_SINK    "tcp://127.0.0.1:5558"

typedef struct {
    const char *verb;               //  "add", "list", "rm"
    const char *broker;
    const char *name;
    const char *cron;
    uint64_t every_ms;              //  --every, or 0
    const char *handler;
    const char *sink;
    const char *handler_options;
    const char *format;
    const char *input;
    uint64_t max_attempts, timeout_ms;
    bool json;
    uint32_t reply_timeout_ms;
    security_options_t security;
    spec_source_t spec;
    const char *log_level;
} schedule_args_t;

#define AT(field) OPTION_AT (schedule_args_t, field)

static const char *const s_formats[] = { "json", "msgpack", NULL };

#define COMMON_OPTIONS \
    { "broker", 'b', OPTION_STRING, AT (broker), "ENDPOINT", .help = "broker frontend" }, \
    { "reply-timeout", 0, OPTION_DURATION, AT (reply_timeout_ms), "DURATION", 1, 86400000, \
      .help = "give up when the broker has not answered for this long" }, \
    SECURITY_PRODUCER_OPTIONS (schedule_args_t), \
    OPTION_LOG_LEVEL (schedule_args_t, log_level)

static const option_t s_add_options[] = {
    COMMON_OPTIONS,
    { "cron", 'c', OPTION_STRING, AT (cron), "EXPR",
      .help = "when it runs, a 5-field cron expression in UTC (minute hour day-of-month "
              "month day-of-week): \"*/15 * * * *\", \"0 2 * * mon-fri\", @daily" },
    { "every", 'e', OPTION_DURATION, AT (every_ms), "DURATION", 1000, 366ULL * 86400000,
      .help = "or every DURATION: 30s, 15m, 2h, 1d (whole seconds), at multiples of it "
              "since the epoch" },
    { "handler", 'H', OPTION_STRING, AT (handler), "NAME",
      .help = "handler that runs the tuples (required)" },
    { "sink", 's', OPTION_STRING, AT (sink), "ENDPOINT", .default_text = DEFAULT_SINK,
      .help = "sink for the results" },
    { "options", 'o', OPTION_STRING, AT (handler_options), "JSON",
      .help = "handler options, a JSON object (\"requires\", \"abort_after\", ...)" },
    { "max-attempts", 0, OPTION_NUMBER, AT (max_attempts), "N", 1, UINT32_MAX,
      .default_text = "the broker's, 3", .help = "runs of a tuple before it is a dead letter" },
    { "timeout-ms", 0, OPTION_NUMBER, AT (timeout_ms), "N", 1, UINT32_MAX,
      .default_text = "the broker's, 30000", .help = "handler timeout per tuple" },
    { "sink-key", 0, OPTION_STRING, AT (security.sink_key), "KEY", .flags = OPTION_EMPTY_UNSET,
      .help = "the sink's public key, Z85 or its certificate file" },
    { "format", 'f', OPTION_CHOICE, AT (format), "FORMAT", .choices = s_formats,
      .help = "of FILE: json (JSON Lines) or msgpack" },
    { "targets", 't', OPTION_STRING, AT (spec.targets), "SPEC",
      .help = "a spec job each time instead of tuples: targets x --ports (docs/campaigns.md)" },
    { "targets-file", 0, OPTION_STRING, AT (spec.targets_file), "FILE",
      .help = "targets from a file, read now, '#' comments" },
    { "ports", 'p', OPTION_STRING, AT (spec.ports), "SPEC", .help = "the spec's ports" },
    { "exclude", 0, OPTION_STRING, AT (spec.exclude), "SPEC", .help = "targets never to scan" },
    { "exclude-file", 0, OPTION_STRING, AT (spec.exclude_file), "FILE",
      .help = "targets never to scan, from a file read now" },
    { "exclude-ports", 0, OPTION_STRING, AT (spec.exclude_ports), "SPEC",
      .help = "ports never to scan, on any host" },
    { "name", 0, OPTION_STRING, AT (name), "NAME", .flags = OPTION_POSITIONAL | OPTION_ARGV_ONLY,
      .help = "the schedule: its jobs are NAME-<UTC time>" },
    { "input", 0, OPTION_STRING, AT (input), "FILE", .flags = OPTION_POSITIONAL | OPTION_ARGV_ONLY,
      .help = "the tuples each job gets ('-': stdin), read now; or a spec" },
};

static const option_t s_list_options[] = {
    COMMON_OPTIONS,
    { "json", 0, OPTION_BOOL, AT (json), .help = "one JSON array of the entries" },
};

static const option_t s_rm_options[] = {
    COMMON_OPTIONS,
    { "name", 0, OPTION_STRING, AT (name), "NAME", .flags = OPTION_POSITIONAL | OPTION_ARGV_ONLY,
      .help = "the schedule" },
};

static const char s_notes[] =
    "exit status: 0 done, 1 if the broker refuses (the reason said) or does not\n"
    "answer, 2 on a usage error.\n";

static const options_spec_t s_add_spec = {
    .command = "schedule",
    .usage = "add [OPTIONS] NAME (--cron EXPR | --every DURATION) -H HANDLER\n"
             "           (FILE | - | --targets SPEC --ports SPEC)",
    .about =
        "Add a recurring job.  The broker keeps the schedule in its store and at\n"
        "each tick makes a job NAME-<UTC time> (NAME-20261203T0815Z for a cron,\n"
        "NAME-20261203T081530Z for --every) as `drover submit` with these flags\n"
        "would, closed: the same tuples each time (FILE, read now and kept by the\n"
        "broker, at most 1 MiB) or a spec job (--targets, --ports).  A tick missed\n"
        "while the broker was down runs once when it starts, not once per tick.\n\n"
        "  drover schedule add nightly --cron '0 2 * * *' -H tcp-probe \\\n"
        "      --targets 10.20.0.0/16 --ports top100\n"
        "  drover schedule add health --every 30s -H echo checks.jsonl\n",
    .notes = s_notes,
    OPTIONS_TABLE (s_add_options),
};

static const options_spec_t s_list_spec = {
    .command = "schedule",
    .usage = "list [OPTIONS]",
    .about =
        "List the broker's schedules by name: when each runs (its cron, or every\n"
        "N s), its next run and last run (UTC), and the last job it made.\n\n"
        "  drover schedule list\n  drover schedule list --json\n",
    .notes = s_notes,
    OPTIONS_TABLE (s_list_options),
};

static const options_spec_t s_rm_spec = {
    .command = "schedule",
    .usage = "rm [OPTIONS] NAME",
    .about =
        "Remove a schedule: it makes no more jobs.  The jobs it made are left as\n"
        "they are (drover cancel ends one).\n\n  drover schedule rm nightly\n",
    .notes = s_notes,
    OPTIONS_TABLE (s_rm_options),
};

//  The tuples of FILE ('-': stdin) into request.  0, or 1 after an error.
static int
s_read_tuples (const schedule_args_t *args, msg_t *request)
{
    bool stdin_input = !strcmp (args->input, "-");
    int fd = stdin_input? STDIN_FILENO: open (args->input, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf (stderr, "drover schedule: cannot open %s: %s\n", args->input, strerror (errno));
        return 1;
    }
    tuple_input_t *input = tuple_input_new (fd, stdin_input? "stdin": args->input,
                                            strcmp (args->format, "msgpack")? TUPLE_INPUT_JSON
                                                                            : TUPLE_INPUT_MSGPACK);
    tuple_input_rc_t got = input? TUPLE_INPUT_TUPLE: TUPLE_INPUT_ERROR;
    int rc = 0;
    while (rc == 0 && got == TUPLE_INPUT_TUPLE) {
        const void *data;
        size_t size;
        got = tuple_input_next (input, -1, &data, &size);
        if (got == TUPLE_INPUT_TUPLE)
            rc = msg_add_tuple (request, data, size);
    }
    if (rc || got != TUPLE_INPUT_END)
        fprintf (stderr, "drover schedule: %s\n", rc? "too many tuples for a schedule"
                 : input? tuple_input_error (input): "out of memory");
    tuple_input_destroy (&input);
    if (!stdin_input)
        close (fd);
    return rc || got != TUPLE_INPUT_END? 1: 0;
}

//  The job's fields (as submit sets them) and its spec or tuples into the
//  SCHEDULE add.  0, 1 after an error, 2 after a usage error.
static int
s_add_template (const schedule_args_t *args, const options_t *options, security_t *security,
                msg_t *request)
{
    int rc = 0;
    job_fields_t *fields = job_fields_new ();
    char err[512] = "out of memory";
    if (fields) {
        job_fields_set_str (fields, MSG_F_HANDLER, args->handler);
        job_fields_set_str (fields, MSG_F_SINK, args->sink? args->sink: DEFAULT_SINK);
        job_fields_set_str (fields, MSG_F_SINK_KEY, security_sink_key (security));
        job_fields_set_uint (fields, MSG_F_MAX_ATTEMPTS, args->max_attempts);
        job_fields_set_uint (fields, MSG_F_TIMEOUT_MS, args->timeout_ms);
    }
    if (fields && args->handler_options
    &&  job_fields_set_options (fields, args->handler_options, err, sizeof err))
        rc = options_usage_error (options, "--options", err);
    bool spec = args->spec.targets || args->spec.targets_file || args->spec.ports;
    if (rc == 0 && fields && spec) {
        msgpack_sbuffer buf;
        msgpack_sbuffer_init (&buf);
        uint64_t count;
        if (spec_option_map (&args->spec, &buf, &count, err, sizeof err)
        ||  job_fields_set_map (fields, MSG_F_SPEC, buf.data, buf.size))
            rc = options_usage_error (options, "the spec", err);
        msgpack_sbuffer_destroy (&buf);
    }
    if (rc == 0 && (!fields || job_fields_apply (fields, request))) {
        fprintf (stderr, "drover schedule: out of memory\n");
        rc = 1;
    }
    job_fields_destroy (&fields);
    return rc == 0 && !spec? s_read_tuples (args, request): rc;
}

//  The SCHEDULE request for the verb, or NULL after an error (*rc_p set).
static msg_t *
s_request (const schedule_args_t *args, const options_t *options, security_t *security,
           int *rc_p)
{
    msg_t *request = msg_new (MSG_SCHEDULE);
    *rc_p = request && !msg_set_str (request, MSG_F_OP, args->verb)? 0: 1;
    if (*rc_p == 0 && args->name)
        *rc_p = msg_set_str (request, MSG_F_SCHEDULE, args->name)? 1: 0;
    if (*rc_p == 0 && args->cron)
        *rc_p = msg_set_str (request, MSG_F_CRON, args->cron)? 1: 0;
    if (*rc_p == 0 && args->every_ms)
        *rc_p = msg_set_uint (request, MSG_F_EVERY_MS, args->every_ms)? 1: 0;
    if (*rc_p == 0 && !strcmp (args->verb, "add"))
        *rc_p = s_add_template (args, options, security, request);
    if (*rc_p)
        msg_destroy (&request);
    return request;
}

//  Seconds since the epoch as "2026-12-03 08:15:00", "-" if absent.
static const char *
s_utc (bool known, uint64_t t, char *buf, size_t size)
{
    time_t when = (time_t) t;
    struct tm tm;
    if (!known || !gmtime_r (&when, &tm))
        snprintf (buf, size, "-");
    else
        strftime (buf, size, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

static void
s_print (FILE *out, const broker_query_t *query, bool json)
{
    if (json) {
        views_json (out, query);
        return;
    }
    fprintf (out, "%-20s %-16s %-19s %-19s %s\n", "SCHEDULE", "WHEN", "NEXT RUN (UTC)",
             "LAST RUN (UTC)", "LAST JOB");
    for (size_t i = 0; i < broker_query_count (query); i++) {
        const msgpack_object *e = broker_query_entry (query, i);
        char name[256], when[128], job[300], next[32], last[32];
        uint64_t every_ms, next_run, last_run;
        if (broker_query_uint (e, "every_ms", &every_ms))
            snprintf (when, sizeof when, "every %" PRIu64 "s", every_ms / 1000);
        else
            broker_query_str (e, "cron", when, sizeof when);
        bool has_next = broker_query_uint (e, "next_run", &next_run);
        bool has_last = broker_query_uint (e, "last_run", &last_run);
        broker_query_str (e, "last_job", job, sizeof job);
        broker_query_str (e, "schedule", name, sizeof name);
        for (char *p = name; *p; p++)       //  no bytes a terminal would act on
            if ((unsigned char) *p < 0x20 || *p == 0x7f)
                *p = '?';
        fprintf (out, "%-20s %-16s %-19s %-19s %s\n", name, when,
                 s_utc (has_next, next_run, next, sizeof next),
                 s_utc (has_last, last_run, last, sizeof last), *job? job: "-");
    }
}

static int
s_check_add (const schedule_args_t *args, const options_t *options)
{
    bool spec = args->spec.targets || args->spec.targets_file || args->spec.ports;
    if (!args->cron == !args->every_ms)
        return options_usage_error (options, "give --cron EXPR or --every DURATION, one", NULL);
    if (args->every_ms % 1000)
        return options_usage_error (options, "--every is whole seconds", NULL);
    if (!args->handler)
        return options_usage_error (options, "a schedule's jobs need --handler", NULL);
    if (spec == (args->input != NULL))
        return options_usage_error (options, spec? "a spec job reads no tuples"
                                    : "give the tuples (FILE, '-' for stdin) or a spec "
                                      "(--targets, --ports)", args->input);
    return 0;
}

static int
s_run (void *args_v, const options_t *options)
{
    schedule_args_t *args = args_v;
    if (strcmp (args->verb, "list") && !args->name)
        return options_usage_error (options, "which schedule? name it", NULL);
    int rc = !strcmp (args->verb, "add")? s_check_add (args, options): 0;
    if (rc)
        return rc;
    log_init ("schedule", (log_level_t) log_level_parse (args->log_level));
    security_t *security = NULL;
    rc = security_new (SECURITY_PRODUCER, &args->security, options, &security);
    msg_t *request = rc? NULL: s_request (args, options, security, &rc);
    broker_query_t *query = request?
        broker_query_new (args->broker, security_keys (security), security_broker_key (security),
                          (int) args->reply_timeout_ms): NULL;
    if (request && !query)
        rc = options_usage_error (options, "not a valid broker endpoint", args->broker);
    if (rc == 0 && broker_query_ask_list (query, &request)) {
        fprintf (stderr, "drover schedule %s: %s\n", args->verb, broker_query_error (query));
        rc = 1;
    }
    else
    if (rc == 0 && !strcmp (args->verb, "list"))
        s_print (stdout, query, args->json);
    else
    if (rc == 0)
        printf ("schedule %s %s\n", args->name, !strcmp (args->verb, "add")? "added": "removed");
    msg_destroy (&request);
    broker_query_destroy (&query);
    security_destroy (&security);
    return rc;
}

int
cmd_schedule (int argc, char **argv)
{
    const char *verb = argc > 1? argv[1]: "";
    const options_spec_t *spec = !strcmp (verb, "add")? &s_add_spec
                               : !strcmp (verb, "list")? &s_list_spec
                               : !strcmp (verb, "rm")? &s_rm_spec: NULL;
    if (!spec) {
        bool help = !strcmp (verb, "--help") || !strcmp (verb, "-h");
        fprintf (help? stdout: stderr,
                 "usage: drover schedule add|list|rm [OPTIONS] ...\n\n"
                 "Recurring jobs the broker keeps: `drover schedule VERB --help` for each.\n"
                 "  add NAME --cron EXPR|--every DURATION -H HANDLER FILE|--targets ...\n"
                 "  list [--json]\n"
                 "  rm NAME\n");
        return help? 0: 2;
    }
    schedule_args_t args = { .verb = verb, .broker = DEFAULT_BROKER, .format = "json",
                             .reply_timeout_ms = PRODUCER_REPLY_TIMEOUT, .log_level = "warn" };
    return options_main (spec, &args, argc - 1, argv + 1, s_run);
}
