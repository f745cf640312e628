//  support_examples.c -- the example producers' test site and runner
//  (support_examples.h).
#include "support_examples.h"
#include "support.h"
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

void
examples_run_free (run_t *run)
{
    free (run->out);
    free (run->err);
    run->out = run->err = NULL;
}

size_t
examples_count_lines (const char *text)
{
    size_t lines = 0;
    for (; *text; text++)
        lines += *text == '\n';
    return lines;
}

bool
examples_exited_with (const run_t *run, int code)
{
    return WIFEXITED (run->status) && WEXITSTATUS (run->status) == code;
}

//  Run argv (argv[0] a path) in cwd (NULL: ours), stdin from input (a path
//  or NULL for /dev/null), output kept in dir; returns exit status and
//  output.  The child runs without DROVER_INSECURE, so that plain text is
//  only what a test asks for.  Never hangs: still running after
//  timeout_ms fails the test.
run_t
examples_runv (const char *cwd, const char *dir, const char *input, char *const argv[],
               int timeout_ms)
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
run_t
examples_run (const char *dir, const char *input, const char *program, const char *arg, ...)
{
    char *argv[48] = { (char *) program };
    size_t argc = 1;
    va_list ap;
    va_start (ap, arg);
    for (const char *a = arg; a && argc < 47; a = va_arg (ap, const char *))
        argv[argc++] = (char *) a;
    va_end (ap);
    return examples_runv (NULL, dir, input, argv, RUN_TIMEOUT_MS);
}

void
examples_require_python_modules (const char *dir)
{
    cr_assert_eq (access (PYTHON, X_OK), 0,
                  PYTHON " is missing: run scripts/deps.sh");
    run_t run = examples_run (dir, NULL, PYTHON, "-c", "import zmq, msgpack", NULL);
    cr_assert (examples_exited_with (&run, 0),
               PYTHON " cannot import zmq and msgpack: run scripts/deps.sh "
               "(it installs python3-zmq and python3-msgpack). Python said:\n%s", run.err);
    examples_run_free (&run);
}

//  examples/node's packages, as package-lock.json pins them, from the
//  registry: `npm ci` unless node_modules is already newer than the lock.
void
examples_require_node_modules (const char *dir)
{
    struct stat lock, installed;
    cr_assert_eq (stat (NODE_DIR "/package-lock.json", &lock), 0);
    if (stat (NODE_DIR "/node_modules/.package-lock.json", &installed) == 0
    &&  installed.st_mtime >= lock.st_mtime)
        return;
    char *argv[] = { "npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", NULL };
    run_t run = examples_runv (NODE_DIR, dir, NULL, argv, NPM_TIMEOUT_MS);
    cr_assert (examples_exited_with (&run, 0), "npm ci in examples/node failed (node and npm "
               "installed? the npm registry reachable?):\n%s%s", run.out, run.err);
    examples_run_free (&run);
}

void
examples_write_file (const char *path, const char *text)
{
    FILE *file = fopen (path, "w");
    cr_assert_not_null (file, "cannot write %s", path);
    fputs (text, file);
    fclose (file);
}

//  Ask the broker for a job's counters over a fresh CURVE REQ socket (a
//  REQ that lost a reply cannot send again).  Returns the reply (JOB or
//  ERROR) or NULL if none came within timeout_ms.
msg_t *
examples_status (const site_t *site, const char *job, int timeout_ms)
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
bool
examples_job_is (const site_t *site, const char *job, uint64_t submitted, const char *state)
{
    msg_t *reply = examples_status (site, job, 500);
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
    msg_t *reply = examples_status (site, "no-such-job", 200);
    bool answered = reply != NULL;
    msg_destroy (&reply);
    return answered;
}

void
examples_log_path (const site_t *site, const char *name, char *path, size_t size)
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
void
examples_site_start (site_t *site, bool with_workers)
{
    site->dir = support_tmpdir ();
    cr_assert_not_null (site->dir);
    examples_require_python_modules (site->dir);
    s_site_keys (site);
    snprintf (site->frontend, sizeof site->frontend, "%s", support_endpoint ());
    snprintf (site->intake, sizeof site->intake, "%s", support_endpoint ());
    snprintf (site->backend, sizeof site->backend, "%s", support_endpoint ());
    snprintf (site->sink, sizeof site->sink, "%s", support_endpoint ());
    char log[512], data[512], producers[512], agents[512];
    examples_log_path (site, "broker", log, sizeof log);
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
    examples_log_path (site, "sink", log, sizeof log);
    site->sink_pid = support_spawnv_secure (log, (char *[]) {
        "sink", "--bind", site->sink, "--output", results, "--cert", site->sink_cert,
        "--allow-agents", agents, NULL });
    examples_log_path (site, "agent", log, sizeof log);
    site->agent = support_spawnv_secure (log, (char *[]) {
        "agent", "--broker", site->backend, "--name", "agent-1", "--threads", "2",
        "--cert", site->agent_cert, "--broker-key", site->broker_cert, NULL });
    cr_assert (site->sink_pid > 0 && site->agent > 0);
}

void
examples_site_stop (site_t *site)
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
void
examples_expect_stored_once (const site_t *site, const char *job, int count)
{
    char results[512];
    snprintf (results, sizeof results, "%s/results.jsonl", site->dir);
    char *text = support_slurp (results);
    cr_assert_not_null (text, "the sink wrote no %s", results);
    cr_expect_eq (examples_count_lines (text), (size_t) count, "sink stored %zu results",
                  examples_count_lines (text));
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

