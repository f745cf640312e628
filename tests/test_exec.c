//  test_exec.c -- the exec handler, called directly as a handler thread
//  would call it: templating, stdin, env, per-task work directories from a
//  setup or template, timeouts that kill a whole process group, output
//  limits, exit codes and signals.  Commands are real programs (/bin/sh,
//  cat, printf ...); every work directory lives under a scratch dir.
#include <criterion/criterion.h>

#include "agent/exec.h"
#include "agent/workdir.h"
#include "common/json_read.h"
#include "support.h"

#include <czmq.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

static char *s_scratch;          //  DROVER_WORK_DIR for this test
static workdir_t *s_workdirs;    //  exec's state, as a worker process keeps it

static void
s_setup (void)
{
    s_scratch = support_tmpdir ();
    cr_assert (s_scratch);
    setenv ("DROVER_WORK_DIR", s_scratch, 1);
    s_workdirs = workdir_new ();
    cr_assert (s_workdirs);
}

static void
s_teardown (void)
{
    workdir_destroy (&s_workdirs);
    support_rmdir (&s_scratch);
}

TestSuite (exec, .init = s_setup, .fini = s_teardown, .timeout = 60);

//  One exec run: its outcome, and the result map when it succeeded.
typedef struct {
    int rc;
    char error[HANDLER_ERROR_MAX];
    size_t outputs;
    bool final;
    msgpack_sbuffer output;
    msgpack_zone zone;
    msgpack_object result;
    int64_t elapsed_ms;
} run_t;

static int
s_on_emit (void *arg, const void *data, size_t size, bool final)
{
    run_t *run = arg;
    run->final = final;
    (void) data, (void) size;
    return 0;
}

static void
s_pack_json (msgpack_sbuffer *buf, const char *json)
{
    char err[128];
    msgpack_sbuffer_init (buf);
    cr_assert_eq (json_to_msgpack (json, strlen (json), buf, err, sizeof err), 0,
                  "bad test JSON %s: %s", json, err);
}

//  Run exec on a tuple (JSON) with options (JSON).  Free with s_done.
static run_t *
s_exec_raw (const void *tuple, size_t tuple_size, const char *options_json,
            int64_t deadline_ms, int cancel_fd)
{
    run_t *run = calloc (1, sizeof *run);
    msgpack_sbuffer_init (&run->output);
    msgpack_zone_init (&run->zone, 4096);
    msgpack_sbuffer options;
    s_pack_json (&options, options_json);
    handler_call_t call;
    handler_call_init (&call, &run->output);
    call.emit = s_on_emit;
    call.emit_arg = run;
    call.cancel_fd = cancel_fd;
    msgpack_object tuple_obj, options_obj;
    size_t offset = 0;
    cr_assert_eq (msgpack_unpack (tuple, tuple_size, &offset, &run->zone, &tuple_obj),
                  MSGPACK_UNPACK_SUCCESS);
    offset = 0;
    cr_assert_eq (msgpack_unpack (options.data, options.size, &offset, &run->zone, &options_obj),
                  MSGPACK_UNPACK_SUCCESS);
    call.tuple = &tuple_obj;
    call.tuple_data = tuple;
    call.tuple_size = tuple_size;
    call.options = &options_obj;
    int64_t start = zclock_mono ();
    if (deadline_ms)
        call.deadline = start + deadline_ms;
    run->rc = exec_handler (s_workdirs, &call);
    run->elapsed_ms = zclock_mono () - start;
    run->outputs = call.outputs;
    snprintf (run->error, sizeof run->error, "%s", call.error);
    if (run->rc == 0) {
        offset = 0;
        cr_assert_eq (msgpack_unpack (run->output.data, call.mark, &offset, &run->zone, &run->result),
                      MSGPACK_UNPACK_SUCCESS);
        cr_assert_eq (run->result.type, MSGPACK_OBJECT_MAP);
    }
    msgpack_sbuffer_destroy (&options);
    return run;
}

static run_t *
s_exec (const char *tuple_json, const char *options_json)
{
    msgpack_sbuffer tuple;
    s_pack_json (&tuple, tuple_json);
    run_t *run = s_exec_raw (tuple.data, tuple.size, options_json, 0, -1);
    msgpack_sbuffer_destroy (&tuple);
    return run;
}

static void
s_done (run_t **run_p)
{
    run_t *run = *run_p;
    msgpack_sbuffer_destroy (&run->output);
    msgpack_zone_destroy (&run->zone);
    free (run);
    *run_p = NULL;
}

//  A string field of the result, NUL-terminated in a static buffer.
static const char *
s_str (run_t *run, const char *key)
{
    static char text[2][65536];
    static int which;
    const msgpack_object *value = handler_option (&run->result, key);
    cr_assert (value && value->type == MSGPACK_OBJECT_STR, "result has no string %s", key);
    char *into = text[which++ % 2];
    cr_assert_lt (value->via.str.size, sizeof text[0]);
    memcpy (into, value->via.str.ptr, value->via.str.size);
    into[value->via.str.size] = 0;
    return into;
}

static int64_t
s_int (run_t *run, const char *key)
{
    const msgpack_object *value = handler_option (&run->result, key);
    cr_assert (value && (value->type == MSGPACK_OBJECT_POSITIVE_INTEGER
                      || value->type == MSGPACK_OBJECT_NEGATIVE_INTEGER), "no integer %s", key);
    return value->via.i64;
}

#define cr_assert_ok(run) cr_assert_eq ((run)->rc, 0, "exec failed: %s", (run)->error)

Test (exec, positional_placeholders_become_arguments)
{
    run_t *run = s_exec ("[\"a b\", 42, 1.5, true, -7, null]",
        "{\"command\": [\"printf\", \"%s|%s|%s|%s|%s|%s\", \"{0}\", \"{1}\", \"{2}\", "
        "\"{3}\", \"{4}\", \"x{5}y\"]}");
    cr_assert_ok (run);
    cr_assert_str_eq (s_str (run, "stdout"), "a b|42|1.5|true|-7|xy");
    cr_assert_eq (s_int (run, "exit"), 0);
    cr_assert_eq (handler_option (&run->result, "signal")->type, MSGPACK_OBJECT_NIL);
    cr_assert_eq (handler_option (&run->result, "truncated")->via.boolean, false);
    cr_assert_eq (run->outputs, 1);
    cr_assert (run->final);
    s_done (&run);

    //  A bare (non-array) tuple is {0}; containers come as JSON.
    run = s_exec ("\"solo\"", "{\"command\": [\"echo\", \"{0}\"]}");
    cr_assert_ok (run);
    cr_assert_str_eq (s_str (run, "stdout"), "solo\n");
    s_done (&run);
    run = s_exec ("[[1,2], {\"k\": \"v\"}]", "{\"command\": [\"echo\", \"{0}\", \"{1}\"]}");
    cr_assert_ok (run);
    cr_assert_str_eq (s_str (run, "stdout"), "[1,2] {\"k\":\"v\"}\n");
    s_done (&run);
}

Test (exec, named_placeholders_read_map_fields)
{
    run_t *run = s_exec ("{\"host\": \"10.0.0.7\", \"port\": 443}",
                         "{\"command\": [\"echo\", \"{host}:{port}\", \"--\"]}");
    cr_assert_ok (run);
    cr_assert_str_eq (s_str (run, "stdout"), "10.0.0.7:443 --\n");
    s_done (&run);
}

Test (exec, doubled_braces_are_literal)
{
    run_t *run = s_exec ("[\"v\"]", "{\"command\": [\"echo\", \"{{0}} {{x}} }} {0}\"]}");
    cr_assert_ok (run);
    cr_assert_str_eq (s_str (run, "stdout"), "{0} {x} } v\n");
    s_done (&run);
}

Test (exec, bad_placeholders_fail_clearly)
{
    run_t *run = s_exec ("[\"a\"]", "{\"command\": [\"echo\", \"{3}\"]}");
    cr_assert_eq (run->rc, -1);
    cr_assert (strstr (run->error, "{3}") && strstr (run->error, "no element"), "%s", run->error);
    cr_assert_eq (run->outputs, 0);
    s_done (&run);
    run = s_exec ("[\"a\"]", "{\"command\": [\"echo\", \"{host}\"]}");
    cr_assert (strstr (run->error, "not a map"), "%s", run->error);
    s_done (&run);
    run = s_exec ("{\"a\": 1}", "{\"command\": [\"echo\", \"{b}\"]}");
    cr_assert (strstr (run->error, "no such field"), "%s", run->error);
    s_done (&run);
    run = s_exec ("[\"a\"]", "{\"command\": [\"echo\", \"{0\"]}");
    cr_assert (strstr (run->error, "without '}'"), "%s", run->error);
    s_done (&run);
    run = s_exec ("[\"a\\u0000b\"]", "{\"command\": [\"echo\", \"{0}\"]}");
    cr_assert (strstr (run->error, "contains a NUL byte"), "%s", run->error);
    s_done (&run);
}

Test (exec, bad_options_fail_clearly)
{
    const char *bad[][2] = {
        { "{}", "command must be a non-empty array" },
        { "{\"command\": []}", "command must be a non-empty array" },
        { "{\"command\": \"echo hi\"}", "command must be a non-empty array" },
        { "{\"command\": [\"echo\"], \"shell\": true}", "with shell, option command must be a string" },
        { "{\"command\": [\"echo\"], \"stdin\": \"xml\"}", "option stdin must be" },
        { "{\"command\": [\"echo\"], \"timeout_ms\": -1}", "must be integers >= 0" },
        { "{\"command\": [\"echo\"], \"env\": [1]}", "env must be a map" },
        { "{\"command\": [\"echo\"], \"env\": {\"A=B\": 1}}", "without '='" },
        { "{\"command\": [\"/no/such/program\"]}", "cannot run /no/such/program" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        run_t *run = s_exec ("[1]", bad[i][0]);
        cr_assert_eq (run->rc, -1, "%s should fail", bad[i][0]);
        //  (Under valgrind, which runs posix_spawn as fork + exec, a missing
        //  program is exit code 127 instead.)
        cr_assert (strstr (run->error, bad[i][1])
                   || (strstr (bad[i][1], "cannot run") && strstr (run->error, "code 127")),
                   "%s: %s", bad[i][0], run->error);
        s_done (&run);
    }
}

Test (exec, shell_runs_one_line_with_quoted_values)
{
    //  The value would run commands if it were not quoted.
    run_t *run = s_exec ("[\"it's; echo pwned $(echo x) `echo y` \\\"q\\\"\"]",
        "{\"shell\": true, \"command\": \"echo {0} | tr a-z A-Z; echo done\"}");
    cr_assert_ok (run);
    cr_assert_str_eq (s_str (run, "stdout"), "IT'S; ECHO PWNED $(ECHO X) `ECHO Y` \"Q\"\ndone\n");
    s_done (&run);
    //  Without shell, shell syntax is just text.
    run = s_exec ("[\"$HOME\"]", "{\"command\": [\"echo\", \"{0};\", \"|\", \"x\"]}");
    cr_assert_ok (run);
    cr_assert_str_eq (s_str (run, "stdout"), "$HOME; | x\n");
    s_done (&run);
}

Test (exec, tuple_arrives_on_stdin_as_json_by_default)
{
    run_t *run = s_exec ("[\"x\", 1, {\"k\": true}, \"\\u00e9\"]", "{\"command\": [\"cat\"]}");
    cr_assert_ok (run);
    cr_assert_str_eq (s_str (run, "stdout"), "[\"x\",1,{\"k\":true},\"\xc3\xa9\"]\n");
    s_done (&run);
    run = s_exec ("[\"x\"]", "{\"command\": [\"cat\"], \"stdin\": \"none\"}");
    cr_assert_ok (run);
    cr_assert_str_eq (s_str (run, "stdout"), "");
    s_done (&run);
}

Test (exec, tuple_arrives_on_stdin_as_msgpack_on_request)
{
    msgpack_sbuffer tuple;
    s_pack_json (&tuple, "[\"bin\", 300, -1]");
    run_t *run = s_exec_raw (tuple.data, tuple.size,
                             "{\"command\": [\"od\", \"-An\", \"-tx1\", \"-v\"], \"stdin\": \"msgpack\"}",
                             0, -1);
    cr_assert_ok (run);
    char want[256] = "";
    for (size_t i = 0; i < tuple.size; i++)
        sprintf (want + strlen (want), " %02x", (uint8_t) tuple.data[i]);
    strcat (want, "\n");
    cr_assert_str_eq (s_str (run, "stdout"), want);
    msgpack_sbuffer_destroy (&tuple);
    s_done (&run);
}

Test (exec, large_stdin_not_read_is_no_problem)
{
    //  A command that exits without reading: EPIPE, never SIGPIPE here.
    size_t big = 4 * 1024 * 1024;
    char *json = malloc (big + 8);
    json[0] = '[';
    json[1] = '"';
    memset (json + 2, 'a', big);
    strcpy (json + 2 + big, "\"]");
    run_t *run = s_exec (json, "{\"command\": [\"true\"]}");
    cr_assert_ok (run);
    s_done (&run);
    free (json);
}

Test (exec, env_adds_variables_and_keeps_the_agents)
{
    run_t *run = s_exec ("[1]",
        "{\"command\": [\"sh\", \"-c\", \"echo $FOO-$N-$B; test -n \\\"$PATH\\\" && echo path\"], "
        "\"env\": {\"FOO\": \"bar baz\", \"N\": 5, \"B\": false}}");
    cr_assert_ok (run);
    cr_assert_str_eq (s_str (run, "stdout"), "bar baz-5-false\npath\n");
    s_done (&run);
    //  The option wins over the agent's own variable of the same name.
    setenv ("DROVER_TEST_VAR", "agent", 1);
    run = s_exec ("[1]", "{\"command\": [\"sh\", \"-c\", \"echo $DROVER_TEST_VAR\"], "
                         "\"env\": {\"DROVER_TEST_VAR\": \"job\"}}");
    cr_assert_ok (run);
    cr_assert_str_eq (s_str (run, "stdout"), "job\n");
    s_done (&run);
}

Test (exec, non_zero_exit_is_an_error_unless_listed)
{
    run_t *run = s_exec ("[1]", "{\"command\": [\"sh\", \"-c\", \"echo oops >&2; exit 3\"]}");
    cr_assert_eq (run->rc, -1);
    cr_assert (strstr (run->error, "exited with code 3") && strstr (run->error, "stderr: oops"),
               "%s", run->error);
    cr_assert_eq (run->outputs, 0);
    s_done (&run);
    run = s_exec ("[1]", "{\"command\": [\"sh\", \"-c\", \"echo oops >&2; exit 3\"], "
                         "\"ok_exit_codes\": [1, 3]}");
    cr_assert_ok (run);
    cr_assert_eq (s_int (run, "exit"), 3);
    cr_assert_str_eq (s_str (run, "stderr"), "oops\n");
    s_done (&run);
}

Test (exec, death_by_signal_is_an_error)
{
    run_t *run = s_exec ("[1]", "{\"command\": [\"sh\", \"-c\", \"kill -SEGV $$\"]}");
    cr_assert_eq (run->rc, -1);
    cr_assert (strstr (run->error, "killed by SIGSEGV"), "%s", run->error);
    s_done (&run);
}

Test (exec, large_output_is_truncated_with_a_note)
{
    run_t *run = s_exec ("[300000]", "{\"shell\": true, \"max_output\": 1000, "
                         "\"command\": \"yes | head -c {0}; yes e | head -c 10 >&2\"}");
    cr_assert_ok (run);
    const char *out = s_str (run, "stdout");
    cr_assert_eq (strlen (out), 1000 + strlen ("[truncated 299000 bytes]"), "%zu", strlen (out));
    cr_assert_eq (strncmp (out, "y\ny\ny\n", 6), 0);
    cr_assert_str_eq (out + 1000, "[truncated 299000 bytes]");
    cr_assert_str_eq (s_str (run, "stderr"), "e\ne\ne\ne\ne\n");
    cr_assert_eq (handler_option (&run->result, "truncated")->via.boolean, true);
    s_done (&run);
}

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
    snprintf (pidfile, sizeof pidfile, "%s/pid", s_scratch);
    char options[600];
    snprintf (options, sizeof options,
              "{\"command\": [\"sh\", \"-c\", \"sleep 1000 & sleep 1000 & echo $$ > %s; wait\"], "
              "\"timeout_ms\": 1000, \"kill_grace_ms\": 5000}", pidfile);
    run_t *run = s_exec ("[1]", options);
    cr_assert_eq (run->rc, -1);
    cr_assert (strstr (run->error, "timed out"), "%s", run->error);
    cr_assert_geq (run->elapsed_ms, 1000);
    cr_assert_lt (run->elapsed_ms, 4000, "SIGTERM should end it well before the grace");
    pid_t pgid = s_read_pid (pidfile);
    cr_assert (SUPPORT_WAIT (s_group_gone (pgid), 5000), "process group %d still alive", (int) pgid);
    s_done (&run);
}

Test (exec, sigkill_follows_an_ignored_sigterm)
{
    char pidfile[300];
    snprintf (pidfile, sizeof pidfile, "%s/pid", s_scratch);
    char options[600];
    snprintf (options, sizeof options,
              "{\"command\": [\"sh\", \"-c\", \"trap '' TERM; sleep 1000 & echo $$ > %s; wait\"], "
              "\"timeout_ms\": 200, \"kill_grace_ms\": 400}", pidfile);
    run_t *run = s_exec ("[1]", options);
    cr_assert_eq (run->rc, -1);
    cr_assert (strstr (run->error, "timed out"), "%s", run->error);
    cr_assert_geq (run->elapsed_ms, 600, "SIGKILL comes after the grace");
    cr_assert_lt (run->elapsed_ms, 3000, "and then the handler returns");
    pid_t pgid = s_read_pid (pidfile);
    cr_assert (SUPPORT_WAIT (s_group_gone (pgid), 5000), "process group %d still alive", (int) pgid);
    s_done (&run);
}

Test (exec, the_calls_deadline_is_the_default_timeout)
{
    msgpack_sbuffer tuple;
    s_pack_json (&tuple, "[1]");
    run_t *run = s_exec_raw (tuple.data, tuple.size, "{\"command\": [\"sleep\", \"1000\"]}", 200, -1);
    cr_assert_eq (run->rc, -1);
    cr_assert (strstr (run->error, "timed out"), "%s", run->error);
    cr_assert_lt (run->elapsed_ms, 2000);
    msgpack_sbuffer_destroy (&tuple);
    s_done (&run);
}

Test (exec, cancel_stops_the_command)
{
    int cancel = eventfd (1, EFD_CLOEXEC);
    msgpack_sbuffer tuple;
    s_pack_json (&tuple, "[1]");
    run_t *run = s_exec_raw (tuple.data, tuple.size, "{\"command\": [\"sleep\", \"1000\"]}", 0, cancel);
    cr_assert_eq (run->rc, -1);
    cr_assert (strstr (run->error, "cancelled"), "%s", run->error);
    cr_assert_lt (run->elapsed_ms, 2000);
    msgpack_sbuffer_destroy (&tuple);
    s_done (&run);
    close (cancel);
}

Test (exec, processes_left_behind_are_killed_when_the_command_exits)
{
    char pidfile[300];
    snprintf (pidfile, sizeof pidfile, "%s/pid", s_scratch);
    char options[600];
    snprintf (options, sizeof options,
              "{\"command\": [\"sh\", \"-c\", \"sleep 1000 >/dev/null 2>&1 & echo $$ > %s\"]}", pidfile);
    run_t *run = s_exec ("[1]", options);
    cr_assert_ok (run);
    cr_assert_lt (run->elapsed_ms, 2000);
    pid_t pgid = s_read_pid (pidfile);
    cr_assert (SUPPORT_WAIT (s_group_gone (pgid), 5000), "process group %d still alive", (int) pgid);
    s_done (&run);
}

//  Several tasks at once, as handler threads would run them.
typedef struct {
    const char *tuple;
    const char *options;
    run_t *run;
} job_t;

static void *
s_thread (void *arg)
{
    job_t *job = arg;
    job->run = s_exec (job->tuple, job->options);
    return NULL;
}

Test (exec, setup_runs_once_and_each_task_gets_its_own_copy)
{
    char options[1000];
    snprintf (options, sizeof options,
        "{\"setup\": [\"sh\", \"-c\", \"echo tool > tool.txt; mkdir bin; echo ran >> %s/setups\"], "
        "\"command\": [\"sh\", \"-c\", \"test ! -e mine.txt && cat tool.txt && test -d bin "
        "&& echo {0} > mine.txt && pwd\"]}", s_scratch);
    const char *tuples[] = { "[\"a\"]", "[\"b\"]", "[\"c\"]", "[\"d\"]" };
    job_t jobs[4];
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (job_t) { .tuple = tuples[i], .options = options };
        pthread_create (&threads[i], NULL, s_thread, &jobs[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join (threads[i], NULL);
    char dirs[4][512];
    for (int i = 0; i < 4; i++) {
        run_t *run = jobs[i].run;
        cr_assert_ok (run);
        const char *out = s_str (run, "stdout");
        cr_assert_eq (strncmp (out, "tool\n", 5), 0, "task %d saw: %s", i, out);
        snprintf (dirs[i], sizeof dirs[i], "%s", out + 5);
        *strchr (dirs[i], '\n') = 0;
        cr_assert (strstr (dirs[i], s_scratch) == dirs[i] || strstr (dirs[i], "drover-work-"),
                   "work dir %s not under DROVER_WORK_DIR", dirs[i]);
        for (int j = 0; j < i; j++)
            cr_assert_str_neq (dirs[i], dirs[j]);
        struct stat st;
        cr_assert_eq (stat (dirs[i], &st), -1, "task dir %s not removed", dirs[i]);
        s_done (&jobs[i].run);
    }
    char path[400];
    snprintf (path, sizeof path, "%s/setups", s_scratch);
    cr_assert_eq (support_count_lines (path), 1, "setup ran more than once");
    //  A later task reuses the prepared template.
    run_t *run = s_exec ("[\"e\"]", options);
    cr_assert_ok (run);
    cr_assert_eq (support_count_lines (path), 1);
    s_done (&run);
}

Test (exec, failed_setup_fails_the_task_and_is_retried)
{
    char options[600];
    snprintf (options, sizeof options,
        "{\"setup\": \"echo try >> %s/tries; echo broken >&2; exit 4\", \"command\": [\"true\"]}",
        s_scratch);
    for (int i = 0; i < 2; i++) {
        run_t *run = s_exec ("[1]", options);
        cr_assert_eq (run->rc, -1);
        cr_assert (strstr (run->error, "setup exited with code 4") && strstr (run->error, "broken"),
                   "%s", run->error);
        s_done (&run);
    }
    char path[400];
    snprintf (path, sizeof path, "%s/tries", s_scratch);
    cr_assert_eq (support_count_lines (path), 2);
}

Test (exec, template_is_hard_linked_into_each_task_dir)
{
    char template_dir[400], path[500];
    snprintf (template_dir, sizeof template_dir, "%s/template", s_scratch);
    cr_assert_eq (mkdir (template_dir, 0755), 0);
    snprintf (path, sizeof path, "%s/sub", template_dir);
    cr_assert_eq (mkdir (path, 0755), 0);
    snprintf (path, sizeof path, "%s/sub/data.txt", template_dir);
    FILE *file = fopen (path, "w");
    fputs ("data\n", file);
    fclose (file);
    snprintf (path, sizeof path, "%s/link", template_dir);
    cr_assert_eq (symlink ("sub/data.txt", path), 0);
    struct stat st;
    snprintf (path, sizeof path, "%s/sub/data.txt", template_dir);
    cr_assert_eq (stat (path, &st), 0);

    char options[600];
    snprintf (options, sizeof options,
        "{\"template\": \"%s\", \"keep_workdir\": true, \"command\": [\"sh\", \"-c\", "
        "\"cat link; stat -c %%i sub/data.txt; echo new > new.txt\"]}", template_dir);
    run_t *run = s_exec ("[1]", options);
    cr_assert_ok (run);
    char want[100];
    snprintf (want, sizeof want, "data\n%lu\n", (unsigned long) st.st_ino);
    cr_assert_str_eq (s_str (run, "stdout"), want, "same inode: hard-linked");
    //  Kept, and named in the result.
    const char *kept = s_str (run, "workdir");
    snprintf (path, sizeof path, "%s/new.txt", kept);
    cr_assert_eq (stat (path, &st), 0, "kept work dir has the task's file");
    snprintf (path, sizeof path, "%s/new.txt", template_dir);
    cr_assert_eq (stat (path, &st), -1, "the template does not");
    s_done (&run);
}

Test (exec, workdir_base_is_removed_when_the_workdirs_go)
{
    run_t *run = s_exec ("[1]", "{\"workdir\": true, \"keep_workdir\": true, \"command\": [\"pwd\"]}");
    cr_assert_ok (run);
    char dir[512];
    snprintf (dir, sizeof dir, "%s", s_str (run, "stdout"));
    *strchr (dir, '\n') = 0;
    struct stat st;
    cr_assert_eq (stat (dir, &st), 0);
    s_done (&run);
    workdir_destroy (&s_workdirs);
    cr_assert_eq (stat (dir, &st), -1, "kept dirs go too");
    char base[512];
    snprintf (base, sizeof base, "%s", dir);
    *strrchr (base, '/') = 0;
    cr_assert_eq (stat (base, &st), -1, "and the base dir %s", base);
}

//  ---------------------------------------------------------------------
//  Black-box: a job with the exec handler through a real broker, agent and
//  sink.

Test (exec, a_job_runs_through_a_real_agent, .timeout = 180)
{
    char frontend[64], intake[64], backend[64], sink[64], log[600], path[600], results[600];
    snprintf (frontend, sizeof frontend, "%s", support_endpoint ());
    snprintf (intake, sizeof intake, "%s", support_endpoint ());
    snprintf (backend, sizeof backend, "%s", support_endpoint ());
    snprintf (sink, sizeof sink, "%s", support_endpoint ());
    snprintf (results, sizeof results, "%s/results.jsonl", s_scratch);
    snprintf (log, sizeof log, "%s/cluster.log", s_scratch);
    pid_t broker = support_spawn (log, "broker", "--frontend", frontend, "--intake", intake,
                                  "--backend", backend, "--store", "memory", NULL);
    pid_t sink_pid = support_spawn (log, "sink", "--bind", sink, "--output", results, NULL);
    pid_t agent = support_spawn (log, "agent", "--broker", backend, "--threads", "3", NULL);
    cr_assert (broker > 0 && sink_pid > 0 && agent > 0);

    snprintf (path, sizeof path, "%s/tuples.jsonl", s_scratch);
    FILE *file = fopen (path, "w");
    for (int i = 1; i <= 12; i++)
        fprintf (file, "[%d]\n", i == 12? 99: i);
    fclose (file);
    const char *options = "{\"setup\": [\"sh\", \"-c\", \"echo tool > tool\"], "
        "\"command\": [\"sh\", \"-c\", \"test {0} != 99 || exit 3; echo out-{0}-$(cat tool)\"]}";
    pid_t submit = support_spawn (log, "submit", "--broker", frontend, "--job", "exec-job",
                                  "--handler", "exec", "--options", options, "--max-attempts", "1",
                                  "--sink", sink, "--wait", "--quiet", path, NULL);
    int status = -1;
    cr_assert (SUPPORT_WAIT (support_exited (submit, &status), 120000), "submit did not finish");
    cr_assert (SUPPORT_WAIT (support_count_lines (results) >= 12, 30000), "see %s", log);
    char *all = support_slurp (results);
    for (int i = 1; i <= 11; i++) {
        char want[64];
        snprintf (want, sizeof want, "out-%d-tool\\n", i);
        cr_expect (strstr (all, want), "no %s in %s", want, all);
    }
    cr_expect (strstr (all, "exited with code 3"), "the tuple that exits 3 fails: %s", all);
    free (all);
    cr_expect_eq (support_stop (agent, SIGTERM, 30000), 0);
    cr_expect_eq (support_stop (sink_pid, SIGTERM, 10000), 0);
    cr_expect_eq (support_stop (broker, SIGTERM, 10000), 0);
}
