//  test_daemon_http.c -- each daemon with --http, black-box: /healthz and
//  /readyz before and after it is ready (a broker waiting for its store, a
//  sink waiting for its output, an agent without a broker), /metrics that
//  parses (prometheus_client's parser, tests/prometheus_query.py) and
//  moves as a job runs, the token a broker with a keypair asks for, and
//  loopback only unless told.
#include <criterion/criterion.h>

#include "support.h"
#include "support_http.h"
#include "support_sink.h"

#include <czmq.h>
#include <fcntl.h>
#include <lmdb.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define QUERY       DROVER_SOURCE_DIR "/tests/prometheus_query.py"
#define TOKEN       "a-token-of-twenty-chars"
#define START_MS    20000
#define JOB         "tricky \"job\" \\ name"
#define JOB_LABEL   "job=\"tricky \\\"job\\\" \\\\ name\""
#define TUPLES      40

static void
s_cleanup (void)
{
    support_kill_started ();
}

TestSuite (daemon_http, .fini = s_cleanup, .timeout = 240);

//  `drover ARGS` logging to dir/name.log, killed at the end if a test fails.
static pid_t
s_start (const char *dir, const char *name, char *const argv[])
{
    char log[512];
    snprintf (log, sizeof log, "%s/%s.log", dir, name);
    pid_t pid = support_spawnv (log, argv);
    cr_assert_gt (pid, 0);
    support_started (pid);
    return pid;
}

static char *
s_address (int port)
{
    static char text[4][32];
    static int next;
    char *address = text[next++ % 4];
    snprintf (address, 32, "127.0.0.1:%d", port);
    return address;
}

//  The status of GET path, waiting for the server to answer at all.
static int
s_status_once_up (int port, const char *path)
{
    int status = -1;
    cr_assert (SUPPORT_WAIT ((status = support_http_get (port, path, NULL, NULL)) > 0,
                             START_MS), "nothing answers on port %d", port);
    return status;
}

static bool
s_status_is (int port, const char *path, int status)
{
    return support_http_get (port, path, NULL, NULL) == status;
}

//  The value of the sample whose line starts with series ("name{labels}"),
//  or NAN.
static double
s_value (const char *text, const char *series)
{
    size_t length = strlen (series);
    for (const char *line = text; line && *line; line = strchr (line, '\n')) {
        line += *line == '\n';
        if (!strncmp (line, series, length) && line[length] == ' ')
            return strtod (line + length + 1, NULL);
    }
    return NAN;
}

static double
s_metric (int port, const char *series)
{
    char *text = NULL;
    double value = support_http_get (port, "/metrics", NULL, &text) == 200?
                   s_value (text, series): NAN;
    free (text);
    return value;
}

//  prometheus_query.py on port's /metrics: one answer line per query.
static char *
s_query (const char *dir, int port, const char *queries)
{
    char *text = NULL, path[512], query_path[512], command[1400];
    cr_assert_eq (support_http_get (port, "/metrics", NULL, &text), 200);
    snprintf (path, sizeof path, "%s/metrics-%d.txt", dir, port);
    snprintf (query_path, sizeof query_path, "%s/queries-%d.txt", dir, port);
    FILE *file = fopen (path, "w");
    fputs (text, file);
    fclose (file);
    free (text);
    file = fopen (query_path, "w");
    fputs (queries, file);
    fclose (file);
    snprintf (command, sizeof command, "/usr/bin/python3 '%s' '%s' '%s' 2>&1", QUERY, path,
              query_path);
    FILE *python = popen (command, "r");
    cr_assert_not_null (python);
    char answer[4096] = "";
    size_t size = fread (answer, 1, sizeof answer - 1, python);
    answer[size] = 0;
    cr_assert_eq (pclose (python), 0, "/metrics of port %d does not parse: %s", port, answer);
    return strdup (answer);
}

//  ---------------------------------------------------------------------
//  Readiness

//  The broker opens its store before it binds: while another process
//  holds the store's write lock, /healthz and /readyz say starting.
Test (daemon_http, broker_ready_once_its_store_is_open)
{
    char *dir = support_tmpdir ();
    support_started_dir (dir);
    char data[512];
    snprintf (data, sizeof data, "%s/store", dir);
    mkdir (data, 0700);
    MDB_env *env;
    MDB_txn *txn;
    cr_assert_eq (mdb_env_create (&env), 0);
    cr_assert_eq (mdb_env_open (env, data, 0, 0600), 0);
    cr_assert_eq (mdb_txn_begin (env, NULL, 0, &txn), 0);
    int port = support_free_port ();
    pid_t broker = s_start (dir, "broker", (char *[]) { "broker", "--data-dir", data,
        "--frontend", (char *) support_endpoint (), "--intake", (char *) support_endpoint (),
        "--backend", (char *) support_endpoint (), "--http", s_address (port), NULL });
    cr_expect_eq (s_status_once_up (port, "/healthz"), 503);
    char *body = NULL;
    cr_expect_eq (support_http_get (port, "/readyz", NULL, &body), 503);
    cr_expect_str_eq (body, "starting\n");
    free (body);
    cr_expect_eq (support_http_get (port, "/metrics", NULL, NULL), 404, "nothing published");
    mdb_txn_abort (txn);
    mdb_env_close (env);
    cr_expect (SUPPORT_WAIT (s_status_is (port, "/readyz", 200), START_MS));
    cr_expect_eq (support_http_get (port, "/healthz", NULL, NULL), 200);
    cr_expect (s_metric (port, "drover_agents_connected") == 0);
    cr_expect_eq (support_stop (broker, SIGTERM, 10000), 0);
    support_rmdir (&dir);
}

//  A sink writing into a named pipe waits for its reader to open it.
Test (daemon_http, sink_ready_once_its_output_opens)
{
    char *dir = support_tmpdir ();
    support_started_dir (dir);
    char fifo[512];
    snprintf (fifo, sizeof fifo, "%s/results.fifo", dir);
    cr_assert_eq (mkfifo (fifo, 0600), 0);
    int port = support_free_port ();
    pid_t sink = s_start (dir, "sink", (char *[]) { "sink", "--store", "memory", "--output",
        fifo, "--bind", (char *) support_endpoint (), "--http", s_address (port), NULL });
    cr_expect_eq (s_status_once_up (port, "/readyz"), 503);
    cr_expect_eq (support_http_get (port, "/healthz", NULL, NULL), 503);
    int reader = open (fifo, O_RDONLY | O_NONBLOCK);
    cr_assert_geq (reader, 0);
    cr_expect (SUPPORT_WAIT (s_status_is (port, "/readyz", 200), START_MS));
    cr_expect_eq (support_http_get (port, "/healthz", NULL, NULL), 200);
    cr_expect_eq (support_stop (sink, SIGTERM, 10000), 0);
    close (reader);
    support_rmdir (&dir);
}

//  A sink whose output refuses a batch is alive but not ready.
Test (daemon_http, sink_not_ready_when_output_fails)
{
    rig_t *rig = rig_new ();
    int port = support_free_port ();
    rig_spawn (rig, "--store", "memory", "--output", "/dev/full", "--http", s_address (port),
               NULL);
    cr_expect (SUPPORT_WAIT (s_status_is (port, "/readyz", 200), START_MS));
    msg_ref_t refs[] = { { 1, 1 }, { 2, 1 } };
    msg_t *reply = rig_send_ok (rig, "full", refs, 2);
    rig_expect_error (reply, DRV_E_INTERNAL);
    msg_destroy (&reply);
    cr_expect (SUPPORT_WAIT (s_status_is (port, "/readyz", 503), START_MS));
    char *body = NULL;
    support_http_get (port, "/readyz", NULL, &body);
    cr_expect (strstr (body, "/dev/full") && strstr (body, "No space left"), "%s", body);
    free (body);
    cr_expect_eq (support_http_get (port, "/healthz", NULL, NULL), 200);
    cr_expect_eq (s_metric (port, "drover_output_write_errors_total"), 1);
    cr_expect_eq (s_metric (port, "drover_results_stored_total"), 0);
    rig_destroy (&rig);
}

//  An agent is ready once a broker welcomed it and its workers are up.
Test (daemon_http, agent_ready_once_welcomed)
{
    char *dir = support_tmpdir ();
    support_started_dir (dir);
    char backend[64];
    snprintf (backend, sizeof backend, "%s", support_endpoint ());
    int port = support_free_port ();
    pid_t agent = s_start (dir, "agent", (char *[]) { "agent", "--broker", backend,
        "--processes", "1", "--threads", "1", "--http", s_address (port), NULL });
    cr_expect (SUPPORT_WAIT (s_status_is (port, "/healthz", 200), START_MS));
    char *body = NULL;
    cr_expect_eq (support_http_get (port, "/readyz", NULL, &body), 503);
    cr_expect (strstr (body, "no broker session"), "%s", body);
    free (body);
    cr_expect_eq (s_metric (port, "drover_broker_connected"), 0);
    pid_t broker = s_start (dir, "broker", (char *[]) { "broker", "--store", "memory",
        "--frontend", (char *) support_endpoint (), "--intake", (char *) support_endpoint (),
        "--backend", backend, NULL });
    cr_expect (SUPPORT_WAIT (s_status_is (port, "/readyz", 200), START_MS));
    cr_expect_eq (s_metric (port, "drover_broker_connected"), 1);
    cr_expect_eq (s_metric (port, "drover_workers{state=\"up\"}"), 1);
    cr_expect_eq (support_stop (agent, SIGTERM, 10000), 0);
    cr_expect_eq (support_stop (broker, SIGTERM, 10000), 0);
    support_rmdir (&dir);
}

//  ---------------------------------------------------------------------
//  Metrics as a job runs

typedef struct {
    char *dir;
    char frontend[64], backend[64], sink[64];
    int broker_port, sink_port, agent_port;
    pid_t broker, sink_pid, agent;
} site_t;

static void
s_site_start (site_t *site)
{
    site->dir = support_tmpdir ();
    support_started_dir (site->dir);
    snprintf (site->frontend, sizeof site->frontend, "%s", support_endpoint ());
    snprintf (site->backend, sizeof site->backend, "%s", support_endpoint ());
    snprintf (site->sink, sizeof site->sink, "%s", support_endpoint ());
    site->broker_port = support_free_port ();
    site->sink_port = support_free_port ();
    site->agent_port = support_free_port ();
    char output[512];
    snprintf (output, sizeof output, "%s/results.jsonl", site->dir);
    site->broker = s_start (site->dir, "broker", (char *[]) { "broker", "--store", "memory",
        "--frontend", site->frontend, "--intake", (char *) support_endpoint (),
        "--backend", site->backend, "--http", s_address (site->broker_port), NULL });
    site->sink_pid = s_start (site->dir, "sink", (char *[]) { "sink", "--store", "memory",
        "--bind", site->sink, "--output", output, "--http", s_address (site->sink_port),
        NULL });
    site->agent = s_start (site->dir, "agent", (char *[]) { "agent", "--broker",
        site->backend, "--processes", "1", "--threads", "2", "--label", "site=dc1,zone=dmz",
        "--http", s_address (site->agent_port), NULL });
    int ports[] = { site->broker_port, site->sink_port, site->agent_port };
    for (int i = 0; i < 3; i++)
        cr_assert (SUPPORT_WAIT (s_status_is (ports[i], "/readyz", 200), START_MS),
                   "port %d not ready", ports[i]);
}

//  TUPLES sleep tuples of ms each, as JOB.
static void
s_submit (site_t *site, int ms)
{
    char tuples[512];
    snprintf (tuples, sizeof tuples, "%s/tuples.jsonl", site->dir);
    FILE *file = fopen (tuples, "w");
    for (int i = 0; i < TUPLES; i++)
        fprintf (file, "[%d]\n", ms);
    fclose (file);
    pid_t submit = s_start (site->dir, "submit", (char *[]) { "submit", "--broker",
        site->frontend, "--job", JOB, "--handler", "sleep", "--sink", site->sink, tuples,
        NULL });
    int status;
    cr_assert (SUPPORT_WAIT (support_exited (submit, &status), START_MS));
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0);
}

static double
s_done (site_t *site)
{
    return s_metric (site->broker_port, "drover_tuples_total{" JOB_LABEL ",state=\"done\"}");
}

Test (daemon_http, metrics_move_as_a_job_runs)
{
    site_t site;
    s_site_start (&site);
    //  The agent is ready once welcomed; the broker's gauge follows at its
    //  exporter's next tick.
    cr_expect (SUPPORT_WAIT (s_metric (site.broker_port, "drover_agents_connected") == 1,
                             START_MS));
    cr_expect (isnan (s_done (&site)), "no job yet");
    s_submit (&site, 150);
    double first = NAN;
    cr_assert (SUPPORT_WAIT ((first = s_done (&site)) > 0, START_MS));
    cr_expect_lt (first, TUPLES, "the job ran before a sample saw it half done");
    cr_assert (SUPPORT_WAIT (s_done (&site) == TUPLES, 60000));
    cr_expect (SUPPORT_WAIT (s_metric (site.sink_port, "drover_results_stored_total")
                             == TUPLES, START_MS));
    cr_expect (SUPPORT_WAIT (s_metric (site.agent_port,
                                       "drover_agent_tuples_total{outcome=\"ok\"}") == TUPLES,
                             START_MS));
    cr_expect_eq (s_metric (site.broker_port, "drover_tuples_queued{" JOB_LABEL "}"), 0);
    cr_expect_eq (s_metric (site.broker_port, "drover_tuples_dispatched_total"), TUPLES);
    cr_expect_eq (s_metric (site.sink_port, "drover_result_latency_seconds_count"), TUPLES);
    cr_expect_eq (s_metric (site.agent_port, "drover_handler_seconds_count"), TUPLES);
    //  An independent parser reads all three, the job's name back as given.
    char *answer = s_query (site.dir, site.broker_port,
        "drover_tuples_total\tjob=" JOB "\tstate=done\n"
        "drover_tuples_total\tjob=" JOB "\tstate=submitted\n"
        "drover_store_commit_seconds_count\n");
    cr_expect (!strncmp (answer, "40.0\n40.0\n", 10), "%s", answer);
    free (answer);
    answer = s_query (site.dir, site.sink_port, "drover_duplicates_dropped_total\n");
    cr_expect_str_eq (answer, "0.0\n");
    free (answer);
    //  Adaptive slots: the threads' worth (2) and what the measured rate adds.
    answer = s_query (site.dir, site.agent_port, "drover_slots\n");
    double slots = strtod (answer, NULL);
    cr_expect (slots >= 2 && slots <= 16384, "%s", answer);
    free (answer);
    //  The dashboard's JSON names the job, escaped.
    char *state = NULL;
    cr_expect_eq (support_http_get (site.broker_port, "/api/state", NULL, &state), 200);
    cr_expect (strstr (state, "\"name\":\"tricky \\\"job\\\" \\\\ name\""), "%s", state);
    //  ... and the agent's labels.
    cr_expect (strstr (state, "\"labels\":{\"site\":\"dc1\",\"zone\":\"dmz\"}"), "%s", state);
    free (state);
    //  The shutdown line counts what /metrics did: one source.
    cr_expect_eq (support_stop (site.sink_pid, SIGTERM, 10000), 0);
    char log[512];
    snprintf (log, sizeof log, "%s/sink.log", site.dir);
    char *text = support_slurp (log);
    cr_expect (strstr (text, "sink shut down: 40 results stored"), "%s", text);
    free (text);
    support_stop (site.agent, SIGTERM, 10000);
    support_stop (site.broker, SIGTERM, 10000);
    support_rmdir (&site.dir);
}

//  ---------------------------------------------------------------------
//  Who may ask

static int
s_keygen (const char *dir)
{
    char log[512];
    snprintf (log, sizeof log, "%s/keygen.log", dir);
    pid_t pid = support_spawn (log, "keygen", "--dir", dir, "broker", NULL);
    int status = -1;
    SUPPORT_WAIT (support_exited (pid, &status), START_MS);
    return status;
}

//  `drover broker` with a keypair and extra (NULL-terminated, up to 4).
static pid_t
s_keyed_broker (const char *dir, int port, char *const extra[])
{
    char cert[512];
    snprintf (cert, sizeof cert, "%s/broker", dir);
    char *argv[32] = { "broker", "--store", "memory", "--cert", cert, "--allow-producers",
        "any", "--allow-agents", "any", "--frontend", (char *) support_endpoint (),
        "--intake", (char *) support_endpoint (), "--backend", (char *) support_endpoint (),
        "--http", s_address (port) };
    size_t argc = 17;
    for (size_t i = 0; extra[i]; i++)
        argv[argc++] = extra[i];
    return s_start (dir, "broker", argv);
}

static int
s_exit_status (pid_t pid)
{
    int status = -1;
    cr_assert (SUPPORT_WAIT (support_exited (pid, &status), START_MS), "still running");
    return WIFEXITED (status)? WEXITSTATUS (status): -1;
}

Test (daemon_http, a_broker_with_keys_asks_for_a_token)
{
    char *dir = support_tmpdir ();
    support_started_dir (dir);
    cr_assert_eq (s_keygen (dir), 0);
    int port = support_free_port ();
    //  No token, or one too short: a usage error, before anything listens.
    cr_expect_eq (s_exit_status (s_keyed_broker (dir, port, (char *[]) { NULL })), 2);
    cr_expect_eq (s_exit_status (s_keyed_broker (dir, port,
                  (char *[]) { "--http-token", "short", NULL })), 2);
    char log[512];
    snprintf (log, sizeof log, "%s/broker.log", dir);
    char *text = support_slurp (log);
    cr_expect (strstr (text, "needs --http-token"), "%s", text);
    free (text);
    //  The token from a file.
    char token_file[512];
    snprintf (token_file, sizeof token_file, "%s/token", dir);
    FILE *file = fopen (token_file, "w");
    fprintf (file, "  %s \n", TOKEN);
    fclose (file);
    pid_t broker = s_keyed_broker (dir, port,
                                   (char *[]) { "--http-token-file", token_file, NULL });
    cr_assert (SUPPORT_WAIT (s_status_is (port, "/readyz", 200), START_MS));
    cr_expect_eq (support_http_get (port, "/healthz", NULL, NULL), 200);
    const char *paths[] = { "/metrics", "/", "/api/state" };
    for (int i = 0; i < 3; i++) {
        char with[64];
        snprintf (with, sizeof with, "%s?token=%s", paths[i], TOKEN);
        cr_expect_eq (support_http_get (port, paths[i], NULL, NULL), 401, "%s", paths[i]);
        cr_expect_eq (support_http_get (port, paths[i], "Authorization: Bearer " TOKEN,
                                        NULL), 200, "%s", paths[i]);
        cr_expect_eq (support_http_get (port, with, NULL, NULL), 200, "%s", with);
        cr_expect_eq (support_http_get (port, paths[i], "Authorization: Bearer wrong-token"
                                        "-of-length", NULL), 401, "%s", paths[i]);
    }
    cr_expect_eq (support_stop (broker, SIGTERM, 10000), 0);
    support_rmdir (&dir);
}

//  --http PORT listens on 127.0.0.1 only; 127.0.0.2 (loopback too, but
//  another address) finds nothing.
Test (daemon_http, loopback_unless_told)
{
    char *dir = support_tmpdir ();
    support_started_dir (dir);
    int port = support_free_port ();
    char bare[16];
    snprintf (bare, sizeof bare, "%d", port);
    pid_t sink = s_start (dir, "sink", (char *[]) { "sink", "--store", "memory", "--output",
        "/dev/null", "--bind", (char *) support_endpoint (), "--http", bare, NULL });
    cr_assert (SUPPORT_WAIT (s_status_is (port, "/readyz", 200), START_MS));
    support_http_t reply;
    cr_expect_eq (support_http ("127.0.0.2", port, "GET", "/healthz", NULL, &reply), -1);
    cr_expect_eq (support_stop (sink, SIGTERM, 10000), 0);
    //  A bad address is a usage error.
    pid_t bad = s_start (dir, "bad", (char *[]) { "sink", "--store", "memory", "--output",
        "/dev/null", "--http", "localhost:http", NULL });
    cr_expect_eq (s_exit_status (bad), 2);
    support_rmdir (&dir);
}
