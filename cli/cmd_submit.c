//  cmd_submit.c -- `drover submit`: read tuples (JSON Lines or a msgpack
//  stream) from a file or stdin, send them to the broker in batches through
//  a producer (producer/producer.h), close the job, and with --wait follow it
//  to completion with a progress line.
#include "cli/commands.h"
#include "cli/flags.h"
#include "producer/producer.h"
#include "producer/tuple_input.h"

#include <czmq.h>
#include "common/curve.h"
#include "common/log.h"
#include "proto/msg.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_BROKER      "tcp://127.0.0.1:5555"
#define DEFAULT_SINK        "tcp://127.0.0.1:5558"
#define DEFAULT_BATCH_SIZE  1000
#define BATCH_BYTES_MAX     (8 * 1024 * 1024)   //  well under the broker's 64 MiB
#define IDLE_MS             100     //  input pause after which a batch goes out

typedef struct {
    const char *broker;
    const char *job;
    const char *handler;
    const char *sink;
    const char *sink_key;
    const char *cert;
    const char *broker_key;
    const char *options;
    const char *format;
    const char *input;
    uint64_t max_attempts;
    uint64_t timeout_ms;
    uint64_t batch_size;
    uint64_t window;
    double reply_timeout;           //  seconds
    bool no_close;
    bool wait;
    bool quiet;
    bool insecure;
    bool insecure_flag;             //  --insecure on the command line
    log_level_t level;
} submit_args_t;

//  The batch being filled from the input.
typedef struct {
    producer_t *producer;
    const submit_args_t *args;
    zmsg_t *batch;
    size_t batch_bytes;
} batcher_t;

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: drover submit [OPTIONS] [FILE|-]\n"
        "\n"
        "Send tuples to a broker as a job.  Tuples are read from FILE, or stdin\n"
        "if FILE is '-' or missing, as JSON Lines (one JSON value per line,\n"
        "normally an array such as [\"10.0.0.7\", 443]; blank lines are skipped)\n"
        "or as a stream of concatenated msgpack values (--format msgpack).\n"
        "They go out in batches as they are read, several batches in flight (a\n"
        "batch also goes out when the input pauses for %d ms, so tuples from a\n"
        "slow pipe do not wait for a full batch); a batch the broker answers\n"
        "QUEUE_FULL is sent again after its retry_ms.\n"
        "After the last tuple the job is closed, unless --no-close.\n"
        "\n"
        "options (each flag's default comes from the environment variable shown):\n"
        "  -b, --broker ENDPOINT   broker frontend                          DROVER_BROKER\n"
        "                          (default tcp://127.0.0.1:5555)\n"
        "  -j, --job NAME          job to create or add to (default a       DROVER_JOB\n"
        "                          new name, job-<unix time>-<4 hex>)\n"
        "  -H, --handler NAME      handler that runs the tuples; needed     DROVER_HANDLER\n"
        "                          for a new job (without it, tuples go\n"
        "                          to the existing job --job)\n"
        "  -s, --sink ENDPOINT     sink for the results, sent with          DROVER_SINK\n"
        "                          --handler (default tcp://127.0.0.1:5558)\n"
        "  -o, --options JSON      handler options, a JSON object           DROVER_OPTIONS\n"
        "      --max-attempts N    runs of a tuple before it is a dead      DROVER_MAX_ATTEMPTS\n"
        "                          letter (default: the broker's, 3)\n"
        "      --timeout-ms N      handler timeout per tuple (default:      DROVER_TIMEOUT_MS\n"
        "                          the broker's, 30000)\n"
        "  -f, --format FORMAT     json (JSON Lines, default) or msgpack    DROVER_FORMAT\n"
        "  -n, --batch-size N      tuples per SUBMIT (default 1000)         DROVER_BATCH_SIZE\n"
        "      --window N          SUBMITs in flight, 1-64 (default 8)      DROVER_WINDOW\n"
        "      --reply-timeout S   give up when the broker has not          DROVER_REPLY_TIMEOUT\n"
        "                          answered for S seconds (default 10)\n"
        "      --no-close          leave the job open for more tuples       DROVER_NO_CLOSE=1\n"
        "  -w, --wait              after submitting, show progress until    DROVER_WAIT=1\n"
        "                          the job is complete, then a summary\n"
        "  -q, --quiet             print nothing but errors                 DROVER_QUIET=1\n"
        "      --sink-key KEY      the sink's public key, Z85 or its        DROVER_SINK_KEY\n"
        "                          certificate file: agents seal results for\n"
        "                          it and reach the sink with CURVE\n"
        "      --cert PATH         our keypair (from drover keygen): talk   DROVER_CERT\n"
        "                          CURVE to the broker (or DROVER_SECRET_KEY, Z85)\n"
        "      --broker-key KEY    the broker's public key, Z85 or its      DROVER_BROKER_KEY\n"
        "                          certificate file; needed with a keypair\n"
        "      --insecure          without a keypair, talk plain text to    DROVER_INSECURE=1\n"
        "                          the broker (a keypair given is still used)\n"
        "      --log-level LEVEL   debug, info, warn or error               DROVER_LOG_LEVEL\n"
        "                          (default warn)\n"
        "  -h, --help              this help\n"
        "\n"
        "On success it prints \"job NAME: N tuples accepted (ids A-B)\"; with --wait\n"
        "also \"job NAME complete: N done, M failed in S s (R tuples/s)\".\n"
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
        IDLE_MS);
}

//  CURVE to the broker (opt-in) and the sink's key in Z85 (sink_key gets
//  "" without one).  0, or -EINVAL with a line in err.
static int
s_keys (const submit_args_t *args, keys_t **keys_p, uint8_t broker_public[KEYS_KEY_SIZE],
        char sink_key[KEYS_Z85_SIZE + 1], char *err, size_t errlen)
{
    if (args->sink_key && *args->sink_key) {
        uint8_t key[KEYS_KEY_SIZE];
        char inner[256];
        if (keys_peer_public (args->sink_key, key, inner, sizeof inner)) {
            snprintf (err, errlen, "--sink-key: %s", inner);
            return -EINVAL;
        }
        zmq_z85_encode (sink_key, key, KEYS_KEY_SIZE);
    }
    int rc = producer_client_keys (args->cert, args->broker_key, keys_p, broker_public,
                                   err, errlen);
    //  Secure by default: no keypair at all needs --insecure (curve_own_keys
    //  words the error: it names --cert, the environment and --insecure).
    if (rc == 0 && !*keys_p && !args->insecure)
        rc = curve_own_keys (NULL, false, keys_p, err, errlen);
    //  A warning for --insecure typed on the command line; DROVER_INSECURE=1
    //  set once for a shell or a script gets the note at info level, so
    //  stderr stays the command's own (the broker warns anyway).
    if (rc == 0 && !*keys_p)
        log_write (args->insecure_flag? LOG_LEVEL_WARN: LOG_LEVEL_INFO,
                   "submit: --insecure and no keypair: traffic to the broker is "
                   "unauthenticated and unencrypted");
    return rc;
}

//  Defaults from the environment, then the flags.  Returns -1 to go on,
//  or the exit code (help, usage error).
static int
s_parse_args (int argc, char **argv, submit_args_t *args)
{
    enum { OPT_MAX_ATTEMPTS = 256, OPT_TIMEOUT_MS, OPT_WINDOW, OPT_REPLY_TIMEOUT,
           OPT_NO_CLOSE, OPT_LOG_LEVEL, OPT_SINK_KEY, OPT_CERT, OPT_BROKER_KEY,
           OPT_INSECURE };
    static const struct option options[] = {
        { "broker",        required_argument, NULL, 'b' },
        { "job",           required_argument, NULL, 'j' },
        { "handler",       required_argument, NULL, 'H' },
        { "sink",          required_argument, NULL, 's' },
        { "options",       required_argument, NULL, 'o' },
        { "max-attempts",  required_argument, NULL, OPT_MAX_ATTEMPTS },
        { "timeout-ms",    required_argument, NULL, OPT_TIMEOUT_MS },
        { "format",        required_argument, NULL, 'f' },
        { "batch-size",    required_argument, NULL, 'n' },
        { "window",        required_argument, NULL, OPT_WINDOW },
        { "reply-timeout", required_argument, NULL, OPT_REPLY_TIMEOUT },
        { "no-close",      no_argument,       NULL, OPT_NO_CLOSE },
        { "wait",          no_argument,       NULL, 'w' },
        { "quiet",         no_argument,       NULL, 'q' },
        { "log-level",     required_argument, NULL, OPT_LOG_LEVEL },
        { "sink-key",      required_argument, NULL, OPT_SINK_KEY },
        { "cert",          required_argument, NULL, OPT_CERT },
        { "broker-key",    required_argument, NULL, OPT_BROKER_KEY },
        { "insecure",      no_argument,       NULL, OPT_INSECURE },
        { "help",          no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *max_attempts = flags_env ("DROVER_MAX_ATTEMPTS");
    const char *timeout_ms = flags_env ("DROVER_TIMEOUT_MS");
    const char *batch_size = flags_env ("DROVER_BATCH_SIZE");
    const char *window = flags_env ("DROVER_WINDOW");
    const char *reply_timeout = flags_env ("DROVER_REPLY_TIMEOUT");
    const char *level = flags_env ("DROVER_LOG_LEVEL");
    const char *flags[] = { "DROVER_NO_CLOSE", "DROVER_WAIT", "DROVER_QUIET",
                            "DROVER_INSECURE" };
    bool *flag_values[] = { &args->no_close, &args->wait, &args->quiet, &args->insecure };
    for (int i = 0; i < 4; i++) {
        const char *value = flags_env (flags[i]);
        int parsed = value? flags_bool (value): 0;
        if (parsed < 0)
            return flags_usage_error ("submit", "environment variable must be 1 or 0", flags[i]);
        *flag_values[i] = parsed;
    }
    args->broker = flags_env ("DROVER_BROKER");
    args->job = flags_env ("DROVER_JOB");
    args->handler = flags_env ("DROVER_HANDLER");
    args->sink = flags_env ("DROVER_SINK");
    args->sink_key = flags_env ("DROVER_SINK_KEY");
    args->broker_key = flags_env ("DROVER_BROKER_KEY");
    args->cert = NULL;              //  DROVER_CERT: curve_own_keys reads it
    args->options = flags_env ("DROVER_OPTIONS");
    args->format = flags_env ("DROVER_FORMAT");

    opterr = 0;
    optind = 1;
    int opt;
    while ((opt = getopt_long (argc, argv, ":b:j:H:s:o:f:n:wqh", options, NULL)) != -1) {
        switch (opt) {
            case 'b': args->broker = optarg; break;
            case 'j': args->job = optarg; break;
            case 'H': args->handler = optarg; break;
            case 's': args->sink = optarg; break;
            case 'o': args->options = optarg; break;
            case 'f': args->format = optarg; break;
            case 'n': batch_size = optarg; break;
            case 'w': args->wait = true; break;
            case 'q': args->quiet = true; break;
            case OPT_MAX_ATTEMPTS: max_attempts = optarg; break;
            case OPT_TIMEOUT_MS: timeout_ms = optarg; break;
            case OPT_WINDOW: window = optarg; break;
            case OPT_REPLY_TIMEOUT: reply_timeout = optarg; break;
            case OPT_NO_CLOSE: args->no_close = true; break;
            case OPT_LOG_LEVEL: level = optarg; break;
            case OPT_SINK_KEY: args->sink_key = optarg; break;
            case OPT_CERT: args->cert = optarg; break;
            case OPT_BROKER_KEY: args->broker_key = optarg; break;
            case OPT_INSECURE: args->insecure = args->insecure_flag = true; break;
            case 'h': s_usage (stdout); return 0;
            case ':': return flags_usage_error ("submit", "option needs a value", argv[optind - 1]);
            default:  return flags_usage_error ("submit", "unknown option", argv[optind - 1]);
        }
    }
    if (optind < argc)
        args->input = argv[optind++];
    if (optind < argc)
        return flags_usage_error ("submit", "one input file at most; unexpected argument", argv[optind]);

    args->batch_size = DEFAULT_BATCH_SIZE;
    args->window = PRODUCER_WINDOW;
    args->reply_timeout = PRODUCER_REPLY_TIMEOUT / 1000.0;
    if (max_attempts && flags_number (max_attempts, 1, UINT32_MAX, false, &args->max_attempts))
        return flags_usage_error ("submit", "--max-attempts must be a whole number >= 1", max_attempts);
    if (timeout_ms && flags_number (timeout_ms, 1, UINT32_MAX, false, &args->timeout_ms))
        return flags_usage_error ("submit", "--timeout-ms must be a whole number >= 1", timeout_ms);
    if (batch_size && flags_number (batch_size, 1, 100000, false, &args->batch_size))
        return flags_usage_error ("submit", "--batch-size must be 1-100000", batch_size);
    if (window && flags_number (window, 1, PRODUCER_WINDOW_MAX, false, &args->window))
        return flags_usage_error ("submit", "--window must be 1-64", window);
    if (reply_timeout) {
        char *end;
        args->reply_timeout = strtod (reply_timeout, &end);
        if (*end || !(args->reply_timeout >= 0.001 && args->reply_timeout <= 86400))
            return flags_usage_error ("submit", "--reply-timeout must be seconds, 0.001-86400", reply_timeout);
    }
    int parsed_level = level? log_level_parse (level): LOG_LEVEL_WARN;
    if (parsed_level < 0)
        return flags_usage_error ("submit", "log level must be debug, info, warn or error", level);
    args->level = (log_level_t) parsed_level;
    if (!args->format)
        args->format = "json";
    if (strcmp (args->format, "json") && strcmp (args->format, "msgpack"))
        return flags_usage_error ("submit", "--format must be json or msgpack", args->format);
    if (!args->job && !args->handler)
        return flags_usage_error ("submit", "a new job needs --handler (or name an existing job"
                              " with --job)", NULL);
    if ((args->job && !*args->job) || (args->handler && !*args->handler))
        return flags_usage_error ("submit", "--job and --handler must not be empty", NULL);
    if (!args->broker)
        args->broker = DEFAULT_BROKER;
    //  The default sink goes only with a handler, that is with a new job: a
    //  SUBMIT that adds to a job must not name a sink unless told to.
    if (!args->sink && args->handler)
        args->sink = DEFAULT_SINK;
    return -1;
}

//  "job-<unix time>-<4 hex digits>": unique enough for one person's runs.
static void
s_job_name (char *name, size_t size)
{
    uint16_t random = 0;
    if (getrandom (&random, sizeof random, GRND_NONBLOCK) != sizeof random)
        random = (uint16_t) (getpid () ^ clock ());
    snprintf (name, size, "job-%lld-%04x", (long long) time (NULL), random);
}

//  Send the batch at hand, if any.
static int
s_send_batch (batcher_t *self)
{
    if (!self->batch || zmsg_size (self->batch) == 0)
        return 0;
    self->batch_bytes = 0;
    return producer_submit (self->producer, &self->batch);
}

//  Queue one tuple; send the batch when it is full.
static int
s_add_tuple (batcher_t *self, const void *data, size_t size)
{
    if (!self->batch)
        self->batch = zmsg_new ();
    if (!self->batch || zmsg_addmem (self->batch, data, size) != 0)
        return -ENOMEM;
    self->batch_bytes += size;
    if (zmsg_size (self->batch) >= self->args->batch_size
    ||  self->batch_bytes >= BATCH_BYTES_MAX)
        return s_send_batch (self);
    return 0;
}

//  Read tuples and send them in batches until the input ends.  When it
//  pauses for IDLE_MS with tuples waiting (a pipe from a slow producer),
//  they go out now rather than when the batch fills.  Returns 0 or the
//  producer's error; *input_rc_p says how the input ended.
static int
s_pump (batcher_t *self, tuple_input_t *input, tuple_input_rc_t *input_rc_p)
{
    int rc = 0;
    while (rc == 0) {
        bool waiting = self->batch && zmsg_size (self->batch) > 0;
        const void *data;
        size_t size;
        tuple_input_rc_t got = tuple_input_next (input, waiting? IDLE_MS: -1, &data, &size);
        *input_rc_p = got;
        if (got == TUPLE_INPUT_TUPLE)
            rc = s_add_tuple (self, data, size);
        else
        if (got == TUPLE_INPUT_IDLE) {
            rc = s_send_batch (self);
            if (rc == 0)
                rc = producer_flush (self->producer);
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

static void
s_progress (const char *job, const producer_status_t *status, double seconds, bool tty)
{
    uint64_t finished = status->done + status->failed;
    double share = status->submitted? (double) finished / (double) status->submitted: 1.0;
    double rate = seconds > 0? finished / seconds: 0;
    if (!tty) {
        fprintf (stderr, "job %s: %" PRIu64 "/%" PRIu64 " finished (%" PRIu64 " done, %"
                 PRIu64 " failed), %.1f%%, %.0f tuples/s\n", job, finished,
                 status->submitted, status->done, status->failed, share * 100, rate);
        return;
    }
    char bar[25];
    size_t filled = (size_t) (share * (sizeof bar - 1));
    for (size_t i = 0; i < sizeof bar - 1; i++)
        bar[i] = i < filled? '#': '.';
    bar[sizeof bar - 1] = 0;
    fprintf (stderr, "\r[%s] %" PRIu64 "/%" PRIu64 " %5.1f%%  %" PRIu64 " done  %" PRIu64
             " failed  %.0f tuples/s\033[K", bar, finished, status->submitted,
             share * 100, status->done, status->failed, rate);
    fflush (stderr);
}

//  Poll STATUS until the job is complete; progress on stderr, the summary
//  on stdout.  Dead letters do not make it fail: they are in the summary.
static int
s_wait (producer_t *producer, const char *job, const submit_args_t *args, int64_t started)
{
    bool tty = !args->quiet && isatty (STDERR_FILENO);
    int64_t last_line = 0;
    producer_status_t status;
    while (true) {
        int rc = producer_status (producer, job, &status);
        if (rc) {
            if (tty)
                fputc ('\n', stderr);
            fprintf (stderr, "drover submit: %s\n", producer_error (producer));
            return 1;
        }
        bool complete = !strcmp (status.state, "complete");
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
    if (!args->quiet)
        printf ("job %s complete: %" PRIu64 " done, %" PRIu64 " failed in %.2f s (%.0f tuples/s)\n",
                job, status.done, status.failed, seconds, seconds > 0? finished / seconds: 0);
    return 0;
}

static void
s_print_accepted (FILE *out, producer_t *producer, const char *job)
{
    uint64_t first, last;
    uint64_t accepted = producer_accepted (producer, &first, &last);
    if (accepted)
        fprintf (out, "job %s: %" PRIu64 " tuples accepted (ids %" PRIu64 "-%" PRIu64 ")",
                 job, accepted, first, last);
    else
        fprintf (out, "job %s: 0 tuples accepted", job);
}

//  Read and send every tuple, then close the job.  Returns the exit code.
static int
s_submit (producer_t *producer, const submit_args_t *args, const char *job,
          tuple_input_t *input)
{
    batcher_t batcher = { .producer = producer, .args = args };
    tuple_input_rc_t input_rc = TUPLE_INPUT_END;
    int rc = s_pump (&batcher, input, &input_rc);
    //  What was read before bad input is sent too: "every line before it".
    if (rc == 0 && input_rc != TUPLE_INPUT_INTERRUPTED)
        rc = s_send_batch (&batcher);
    if (rc == 0)
        rc = producer_flush (producer);
    if (rc == 0 && input_rc == TUPLE_INPUT_END && !args->no_close)
        rc = producer_close (producer);
    zmsg_destroy (&batcher.batch);

    const char *problem = input_rc == TUPLE_INPUT_ERROR? tuple_input_error (input)
                        : input_rc == TUPLE_INPUT_INTERRUPTED || zsys_interrupted? "interrupted"
                        : rc == -ENOMEM && !producer_error (producer)[0]? "out of memory"
                        : rc? producer_error (producer): NULL;
    if (!problem) {
        if (!args->quiet) {
            s_print_accepted (stdout, producer, job);
            printf ("%s\n", args->no_close? "; the job stays open": "");
            fflush (stdout);
        }
        return 0;
    }
    fprintf (stderr, "drover submit: %s\n", problem);
    int refused = producer_refused (producer);
    if (refused == DRV_E_UNKNOWN_JOB)
        fprintf (stderr, "drover submit: job %s does not exist; a new job needs --handler\n", job);
    fprintf (stderr, "drover submit: stopped; ");
    s_print_accepted (stderr, producer, job);
    bool open = producer_accepted (producer, NULL, NULL) && !refused;
    fprintf (stderr, "%s\n", open? "; the job is left open": "");
    return 1;
}

int
cmd_submit (int argc, char **argv)
{
    submit_args_t args = { 0 };
    int rc = s_parse_args (argc, argv, &args);
    if (rc >= 0)
        return rc;
    log_init ("submit", args.level);
    char generated[64];
    const char *job = args.job;
    if (!job) {
        s_job_name (generated, sizeof generated);
        job = generated;
    }
    int fd = STDIN_FILENO;
    const char *name = "stdin";
    if (args.input && strcmp (args.input, "-")) {
        name = args.input;
        fd = open (name, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            fprintf (stderr, "drover submit: cannot open %s: %s\n", name, strerror (errno));
            return 1;
        }
    }
    else
    if (isatty (STDIN_FILENO) && !args.quiet)
        fprintf (stderr, "drover submit: reading tuples from the terminal; end with Ctrl-D\n");
    tuple_input_t *input = tuple_input_new (fd, name, strcmp (args.format, "msgpack")
                                            ? TUPLE_INPUT_JSON: TUPLE_INPUT_MSGPACK);
    if (!input) {
        if (fd != STDIN_FILENO)
            close (fd);
        fprintf (stderr, "drover submit: out of memory\n");
        return 1;
    }

    char err[512];
    char sink_key[KEYS_Z85_SIZE + 1] = "";
    keys_t *keys = NULL;
    uint8_t broker_public[KEYS_KEY_SIZE];
    if (s_keys (&args, &keys, broker_public, sink_key, err, sizeof err)) {
        tuple_input_destroy (&input);
        if (fd != STDIN_FILENO)
            close (fd);
        return flags_usage_error ("submit", err, NULL);
    }
    producer_t *producer = producer_new_curve (args.broker, keys, keys? broker_public: NULL);
    keys_destroy (&keys);           //  the DEALER holds what it needs
    if (!producer) {
        tuple_input_destroy (&input);
        if (fd != STDIN_FILENO)
            close (fd);
        return flags_usage_error ("submit", "not a valid broker endpoint", args.broker);
    }
    if (args.options && producer_set_options (producer, args.options, err, sizeof err)) {
        producer_destroy (&producer);
        tuple_input_destroy (&input);
        if (fd != STDIN_FILENO)
            close (fd);
        fprintf (stderr, "drover submit: --options: %s\ntry 'drover submit --help'\n", err);
        return 2;
    }
    producer_set_job (producer, job);
    producer_set_handler (producer, args.handler);
    producer_set_sink (producer, args.sink);
    if (*sink_key)
        producer_set_sink_key (producer, sink_key);
    producer_set_max_attempts (producer, args.max_attempts);
    producer_set_timeout_ms (producer, args.timeout_ms);
    producer_set_window (producer, args.window);
    producer_set_reply_timeout (producer, (int) (args.reply_timeout * 1000 + 0.5));
    //  stdout may be a pipe that goes away; report EPIPE rather than die.
    signal (SIGPIPE, SIG_IGN);

    int64_t started = zclock_mono ();
    rc = s_submit (producer, &args, job, input);
    if (rc == 0 && args.wait) {
        if (args.no_close && !args.quiet)
            fprintf (stderr, "drover submit: waiting for job %s, which is left open:"
                     " it completes only once someone closes it\n", job);
        rc = s_wait (producer, job, &args, started);
    }
    tuple_input_destroy (&input);
    if (fd != STDIN_FILENO)
        close (fd);
    producer_destroy (&producer);
    return rc;
}
