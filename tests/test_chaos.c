//  test_chaos.c -- the chaos run of scripts/chaos.sh at CI size: 10,000
//  tuples while agents, the broker and the sink are killed with SIGKILL and
//  restarted; the script's own check must say 0 lost, 0 duplicated, and the
//  sink's output must hold one line per tuple.
#include "support.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHAOS_TUPLES    "10000"
#define CHAOS_SECONDS   "20"        //  of kills; the job is sized to about that
#define CHAOS_SEED      "20261122"  //  a fixed kill schedule, to replay a failure
#define CHAOS_BOUND_MS  240000      //  the whole run, including recovery

//  Run the script with /bin/bash (it is the same logic users run by hand),
//  its stdout and stderr into out_path.
static pid_t
s_chaos_start (const char *dir, const char *out_path)
{
    pid_t pid = fork ();
    if (pid == 0) {
        FILE *out = freopen (out_path, "w", stdout);
        if (!out || dup2 (STDOUT_FILENO, STDERR_FILENO) < 0)
            _exit (127);
        //  Its own process group, so that a test that gives up can end the
        //  script and every daemon it started at once.
        setpgid (0, 0);
        execl ("/bin/bash", "bash", DROVER_SOURCE_DIR "/scripts/chaos.sh",
               "--drover", DROVER_BIN, "--seed", CHAOS_SEED, "--dir", dir,
               "--timeout", "150", CHAOS_TUPLES, CHAOS_SECONDS, (char *) NULL);
        _exit (127);
    }
    return pid;
}

//  The script's "kills: A agent, B broker, S sink" line; false if missing.
static bool
s_kills (const char *out, long *agent, long *broker, long *sink)
{
    const char *line = strstr (out, "\nkills: ");
    return line && sscanf (line, "\nkills: %ld agent, %ld broker, %ld sink",
                           agent, broker, sink) == 3;
}

Test (chaos, ten_thousand_tuples_through_kills_exactly_once, .timeout = 300)
{
    char *dir = support_tmpdir ();
    cr_assert_not_null (dir);
    char out_path[512], results[512];
    snprintf (out_path, sizeof out_path, "%s/chaos.out", dir);
    snprintf (results, sizeof results, "%s/results.jsonl", dir);

    pid_t pid = s_chaos_start (dir, out_path);
    cr_assert_gt (pid, 0);
    int status = -1;
    bool ended = SUPPORT_WAIT (support_exited (pid, &status), CHAOS_BOUND_MS);
    if (!ended) {
        //  The script's traps stop its daemons on SIGTERM; then the group.
        support_stop (pid, SIGTERM, 15000);
        kill (-pid, SIGKILL);
    }
    char *out = support_slurp (out_path);
    cr_assert_not_null (out, "no output from chaos.sh");
    cr_assert (ended, "chaos.sh did not finish in %d s; its output:\n%s", CHAOS_BOUND_MS / 1000, out);

    cr_expect (WIFEXITED (status) && WEXITSTATUS (status) == 0,
               "chaos.sh failed (status %d); its output:\n%s", status, out);
    cr_expect_not_null (strstr (out, "\n" CHAOS_TUPLES " tuples, 0 lost, 0 duplicated\n"),
                        "no clean check line; the output:\n%s", out);
    //  The run must really have killed each kind of process at least once.
    long agent = 0, broker = 0, sink = 0;
    cr_expect (s_kills (out, &agent, &broker, &sink), "no kills line:\n%s", out);
    cr_expect (agent >= 1 && broker >= 1 && sink >= 1,
               "killed %ld agents, %ld brokers, %ld sinks: each at least once", agent, broker, sink);
    //  Independent of the script's awk: one line per tuple.
    cr_expect_eq (support_count_lines (results), 10000, "%zu lines in %s",
                  support_count_lines (results), results);
    free (out);
    if (!getenv ("DROVER_TEST_KEEP"))
        support_rmdir (&dir);
    free (dir);
}
