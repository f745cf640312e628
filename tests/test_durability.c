//  test_durability.c -- nothing lost, nothing twice (issue 4), black-box: a
//  real broker on an LMDB data dir, a sink with its LMDB dedupe index, agents,
//  all on loopback; processes are killed with SIGKILL or stopped with SIGSTOP
//  mid-job and the sink's JSON Lines must still hold each tuple id once.
#include "support.h"
#include "common/json_read.h"
#include "proto/msg.h"
#include "proto/wire.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <dirent.h>
#include <msgpack.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define AGENTS_MAX 3

typedef struct {
    char *dir;
    char frontend[64], intake[64], backend[64], sink[64];
    char broker_data[512], sink_data[512], results[512];
    const char *heartbeat_ms;       //  broker's --heartbeat-ms
    const char *max_queued;         //  broker's --max-queued, or NULL
    const char *lease_slack_ms;     //  broker's --lease-slack-ms, or NULL
    pid_t broker, sink_pid, agents[AGENTS_MAX];
} cluster_t;

//  What the sink's output says about one job of tuple ids 1..count.
typedef struct {
    size_t lines, bad, foreign;     //  unparsable; other job or id out of range
    size_t missing, duplicated;
    size_t ok, failed, failed_with_error, redelivered;  //  redelivered: attempt >= 2
    uint64_t min_attempt, max_attempt;
    size_t per_agent[AGENTS_MAX];
    size_t redelivered_per_agent[AGENTS_MAX];
    char first_error[256];
} tally_t;

typedef struct {
    char state[16];
    uint64_t submitted, queued, running, done, failed;
} counters_t;

static void
s_path (const cluster_t *c, const char *name, char *path, size_t size)
{
    snprintf (path, size, "%s/%s", c->dir, name);
}

static void
s_cluster_init (cluster_t *c)
{
    c->dir = support_tmpdir ();
    cr_assert_not_null (c->dir);
    snprintf (c->frontend, sizeof c->frontend, "%s", support_endpoint ());
    snprintf (c->intake, sizeof c->intake, "%s", support_endpoint ());
    snprintf (c->backend, sizeof c->backend, "%s", support_endpoint ());
    snprintf (c->sink, sizeof c->sink, "%s", support_endpoint ());
    s_path (c, "broker-data", c->broker_data, sizeof c->broker_data);
    s_path (c, "sink-data", c->sink_data, sizeof c->sink_data);
    s_path (c, "results.jsonl", c->results, sizeof c->results);
    if (!c->heartbeat_ms)
        c->heartbeat_ms = "200";
}

//  The broker always on the LMDB store (the default) in the cluster's data
//  dir, so a restart finds what the killed one had committed.
static void
s_broker_start (cluster_t *c)
{
    char log[512];
    s_path (c, "broker.log", log, sizeof log);
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

static void
s_sink_start (cluster_t *c)
{
    char log[512];
    s_path (c, "sink.log", log, sizeof log);
    c->sink_pid = support_spawn (log, "sink", "--bind", c->sink, "--output", c->results,
                                 "--data-dir", c->sink_data, NULL);
    cr_assert_gt (c->sink_pid, 0);
}

//  Agents are agent-1, agent-2, ...; a restarted one keeps its name.  Each
//  runs 2 worker processes of 2 handler threads.
static void
s_agent_start (cluster_t *c, int index)
{
    char log[512], name[32];
    snprintf (name, sizeof name, "agent-%d", index + 1);
    snprintf (log, sizeof log, "%s/%s.log", c->dir, name);
    c->agents[index] = support_spawn (log, "agent", "--broker", c->backend, "--name", name,
                                      "--processes", "2", "--threads", "2",
                                      "--result-timeout-ms", "1000", NULL);
    cr_assert_gt (c->agents[index], 0);
}

static void
s_cluster_start (cluster_t *c, int agents)
{
    s_cluster_init (c);
    s_broker_start (c);
    s_sink_start (c);
    for (int i = 0; i < agents; i++)
        s_agent_start (c, i);
}

//  SIGKILL: no chance to flush, commit or say BYE.
static void
s_kill9 (pid_t *pid_p)
{
    cr_assert_gt (*pid_p, 0);
    kill (*pid_p, SIGKILL);
    int status = 0;
    cr_assert (SUPPORT_WAIT (support_exited (*pid_p, &status), 10000), "SIGKILL did not end %d",
               (int) *pid_p);
    *pid_p = 0;
}

static void
s_cluster_stop (cluster_t *c)
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
static void
s_write_tuples (const char *path, int count, const char *(*tuple_of) (int, char *, size_t))
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
static const char *
s_sleep_mix (int i, char *text, size_t size)
{
    snprintf (text, size, "[%d]", (i % 5) * 10);
    return text;
}

static const char *
s_sleep_300 (int i, char *text, size_t size)
{
    (void) i;
    snprintf (text, size, "[300]");
    return text;
}

static const char *
s_plain (int i, char *text, size_t size)
{
    snprintf (text, size, "[\"t\", %d]", i);
    return text;
}

//  `drover submit` a file as a new closed job; every tuple in it is
//  acknowledged (ACCEPTED) once this returns 0.
static int
s_submit (cluster_t *c, const char *job, const char *handler, const char *file,
          const char *max_attempts, const char *timeout_ms)
{
    char log[512];
    s_path (c, "submit.log", log, sizeof log);
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
static msg_t *
s_request (const char *endpoint, msg_t **request_p, int timeout_ms)
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
static int
s_status (const cluster_t *c, const char *job, counters_t *counters)
{
    msg_t *request = msg_new (MSG_STATUS);
    msg_set_str (request, MSG_F_JOB, job);
    msg_t *reply = s_request (c->frontend, &request, 1000);
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

static bool
s_complete (const cluster_t *c, const char *job, counters_t *counters)
{
    if (s_status (c, job, counters))
        return false;
    if (strcmp (counters->state, "complete"))
        usleep (50000);         //  one STATUS per 50 ms is plenty
    return !strcmp (counters->state, "complete");
}

static const msgpack_object *
s_key (const msgpack_object *map, const char *key)
{
    if (map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen (key)
        &&  !memcmp (kv->key.via.str.ptr, key, kv->key.via.str.size))
            return &kv->val;
    }
    return NULL;
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
    const msgpack_object *id = s_key (record, "tuple");
    const msgpack_object *attempt = s_key (record, "attempt");
    const msgpack_object *status = s_key (record, "status");
    const msgpack_object *agent = s_key (record, "agent");
    if (!s_str_is (s_key (record, "job"), job)
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
        const msgpack_object *error = s_key (record, "error");
        if (error && error->type == MSGPACK_OBJECT_STR && error->via.str.size > 0) {
            tally->failed_with_error++;
            if (!tally->first_error[0])
                snprintf (tally->first_error, sizeof tally->first_error, "%.*s",
                          (int) error->via.str.size, error->via.str.ptr);
        }
    }
    else
        tally->bad++;
}

//  Read the sink's output; the job's tuple ids are 1..count.
static tally_t
s_tally (const char *path, const char *job, size_t count)
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
static void
s_expect_exactly_once (const cluster_t *c, const tally_t *tally, size_t count)
{
    cr_expect_eq (tally->missing, 0, "%zu of %zu tuple ids missing from the sink output (%s)",
                  tally->missing, count, c->dir);
    cr_expect_eq (tally->duplicated, 0, "%zu tuple ids written twice or more (%s)",
                  tally->duplicated, c->dir);
    cr_expect_eq (tally->bad, 0, "%zu unreadable lines in the output (%s)", tally->bad, c->dir);
    cr_expect_eq (tally->foreign, 0, "%zu lines of another job or id (%s)", tally->foreign, c->dir);
    cr_expect_eq (tally->lines, count, "%zu lines for %zu tuples (%s)", tally->lines, count, c->dir);
}

static void
s_expect_complete (const cluster_t *c, const char *job, size_t done, size_t failed, int timeout_ms)
{
    counters_t counters = { .state = "" };
    bool complete = SUPPORT_WAIT (s_complete (c, job, &counters), timeout_ms);
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
static void
s_start_job_and_wait_quarter (cluster_t *c, const char *job, size_t count)
{
    char tuples[512];
    s_path (c, "tuples.jsonl", tuples, sizeof tuples);
    s_write_tuples (tuples, (int) count, s_sleep_mix);
    int status = s_submit (c, job, "sleep", tuples, "10", "60000");
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0,
               "submit failed (status %d); see %s", status, c->dir);
    cr_assert (SUPPORT_WAIT (support_count_lines (c->results) >= count / 4, 60000),
               "the sink output never reached %zu lines (%s)", count / 4, c->dir);
    //  Precondition of a mid-job kill, not a result: with 2000 tuples of
    //  20 ms mean on 8 handler threads the job runs for about 5 s.
    cr_assert_lt (support_count_lines (c->results), count,
                  "the job finished before the kill; make it longer");
}

Test (durability, broker_kill9_mid_job_restart_same_data_dir, .timeout = 180)
{
    cluster_t c = { 0 };
    s_cluster_start (&c, 2);
    s_start_job_and_wait_quarter (&c, "broker-kill", 2000);

    s_kill9 (&c.broker);
    s_broker_start (&c);

    s_expect_complete (&c, "broker-kill", 2000, 0, 120000);
    tally_t tally = s_tally (c.results, "broker-kill", 2000);
    s_expect_exactly_once (&c, &tally, 2000);
    cr_expect_eq (tally.ok, 2000, "%zu ok results", tally.ok);
    s_cluster_stop (&c);
}

Test (durability, queued_tuples_survive_broker_kill9, .timeout = 120)
{
    cluster_t c = { 0 };
    s_cluster_init (&c);
    s_broker_start (&c);
    s_sink_start (&c);
    char tuples[512];
    s_path (&c, "tuples.jsonl", tuples, sizeof tuples);
    s_write_tuples (tuples, 300, s_plain);
    int status = s_submit (&c, "queued", "echo", tuples, "3", "30000");
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "submit failed; see %s", c.dir);

    //  No agent yet: every tuple is queued when the broker dies.
    s_kill9 (&c.broker);
    s_broker_start (&c);
    counters_t counters = { .state = "" };
    cr_assert (SUPPORT_WAIT (s_status (&c, "queued", &counters) == 0, 20000),
               "the restarted broker does not know job 'queued' (%s)", c.dir);
    cr_expect_eq (counters.submitted, 300, "submitted %" PRIu64 " after restart", counters.submitted);
    cr_expect_eq (counters.queued, 300, "queued %" PRIu64 " after restart", counters.queued);
    cr_expect_str_eq (counters.state, "closed", "state after restart");

    s_agent_start (&c, 0);
    s_expect_complete (&c, "queued", 300, 0, 60000);
    tally_t tally = s_tally (c.results, "queued", 300);
    s_expect_exactly_once (&c, &tally, 300);
    s_cluster_stop (&c);
}

Test (durability, agent_kill9_mid_job, .timeout = 180)
{
    cluster_t c = { 0 };
    s_cluster_start (&c, 2);
    s_start_job_and_wait_quarter (&c, "agent-kill", 2000);

    //  agent-1 dies holding leases; agent-2 keeps working, and agent-1
    //  comes back under the same name.
    s_kill9 (&c.agents[0]);
    s_agent_start (&c, 0);

    s_expect_complete (&c, "agent-kill", 2000, 0, 120000);
    tally_t tally = s_tally (c.results, "agent-kill", 2000);
    s_expect_exactly_once (&c, &tally, 2000);
    cr_expect_eq (tally.ok, 2000, "%zu ok results", tally.ok);
    cr_expect_gt (tally.per_agent[1], 0, "agent-2 did no work");
    s_cluster_stop (&c);
}

Test (durability, sink_kill9_mid_job_restart_same_data_dir, .timeout = 180)
{
    cluster_t c = { 0 };
    s_cluster_start (&c, 2);
    s_start_job_and_wait_quarter (&c, "sink-kill", 2000);

    //  Results in flight to the dead sink are sent again to the new one;
    //  what the old one wrote must not be written again.
    s_kill9 (&c.sink_pid);
    s_sink_start (&c);

    s_expect_complete (&c, "sink-kill", 2000, 0, 120000);
    tally_t tally = s_tally (c.results, "sink-kill", 2000);
    s_expect_exactly_once (&c, &tally, 2000);
    cr_expect_eq (tally.ok, 2000, "%zu ok results", tally.ok);
    s_cluster_stop (&c);
}

//  A child process of parent (an agent's worker), or 0.
static pid_t
s_child_of (pid_t parent)
{
    DIR *proc = opendir ("/proc");
    if (!proc)
        return 0;
    pid_t child = 0;
    struct dirent *entry;
    while (!child && (entry = readdir (proc))) {
        char path[300];
        snprintf (path, sizeof path, "/proc/%s/stat", entry->d_name);
        FILE *file = entry->d_name[0] >= '1' && entry->d_name[0] <= '9'? fopen (path, "r"): NULL;
        if (!file)
            continue;
        //  pid (comm) state ppid: comm may hold spaces, so read past the last ')'.
        char line[512];
        if (fgets (line, sizeof line, file)) {
            char *close = strrchr (line, ')');
            int ppid = 0;
            if (close && sscanf (close + 1, " %*c %d", &ppid) == 1 && ppid == parent)
                child = (pid_t) atoi (entry->d_name);
        }
        fclose (file);
    }
    closedir (proc);
    return child;
}

Test (durability, worker_kill9_mid_job, .timeout = 180)
{
    cluster_t c = { 0 };
    s_cluster_start (&c, 2);
    s_start_job_and_wait_quarter (&c, "worker-kill", 2000);

    //  A worker process of agent-1 dies (as a crashing handler would take
    //  it); the agent lives on, starts another, and nothing is lost.
    pid_t worker = s_child_of (c.agents[0]);
    cr_assert_gt (worker, 0, "agent-1 has no worker process");
    cr_assert_eq (kill (worker, SIGKILL), 0);

    s_expect_complete (&c, "worker-kill", 2000, 0, 120000);
    cr_expect_not (support_exited (c.agents[0], NULL), "agent-1 died with its worker");
    tally_t tally = s_tally (c.results, "worker-kill", 2000);
    s_expect_exactly_once (&c, &tally, 2000);
    cr_expect_eq (tally.ok, 2000, "%zu ok results", tally.ok);
    s_cluster_stop (&c);
}

//  The sink's count of duplicates dropped, from the "sink shut down: ...,
//  N duplicates dropped, ..." line it logs on SIGTERM; -1 if absent.
static long
s_sink_duplicates (const cluster_t *c)
{
    char log[512];
    s_path (c, "sink.log", log, sizeof log);
    char *text = support_slurp (log);
    if (!text)
        return -1;
    long count = -1;
    const char *line = NULL;
    for (const char *at = text; (at = strstr (at, "sink shut down: ")); at++)
        line = at;              //  the last run's
    const char *end = line? strstr (line, " duplicates dropped"): NULL;
    if (end) {
        const char *digits = end;
        while (digits > line && digits[-1] >= '0' && digits[-1] <= '9')
            digits--;
        if (digits < end)
            count = strtol (digits, NULL, 10);
    }
    free (text);
    return count;
}

Test (durability, restarted_sink_dedupes_results_redelivered_after_broker_kill9, .timeout = 180)
{
    cluster_t c = { 0 };
    s_cluster_start (&c, 2);
    s_start_job_and_wait_quarter (&c, "redelivered", 2000);

    //  A stopped broker reads no DONE: results stored from now on stay
    //  leased in its store, and the killed broker's successor runs those
    //  tuples again.  The sink that gets them again is a restarted one, so
    //  only its durable index can tell they are stored already.
    kill (c.broker, SIGSTOP);
    size_t before = support_count_lines (c.results);
    cr_assert (SUPPORT_WAIT (support_count_lines (c.results) > before, 20000),
               "no result stored while the broker was stopped (%s)", c.dir);
    s_kill9 (&c.sink_pid);
    s_sink_start (&c);
    s_kill9 (&c.broker);
    s_broker_start (&c);

    s_expect_complete (&c, "redelivered", 2000, 0, 120000);
    cr_expect_eq (support_stop (c.sink_pid, SIGTERM, 10000), 0, "sink did not exit 0");
    c.sink_pid = 0;
    tally_t tally = s_tally (c.results, "redelivered", 2000);
    s_expect_exactly_once (&c, &tally, 2000);
    long duplicates = s_sink_duplicates (&c);
    cr_expect_gt (duplicates, 0, "the restarted sink dropped no redelivered result "
                  "(%ld duplicates in its log; %s)", duplicates, c.dir);
    s_cluster_stop (&c);
}

static bool
s_both_agents_working (const cluster_t *c, const char *job, size_t count)
{
    tally_t tally = s_tally (c->results, job, count);
    return tally.per_agent[0] > 0 && tally.per_agent[1] > 0;
}

Test (durability, stopped_agent_loses_leases_late_results_deduplicated, .timeout = 180)
{
    cluster_t c = { 0 };
    s_cluster_start (&c, 2);
    char tuples[512];
    s_path (&c, "tuples.jsonl", tuples, sizeof tuples);
    //  80 x 300 ms on 8 handler threads: about 3 s, and each agent always
    //  runs 4 tuples while the queue lasts.  Leases of 60 s: only a lost
    //  heartbeat can free agent-1's tuples within the test.
    s_write_tuples (tuples, 80, s_sleep_300);
    int status = s_submit (&c, "stopped", "sleep", tuples, "10", "60000");
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "submit failed; see %s", c.dir);
    cr_assert (SUPPORT_WAIT (s_both_agents_working (&c, "stopped", 80), 30000),
               "both agents never stored results (%s)", c.dir);
    cr_assert_lt (support_count_lines (c.results), 60, "the job is nearly done already");

    kill (c.agents[0], SIGSTOP);
    s_expect_complete (&c, "stopped", 80, 0, 30000);
    tally_t tally = s_tally (c.results, "stopped", 80);
    s_expect_exactly_once (&c, &tally, 80);
    cr_expect_gt (tally.redelivered_per_agent[1], 0,
                  "no tuple of the stopped agent-1 was redelivered to agent-2 (attempt >= 2)");

    //  agent-1 wakes up, finishes the tuples it ran, sends their results to
    //  the sink and drains; the sink must acknowledge without writing them.
    kill (c.agents[0], SIGCONT);
    int stopped = support_stop (c.agents[0], SIGTERM, 40000);
    c.agents[0] = 0;
    cr_expect_eq (stopped, 0, "agent-1 did not drain and exit 0 after SIGCONT (%s)", c.dir);
    cr_expect_eq (support_stop (c.sink_pid, SIGTERM, 10000), 0, "sink did not exit 0");
    c.sink_pid = 0;
    tally = s_tally (c.results, "stopped", 80);
    s_expect_exactly_once (&c, &tally, 80);
    long duplicates = s_sink_duplicates (&c);
    cr_expect_gt (duplicates, 0, "no late result of agent-1 reached the sink "
                  "(%ld duplicates dropped in its log; %s)", duplicates, c.dir);
    s_cluster_stop (&c);
}

Test (durability, failing_handler_dead_letters_after_max_attempts, .timeout = 120)
{
    cluster_t c = { 0 };
    s_cluster_start (&c, 1);
    char tuples[512];
    s_path (&c, "tuples.jsonl", tuples, sizeof tuples);
    s_write_tuples (tuples, 20, s_plain);
    int status = s_submit (&c, "doomed", "fail", tuples, "3", "30000");
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "submit failed; see %s", c.dir);

    s_expect_complete (&c, "doomed", 0, 20, 60000);
    tally_t tally = s_tally (c.results, "doomed", 20);
    s_expect_exactly_once (&c, &tally, 20);
    cr_expect_eq (tally.failed, 20, "%zu dead letters, want 20", tally.failed);
    cr_expect_eq (tally.ok, 0, "%zu ok results from the fail handler", tally.ok);
    cr_expect_eq (tally.failed_with_error, 20, "%zu dead letters carry an error",
                  tally.failed_with_error);
    cr_expect_eq (tally.min_attempt, 3, "a dead letter after %" PRIu64 " attempts", tally.min_attempt);
    cr_expect_eq (tally.max_attempt, 3, "a dead letter after %" PRIu64 " attempts", tally.max_attempt);
    cr_expect_not_null (strstr (tally.first_error, "always fails"),
                        "dead letter error '%s' is not the handler's", tally.first_error);
    s_cluster_stop (&c);
}

Test (durability, agent_kill9_on_last_attempt_makes_dead_letters, .timeout = 120)
{
    cluster_t c = { 0 };
    s_cluster_start (&c, 2);
    char tuples[512];
    s_path (&c, "tuples.jsonl", tuples, sizeof tuples);
    s_write_tuples (tuples, 80, s_sleep_300);
    //  One attempt each: what agent-1 holds when it dies has no attempt
    //  left, and must reach the sink as a dead letter, not vanish.
    int status = s_submit (&c, "last-try", "sleep", tuples, "1", "60000");
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "submit failed; see %s", c.dir);
    cr_assert (SUPPORT_WAIT (s_both_agents_working (&c, "last-try", 80), 30000),
               "both agents never stored results (%s)", c.dir);
    cr_assert_lt (support_count_lines (c.results), 60, "the job is nearly done already");
    s_kill9 (&c.agents[0]);

    tally_t tally = { 0 };
    counters_t counters = { .state = "" };
    bool complete = SUPPORT_WAIT (s_complete (&c, "last-try", &counters), 30000);
    tally = s_tally (c.results, "last-try", 80);
    s_expect_exactly_once (&c, &tally, 80);
    cr_expect (complete, "job not complete: state '%s', done %" PRIu64 ", failed %" PRIu64
               " (%s)", counters.state, counters.done, counters.failed, c.dir);
    cr_expect_gt (tally.failed, 0, "no dead letter for the tuples agent-1 died with");
    cr_expect_eq (tally.failed_with_error, tally.failed, "a dead letter without an error");
    cr_expect_eq (counters.failed, tally.failed, "STATUS failed %" PRIu64 ", output %zu",
                  counters.failed, tally.failed);
    cr_expect_eq (counters.done, tally.ok, "STATUS done %" PRIu64 ", output %zu",
                  counters.done, tally.ok);
    cr_expect_eq (tally.max_attempt, 1, "a tuple ran %" PRIu64 " times with max_attempts 1",
                  tally.max_attempt);
    s_cluster_stop (&c);
}

static bool
s_running_is (const cluster_t *c, const char *job, uint64_t running)
{
    counters_t counters = { .state = "" };
    return s_status (c, job, &counters) == 0 && counters.running == running;
}

//  A sink outage longer than timeout_ms + lease slack: the agent holds
//  results the sink cannot take, and must keep their leases (TOUCH) or the
//  broker ends them and, with no attempt left, makes them dead letters that
//  the sink then drops as duplicates of the ok results.  The counters must
//  say what the output holds.
Test (durability, status_counts_what_the_sink_stored_after_a_sink_outage, .timeout = 90)
{
    cluster_t c = { 0 };
    c.lease_slack_ms = "200";
    s_cluster_start (&c, 1);
    kill (c.sink_pid, SIGSTOP);
    char tuples[512];
    s_path (&c, "tuples.jsonl", tuples, sizeof tuples);
    s_write_tuples (tuples, 4, s_plain);
    //  Leases of 500 + 200 ms, one attempt each.
    int status = s_submit (&c, "outage", "echo", tuples, "1", "500");
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "submit failed; see %s", c.dir);
    cr_assert (SUPPORT_WAIT (s_running_is (&c, "outage", 4), 20000),
               "the 4 tuples never all ran (%s)", c.dir);
    //  The outage outlasts the leases.  The broker may end them (running
    //  drops), hand the tuples out again (as dead letters: no attempt is
    //  left) and end those leases too, or the agent may keep its leases
    //  with TOUCH; each wait below lasts 4 leases at most.  Either way the
    //  counters must end up saying what the output holds.
    SUPPORT_WAIT (!s_running_is (&c, "outage", 4), 2800);
    SUPPORT_WAIT (s_running_is (&c, "outage", 4), 2800);
    SUPPORT_WAIT (!s_running_is (&c, "outage", 4), 2800);
    kill (c.sink_pid, SIGCONT);

    counters_t counters = { .state = "" };
    bool complete = SUPPORT_WAIT (s_complete (&c, "outage", &counters), 30000);
    tally_t tally = s_tally (c.results, "outage", 4);
    s_expect_exactly_once (&c, &tally, 4);
    cr_expect (complete, "job not complete: state '%s' (%s)", counters.state, c.dir);
    cr_expect_eq (counters.done, tally.ok, "STATUS done %" PRIu64 ", %zu ok lines in the output",
                  counters.done, tally.ok);
    cr_expect_eq (counters.failed, tally.failed, "STATUS failed %" PRIu64 ", %zu failed lines "
                  "in the output", counters.failed, tally.failed);
    s_cluster_stop (&c);
}

Test (durability, status_counts_what_the_sink_stored_after_broker_kill9_on_last_attempt,
      .timeout = 120)
{
    cluster_t c = { 0 };
    s_cluster_start (&c, 2);
    char tuples[512];
    s_path (&c, "tuples.jsonl", tuples, sizeof tuples);
    s_write_tuples (tuples, 400, s_sleep_mix);
    int status = s_submit (&c, "last-done", "sleep", tuples, "1", "60000");
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "submit failed; see %s", c.dir);
    cr_assert (SUPPORT_WAIT (support_count_lines (c.results) >= 50, 30000),
               "no results (%s)", c.dir);
    //  Results stored while the broker is stopped never reach it as DONE;
    //  its successor finds those tuples leased on their only attempt.  They
    //  are in the output as ok, so they must be counted done, not failed.
    kill (c.broker, SIGSTOP);
    size_t before = support_count_lines (c.results);
    cr_assert (SUPPORT_WAIT (support_count_lines (c.results) > before, 20000),
               "no result stored while the broker was stopped (%s)", c.dir);
    s_kill9 (&c.broker);
    s_broker_start (&c);

    counters_t counters = { .state = "" };
    bool complete = SUPPORT_WAIT (s_complete (&c, "last-done", &counters), 60000);
    tally_t tally = s_tally (c.results, "last-done", 400);
    s_expect_exactly_once (&c, &tally, 400);
    cr_expect (complete, "job not complete: state '%s' (%s)", counters.state, c.dir);
    cr_expect_eq (counters.done, tally.ok, "STATUS done %" PRIu64 ", %zu ok lines in the output",
                  counters.done, tally.ok);
    cr_expect_eq (counters.failed, tally.failed, "STATUS failed %" PRIu64 ", %zu failed lines "
                  "in the output", counters.failed, tally.failed);
    s_cluster_stop (&c);
}

//  A SUBMIT of tuples [i] for i in first_value.., optionally with a batch id.
static msg_t *
s_submit_msg (const cluster_t *c, const char *job, const char *batch, int count, int first_value)
{
    msg_t *msg = msg_new (MSG_SUBMIT);
    msg_set_str (msg, MSG_F_JOB, job);
    msg_set_str (msg, MSG_F_HANDLER, "echo");
    msg_set_str (msg, MSG_F_SINK, c->sink);
    if (batch)
        msg_set_str (msg, MSG_F_BATCH, batch);
    for (int i = 0; i < count; i++) {
        msgpack_sbuffer buffer;
        msgpack_sbuffer_init (&buffer);
        msgpack_packer packer;
        msgpack_packer_init (&packer, &buffer, msgpack_sbuffer_write);
        msgpack_pack_array (&packer, 1);
        msgpack_pack_int (&packer, first_value + i);
        zframe_t *frame = zframe_new (buffer.data, buffer.size);
        msg_payload_append (msg, &frame);
        msgpack_sbuffer_destroy (&buffer);
    }
    return msg;
}

//  Send a SUBMIT, expect ACCEPTED first/count (and the batch echoed).
static void
s_expect_accepted (const cluster_t *c, msg_t *submit, const char *batch,
                   uint64_t first, uint64_t count)
{
    msg_t *reply = s_request (c->frontend, &submit, 10000);
    cr_assert_not_null (reply, "no answer to SUBMIT batch %s", batch);
    cr_assert_eq (msg_command (reply), MSG_ACCEPTED, "SUBMIT batch %s got %s (%s: %s)", batch,
                  msg_command_name (msg_command (reply)),
                  msg_error_name ((int) msg_uint (reply, MSG_F_CODE)),
                  msg_str (reply, MSG_F_REASON)? msg_str (reply, MSG_F_REASON): "");
    cr_expect_eq (msg_uint (reply, MSG_F_FIRST), first, "batch %s: first %" PRIu64, batch,
                  msg_uint (reply, MSG_F_FIRST));
    cr_expect_eq (msg_uint (reply, MSG_F_COUNT), count, "batch %s: count %" PRIu64, batch,
                  msg_uint (reply, MSG_F_COUNT));
    if (batch)
        cr_expect_str_eq (msg_str (reply, MSG_F_BATCH)? msg_str (reply, MSG_F_BATCH): "", batch);
    msg_destroy (&reply);
}

static void
s_expect_submitted (const cluster_t *c, const char *job, uint64_t submitted)
{
    counters_t counters = { .state = "" };
    cr_assert_eq (s_status (c, job, &counters), 0, "no JOB answer to STATUS %s", job);
    cr_expect_eq (counters.submitted, submitted, "job %s: submitted %" PRIu64 ", want %" PRIu64,
                  job, counters.submitted, submitted);
}

Test (durability, retried_submit_same_batch_is_not_duplicated, .timeout = 60)
{
    cluster_t c = { 0 };
    s_cluster_init (&c);
    s_broker_start (&c);

    s_expect_accepted (&c, s_submit_msg (&c, "idem", "b1", 3, 0), "b1", 1, 3);
    s_expect_submitted (&c, "idem", 3);
    //  The producer timed out and sends the same SUBMIT again, from a new
    //  connection: same ACCEPTED, nothing added.
    s_expect_accepted (&c, s_submit_msg (&c, "idem", "b1", 3, 0), "b1", 1, 3);
    s_expect_submitted (&c, "idem", 3);
    //  Another batch id is new tuples.
    s_expect_accepted (&c, s_submit_msg (&c, "idem", "b2", 2, 3), "b2", 4, 2);
    s_expect_submitted (&c, "idem", 5);
    s_expect_accepted (&c, s_submit_msg (&c, "idem", "b1", 3, 0), "b1", 1, 3);
    s_expect_submitted (&c, "idem", 5);
    s_cluster_stop (&c);
}

Test (durability, retried_submit_after_broker_restart_is_not_duplicated, .timeout = 60)
{
    cluster_t c = { 0 };
    s_cluster_init (&c);
    s_broker_start (&c);
    s_expect_accepted (&c, s_submit_msg (&c, "idem", "b1", 3, 0), "b1", 1, 3);

    //  The broker committed b1 and died; its ACCEPTED may never have reached
    //  the producer, which retries against the restarted broker.
    s_kill9 (&c.broker);
    s_broker_start (&c);
    counters_t counters = { .state = "" };
    cr_assert (SUPPORT_WAIT (s_status (&c, "idem", &counters) == 0, 20000),
               "the restarted broker does not know job 'idem'");
    cr_expect_eq (counters.submitted, 3, "submitted %" PRIu64 " after restart", counters.submitted);
    s_expect_accepted (&c, s_submit_msg (&c, "idem", "b1", 3, 0), "b1", 1, 3);
    s_expect_submitted (&c, "idem", 3);
    s_expect_accepted (&c, s_submit_msg (&c, "idem", "b2", 1, 3), "b2", 4, 1);
    s_expect_submitted (&c, "idem", 4);
    s_cluster_stop (&c);
}

Test (durability, queue_full_at_limit_then_accepts_after_drain, .timeout = 90)
{
    cluster_t c = { 0 };
    c.max_queued = "10";
    s_cluster_init (&c);
    s_broker_start (&c);

    s_expect_accepted (&c, s_submit_msg (&c, "full", "a", 10, 0), "a", 1, 10);
    msg_t *submit = s_submit_msg (&c, "full", "b", 1, 10);
    msg_t *reply = s_request (c.frontend, &submit, 10000);
    cr_assert_not_null (reply, "no answer to a SUBMIT over the limit");
    cr_assert_eq (msg_command (reply), MSG_ERROR, "SUBMIT over --max-queued got %s",
                  msg_command_name (msg_command (reply)));
    cr_expect_eq (msg_uint (reply, MSG_F_CODE), DRV_E_QUEUE_FULL, "code %" PRIu64,
                  msg_uint (reply, MSG_F_CODE));
    cr_expect (msg_has (reply, MSG_F_RETRY_MS) && msg_uint (reply, MSG_F_RETRY_MS) > 0,
               "QUEUE_FULL without a retry_ms hint");
    cr_expect_str_eq (msg_str (reply, MSG_F_BATCH)? msg_str (reply, MSG_F_BATCH): "", "b");
    msg_destroy (&reply);
    s_expect_submitted (&c, "full", 10);

    //  Agents drain the queue; then the broker takes tuples again.
    s_sink_start (&c);
    s_agent_start (&c, 0);
    counters_t counters = { .state = "" };
    cr_assert (SUPPORT_WAIT (s_status (&c, "full", &counters) == 0 && counters.done == 10, 30000),
               "the agent did not drain the queue: done %" PRIu64 ", queued %" PRIu64,
               counters.done, counters.queued);
    s_expect_accepted (&c, s_submit_msg (&c, "full", "c", 5, 10), "c", 11, 5);
    s_expect_submitted (&c, "full", 15);
    cr_assert (SUPPORT_WAIT (support_count_lines (c.results) >= 15, 30000),
               "the tuples accepted after the drain were not run");
    tally_t tally = s_tally (c.results, "full", 15);
    s_expect_exactly_once (&c, &tally, 15);
    s_cluster_stop (&c);
}
