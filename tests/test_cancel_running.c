//  test_cancel_running.c -- `drover cancel` stops a job's RUNNING tuples on
//  their agents (PROTOCOL.md 12, STOP): exec commands' whole process groups
//  are gone within the kill grace (SIGTERM, then SIGKILL for one that
//  ignores it), the builtin sleep stops early, and an agent that was away
//  when the job was cancelled is told at its HELLO.  Black-box, on the
//  cluster of support_durability.h: every tuple is in the sink's output
//  once, the stopped ones as cancelled with their start time, the others
//  as cancelled never run, and STATUS says cancelled.
#include "support.h"
#include "support_durability.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define KILL_GRACE_MS   1000        //  the exec jobs' kill_grace_ms
#define PIDS_MAX        64

//  True once the job is state and nothing of it is queued or running.
static bool
s_ended (const cluster_t *c, const char *job, const char *state, counters_t *counters)
{
    if (cluster_status (c, job, counters))
        return false;
    return !strcmp (counters->state, state) && counters->queued == 0 && counters->running == 0;
}

//  `drover cancel JOB` with the cluster's broker; its exit status.
static int
s_cancel (cluster_t *c, const char *job)
{
    char log[512];
    cluster_path (c, "cancel.log", log, sizeof log);
    pid_t pid = support_spawn (log, "cancel", "--broker", c->frontend, job, NULL);
    cr_assert_gt (pid, 0);
    int status = -1;
    cr_assert (SUPPORT_WAIT (support_exited (pid, &status), 30000), "drover cancel hung");
    return WIFEXITED (status)? WEXITSTATUS (status): -1;
}

//  ["ignore", i] for even i, ["term", i] for odd: exec's tuples.
static const char *
s_exec_tuple (int i, char *text, size_t size)
{
    snprintf (text, size, "[\"%s\", %d]", i % 2? "term": "ignore", i);
    return text;
}

static const char *
s_long_nap (int i, char *text, size_t size)
{
    (void) i;
    snprintf (text, size, "[60000]");
    return text;
}

//  Submit count tuples (tuple_of) of handler as a closed job, all accepted,
//  with options (JSON) or none; a long timeout: they would run for long.
static void
s_submit (cluster_t *c, const char *job, const char *handler, const char *options,
          const char *(*tuple_of) (int, char *, size_t), int count)
{
    char path[512], log[512];
    cluster_path (c, "tuples.jsonl", path, sizeof path);
    cluster_write_tuples (path, count, tuple_of);
    cluster_path (c, "submit.log", log, sizeof log);
    pid_t pid = options
              ? support_spawn (log, "submit", "--broker", c->frontend, "--job", job, "--handler",
                               handler, "--sink", c->sink, "--max-attempts", "1",
                               "--timeout-ms", "120000", "--options", options, "--quiet", path,
                               NULL)
              : support_spawn (log, "submit", "--broker", c->frontend, "--job", job, "--handler",
                               handler, "--sink", c->sink, "--max-attempts", "1",
                               "--timeout-ms", "120000", "--quiet", path, NULL);
    cr_assert_gt (pid, 0);
    int status = -1;
    cr_assert (SUPPORT_WAIT (support_exited (pid, &status), 30000), "submit hung (%s)", c->dir);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "submit failed (%s)", c->dir);
}

//  The pid files the running commands wrote in dir ("SHELL_PID CHILD_PID"
//  each): their pids into pids[], the number of files in *files.
static size_t
s_read_pids (const char *dir, pid_t *pids, size_t max, size_t *files)
{
    size_t count = 0;
    *files = 0;
    DIR *listing = opendir (dir);
    for (struct dirent *entry; listing && (entry = readdir (listing)); ) {
        if (!strstr (entry->d_name, ".pid"))
            continue;
        char path[1024];
        snprintf (path, sizeof path, "%s/%s", dir, entry->d_name);
        FILE *file = fopen (path, "r");
        int shell = 0, child = 0;
        //  A file being written may not hold both yet: not counted.
        if (file && fscanf (file, "%d %d", &shell, &child) == 2 && shell > 0 && child > 0) {
            (*files)++;
            if (count + 2 <= max) {
                pids[count++] = shell;
                pids[count++] = child;
            }
        }
        if (file)
            fclose (file);
    }
    if (listing)
        closedir (listing);
    return count;
}

static size_t
s_pid_files (const char *dir)
{
    pid_t pids[PIDS_MAX];
    size_t files;
    s_read_pids (dir, pids, PIDS_MAX, &files);
    return files;
}

//  True if pid runs: its /proc entry exists and is not a zombie (a zombie
//  runs nothing; reaping it is its parent's business, init's here).
static bool
s_alive (pid_t pid)
{
    char path[64], stat[512] = "";
    snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return false;
    size_t got = fread (stat, 1, sizeof stat - 1, file);
    fclose (file);
    stat[got] = 0;
    const char *state = strrchr (stat, ')');
    return state && state[1] == ' ' && state[2] && state[2] != 'Z' && state[2] != 'X';
}

static bool
s_all_gone (const pid_t *pids, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (s_alive (pids[i]))
            return false;
    return true;
}

//  An exec job of count tuples whose commands each leave a background
//  child in their process group and write both pids; even tuples' shells
//  ignore SIGTERM (so do their children), so only SIGKILL after the kill
//  grace ends them.  Waits until `running` of them run; their pids into
//  pids (2 each).  Returns how many pids.
static size_t
s_start_exec_job (cluster_t *c, const char *job, int count, size_t running, pid_t *pids)
{
    char dir[512], options[2048];
    cluster_path (c, "pids", dir, sizeof dir);
    cr_assert_eq (mkdir (dir, 0700), 0);
    snprintf (options, sizeof options,
              "{\"shell\": true, \"stdin\": \"none\", \"kill_grace_ms\": %d, \"command\": "
              "\"if [ {0} = ignore ]; then trap '' TERM; fi; sleep 60 & "
              "echo \\\"$$ $!\\\" > %s/{1}.tmp && mv %s/{1}.tmp %s/{1}.pid; wait\"}",
              KILL_GRACE_MS, dir, dir, dir);
    s_submit (c, job, "exec", options, s_exec_tuple, count);
    cr_assert (SUPPORT_WAIT (s_pid_files (dir) >= running, 30000),
               "%zu of %zu commands started (%s)", s_pid_files (dir), running, c->dir);
    size_t files;
    size_t got = s_read_pids (dir, pids, PIDS_MAX, &files);
    cr_assert_eq (files, running, "more commands run than the agent's threads (%s)", c->dir);
    for (size_t i = 0; i < got; i++)
        cr_assert (s_alive (pids[i]), "pid %d is not running before the cancel", (int) pids[i]);
    return got;
}

//  What the sink and STATUS say once the job is over: every tuple once,
//  all cancelled, the ones that ran (running of them) with their start.
static void
s_expect_cancelled (cluster_t *c, const char *job, size_t count, size_t running)
{
    counters_t counters = { .state = "" };
    cr_assert (SUPPORT_WAIT (s_ended (c, job, "cancelled", &counters), 30000),
               "job not ended as cancelled: state '%s', %" PRIu64 " queued, %" PRIu64
               " running (%s)", counters.state, counters.queued, counters.running, c->dir);
    cr_assert (SUPPORT_WAIT (support_count_lines (c->results) >= count, 30000),
               "%zu results of %zu (%s)", support_count_lines (c->results), count, c->dir);
    tally_t tally = cluster_tally (c->results, job, count);
    cluster_expect_exactly_once (c, &tally, count);
    cr_expect_eq (tally.cancelled, count, "%zu of %zu cancelled (%zu ok, %zu failed: %s) (%s)",
                  tally.cancelled, count, tally.ok, tally.failed, tally.first_error, c->dir);
    cr_expect_eq (tally.cancelled_running, running, "%zu stopped while running, %zu ran (%s)",
                  tally.cancelled_running, running, c->dir);
    cr_expect_eq (tally.stopped_but_ran, 0, "cancelled with a start time but not stopped (%s)",
                  c->dir);
    cr_expect_eq (counters.done + counters.failed, count, "counters do not add up (%s)", c->dir);
    cr_expect_eq (counters.failed, 0, "%" PRIu64 " failed (%s)", counters.failed, c->dir);
}

TestSuite (cancel_running, .timeout = 180);

//  The cluster with one agent, agent-1, of 2 worker processes x 2 threads
//  and slots slots, once both its workers take tasks: tasks given to an
//  agent whose second worker is not up yet all queue at the first, and
//  then only 2 of them run.
static void
s_start_agent (cluster_t *c, const char *processes, const char *threads, const char *slots)
{
    c->agent_slots = slots;
    cluster_start (c, 0);
    char log[512];
    cluster_path (c, "agent-1.log", log, sizeof log);
    c->agents[0] = support_spawn (log, "agent", "--broker", c->backend, "--name", "agent-1",
                                  "--processes", processes, "--threads", threads,
                                  "--slots", slots, "--result-timeout-ms", "1000",
                                  "--log-level", "debug", NULL);
    cr_assert_gt (c->agents[0], 0);
    cr_assert (SUPPORT_WAIT (support_count_text (log, ") is ready") >= (size_t) atoi (processes),
                             30000), "the agent's workers did not start (%s)", c->dir);
    cluster_path (c, "broker.log", log, sizeof log);
    cr_assert (SUPPORT_WAIT (support_count_text (log, "agent agent-1 joined") > 0, 30000),
               "agent-1 did not join (%s)", c->dir);
}

static void
s_start (cluster_t *c, const char *slots)
{
    s_start_agent (c, "2", "2", slots);
}

Test (cancel_running, exec_process_groups_are_gone_within_the_kill_grace)
{
    cluster_t c = { 0 };
    s_start (&c, "8");
    //  One agent of 2 x 2 threads and 8 slots: 4 run, 4 wait in the agent,
    //  4 in the broker's queue.
    pid_t pids[PIDS_MAX];
    size_t count = s_start_exec_job (&c, "scan", 12, 4, pids);
    int64_t start = support_now_ms ();
    cr_assert_eq (s_cancel (&c, "scan"), 0, "drover cancel failed (%s)", c.dir);
    cr_assert (SUPPORT_WAIT (s_all_gone (pids, count), 30000),
               "processes of cancelled tuples still run (%s)", c.dir);
    int64_t took = support_now_ms () - start;
    //  The grace the SIGTERM-ignoring ones need, and time for STOP to travel.
    cr_expect_lt (took, KILL_GRACE_MS + 4000, "the processes went %lld ms after the cancel",
                  (long long) took);
    s_expect_cancelled (&c, "scan", 12, 4);
    char dir[512];
    cluster_path (&c, "pids", dir, sizeof dir);
    cr_expect_eq (s_pid_files (dir), 4, "a tuple not started when cancelled ran (%s)", c.dir);
    cluster_stop (&c);
}

Test (cancel_running, builtin_sleep_stops_early)
{
    cluster_t c = { 0 };
    s_start (&c, "4");
    s_submit (&c, "naps", "sleep", NULL, s_long_nap, 8);
    counters_t counters = { .state = "" };
    cr_assert (SUPPORT_WAIT (cluster_status (&c, "naps", &counters) == 0
                             && counters.running == 4, 30000),
               "%" PRIu64 " running (%s)", counters.running, c.dir);
    char log[512];
    cluster_path (&c, "agent-1.log", log, sizeof log);
    int64_t start = support_now_ms ();
    cr_assert_eq (s_cancel (&c, "naps"), 0, "drover cancel failed (%s)", c.dir);
    //  60 s naps: done in seconds only if they stopped.
    cr_assert (SUPPORT_WAIT (s_ended (&c, "naps", "cancelled", &counters), 20000),
               "the naps did not stop (%s)", c.dir);
    cr_expect_lt (support_now_ms () - start, 20000);
    tally_t tally = cluster_tally (c.results, "naps", 8);
    cluster_expect_exactly_once (&c, &tally, 8);
    cr_expect_eq (tally.cancelled, 8, "%zu cancelled (%s)", tally.cancelled, c.dir);
    //  Leased is not yet started: most, not surely all 4, were asleep.
    cr_expect_gt (tally.cancelled_running, 0, "none stopped while running (%s)", c.dir);
    cr_expect_eq (tally.stopped_but_ran, 0, "(%s)", c.dir);
    cr_expect_eq (support_count_text (log, "job naps was cancelled: stopping its 4 tuples"), 1,
                  "the agent did not stop its 4 tuples (%s)", c.dir);
    cluster_stop (&c);
}

//  100 naps on one handler thread: 1 runs, the others wait in the agent
//  (processes: 63 at the worker, 36 in the supervisor; or all 99 at the
//  pool in the agent's own process).  None of those may start.
static void
s_waiting_never_run (const char *processes)
{
    cluster_t c = { 0 };
    s_start_agent (&c, processes, "1", "100");
    s_submit (&c, "queue", "sleep", NULL, s_long_nap, 100);
    counters_t counters = { .state = "" };
    cr_assert (SUPPORT_WAIT (cluster_status (&c, "queue", &counters) == 0
                             && counters.running == 100, 30000),
               "%" PRIu64 " running (%s)", counters.running, c.dir);
    cr_assert_eq (s_cancel (&c, "queue"), 0, "drover cancel failed (%s)", c.dir);
    cr_assert (SUPPORT_WAIT (s_ended (&c, "queue", "cancelled", &counters), 20000),
               "the job did not end (%s)", c.dir);
    tally_t tally = cluster_tally (c.results, "queue", 100);
    cluster_expect_exactly_once (&c, &tally, 100);
    cr_expect_eq (tally.cancelled, 100, "%zu cancelled (%s)", tally.cancelled, c.dir);
    cr_expect_leq (tally.cancelled_running, 1, "%zu ran (%s)", tally.cancelled_running, c.dir);
    cr_expect_eq (tally.stopped_but_ran, 0, "(%s)", c.dir);
    cluster_stop (&c);
}

Test (cancel_running, tuples_waiting_at_worker_processes_never_run)
{
    s_waiting_never_run ("1");
}

Test (cancel_running, tuples_waiting_for_in_process_threads_never_run)
{
    s_waiting_never_run ("0");
}

//  ["x"] (sleep fails at once) for the first two, [3000] for the rest.
static const char *
s_two_bad_then_naps (int i, char *text, size_t size)
{
    snprintf (text, size, i < 2? "[\"x\"]": "[3000]");
    return text;
}

//  Abort is not cancel: a job aborted after N failures lets the tuples
//  that run finish (PROTOCOL.md 12); only those not started are aborted.
Test (cancel_running, an_aborted_job_lets_its_running_tuples_finish)
{
    cluster_t c = { 0 };
    s_start (&c, "4");
    char path[512], log[512];
    cluster_path (&c, "tuples.jsonl", path, sizeof path);
    cluster_write_tuples (path, 8, s_two_bad_then_naps);
    cluster_path (&c, "submit.log", log, sizeof log);
    pid_t pid = support_spawn (log, "submit", "--broker", c.frontend, "--job", "sweep",
                               "--handler", "sleep", "--sink", c.sink, "--max-attempts", "1",
                               "--abort-after", "2", "--quiet", path, NULL);
    cr_assert_gt (pid, 0);
    int status = -1;
    cr_assert (SUPPORT_WAIT (support_exited (pid, &status), 30000), "submit hung");
    counters_t counters = { .state = "" };
    cr_assert (SUPPORT_WAIT (s_ended (&c, "sweep", "aborted", &counters), 30000),
               "job not ended as aborted: state '%s', %" PRIu64 " queued, %" PRIu64
               " running (%s)", counters.state, counters.queued, counters.running, c.dir);
    cr_assert (SUPPORT_WAIT (support_count_lines (c.results) >= 8, 30000), "(%s)", c.dir);
    tally_t tally = cluster_tally (c.results, "sweep", 8);
    cluster_expect_exactly_once (&c, &tally, 8);
    cr_expect_eq (tally.failed, 2, "%zu failed (%s)", tally.failed, c.dir);
    //  The two naps running when the second failure aborted the job.
    cr_expect_eq (tally.ok, 2, "%zu ran to their end (%s)", tally.ok, c.dir);
    cr_expect_eq (tally.aborted, 4, "%zu aborted (%s)", tally.aborted, c.dir);
    cr_expect_eq (tally.cancelled + tally.stopped_but_ran, 0, "(%s)", c.dir);
    cluster_stop (&c);
}

//  The job is cancelled while its agent is away (stopped, and the broker
//  restarted meanwhile): the agent's HELLO resumes the running tuples, and
//  the broker tells it to stop them at once.
Test (cancel_running, an_agent_away_at_the_cancel_is_told_at_its_hello)
{
    cluster_t c = { 0 };
    s_start (&c, "4");
    pid_t pids[PIDS_MAX];
    size_t count = s_start_exec_job (&c, "away", 6, 4, pids);
    cr_assert_eq (kill (c.agents[0], SIGSTOP), 0);
    cluster_kill9 (&c.broker);
    cluster_broker_start (&c);
    cr_assert_eq (s_cancel (&c, "away"), 0, "drover cancel failed (%s)", c.dir);
    //  Back within the broker's reclaim grace (6 s): it resumes what it runs.
    cr_assert_eq (kill (c.agents[0], SIGCONT), 0);
    cr_assert (SUPPORT_WAIT (s_all_gone (pids, count), 30000),
               "processes of cancelled tuples still run (%s)", c.dir);
    s_expect_cancelled (&c, "away", 6, 4);
    char log[512];
    cluster_path (&c, "broker.log", log, sizeof log);
    cr_expect_gt (support_count_text (log, "job away: agent agent-1 told to stop its 4 tuples"), 0,
                  "not told at its HELLO (%s)", c.dir);
    cluster_stop (&c);
}
