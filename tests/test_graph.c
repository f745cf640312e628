//  test_graph.c -- job graphs (PROTOCOL.md 14), black-box on the cluster of
//  support_durability.h: `drover submit --deps` files whose tuples wait on
//  others.  Order is checked from the sink's output: a tuple's started_us
//  is never before the end (started_us + duration_us) of a tuple it waits
//  on.  A failed dependency skips what waits on it, down the graph, with
//  the dependency in the error; cycles and unknown ids are refused whole;
//  a broker killed with SIGKILL rebuilds what waits; 100,000 tuples with
//  random dependencies complete and the broker's CPU time is printed.
#include "support.h"
#include "support_durability.h"
#include "common/json_read.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

//  One tuple's result at the sink.
typedef struct {
    bool seen;
    char status[16];
    uint64_t started_us, ended_us;
    char error[160];
} result_t;

//  The sink's results of job, by tuple id 1 .. count (calloc'd).
static result_t *
s_results (const cluster_t *c, const char *job, size_t count)
{
    result_t *results = calloc (count + 1, sizeof *results);
    cr_assert_not_null (results);
    FILE *file = fopen (c->results, "r");
    char *line = NULL;
    size_t size = 0;
    ssize_t len;
    while (file && (len = getline (&line, &size, file)) > 0) {
        msgpack_sbuffer buffer;
        msgpack_sbuffer_init (&buffer);
        char err[128];
        msgpack_unpacked record;
        msgpack_unpacked_init (&record);
        if (json_to_msgpack (line, (size_t) len, &buffer, err, sizeof err) == 0
        &&  msgpack_unpack_next (&record, buffer.data, buffer.size, NULL) == MSGPACK_UNPACK_SUCCESS) {
            const msgpack_object *o = &record.data;
            const msgpack_object *name = support_map_get (o, "job");
            const msgpack_object *tuple = support_map_get (o, "tuple");
            const msgpack_object *status = support_map_get (o, "status");
            const msgpack_object *started = support_map_get (o, "started_us");
            const msgpack_object *duration = support_map_get (o, "duration_us");
            const msgpack_object *error = support_map_get (o, "error");
            if (name && name->via.str.size == strlen (job)
            &&  !memcmp (name->via.str.ptr, job, strlen (job)) && tuple
            &&  tuple->via.u64 >= 1 && tuple->via.u64 <= count && status) {
                result_t *r = &results[tuple->via.u64];
                cr_expect_not (r->seen, "%s:%" PRIu64 " stored twice", job, tuple->via.u64);
                r->seen = true;
                snprintf (r->status, sizeof r->status, "%.*s", (int) status->via.str.size,
                          status->via.str.ptr);
                r->started_us = started? started->via.u64: 0;
                r->ended_us = r->started_us + (duration? duration->via.u64: 0);
                if (error && error->type == MSGPACK_OBJECT_STR)
                    snprintf (r->error, sizeof r->error, "%.*s", (int) error->via.str.size,
                              error->via.str.ptr);
            }
        }
        msgpack_unpacked_destroy (&record);
        msgpack_sbuffer_destroy (&buffer);
    }
    free (line);
    if (file)
        fclose (file);
    return results;
}

//  STATUS's field of job, or UINT64_MAX if the broker did not answer.
static uint64_t
s_status_field (const cluster_t *c, const char *job, msg_field_t field)
{
    msg_t *request = msg_new (MSG_STATUS);
    msg_set_str (request, MSG_F_JOB, job);
    msg_t *reply = cluster_request (c->frontend, &request, 1000);
    uint64_t value = reply && msg_command (reply) == MSG_JOB? msg_uint (reply, field): UINT64_MAX;
    msg_destroy (&reply);
    return value;
}

//  `drover submit --deps` of file as job (handler, new, closed), with mode
//  "--quiet" or "--wait"; its exit status, its output (stderr too) in
//  c->dir/log_name.
static int
s_submit_deps_as (cluster_t *c, const char *job, const char *handler, const char *file,
                  const char *log_name, const char *mode)
{
    char log[512];
    cluster_path (c, log_name, log, sizeof log);
    pid_t pid = support_spawn (log, "submit", "--broker", c->frontend, "--job", job,
                               "--handler", handler, "--sink", c->sink, "--max-attempts", "1",
                               "--deps", mode, file, NULL);
    cr_assert_gt (pid, 0);
    int status = -1;
    cr_assert (SUPPORT_WAIT (support_exited (pid, &status), 120000), "submit did not finish");
    return WIFEXITED (status)? WEXITSTATUS (status): -1;
}

static int
s_submit_deps (cluster_t *c, const char *job, const char *handler, const char *file,
               const char *log_name)
{
    return s_submit_deps_as (c, job, handler, file, log_name, "--quiet");
}

//  A new file c->dir/name to write, its path into path.
static FILE *
s_create (const cluster_t *c, const char *name, char *path, size_t size)
{
    cluster_path (c, name, path, size);
    FILE *file = fopen (path, "w");
    cr_assert_not_null (file);
    return file;
}

//  Job "first" of count echo tuples, submitted and closed (nothing runs it
//  until an agent starts).
static void
s_submit_first (cluster_t *c, int count)
{
    char path[512];
    cluster_path (c, "first.jsonl", path, sizeof path);
    cluster_write_tuples (path, count, cluster_plain);
    cr_assert_eq (cluster_submit (c, "first", "echo", path, "1", "10000"), 0);
}

//  Each dependency ended before the tuple that waits on it started.
static void
s_expect_order (const cluster_t *c, const result_t *results, uint64_t id, uint64_t after)
{
    cr_expect (results[id].seen && results[after].seen, "%" PRIu64 " or %" PRIu64
               " missing (%s)", id, after, c->dir);
    cr_expect_geq (results[id].started_us, results[after].ended_us, "tuple %" PRIu64
                   " started before %" PRIu64 ", which it waits on, ended (%s)", id, after,
                   c->dir);
}

Test (graph, diamond_and_chain_of_1000_run_in_order, .timeout = 180)
{
    cluster_t c = { 0 };
    cluster_start (&c, 1);
    char path[512];
    FILE *file = s_create (&c, "graph.jsonl", path, sizeof path);
    //  A diamond: 1 -> {2, 3} -> 4; then 5 .. 1004 a chain after 4.
    fprintf (file, "{\"tuple\": [\"top\"]}\n");
    fprintf (file, "{\"tuple\": [\"left\"], \"after\": [1]}\n");
    fprintf (file, "{\"tuple\": [\"right\"], \"after\": [1]}\n");
    fprintf (file, "{\"tuple\": [\"bottom\"], \"after\": [2, 3]}\n");
    for (int id = 5; id <= 1004; id++)
        fprintf (file, "{\"tuple\": [\"link\", %d], \"after\": [%d]}\n", id, id - 1);
    fclose (file);
    cr_assert_eq (s_submit_deps (&c, "dag", "echo", path, "submit.log"), 0,
                  "submit failed (%s)", c.dir);
    cluster_expect_complete (&c, "dag", 1004, 0, 120000);
    result_t *results = s_results (&c, "dag", 1004);
    for (uint64_t id = 1; id <= 1004; id++)
        cr_expect_str_eq (results[id].status, "ok", "tuple %" PRIu64 " (%s)", id, c.dir);
    s_expect_order (&c, results, 2, 1);
    s_expect_order (&c, results, 3, 1);
    s_expect_order (&c, results, 4, 2);
    s_expect_order (&c, results, 4, 3);
    for (uint64_t id = 5; id <= 1004; id++)
        s_expect_order (&c, results, id, id - 1);
    cr_expect_eq (s_status_field (&c, "dag", MSG_F_WAITING), 0);
    cr_expect_eq (s_status_field (&c, "dag", MSG_F_SKIPPED), 0);
    free (results);
    cluster_stop (&c);
}

Test (graph, failed_dependency_skips_down_the_graph, .timeout = 120)
{
    cluster_t c = { 0 };
    cluster_start (&c, 1);
    char path[512];
    cluster_path (&c, "bad.jsonl", path, sizeof path);
    cluster_write_tuples (path, 1, cluster_plain);
    cr_assert_eq (cluster_submit (&c, "bad", "fail", path, "1", "10000"), 0);
    cluster_expect_complete (&c, "bad", 0, 1, 60000);
    //  1 waits on bad:1 (a dead letter), 2 on 1, 3 on 2; 4 on nothing.
    FILE *file = s_create (&c, "after.jsonl", path, sizeof path);
    fprintf (file, "{\"tuple\": [1], \"after\": [\"bad:1\"]}\n");
    fprintf (file, "{\"tuple\": [2], \"after\": [1]}\n");
    fprintf (file, "{\"tuple\": [3], \"after\": [2]}\n");
    fprintf (file, "{\"tuple\": [4]}\n");
    fclose (file);
    cr_assert_eq (s_submit_deps_as (&c, "after", "echo", path, "submit.log", "--wait"), 0,
                  "submit failed (%s)", c.dir);
    cluster_expect_complete (&c, "after", 4, 0, 60000);
    //  --wait's summary says which of the done never ran (libdrover's
    //  status carries skipped).
    char log[512];
    cluster_path (&c, "submit.log", log, sizeof log);
    cr_expect_eq (support_count_text (log, "job after complete: 4 done (3 skipped), 0 failed in "),
                  1, "no summary with the skipped in %s", log);
    result_t *results = s_results (&c, "after", 4);
    for (uint64_t id = 1; id <= 3; id++) {
        cr_expect_str_eq (results[id].status, "skipped", "tuple %" PRIu64 " (%s)", id, c.dir);
        cr_expect_eq (results[id].started_us, 0, "a skipped tuple has no start");
        cr_expect (strstr (results[id].error, "bad:1 failed"), "tuple %" PRIu64 ": error '%s'",
                   id, results[id].error);
    }
    cr_expect_str_eq (results[4].status, "ok");
    cr_expect_eq (s_status_field (&c, "after", MSG_F_SKIPPED), 3);
    free (results);
    cluster_stop (&c);
}

//  A file of lines, and what `drover submit --deps` says of it.
static void
s_expect_refused (cluster_t *c, const char *name, const char *lines, const char *why)
{
    char path[512], log[512], log_name[64];
    FILE *file = s_create (c, name, path, sizeof path);
    fputs (lines, file);
    fclose (file);
    snprintf (log_name, sizeof log_name, "%s.log", name);
    cr_expect_eq (s_submit_deps (c, name, "echo", path, log_name), 1, "%s accepted", name);
    cluster_path (c, log_name, log, sizeof log);
    cr_expect_gt (support_count_text (log, why), 0, "%s: no '%s' in %s", name, why, log);
    cr_expect_eq (s_status_field (c, name, MSG_F_SUBMITTED), UINT64_MAX,
                  "%s: the job was created", name);
}

Test (graph, cycles_and_unknown_ids_are_refused, .timeout = 60)
{
    cluster_t c = { 0 };
    cluster_start (&c, 0);
    s_expect_refused (&c, "cycle", "{\"tuple\": [1], \"after\": [3]}\n"
                                   "{\"tuple\": [2], \"after\": [1]}\n"
                                   "{\"tuple\": [3], \"after\": [2]}\n", "cycle");
    s_expect_refused (&c, "self", "{\"tuple\": [1], \"after\": [1]}\n", "depends on itself");
    s_expect_refused (&c, "beyond", "{\"tuple\": [1], \"after\": [7]}\n"
                                    "{\"tuple\": [2]}\n", "has no tuple 7");
    s_expect_refused (&c, "nojob", "{\"tuple\": [1], \"after\": [\"ghost:1\"]}\n", "no job ghost");
    s_expect_refused (&c, "shape", "[1, 2]\n", "with --deps");
    cluster_stop (&c);
}

Test (graph, waiting_tuples_survive_a_kill9, .timeout = 120)
{
    //  No agent: nothing runs, so everything of "later" waits on first:2.
    cluster_t c = { 0 };
    cluster_start (&c, 0);
    s_submit_first (&c, 2);
    char path[512];
    FILE *file = s_create (&c, "later.jsonl", path, sizeof path);
    fprintf (file, "{\"tuple\": [1], \"after\": [\"first:2\"]}\n");
    for (int id = 2; id <= 50; id++)
        fprintf (file, "{\"tuple\": [%d], \"after\": [%d]}\n", id, id - 1);
    fprintf (file, "{\"tuple\": [51]}\n");
    fclose (file);
    cr_assert_eq (s_submit_deps (&c, "later", "echo", path, "submit.log"), 0);
    cr_expect_eq (s_status_field (&c, "later", MSG_F_WAITING), 50);
    cr_expect_eq (s_status_field (&c, "later", MSG_F_QUEUED), 1);

    cluster_kill9 (&c.broker);
    cluster_broker_start (&c);
    cr_assert (SUPPORT_WAIT (s_status_field (&c, "later", MSG_F_WAITING) != UINT64_MAX, 30000));
    cr_expect_eq (s_status_field (&c, "later", MSG_F_WAITING), 50, "after a restart (%s)",
                  c.dir);
    cr_expect_eq (s_status_field (&c, "later", MSG_F_QUEUED), 1);
    cluster_agent_start (&c, 0);
    cluster_expect_complete (&c, "later", 51, 0, 60000);
    result_t *results = s_results (&c, "later", 51);
    result_t *first = s_results (&c, "first", 2);
    cr_expect (results[1].started_us >= first[2].ended_us, "later:1 ran before first:2");
    for (uint64_t id = 2; id <= 50; id++)
        s_expect_order (&c, results, id, id - 1);
    free (results);
    free (first);
    cluster_stop (&c);
}

Test (graph, skipped_tuples_not_yet_stored_survive_a_kill9, .timeout = 120)
{
    cluster_t c = { 0 };
    cluster_start (&c, 1);
    char path[512];
    cluster_path (&c, "bad.jsonl", path, sizeof path);
    cluster_write_tuples (path, 1, cluster_plain);
    cr_assert_eq (cluster_submit (&c, "bad", "fail", path, "1", "10000"), 0);
    cluster_expect_complete (&c, "bad", 0, 1, 60000);
    //  No agent now: the skipped tuples wait in the queue to be stored.
    cluster_kill9 (&c.agents[0]);
    FILE *file = s_create (&c, "after.jsonl", path, sizeof path);
    fprintf (file, "{\"tuple\": [1], \"after\": [\"bad:1\"]}\n");
    for (int id = 2; id <= 10; id++)
        fprintf (file, "{\"tuple\": [%d], \"after\": [%d]}\n", id, id - 1);
    fclose (file);
    cr_assert_eq (s_submit_deps (&c, "after", "echo", path, "submit.log"), 0);
    cr_expect_eq (s_status_field (&c, "after", MSG_F_WAITING), 0, "all skipped at once");
    //  Queued, or sent to the agent killed (the broker has not noticed yet).
    cr_expect_eq (s_status_field (&c, "after", MSG_F_QUEUED)
                  + s_status_field (&c, "after", MSG_F_RUNNING), 10);
    cluster_kill9 (&c.broker);
    cluster_broker_start (&c);
    cluster_agent_start (&c, 0);
    cluster_expect_complete (&c, "after", 10, 0, 60000);
    result_t *results = s_results (&c, "after", 10);
    for (uint64_t id = 1; id <= 10; id++) {
        cr_expect_str_eq (results[id].status, "skipped", "tuple %" PRIu64 " (%s)", id, c.dir);
        cr_expect (strstr (results[id].error, "bad:1 failed"), "tuple %" PRIu64 ": '%s'", id,
                   results[id].error);
    }
    cr_expect_eq (s_status_field (&c, "after", MSG_F_SKIPPED), 10);
    free (results);
    cluster_stop (&c);
}

Test (graph, cancel_stores_waiting_tuples_as_cancelled, .timeout = 120)
{
    //  No agent until the cancel: "held" waits on "first", which never ran.
    cluster_t c = { 0 };
    cluster_start (&c, 0);
    s_submit_first (&c, 1);
    char path[512];
    FILE *file = s_create (&c, "held.jsonl", path, sizeof path);
    for (int id = 1; id <= 20; id++)
        fprintf (file, "{\"tuple\": [%d], \"after\": [\"first:1\"]}\n", id);
    fclose (file);
    cr_assert_eq (s_submit_deps (&c, "held", "echo", path, "submit.log"), 0);
    cr_expect_eq (s_status_field (&c, "held", MSG_F_WAITING), 20);
    char log[512];
    cluster_path (&c, "cancel.log", log, sizeof log);
    pid_t pid = support_spawn (log, "cancel", "--broker", c.frontend, "held", NULL);
    int status = -1;
    cr_assert (SUPPORT_WAIT (support_exited (pid, &status), 30000));
    cr_expect (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    cr_expect_eq (s_status_field (&c, "held", MSG_F_WAITING), 0, "cancel left tuples waiting");
    cluster_agent_start (&c, 0);
    cr_assert (SUPPORT_WAIT (s_status_field (&c, "held", MSG_F_DONE) == 20, 30000),
               "the cancelled tuples were not stored (%s)", c.dir);
    tally_t tally = cluster_tally (c.results, "held", 20);
    cr_expect_eq (tally.cancelled, 20, "%zu of 20 stored as cancelled (%s)", tally.cancelled,
                  c.dir);
    cluster_expect_complete (&c, "first", 1, 0, 30000);
    cluster_stop (&c);
}

//  utime + stime of a process, in seconds.
static double
s_cpu_seconds (pid_t pid)
{
    char path[64], text[1024];
    snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *file = fopen (path, "r");
    cr_assert_not_null (file);
    size_t n = fread (text, 1, sizeof text - 1, file);
    fclose (file);
    text[n] = 0;
    //  Fields after the command name (in parentheses, may hold spaces).
    char *rest = strrchr (text, ')');
    cr_assert_not_null (rest);
    unsigned long utime = 0, stime = 0;
    cr_assert_eq (sscanf (rest + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                          &utime, &stime), 2);
    return (double) (utime + stime) / (double) sysconf (_SC_CLK_TCK);
}

Test (graph, random_dag_of_100000_completes, .timeout = 600)
{
    enum { N = 100000 };
    cluster_t c = { 0 };
    cluster_start (&c, 1);
    char path[512];
    FILE *file = s_create (&c, "random.jsonl", path, sizeof path);
    srand (4242);
    uint64_t edges = 0;
    int (*on)[3] = calloc (N + 1, sizeof *on);
    cr_assert_not_null (on);
    for (int id = 1; id <= N; id++) {
        int deps = id == 1? 0: rand () % 4;
        fprintf (file, "{\"tuple\": [%d], \"after\": [", id);
        for (int d = 0; d < deps; d++) {
            //  Mostly near: long chains, so that many tuples wait.
            int back = rand () % 8? 1 + rand () % (id - 1 < 20? id - 1: 20): 1 + rand () % (id - 1);
            on[id][d] = id - back;
            fprintf (file, "%s%d", d? ", ": "", on[id][d]);
        }
        fprintf (file, "]}\n");
        edges += (uint64_t) deps;
    }
    fclose (file);
    double cpu_before = s_cpu_seconds (c.broker);
    int64_t started = support_now_ms ();
    cr_assert_eq (s_submit_deps (&c, "random", "echo", path, "submit.log"), 0,
                  "submit failed (%s)", c.dir);
    cluster_expect_complete (&c, "random", N, 0, 480000);
    double cpu = s_cpu_seconds (c.broker) - cpu_before;
    cr_log_info ("%d tuples, %" PRIu64 " dependencies: complete in %.1f s; the broker's CPU "
                 "for them %.2f s (%.1f us a tuple)", N, edges,
                 (double) (support_now_ms () - started) / 1000.0, cpu, cpu * 1e6 / N);
    printf ("graph: %d tuples, %" PRIu64 " dependencies: broker CPU %.2f s\n", N, edges, cpu);
    tally_t tally = cluster_tally (c.results, "random", N);
    cluster_expect_exactly_once (&c, &tally, N);
    cr_expect_eq (tally.ok, N);
    result_t *results = s_results (&c, "random", N);
    size_t wrong = 0;
    for (int id = 1; id <= N; id++)
        for (int d = 0; d < 3 && on[id][d]; d++)
            wrong += results[id].started_us < results[on[id][d]].ended_us;
    cr_expect_eq (wrong, 0, "%zu tuples started before a dependency ended (%s)", wrong, c.dir);
    free (results);
    free (on);
    cluster_stop (&c);
}
