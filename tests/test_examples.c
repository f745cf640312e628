//  test_examples.c -- the example producers, which know only PROTOCOL.md,
//  against a real `drover broker` with CURVE (and agent and sink for
//  --wait): what examples/producer.py, push_producer.py and the Node
//  producer.mjs and status.mjs print and exit with, what the broker
//  counted (asked over the test's own CURVE REQ socket with STATUS), and
//  what the sink stored.  Needs /usr/bin/python3 with zmq and msgpack
//  (scripts/deps.sh), and node and npm: examples/node's packages are
//  installed from the registry at test time (npm ci, gitignored).
#include "support.h"
#include "common/keys.h"
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PYTHON          "/usr/bin/python3"
#define PRODUCER        DROVER_SOURCE_DIR "/examples/producer.py"
#define PUSH_PRODUCER   DROVER_SOURCE_DIR "/examples/push_producer.py"
#define NODE_DIR        DROVER_SOURCE_DIR "/examples/node"
#define NODE_PRODUCER   NODE_DIR "/producer.mjs"
#define NODE_STATUS     NODE_DIR "/status.mjs"
#define RUN_TIMEOUT_MS  60000
#define NPM_TIMEOUT_MS  300000

//  A broker on fresh loopback ports, with CURVE: keys/ holds the
//  certificates of the broker, the sink, a producer and an agent (each
//  NAME and NAME_secret), allow/ the allow-lists (public files only).
typedef struct {
    char *dir;
    char frontend[64], intake[64], backend[64], sink[64];
    char broker_cert[512], sink_cert[512], producer_cert[512], agent_cert[512];
    keys_t *broker_keys, *producer_keys;    //  for the test's own STATUS
    pid_t broker, agent, sink_pid;
} site_t;

typedef struct {
    int status;             //  wait status
    char *out, *err;        //  what the program printed
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

//  Run argv (argv[0] a path) in cwd (NULL: ours), stdin from input (a path
//  or NULL for /dev/null), output kept in dir; returns exit status and
//  output.  The child runs without DROVER_INSECURE, so that plain text is
//  only what a test asks for.  Never hangs: still running after
//  timeout_ms fails the test.
static run_t
s_runv (const char *cwd, const char *dir, const char *input, char *const argv[], int timeout_ms)
{
    char out_path[512], err_path[512];
    snprintf (out_path, sizeof out_path, "%s/run.out", dir);
    snprintf (err_path, sizeof err_path, "%s/run.err", dir);
    pid_t pid = fork ();
    cr_assert_geq (pid, 0, "fork failed");
    if (pid == 0) {
        int in = open (input? input: "/dev/null", O_RDONLY);
        int out = open (out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open (err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || out < 0 || err < 0 || (cwd && chdir (cwd) != 0))
            _exit (126);
        dup2 (in, STDIN_FILENO);
        dup2 (out, STDOUT_FILENO);
        dup2 (err, STDERR_FILENO);
        unsetenv ("DROVER_INSECURE");
        execvp (argv[0], argv);
        _exit (127);
    }
    run_t run = { -1, NULL, NULL };
    if (!SUPPORT_WAIT (support_exited (pid, &run.status), timeout_ms)) {
        kill (pid, SIGKILL);
        waitpid (pid, NULL, 0);
        cr_assert_fail ("%s %s did not finish in %d ms", argv[0], argv[1], timeout_ms);
    }
    run.out = support_slurp (out_path);
    run.err = support_slurp (err_path);
    cr_assert (run.out && run.err);
    return run;
}

//  Run program (an interpreter) with args, NULL-terminated.
static run_t
s_run (const char *dir, const char *input, const char *program, const char *arg, ...)
{
    char *argv[48] = { (char *) program };
    size_t argc = 1;
    va_list ap;
    va_start (ap, arg);
    for (const char *a = arg; a && argc < 47; a = va_arg (ap, const char *))
        argv[argc++] = (char *) a;
    va_end (ap);
    return s_runv (NULL, dir, input, argv, RUN_TIMEOUT_MS);
}

//  Fail, not skip, when the interpreter lacks the modules: the examples are
//  part of what we ship and must be tested.
static void
s_require_python_modules (const char *dir)
{
    cr_assert_eq (access (PYTHON, X_OK), 0,
                  PYTHON " is missing: run scripts/deps.sh");
    run_t run = s_run (dir, NULL, PYTHON, "-c", "import zmq, msgpack", NULL);
    cr_assert (s_exited_with (&run, 0),
               PYTHON " cannot import zmq and msgpack: run scripts/deps.sh "
               "(it installs python3-zmq and python3-msgpack). Python said:\n%s", run.err);
    s_run_free (&run);
}

//  examples/node's packages, as package-lock.json pins them, from the
//  registry: `npm ci` unless node_modules is already newer than the lock.
static void
s_require_node_modules (const char *dir)
{
    struct stat lock, installed;
    cr_assert_eq (stat (NODE_DIR "/package-lock.json", &lock), 0);
    if (stat (NODE_DIR "/node_modules/.package-lock.json", &installed) == 0
    &&  installed.st_mtime >= lock.st_mtime)
        return;
    char *argv[] = { "npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", NULL };
    run_t run = s_runv (NODE_DIR, dir, NULL, argv, NPM_TIMEOUT_MS);
    cr_assert (s_exited_with (&run, 0), "npm ci in examples/node failed (node and npm "
               "installed? the npm registry reachable?):\n%s%s", run.out, run.err);
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

//  Ask the broker for a job's counters over a fresh CURVE REQ socket (a
//  REQ that lost a reply cannot send again).  Returns the reply (JOB or
//  ERROR) or NULL if none came within timeout_ms.
static msg_t *
s_status (const site_t *site, const char *job, int timeout_ms)
{
    zsock_t *sock = zsock_new (ZMQ_REQ);
    cr_assert_not_null (sock);
    zcert_apply (keys_cert (site->producer_keys), sock);
    zsock_set_curve_serverkey (sock, keys_public_txt (site->broker_keys));
    zsock_set_linger (sock, 0);
    zsock_set_rcvtimeo (sock, timeout_ms);
    cr_assert_eq (zsock_connect (sock, "%s", site->frontend), 0);
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
s_job_is (const site_t *site, const char *job, uint64_t submitted, const char *state)
{
    msg_t *reply = s_status (site, job, 500);
    bool match = reply && msg_command (reply) == MSG_JOB
              && msg_uint (reply, MSG_F_SUBMITTED) == submitted
              && msg_str (reply, MSG_F_STATE)
              && streq (msg_str (reply, MSG_F_STATE), state);
    msg_destroy (&reply);
    return match;
}

static bool
s_broker_answers (const site_t *site)
{
    msg_t *reply = s_status (site, "no-such-job", 200);
    bool answered = reply != NULL;
    msg_destroy (&reply);
    return answered;
}

static void
s_log_path (const site_t *site, const char *name, char *path, size_t size)
{
    snprintf (path, size, "%s/%s.log", site->dir, name);
}

//  A new keypair saved as dir/keys/name(_secret); its public certificate
//  also in dir/allow/list/ when list is not NULL.  Returns the keys.
static keys_t *
s_make_keys (const char *dir, const char *name, const char *list, char *path, size_t size)
{
    keys_t *keys = keys_new ();
    cr_assert_not_null (keys, "libzmq has CURVE");
    char err[256], allowed[512];
    snprintf (path, size, "%s/keys/%s", dir, name);
    cr_assert_eq (keys_save (keys, path, false, err, sizeof err), 0, "%s", err);
    if (list) {
        snprintf (allowed, sizeof allowed, "%s/allow/%s/%s", dir, list, name);
        cr_assert_eq (zcert_save_public (keys_cert (keys), allowed), 0);
    }
    return keys;
}

static void
s_site_keys (site_t *site)
{
    char path[512];
    const char *subdirs[] = { "keys", "allow", "allow/producers", "allow/agents", NULL };
    for (int i = 0; subdirs[i]; i++) {
        snprintf (path, sizeof path, "%s/%s", site->dir, subdirs[i]);
        cr_assert_eq (mkdir (path, 0700), 0, "mkdir %s", path);
    }
    site->broker_keys = s_make_keys (site->dir, "broker", NULL,
                                     site->broker_cert, sizeof site->broker_cert);
    site->producer_keys = s_make_keys (site->dir, "producer", "producers",
                                       site->producer_cert, sizeof site->producer_cert);
    keys_t *sink = s_make_keys (site->dir, "sink", NULL, site->sink_cert, sizeof site->sink_cert);
    keys_t *agent = s_make_keys (site->dir, "agent", "agents",
                                 site->agent_cert, sizeof site->agent_cert);
    keys_destroy (&sink);
    keys_destroy (&agent);
}

//  with_workers adds one agent and a sink, both with CURVE and the agent's
//  results sealed for the sink (jobs carry the sink's key).
static void
s_site_start (site_t *site, bool with_workers)
{
    site->dir = support_tmpdir ();
    cr_assert_not_null (site->dir);
    s_require_python_modules (site->dir);
    s_site_keys (site);
    snprintf (site->frontend, sizeof site->frontend, "%s", support_endpoint ());
    snprintf (site->intake, sizeof site->intake, "%s", support_endpoint ());
    snprintf (site->backend, sizeof site->backend, "%s", support_endpoint ());
    snprintf (site->sink, sizeof site->sink, "%s", support_endpoint ());
    char log[512], data[512], producers[512], agents[512];
    s_log_path (site, "broker", log, sizeof log);
    snprintf (data, sizeof data, "%s/broker-data", site->dir);
    snprintf (producers, sizeof producers, "%s/allow/producers", site->dir);
    snprintf (agents, sizeof agents, "%s/allow/agents", site->dir);
    site->broker = support_spawnv_secure (log, (char *[]) {
        "broker", "--frontend", site->frontend, "--intake", site->intake,
        "--backend", site->backend, "--data-dir", data, "--cert", site->broker_cert,
        "--allow-producers", producers, "--allow-agents", agents, NULL });
    cr_assert_gt (site->broker, 0);
    int status = 0;
    bool exited = false;
    if (!SUPPORT_WAIT (s_broker_answers (site)
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
    site->sink_pid = support_spawnv_secure (log, (char *[]) {
        "sink", "--bind", site->sink, "--output", results, "--cert", site->sink_cert,
        "--allow-agents", agents, NULL });
    s_log_path (site, "agent", log, sizeof log);
    site->agent = support_spawnv_secure (log, (char *[]) {
        "agent", "--broker", site->backend, "--name", "agent-1", "--threads", "2",
        "--cert", site->agent_cert, "--broker-key", site->broker_cert, NULL });
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
    keys_destroy (&site->broker_keys);
    keys_destroy (&site->producer_keys);
    support_rmdir (&site->dir);
}

//  The sink stored each of tuples 1..count of job exactly once.
static void
s_expect_stored_once (const site_t *site, const char *job, int count)
{
    char results[512];
    snprintf (results, sizeof results, "%s/results.jsonl", site->dir);
    char *text = support_slurp (results);
    cr_assert_not_null (text, "the sink wrote no %s", results);
    cr_expect_eq (s_count_lines (text), (size_t) count, "sink stored %zu results",
                  s_count_lines (text));
    for (int id = 1; id <= count; id++) {
        char prefix[300];
        snprintf (prefix, sizeof prefix, "{\"job\":\"%s\",\"tuple\":%d,", job, id);
        int seen = 0;
        for (const char *at = text; (at = strstr (at, prefix)); at++)
            seen++;
        cr_expect_eq (seen, 1, "tuple %d of %s stored %d times", id, job, seen);
    }
    free (text);
}

//  The flags every producer run against the site takes: our keypair and
//  the broker's key (CURVE), and the sink's key (sealed results).
#define CURVE_ARGS(site) "--cert", (site).producer_cert, "--broker-key", (site).broker_cert, \
                         "--sink-key", (site).sink_cert

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
    run_t run = s_run (dir, NULL, PYTHON, PRODUCER, "--help", NULL);
    cr_expect (s_exited_with (&run, 0), "producer.py --help: status %d", run.status);
    const char *flags[] = { "usage: producer.py", "--broker", "--job", "--handler", "--sink",
                            "--batch-size", "--wait", "--wait-timeout", "--timeout",
                            "--cert", "--broker-key", "--sink-key", "--insecure", NULL };
    for (int i = 0; flags[i]; i++)
        cr_expect_not_null (strstr (run.out, flags[i]), "no %s in:\n%s", flags[i], run.out);
    s_run_free (&run);

    run = s_run (dir, NULL, PYTHON, PUSH_PRODUCER, "--help", NULL);
    cr_expect (s_exited_with (&run, 0), "push_producer.py --help: status %d", run.status);
    const char *push_flags[] = { "usage: push_producer.py", "--intake", "--frontend",
                                 "--cert", "--broker-key", "--sink-key", "--insecure", NULL };
    for (int i = 0; push_flags[i]; i++)
        cr_expect_not_null (strstr (run.out, push_flags[i]), "no %s in:\n%s", push_flags[i], run.out);
    s_run_free (&run);

    //  Usage errors: exit 2 and say what is wrong, on stderr.
    run = s_run (dir, NULL, PYTHON, PRODUCER, "--handler", "echo", NULL);
    cr_expect (s_exited_with (&run, 2), "missing --job: status %d", run.status);
    cr_expect_not_null (strstr (run.err, "--job and --handler are required"), "%s", run.err);
    s_run_free (&run);
    run = s_run (dir, NULL, PYTHON, PRODUCER, "--job", "j", "--handler", "echo",
                 "--batch-size", "0", NULL);
    cr_expect (s_exited_with (&run, 2), "--batch-size 0: status %d", run.status);
    s_run_free (&run);
    run = s_run (dir, NULL, PYTHON, PRODUCER, "--job", "j", "--handler", "echo", "--wait",
                 "--no-close", NULL);
    cr_expect (s_exited_with (&run, 2), "--wait --no-close: status %d", run.status);
    s_run_free (&run);
    run = s_run (dir, NULL, PYTHON, PUSH_PRODUCER, "--job", "j", NULL);
    cr_expect (s_exited_with (&run, 2), "push without --handler: status %d", run.status);
    s_run_free (&run);
    //  Secure by default: plain text only with --insecure, keys in pairs.
    const char *scripts[] = { PRODUCER, PUSH_PRODUCER, NULL };
    for (int i = 0; scripts[i]; i++) {
        run = s_run (dir, NULL, PYTHON, scripts[i], "--job", "j", "--handler", "echo", NULL);
        cr_expect (s_exited_with (&run, 2), "%s without keys: status %d", scripts[i], run.status);
        cr_expect_not_null (strstr (run.err, "--insecure"), "%s", run.err);
        s_run_free (&run);
        run = s_run (dir, NULL, PYTHON, scripts[i], "--job", "j", "--handler", "echo",
                     "--broker-key", "0123456789012345678901234567890123456789", NULL);
        cr_expect (s_exited_with (&run, 2), "%s --broker-key alone: status %d",
                   scripts[i], run.status);
        s_run_free (&run);
    }
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
    run_t run = s_run (dir, input, PYTHON, PRODUCER, "--broker", support_endpoint (),
                       "--job", "bad", "--handler", "echo", "--timeout", "1", "--insecure", NULL);
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
    run_t run = s_run (dir, input, PYTHON, PRODUCER, "--broker", support_endpoint (),
                       "--job", "lost", "--handler", "echo", "--timeout", "0.3", "--insecure", NULL);
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
    run_t run = s_run (site.dir, input, PYTHON, PRODUCER, "--broker", site.frontend,
                       "--job", "five", "--handler", "echo", "--sink", site.sink,
                       "--batch-size", "2", CURVE_ARGS (site), NULL);
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
    cr_expect (s_job_is (&site, "five", 5, "closed"), "broker did not count 5 tuples");

    //  The job is closed: another SUBMIT gets ERROR JOB_CLOSED, exit 1.
    run = s_run (site.dir, input, PYTHON, PRODUCER, "--broker", site.frontend,
                 "--job", "five", "--handler", "echo", "--sink", site.sink, CURVE_ARGS (site), NULL);
    cr_expect (s_exited_with (&run, 1), "status %d", run.status);
    cr_expect_not_null (strstr (run.err, "JOB_CLOSED"), "%s", run.err);
    s_run_free (&run);

    //  --wait with no agent cannot complete: it gives up after --wait-timeout.
    run = s_run (site.dir, input, PYTHON, PRODUCER, "--broker", site.frontend,
                 "--job", "stuck", "--handler", "echo", "--sink", site.sink,
                 "--wait", "--wait-timeout", "1", "--quiet", CURVE_ARGS (site), NULL);
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

    run_t run = s_run (site.dir, input, PYTHON, PUSH_PRODUCER, "--intake", site.intake,
                       "--job", "pushed", "--handler", "echo", "--sink", site.sink,
                       "--batch-size", "3", CURVE_ARGS (site), NULL);
    cr_expect (s_exited_with (&run, 0), "status %d, stderr:\n%s", run.status, run.err);
    cr_expect_not_null (strstr (run.out, "PUSHED job=pushed tuples=7"), "%s", run.out);
    s_run_free (&run);
    //  No reply on the intake: the broker's STATUS is the only witness.
    cr_expect (SUPPORT_WAIT (s_job_is (&site, "pushed", 7, "closed"), 10000),
               "broker did not count 7 pushed tuples in a closed job");

    //  With --frontend the script confirms by itself.
    run = s_run (site.dir, input, PYTHON, PUSH_PRODUCER, "--intake", site.intake,
                 "--frontend", site.frontend, "--job", "confirmed", "--handler", "echo",
                 "--sink", site.sink, "--batch-size", "4", CURVE_ARGS (site), NULL);
    cr_expect (s_exited_with (&run, 0), "status %d, stderr:\n%s", run.status, run.err);
    cr_expect_not_null (strstr (run.out, "JOB job=confirmed state=closed submitted=7"),
                        "%s", run.out);
    s_run_free (&run);
    cr_expect (s_job_is (&site, "confirmed", 7, "closed"));
    s_site_stop (&site);
}

//  The whole path: producer.py --wait returns when the agent has run every
//  tuple and the sink has stored its sealed result.
Test (examples, producer_waits_until_complete, .timeout = 180)
{
    site_t site = { 0 };
    s_site_start (&site, true);
    char input[512];
    snprintf (input, sizeof input, "%s/ten.jsonl", site.dir);
    s_write_file (input, "[0]\n[1]\n[2]\n[3]\n[4]\n[5]\n[6]\n[7]\n[8]\n[9]\n");
    run_t run = s_run (site.dir, input, PYTHON, PRODUCER, "--broker", site.frontend,
                       "--job", "ten", "--handler", "echo", "--sink", site.sink,
                       "--batch-size", "4", "--wait", "--wait-timeout", "50",
                       CURVE_ARGS (site), NULL);
    cr_expect (s_exited_with (&run, 0), "status %d, stderr:\n%s", run.status, run.err);
    cr_expect_not_null (strstr (run.out, "JOB job=ten state=complete submitted=10 queued=0 "
                                         "running=0 done=10 failed=0"), "%s", run.out);
    s_run_free (&run);
    s_expect_stored_once (&site, "ten", 10);
    s_site_stop (&site);
}

//  A key not on the broker's --allow-producers list (here the agent's)
//  never completes the handshake: no reply, exit 1 with a hint, and
//  nothing reached the broker.
Test (examples, producer_key_not_allowed, .timeout = 120)
{
    site_t site = { 0 };
    s_site_start (&site, false);
    char input[512];
    snprintf (input, sizeof input, "%s/one.jsonl", site.dir);
    s_write_file (input, "[1]\n");
    run_t run = s_run (site.dir, input, PYTHON, PRODUCER, "--broker", site.frontend,
                       "--job", "refused", "--handler", "echo", "--timeout", "1",
                       "--cert", site.agent_cert, "--broker-key", site.broker_cert, NULL);
    cr_expect (s_exited_with (&run, 1), "status %d", run.status);
    cr_expect_not_null (strstr (run.err, "--allow-producers"), "%s", run.err);
    s_run_free (&run);
    msg_t *reply = s_status (&site, "refused", 2000);
    cr_expect (reply && msg_command (reply) == MSG_ERROR, "the broker knows job refused");
    msg_destroy (&reply);
    s_site_stop (&site);
}

Test (examples, node_help_and_usage_errors, .timeout = 360)
{
    char *dir = support_tmpdir ();
    s_require_node_modules (dir);
    run_t run = s_run (dir, NULL, "node", NODE_PRODUCER, "--help", NULL);
    cr_expect (s_exited_with (&run, 0), "producer.mjs --help: status %d\n%s", run.status, run.err);
    const char *flags[] = { "usage: producer.mjs", "--broker", "--job", "--handler", "--sink",
                            "--sink-key", "--batch-size", "--wait", "--cert", "--broker-key",
                            "--insecure", NULL };
    for (int i = 0; flags[i]; i++)
        cr_expect_not_null (strstr (run.out, flags[i]), "no %s in:\n%s", flags[i], run.out);
    s_run_free (&run);
    run = s_run (dir, NULL, "node", NODE_STATUS, "--help", NULL);
    cr_expect (s_exited_with (&run, 0), "status.mjs --help: status %d", run.status);
    cr_expect_not_null (strstr (run.out, "usage: status.mjs"), "%s", run.out);
    cr_expect_not_null (strstr (run.out, "--json"), "%s", run.out);
    s_run_free (&run);

    run = s_run (dir, NULL, "node", NODE_PRODUCER, "--handler", "echo", "--insecure", NULL);
    cr_expect (s_exited_with (&run, 2), "missing --job: status %d", run.status);
    cr_expect_not_null (strstr (run.err, "--job and --handler are required"), "%s", run.err);
    s_run_free (&run);
    run = s_run (dir, NULL, "node", NODE_PRODUCER, "--job", "j", "--handler", "echo", NULL);
    cr_expect (s_exited_with (&run, 2), "no keys: status %d", run.status);
    cr_expect_not_null (strstr (run.err, "--insecure"), "%s", run.err);
    s_run_free (&run);
    run = s_run (dir, NULL, "node", NODE_STATUS, "j", "--broker-key",
                 "0123456789012345678901234567890123456789", NULL);
    cr_expect (s_exited_with (&run, 2), "--broker-key alone: status %d", run.status);
    s_run_free (&run);
    run = s_run (dir, NULL, "node", NODE_STATUS, "--insecure", NULL);
    cr_expect (s_exited_with (&run, 2), "no JOB: status %d", run.status);
    s_run_free (&run);
    support_rmdir (&dir);
}

//  The Node producer over CURVE, results sealed for the sink: every tuple
//  stored once, and status.mjs reports what the broker counted, with the
//  keypair from a certificate file or from DROVER_SECRET_KEY.
Test (examples, node_producer_and_status_with_curve, .timeout = 360)
{
    site_t site = { 0 };
    s_site_start (&site, true);
    s_require_node_modules (site.dir);
    char input[512];
    snprintf (input, sizeof input, "%s/tuples.jsonl", site.dir);
    FILE *file = fopen (input, "w");
    cr_assert_not_null (file);
    for (int i = 1; i <= 25; i++)
        fprintf (file, "[\"node\", %d]\n", i);
    fclose (file);

    run_t run = s_run (site.dir, input, "node", NODE_PRODUCER, "--broker", site.frontend,
                       "--job", "node", "--handler", "echo", "--sink", site.sink,
                       "--batch-size", "10", "--wait", "--wait-timeout", "60",
                       CURVE_ARGS (site), NULL);
    cr_expect (s_exited_with (&run, 0), "status %d, stderr:\n%s", run.status, run.err);
    cr_expect_not_null (strstr (run.out, "ACCEPTED job=node batch=3 first=21 count=5 ids=21..25\n"),
                        "%s", run.out);
    cr_expect_not_null (strstr (run.out, "JOB job=node state=complete submitted=25 queued=0 "
                                         "running=0 done=25 failed=0"), "%s", run.out);
    s_run_free (&run);
    s_expect_stored_once (&site, "node", 25);
    cr_expect (s_job_is (&site, "node", 25, "complete"));

    setenv ("DROVER_SECRET_KEY", zcert_secret_txt (keys_cert (site.producer_keys)), 1);
    run = s_run (site.dir, NULL, "node", NODE_STATUS, "--broker", site.frontend,
                 "--broker-key", keys_public_txt (site.broker_keys), "--json", "node", NULL);
    unsetenv ("DROVER_SECRET_KEY");
    cr_expect (s_exited_with (&run, 0), "status %d, stderr:\n%s", run.status, run.err);
    cr_expect_not_null (strstr (run.out, "{\"job\":\"node\",\"state\":\"complete\","
                                         "\"submitted\":25,"), "%s", run.out);
    s_run_free (&run);
    run = s_run (site.dir, NULL, "node", NODE_STATUS, "--broker", site.frontend,
                 "--cert", site.producer_cert, "--broker-key", site.broker_cert, "nope", NULL);
    cr_expect (s_exited_with (&run, 1), "unknown job: status %d", run.status);
    cr_expect_not_null (strstr (run.err, "UNKNOWN_JOB"), "%s", run.err);
    s_run_free (&run);
    s_site_stop (&site);
}

//  Refused by CURVE: a key not on the allow-list, or the wrong broker key.
//  No reply, exit 1 with a hint, nothing queued.
Test (examples, node_key_not_allowed, .timeout = 360)
{
    site_t site = { 0 };
    s_site_start (&site, false);
    s_require_node_modules (site.dir);
    run_t run = s_run (site.dir, NULL, "node", NODE_STATUS, "--broker", site.frontend,
                       "--cert", site.agent_cert, "--broker-key", site.broker_cert,
                       "--timeout", "1", "any", NULL);
    cr_expect (s_exited_with (&run, 1), "status %d", run.status);
    cr_expect_not_null (strstr (run.err, "--allow-producers"), "%s", run.err);
    s_run_free (&run);
    char input[512];
    snprintf (input, sizeof input, "%s/one.jsonl", site.dir);
    s_write_file (input, "[1]\n");
    run = s_run (site.dir, input, "node", NODE_PRODUCER, "--broker", site.frontend,
                 "--job", "refused", "--handler", "echo", "--timeout", "1",
                 "--cert", site.producer_cert, "--broker-key", site.producer_cert, NULL);
    cr_expect (s_exited_with (&run, 1), "status %d", run.status);
    cr_expect_not_null (strstr (run.err, "no reply"), "%s", run.err);
    s_run_free (&run);
    msg_t *reply = s_status (&site, "refused", 2000);
    cr_expect (reply && msg_command (reply) == MSG_ERROR, "the broker knows job refused");
    msg_destroy (&reply);
    s_site_stop (&site);
}
