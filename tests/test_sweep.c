//  test_sweep.c -- a starting `drover agent` removes the private
//  directories that agents killed before it left under $TMPDIR and
//  $DROVER_WORK_DIR (agent/tmpdir.h), and only those: never one whose lock
//  a live process holds (a maker in another pid namespace), nor one of a
//  live drover process (an agent that takes no lock), nor a name not its
//  own.  Real agents, kill -9 included; no broker needed (the sweep comes
//  before the first connection).
#include <criterion/criterion.h>

#include "support.h"

#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define WAIT_MS 10000

static char *s_scratch;
static char s_tmp[300], s_work[300];

static void
s_setup (void)
{
    s_scratch = support_tmpdir ();
    cr_assert (s_scratch);
    support_started_dir (s_scratch);
    snprintf (s_tmp, sizeof s_tmp, "%s/tmp", s_scratch);
    snprintf (s_work, sizeof s_work, "%s/work", s_scratch);
    cr_assert_eq (mkdir (s_tmp, 0700), 0);
    cr_assert_eq (mkdir (s_work, 0700), 0);
    //  The agents inherit these.
    setenv ("TMPDIR", s_tmp, 1);
    setenv ("DROVER_WORK_DIR", s_work, 1);
}

TestSuite (sweep, .init = s_setup, .fini = support_kill_started, .timeout = 60);

//  A pid no process has: a child's that exited and was reaped.
static pid_t
s_dead_pid (void)
{
    pid_t pid = fork ();
    if (pid == 0)
        _exit (0);
    cr_assert_gt (pid, 0);
    cr_assert_eq (waitpid (pid, NULL, 0), pid);
    return pid;
}

//  root/name, made with a file in it; its path in path.
static void
s_make (char *path, size_t size, const char *root, const char *name)
{
    snprintf (path, size, "%s/%s", root, name);
    cr_assert_eq (mkdir (path, 0700), 0, "mkdir %s", path);
    char file[600];
    snprintf (file, sizeof file, "%s/left-behind", path);
    FILE *f = fopen (file, "w");
    cr_assert (f);
    fputs ("x\n", f);
    fclose (f);
}

static bool
s_exists (const char *path)
{
    struct stat st;
    return lstat (path, &st) == 0;
}

//  The one directory root/PREFIX-PID-*, or "" if none.
static void
s_find (char *path, size_t size, const char *root, const char *prefix, pid_t pid)
{
    char pattern[400];
    snprintf (pattern, sizeof pattern, "%s/%s-%d-*", root, prefix, (int) pid);
    glob_t found;
    path[0] = 0;
    if (glob (pattern, 0, NULL, &found) == 0 && found.gl_pathc == 1)
        snprintf (path, size, "%s", found.gl_pathv[0]);
    globfree (&found);
}

//  Start an agent (one worker process) that dials a port nothing listens on.
static pid_t
s_agent (const char *name)
{
    char log[400];
    snprintf (log, sizeof log, "%s/%s.log", s_scratch, name);
    pid_t pid = support_spawn (log, "agent", "--broker", support_endpoint (), "--name", name,
                               "--processes", "1", "--threads", "1", NULL);
    cr_assert_gt (pid, 0);
    support_started (pid);
    cr_assert (SUPPORT_WAIT (support_count_text (log, " started: ") == 1, WAIT_MS),
               "agent %s did not start", name);
    return pid;
}

Test (sweep, dead_agents_directories_go_live_ones_stay)
{
    pid_t dead = s_dead_pid ();
    char name[100];
    char gone_agent[400], gone_work[400], gone_reused[400];
    char locked[400], old_style[400], odd[400], other[400];
    snprintf (name, sizeof name, "drover-agent-%d-aaaaaa", (int) dead);
    s_make (gone_agent, sizeof gone_agent, s_tmp, name);
    snprintf (name, sizeof name, "drover-work-%d-bbbbbb", (int) dead);
    s_make (gone_work, sizeof gone_work, s_work, name);
    //  A task that locked its own directory down.
    char sub[500];
    snprintf (sub, sizeof sub, "%s/task-1", gone_work);
    cr_assert_eq (mkdir (sub, 0700), 0);
    cr_assert_eq (chmod (sub, 0500), 0);
    //  Our pid: alive, but not a drover process (a pid reused).
    snprintf (name, sizeof name, "drover-work-%d-dddddd", (int) getpid ());
    s_make (gone_reused, sizeof gone_reused, s_tmp, name);
    //  Locked by a live process: kept whatever its pid says.
    snprintf (name, sizeof name, "drover-work-%d-cccccc", (int) dead);
    s_make (locked, sizeof locked, s_work, name);
    int lock = open (locked, O_RDONLY | O_DIRECTORY);
    cr_assert (lock >= 0 && flock (lock, LOCK_EX | LOCK_NB) == 0);
    //  Not names an agent of this version makes.
    s_make (old_style, sizeof old_style, s_tmp, "drover-agent-eeeeee");
    snprintf (name, sizeof name, "drover-work-%d-toolong", (int) dead);
    s_make (odd, sizeof odd, s_tmp, name);
    s_make (other, sizeof other, s_tmp, "something-else");

    pid_t a = s_agent ("a");
    char a_dir[400];
    s_find (a_dir, sizeof a_dir, s_tmp, "drover-agent", a);
    cr_assert (a_dir[0], "agent a made no drover-agent-%d-* in %s", (int) a, s_tmp);
    cr_expect_not (s_exists (gone_agent), "%s stayed", gone_agent);
    cr_expect_not (s_exists (gone_work), "%s stayed", gone_work);
    cr_expect_not (s_exists (gone_reused), "%s stayed", gone_reused);
    cr_expect (s_exists (locked), "a locked directory was removed");
    cr_expect (s_exists (old_style) && s_exists (odd) && s_exists (other),
               "a directory with another name was removed");
    char log[400];
    snprintf (log, sizeof log, "%s/a.log", s_scratch);
    cr_expect_eq (support_count_text (log, "removed 2 directories under"), 1);
    cr_expect_eq (support_count_text (log, "removed 1 directories under"), 1);
    close (lock);

    //  A live drover process's directory without a lock (an older agent):
    //  kept.  Then a is killed -9: the next agent removes what it left.
    char unlocked[400];
    snprintf (name, sizeof name, "drover-work-%d-ffffff", (int) a);
    s_make (unlocked, sizeof unlocked, s_tmp, name);
    pid_t b = s_agent ("b");
    cr_expect (s_exists (unlocked), "a live agent's directory was removed");
    cr_expect (s_exists (a_dir), "a live agent's locked directory was removed");
    kill (a, SIGKILL);
    int status;
    cr_assert (SUPPORT_WAIT (support_exited (a, &status), WAIT_MS));
    pid_t c = s_agent ("c");
    cr_expect_not (s_exists (a_dir), "%s of the killed agent stayed", a_dir);
    cr_expect_not (s_exists (unlocked), "%s of the killed agent stayed", unlocked);
    char b_dir[400], c_dir[400];
    s_find (b_dir, sizeof b_dir, s_tmp, "drover-agent", b);
    s_find (c_dir, sizeof c_dir, s_tmp, "drover-agent", c);
    cr_expect (b_dir[0] && c_dir[0], "a live agent's directory was removed");

    //  A clean stop removes an agent's own.
    cr_expect_eq (support_stop (b, SIGTERM, WAIT_MS), 0);
    cr_expect_eq (support_stop (c, SIGTERM, WAIT_MS), 0);
    cr_expect_not (s_exists (b_dir) || s_exists (c_dir), "a stopped agent left its directory");
}
