//  test_examples.c -- the example producers, which know only PROTOCOL.md,
//  against a real `drover broker` (and agent and sink for --wait): what
//  examples/producer.py and push_producer.py print and exit with, and what
//  the broker counted, asked over the test's own REQ socket with STATUS.
//  Needs /usr/bin/python3 with zmq and msgpack (scripts/deps.sh installs them).
#include "support.h"
#include "proto/msg.h"
#include "proto/wire.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PYTHON          "/usr/bin/python3"
#define PRODUCER        DROVER_SOURCE_DIR "/examples/producer.py"
#define PUSH_PRODUCER   DROVER_SOURCE_DIR "/examples/push_producer.py"
#define RUN_TIMEOUT_MS  60000

typedef struct {
    char *dir;
    char frontend[64], intake[64], backend[64], sink[64];
    pid_t broker, agent, sink_pid;
} site_t;

typedef struct {
    int status;             //  wait status
    char *out, *err;        //  what the script printed
} run_t;

static void
s_run_free (run_t *run)
{
    free (run->out);
    free (run->err);
    run->out = run->err = NULL;
}

static size_t
s_count_lines (const char *text)
{
    size_t lines = 0;
    for (; *text; text++)
        lines += *text == '\n';
    return lines;
}

static bool
s_exited_with (const run_t *run, int code)
{
    return WIFEXITED (run->status) && WEXITSTATUS (run->status) == code;
}

//  Run PYTHON with args (NULL-terminated) in dir, stdin from input (a path
//  or NULL for /dev/null); returns exit status and output.  Never hangs:
//  a script still running after RUN_TIMEOUT_MS fails the test.
static run_t
s_python (const char *dir, const char *input, const char *arg, ...)
{
    char *argv[48] = { PYTHON };
    size_t argc = 1;
    va_list ap;
    va_start (ap, arg);
    for (const char *a = arg; a && argc < 47; a = va_arg (ap, const char *))
        argv[argc++] = (char *) a;
    va_end (ap);
    char out_path[512], err_path[512];
    snprintf (out_path, sizeof out_path, "%s/python.out", dir);
    snprintf (err_path, sizeof err_path, "%s/python.err", dir);

    pid_t pid = fork ();
    cr_assert_geq (pid, 0, "fork failed");
    if (pid == 0) {
        int in = open (input? input: "/dev/null", O_RDONLY);
        int out = open (out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open (err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || out < 0 || err < 0)
            _exit (126);
        dup2 (in, STDIN_FILENO);
        dup2 (out, STDOUT_FILENO);
        dup2 (err, STDERR_FILENO);
        execv (PYTHON, argv);
        _exit (127);
    }
    run_t run = { -1, NULL, NULL };
    if (!SUPPORT_WAIT (support_exited (pid, &run.status), RUN_TIMEOUT_MS)) {
        kill (pid, SIGKILL);
        waitpid (pid, NULL, 0);
        cr_assert_fail ("%s did not finish in %d ms", argv[1], RUN_TIMEOUT_MS);
    }
    run.out = support_slurp (out_path);
    run.err = support_slurp (err_path);
    cr_assert (run.out && run.err);
    return run;
}

//  Fail, not skip, when the interpreter lacks the modules: the examples are
//  part of what we ship and must be tested.
static void
s_require_python_modules (const char *dir)
{
    cr_assert_eq (access (PYTHON, X_OK), 0,
                  PYTHON " is missing: run scripts/deps.sh");
    run_t run = s_python (dir, NULL, "-c", "import zmq, msgpack", NULL);
    cr_assert (s_exited_with (&run, 0),
               PYTHON " cannot import zmq and msgpack: run scripts/deps.sh "
               "(it installs python3-zmq and python3-msgpack). Python said:\n%s", run.err);
    s_run_free (&run);
}

static void
s_write_file (const char *path, const char *text)
{
    FILE *file = fopen (path, "w");
    cr_assert_not_null (file, "cannot write %s", path);
    fputs (text, file);
    fclose (file);
}

//  Ask the broker for a job's counters over a fresh REQ socket (a REQ that
//  lost a reply cannot send again).  Returns the reply (JOB or ERROR) or
//  NULL if none came within timeout_ms.
static msg_t *
s_status (const char *frontend, const char *job, int timeout_ms)
{
    zsock_t *sock = zsock_new_req (frontend);
    cr_assert_not_null (sock);
    zsock_set_linger (sock, 0);
    zsock_set_rcvtimeo (sock, timeout_ms);
    msg_t *request = msg_new (MSG_STATUS);
    cr_assert_eq (msg_set_str (request, MSG_F_JOB, job), 0);
    msg_t *reply = NULL;
    if (wire_send (&request, sock, NULL) == 0 && wire_recv (sock, NULL, &reply) != 0)
        reply = NULL;
    msg_destroy (&request);
    zsock_destroy (&sock);
    return reply;
}

//  True when STATUS says job has submitted tuples and is in state.
static bool
s_job_is (const char *frontend, const char *job, uint64_t submitted, const char *state)
{
    msg_t *reply = s_status (frontend, job, 500);
    bool match = reply && msg_command (reply) == MSG_JOB
              && msg_uint (reply, MSG_F_SUBMITTED) == submitted
              && msg_str (reply, MSG_F_STATE)
              && streq (msg_str (reply, MSG_F_STATE), state);
    msg_destroy (&reply);
    return match;
}

static bool
s_broker_answers (const char *frontend)
{
    msg_t *reply = s_status (frontend, "no-such-job", 200);
    bool answered = reply != NULL;
    msg_destroy (&reply);
    return answered;
}

static void
s_log_path (const site_t *site, const char *name, char *path, size_t size)
{
    snprintf (path, size, "%s/%s.log", site->dir, name);
}

//  A broker on fresh loopback ports; with_workers adds one agent and a sink.
static void
s_site_start (site_t *site, bool with_workers)
{
    site->dir = support_tmpdir ();
    cr_assert_not_null (site->dir);
    s_require_python_modules (site->dir);
    snprintf (site->frontend, sizeof site->frontend, "%s", support_endpoint ());
    snprintf (site->intake, sizeof site->intake, "%s", support_endpoint ());
    snprintf (site->backend, sizeof site->backend, "%s", support_endpoint ());
    snprintf (site->sink, sizeof site->sink, "%s", support_endpoint ());
    char log[512], data[512];
    s_log_path (site, "broker", log, sizeof log);
    snprintf (data, sizeof data, "%s/broker-data", site->dir);
    site->broker = support_spawn (log, "broker", "--frontend", site->frontend,
                                  "--intake", site->intake, "--backend", site->backend,
                                  "--data-dir", data, NULL);
    cr_assert_gt (site->broker, 0);
    int status = 0;
    bool exited = false;
    if (!SUPPORT_WAIT (s_broker_answers (site->frontend)
                       || (exited = support_exited (site->broker, &status)), 10000)
    ||  exited) {
        char *text = support_slurp (log);
        cr_assert_fail ("broker does not answer STATUS on %s (%s); its log:\n%s",
                        site->frontend, exited? "it exited": "still running",
                        text? text: "(none)");
    }
    if (!with_workers)
        return;
    char results[512];
    snprintf (results, sizeof results, "%s/results.jsonl", site->dir);
    s_log_path (site, "sink", log, sizeof log);
    site->sink_pid = support_spawn (log, "sink", "--bind", site->sink,
                                    "--output", results, NULL);
    s_log_path (site, "agent", log, sizeof log);
    site->agent = support_spawn (log, "agent", "--broker", site->backend,
                                 "--name", "agent-1", "--threads", "2", NULL);
    cr_assert (site->sink_pid > 0 && site->agent > 0);
}

static void
s_site_stop (site_t *site)
{
    if (site->agent > 0)
        cr_expect_eq (support_stop (site->agent, SIGTERM, 20000), 0, "agent did not exit 0");
    if (site->sink_pid > 0)
        cr_expect_eq (support_stop (site->sink_pid, SIGTERM, 10000), 0, "sink did not exit 0");
    cr_expect_eq (support_stop (site->broker, SIGTERM, 10000), 0, "broker did not exit 0");
    support_rmdir (&site->dir);
}

Test (examples, python_has_zmq_and_msgpack)
{
    char *dir = support_tmpdir ();
    s_require_python_modules (dir);
    support_rmdir (&dir);
}

//  --help must be true and complete even where pyzmq is missing.
Test (examples, help_and_usage_errors)
{
    char *dir = support_tmpdir ();
    run_t run = s_python (dir, NULL, PRODUCER, "--help", NULL);
    cr_expect (s_exited_with (&run, 0), "producer.py --help: status %d", run.status);
    const char *flags[] = { "usage: producer.py", "--broker", "--job", "--handler", "--sink",
                            "--batch-size", "--wait", "--wait-timeout", "--timeout", NULL };
    for (int i = 0; flags[i]; i++)
        cr_expect_not_null (strstr (run.out, flags[i]), "no %s in:\n%s", flags[i], run.out);
    s_run_free (&run);

    run = s_python (dir, NULL, PUSH_PRODUCER, "--help", NULL);
    cr_expect (s_exited_with (&run, 0), "push_producer.py --help: status %d", run.status);
    cr_expect_not_null (strstr (run.out, "usage: push_producer.py"));
    cr_expect_not_null (strstr (run.out, "--intake"));
    cr_expect_not_null (strstr (run.out, "--frontend"));
    s_run_free (&run);

    //  Usage errors: exit 2 and say what is wrong, on stderr.
    run = s_python (dir, NULL, PRODUCER, "--handler", "echo", NULL);
    cr_expect (s_exited_with (&run, 2), "missing --job: status %d", run.status);
    cr_expect_not_null (strstr (run.err, "--job and --handler are required"), "%s", run.err);
    s_run_free (&run);
    run = s_python (dir, NULL, PRODUCER, "--job", "j", "--handler", "echo",
                    "--batch-size", "0", NULL);
    cr_expect (s_exited_with (&run, 2), "--batch-size 0: status %d", run.status);
    s_run_free (&run);
    run = s_python (dir, NULL, PRODUCER, "--job", "j", "--handler", "echo", "--wait",
                    "--no-close", NULL);
    cr_expect (s_exited_with (&run, 2), "--wait --no-close: status %d", run.status);
    s_run_free (&run);
    run = s_python (dir, NULL, PUSH_PRODUCER, "--job", "j", NULL);
    cr_expect (s_exited_with (&run, 2), "push without --handler: status %d", run.status);
    s_run_free (&run);
    support_rmdir (&dir);
}

//  Bad JSON is reported with its line number, before anything is sent.
Test (examples, producer_rejects_bad_json)
{
    char *dir = support_tmpdir ();
    s_require_python_modules (dir);
    char input[512];
    snprintf (input, sizeof input, "%s/bad.jsonl", dir);
    s_write_file (input, "[\"ok\", 1]\n{not json\n");
    run_t run = s_python (dir, input, PRODUCER, "--broker", support_endpoint (),
                          "--job", "bad", "--handler", "echo", "--timeout", "1", NULL);
    cr_expect (s_exited_with (&run, 1), "status %d", run.status);
    cr_expect_not_null (strstr (run.err, "line 2"), "%s", run.err);
    cr_expect_null (strstr (run.out, "ACCEPTED"), "%s", run.out);
    s_run_free (&run);
    support_rmdir (&dir);
}

//  No broker behind the endpoint: the REQ times out and the producer exits
//  1 instead of hanging.
Test (examples, producer_times_out_without_broker)
{
    char *dir = support_tmpdir ();
    s_require_python_modules (dir);
    char input[512];
    snprintf (input, sizeof input, "%s/one.jsonl", dir);
    s_write_file (input, "[1]\n");
    int64_t started = support_now_ms ();
    run_t run = s_python (dir, input, PRODUCER, "--broker", support_endpoint (),
                          "--job", "lost", "--handler", "echo", "--timeout", "0.3", NULL);
    cr_expect (s_exited_with (&run, 1), "status %d", run.status);
    cr_expect_not_null (strstr (run.err, "no reply"), "%s", run.err);
    cr_expect_lt (support_now_ms () - started, 20000);
    s_run_free (&run);
    support_rmdir (&dir);
}

Test (examples, producer_submits_batches, .timeout = 120)
{
    site_t site = { 0 };
    s_site_start (&site, false);
    char input[512];
    snprintf (input, sizeof input, "%s/five.jsonl", site.dir);
    s_write_file (input, "[\"a\", 1]\n[\"b\", 2]\n\n[\"c\", 3]\n[\"d\", 4]\n[\"e\", 5]\n");

    //  Five tuples in batches of two: ids 1-2, 3-4, 5, the last closing the job.
    run_t run = s_python (site.dir, input, PRODUCER, "--broker", site.frontend,
                          "--job", "five", "--handler", "echo", "--sink", site.sink,
                          "--batch-size", "2", NULL);
    cr_expect (s_exited_with (&run, 0), "status %d, stderr:\n%s", run.status, run.err);
    cr_expect_not_null (strstr (run.out, "ACCEPTED job=five batch=1 first=1 count=2 ids=1..2\n"),
                        "%s", run.out);
    cr_expect_not_null (strstr (run.out, "ACCEPTED job=five batch=2 first=3 count=2 ids=3..4\n"),
                        "%s", run.out);
    cr_expect_not_null (strstr (run.out, "ACCEPTED job=five batch=3 first=5 count=1 ids=5..5\n"),
                        "%s", run.out);
    cr_expect_eq (s_count_lines (run.out), 3, "not three lines:\n%s", run.out);
    s_run_free (&run);
    //  No agent: the job is closed, not complete, with all five queued.
    cr_expect (s_job_is (site.frontend, "five", 5, "closed"), "broker did not count 5 tuples");

    //  The job is closed: another SUBMIT gets ERROR JOB_CLOSED, exit 1.
    run = s_python (site.dir, input, PRODUCER, "--broker", site.frontend,
                    "--job", "five", "--handler", "echo", "--sink", site.sink, NULL);
    cr_expect (s_exited_with (&run, 1), "status %d", run.status);
    cr_expect_not_null (strstr (run.err, "JOB_CLOSED"), "%s", run.err);
    s_run_free (&run);

    //  --wait with no agent cannot complete: it gives up after --wait-timeout.
    run = s_python (site.dir, input, PRODUCER, "--broker", site.frontend,
                    "--job", "stuck", "--handler", "echo", "--sink", site.sink,
                    "--wait", "--wait-timeout", "1", "--quiet", NULL);
    cr_expect (s_exited_with (&run, 1), "status %d", run.status);
    cr_expect_not_null (strstr (run.err, "not complete"), "%s", run.err);
    cr_expect_not_null (strstr (run.err, "state=closed submitted=5"), "%s", run.err);
    cr_expect_eq (strlen (run.out), 0, "--quiet printed:\n%s", run.out);
    s_run_free (&run);
    s_site_stop (&site);
}

Test (examples, push_producer_tuples_are_counted, .timeout = 120)
{
    site_t site = { 0 };
    s_site_start (&site, false);
    char input[512];
    snprintf (input, sizeof input, "%s/seven.jsonl", site.dir);
    s_write_file (input, "[1]\n[2]\n[3]\n[4]\n[5]\n[6]\n[7]\n");

    run_t run = s_python (site.dir, input, PUSH_PRODUCER, "--intake", site.intake,
                          "--job", "pushed", "--handler", "echo", "--sink", site.sink,
                          "--batch-size", "3", NULL);
    cr_expect (s_exited_with (&run, 0), "status %d, stderr:\n%s", run.status, run.err);
    cr_expect_not_null (strstr (run.out, "PUSHED job=pushed tuples=7"), "%s", run.out);
    s_run_free (&run);
    //  No reply on the intake: the broker's STATUS is the only witness.
    cr_expect (SUPPORT_WAIT (s_job_is (site.frontend, "pushed", 7, "closed"), 10000),
               "broker did not count 7 pushed tuples in a closed job");

    //  With --frontend the script confirms by itself.
    run = s_python (site.dir, input, PUSH_PRODUCER, "--intake", site.intake,
                    "--frontend", site.frontend, "--job", "confirmed", "--handler", "echo",
                    "--sink", site.sink, "--batch-size", "4", NULL);
    cr_expect (s_exited_with (&run, 0), "status %d, stderr:\n%s", run.status, run.err);
    cr_expect_not_null (strstr (run.out, "JOB job=confirmed state=closed submitted=7"),
                        "%s", run.out);
    s_run_free (&run);
    cr_expect (s_job_is (site.frontend, "confirmed", 7, "closed"));
    s_site_stop (&site);
}

//  The whole path: producer.py --wait returns when the agent has run every
//  tuple and the sink has stored it.
Test (examples, producer_waits_until_complete, .timeout = 180)
{
    site_t site = { 0 };
    s_site_start (&site, true);
    char input[512];
    snprintf (input, sizeof input, "%s/ten.jsonl", site.dir);
    s_write_file (input, "[0]\n[1]\n[2]\n[3]\n[4]\n[5]\n[6]\n[7]\n[8]\n[9]\n");
    run_t run = s_python (site.dir, input, PRODUCER, "--broker", site.frontend,
                          "--job", "ten", "--handler", "echo", "--sink", site.sink,
                          "--batch-size", "4", "--wait", "--wait-timeout", "50", NULL);
    cr_expect (s_exited_with (&run, 0), "status %d, stderr:\n%s", run.status, run.err);
    cr_expect_not_null (strstr (run.out, "JOB job=ten state=complete submitted=10 queued=0 "
                                         "running=0 done=10 failed=0"), "%s", run.out);
    s_run_free (&run);
    char results[512];
    snprintf (results, sizeof results, "%s/results.jsonl", site.dir);
    cr_expect_eq (support_count_lines (results), 10, "sink stored %zu results",
                  support_count_lines (results));
    s_site_stop (&site);
}
