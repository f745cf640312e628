//  test_broker_each.c -- `each` over an agent label for plain jobs of
//  tuples (PROTOCOL.md 10.3), black box: a real broker, sink and agents
//  labelled site=a and site=b (and one without labels) on loopback,
//  `drover submit --each site`.  Every tuple runs once per site, from an
//  agent of that site, as jobs NAME@site=a and NAME@site=b; with
//  `requires` only the sites of agents that fit; a retried SUBMIT is
//  copied once; the dashboard shows the job with its runs added up and
//  /metrics counts each tuple once; and after a kill -9 of the broker
//  mid-job, still exactly once per site in the sink's output.
#include "support.h"
#include "support_durability.h"
#include "support_http.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static void
s_fini (void)
{
    support_kill_started ();
}

TestSuite (broker_each, .fini = s_fini, .timeout = 300);

//  An agent named name with labels (NULL: none), into *pid_p.
static void
s_agent (cluster_t *c, const char *name, const char *labels, pid_t *pid_p)
{
    char log[600];
    snprintf (log, sizeof log, "%s/%s.log", c->dir, name);
    *pid_p = labels
        ? support_spawn (log, "agent", "--broker", c->backend, "--name", name,
                         "--processes", "2", "--threads", "2", "--label", labels,
                         "--result-timeout-ms", "1000", NULL)
        : support_spawn (log, "agent", "--broker", c->backend, "--name", name,
                         "--processes", "2", "--threads", "2",
                         "--result-timeout-ms", "1000", NULL);
    cr_assert_gt (*pid_p, 0);
    support_started (*pid_p);
    char broker_log[600], joined[64];
    cluster_path (c, "broker.log", broker_log, sizeof broker_log);
    snprintf (joined, sizeof joined, "agent %s joined", name);
    //  The runs are made from the agents connected when the job is.
    cr_assert (SUPPORT_WAIT (support_count_text (broker_log, joined) > 0, 30000),
               "%s did not join (%s)", name, c->dir);
}

//  With http_port, the broker serves --http on it (DROVER_HTTP, for the
//  broker only).
static void
s_start (cluster_t *c, int http_port)
{
    cluster_init (c);
    if (!getenv ("DROVER_TEST_KEEP"))       //  kept: the logs of a failure
        support_started_dir (c->dir);
    char http[16];
    snprintf (http, sizeof http, "%d", http_port);
    if (http_port)
        setenv ("DROVER_HTTP", http, 1);
    cluster_broker_start (c);
    unsetenv ("DROVER_HTTP");
    support_started (c->broker);
    cluster_sink_start (c);
    support_started (c->sink_pid);
}

//  `drover submit --each site` of count tuples (tuple_of) with options
//  (or NULL); with wait, until the job is complete.  Its exit status.
static int
s_submit (cluster_t *c, const char *job, const char *handler, int count,
          const char *(*tuple_of) (int, char *, size_t), const char *options, bool wait)
{
    char tuples[600], log[600];
    snprintf (tuples, sizeof tuples, "%s/%s.jsonl", c->dir, job);
    cluster_write_tuples (tuples, count, tuple_of);
    cluster_path (c, "submit.log", log, sizeof log);
    char *argv[32] = {
        "submit", "--broker", c->frontend, "--job", (char *) job, "--handler",
        (char *) handler, "--sink", c->sink, "--each", "site", "--max-attempts", "10",
        "--quiet", NULL
    };
    size_t argc = 13;
    if (options) {
        argv[argc++] = "--options";
        argv[argc++] = (char *) options;
    }
    if (wait)
        argv[argc++] = "--wait";
    argv[argc++] = tuples;
    argv[argc] = NULL;
    pid_t pid = support_spawnv (log, argv);
    cr_assert_gt (pid, 0);
    int status = -1;
    cr_assert (SUPPORT_WAIT (support_exited (pid, &status), 120000), "submit did not finish");
    return WIFEXITED (status)? WEXITSTATUS (status): -1;
}

//  Lines of the sink's output with both texts.
static size_t
s_lines_with (const cluster_t *c, const char *one, const char *two)
{
    FILE *file = fopen (c->results, "r");
    char *line = NULL;
    size_t size = 0, count = 0;
    while (file && getline (&line, &size, file) > 0)
        count += strstr (line, one) && strstr (line, two);
    free (line);
    if (file)
        fclose (file);
    return count;
}

//  Run job@site=value: each of its count tuples once, all from agent.
static void
s_expect_run (const cluster_t *c, const char *job, const char *value, size_t count,
              int agent)
{
    char run[128];
    snprintf (run, sizeof run, "%s@site=%s", job, value);
    tally_t tally = cluster_tally (c->results, run, count);
    cr_expect_eq (tally.missing, 0, "%s: %zu of %zu missing (%s)", run, tally.missing, count,
                  c->dir);
    cr_expect_eq (tally.duplicated, 0, "%s: %zu twice (%s)", run, tally.duplicated, c->dir);
    cr_expect_eq (tally.bad, 0, "%s: %zu unreadable lines", run, tally.bad);
    if (agent >= 0)
        cr_expect_eq (tally.per_agent[agent], count, "%s: %zu of %zu from agent-%d", run,
                      tally.per_agent[agent], count, agent + 1);
    //  And every result says which site it ran from.
    char labels[64], want[160];
    snprintf (want, sizeof want, "\"job\":\"%s\",", run);
    snprintf (labels, sizeof labels, "\"labels\":{\"site\":\"%s\"", value);
    cr_expect_eq (s_lines_with (c, want, labels), count, "%s: results naming site %s", run,
                  value);
}

static void
s_expect_status (const cluster_t *c, const char *job, const char *state, uint64_t submitted,
                 uint64_t done)
{
    counters_t counters = { .state = "" };
    cr_assert_eq (cluster_status (c, job, &counters), 0, "no STATUS of %s", job);
    cr_expect_str_eq (counters.state, state, "%s", job);
    cr_expect_eq (counters.submitted, submitted, "%s: submitted %" PRIu64, job,
                  counters.submitted);
    cr_expect_eq (counters.done, done, "%s: done %" PRIu64, job, counters.done);
}

//  A SUBMIT of one tuple ["r", tag] to job (options {"each": "site"})
//  with batch; the ACCEPTED's first id (0: no ACCEPTED).
static uint64_t
s_submit_raw (const cluster_t *c, const char *job, const char *batch, int tag)
{
    msg_t *msg = msg_new (MSG_SUBMIT);
    msg_set_str (msg, MSG_F_JOB, job);
    msg_set_str (msg, MSG_F_HANDLER, "echo");
    msg_set_str (msg, MSG_F_SINK, c->sink);
    msg_set_str (msg, MSG_F_BATCH, batch);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    msgpack_pack_str_with_body (&pk, "each", 4);
    msgpack_pack_str_with_body (&pk, "site", 4);
    msg_set_raw (msg, MSG_F_OPTIONS, buf.data, buf.size);
    msgpack_sbuffer_clear (&buf);
    msgpack_pack_array (&pk, 2);
    msgpack_pack_str_with_body (&pk, "r", 1);
    msgpack_pack_int (&pk, tag);
    msg_add_tuple (msg, buf.data, buf.size);
    msgpack_sbuffer_destroy (&buf);
    msg_t *reply = cluster_request (c->frontend, &msg, 10000);
    uint64_t first = reply && msg_command (reply) == MSG_ACCEPTED
                   && msg_uint (reply, MSG_F_COUNT) == 1? msg_uint (reply, MSG_F_FIRST): 0;
    msg_destroy (&reply);
    return first;
}

//  True once both views were rendered after the job completed (the broker
//  renders them every 250 ms); *state_p and *metrics_p are the last read.
static bool
s_http_complete (int port, char **state_p, char **metrics_p)
{
    free (*state_p);
    free (*metrics_p);
    *state_p = *metrics_p = NULL;
    return support_http_get (port, "/api/state", NULL, state_p) == 200
        && support_http_get (port, "/metrics", NULL, metrics_p) == 200
        && !strstr (*state_p, "\"state\":\"open\"")
        && strstr (*metrics_p, "drover_jobs{state=\"open\"} 0\n");
}

//  The dashboard's row of job "every" and /metrics: the job with its runs
//  added up and marked, the runs with their own; each tuple counted once.
static void
s_expect_http (int port)
{
    char *state = NULL, *metrics = NULL;
    cr_assert (SUPPORT_WAIT (s_http_complete (port, &state, &metrics), 20000),
               "the views still show a job unfinished: %s\n%s", state, metrics);
    cr_expect (strstr (state, "{\"name\":\"every\",\"handler\":\"echo\",\"state\":"
                              "\"complete\",\"each\":true,\"submitted\":600,\"queued\":0,"
                              "\"running\":0,\"done\":600,"),
               "the dashboard's row of the job: %s", state);
    cr_expect (strstr (state, "{\"name\":\"every@site=a\",\"handler\":\"echo\",\"state\":"
                              "\"complete\",\"each\":false,\"submitted\":300,"),
               "the dashboard's row of a run: %s", state);
    cr_expect (strstr (metrics, "drover_tuples_total{job=\"every@site=b\",state=\"done\"} 300\n"),
               "a run's series: %s", metrics);
    cr_expect (!strstr (metrics, "job=\"every\""), "the job itself has series: %s", metrics);
    cr_expect (strstr (metrics, "drover_jobs{state=\"complete\"} 3\n"),
               "the job and its two runs, complete: %s", metrics);
    free (state);
    free (metrics);
}

Test (broker_each, every_tuple_once_per_site_from_that_site)
{
    cluster_t c = { 0 };
    int http_port = support_free_port ();
    s_start (&c, http_port);
    s_agent (&c, "agent-1", "site=a,zone=dmz", &c.agents[0]);
    s_agent (&c, "agent-2", "site=b", &c.agents[1]);
    s_agent (&c, "agent-3", NULL, &c.agents[2]);

    cr_assert_eq (s_submit (&c, "every", "echo", 300, cluster_plain, NULL, true), 0);
    s_expect_run (&c, "every", "a", 300, 0);
    s_expect_run (&c, "every", "b", 300, 1);
    cr_expect_eq (support_count_lines (c.results), 600, "exactly 2N results");
    cr_expect_eq (support_count_text (c.results, "\"agent\":\"agent-3\""), 0,
                  "the agent without labels ran a copy");
    cr_expect_eq (support_count_text (c.results, "\"job\":\"every\","), 0,
                  "the job itself holds no tuples");
    s_expect_status (&c, "every", "complete", 600, 600);
    s_expect_status (&c, "every@site=a", "complete", 300, 300);
    //  `drover jobs` lists the job with its runs added up, as STATUS.
    char jobs[600];
    cluster_path (&c, "jobs.json", jobs, sizeof jobs);
    pid_t pid = support_spawn (jobs, "jobs", "--broker", c.frontend, "--json", NULL);
    cr_assert_gt (pid, 0);
    cr_assert_eq (support_stop (pid, 0, 20000), 0);
    cr_expect_eq (support_count_text (jobs, "{\"job\":\"every\",\"number\":1,\"state\":"
                                      "\"complete\",\"handler\":\"echo\",\"submitted\":600,"), 1,
                  "drover jobs: see %s", jobs);
    s_expect_http (http_port);

    //  requires zone=dmz: only agent-1 fits, so one run, site=a.
    cr_assert_eq (s_submit (&c, "dmz", "echo", 100, cluster_plain,
                            "{\"requires\": {\"zone\": \"dmz\"}}", true), 0);
    s_expect_run (&c, "dmz", "a", 100, 0);
    cr_expect_eq (support_count_text (c.results, "\"job\":\"dmz@site=b\""), 0);
    s_expect_status (&c, "dmz", "complete", 100, 100);

    //  Another site=b agent, in zone dmz: now runs for a and b, and b's
    //  copies go only to it, never to agent-2 (not in dmz).
    pid_t b2 = 0;
    s_agent (&c, "agent-b2", "site=b,zone=dmz", &b2);
    cr_assert_eq (s_submit (&c, "dmz2", "echo", 100, cluster_plain,
                            "{\"requires\": {\"zone\": \"dmz\"}}", true), 0);
    s_expect_run (&c, "dmz2", "a", 100, 0);
    s_expect_run (&c, "dmz2", "b", 100, -1);
    cr_expect_eq (s_lines_with (&c, "\"job\":\"dmz2@site=b\"", "\"agent\":\"agent-b2\""), 100);
    s_expect_status (&c, "dmz2", "complete", 200, 200);

    //  A SUBMIT sent again with its batch: the first answer, one copy per
    //  run; a new batch gets the next id in every run.
    cr_assert_eq (s_submit_raw (&c, "retry", "r1", 1), 1);
    cr_assert_eq (s_submit_raw (&c, "retry", "r1", 1), 1);
    cr_assert_eq (s_submit_raw (&c, "retry", "r2", 2), 2);
    counters_t counters;
    cr_assert_eq (cluster_status (&c, "retry", &counters), 0);
    cr_expect_eq (counters.submitted, 4, "2 tuples x 2 runs (a, b), submitted %" PRIu64,
                  counters.submitted);
    cr_expect_str_eq (counters.state, "open");
    cr_expect_eq (support_stop (b2, SIGTERM, 20000), 0);
    cluster_stop (&c);
}

Test (broker_each, broker_kill9_mid_job_exactly_once_per_site)
{
    cluster_t c = { 0 };
    s_start (&c, 0);
    s_agent (&c, "agent-1", "site=a", &c.agents[0]);
    s_agent (&c, "agent-2", "site=b", &c.agents[1]);
    //  1,000 tuples of 20 ms mean on 4 handler threads a site: about 5 s.
    cr_assert_eq (s_submit (&c, "kill", "sleep", 1000, cluster_sleep_mix, NULL, false), 0);
    cr_assert (SUPPORT_WAIT (support_count_lines (c.results) >= 500, 60000),
               "the sink output never reached 500 lines (%s)", c.dir);
    cr_assert_lt (support_count_lines (c.results), 2000,
                  "the job finished before the kill; make it longer");

    cluster_kill9 (&c.broker);
    cluster_broker_start (&c);
    support_started (c.broker);

    counters_t counters = { .state = "" };
    cr_assert (SUPPORT_WAIT (cluster_complete (&c, "kill", &counters), 120000),
               "not complete: state '%s', submitted %" PRIu64 ", done %" PRIu64 " (%s)",
               counters.state, counters.submitted, counters.done, c.dir);
    cr_expect_eq (counters.submitted, 2000);
    cr_expect_eq (counters.done, 2000);
    s_expect_run (&c, "kill", "a", 1000, 0);
    s_expect_run (&c, "kill", "b", 1000, 1);
    cr_expect_eq (support_count_lines (c.results), 2000, "exactly 2N results");
    cluster_stop (&c);
}
