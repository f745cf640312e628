//  test_integration.c -- the whole path with real processes: a `drover
//  broker`, two `drover agent`s and a `drover sink` on loopback, tuples sent
//  by `drover submit`; the sink's JSON Lines must hold every tuple once.
#include "support.h"
#include "common/json_read.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    char *dir;
    char frontend[64], intake[64], backend[64], sink[64];
    char results[512];
    pid_t broker, sink_pid, agents[2];
} cluster_t;

static void
s_log_path (const cluster_t *c, const char *name, char *path, size_t size)
{
    snprintf (path, size, "%s/%s.log", c->dir, name);
}

static void
s_cluster_start (cluster_t *c, const char *threads)
{
    c->dir = support_tmpdir ();
    cr_assert_not_null (c->dir);
    snprintf (c->frontend, sizeof c->frontend, "%s", support_endpoint ());
    snprintf (c->intake, sizeof c->intake, "%s", support_endpoint ());
    snprintf (c->backend, sizeof c->backend, "%s", support_endpoint ());
    snprintf (c->sink, sizeof c->sink, "%s", support_endpoint ());
    snprintf (c->results, sizeof c->results, "%s/results.jsonl", c->dir);
    char log[512], data[512];
    s_log_path (c, "broker", log, sizeof log);
    snprintf (data, sizeof data, "%s/broker-data", c->dir);
    c->broker = support_spawn (log, "broker", "--frontend", c->frontend,
                               "--intake", c->intake, "--backend", c->backend,
                               "--data-dir", data, NULL);
    s_log_path (c, "sink", log, sizeof log);
    c->sink_pid = support_spawn (log, "sink", "--bind", c->sink, "--output", c->results, NULL);
    for (int i = 0; i < 2; i++) {
        char name[32], path[512];
        snprintf (name, sizeof name, "agent-%d", i + 1);
        s_log_path (c, name, path, sizeof path);
        c->agents[i] = support_spawn (path, "agent", "--broker", c->backend,
                                      "--name", name, "--threads", threads, NULL);
    }
    cr_assert (c->broker > 0 && c->sink_pid > 0 && c->agents[0] > 0 && c->agents[1] > 0);
    //  Both agents in before any work: a job of fast tuples can otherwise be
    //  done by the first before the second has joined.
    s_log_path (c, "broker", log, sizeof log);
    cr_assert (SUPPORT_WAIT (support_count_text (log, "agent agent-1 joined")
                             && support_count_text (log, "agent agent-2 joined"), 30000),
               "the agents did not join; see %s", c->dir);
}

static void
s_cluster_stop (cluster_t *c)
{
    for (int i = 0; i < 2; i++)
        cr_expect_eq (support_stop (c->agents[i], SIGTERM, 20000), 0,
                      "agent %d did not exit 0 on SIGTERM", i + 1);
    cr_expect_eq (support_stop (c->sink_pid, SIGTERM, 10000), 0, "sink did not exit 0");
    cr_expect_eq (support_stop (c->broker, SIGTERM, 10000), 0, "broker did not exit 0");
    support_rmdir (&c->dir);
}

//  Run `drover submit ... --wait FILE` and return its exit status.
static int
s_submit (cluster_t *c, const char *job, const char *handler, const char *file)
{
    char log[512];
    s_log_path (c, "submit", log, sizeof log);
    pid_t pid = support_spawn (log, "submit", "--broker", c->frontend, "--job", job,
                               "--handler", handler, "--sink", c->sink, "--wait",
                               "--quiet", file, NULL);
    cr_assert_gt (pid, 0);
    int status = -1;
    cr_assert (SUPPORT_WAIT (support_exited (pid, &status), 240000),
               "submit did not finish in 240 s");
    return status;
}

typedef struct {
    size_t lines, missing, duplicated, bad;
    size_t per_agent[2];
} tally_t;

//  Check the sink's output: one line per tuple id 1..count of job.
static tally_t
s_tally (const char *path, const char *job, size_t count)
{
    tally_t tally = { 0 };
    unsigned char *seen = calloc (count + 1, 1);
    FILE *file = fopen (path, "r");
    cr_assert_not_null (file, "no sink output at %s", path);
    char *line = NULL;
    size_t size = 0;
    ssize_t len;
    while ((len = getline (&line, &size, file)) > 0) {
        tally.lines++;
        msgpack_sbuffer buffer;
        msgpack_sbuffer_init (&buffer);
        char err[128];
        msgpack_unpacked record;
        msgpack_unpacked_init (&record);
        if (json_to_msgpack (line, (size_t) len, &buffer, err, sizeof err)
        ||  msgpack_unpack_next (&record, buffer.data, buffer.size, NULL) != MSGPACK_UNPACK_SUCCESS)
            tally.bad++;
        else {
            const msgpack_object *id = support_map_get (&record.data, "tuple");
            const msgpack_object *name = support_map_get (&record.data, "job");
            const msgpack_object *agent = support_map_get (&record.data, "agent");
            const msgpack_object *status = support_map_get (&record.data, "status");
            if (!id || id->type != MSGPACK_OBJECT_POSITIVE_INTEGER || id->via.u64 == 0
            ||  id->via.u64 > count || !name || name->type != MSGPACK_OBJECT_STR
            ||  strncmp (name->via.str.ptr, job, name->via.str.size)
            ||  !status || status->type != MSGPACK_OBJECT_STR
            ||  strncmp (status->via.str.ptr, "ok", status->via.str.size))
                tally.bad++;
            else if (seen[id->via.u64]++)
                tally.duplicated++;
            if (agent && agent->type == MSGPACK_OBJECT_STR) {
                if (!strncmp (agent->via.str.ptr, "agent-1", agent->via.str.size))
                    tally.per_agent[0]++;
                else if (!strncmp (agent->via.str.ptr, "agent-2", agent->via.str.size))
                    tally.per_agent[1]++;
            }
        }
        msgpack_unpacked_destroy (&record);
        msgpack_sbuffer_destroy (&buffer);
    }
    free (line);
    fclose (file);
    for (size_t id = 1; id <= count; id++)
        if (!seen[id])
            tally.missing++;
    free (seen);
    return tally;
}

Test (integration, ten_thousand_tuples_once_each_over_two_agents, .timeout = 300)
{
    cluster_t c = { 0 };
    s_cluster_start (&c, "8");
    char tuples[512];
    snprintf (tuples, sizeof tuples, "%s/tuples.jsonl", c.dir);
    FILE *file = fopen (tuples, "w");
    cr_assert_not_null (file);
    for (int i = 0; i < 10000; i++)
        fprintf (file, "[\"tuple\", %d, \"payload-%d\"]\n", i, i * 7);
    fclose (file);

    int status = s_submit (&c, "ten-k", "echo", tuples);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0,
               "drover submit --wait failed (status %d); see %s", status, c.dir);

    tally_t tally = s_tally (c.results, "ten-k", 10000);
    cr_expect_eq (tally.lines, 10000, "sink wrote %zu lines", tally.lines);
    cr_expect_eq (tally.missing, 0, "%zu tuple ids missing", tally.missing);
    cr_expect_eq (tally.duplicated, 0, "%zu tuple ids duplicated", tally.duplicated);
    cr_expect_eq (tally.bad, 0, "%zu bad lines", tally.bad);
    cr_expect_gt (tally.per_agent[0], 0, "agent-1 did no work");
    cr_expect_gt (tally.per_agent[1], 0, "agent-2 did no work");
    cr_expect_eq (tally.per_agent[0] + tally.per_agent[1], 10000);
    s_cluster_stop (&c);
}

Test (integration, demo_prints_open_port_table, .timeout = 300)
{
    char *dir = support_tmpdir ();
    char log[512];
    snprintf (log, sizeof log, "%s/demo.out", dir);
    //  A small range keeps it quick; the demo opens listeners inside it.
    pid_t pid = support_spawn (log, "demo", "--ports", "20000-20099", NULL);
    int status = -1;
    cr_assert (SUPPORT_WAIT (support_exited (pid, &status), 240000), "demo did not finish");
    char *out = support_slurp (log);
    cr_assert_not_null (out);
    cr_expect (WIFEXITED (status) && WEXITSTATUS (status) == 0, "demo failed:\n%s", out);
    cr_expect_not_null (strstr (out, "open ports on 127.0.0.1"), "no table:\n%s", out);
    cr_expect_not_null (strstr (out, "demo listener"), "no listener found open:\n%s", out);
    cr_expect_not_null (strstr (out, "100 results for 100 ports"), "wrong count:\n%s", out);
    //  The table lists the open ports in ascending order, whatever order
    //  the agents finished them in.
    const char *row = strstr (out, "PORT   STATE");
    int previous = 0, port, rows = 0, end = 0;
    for (row = row? strchr (row, '\n'): NULL;
         row && row[1] == ' ' && sscanf (row + 1, " %d open%n", &port, &end) == 1 && end;
         row = strchr (row + 1, '\n'), rows++, end = 0) {
        cr_expect_gt (port, previous, "port %d after %d:\n%s", port, previous, out);
        previous = port;
    }
    cr_expect_geq (rows, 1, "no rows:\n%s", out);
    free (out);
    support_rmdir (&dir);
}
