//  support_durability.c -- the cluster the durability tests run
//  (support_durability.h): real processes of the `drover` binary on
//  loopback, and the sink's output read back by tuple id.
#include "support_durability.h"
#include "support.h"
#include "common/json_read.h"
#include "proto/wire.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <msgpack.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void
cluster_path (const cluster_t *c, const char *name, char *path, size_t size)
{
    snprintf (path, size, "%s/%s", c->dir, name);
}

void
cluster_init (cluster_t *c)
{
    c->dir = support_tmpdir ();
    cr_assert_not_null (c->dir);
    snprintf (c->frontend, sizeof c->frontend, "%s", support_endpoint ());
    snprintf (c->intake, sizeof c->intake, "%s", support_endpoint ());
    snprintf (c->backend, sizeof c->backend, "%s", support_endpoint ());
    snprintf (c->sink, sizeof c->sink, "%s", support_endpoint ());
    cluster_path (c, "broker-data", c->broker_data, sizeof c->broker_data);
    cluster_path (c, "sink-data", c->sink_data, sizeof c->sink_data);
    cluster_path (c, "results.jsonl", c->results, sizeof c->results);
    if (!c->heartbeat_ms)
        c->heartbeat_ms = "200";
}

//  The broker always on the LMDB store (the default) in the cluster's data
//  dir, so a restart finds what the killed one had committed.
void
cluster_broker_start (cluster_t *c)
{
    char log[512];
    cluster_path (c, "broker.log", log, sizeof log);
    char *argv[32] = {
        "broker", "--frontend", c->frontend, "--intake", c->intake,
        "--backend", c->backend, "--store", "lmdb", "--data-dir", c->broker_data,
        "--heartbeat-ms", (char *) c->heartbeat_ms, NULL
    };
    size_t argc = 13;
    if (c->max_queued) {
        argv[argc++] = "--max-queued";
        argv[argc++] = (char *) c->max_queued;
    }
    if (c->lease_slack_ms) {
        argv[argc++] = "--lease-slack-ms";
        argv[argc++] = (char *) c->lease_slack_ms;
    }
    argv[argc] = NULL;
    c->broker = support_spawnv (log, argv);
    cr_assert_gt (c->broker, 0);
}

void
cluster_sink_start (cluster_t *c)
{
    char log[512];
    cluster_path (c, "sink.log", log, sizeof log);
    c->sink_pid = support_spawn (log, "sink", "--bind", c->sink, "--output", c->results,
                                 "--data-dir", c->sink_data, NULL);
    cr_assert_gt (c->sink_pid, 0);
}

//  Agents are agent-1, agent-2, ...; a restarted one keeps its name.  Each
//  runs 2 worker processes of 2 handler threads.
void
cluster_agent_start (cluster_t *c, int index)
{
    char log[512], name[32];
    snprintf (name, sizeof name, "agent-%d", index + 1);
    snprintf (log, sizeof log, "%s/%s.log", c->dir, name);
    if (c->agent_slots)
        c->agents[index] = support_spawn (log, "agent", "--broker", c->backend, "--name", name,
                                          "--processes", "2", "--threads", "2",
                                          "--slots", c->agent_slots,
                                          "--result-timeout-ms", "1000", NULL);
    else
        c->agents[index] = support_spawn (log, "agent", "--broker", c->backend, "--name", name,
                                          "--processes", "2", "--threads", "2",
                                          "--result-timeout-ms", "1000", NULL);
    cr_assert_gt (c->agents[index], 0);
}

void
cluster_start (cluster_t *c, int agents)
{
    cluster_init (c);
    cluster_broker_start (c);
    cluster_sink_start (c);
    for (int i = 0; i < agents; i++)
        cluster_agent_start (c, i);
    //  Every agent in before any work, so that each gets a share of it.
    char log[512], joined[64];
    cluster_path (c, "broker.log", log, sizeof log);
    for (int i = 0; i < agents; i++) {
        snprintf (joined, sizeof joined, "agent agent-%d joined", i + 1);
        cr_assert (SUPPORT_WAIT (support_count_text (log, joined) > 0, 30000),
                   "agent-%d did not join (%s)", i + 1, c->dir);
    }
}

//  SIGKILL: no chance to flush, commit or say BYE.
void
cluster_kill9 (pid_t *pid_p)
{
    cr_assert_gt (*pid_p, 0);
    kill (*pid_p, SIGKILL);
    int status = 0;
    cr_assert (SUPPORT_WAIT (support_exited (*pid_p, &status), 10000), "SIGKILL did not end %d",
               (int) *pid_p);
    *pid_p = 0;
}

void
cluster_stop (cluster_t *c)
{
    for (int i = 0; i < AGENTS_MAX; i++)
        if (c->agents[i] > 0) {
            kill (c->agents[i], SIGCONT);
            cr_expect_eq (support_stop (c->agents[i], SIGTERM, 40000), 0,
                          "agent-%d did not exit 0 on SIGTERM", i + 1);
        }
    if (c->sink_pid > 0)
        cr_expect_eq (support_stop (c->sink_pid, SIGTERM, 10000), 0, "sink did not exit 0");
    if (c->broker > 0)
        cr_expect_eq (support_stop (c->broker, SIGTERM, 10000), 0, "broker did not exit 0");
    //  DROVER_TEST_KEEP=1 keeps the logs and data dirs to read a failure.
    if (!getenv ("DROVER_TEST_KEEP"))
        support_rmdir (&c->dir);
}

//  Write count JSON Lines tuples; line i (0-based) is tuple_of (i).
void
cluster_write_tuples (const char *path, int count, const char *(*tuple_of) (int, char *, size_t))
{
    FILE *file = fopen (path, "w");
    cr_assert_not_null (file);
    char text[128];
    for (int i = 0; i < count; i++)
        fprintf (file, "%s\n", tuple_of (i, text, sizeof text));
    cr_assert_eq (fclose (file), 0);
}

//  A mix of short sleeps (0-40 ms) so a job of a few thousand tuples stays
//  in flight for seconds on two agents: long enough to kill something in it.
const char *
cluster_sleep_mix (int i, char *text, size_t size)
{
    snprintf (text, size, "[%d]", (i % 5) * 10);
    return text;
}

const char *
cluster_sleep_300 (int i, char *text, size_t size)
{
    (void) i;
    snprintf (text, size, "[300]");
    return text;
}

const char *
cluster_plain (int i, char *text, size_t size)
{
    snprintf (text, size, "[\"t\", %d]", i);
    return text;
}

//  `drover submit` a file as a new closed job; every tuple in it is
//  acknowledged (ACCEPTED) once this returns 0.
int
cluster_submit (cluster_t *c, const char *job, const char *handler, const char *file,
          const char *max_attempts, const char *timeout_ms)
{
    char log[512];
    cluster_path (c, "submit.log", log, sizeof log);
    pid_t pid = support_spawn (log, "submit", "--broker", c->frontend, "--job", job,
                               "--handler", handler, "--sink", c->sink,
                               "--max-attempts", max_attempts, "--timeout-ms", timeout_ms,
                               "--quiet", file, NULL);
    cr_assert_gt (pid, 0);
    int status = -1;
    cr_assert (SUPPORT_WAIT (support_exited (pid, &status), 60000), "submit did not finish");
    return status;
}

//  One request on a fresh DEALER (as a producer retrying after a timeout
//  would), one reply or NULL after timeout_ms.  Takes the request.
msg_t *
cluster_request (const char *endpoint, msg_t **request_p, int timeout_ms)
{
    zsock_t *dealer = zsock_new_dealer (endpoint);
    cr_assert_not_null (dealer);
    zsock_set_linger (dealer, 0);
    zsock_set_rcvtimeo (dealer, timeout_ms);
    msg_t *reply = NULL;
    if (wire_send (request_p, dealer, NULL) == 0 && wire_recv (dealer, NULL, &reply) != 0)
        reply = NULL;
    msg_destroy (request_p);
    zsock_destroy (&dealer);
    return reply;
}

//  STATUS of a job: 0 and the counters, or -1 if the broker did not answer
//  with JOB (down, restarting, or does not know the job).
int
cluster_status (const cluster_t *c, const char *job, counters_t *counters)
{
    msg_t *request = msg_new (MSG_STATUS);
    msg_set_str (request, MSG_F_JOB, job);
    msg_t *reply = cluster_request (c->frontend, &request, 1000);
    if (!reply || msg_command (reply) != MSG_JOB) {
        msg_destroy (&reply);
        return -1;
    }
    snprintf (counters->state, sizeof counters->state, "%s", msg_str (reply, MSG_F_STATE));
    counters->submitted = msg_uint (reply, MSG_F_SUBMITTED);
    counters->queued = msg_uint (reply, MSG_F_QUEUED);
    counters->running = msg_uint (reply, MSG_F_RUNNING);
    counters->done = msg_uint (reply, MSG_F_DONE);
    counters->failed = msg_uint (reply, MSG_F_FAILED);
    msg_destroy (&reply);
    return 0;
}

bool
cluster_complete (const cluster_t *c, const char *job, counters_t *counters)
{
    if (cluster_status (c, job, counters))
        return false;
    if (strcmp (counters->state, "complete"))
        usleep (50000);         //  one STATUS per 50 ms is plenty
    return !strcmp (counters->state, "complete");
}

static bool
s_str_is (const msgpack_object *obj, const char *text)
{
    return obj && obj->type == MSGPACK_OBJECT_STR && obj->via.str.size == strlen (text)
        && !memcmp (obj->via.str.ptr, text, obj->via.str.size);
}

static void
s_tally_record (tally_t *tally, unsigned char *seen, const msgpack_object *record,
                const char *job, size_t count)
{
    const msgpack_object *id = support_map_get (record, "tuple");
    const msgpack_object *attempt = support_map_get (record, "attempt");
    const msgpack_object *status = support_map_get (record, "status");
    const msgpack_object *agent = support_map_get (record, "agent");
    if (!s_str_is (support_map_get (record, "job"), job)
    ||  !id || id->type != MSGPACK_OBJECT_POSITIVE_INTEGER || id->via.u64 == 0
    ||  id->via.u64 > count || !attempt || attempt->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        tally->foreign++;
        return;
    }
    if (seen[id->via.u64]++)
        tally->duplicated++;
    uint64_t tries = attempt->via.u64;
    if (tally->min_attempt == 0 || tries < tally->min_attempt)
        tally->min_attempt = tries;
    if (tries > tally->max_attempt)
        tally->max_attempt = tries;
    int who = -1;
    for (int i = 0; i < AGENTS_MAX; i++) {
        char name[32];
        snprintf (name, sizeof name, "agent-%d", i + 1);
        if (s_str_is (agent, name))
            who = i;
    }
    if (who >= 0)
        tally->per_agent[who]++;
    if (tries >= 2) {
        tally->redelivered++;
        if (who >= 0)
            tally->redelivered_per_agent[who]++;
    }
    if (s_str_is (status, "ok"))
        tally->ok++;
    else
    if (s_str_is (status, "failed")) {
        tally->failed++;
        const msgpack_object *error = support_map_get (record, "error");
        if (error && error->type == MSGPACK_OBJECT_STR && error->via.str.size > 0) {
            tally->failed_with_error++;
            if (!tally->first_error[0])
                snprintf (tally->first_error, sizeof tally->first_error, "%.*s",
                          (int) error->via.str.size, error->via.str.ptr);
        }
    }
    else
    if (s_str_is (status, "cancelled") || s_str_is (status, "aborted")) {
        *(s_str_is (status, "cancelled")? &tally->cancelled: &tally->aborted) += 1;
        const msgpack_object *started = support_map_get (record, "started_us");
        //  A tuple stopped while it ran says so, with its start time.
        if (s_str_is (support_map_get (record, "error"), "cancelled while running (drover cancel)")
        &&  started && started->type == MSGPACK_OBJECT_POSITIVE_INTEGER && started->via.u64)
            tally->cancelled_running++;
        else
        if (!started || started->type != MSGPACK_OBJECT_POSITIVE_INTEGER || started->via.u64)
            tally->stopped_but_ran++;
    }
    else
        tally->bad++;
}

//  Read the sink's output; the job's tuple ids are 1..count.
tally_t
cluster_tally (const char *path, const char *job, size_t count)
{
    tally_t tally = { 0 };
    unsigned char *seen = calloc (count + 1, 1);
    cr_assert_not_null (seen);
    FILE *file = fopen (path, "r");
    char *line = NULL;
    size_t size = 0;
    ssize_t len;
    while (file && (len = getline (&line, &size, file)) > 0) {
        tally.lines++;
        msgpack_sbuffer buffer;
        msgpack_sbuffer_init (&buffer);
        char err[128];
        msgpack_unpacked record;
        msgpack_unpacked_init (&record);
        if (line[len - 1] != '\n'
        ||  json_to_msgpack (line, (size_t) len, &buffer, err, sizeof err)
        ||  msgpack_unpack_next (&record, buffer.data, buffer.size, NULL) != MSGPACK_UNPACK_SUCCESS)
            tally.bad++;
        else
            s_tally_record (&tally, seen, &record.data, job, count);
        msgpack_unpacked_destroy (&record);
        msgpack_sbuffer_destroy (&buffer);
    }
    free (line);
    if (file)
        fclose (file);
    for (size_t id = 1; id <= count; id++)
        if (!seen[id])
            tally.missing++;
    free (seen);
    return tally;
}

//  The promise: each of the job's count tuples once in the output, nothing else.
void
cluster_expect_exactly_once (const cluster_t *c, const tally_t *tally, size_t count)
{
    cr_expect_eq (tally->missing, 0, "%zu of %zu tuple ids missing from the sink output (%s)",
                  tally->missing, count, c->dir);
    cr_expect_eq (tally->duplicated, 0, "%zu tuple ids written twice or more (%s)",
                  tally->duplicated, c->dir);
    cr_expect_eq (tally->bad, 0, "%zu unreadable lines in the output (%s)", tally->bad, c->dir);
    cr_expect_eq (tally->foreign, 0, "%zu lines of another job or id (%s)", tally->foreign, c->dir);
    cr_expect_eq (tally->lines, count, "%zu lines for %zu tuples (%s)", tally->lines, count, c->dir);
}

void
cluster_expect_complete (const cluster_t *c, const char *job, size_t done, size_t failed, int timeout_ms)
{
    counters_t counters = { .state = "" };
    bool complete = SUPPORT_WAIT (cluster_complete (c, job, &counters), timeout_ms);
    cr_expect (complete, "job %s not complete after %d ms: state '%s', submitted %" PRIu64
               ", queued %" PRIu64 ", running %" PRIu64 ", done %" PRIu64 ", failed %" PRIu64
               " (logs in %s)", job, timeout_ms, counters.state, counters.submitted,
               counters.queued, counters.running, counters.done, counters.failed, c->dir);
    if (!complete)
        return;
    cr_expect_eq (counters.submitted, done + failed, "submitted %" PRIu64, counters.submitted);
    cr_expect_eq (counters.done, done, "STATUS done %" PRIu64 ", want %zu", counters.done, done);
    cr_expect_eq (counters.failed, failed, "STATUS failed %" PRIu64 ", want %zu",
                  counters.failed, failed);
    cr_expect_eq (counters.queued + counters.running, 0, "complete with tuples queued or running");
}

//  Submit count tuples of the sleep mix, all acknowledged, then wait until a
//  quarter of them are in the output: the job is now mid-flight.
void
cluster_start_job_and_wait_quarter (cluster_t *c, const char *job, size_t count)
{
    char tuples[512];
    cluster_path (c, "tuples.jsonl", tuples, sizeof tuples);
    cluster_write_tuples (tuples, (int) count, cluster_sleep_mix);
    int status = cluster_submit (c, job, "sleep", tuples, "10", "60000");
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0,
               "submit failed (status %d); see %s", status, c->dir);
    cr_assert (SUPPORT_WAIT (support_count_lines (c->results) >= count / 4, 60000),
               "the sink output never reached %zu lines (%s)", count / 4, c->dir);
    //  Precondition of a mid-job kill, not a result: with 2000 tuples of
    //  20 ms mean on 8 handler threads the job runs for about 5 s.
    cr_assert_lt (support_count_lines (c->results), count,
                  "the job finished before the kill; make it longer");
}

bool
cluster_both_agents_working (const cluster_t *c, const char *job, size_t count)
{
    tally_t tally = cluster_tally (c->results, job, count);
    return tally.per_agent[0] > 0 && tally.per_agent[1] > 0;
}
