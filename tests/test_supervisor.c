//  test_supervisor.c -- black-box tests of the agent's P x T model with real
//  processes: a `drover broker`, a `drover sink`, a `drover agent` with its
//  worker processes, tuples from `drover submit`.  Concurrency is read from
//  the sink's records (started_us, duration_us), the broker's counters come
//  from STATUS over a real REQ socket, processes from /proc.
#include "support.h"
#include "agent/supervisor.h"
#include "proto/msg.h"
#include "proto/wire.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define WAIT_MS 20000

typedef struct {
    char *dir;
    char frontend[64], intake[64], backend[64], sink[64];
    char results[512], agent_log[512];
    pid_t broker, sink_pid, agent, submit;
} cluster_t;

TestSuite (supervisor, .fini = support_kill_started);

static bool
s_log_has (const char *path, const char *text)
{
    char *log = support_slurp (path);
    bool found = log && strstr (log, text);
    free (log);
    return found;
}

static void
s_start (cluster_t *c, const char *processes, const char *threads)
{
    memset (c, 0, sizeof *c);
    //  Worker processes orphaned by their agent come to this test process,
    //  not to Criterion's runner (a subreaper, which leaks a record for a
    //  pid it did not start: LeakSanitizer fails the run); s_stop reaps them.
    cr_assert_eq (prctl (PR_SET_CHILD_SUBREAPER, 1), 0);
    c->dir = support_tmpdir ();
    snprintf (c->frontend, sizeof c->frontend, "%s", support_endpoint ());
    snprintf (c->intake, sizeof c->intake, "%s", support_endpoint ());
    snprintf (c->backend, sizeof c->backend, "%s", support_endpoint ());
    snprintf (c->sink, sizeof c->sink, "%s", support_endpoint ());
    snprintf (c->results, sizeof c->results, "%s/results.jsonl", c->dir);
    snprintf (c->agent_log, sizeof c->agent_log, "%s/agent.log", c->dir);
    char log[600];
    snprintf (log, sizeof log, "%s/broker.log", c->dir);
    c->broker = support_spawn (log, "broker", "--store", "memory", "--frontend", c->frontend,
                               "--intake", c->intake, "--backend", c->backend, NULL);
    snprintf (log, sizeof log, "%s/sink.log", c->dir);
    c->sink_pid = support_spawn (log, "sink", "--bind", c->sink, "--output", c->results, NULL);
    c->agent = support_spawn (c->agent_log, "agent", "--broker", c->backend, "--name", "pxt",
                              "--processes", processes, "--threads", threads,
                              "--grace", "20s", "--log-level", "debug", NULL);
    cr_assert (c->broker > 0 && c->sink_pid > 0 && c->agent > 0);
    support_started (c->broker);
    support_started (c->sink_pid);
    support_started (c->agent);
    support_started_dir (c->dir);
    //  Ready, and so past installing their signal handlers: a test that is
    //  over in a blink must not SIGTERM them before they can exit 0.
    snprintf (log, sizeof log, "%s/broker.log", c->dir);
    cr_assert (SUPPORT_WAIT (s_log_has (log, "broker ready"), WAIT_MS), "see %s", log);
    snprintf (log, sizeof log, "%s/sink.log", c->dir);
    cr_assert (SUPPORT_WAIT (s_log_has (log, "sink ready"), WAIT_MS), "see %s", log);
}

static void
s_stop (cluster_t *c)
{
    if (c->submit > 0)
        support_stop (c->submit, SIGTERM, 5000);
    if (c->agent > 0)
        cr_expect_eq (support_stop (c->agent, SIGTERM, 20000), 0, "agent did not exit 0");
    //  Under a sanitizer, the agent's and its workers' reports land here.
    char *log = support_slurp (c->agent_log);
    cr_expect (log && !strstr (log, "Sanitizer") && !strstr (log, "runtime error"),
               "agent log:\n%s", log? log: "(none)");
    free (log);
    cr_expect_eq (support_stop (c->sink_pid, SIGTERM, 10000), 0, "sink did not exit 0");
    cr_expect_eq (support_stop (c->broker, SIGTERM, 10000), 0, "broker did not exit 0");
    //  Workers orphaned on the way (their agent was killed, or exited
    //  first) are ours to reap: wait for the last before the test ends.
    cr_expect (SUPPORT_WAIT (waitpid (-1, NULL, WNOHANG) < 0 && errno == ECHILD, 10000),
               "a worker outlived its agent by 10 s");
    support_rmdir (&c->dir);
}

static void
s_dump_log (const char *path)
{
    char *text = support_slurp (path);
    cr_log_error ("%s:\n%s", path, text? text: "(none)");
    free (text);
}

//  `drover submit --wait` of count copies of one JSON tuple (runs in the
//  background; c->submit).
static void
s_submit (cluster_t *c, const char *job, const char *handler, const char *tuple, int count)
{
    char path[600], log[600];
    snprintf (path, sizeof path, "%s/%s.jsonl", c->dir, job);
    snprintf (log, sizeof log, "%s/submit-%s.log", c->dir, job);
    FILE *file = fopen (path, "w");
    cr_assert_not_null (file);
    for (int i = 0; i < count; i++)
        fprintf (file, "%s\n", tuple);
    fclose (file);
    c->submit = support_spawn (log, "submit", "--broker", c->frontend, "--job", job,
                               "--handler", handler, "--sink", c->sink, "--wait", "--quiet",
                               path, NULL);
    cr_assert_gt (c->submit, 0);
    support_started (c->submit);
}

static bool
s_submit_done (cluster_t *c)
{
    int status = -1;
    if (!support_exited (c->submit, &status))
        return false;
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "submit status %d", status);
    c->submit = 0;
    return true;
}

//  A job's counter from the broker (STATUS over REQ); -1 if no answer.
static int64_t
s_counter (cluster_t *c, const char *job, msg_field_t field)
{
    zsock_t *req = zsock_new_req (c->frontend);
    zsock_set_rcvtimeo (req, 2000);
    zsock_set_linger (req, 0);
    msg_t *status = msg_new (MSG_STATUS);
    msg_set_str (status, MSG_F_JOB, job);
    wire_send (&status, req, NULL);
    msg_t *reply = NULL;
    int64_t value = -1;
    if (wire_recv (req, NULL, &reply) == 0 && msg_command (reply) == MSG_JOB)
        value = (int64_t) msg_uint (reply, field);
    msg_destroy (&reply);
    zsock_destroy (&req);
    return value;
}

typedef struct {
    uint64_t tuple, attempt, started_us, duration_us;
    char status[16];
} record_t;

//  The sink's records for job (a crude JSON Lines reader: the sink writes
//  these keys in a known order, one record per line).
static size_t
s_records (cluster_t *c, const char *job, record_t *records, size_t max)
{
    FILE *file = fopen (c->results, "r");
    if (!file)
        return 0;
    char needle[128];
    snprintf (needle, sizeof needle, "\"job\":\"%s\"", job);
    char line[4096];
    size_t count = 0;
    while (fgets (line, sizeof line, file) && count < max) {
        if (!strstr (line, needle))
            continue;
        record_t *r = &records[count++];
        memset (r, 0, sizeof *r);
        const char *p;
        if ((p = strstr (line, "\"tuple\":")))       r->tuple = strtoull (p + 8, NULL, 10);
        if ((p = strstr (line, "\"attempt\":")))     r->attempt = strtoull (p + 10, NULL, 10);
        if ((p = strstr (line, "\"started_us\":")))  r->started_us = strtoull (p + 13, NULL, 10);
        if ((p = strstr (line, "\"duration_us\":"))) r->duration_us = strtoull (p + 14, NULL, 10);
        if ((p = strstr (line, "\"status\":\"")))
            sscanf (p + 10, "%15[^\"]", r->status);
    }
    fclose (file);
    return count;
}

//  True if pid is gone or a zombie (dead, waiting for whoever reaps it).
static bool
s_dead (pid_t pid)
{
    char path[64], text[512];
    snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return true;
    size_t len = fread (text, 1, sizeof text - 1, file);
    fclose (file);
    text[len] = 0;
    char *close = strrchr (text, ')');
    return !close || close[2] == 'Z' || close[2] == 'X';
}


//  Wait until n workers said hello (the debug log says so): tuples sent
//  before that wait in the agent, and a drain would hand them back unrun.
static void
s_wait_ready (cluster_t *c, int n)
{
    bool ready = SUPPORT_WAIT (({
        char *log = support_slurp (c->agent_log);
        int count = 0;
        for (char *p = log; p && (p = strstr (p, ") is ready")); p++)
            count++;
        free (log);
        count >= n; }), WAIT_MS);
    if (!ready)
        s_dump_log (c->agent_log);
    cr_assert (ready, "%d workers did not get ready", n);
}

//  Wait until the agent has given worker tuples, so that it holds held of
//  them (0: any number); its debug log says so.  Not the broker's RUNNING
//  counter: that counts tuples sent to the agent, which may not have read
//  them yet.
static void
s_wait_given (cluster_t *c, int worker, int held)
{
    char line[96];
    int n = snprintf (line, sizeof line, "to worker %d, which now holds ", worker);
    if (held)
        snprintf (line + n, sizeof line - (size_t) n, "%d\n", held);
    bool given = SUPPORT_WAIT (s_log_has (c->agent_log, line), WAIT_MS);
    if (!given)
        s_dump_log (c->agent_log);
    cr_assert (given, "no log line '%s'", line);
}

Test (supervisor, p2_t3_runs_six_at_once_and_the_seventh_waits, .timeout = 120)
{
    cluster_t c;
    s_start (&c, "2", "3");
    pid_t pids[8];
    cr_assert (SUPPORT_WAIT (support_children (c.agent, pids, 8) == 2, WAIT_MS), "two workers");
    s_wait_ready (&c, 2);
    s_submit (&c, "seven", "sleep", "[700]", 7);
    cr_assert (SUPPORT_WAIT (s_submit_done (&c), 60000), "the job did not complete");
    record_t records[8];
    cr_assert_eq (s_records (&c, "seven", records, 8), 7);
    //  At each record's start, count the records running then.
    int most = 0, waited = 0;
    for (int i = 0; i < 7; i++) {
        cr_assert_str_eq (records[i].status, "ok");
        int running = 0;
        for (int j = 0; j < 7; j++)
            if (records[j].started_us <= records[i].started_us
            &&  records[i].started_us < records[j].started_us + records[j].duration_us)
                running++;
        most = running > most? running: most;
        //  One started only when another had finished.
        for (int j = 0; j < 7; j++)
            if (j != i && records[i].started_us >= records[j].started_us + records[j].duration_us)
                waited++;
    }
    cr_assert_eq (most, 6, "six ran at once, never more (most %d)", most);
    cr_assert_geq (waited, 1, "the seventh waited for a free thread");
    s_stop (&c);
}

Test (supervisor, kill9_worker_restarted_tuples_redelivered_stored_once, .timeout = 120)
{
    cluster_t c;
    s_start (&c, "2", "3");
    pid_t before[8];
    cr_assert (SUPPORT_WAIT (support_children (c.agent, before, 8) == 2, WAIT_MS));
    s_wait_ready (&c, 2);
    s_submit (&c, "crash", "sleep", "[1500]", 12);
    s_wait_given (&c, 0, 0);
    cr_assert_eq (kill (before[0], SIGKILL), 0);
    //  A new worker appears in its place, and the log says why.
    pid_t after[8];
    cr_assert (SUPPORT_WAIT (support_children (c.agent, after, 8) == 2
                             && after[0] != before[0] && after[1] != before[0], WAIT_MS),
               "the worker was not restarted");
    char line[128];
    snprintf (line, sizeof line, "(pid %d) died (signal 9)", (int) before[0]);
    cr_assert (SUPPORT_WAIT (s_log_has (c.agent_log, line), WAIT_MS), "no log line '%s'", line);
    cr_assert (s_log_has (c.agent_log, "restarting in 100 ms"));
    cr_assert (SUPPORT_WAIT (s_submit_done (&c), 60000), "the job did not complete");
    record_t records[32];
    size_t count = s_records (&c, "crash", records, 32);
    cr_assert_eq (count, 12, "every tuple once (%zu records)", count);
    unsigned seen[13] = { 0 };
    size_t retried = 0;
    for (size_t i = 0; i < count; i++) {
        cr_assert_str_eq (records[i].status, "ok");
        cr_assert (records[i].tuple >= 1 && records[i].tuple <= 12);
        cr_assert_eq (seen[records[i].tuple]++, 0, "tuple %llu twice",
                      (unsigned long long) records[i].tuple);
        retried += records[i].attempt == 2;
    }
    cr_assert_geq (retried, 1, "the dead worker's tuples ran again");
    cr_assert_eq (s_counter (&c, "crash", MSG_F_DONE), 12);
    s_stop (&c);
}

//  SIGTERM the moment the worker has the tuples, free threads waiting for
//  them: a tuple a thread is free for counts as started however late the
//  thread wakes, so both finish and are stored.
Test (supervisor, sigterm_drains_in_flight_work, .timeout = 120)
{
    cluster_t c;
    s_start (&c, "1", "2");
    s_wait_ready (&c, 1);
    s_submit (&c, "drain", "sleep", "[1500]", 2);
    s_wait_given (&c, 0, 2);
    //  Running: the broker counts them as held, and the sink has nothing yet.
    record_t records[4];
    cr_assert_eq (s_records (&c, "drain", records, 4), 0);
    cr_assert_eq (kill (c.agent, SIGTERM), 0);
    int status = -1;
    cr_assert (SUPPORT_WAIT (support_exited (c.agent, &status), WAIT_MS), "agent did not exit");
    c.agent = 0;
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "status %d", status);
    if (s_records (&c, "drain", records, 4) != 2)
        s_dump_log (c.agent_log);
    cr_assert_eq (s_records (&c, "drain", records, 4), 2, "both finished and were stored");
    cr_assert_str_eq (records[0].status, "ok");
    cr_assert_str_eq (records[1].status, "ok");
    cr_assert (s_log_has (c.agent_log, "interrupted: draining"));
    cr_assert (s_log_has (c.agent_log, "drained: every started tuple finished"));
    cr_assert (s_log_has (c.agent_log, "said BYE"));
    cr_assert (SUPPORT_WAIT (s_submit_done (&c), WAIT_MS));
    s_stop (&c);
}

Test (supervisor, second_sigint_stops_at_once_and_hands_work_back, .timeout = 120)
{
    cluster_t c;
    s_start (&c, "1", "2");
    s_wait_ready (&c, 1);
    s_submit (&c, "stop", "sleep", "[30000]", 2);
    cr_assert (SUPPORT_WAIT (s_counter (&c, "stop", MSG_F_RUNNING) == 2, WAIT_MS));
    pid_t workers[4];
    cr_assert_eq (support_children (c.agent, workers, 4), 1);
    cr_assert_eq (kill (c.agent, SIGINT), 0);
    cr_assert (SUPPORT_WAIT (s_log_has (c.agent_log, "interrupted: draining"), WAIT_MS));
    int64_t start = support_now_ms ();
    cr_assert_eq (kill (c.agent, SIGINT), 0);
    int status = -1;
    cr_assert (SUPPORT_WAIT (support_exited (c.agent, &status), WAIT_MS), "agent did not exit");
    c.agent = 0;
    cr_assert_lt (support_now_ms () - start, 5000, "stopped at once, not after the sleeps");
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "status %d", status);
    cr_assert (s_log_has (c.agent_log, "interrupted again: stopping now"));
    //  BYE handed them back: queued again at the broker, not run, not lost.
    cr_assert (SUPPORT_WAIT (s_counter (&c, "stop", MSG_F_QUEUED) == 2, WAIT_MS),
               "the broker did not queue them again");
    cr_assert_eq (s_counter (&c, "stop", MSG_F_RUNNING), 0);
    cr_assert (SUPPORT_WAIT (s_dead (workers[0]), 1000), "the worker outlived the agent");
    s_stop (&c);
}

Test (supervisor, kill9_of_the_agent_leaves_no_worker, .timeout = 60)
{
    cluster_t c;
    s_start (&c, "2", "2");
    pid_t workers[8];
    cr_assert (SUPPORT_WAIT (support_children (c.agent, workers, 8) == 2, WAIT_MS));
    cr_assert_eq (kill (c.agent, SIGKILL), 0);
    int status;
    cr_assert (SUPPORT_WAIT (support_exited (c.agent, &status), 1000));
    c.agent = 0;
    cr_assert (SUPPORT_WAIT (s_dead (workers[0]) && s_dead (workers[1]), 1000),
               "workers %d and %d outlived the agent by a second", workers[0], workers[1]);
    s_stop (&c);
}

Test (supervisor, no_zombies_after_a_worker_dies, .timeout = 60)
{
    cluster_t c;
    s_start (&c, "1", "1");
    pid_t workers[4];
    cr_assert (SUPPORT_WAIT (support_children (c.agent, workers, 4) == 1, WAIT_MS));
    cr_assert_eq (kill (workers[0], SIGABRT), 0);
    //  Reaped (no zombie left under the agent) and replaced.
    cr_assert (SUPPORT_WAIT (access ("/proc/self", F_OK) == 0 && s_dead (workers[0])
                             && support_children (c.agent, workers + 1, 3) == 1
                             && workers[1] != workers[0], WAIT_MS));
    char path[64];
    snprintf (path, sizeof path, "/proc/%d", (int) workers[0]);
    cr_assert (SUPPORT_WAIT (access (path, F_OK) != 0, WAIT_MS), "worker %d left a zombie",
               (int) workers[0]);
    cr_assert (s_log_has (c.agent_log, "died (signal 6)"));
    s_stop (&c);
}

//  ---------------------------------------------------------------------
//  The supervisor itself (agent/supervisor.h): one worker process, tasks
//  submitted directly, how many it gave the worker at most.

static void
s_count_result (void *arg, const pool_record_t *result, const void *data)
{
    (void) data;
    if (result->status != POOL_PARTIAL)
        (*(size_t *) arg)++;
}

static size_t
s_most_held (const char *handler, const unsigned char *tuple, size_t tuple_size,
             size_t count, size_t threads)
{
    size_t results = 0;
    supervisor_config_t config = { .processes = 1, .threads = threads, .exe = DROVER_BIN,
                                   .on_result = s_count_result, .arg = &results };
    supervisor_t *supervisor = supervisor_new (&config);
    cr_assert_not_null (supervisor);
    pool_task_t *tasks = calloc (count, sizeof *tasks);
    cr_assert_not_null (tasks);
    for (size_t i = 0; i < count; i++)
        tasks[i] = (pool_task_t) { .id = i + 1, .handler = handler, .tuple = tuple,
                                   .tuple_size = tuple_size };
    cr_assert_eq (supervisor_submit (supervisor, tasks, count), 0);
    zpoller_t *poller = zpoller_new (supervisor_socket (supervisor), NULL);
    size_t most = 0;
    for (int64_t until = zclock_mono () + 60000; results < count && zclock_mono () < until; ) {
        zpoller_wait (poller, 50);
        supervisor_work (supervisor, zclock_mono ());
        size_t held = supervisor_running (supervisor);
        most = held > most? held: most;
    }
    cr_assert_eq (results, count, "%zu of %zu results", results, count);
    zpoller_destroy (&poller);
    supervisor_destroy (&supervisor);
    free (tasks);
    return most;
}

//  Fast tasks: once the first results show it, a worker holds more than
//  the least prefetch (with a fixed 64 a thread it never did).
Test (supervisor, fast_tasks_are_prefetched_deeper, .timeout = 120)
{
    static const unsigned char echo[] = { 0x91, 0x01 };         //  [1]
    size_t most = s_most_held ("echo", echo, sizeof echo, 20000, 1);
    cr_assert_gt (most, SUPERVISOR_PREFETCH_MIN, "the worker held %zu at most", most);
    cr_assert_leq (most, SUPERVISOR_PREFETCH_MAX, "the worker held %zu at most", most);
}

//  Slow tasks (sleep 5 ms: one is more than a thread's 2 ms of prefetch):
//  never more than the least prefetch, before and after they are measured.
Test (supervisor, slow_tasks_keep_the_least_prefetch, .timeout = 120)
{
    static const unsigned char sleep5[] = { 0x91, 0x05 };       //  [5]
    size_t most = s_most_held ("sleep", sleep5, sizeof sleep5, 400, 2);
    cr_assert_leq (most, 2 * SUPERVISOR_PREFETCH_MIN, "the worker held %zu at most", most);
    cr_assert_gt (most, 2, "tasks were queued at the worker (%zu at most)", most);
}
