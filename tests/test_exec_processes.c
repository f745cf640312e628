//  test_exec_processes.c -- the exec handler's hold on the processes it
//  starts: timeouts that kill a whole process group (SIGTERM, then
//  SIGKILL), the call's deadline, cancelling, and processes left behind
//  when the command exits.  Called directly, as a handler thread would.
#include <criterion/criterion.h>

#include "agent/exec.h"
#include "agent/workdir.h"
#include "support.h"
#include "support_exec.h"

#include <czmq.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

TestSuite (exec, .init = exec_test_setup, .fini = exec_test_teardown, .timeout = 60);

//  Wait for a process group to be gone (every member dead and reaped).
static bool
s_group_gone (pid_t pgid)
{
    return kill (-pgid, 0) == -1 && errno == ESRCH;
}

static pid_t
s_read_pid (const char *path)
{
    char *text = NULL;
    SUPPORT_WAIT ((text = support_slurp (path)) && strchr (text, '\n'), 5000);
    cr_assert (text, "no pid written to %s", path);
    pid_t pid = (pid_t) atoi (text);
    free (text);
    cr_assert_gt (pid, 1);
    return pid;
}

//  The group's children must be reaped by someone: the test runner is not
//  their parent (they are re-parented to init or a subreaper), so "gone"
//  means ESRCH once init has reaped them.
Test (exec, timeout_kills_the_whole_process_group)
{
    char pidfile[300];
    snprintf (pidfile, sizeof pidfile, "%s/pid", exec_test_scratch);
    char options[600];
    snprintf (options, sizeof options,
              "{\"command\": [\"sh\", \"-c\", \"sleep 1000 & sleep 1000 & echo $$ > %s; wait\"], "
              "\"timeout_ms\": 1000, \"kill_grace_ms\": 5000}", pidfile);
    exec_run_t *run = exec_test_run ("[1]", options);
    cr_assert_eq (run->rc, -1);
    cr_assert (strstr (run->error, "timed out"), "%s", run->error);
    cr_assert_geq (run->elapsed_ms, 1000);
    cr_assert_lt (run->elapsed_ms, 4000, "SIGTERM should end it well before the grace");
    pid_t pgid = s_read_pid (pidfile);
    cr_assert (SUPPORT_WAIT (s_group_gone (pgid), 5000), "process group %d still alive", (int) pgid);
    exec_test_done (&run);
}

Test (exec, sigkill_follows_an_ignored_sigterm)
{
    char pidfile[300];
    snprintf (pidfile, sizeof pidfile, "%s/pid", exec_test_scratch);
    char options[600];
    snprintf (options, sizeof options,
              "{\"command\": [\"sh\", \"-c\", \"trap '' TERM; sleep 1000 & echo $$ > %s; wait\"], "
              "\"timeout_ms\": 200, \"kill_grace_ms\": 400}", pidfile);
    exec_run_t *run = exec_test_run ("[1]", options);
    cr_assert_eq (run->rc, -1);
    cr_assert (strstr (run->error, "timed out"), "%s", run->error);
    cr_assert_geq (run->elapsed_ms, 600, "SIGKILL comes after the grace");
    cr_assert_lt (run->elapsed_ms, 3000, "and then the handler returns");
    pid_t pgid = s_read_pid (pidfile);
    cr_assert (SUPPORT_WAIT (s_group_gone (pgid), 5000), "process group %d still alive", (int) pgid);
    exec_test_done (&run);
}

Test (exec, the_calls_deadline_is_the_default_timeout)
{
    msgpack_sbuffer tuple;
    exec_test_pack_json (&tuple, "[1]");
    exec_run_t *run = exec_test_raw (tuple.data, tuple.size, "{\"command\": [\"sleep\", \"1000\"]}", 200, -1);
    cr_assert_eq (run->rc, -1);
    cr_assert (strstr (run->error, "timed out"), "%s", run->error);
    cr_assert_lt (run->elapsed_ms, 2000);
    msgpack_sbuffer_destroy (&tuple);
    exec_test_done (&run);
}

Test (exec, cancel_stops_the_command)
{
    int cancel = eventfd (1, EFD_CLOEXEC);
    msgpack_sbuffer tuple;
    exec_test_pack_json (&tuple, "[1]");
    exec_run_t *run = exec_test_raw (tuple.data, tuple.size, "{\"command\": [\"sleep\", \"1000\"]}", 0, cancel);
    cr_assert_eq (run->rc, -1);
    cr_assert (strstr (run->error, "cancelled"), "%s", run->error);
    cr_assert_lt (run->elapsed_ms, 2000);
    msgpack_sbuffer_destroy (&tuple);
    exec_test_done (&run);
    close (cancel);
}

Test (exec, processes_left_behind_are_killed_when_the_command_exits)
{
    char pidfile[300];
    snprintf (pidfile, sizeof pidfile, "%s/pid", exec_test_scratch);
    char options[600];
    snprintf (options, sizeof options,
              "{\"command\": [\"sh\", \"-c\", \"sleep 1000 >/dev/null 2>&1 & echo $$ > %s\"]}", pidfile);
    exec_run_t *run = exec_test_run ("[1]", options);
    cr_assert_ok (run);
    cr_assert_lt (run->elapsed_ms, 2000);
    pid_t pgid = s_read_pid (pidfile);
    cr_assert (SUPPORT_WAIT (s_group_gone (pgid), 5000), "process group %d still alive", (int) pgid);
    exec_test_done (&run);
}
