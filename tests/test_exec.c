//  test_exec.c -- the exec handler, called directly as a handler thread
//  would call it: templating, stdin, env, output limits, exit codes and
//  signals; and a job with it through a real broker, agent and sink.
//  Commands are real programs (/bin/sh, cat, printf ...).  Timeouts and
//  process groups: test_exec_processes.c; work directories:
//  test_exec_workdir.c.
#include <criterion/criterion.h>

#include "agent/exec.h"
#include "agent/workdir.h"
#include "support.h"
#include "support_exec.h"

#include <msgpack.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TestSuite (exec, .init = exec_test_setup, .fini = exec_test_teardown, .timeout = 60);

Test (exec, positional_placeholders_become_arguments)
{
    exec_run_t *run = exec_test_run ("[\"a b\", 42, 1.5, true, -7, null]",
        "{\"command\": [\"printf\", \"%s|%s|%s|%s|%s|%s\", \"{0}\", \"{1}\", \"{2}\", "
        "\"{3}\", \"{4}\", \"x{5}y\"]}");
    cr_assert_ok (run);
    cr_assert_str_eq (exec_test_str (run, "stdout"), "a b|42|1.5|true|-7|xy");
    cr_assert_eq (exec_test_int (run, "exit"), 0);
    cr_assert_eq (handler_option (&run->result, "signal")->type, MSGPACK_OBJECT_NIL);
    cr_assert_eq (handler_option (&run->result, "truncated")->via.boolean, false);
    cr_assert_eq (run->outputs, 1);
    cr_assert (run->final);
    exec_test_done (&run);

    //  A bare (non-array) tuple is {0}; containers come as JSON.
    run = exec_test_run ("\"solo\"", "{\"command\": [\"echo\", \"{0}\"]}");
    cr_assert_ok (run);
    cr_assert_str_eq (exec_test_str (run, "stdout"), "solo\n");
    exec_test_done (&run);
    run = exec_test_run ("[[1,2], {\"k\": \"v\"}]", "{\"command\": [\"echo\", \"{0}\", \"{1}\"]}");
    cr_assert_ok (run);
    cr_assert_str_eq (exec_test_str (run, "stdout"), "[1,2] {\"k\":\"v\"}\n");
    exec_test_done (&run);
}

Test (exec, named_placeholders_read_map_fields)
{
    exec_run_t *run = exec_test_run ("{\"host\": \"10.0.0.7\", \"port\": 443}",
                         "{\"command\": [\"echo\", \"{host}:{port}\", \"--\"]}");
    cr_assert_ok (run);
    cr_assert_str_eq (exec_test_str (run, "stdout"), "10.0.0.7:443 --\n");
    exec_test_done (&run);
}

Test (exec, doubled_braces_are_literal)
{
    exec_run_t *run = exec_test_run ("[\"v\"]", "{\"command\": [\"echo\", \"{{0}} {{x}} }} {0}\"]}");
    cr_assert_ok (run);
    cr_assert_str_eq (exec_test_str (run, "stdout"), "{0} {x} } v\n");
    exec_test_done (&run);
}

Test (exec, bad_placeholders_fail_clearly)
{
    exec_run_t *run = exec_test_run ("[\"a\"]", "{\"command\": [\"echo\", \"{3}\"]}");
    cr_assert_eq (run->rc, -1);
    cr_assert (strstr (run->error, "{3}") && strstr (run->error, "no element"), "%s", run->error);
    cr_assert_eq (run->outputs, 0);
    exec_test_done (&run);
    run = exec_test_run ("[\"a\"]", "{\"command\": [\"echo\", \"{host}\"]}");
    cr_assert (strstr (run->error, "not a map"), "%s", run->error);
    exec_test_done (&run);
    run = exec_test_run ("{\"a\": 1}", "{\"command\": [\"echo\", \"{b}\"]}");
    cr_assert (strstr (run->error, "no such field"), "%s", run->error);
    exec_test_done (&run);
    run = exec_test_run ("[\"a\"]", "{\"command\": [\"echo\", \"{0\"]}");
    cr_assert (strstr (run->error, "without '}'"), "%s", run->error);
    exec_test_done (&run);
    run = exec_test_run ("[\"a\\u0000b\"]", "{\"command\": [\"echo\", \"{0}\"]}");
    cr_assert (strstr (run->error, "contains a NUL byte"), "%s", run->error);
    exec_test_done (&run);
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
        exec_run_t *run = exec_test_run ("[1]", bad[i][0]);
        cr_assert_eq (run->rc, -1, "%s should fail", bad[i][0]);
        //  (Under valgrind, which runs posix_spawn as fork + exec, a missing
        //  program is exit code 127 instead.)
        cr_assert (strstr (run->error, bad[i][1])
                   || (strstr (bad[i][1], "cannot run") && strstr (run->error, "code 127")),
                   "%s: %s", bad[i][0], run->error);
        exec_test_done (&run);
    }
}

Test (exec, shell_runs_one_line_with_quoted_values)
{
    //  The value would run commands if it were not quoted.
    exec_run_t *run = exec_test_run ("[\"it's; echo pwned $(echo x) `echo y` \\\"q\\\"\"]",
        "{\"shell\": true, \"command\": \"echo {0} | tr a-z A-Z; echo done\"}");
    cr_assert_ok (run);
    cr_assert_str_eq (exec_test_str (run, "stdout"), "IT'S; ECHO PWNED $(ECHO X) `ECHO Y` \"Q\"\ndone\n");
    exec_test_done (&run);
    //  Without shell, shell syntax is just text.
    run = exec_test_run ("[\"$HOME\"]", "{\"command\": [\"echo\", \"{0};\", \"|\", \"x\"]}");
    cr_assert_ok (run);
    cr_assert_str_eq (exec_test_str (run, "stdout"), "$HOME; | x\n");
    exec_test_done (&run);
}

Test (exec, tuple_arrives_on_stdin_as_json_by_default)
{
    exec_run_t *run = exec_test_run ("[\"x\", 1, {\"k\": true}, \"\\u00e9\"]", "{\"command\": [\"cat\"]}");
    cr_assert_ok (run);
    cr_assert_str_eq (exec_test_str (run, "stdout"), "[\"x\",1,{\"k\":true},\"\xc3\xa9\"]\n");
    exec_test_done (&run);
    run = exec_test_run ("[\"x\"]", "{\"command\": [\"cat\"], \"stdin\": \"none\"}");
    cr_assert_ok (run);
    cr_assert_str_eq (exec_test_str (run, "stdout"), "");
    exec_test_done (&run);
}

Test (exec, tuple_arrives_on_stdin_as_msgpack_on_request)
{
    msgpack_sbuffer tuple;
    exec_test_pack_json (&tuple, "[\"bin\", 300, -1]");
    exec_run_t *run = exec_test_raw (tuple.data, tuple.size,
                             "{\"command\": [\"od\", \"-An\", \"-tx1\", \"-v\"], \"stdin\": \"msgpack\"}",
                             0, -1);
    cr_assert_ok (run);
    char want[256] = "";
    for (size_t i = 0; i < tuple.size; i++)
        sprintf (want + strlen (want), " %02x", (uint8_t) tuple.data[i]);
    strcat (want, "\n");
    cr_assert_str_eq (exec_test_str (run, "stdout"), want);
    msgpack_sbuffer_destroy (&tuple);
    exec_test_done (&run);
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
    exec_run_t *run = exec_test_run (json, "{\"command\": [\"true\"]}");
    cr_assert_ok (run);
    exec_test_done (&run);
    free (json);
}

Test (exec, env_adds_variables_and_keeps_the_agents)
{
    exec_run_t *run = exec_test_run ("[1]",
        "{\"command\": [\"sh\", \"-c\", \"echo $FOO-$N-$B; test -n \\\"$PATH\\\" && echo path\"], "
        "\"env\": {\"FOO\": \"bar baz\", \"N\": 5, \"B\": false}}");
    cr_assert_ok (run);
    cr_assert_str_eq (exec_test_str (run, "stdout"), "bar baz-5-false\npath\n");
    exec_test_done (&run);
    //  The option wins over the agent's own variable of the same name.
    setenv ("DROVER_TEST_VAR", "agent", 1);
    run = exec_test_run ("[1]", "{\"command\": [\"sh\", \"-c\", \"echo $DROVER_TEST_VAR\"], "
                         "\"env\": {\"DROVER_TEST_VAR\": \"job\"}}");
    cr_assert_ok (run);
    cr_assert_str_eq (exec_test_str (run, "stdout"), "job\n");
    exec_test_done (&run);
}

Test (exec, non_zero_exit_is_an_error_unless_listed)
{
    exec_run_t *run = exec_test_run ("[1]", "{\"command\": [\"sh\", \"-c\", \"echo oops >&2; exit 3\"]}");
    cr_assert_eq (run->rc, -1);
    cr_assert (strstr (run->error, "exited with code 3") && strstr (run->error, "stderr: oops"),
               "%s", run->error);
    cr_assert_eq (run->outputs, 0);
    exec_test_done (&run);
    run = exec_test_run ("[1]", "{\"command\": [\"sh\", \"-c\", \"echo oops >&2; exit 3\"], "
                         "\"ok_exit_codes\": [1, 3]}");
    cr_assert_ok (run);
    cr_assert_eq (exec_test_int (run, "exit"), 3);
    cr_assert_str_eq (exec_test_str (run, "stderr"), "oops\n");
    exec_test_done (&run);
}

Test (exec, death_by_signal_is_an_error)
{
    exec_run_t *run = exec_test_run ("[1]", "{\"command\": [\"sh\", \"-c\", \"kill -SEGV $$\"]}");
    cr_assert_eq (run->rc, -1);
    cr_assert (strstr (run->error, "killed by SIGSEGV"), "%s", run->error);
    exec_test_done (&run);
}

Test (exec, large_output_is_truncated_with_a_note)
{
    exec_run_t *run = exec_test_run ("[300000]", "{\"shell\": true, \"max_output\": 1000, "
                         "\"command\": \"yes | head -c {0}; yes e | head -c 10 >&2\"}");
    cr_assert_ok (run);
    const char *out = exec_test_str (run, "stdout");
    cr_assert_eq (strlen (out), 1000 + strlen ("[truncated 299000 bytes]"), "%zu", strlen (out));
    cr_assert_eq (strncmp (out, "y\ny\ny\n", 6), 0);
    cr_assert_str_eq (out + 1000, "[truncated 299000 bytes]");
    cr_assert_str_eq (exec_test_str (run, "stderr"), "e\ne\ne\ne\ne\n");
    cr_assert_eq (handler_option (&run->result, "truncated")->via.boolean, true);
    exec_test_done (&run);
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
    snprintf (results, sizeof results, "%s/results.jsonl", exec_test_scratch);
    snprintf (log, sizeof log, "%s/cluster.log", exec_test_scratch);
    pid_t broker = support_spawn (log, "broker", "--frontend", frontend, "--intake", intake,
                                  "--backend", backend, "--store", "memory", NULL);
    pid_t sink_pid = support_spawn (log, "sink", "--bind", sink, "--output", results, NULL);
    pid_t agent = support_spawn (log, "agent", "--broker", backend, "--threads", "3", NULL);
    cr_assert (broker > 0 && sink_pid > 0 && agent > 0);

    snprintf (path, sizeof path, "%s/tuples.jsonl", exec_test_scratch);
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
