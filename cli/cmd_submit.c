//  cmd_submit.c -- `drover submit`: read tuples (JSON Lines or a msgpack
//  stream) from a file or stdin, send them to the broker in batches through
//  libdrover's producer (include/drover/drover.h, its public API and nothing
//  else), close the job, and with --wait follow it to completion with a
//  progress line.  Options: the table below; those that add to the job's
//  options (--abort-after, --each, --priority, --delay, --not-before) are
//  job_flags.h's.
#include <drover/drover.h>

#include <czmq.h>
#include "cli/commands.h"
#include "cli/job_flags.h"
#include "cli/options.h"
#include "cli/security.h"
#include "cli/spec_option.h"
#include "common/log.h"
#include "common/msgpack_map.h"
#include "producer/tuple_input.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_BROKER      "tcp://127.0.0.1:5555"
#define DEFAULT_SINK        "tcp://127.0.0.1:5558"
#define DEFAULT_BATCH_SIZE  DROVER_BATCH_TUPLES_DEFAULT
#define BATCH_BYTES_MAX     DROVER_BATCH_BYTES_DEFAULT   //  well under the broker's 64 MiB
#define IDLE_MS             100     //  input pause after which a batch goes out
#define STR(x)              #x
#define XSTR(x)             STR (x)

typedef struct {
    const char *broker;
    const char *job;
    const char *handler;
    const char *sink;
    const char *format;
    const char *input;
    uint64_t max_attempts;          //  0: the broker's
    uint64_t timeout_ms;            //  0: the broker's
    job_flags_t job_flags;          //  --options and the flags that add to it
    uint64_t batch_size;
    uint64_t window;
    uint32_t reply_timeout_ms;
    bool no_close;
    bool deps;                      //  lines are {"tuple": T, "after": [...]}
    bool per_tuple;                 //  lines are {"tuple": T, "priority": N, ...}
    bool wait;
    bool quiet;
    security_options_t security;
    spec_source_t spec;             //  --targets and the rest: a spec job
    const char *log_level;
} submit_args_t;

#define AT(field) OPTION_AT (submit_args_t, field)

static const char *const s_formats[] = { "json", "msgpack", NULL };

static const option_t s_options[] = {
    { "broker", 'b', OPTION_STRING, AT (broker), "ENDPOINT", .help = "broker frontend" },
    { "job", 'j', OPTION_STRING, AT (job), "NAME",
      .default_text = "a new name, job-<unix time>-<4 hex>", .help = "job to create or add to" },
    { "handler", 'H', OPTION_STRING, AT (handler), "NAME",
      .help = "handler that runs the tuples; needed for a new job (without it, tuples go "
              "to the existing job --job)" },
    { "sink", 's', OPTION_STRING, AT (sink), "ENDPOINT",
      .default_text = DEFAULT_SINK " with --handler",
      .help = "sink for the results, sent with --handler" },
    { "options", 'o', OPTION_STRING, AT (job_flags.options), "JSON",
      .help = "handler options, a JSON object" },
    { "max-attempts", 0, OPTION_NUMBER, AT (max_attempts), "N", 1, UINT32_MAX,
      .default_text = "the broker's, 3", .help = "runs of a tuple before it is a dead letter" },
    { "timeout-ms", 0, OPTION_NUMBER, AT (timeout_ms), "N", 1, UINT32_MAX,
      .default_text = "the broker's, 30000", .help = "handler timeout per tuple" },
    { "abort-after", 0, OPTION_NUMBER, AT (job_flags.abort_after), "N", 1, UINT32_MAX,
      .help = "abort the job once N of its tuples failed for good: its queued tuples "
              "are then stored as aborted, never run (the option abort_after)" },
    { "each", 0, OPTION_STRING, AT (job_flags.each), "LABEL",
      .help = "run every tuple once per value of agent label LABEL among the agents "
              "connected (and fitting \"requires\") when the job is created, as jobs "
              "NAME@LABEL=VALUE (the option each; docs/campaigns.md)" },
    { "priority", 0, OPTION_NUMBER, AT (job_flags.priority), "N", 0, 9, .default_text = "5",
      .help = "the job's priority, 0 to 9: higher levels run first; lower ones still get "
              "1 tuple in 16 while higher ones wait (the option priority)" },
    { "delay", 0, OPTION_DURATION, AT (job_flags.delay_ms), "DURATION", 1, 366ULL * 86400000,
      .default_text = "none",
      .help = "run none of the job's tuples before this long from now (the option "
              "not_before, by this machine's clock)" },
    { "not-before", 0, OPTION_STRING, AT (job_flags.not_before), "TIME",
      .help = "run none of the job's tuples before TIME: seconds since the Unix epoch, "
              "or YYYY-MM-DDTHH:MM:SSZ (UTC)" },
    { "format", 'f', OPTION_CHOICE, AT (format), "FORMAT", .choices = s_formats,
      .help = "json (JSON Lines) or msgpack" },
    { "batch-size", 'n', OPTION_NUMBER, AT (batch_size), "N", 1, DROVER_BATCH_TUPLES_MAX,
      .help = "tuples per SUBMIT" },
    { "window", 0, OPTION_NUMBER, AT (window), "N", 1, DROVER_WINDOW_MAX,
      .help = "SUBMITs in flight, 1-" XSTR (DROVER_WINDOW_MAX) },
    { "reply-timeout", 0, OPTION_DURATION, AT (reply_timeout_ms), "DURATION", 1, 86400000,
      .help = "give up when the broker has not answered (or, after the connection "
              "dropped, not come back) for this long" },
    { "no-close", 0, OPTION_BOOL, AT (no_close), .help = "leave the job open for more tuples" },
    { "deps", 0, OPTION_BOOL, AT (deps),
      .help = "each line is {\"tuple\": T, \"after\": [ID, \"JOB:ID\", ...]}: T runs once "
              "the tuples named are done (ids of this job: the Nth tuple of a new job is id "
              "N), and is stored as skipped if one failed; one SUBMIT in flight" },
    { "per-tuple", 0, OPTION_BOOL, AT (per_tuple),
      .help = "each line is {\"tuple\": T, \"priority\": N, \"not_before\": TIME, "
              "\"delay_ms\": MS}, all but tuple optional: T's own priority (0-9) and time "
              "(TIME as --not-before; delay_ms from now), instead of the job's" },
    { "wait", 'w', OPTION_BOOL, AT (wait),
      .help = "after submitting, show progress until the job is complete, then a summary" },
    { "quiet", 'q', OPTION_BOOL, AT (quiet), .help = "print nothing but errors" },
    { "sink-key", 0, OPTION_STRING, AT (security.sink_key), "KEY", .flags = OPTION_EMPTY_UNSET,
      .help = "the sink's public key, Z85 or its certificate file: agents seal results for "
              "it and reach the sink with CURVE" },
    { "targets", 't', OPTION_STRING, AT (spec.targets), "SPEC",
      .help = "scan targets instead of tuples: addresses, CIDR blocks, ranges, names "
              "(docs/campaigns.md); the broker expands targets x --ports" },
    { "targets-file", 0, OPTION_STRING, AT (spec.targets_file), "FILE",
      .help = "targets from a file, '#' comments" },
    { "ports", 'p', OPTION_STRING, AT (spec.ports), "SPEC",
      .help = "the ports of a spec job: 1-1024,8080, U:53, top100" },
    { "exclude", 0, OPTION_STRING, AT (spec.exclude), "SPEC",
      .help = "targets never to scan" },
    { "exclude-file", 0, OPTION_STRING, AT (spec.exclude_file), "FILE",
      .help = "targets never to scan, from a file" },
    { "exclude-ports", 0, OPTION_STRING, AT (spec.exclude_ports), "SPEC",
      .help = "ports never to scan, on any host" },
    SECURITY_PRODUCER_OPTIONS (submit_args_t),
    OPTION_LOG_LEVEL (submit_args_t, log_level),
    { "input", 0, OPTION_STRING, AT (input), "FILE", .flags = OPTION_POSITIONAL | OPTION_ARGV_ONLY,
      .default_text = "stdin", .help = "the tuples; '-' is stdin" },
};

static const options_spec_t s_spec = {
    .command = "submit",
    .usage = "[OPTIONS] [FILE|-]",
    .about =
        "Send tuples to a broker as a job.  Tuples are read from FILE, or stdin\n"
        "if FILE is '-' or missing, as JSON Lines (one JSON value per line,\n"
        "normally an array such as [\"10.0.0.7\", 443]; blank lines are skipped)\n"
        "or as a stream of concatenated msgpack values (--format msgpack).\n"
        "They go out in batches as they are read, several batches in flight (a\n"
        "batch also goes out when the input pauses for " XSTR (IDLE_MS) " ms, so tuples from a\n"
        "slow pipe do not wait for a full batch); a batch the broker answers\n"
        "QUEUE_FULL is sent again after its retry_ms.  When the connection to\n"
        "the broker drops and comes back (a broker restart), every batch not yet\n"
        "answered is sent again: SUBMIT is idempotent, so each tuple is accepted\n"
        "once.\n"
        "After the last tuple the job is closed, unless --no-close.\n"
        "\n"
        "With --deps, tuples may wait on others (a job graph, docs/jobs.md):\n"
        "  {\"tuple\": [\"fetch\"], \"after\": []}        (id 1)\n"
        "  {\"tuple\": [\"build\"], \"after\": [1]}       (id 2, after 1)\n"
        "  {\"tuple\": [\"ship\"], \"after\": [2, \"other-job:7\"]}\n"
        "A tuple runs only once those it names are done (ok); if one failed or\n"
        "never ran, it is stored as skipped, and so are those after it.  The\n"
        "broker refuses ids its jobs do not have yet, and cycles.\n"
        "\n"
        "With --per-tuple, a tuple may have a priority or a time of its own:\n"
        "  {\"tuple\": [\"10.0.0.9\", 443], \"priority\": 9}\n"
        "  {\"tuple\": [\"10.0.0.7\", 22], \"delay_ms\": 600000}\n"
        "\n"
        "--priority puts the job's tuples before those of lower priorities (0-9,\n"
        "default 5; lower ones still get 1 tuple in 16); --delay or --not-before\n"
        "holds all of them until then (`drover status` counts them delayed), e.g.\n"
        "  drover submit -H tcp-probe --priority 8 --delay 30m hosts.jsonl\n"
        "\n"
        "With --targets (or --targets-file) and --ports no tuples are read: the\n"
        "job is a spec job, one SUBMIT, whose tuples [host, port] the broker\n"
        "makes as agents take them, in a shuffled order that spreads hosts,\n"
        "e.g.  drover submit -H tcp-probe --targets 10.20.0.0/16 --ports top100\n"
        "          --exclude 10.20.99.0/24 --wait\n",
    .notes =
        "On success it prints \"job NAME: N tuples accepted (ids A-B)\"; with --wait\n"
        "also \"job NAME complete: N done, M failed in S s (R tuples/s)\"; with\n"
        "--deps, \"N done (K skipped)\" when K of the N never ran because a\n"
        "dependency failed.\n"
        "\n"
        "A line that is not valid JSON (or a value that is not valid msgpack)\n"
        "stops the submit: every tuple before it is sent, nothing after it is\n"
        "read, the error names the line (or byte offset), the job is left open\n"
        "so the rest can be added with --job NAME, and the exit status is 1.\n"
        "\n"
        "exit status: 0 when every tuple was accepted (and, with --wait, the job\n"
        "completed: tuples that failed as dead letters are counted in the\n"
        "summary, not in the status); 1 on bad input, a refusal by the broker,\n"
        "no answer from it, or an interrupt; 2 on a usage error.\n",
    OPTIONS_TABLE (s_options),
};

//  "job-<unix time>-<4 hex digits>": unique enough for one person's runs.
static void
s_job_name (char *name, size_t size)
{
    uint16_t random = 0;
    if (getrandom (&random, sizeof random, GRND_NONBLOCK) != sizeof random)
        random = (uint16_t) (getpid () ^ clock ());
    snprintf (name, size, "job-%lld-%04x", (long long) time (NULL), random);
}

//  One input value with --deps: {"tuple": T, "after": [...]} ("after"
//  optional), added as T with its dependencies.  0, -1 if the producer
//  failed, or -2 with the reason in problem if the value has another shape.
static int
s_add_after (drover_producer_t *producer, const void *data, size_t size, uint64_t n,
             char *problem, size_t problem_size)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    int rc = -2;
    const msgpack_object *tuple = NULL, *after = NULL;
    if (msgpack_unpack_next (&unpacked, data, size, NULL) == MSGPACK_UNPACK_SUCCESS
    &&  unpacked.data.type == MSGPACK_OBJECT_MAP) {
        tuple = msgpack_map_find (&unpacked.data, "tuple");
        after = msgpack_map_find (&unpacked.data, "after");
    }
    if (!tuple || (after && after->type != MSGPACK_OBJECT_ARRAY))
        snprintf (problem, problem_size, "tuple %" PRIu64 ": with --deps, each value is "
                  "{\"tuple\": VALUE, \"after\": [ID or \"JOB:ID\", ...]}", n);
    else {
        msgpack_sbuffer t, a;
        msgpack_sbuffer_init (&t);
        msgpack_sbuffer_init (&a);
        msgpack_packer pt, pa;
        msgpack_packer_init (&pt, &t, msgpack_sbuffer_write);
        msgpack_packer_init (&pa, &a, msgpack_sbuffer_write);
        msgpack_pack_object (&pt, *tuple);
        if (after && after->via.array.size > 0)
            msgpack_pack_object (&pa, *after);
        rc = drover_producer_add_after (producer, t.data, t.size, a.size? a.data: NULL, a.size);
        msgpack_sbuffer_destroy (&t);
        msgpack_sbuffer_destroy (&a);
    }
    msgpack_unpacked_destroy (&unpacked);
    return rc;
}

//  A uint field of a --per-tuple object: true if it is absent (*value
//  untouched) or a uint up to max (into *value); false otherwise.
static bool
s_uint_field (const msgpack_object *object, const char *key, uint64_t max, uint64_t *value)
{
    const msgpack_object *field = msgpack_map_find (object, key);
    if (field && (field->type != MSGPACK_OBJECT_POSITIVE_INTEGER || field->via.u64 > max))
        return false;
    if (field)
        *value = field->via.u64;
    return true;
}

//  The first key of a --per-tuple object that is none of its four (a typo
//  would otherwise leave a tuple at the job's settings unsaid), or NULL.
static const char *
s_unknown_key (const msgpack_object *object, char *key, size_t size)
{
    static const char *known[] = { "tuple", "priority", "not_before", "delay_ms" };
    for (uint32_t i = 0; i < object->via.map.size; i++) {
        const msgpack_object *name = &object->via.map.ptr[i].key;
        bool found = false;
        for (size_t k = 0; name->type == MSGPACK_OBJECT_STR
                           && k < sizeof known / sizeof known[0] && !found; k++)
            found = strlen (known[k]) == name->via.str.size
                 && !memcmp (known[k], name->via.str.ptr, name->via.str.size);
        if (!found) {
            if (name->type == MSGPACK_OBJECT_STR)
                snprintf (key, size, "unknown key \"%.*s\"",
                          (int) (name->via.str.size < 32? name->via.str.size: 32),
                          name->via.str.ptr);
            else
                snprintf (key, size, "a key that is not a string");
            return key;
        }
    }
    return NULL;
}

//  A --per-tuple object's priority (-1 if none) and not_before (0 if none)
//  into *priority_p and *not_before_p.  NULL, or what is wrong (in wrong
//  or a constant).
static const char *
s_per_tuple_fields (const msgpack_object *object, int *priority_p, uint64_t *not_before_p,
                    char *wrong, size_t size)
{
    uint64_t priority = 0, delay_ms = 0, not_before = 0;
    bool has_priority = msgpack_map_find (object, "priority") != NULL;
    if (s_unknown_key (object, wrong, size))
        return wrong;
    if (!s_uint_field (object, "priority", 9, &priority))
        return "\"priority\" is not 0 to 9";
    if (!s_uint_field (object, "delay_ms", 366ULL * 86400000, &delay_ms))
        return "\"delay_ms\" is not a number of ms up to 366 days";
    const msgpack_object *time = msgpack_map_find (object, "not_before");
    if (time) {
        char text[64];
        if (time->type != MSGPACK_OBJECT_STR || time->via.str.size >= sizeof text)
            return "\"not_before\" is not a TIME string (seconds since the epoch, or "
                   "2026-12-05T09:00:00Z)";
        snprintf (text, sizeof text, "%.*s", (int) time->via.str.size, time->via.str.ptr);
        if (!(not_before = job_flags_time (text)))
            return "\"not_before\" is not a TIME (seconds since the epoch, or "
                   "2026-12-05T09:00:00Z)";
    }
    if (time && delay_ms)
        return "\"not_before\" and \"delay_ms\" both given: one of them";
    *priority_p = has_priority? (int) priority: -1;
    *not_before_p = delay_ms? (uint64_t) zclock_time () + delay_ms: not_before;
    return NULL;
}

//  One input value with --per-tuple: {"tuple": T, "priority": N,
//  "not_before": TIME, "delay_ms": MS}, added as T with its own settings.
//  0, -1 if the producer failed, or -2 with the reason in problem.
static int
s_add_with (drover_producer_t *producer, const void *data, size_t size, uint64_t n,
            char *problem, size_t problem_size)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *tuple = NULL;
    const char *wrong = "not an object with \"tuple\"";
    char why[64];
    int priority = -1;
    uint64_t not_before = 0;
    if (msgpack_unpack_next (&unpacked, data, size, NULL) == MSGPACK_UNPACK_SUCCESS
    &&  unpacked.data.type == MSGPACK_OBJECT_MAP
    &&  (tuple = msgpack_map_find (&unpacked.data, "tuple")))
        wrong = s_per_tuple_fields (&unpacked.data, &priority, &not_before, why, sizeof why);
    int rc = -2;
    if (wrong)
        snprintf (problem, problem_size, "tuple %" PRIu64 ": with --per-tuple, each value is "
                  "{\"tuple\": VALUE, \"priority\": N, \"not_before\": TIME, \"delay_ms\": MS}: "
                  "%s", n, wrong);
    else {
        msgpack_sbuffer t;
        msgpack_sbuffer_init (&t);
        msgpack_packer pt;
        msgpack_packer_init (&pt, &t, msgpack_sbuffer_write);
        msgpack_pack_object (&pt, *tuple);
        rc = drover_producer_add_with (producer, t.data, t.size, priority, not_before);
        msgpack_sbuffer_destroy (&t);
    }
    msgpack_unpacked_destroy (&unpacked);
    return rc;
}

//  Read tuples and add them to the producer, which sends them in batches,
//  until the input ends.  When it pauses for IDLE_MS with tuples added and
//  not sent (a pipe from a slow producer), they go out now rather than when
//  the batch fills.  Returns 0 or -1 (the producer failed); *input_rc_p
//  says how the input ended.
static int
s_pump (drover_producer_t *producer, tuple_input_t *input, const submit_args_t *args,
        tuple_input_rc_t *input_rc_p, char *problem, size_t problem_size)
{
    int rc = 0;
    bool waiting = false;           //  tuples added since the last flush
    uint64_t n = 0;
    while (rc == 0) {
        const void *data;
        size_t size;
        tuple_input_rc_t got = tuple_input_next (input, waiting? IDLE_MS: -1, &data, &size);
        *input_rc_p = got;
        if (got == TUPLE_INPUT_TUPLE) {
            n++;
            rc = args->deps? s_add_after (producer, data, size, n, problem, problem_size)
               : args->per_tuple? s_add_with (producer, data, size, n, problem, problem_size)
               : drover_producer_add (producer, data, size);
            waiting = true;
        }
        else
        if (got == TUPLE_INPUT_IDLE) {
            rc = drover_producer_flush (producer);
            waiting = false;
        }
        else
            break;
    }
    return rc;
}

//  Sleep up to ms, waking early on SIGINT/SIGTERM.
static void
s_nap (int ms)
{
    int64_t until = zclock_mono () + ms;
    while (!zsys_interrupted && zclock_mono () < until)
        usleep (20 * 1000);
}

//  "N done" and, where the job has them, how many of those never ran
//  (skipped: PROTOCOL.md counts them done) and how many tuples still
//  wait on dependencies: without them a job graph's line reads as if
//  every tuple done had run, or as if it had stalled.
static void
s_done_text (const drover_status_t *status, char *text, size_t size)
{
    int len = snprintf (text, size, "%" PRIu64 " done", status->done);
    if (status->skipped && len >= 0 && (size_t) len < size)
        len += snprintf (text + len, size - (size_t) len, " (%" PRIu64 " skipped)",
                         status->skipped);
    if (status->waiting && len >= 0 && (size_t) len < size)
        snprintf (text + len, size - (size_t) len, ", %" PRIu64 " waiting", status->waiting);
}

static void
s_progress (const char *job, const drover_status_t *status, double seconds, bool tty)
{
    uint64_t finished = status->done + status->failed;
    //  A spec job's tuples are queued as it goes: its total is the whole.
    uint64_t whole = status->total > status->submitted? status->total: status->submitted;
    double share = whole? (double) finished / (double) whole: 1.0;
    double rate = seconds > 0? finished / seconds: 0;
    char done[96];
    s_done_text (status, done, sizeof done);
    if (!tty) {
        fprintf (stderr, "job %s: %" PRIu64 "/%" PRIu64 " finished (%s, %" PRIu64 " failed), "
                 "%.1f%%, %.0f tuples/s\n", job, finished, whole, done, status->failed,
                 share * 100, rate);
        return;
    }
    char bar[25];
    size_t filled = (size_t) (share * (sizeof bar - 1));
    for (size_t i = 0; i < sizeof bar - 1; i++)
        bar[i] = i < filled? '#': '.';
    bar[sizeof bar - 1] = 0;
    fprintf (stderr, "\r[%s] %" PRIu64 "/%" PRIu64 " %5.1f%%  %s  %" PRIu64
             " failed  %.0f tuples/s\033[K", bar, finished, whole,
             share * 100, done, status->failed, rate);
    fflush (stderr);
}

//  Poll STATUS until the job is complete; progress on stderr, the summary
//  on stdout.  Dead letters do not make it fail: they are in the summary.
static int
s_wait (drover_producer_t *producer, const char *job, const submit_args_t *args, int64_t started)
{
    bool tty = !args->quiet && isatty (STDERR_FILENO);
    int64_t last_line = 0;
    drover_status_t status;
    while (true) {
        int rc = drover_producer_status (producer, job, &status);
        if (rc) {
            if (tty)
                fputc ('\n', stderr);
            fprintf (stderr, "drover submit: %s\n", drover_producer_error (producer));
            return 1;
        }
        //  A job cancelled or aborted is over once nothing runs or waits.
        bool complete = !strcmp (status.state, "complete")
                     || ((!strcmp (status.state, "cancelled") || !strcmp (status.state, "aborted"))
                         && status.queued == 0 && status.running == 0);
        int64_t now = zclock_mono ();
        if (!args->quiet && (tty || complete || now - last_line >= 1000)) {
            s_progress (job, &status, (now - started) / 1000.0, tty);
            last_line = now;
        }
        if (complete)
            break;
        s_nap (tty? 200: 250);
        if (zsys_interrupted) {
            if (tty)
                fputc ('\n', stderr);
            fprintf (stderr, "drover submit: interrupted; job %s goes on without us\n", job);
            return 1;
        }
    }
    if (tty)
        fputc ('\n', stderr);
    double seconds = (zclock_mono () - started) / 1000.0;
    uint64_t finished = status.done + status.failed;
    char done[96];
    s_done_text (&status, done, sizeof done);
    if (!args->quiet)
        printf ("job %s %s: %s, %" PRIu64 " failed in %.2f s (%.0f tuples/s)\n",
                job, status.state, done, status.failed, seconds, seconds > 0? finished / seconds: 0);
    return 0;
}

static void
s_print_accepted (FILE *out, drover_producer_t *producer, const char *job)
{
    uint64_t first, last;
    uint64_t accepted = drover_producer_accepted (producer, &first, &last);
    if (accepted)
        fprintf (out, "job %s: %" PRIu64 " tuples accepted (ids %" PRIu64 "-%" PRIu64 ")",
                 job, accepted, first, last);
    else
        fprintf (out, "job %s: 0 tuples accepted", job);
}

//  A spec job: one SUBMIT with the spec, no tuples.  Returns the exit code.
static int
s_submit_spec (drover_producer_t *producer, const submit_args_t *args, const char *job,
               const options_t *options)
{
    char err[512];
    uint64_t count = 0;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    int rc = spec_option_map (&args->spec, &buf, &count, err, sizeof err);
    if (rc == 0)
        rc = drover_producer_set_spec (producer, buf.data, buf.size);
    msgpack_sbuffer_destroy (&buf);
    if (rc)
        return options_usage_error (options, "the spec", err);
    if (drover_producer_close (producer)) {
        fprintf (stderr, "drover submit: %s\n", drover_producer_error (producer));
        return 1;
    }
    if (!args->quiet) {
        printf ("job %s: a spec of %" PRIu64 " tuples accepted (ids 1-%" PRIu64 ")\n",
                job, count, count);
        fflush (stdout);
    }
    return 0;
}

//  Read and send every tuple, then close the job.  Returns the exit code.
static int
s_submit (drover_producer_t *producer, const submit_args_t *args, const char *job,
          tuple_input_t *input)
{
    tuple_input_rc_t input_rc = TUPLE_INPUT_END;
    char shape[256] = "";
    int rc = s_pump (producer, input, args, &input_rc, shape, sizeof shape);
    //  What was read before bad input is sent too: "every line before it".
    if ((rc == 0 || *shape) && input_rc != TUPLE_INPUT_INTERRUPTED)
        rc = drover_producer_flush (producer);
    if (rc == 0 && !*shape && input_rc == TUPLE_INPUT_END && !args->no_close)
        rc = drover_producer_close (producer);

    const char *problem = *shape? shape
                        : input_rc == TUPLE_INPUT_ERROR? tuple_input_error (input)
                        : input_rc == TUPLE_INPUT_INTERRUPTED || zsys_interrupted? "interrupted"
                        : rc? drover_producer_error (producer): NULL;
    if (!problem) {
        if (!args->quiet) {
            s_print_accepted (stdout, producer, job);
            printf ("%s\n", args->no_close? "; the job stays open": "");
            fflush (stdout);
        }
        return 0;
    }
    fprintf (stderr, "drover submit: %s\n", problem);
    int refused = drover_producer_refused (producer);
    if (refused == DROVER_E_UNKNOWN_JOB)
        fprintf (stderr, "drover submit: job %s does not exist; a new job needs --handler\n", job);
    fprintf (stderr, "drover submit: stopped; ");
    s_print_accepted (stderr, producer, job);
    bool open = drover_producer_accepted (producer, NULL, NULL) && !refused;
    fprintf (stderr, "%s\n", open? "; the job is left open": "");
    return 1;
}

//  A producer for the broker with the job's fields set.  NULL after a usage
//  error (*rc_p 2) or a failure (*rc_p 1), printed.
static drover_producer_t *
s_producer (const submit_args_t *args, const options_t *options, const char *job, int *rc_p)
{
    security_t *security = NULL;
    *rc_p = security_new (SECURITY_PRODUCER, &args->security, options, &security);
    if (*rc_p)
        return NULL;
    drover_producer_t *producer = security_producer_new (security, args->broker);
    char err[512];
    char json[64 * 1024];
    const char *handler_options, *flag, *problem;
    if (!producer)
        *rc_p = options_usage_error (options, "not a valid broker endpoint", args->broker);
    else
    if (job_flags_options (&args->job_flags, json, sizeof json, &handler_options,
                           &flag, &problem)) {
        *rc_p = options_usage_error (options, flag, problem);
        drover_producer_destroy (&producer);
    }
    else
    if (handler_options
    &&  drover_producer_set_options (producer, handler_options, err, sizeof err)) {
        *rc_p = options_usage_error (options, "--options", err);
        drover_producer_destroy (&producer);
    }
    if (producer) {
        drover_producer_set_job (producer, job);
        drover_producer_set_handler (producer, args->handler);
        drover_producer_set_sink (producer, args->sink);
        if (security_sink_key (security))
            drover_producer_set_sink_key (producer, security_sink_key (security));
        drover_producer_set_max_attempts (producer, args->max_attempts);
        drover_producer_set_timeout_ms (producer, args->timeout_ms);
        //  The option table holds each within the range these accept.  With
        //  --deps, one SUBMIT at a time: ids are given in the order batches
        //  are accepted, and the input names them.
        drover_producer_set_window (producer, args->deps? 1: args->window);
        drover_producer_set_reply_timeout (producer, (int) args->reply_timeout_ms);
        drover_producer_set_batch (producer, args->batch_size, BATCH_BYTES_MAX);
    }
    security_destroy (&security);   //  the DEALER holds what it needs
    return producer;
}

//  The input's file descriptor: FILE, or stdin.  -1 after an error, printed.
static int
s_open_input (const submit_args_t *args)
{
    if (!args->input || !strcmp (args->input, "-")) {
        if (isatty (STDIN_FILENO) && !args->quiet)
            fprintf (stderr, "drover submit: reading tuples from the terminal; end with Ctrl-D\n");
        return STDIN_FILENO;
    }
    int fd = open (args->input, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        fprintf (stderr, "drover submit: cannot open %s: %s\n", args->input, strerror (errno));
    return fd;
}

static int
s_run (void *args_v, const options_t *options)
{
    submit_args_t *args = args_v;
    if (!args->job && !args->handler)
        return options_usage_error (options, "a new job needs --handler (or name an "
                                    "existing job with --job)", NULL);
    //  The default sink goes only with a handler, that is with a new job: a
    //  SUBMIT that adds to a job must not name a sink unless told to.
    if (!args->sink && args->handler)
        args->sink = DEFAULT_SINK;
    //  PROTOCOL.md 13.3: tuples with settings of their own wait in the
    //  queue's levels, which a graph's, a spec's or an each job's do not.
    bool spec = args->spec.targets || args->spec.targets_file || args->spec.ports;
    if (args->per_tuple && (args->deps || spec || args->job_flags.each))
        return options_usage_error (options, "--per-tuple",
                                    args->deps? "not with --deps: a tuple that waits on others "
                                                "has no priority or time of its own"
                                    : spec? "not with a spec (--targets, --ports): its tuples "
                                            "are the broker's"
                                    : "not with --each: its tuples are copied into runs");
    log_init ("submit", (log_level_t) log_level_parse (args->log_level));
    char generated[64];
    const char *job = args->job;
    if (!job) {
        s_job_name (generated, sizeof generated);
        job = generated;
    }
    int rc;
    drover_producer_t *producer = s_producer (args, options, job, &rc);
    if (producer && spec) {
        if (args->input)
            rc = options_usage_error (options, "a spec job reads no tuples", args->input);
        else {
            int64_t started = zclock_mono ();
            rc = s_submit_spec (producer, args, job, options);
            if (rc == 0 && args->wait)
                rc = s_wait (producer, job, args, started);
        }
        drover_producer_destroy (&producer);
        return rc;
    }
    int fd = producer? s_open_input (args): -1;
    tuple_input_t *input = NULL;
    if (fd >= 0) {
        input = tuple_input_new (fd, fd == STDIN_FILENO? "stdin": args->input,
                                 strcmp (args->format, "msgpack")? TUPLE_INPUT_JSON
                                                                 : TUPLE_INPUT_MSGPACK);
        if (!input)
            fprintf (stderr, "drover submit: out of memory\n");
    }
    if (input) {
        //  stdout may be a pipe that goes away; report EPIPE rather than die.
        signal (SIGPIPE, SIG_IGN);
        int64_t started = zclock_mono ();
        rc = s_submit (producer, args, job, input);
        if (rc == 0 && args->wait) {
            if (args->no_close && !args->quiet)
                fprintf (stderr, "drover submit: waiting for job %s, which is left open:"
                         " it completes only once someone closes it\n", job);
            rc = s_wait (producer, job, args, started);
        }
    }
    else
    if (producer)
        rc = 1;
    tuple_input_destroy (&input);
    if (fd > STDIN_FILENO)
        close (fd);
    drover_producer_destroy (&producer);
    return rc;
}

int
cmd_submit (int argc, char **argv)
{
    submit_args_t args = {
        .broker = DEFAULT_BROKER, .format = "json", .batch_size = DEFAULT_BATCH_SIZE,
        .window = DROVER_WINDOW_DEFAULT, .reply_timeout_ms = DROVER_REPLY_TIMEOUT_DEFAULT,
        .log_level = "warn", .job_flags.priority = -1,
    };
    return options_main (&s_spec, &args, argc, argv, s_run);
}
