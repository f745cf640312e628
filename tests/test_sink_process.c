//  test_sink_process.c -- black-box tests of `drover sink` as a process
//  (tests/support_sink.h): results alone on stdout with --output -, SIGTERM
//  and SIGINT leaving a complete file and the counters in the log, and the
//  command line (environment, --help, exit codes).
#include "support.h"
#include "support_sink.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static rig_t *rig;
static void setup (void) { rig = rig_new (); rig_start (rig, NULL); }
static void teardown (void) { rig_destroy (&rig); }
TestSuite (sink_process, .init = setup, .fini = teardown, .timeout = 60);

//  --output -: results on stdout, nothing else there; logs on stderr.
Test (sink_process, stdout_gets_only_results)
{
    rig_stop (rig, SIGTERM);
    snprintf (rig->endpoint, sizeof rig->endpoint, "%s", support_endpoint ());
    unlink (rig->log_path);
    pid_t pid = fork ();
    if (pid == 0) {
        int out = open (rig->out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open (rig->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2 (out, STDOUT_FILENO);
        dup2 (err, STDERR_FILENO);
        char data_dir[600];
        snprintf (data_dir, sizeof data_dir, "%s/stdout-data", rig->dir);
        execl (DROVER_BIN, DROVER_BIN, "sink", "--bind", rig->endpoint, "--output", "-",
               "--data-dir", data_dir, "--log-level", "debug", (char *) NULL);
        _exit (127);
    }
    rig->pid = pid;
    cr_assert (SUPPORT_WAIT (rig_log_has (rig, "writing to stdout"), 10000));
    rig_connect (rig);
    msg_ref_t refs[] = { { 1, 1 }, { 2, 1 } };
    msg_t *reply = rig_send_ok (rig, "piped", refs, 2);
    rig_expect_stored (reply, "piped", refs, 2);
    msg_destroy (&reply);
    int status = rig_stop (rig, SIGTERM);
    cr_expect (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    rig_lines_t *lines = rig_read_lines (rig);       //  asserts each line is JSON
    cr_expect_eq (lines->count, 2);
    rig_expect_str (lines, 1, "job", "piped");
    rig_free_lines (&lines);
    cr_expect (rig_log_has (rig, "sink shut down"), "logs went to stderr");
}

Test (sink_process, sigterm_exits_zero_with_complete_file)
{
    //  Pipeline batches without waiting, then stop the sink: every batch it
    //  acknowledged is whole in the file, and every line is whole.
    enum { BATCHES = 50, PER = 20 };
    for (uint64_t b = 0; b < BATCHES; b++) {
        msg_ref_t refs[PER];
        rig_batch_t batch;
        rig_batch_begin (&batch, PER);
        for (uint64_t i = 0; i < PER; i++) {
            refs[i] = (msg_ref_t) { b * PER + i + 1, 1 };
            rig_batch_record (&batch, refs[i].id, 1, true);
        }
        msg_t *msg = msg_new (MSG_RESULT);
        msg_set_version (msg, 1);     //  its records are maps
        msg_set_str (msg, MSG_F_JOB, "bulk");
        msg_set_str (msg, MSG_F_AGENT, "test-agent");
        msg_set_refs (msg, MSG_F_TUPLES, refs, PER);
        zframe_t *frame = zframe_new (batch.buffer.data, batch.buffer.size);
        msg_payload_append (msg, &frame);
        msgpack_sbuffer_destroy (&batch.buffer);
        cr_assert_eq (wire_send (&msg, rig->agent, NULL), 0);
    }
    size_t stored = 0;
    for (int i = 0; i < 10; i++) {      //  a few replies, then stop mid-stream
        msg_t *reply = NULL;
        cr_assert_eq (wire_recv (rig->agent, NULL, &reply), 0);
        cr_expect_eq (msg_command (reply), MSG_STORED);
        stored++;
        msg_destroy (&reply);
    }
    int status = rig_stop (rig, SIGTERM);
    cr_assert (WIFEXITED (status), "sink did not exit by itself");
    cr_expect_eq (WEXITSTATUS (status), 0);
    char *text = support_slurp (rig->out_path);
    cr_assert_not_null (text);
    size_t length = strlen (text);
    cr_expect (length == 0 || text[length - 1] == '\n', "the last line is whole");
    free (text);
    size_t lines = support_count_lines (rig->out_path);
    cr_expect_geq (lines, stored * PER, "acknowledged batches are in the file");
    cr_expect_eq (lines % PER, 0, "batches are written whole");
    rig_lines_t *parsed = rig_read_lines (rig);      //  asserts every line is JSON
    rig_free_lines (&parsed);
    cr_expect (rig_log_has (rig, "sink shut down"), "counters are logged at shutdown");
}

Test (sink_process, counters_at_shutdown)
{
    msg_ref_t refs[] = { { 1, 1 }, { 2, 1 } };
    msg_t *reply = rig_send_ok (rig, "scan", refs, 2);
    msg_destroy (&reply);
    reply = rig_send_ok (rig, "scan", refs, 2);
    msg_destroy (&reply);
    reply = rig_send_raw (rig, "scan", refs, 2, "\xc1", 1);
    msg_destroy (&reply);
    int status = rig_stop (rig, SIGINT);
    cr_assert (WIFEXITED (status));
    cr_expect_eq (WEXITSTATUS (status), 0);
    cr_expect (rig_log_has (rig, "2 results stored (0 failed) in 2 batches, 2 duplicates "
                               "dropped, 1 bad messages (BAD_HEADER 1)"), "counters in the log");
}

//  ---------------------------------------------------------------------
//  The command line

static int
s_exit_code (pid_t pid)
{
    int status = -1;
    cr_assert (SUPPORT_WAIT (support_exited (pid, &status), 10000));
    return WIFEXITED (status)? WEXITSTATUS (status): -1;
}

Test (sink_process, environment_and_flags)
{
    //  DROVER_BIND and DROVER_OUTPUT are the defaults of --bind and --output.
    rig_stop (rig, SIGTERM);
    char env_out[600];
    snprintf (env_out, sizeof env_out, "%s/env.jsonl", rig->dir);
    char bind[64];
    snprintf (bind, sizeof bind, "%s", support_endpoint ());
    setenv ("DROVER_BIND", bind, 1);
    setenv ("DROVER_OUTPUT", env_out, 1);
    setenv ("DROVER_FSYNC", "1", 1);
    unlink (rig->log_path);
    rig->pid = support_spawn (rig->log_path, "sink", NULL);
    unsetenv ("DROVER_BIND");
    unsetenv ("DROVER_OUTPUT");
    unsetenv ("DROVER_FSYNC");
    cr_assert (SUPPORT_WAIT (rig_log_has (rig, "sink ready"), 10000));
    cr_expect (rig_log_has (rig, bind), "bound the endpoint from DROVER_BIND");
    cr_expect (rig_log_has (rig, "(fsync)"), "DROVER_FSYNC=1 turns fsync on");
    snprintf (rig->endpoint, sizeof rig->endpoint, "%s", bind);
    rig_connect (rig);
    msg_ref_t refs[] = { { 1, 1 } };
    msg_t *reply = rig_send_ok (rig, "env", refs, 1);
    rig_expect_stored (reply, "env", refs, 1);
    msg_destroy (&reply);
    cr_expect_eq (support_count_lines (env_out), 1);

    //  --help is complete and exits 0; usage errors exit 2.
    char help_log[600];
    snprintf (help_log, sizeof help_log, "%s/help.log", rig->dir);
    cr_expect_eq (s_exit_code (support_spawn (help_log, "sink", "--help", NULL)), 0);
    char *help = support_slurp (help_log);
    cr_assert_not_null (help);
    const char *flags[] = { "--bind", "--output", "--fsync", "--log-level", "--help",
                            "--data-dir", "--store", "--cert", "--allow-plain",
                            "--allow-agents", "DROVER_BIND", "DROVER_OUTPUT", "DROVER_FSYNC",
                            "DROVER_LOG_LEVEL", "DROVER_DATA_DIR", "DROVER_STORE",
                            "DROVER_CERT", "DROVER_SECRET_KEY", "DROVER_ALLOW_PLAIN",
                            "DROVER_ALLOW_AGENTS" };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        cr_expect (strstr (help, flags[i]), "--help mentions %s", flags[i]);
    free (help);
    cr_expect_eq (s_exit_code (support_spawn (help_log, "sink", "--no-such-flag", NULL)), 2);
    cr_expect_eq (s_exit_code (support_spawn (help_log, "sink", "--log-level", "loud", NULL)), 2);
    cr_expect_eq (s_exit_code (support_spawn (help_log, "sink", "stray", NULL)), 2);
    cr_expect_eq (s_exit_code (support_spawn (help_log, "sink", "--store", "disk", NULL)), 2);
    cr_expect (SUPPORT_WAIT (rig_log_has (rig, "sink ready"), 1), "still running");
    //  Runtime failures exit 1: an output that cannot be opened.
    cr_expect_eq (s_exit_code (support_spawn (help_log, "sink", "--bind", support_endpoint (),
                                              "--output", "/nonexistent-dir/x", NULL)), 1);
    help = support_slurp (help_log);
    cr_expect (strstr (help, "try 'drover sink --help'"), "usage errors point to --help");
    cr_expect (strstr (help, "cannot open output /nonexistent-dir/x"), "%s", help);
    free (help);
}
