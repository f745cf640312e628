//  test_producer.c -- black-box tests of `drover submit` and `drover status`
//  against a real `drover broker` (and, for --wait, a real agent and sink),
//  plus the producer class (producer/producer.h) on its own against the broker:
//  pipelined batches, QUEUE_FULL and resend, refusals, no answer.
#include "producer/producer.h"
#include "proto/msg.h"
#include "proto/wire.h"
#include "support.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <msgpack.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define RUN_TIMEOUT_MS  30000

typedef struct {
    char *dir;
    char frontend[64];
    char intake[64];
    char backend[64];
    char sink[64];
    pid_t broker;
    pid_t agent;
    pid_t sink_pid;
} site_t;

typedef struct {
    int status;             //  wait status
    char *out;              //  stdout
    char *err;              //  stderr
    int64_t ms;             //  how long it ran
} run_t;

static void s_broker_start (site_t *site, const char *max_queued);

static void
s_site_start (site_t *site, const char *max_queued)
{
    memset (site, 0, sizeof *site);
    site->dir = support_tmpdir ();
    cr_assert (site->dir);
    snprintf (site->frontend, sizeof site->frontend, "%s", support_endpoint ());
    snprintf (site->intake, sizeof site->intake, "%s", support_endpoint ());
    snprintf (site->backend, sizeof site->backend, "%s", support_endpoint ());
    snprintf (site->sink, sizeof site->sink, "%s", support_endpoint ());
    s_broker_start (site, max_queued);
}

//  A broker on the site's endpoints and data directory: the same one again
//  after a restart.
static void
s_broker_start (site_t *site, const char *max_queued)
{
    char log[512], data[512];
    snprintf (log, sizeof log, "%s/broker.log", site->dir);
    snprintf (data, sizeof data, "%s/broker-data", site->dir);
    site->broker = max_queued
        ? support_spawn (log, "broker", "--frontend", site->frontend, "--intake",
                         site->intake, "--backend", site->backend, "--data-dir", data,
                         "--max-queued", max_queued, NULL)
        : support_spawn (log, "broker", "--frontend", site->frontend, "--intake",
                         site->intake, "--backend", site->backend, "--data-dir", data, NULL);
    cr_assert_gt (site->broker, 0);
}

//  A sink writing to DIR/results.jsonl and one agent, for --wait.
static void
s_site_start_workers (site_t *site)
{
    char log[512], output[512];
    snprintf (log, sizeof log, "%s/sink.log", site->dir);
    snprintf (output, sizeof output, "%s/results.jsonl", site->dir);
    site->sink_pid = support_spawn (log, "sink", "--bind", site->sink, "--output", output, NULL);
    snprintf (log, sizeof log, "%s/agent.log", site->dir);
    site->agent = support_spawn (log, "agent", "--broker", site->backend, "--name",
                                 "test-agent", "--threads", "4", NULL);
    cr_assert (site->sink_pid > 0 && site->agent > 0);
}

//  Each test runs in its own process: this is its site, which the .fini
//  fixture takes down even when an assertion ended the test early.
static site_t s_site;

static void
s_with_broker (void)
{
    s_site_start (&s_site, NULL);
}

static void
s_with_small_queue (void)
{
    s_site_start (&s_site, "2000");
}

static void
s_with_dir (void)
{
    memset (&s_site, 0, sizeof s_site);
    s_site.dir = support_tmpdir ();
    cr_assert (s_site.dir);
}

static void
s_cleanup (void)
{
    site_t *site = &s_site;
    if (site->agent > 0)
        cr_expect_eq (support_stop (site->agent, SIGTERM, 10000), 0, "agent exit");
    if (site->sink_pid > 0)
        cr_expect_eq (support_stop (site->sink_pid, SIGTERM, 10000), 0, "sink exit");
    if (site->broker > 0)
        cr_expect_eq (support_stop (site->broker, SIGTERM, 10000), 0,
                      "broker did not exit 0 on SIGTERM; log in %s", site->dir);
    support_rmdir (&site->dir);
}

//  Run `drover ARGV...` with stdin from in_path (or /dev/null); stdout and
//  stderr captured apart.  Never hangs: killed after RUN_TIMEOUT_MS.
static run_t
s_run (site_t *site, const char *in_path, char *const argv[])
{
    char out_path[512], err_path[512];
    snprintf (out_path, sizeof out_path, "%s/run.out", site->dir);
    snprintf (err_path, sizeof err_path, "%s/run.err", site->dir);
    size_t argc = 0;
    while (argv[argc])
        argc++;
    char **full = calloc (argc + 2, sizeof (char *));
    full[0] = (char *) DROVER_BIN;
    memcpy (full + 1, argv, argc * sizeof (char *));
    int64_t started = support_now_ms ();
    pid_t pid = fork ();
    if (pid == 0) {
        int in = open (in_path? in_path: "/dev/null", O_RDONLY);
        int out = open (out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open (err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2 (in, STDIN_FILENO);
        dup2 (out, STDOUT_FILENO);
        dup2 (err, STDERR_FILENO);
        execv (DROVER_BIN, full);
        _exit (127);
    }
    free (full);
    cr_assert_gt (pid, 0);
    run_t run = { .status = -1 };
    if (!SUPPORT_WAIT (support_exited (pid, &run.status), RUN_TIMEOUT_MS)) {
        kill (pid, SIGKILL);
        waitpid (pid, &run.status, 0);
    }
    run.ms = support_now_ms () - started;
    run.out = support_slurp (out_path);
    run.err = support_slurp (err_path);
    cr_assert (run.out && run.err);
    return run;
}

static void
s_run_free (run_t *run)
{
    free (run->out);
    free (run->err);
}

static bool
s_exited_with (const run_t *run, int code)
{
    return WIFEXITED (run->status) && WEXITSTATUS (run->status) == code;
}

static char *
s_write_file (site_t *site, const char *name, const char *text)
{
    char *path = malloc (512);
    snprintf (path, 512, "%s/%s", site->dir, name);
    FILE *file = fopen (path, "w");
    cr_assert (file);
    fputs (text, file);
    fclose (file);
    return path;
}

//  "[\"127.0.0.1\", N]" lines 1..count, with a blank line now and then.
static char *
s_tuples_file (site_t *site, const char *name, int count)
{
    char *path = malloc (512);
    snprintf (path, 512, "%s/%s", site->dir, name);
    FILE *file = fopen (path, "w");
    cr_assert (file);
    for (int i = 1; i <= count; i++) {
        fprintf (file, "[\"127.0.0.1\", %d]\n", i);
        if (i % 700 == 0)
            fprintf (file, "  \r\n");
    }
    fclose (file);
    return path;
}

//  Ask the broker through the producer class; 0 or its error code.
static int
s_status (site_t *site, const char *job, producer_status_t *status)
{
    producer_t *producer = producer_new (site->frontend);
    cr_assert (producer);
    producer_set_reply_timeout (producer, 5000);
    int rc = producer_status (producer, job, status);
    producer_destroy (&producer);
    return rc;
}

Test (producer, submit_creates_job,
     .timeout = 60, .init = s_with_broker, .fini = s_cleanup) {
    site_t *site = &s_site;
    char *tuples = s_tuples_file (site, "tuples.jsonl", 2500);
    run_t run = s_run (site, NULL, (char *[]) { "submit", "--broker", site->frontend,
        "--job", "scan-1", "--handler", "echo", "--sink", site->sink,
        "--batch-size", "300", tuples, NULL });
    cr_assert (s_exited_with (&run, 0), "status %d, stderr:\n%s", run.status, run.err);
    cr_expect_str_eq (run.out, "job scan-1: 2500 tuples accepted (ids 1-2500)\n");
    s_run_free (&run);

    producer_status_t status;
    cr_assert_eq (s_status (site, "scan-1", &status), 0);
    cr_expect_str_eq (status.state, "closed");
    cr_expect_eq (status.submitted, 2500);
    cr_expect_eq (status.queued, 2500, "no agent runs, so all are queued");
    cr_expect_eq (status.running + status.done + status.failed, 0);

    run = s_run (site, NULL, (char *[]) { "status", "--broker", site->frontend,
                                           "--json", "scan-1", NULL });
    cr_assert (s_exited_with (&run, 0), "status %d, stderr:\n%s", run.status, run.err);
    cr_expect_str_eq (run.out, "{\"job\":\"scan-1\",\"state\":\"closed\",\"submitted\":2500,"
                      "\"queued\":2500,\"running\":0,\"done\":0,\"failed\":0}\n");
    s_run_free (&run);
    run = s_run (site, NULL, (char *[]) { "status", "--broker", site->frontend, "scan-1", NULL });
    cr_assert (s_exited_with (&run, 0));
    cr_expect (strstr (run.out, "job scan-1: closed") && strstr (run.out, "submitted  2500")
               && strstr (run.out, "queued     2500"), "table:\n%s", run.out);
    s_run_free (&run);
    free (tuples);
}

Test (producer, stdin_generated_name_and_no_close,
     .timeout = 60, .init = s_with_broker, .fini = s_cleanup) {
    site_t *site = &s_site;
    char *tuples = s_tuples_file (site, "tuples.jsonl", 10);
    run_t run = s_run (site, tuples, (char *[]) { "submit", "--broker", site->frontend,
        "--handler", "echo", "--no-close", "-", NULL });
    cr_assert (s_exited_with (&run, 0), "status %d, stderr:\n%s", run.status, run.err);
    char job[64] = "";
    cr_assert_eq (sscanf (run.out, "job %63[^:]:", job), 1, "stdout: %s", run.out);
    cr_expect (!strncmp (job, "job-", 4) && strlen (job) == strlen ("job-1700000000-abcd"),
               "generated name %s", job);
    cr_expect (strstr (run.out, ": 10 tuples accepted (ids 1-10); the job stays open\n"),
               "stdout: %s", run.out);
    s_run_free (&run);
    producer_status_t status;
    cr_assert_eq (s_status (site, job, &status), 0);
    cr_expect_str_eq (status.state, "open");

    //  Add to it without --handler (no sink either), then it closes.
    run = s_run (site, tuples, (char *[]) { "submit", "--broker", site->frontend,
        "--job", job, NULL });
    cr_assert (s_exited_with (&run, 0), "status %d, stderr:\n%s", run.status, run.err);
    cr_expect (strstr (run.out, ": 10 tuples accepted (ids 11-20)\n"), "stdout: %s", run.out);
    s_run_free (&run);
    cr_assert_eq (s_status (site, job, &status), 0);
    cr_expect_str_eq (status.state, "closed");
    cr_expect_eq (status.submitted, 20);

    //  A closed job takes no more: a clear refusal, exit 1.
    run = s_run (site, tuples, (char *[]) { "submit", "--broker", site->frontend,
        "--job", job, NULL });
    cr_expect (s_exited_with (&run, 1), "status %d", run.status);
    cr_expect (strstr (run.err, "JOB_CLOSED"), "stderr: %s", run.err);
    s_run_free (&run);
    free (tuples);
}

Test (producer, bad_json_line, .timeout = 60, .init = s_with_broker, .fini = s_cleanup) {
    site_t *site = &s_site;
    char *path = s_write_file (site, "bad.jsonl",
        "[\"a\", 1]\n\n[\"b\", 2]\n[\"c\", 3]\n[\"d\" 4]\n[\"e\", 5]\n");
    run_t run = s_run (site, NULL, (char *[]) { "submit", "--broker", site->frontend,
        "--job", "bad", "--handler", "echo", path, NULL });
    cr_expect (s_exited_with (&run, 1), "status %d", run.status);
    cr_expect (strstr (run.err, "bad.jsonl line 5, column 6: expected ',' or ']', got '4'"),
               "stderr: %s", run.err);
    cr_expect (strstr (run.err, "job bad: 3 tuples accepted (ids 1-3); the job is left open"),
               "stderr: %s", run.err);
    cr_expect_str_eq (run.out, "", "nothing on stdout for a failed submit");
    s_run_free (&run);
    producer_status_t status;
    cr_assert_eq (s_status (site, "bad", &status), 0);
    cr_expect_eq (status.submitted, 3, "the lines before the bad one only");
    cr_expect_str_eq (status.state, "open");

    //  A bad first line: nothing is sent, no job is created.
    char *first = s_write_file (site, "first.jsonl", "[1, 2,]\n[3]\n");
    run = s_run (site, NULL, (char *[]) { "submit", "--broker", site->frontend,
        "--job", "bad-first", "--handler", "echo", first, NULL });
    cr_expect (s_exited_with (&run, 1), "status %d", run.status);
    cr_expect (strstr (run.err, "first.jsonl line 1, column 7: expected a value, got ']'"),
               "stderr: %s", run.err);
    cr_expect (strstr (run.err, "job bad-first: 0 tuples accepted"), "stderr: %s", run.err);
    s_run_free (&run);
    cr_expect_eq (s_status (site, "bad-first", &status), -DRV_E_UNKNOWN_JOB);
    free (path);
    free (first);
}

Test (producer, msgpack_stream, .timeout = 60, .init = s_with_broker, .fini = s_cleanup) {
    site_t *site = &s_site;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    for (int i = 0; i < 5000; i++) {
        msgpack_pack_array (&pk, 2);
        msgpack_pack_str_with_body (&pk, "x", 1);
        //  A few big values, so some cross the reader's 64 KiB chunks.
        if (i % 1000 == 7) {
            char blob[100000];
            memset (blob, 'z', sizeof blob);
            msgpack_pack_bin_with_body (&pk, blob, sizeof blob);
        }
        else
            msgpack_pack_int (&pk, i);
    }
    char path[512];
    snprintf (path, sizeof path, "%s/tuples.msgpack", site->dir);
    FILE *file = fopen (path, "w");
    fwrite (buf.data, 1, buf.size, file);
    fclose (file);
    run_t run = s_run (site, NULL, (char *[]) { "submit", "--broker", site->frontend,
        "--job", "mp", "--handler", "echo", "--format", "msgpack", path, NULL });
    cr_assert (s_exited_with (&run, 0), "status %d, stderr:\n%s", run.status, run.err);
    cr_expect_str_eq (run.out, "job mp: 5000 tuples accepted (ids 1-5000)\n");
    s_run_free (&run);

    //  Cut short: the last value is incomplete.
    file = fopen (path, "w");
    fwrite (buf.data, 1, 22, file);                 //  5 values of 4 bytes, and half
    fclose (file);
    run = s_run (site, NULL, (char *[]) { "submit", "--broker", site->frontend,
        "--job", "mp-cut", "--handler", "echo", "--format", "msgpack", path, NULL });
    cr_expect (s_exited_with (&run, 1), "status %d", run.status);
    cr_expect (strstr (run.err, "tuples.msgpack byte 20 (tuple 6): msgpack value cut short")
               && strstr (run.err, "job mp-cut: 5 tuples accepted (ids 1-5)"),
               "stderr: %s", run.err);
    s_run_free (&run);
    msgpack_sbuffer_destroy (&buf);
}

Test (producer, status_unknown_job,
     .timeout = 60, .init = s_with_broker, .fini = s_cleanup) {
    site_t *site = &s_site;
    run_t run = s_run (site, NULL, (char *[]) { "status", "--broker", site->frontend,
                                                 "no-such-job", NULL });
    cr_expect (s_exited_with (&run, 1), "status %d", run.status);
    char expected[512];
    snprintf (expected, sizeof expected, "drover status: no job 'no-such-job' at the"
              " broker at %s\n", site->frontend);
    cr_expect_str_eq (run.err, expected);
    cr_expect_str_eq (run.out, "");
    s_run_free (&run);

    //  Adding to a job that does not exist, without --handler.
    char *path = s_write_file (site, "one.jsonl", "[1]\n");
    run = s_run (site, NULL, (char *[]) { "submit", "--broker", site->frontend,
                                           "--job", "nothing-here", path, NULL });
    cr_expect (s_exited_with (&run, 1), "status %d", run.status);
    cr_expect (strstr (run.err, "UNKNOWN_JOB")
               && strstr (run.err, "job nothing-here does not exist; a new job needs --handler"),
               "stderr: %s", run.err);
    s_run_free (&run);
    free (path);
}

Test (producer, no_broker_fails_within_timeout,
     .timeout = 60, .init = s_with_dir, .fini = s_cleanup) {
    //  A fresh free port where nothing listens.
    site_t *site = &s_site;
    const char *nowhere = support_endpoint ();
    char *path = s_write_file (site, "one.jsonl", "[1]\n");
    run_t run = s_run (site, NULL, (char *[]) { "submit", "--broker", (char *) nowhere,
        "--job", "j", "--handler", "echo", "--reply-timeout", "0.5", path, NULL });
    cr_expect (s_exited_with (&run, 1), "status %d", run.status);
    char expected[512];
    snprintf (expected, sizeof expected, "no answer from broker at %s after 0.5 s", nowhere);
    cr_expect (strstr (run.err, expected), "stderr: %s", run.err);
    cr_expect_lt (run.ms, 5000, "gave up after %lld ms", (long long) run.ms);
    s_run_free (&run);

    run = s_run (site, NULL, (char *[]) { "status", "--broker", (char *) nowhere,
        "--reply-timeout", "0.3", "j", NULL });
    cr_expect (s_exited_with (&run, 1), "status %d", run.status);
    snprintf (expected, sizeof expected, "drover status: no answer from broker at %s"
              " after 0.3 s\n", nowhere);
    cr_expect_str_eq (run.err, expected);
    cr_expect_lt (run.ms, 5000);
    s_run_free (&run);
    free (path);
}

Test (producer, usage_errors, .init = s_with_dir, .fini = s_cleanup) {
    site_t *site = &s_site;
    run_t run = s_run (site, NULL, (char *[]) { "submit", "--help", NULL });
    cr_expect (s_exited_with (&run, 0));
    cr_expect (strstr (run.out, "usage: drover submit") && strstr (run.out, "--reply-timeout"));
    s_run_free (&run);
    run = s_run (site, NULL, (char *[]) { "status", "--help", NULL });
    cr_expect (s_exited_with (&run, 0));
    cr_expect (strstr (run.out, "usage: drover status"));
    s_run_free (&run);
    struct { char *argv[8]; const char *says; } cases[] = {
        { { "submit", NULL }, "a new job needs --handler" },
        { { "submit", "--handler", "echo", "--batch-size", "0", NULL }, "--batch-size" },
        { { "submit", "--handler", "echo", "--format", "xml", NULL }, "--format" },
        { { "submit", "--handler", "echo", "--options", "[1]", NULL }, "must be a JSON object" },
        { { "submit", "--handler", "echo", "--options", "{\"a\":", NULL }, "line 1, column 6" },
        { { "submit", "--handler", "echo", "--bogus", NULL }, "unknown option" },
        { { "submit", "--handler", "echo", "a", "b", NULL }, "unexpected argument" },
        { { "status", NULL }, "which job?" },
        { { "status", "--reply-timeout", "x", "j", NULL }, "--reply-timeout" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run = s_run (site, NULL, cases[i].argv);
        cr_expect (s_exited_with (&run, 2), "case %zu: status %d", i, run.status);
        cr_expect (strstr (run.err, cases[i].says) && strstr (run.err, "try 'drover"),
                   "case %zu: stderr: %s", i, run.err);
        s_run_free (&run);
    }
    //  An input file that is not there is a runtime failure, not usage.
    run = s_run (site, NULL, (char *[]) { "submit", "--handler", "echo",
                                           "/nonexistent/tuples.jsonl", NULL });
    cr_expect (s_exited_with (&run, 1));
    cr_expect (strstr (run.err, "cannot open /nonexistent/tuples.jsonl"), "%s", run.err);
    s_run_free (&run);
}

//  Start `drover ARGV...` with its stdin the write end of a pipe (*in_p);
//  stdout and stderr go to DIR/run.out and DIR/run.err.
static pid_t
s_spawn_piped (site_t *site, int *in_p, char *const argv[])
{
    int fds[2];
    cr_assert_eq (pipe2 (fds, O_CLOEXEC), 0);   //  no other child keeps it open
    char out_path[512], err_path[512];
    snprintf (out_path, sizeof out_path, "%s/run.out", site->dir);
    snprintf (err_path, sizeof err_path, "%s/run.err", site->dir);
    size_t argc = 0;
    while (argv[argc])
        argc++;
    char **full = calloc (argc + 2, sizeof (char *));
    full[0] = (char *) DROVER_BIN;
    memcpy (full + 1, argv, argc * sizeof (char *));
    pid_t pid = fork ();
    if (pid == 0) {
        int out = open (out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open (err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2 (fds[0], STDIN_FILENO);
        dup2 (out, STDOUT_FILENO);
        dup2 (err, STDERR_FILENO);
        close (fds[1]);
        execv (DROVER_BIN, full);
        _exit (127);
    }
    free (full);
    close (fds[0]);
    cr_assert_gt (pid, 0);
    *in_p = fds[1];
    return pid;
}

static bool
s_submitted (site_t *site, const char *job, uint64_t count, const char *state)
{
    producer_status_t status;
    return s_status (site, job, &status) == 0 && status.submitted == count
        && !strcmp (status.state, state);
}

//  A slow pipe: what has come goes out when the input pauses, without
//  waiting for a full batch or the end of input.
Test (producer, slow_pipe_and_interrupt,
     .timeout = 60, .init = s_with_broker, .fini = s_cleanup) {
    site_t *site = &s_site;
    int in;
    pid_t pid = s_spawn_piped (site, &in, (char *[]) { "submit", "--broker",
        site->frontend, "--job", "slow", "--handler", "echo", NULL });
    const char *lines = "[1]\n[2]\n[3]\n";
    cr_assert_eq (write (in, lines, strlen (lines)), (ssize_t) strlen (lines));
    cr_expect (SUPPORT_WAIT (s_submitted (site, "slow", 3, "open"), 10000),
               "3 tuples while the pipe is still open");
    cr_assert_eq (write (in, "[4]", 3), 3);         //  no newline before the end
    close (in);
    int status = -1;
    cr_assert (SUPPORT_WAIT (support_exited (pid, &status), RUN_TIMEOUT_MS));
    cr_expect (WIFEXITED (status) && WEXITSTATUS (status) == 0, "status %d", status);
    char path[512];
    snprintf (path, sizeof path, "%s/run.out", site->dir);
    char *out = support_slurp (path);
    cr_expect_str_eq (out, "job slow: 4 tuples accepted (ids 1-4)\n");
    free (out);
    cr_expect (s_submitted (site, "slow", 4, "closed"));

    //  SIGINT while reading: what was accepted stays, the job stays open.
    //  Not before submit has the broker's answer (its own debug line): the
    //  broker counts the tuples before its answer arrives, and an
    //  interrupt in between rightly says 0 accepted.
    pid = s_spawn_piped (site, &in, (char *[]) { "submit", "--broker",
        site->frontend, "--job", "cut", "--handler", "echo", "--log-level", "debug", NULL });
    cr_assert_eq (write (in, lines, strlen (lines)), (ssize_t) strlen (lines));
    snprintf (path, sizeof path, "%s/run.err", site->dir);
    cr_expect (SUPPORT_WAIT (support_count_text (path, "3 tuples accepted (ids 1-3)") == 1,
                             10000), "submit has the answer");
    kill (pid, SIGINT);
    cr_assert (SUPPORT_WAIT (support_exited (pid, &status), RUN_TIMEOUT_MS));
    close (in);
    cr_expect (WIFEXITED (status) && WEXITSTATUS (status) == 1, "status %d", status);
    char *err = support_slurp (path);
    cr_expect (strstr (err, "drover submit: interrupted\n") && strstr (err,
               "job cut: 3 tuples accepted (ids 1-3); the job is left open"), "%s", err);
    free (err);
    cr_expect (s_submitted (site, "cut", 3, "open"));
}

//  Bytes waiting unread in the receive queues of TCP sockets on local
//  port (/proc/net/tcp: "sl local rem st tx_queue:rx_queue ...", hex).
static unsigned long
s_unread_on_port (int port)
{
    FILE *file = fopen ("/proc/net/tcp", "r");
    cr_assert (file);
    char line[512];
    unsigned long unread = 0;
    while (fgets (line, sizeof line, file)) {
        unsigned local_port, state;
        unsigned long tx, rx;
        if (sscanf (line, " %*d: %*x:%x %*x:%*x %x %lx:%lx", &local_port, &state, &tx, &rx) == 4
        &&  (int) local_port == port)
            unread += rx;
    }
    fclose (file);
    return unread;
}

//  kill -9 of the broker while a SUBMIT is surely on its way (the broker is
//  stopped, the SUBMIT's bytes sit unread in its socket), then the broker
//  again on the same port and data: submit sends the unanswered batch
//  again and finishes, every tuple accepted exactly once.
Test (producer, resends_after_broker_restart,
     .timeout = 120, .init = s_with_broker, .fini = s_cleanup) {
    site_t *site = &s_site;
    int in;
    pid_t pid = s_spawn_piped (site, &in, (char *[]) { "submit", "--broker",
        site->frontend, "--job", "restart", "--handler", "echo", "--batch-size", "100",
        "--reply-timeout", "60s", NULL });
    FILE *tuples = fdopen (in, "w");
    cr_assert (tuples);
    for (int i = 1; i <= 500; i++)
        fprintf (tuples, "[%d]\n", i);
    fflush (tuples);
    cr_assert (SUPPORT_WAIT (s_submitted (site, "restart", 500, "open"), 20000));

    kill (site->broker, SIGSTOP);
    for (int i = 501; i <= 800; i++)
        fprintf (tuples, "[%d]\n", i);
    fflush (tuples);
    int port = atoi (strrchr (site->frontend, ':') + 1);
    cr_assert (SUPPORT_WAIT (s_unread_on_port (port) > 0, 20000),
               "a SUBMIT waits unread at the stopped broker");
    cr_assert_eq (support_stop (site->broker, SIGKILL, 10000) & 0x7f, SIGKILL);
    s_broker_start (site, NULL);

    for (int i = 801; i <= 1000; i++)
        fprintf (tuples, "[%d]\n", i);
    fclose (tuples);
    int status = -1;
    cr_assert (SUPPORT_WAIT (support_exited (pid, &status), 90000));
    char path[512];
    snprintf (path, sizeof path, "%s/run.err", site->dir);
    char *err = support_slurp (path);
    cr_expect (WIFEXITED (status) && WEXITSTATUS (status) == 0, "status %d:\n%s", status, err);
    cr_expect (strstr (err, "lost the connection to broker"), "stderr:\n%s", err);
    free (err);
    snprintf (path, sizeof path, "%s/run.out", site->dir);
    char *out = support_slurp (path);
    cr_expect_str_eq (out, "job restart: 1000 tuples accepted (ids 1-1000)\n");
    free (out);
    cr_expect (s_submitted (site, "restart", 1000, "closed"), "each tuple stored once");
}

Test (producer, wait_until_complete,
     .timeout = 120, .init = s_with_broker, .fini = s_cleanup) {
    site_t *site = &s_site;
    s_site_start_workers (site);
    char *tuples = s_tuples_file (site, "tuples.jsonl", 300);
    run_t run = s_run (site, NULL, (char *[]) { "submit", "--broker", site->frontend,
        "--job", "waited", "--handler", "echo", "--sink", site->sink, "--wait", tuples, NULL });
    cr_assert (s_exited_with (&run, 0), "status %d, stderr:\n%s", run.status, run.err);
    cr_expect (strstr (run.out, "job waited: 300 tuples accepted (ids 1-300)\n"
                                "job waited complete: 300 done, 0 failed in "),
               "stdout: %s", run.out);
    cr_expect (strstr (run.err, "job waited: 300/300 finished (300 done, 0 failed), 100.0%"),
               "not a terminal: plain progress lines; stderr: %s", run.err);
    s_run_free (&run);
    char results[512];
    snprintf (results, sizeof results, "%s/results.jsonl", site->dir);
    cr_expect_eq (support_count_lines (results), 300);

    //  Dead letters do not fail the submit; they are counted.
    run = s_run (site, NULL, (char *[]) { "submit", "--broker", site->frontend,
        "--job", "doomed", "--handler", "fail", "--sink", site->sink, "--max-attempts", "1",
        "--wait", "--batch-size", "7", tuples, NULL });
    cr_assert (s_exited_with (&run, 0), "status %d, stderr:\n%s", run.status, run.err);
    cr_expect (strstr (run.out, "job doomed complete: 0 done, 300 failed in "),
               "stdout: %s", run.out);
    s_run_free (&run);
    free (tuples);
}

//  ---------------------------------------------------------------------
//  The producer class on its own

//  An agent that takes every tuple and sits on it: HELLO with many slots,
//  then heartbeats, so the broker's queue drains without anything running.
typedef struct {
    const char *backend;
    atomic_bool stop;
    atomic_ulong tuples;
} sponge_t;

static void *
s_sponge (void *arg)
{
    sponge_t *self = arg;
    zsock_t *dealer = zsock_new_dealer (self->backend);
    msg_t *hello = msg_new (MSG_HELLO);
    msg_set_str (hello, MSG_F_AGENT, "sponge");
    msg_set_uint (hello, MSG_F_SLOTS, 1000000);
    wire_send (&hello, dealer, NULL);
    zpoller_t *poller = zpoller_new (dealer, NULL);
    int64_t beat = 0;
    while (!atomic_load (&self->stop)) {
        if (support_now_ms () - beat > 300) {
            msg_t *heartbeat = msg_new (MSG_HEARTBEAT);
            wire_send (&heartbeat, dealer, NULL);
            beat = support_now_ms ();
        }
        if (!zpoller_wait (poller, 50))
            continue;
        msg_t *msg = NULL;
        if (wire_recv (dealer, NULL, &msg) == 0 && msg_command (msg) == MSG_WORK)
            atomic_fetch_add (&self->tuples, msg_tuple_count (msg));
        msg_destroy (&msg);
    }
    msg_t *bye = msg_new (MSG_BYE);
    wire_send (&bye, dealer, NULL);
    zpoller_destroy (&poller);
    zsock_destroy (&dealer);
    return NULL;
}

static zmsg_t *
s_batch (int count, int base)
{
    zmsg_t *batch = zmsg_new ();
    for (int i = 0; i < count; i++) {
        unsigned char tuple[8] = { 0x92, 0xcd, 0, 0, 0xcd, 0, 0 };     //  [uint16, uint16]
        tuple[2] = (unsigned char) ((base + i) >> 8);
        tuple[3] = (unsigned char) (base + i);
        tuple[5] = (unsigned char) (i >> 8);
        tuple[6] = (unsigned char) i;
        zmsg_addmem (batch, tuple, 7);
    }
    return batch;
}

Test (producer, pipelined_batches_and_queue_full,
     .timeout = 60, .init = s_with_small_queue, .fini = s_cleanup) {
    site_t *site = &s_site;
    producer_t *producer = producer_new (site->frontend);
    cr_assert (producer);
    producer_set_job (producer, "piped");
    producer_set_handler (producer, "echo");
    producer_set_sink (producer, site->sink);
    char err[128];
    cr_assert_eq (producer_set_options (producer, "{\"k\": [1, 2]}", err, sizeof err), 0);
    producer_set_max_attempts (producer, 2);
    producer_set_timeout_ms (producer, 5000);
    producer_set_reply_timeout (producer, 5000);
    //  Two batches fit under --max-queued 2000; the next three are answered
    //  QUEUE_FULL and must go again once the sponge has drained the queue.
    for (int i = 0; i < 5; i++) {
        zmsg_t *batch = s_batch (1000, i * 1000);
        cr_assert_eq (producer_submit (producer, &batch), 0, "%s", producer_error (producer));
        cr_assert_null (batch);
    }
    sponge_t sponge = { .backend = site->backend };
    pthread_t thread;
    pthread_create (&thread, NULL, s_sponge, &sponge);
    cr_assert_eq (producer_flush (producer), 0, "%s", producer_error (producer));
    uint64_t first, last;
    cr_expect_eq (producer_accepted (producer, &first, &last), 5000);
    cr_expect_eq (first, 1);
    cr_expect_eq (last, 5000);
    cr_assert_eq (producer_close (producer), 0, "%s", producer_error (producer));
    producer_status_t status;
    cr_assert_eq (producer_status (producer, "piped", &status), 0);
    cr_expect_str_eq (status.state, "closed");
    cr_expect_eq (status.submitted, 5000);
    cr_expect (SUPPORT_WAIT (atomic_load (&sponge.tuples) == 5000, 10000),
               "the sponge got %lu tuples", atomic_load (&sponge.tuples));

    //  After close: a refusal, with its code and the broker's reason.
    zmsg_t *late = s_batch (1, 0);
    int rc = producer_submit (producer, &late);
    if (rc == 0)
        rc = producer_flush (producer);
    cr_expect_eq (rc, -DRV_E_JOB_CLOSED);
    cr_expect_eq (producer_refused (producer), DRV_E_JOB_CLOSED);
    cr_expect (strstr (producer_error (producer), "JOB_CLOSED"), "%s", producer_error (producer));
    producer_destroy (&producer);
    cr_assert_null (producer);
    atomic_store (&sponge.stop, true);
    pthread_join (thread, NULL);
}

Test (producer, conflict_and_bad_options, .init = s_with_broker, .fini = s_cleanup) {
    site_t *site = &s_site;
    producer_t *producer = producer_new (site->frontend);
    char err[128] = "";
    cr_expect_eq (producer_set_options (producer, "[1]", err, sizeof err), -1);
    cr_expect_str_eq (err, "options must be a JSON object");
    cr_expect_eq (producer_set_options (producer, "{", err, sizeof err), -1);
    cr_expect_str_eq (err, "line 1, column 2: expected a string key, got end of input");
    producer_set_job (producer, "c");
    producer_set_handler (producer, "echo");
    producer_set_sink (producer, site->sink);
    zmsg_t *batch = s_batch (3, 0);
    cr_assert_eq (producer_submit (producer, &batch), 0);
    cr_assert_eq (producer_flush (producer), 0, "%s", producer_error (producer));
    producer_destroy (&producer);

    //  Same job, another handler: CONFLICT, and nothing more is sent.
    producer = producer_new (site->frontend);
    producer_set_reply_timeout (producer, 5000);
    producer_set_job (producer, "c");
    producer_set_handler (producer, "sleep");
    producer_set_sink (producer, site->sink);
    batch = s_batch (3, 0);
    int rc = producer_submit (producer, &batch);
    if (rc == 0)
        rc = producer_flush (producer);
    cr_expect_eq (rc, -DRV_E_CONFLICT, "rc %d: %s", rc, producer_error (producer));
    cr_expect (strstr (producer_error (producer), "broker refused batch 1: CONFLICT"),
               "%s", producer_error (producer));
    batch = s_batch (1, 0);
    cr_expect_eq (producer_submit (producer, &batch), -DRV_E_CONFLICT, "sticky");
    cr_expect_null (batch);
    producer_destroy (&producer);
    producer_status_t status;
    cr_assert_eq (s_status (site, "c", &status), 0);
    cr_expect_eq (status.submitted, 3);
}

Test (producer, new_on_a_bad_endpoint) {
    cr_expect_null (producer_new ("not an endpoint"));
    cr_expect_null (producer_new ("tcp://"));
}

//  A broker of protocol version 1 only, as drover's was: a version 2
//  request gets ERROR BAD_VERSION "supported: 1" (with the request's batch
//  when echo_batch), a version 1 SUBMIT ACCEPTED, a STATUS JOB.
typedef struct {
    zsock_t *router;
    bool echo_batch;
    atomic_bool stop;
    atomic_int v2_requests, v1_tuples;
} old_broker_t;

static void
s_old_broker_answer (old_broker_t *self, zmsg_t *envelope, msg_t *msg, uint64_t *next_id)
{
    msg_t *reply = NULL;
    if (msg_version (msg) != 1) {
        atomic_fetch_add (&self->v2_requests, 1);
        reply = msg_new (MSG_ERROR);
        msg_set_uint (reply, MSG_F_CODE, DRV_E_BAD_VERSION);
        msg_set_str (reply, MSG_F_REASON, "supported: 1");
        if (self->echo_batch && msg_has (msg, MSG_F_BATCH))
            msg_set_str (reply, MSG_F_BATCH, msg_str (msg, MSG_F_BATCH));
    }
    else
    if (msg_command (msg) == MSG_SUBMIT) {
        atomic_fetch_add (&self->v1_tuples, (int) msg_tuple_count (msg));
        reply = msg_new (MSG_ACCEPTED);
        msg_set_str (reply, MSG_F_JOB, msg_str (msg, MSG_F_JOB));
        msg_set_uint (reply, MSG_F_FIRST, *next_id);
        msg_set_uint (reply, MSG_F_COUNT, msg_tuple_count (msg));
        if (msg_has (msg, MSG_F_BATCH))
            msg_set_str (reply, MSG_F_BATCH, msg_str (msg, MSG_F_BATCH));
        *next_id += msg_tuple_count (msg);
    }
    else {
        reply = msg_new (MSG_JOB);
        msg_set_str (reply, MSG_F_JOB, msg_str (msg, MSG_F_JOB));
        msg_set_str (reply, MSG_F_STATE, "open");
        msg_set_uint (reply, MSG_F_SUBMITTED, *next_id - 1);
        const msg_field_t zero[] = { MSG_F_QUEUED, MSG_F_RUNNING, MSG_F_DONE, MSG_F_FAILED };
        for (size_t i = 0; i < 4; i++)
            msg_set_uint (reply, zero[i], 0);
    }
    msg_set_version (reply, 1);
    wire_send (&reply, self->router, envelope);
}

static void *
s_old_broker (void *arg)
{
    old_broker_t *self = arg;
    uint64_t next_id = 1;
    zpoller_t *poller = zpoller_new (self->router, NULL);
    while (!atomic_load (&self->stop)) {
        if (!zpoller_wait (poller, 50))
            continue;
        zmsg_t *envelope = NULL;
        msg_t *msg = NULL;
        if (wire_recv (self->router, &envelope, &msg) == 0)
            s_old_broker_answer (self, envelope, msg, &next_id);
        msg_destroy (&msg);
        zmsg_destroy (&envelope);
    }
    zpoller_destroy (&poller);
    return NULL;
}

//  Against a version 1 broker the producer sends each batch again in
//  version 1, and all after in version 1 from the start; so STATUS.
static void
s_falls_back (bool echo_batch)
{
    old_broker_t broker = { .echo_batch = echo_batch };
    char endpoint[64];
    snprintf (endpoint, sizeof endpoint, "%s", support_endpoint ());
    broker.router = zsock_new (ZMQ_ROUTER);
    cr_assert_geq (zsock_bind (broker.router, "%s", endpoint), 0);
    pthread_t thread;
    pthread_create (&thread, NULL, s_old_broker, &broker);

    producer_t *producer = producer_new (endpoint);
    producer_set_job (producer, "old");
    producer_set_reply_timeout (producer, 5000);
    for (int i = 0; i < 3; i++) {       //  in flight together, all in version 2
        zmsg_t *batch = s_batch (10, i * 10);
        cr_assert_eq (producer_submit (producer, &batch), 0, "%s", producer_error (producer));
    }
    cr_assert_eq (producer_flush (producer), 0, "%s", producer_error (producer));
    zmsg_t *batch = s_batch (5, 30);
    cr_assert_eq (producer_submit (producer, &batch), 0, "%s", producer_error (producer));
    cr_assert_eq (producer_flush (producer), 0, "%s", producer_error (producer));
    uint64_t first, last;
    cr_expect_eq (producer_accepted (producer, &first, &last), 35);
    cr_expect (first == 1 && last == 35);
    cr_expect_eq (atomic_load (&broker.v2_requests), 3, "the later batch went in version 1");
    cr_expect_eq (atomic_load (&broker.v1_tuples), 35);
    producer_destroy (&producer);

    //  STATUS from a new producer: refused in version 2, asked again in 1.
    producer = producer_new (endpoint);
    producer_set_reply_timeout (producer, 5000);
    producer_status_t status;
    cr_assert_eq (producer_status (producer, "old", &status), 0, "%s", producer_error (producer));
    cr_expect_eq (status.submitted, 35);
    cr_expect_eq (atomic_load (&broker.v2_requests), 4);
    producer_destroy (&producer);
    atomic_store (&broker.stop, true);
    pthread_join (thread, NULL);
    zsock_destroy (&broker.router);
}

Test (producer, falls_back_to_version_1, .timeout = 60) {
    s_falls_back (true);
}

Test (producer, falls_back_when_errors_carry_no_batch, .timeout = 60) {
    s_falls_back (false);
}
