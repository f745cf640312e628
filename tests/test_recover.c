//  test_recover.c -- a sink that restarts keeps exactly-once output: the
//  durable dedupe index (sink/seen.c, LMDB) and recovery of lines written
//  but not recorded (sink/recover.c).  Unit tests call recover_output on a
//  file made by hand; black-box tests SIGKILL a real `drover sink`, start
//  it again on the same output and data directory, and send the same
//  RESULT again over a DEALER, as an agent redelivering would.
#include <criterion/criterion.h>
#include <msgpack.h>

#include "proto/msg.h"
#include "proto/wire.h"
#include "sink/recover.h"
#include "support.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *dir;
static char out_path[512];
static char data_dir[512];
static char log_path[512];
static char endpoint[64];
static pid_t sink_pid = -1;
static zsock_t *agent;

static void
setup (void)
{
    dir = support_tmpdir ();
    cr_assert_not_null (dir);
    snprintf (out_path, sizeof out_path, "%s/results.jsonl", dir);
    snprintf (data_dir, sizeof data_dir, "%s/sink-data", dir);
    snprintf (log_path, sizeof log_path, "%s/sink.log", dir);
}

static void
teardown (void)
{
    zsock_destroy (&agent);
    if (sink_pid > 0)
        support_stop (sink_pid, SIGTERM, 10000);
    sink_pid = -1;
    if (getenv ("SINK_TEST_LOG")) {
        char *log = support_slurp (log_path);
        fprintf (stderr, "---- sink log ----\n%s", log? log: "");
        free (log);
    }
    support_rmdir (&dir);
}

TestSuite (recover, .init = setup, .fini = teardown, .timeout = 60);

static void
s_append (const char *path, const char *text)
{
    int fd = open (path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    cr_assert_geq (fd, 0);
    cr_assert_eq (write (fd, text, strlen (text)), (ssize_t) strlen (text));
    close (fd);
}

//  A line as the sink writes it, for job and tuple.
static void
s_line (char *buf, size_t size, const char *job, unsigned tuple)
{
    snprintf (buf, size, "{\"job\":\"%s\",\"tuple\":%u,\"attempt\":1,\"agent\":\"a\","
              "\"status\":\"ok\",\"started_us\":1,\"duration_us\":2,\"input\":[%u],"
              "\"output\":\"x\"}\n", job, tuple, tuple);
}

//  ---------------------------------------------------------------------
//  recover_output on files made by hand

Test (recover, indexes_lines_after_the_mark_and_cuts_a_partial_line)
{
    char line[256];
    for (unsigned t = 1; t <= 3; t++) {
        s_line (line, sizeof line, "scan", t);
        s_append (out_path, line);
    }
    output_t *output = output_new (out_path, false);
    cr_assert_not_null (output);
    char err[256] = "";
    seen_t *seen = seen_open (data_dir, false, err, sizeof err);
    cr_assert_not_null (seen, "%s", err);
    //  A fresh index reads the whole file.
    recover_stats_t stats;
    cr_assert_eq (recover_output (output, seen, &stats, err, sizeof err), 0, "%s", err);
    cr_expect_eq (stats.from, 0);
    cr_expect_eq (stats.lines, 3);
    cr_expect_eq (stats.indexed, 3);
    cr_expect (seen_contains (seen, "scan", 2));
    uint64_t dev, ino, size;
    cr_assert_eq (output_stat (output, &dev, &ino, &size), 0);
    seen_mark_t mark;
    cr_assert_eq (seen_mark (seen, &mark), 0);
    cr_expect (mark.dev == dev && mark.ino == ino && mark.size == size);

    //  Written after the mark: two whole lines (one the index holds), a
    //  line that is not a result, and half a line.
    s_line (line, sizeof line, "scan", 4);
    s_append (out_path, line);
    s_line (line, sizeof line, "scan", 2);
    s_append (out_path, line);
    s_append (out_path, "not json\n");
    s_line (line, sizeof line, "scan", 5);
    line[20] = 0;
    s_append (out_path, line);
    cr_assert_eq (recover_output (output, seen, &stats, err, sizeof err), 0, "%s", err);
    cr_expect_eq (stats.from, size, "from the mark, not the start");
    cr_expect_eq (stats.lines, 3);
    cr_expect_eq (stats.indexed, 1);
    cr_expect_eq (stats.unreadable, 1);
    cr_expect_eq (stats.cut, 20);
    cr_expect (seen_contains (seen, "scan", 4));
    cr_expect_not (seen_contains (seen, "scan", 5), "half a line is no result");
    cr_expect_eq (support_count_lines (out_path), 6);
    char *text = support_slurp (out_path);
    cr_expect_eq (text[strlen (text) - 1], '\n', "the partial line is gone");
    free (text);
    //  Nothing new: the scan starts at the end and finds nothing.
    cr_assert_eq (recover_output (output, seen, &stats, err, sizeof err), 0);
    cr_expect_eq (stats.lines, 0);
    cr_expect_eq (seen_size (seen), 4);
    seen_destroy (&seen);
    output_destroy (&output);
}

Test (recover, another_file_is_read_whole)
{
    char line[256];
    s_line (line, sizeof line, "old", 1);
    s_append (out_path, line);
    output_t *output = output_new (out_path, false);
    char err[256] = "";
    seen_t *seen = seen_open (data_dir, false, err, sizeof err);
    recover_stats_t stats;
    cr_assert_eq (recover_output (output, seen, &stats, err, sizeof err), 0, "%s", err);
    output_destroy (&output);
    //  The file is rotated away; the new one has lines of its own.
    char moved[600];
    snprintf (moved, sizeof moved, "%s.1", out_path);
    cr_assert_eq (rename (out_path, moved), 0);
    s_line (line, sizeof line, "new", 1);
    s_append (out_path, line);
    s_line (line, sizeof line, "new", 2);
    s_append (out_path, line);
    output = output_new (out_path, false);
    cr_assert_eq (recover_output (output, seen, &stats, err, sizeof err), 0, "%s", err);
    cr_expect_eq (stats.from, 0);
    cr_expect_eq (stats.indexed, 2);
    cr_expect (seen_contains (seen, "old", 1), "what the index held stays");
    cr_expect (seen_contains (seen, "new", 2));
    seen_destroy (&seen);
    output_destroy (&output);
}

//  ---------------------------------------------------------------------
//  A real sink, killed and started again

static bool
s_log_has (const char *text)
{
    char *log = support_slurp (log_path);
    bool found = log && strstr (log, text);
    free (log);
    return found;
}

static void
s_start_sink (const char *store)
{
    zsock_destroy (&agent);
    snprintf (endpoint, sizeof endpoint, "%s", support_endpoint ());
    unlink (log_path);
    sink_pid = support_spawn (log_path, "sink", "--bind", endpoint, "--output", out_path,
                              "--data-dir", data_dir, "--store", store, NULL);
    cr_assert_gt (sink_pid, 0);
    cr_assert (SUPPORT_WAIT (s_log_has ("sink ready"), 10000), "sink did not start");
    agent = zsock_new (ZMQ_DEALER);
    zsock_set_rcvtimeo (agent, 10000);
    zsock_set_linger (agent, 0);
    cr_assert_eq (zsock_connect (agent, "%s", endpoint), 0);
}

static void
s_kill_sink (void)
{
    int status = support_stop (sink_pid, SIGKILL, 10000);
    sink_pid = -1;
    cr_assert (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);
}

static void
s_pack_str (msgpack_packer *pk, const char *text)
{
    msgpack_pack_str (pk, strlen (text));
    msgpack_pack_str_body (pk, text, strlen (text));
}

//  RESULT with ok records for tuples first .. first+count-1; the reply.
static msg_t *
s_send (const char *job, uint64_t first, size_t count)
{
    msg_ref_t refs[64];
    cr_assert_leq (count, 64);
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, (uint32_t) count);
    for (size_t i = 0; i < count; i++) {
        refs[i] = (msg_ref_t) { first + i, 1 };
        msgpack_pack_map (&pk, 6);
        s_pack_str (&pk, "tuple");       msgpack_pack_uint64 (&pk, first + i);
        s_pack_str (&pk, "attempt");     msgpack_pack_uint32 (&pk, 1);
        s_pack_str (&pk, "status");      s_pack_str (&pk, "ok");
        s_pack_str (&pk, "started_us");  msgpack_pack_uint64 (&pk, 1);
        s_pack_str (&pk, "duration_us"); msgpack_pack_uint64 (&pk, 2);
        s_pack_str (&pk, "output");      msgpack_pack_uint64 (&pk, first + i);
    }
    msg_t *msg = msg_new (MSG_RESULT);
    msg_set_version (msg, 1);     //  its records are maps
    msg_set_str (msg, MSG_F_JOB, job);
    msg_set_str (msg, MSG_F_AGENT, "test-agent");
    msg_set_refs (msg, MSG_F_TUPLES, refs, count);
    zframe_t *frame = zframe_new (buffer.data, buffer.size);
    msgpack_sbuffer_destroy (&buffer);
    msg_payload_append (msg, &frame);
    cr_assert_eq (wire_send (&msg, agent, NULL), 0);
    msg_t *reply = NULL;
    cr_assert_eq (wire_recv (agent, NULL, &reply), 0, "no reply from the sink");
    return reply;
}

static void
s_expect_stored (const char *job, uint64_t first, size_t count)
{
    msg_t *reply = s_send (job, first, count);
    cr_assert_eq (msg_command (reply), MSG_STORED, "got %s (%s)",
                  msg_command_name (msg_command (reply)),
                  msg_str (reply, MSG_F_REASON)? msg_str (reply, MSG_F_REASON): "");
    size_t got = 0;
    msg_refs (reply, MSG_F_TUPLES, &got);
    cr_expect_eq (got, count);
    msg_destroy (&reply);
}

Test (recover, restarted_sink_still_drops_duplicates)
{
    s_start_sink ("lmdb");
    s_expect_stored ("scan", 1, 3);
    cr_expect_eq (support_count_lines (out_path), 3);
    s_kill_sink ();

    s_start_sink ("lmdb");
    cr_expect (s_log_has ("3 results of 1 jobs"), "the index came back");
    s_expect_stored ("scan", 1, 3);         //  redelivered: acknowledged...
    cr_expect_eq (support_count_lines (out_path), 3, "...but not written again");
    s_expect_stored ("scan", 3, 2);         //  3 again, 4 new
    cr_expect_eq (support_count_lines (out_path), 4);
    int status = support_stop (sink_pid, SIGTERM, 10000);
    sink_pid = -1;
    cr_expect (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    cr_expect (s_log_has ("1 results stored (0 failed) in 2 batches, 4 duplicates dropped"));
}

//  Lines written, index not committed: what a SIGKILL between the two
//  leaves.  Made by hand here: the line is appended while the sink is down.
Test (recover, crash_between_write_and_commit_is_reconciled)
{
    s_start_sink ("lmdb");
    s_expect_stored ("scan", 1, 2);
    s_kill_sink ();
    char line[256];
    s_line (line, sizeof line, "scan", 3);
    s_append (out_path, line);
    s_line (line, sizeof line, "scan", 4);
    line[30] = 0;                           //  and half of the next line
    s_append (out_path, line);

    s_start_sink ("lmdb");
    cr_expect (s_log_has ("1 results indexed"), "the written line was indexed");
    cr_expect (s_log_has ("30 bytes of a partial line cut"));
    s_expect_stored ("scan", 3, 1);         //  the redelivery of tuple 3
    cr_expect_eq (support_count_lines (out_path), 3, "tuple 3 is in the file once");
    s_expect_stored ("scan", 4, 1);         //  4 was never whole: written now
    cr_expect_eq (support_count_lines (out_path), 4);
    char *text = support_slurp (out_path);
    cr_assert_not_null (text);
    const char *first = strstr (text, "\"tuple\":4,");
    cr_expect (first && !strstr (first + 1, "\"tuple\":4,"), "tuple 4 once");
    free (text);
}

Test (recover, memory_store_forgets_and_data_dir_is_exclusive)
{
    //  --store memory: a restart forgets, so a redelivery is written again.
    s_start_sink ("memory");
    s_expect_stored ("scan", 1, 1);
    s_kill_sink ();
    s_start_sink ("memory");
    s_expect_stored ("scan", 1, 1);
    cr_expect_eq (support_count_lines (out_path), 2);
    support_stop (sink_pid, SIGTERM, 10000);
    sink_pid = -1;

    //  Two sinks on one data directory: the second refuses to start.
    s_start_sink ("lmdb");
    char second_log[600];
    snprintf (second_log, sizeof second_log, "%s/second.log", dir);
    char other_out[600];
    snprintf (other_out, sizeof other_out, "%s/other.jsonl", dir);
    pid_t second = support_spawn (second_log, "sink", "--bind", support_endpoint (),
                                  "--output", other_out, "--data-dir", data_dir, NULL);
    int status = -1;
    cr_assert (SUPPORT_WAIT (support_exited (second, &status), 10000));
    cr_expect (WIFEXITED (status) && WEXITSTATUS (status) == 1);
    char *log = support_slurp (second_log);
    cr_expect (log && strstr (log, "in use by another sink"), "%s", log? log: "");
    free (log);
    struct stat st;
    cr_expect_eq (stat (data_dir, &st), 0);
    cr_expect_eq (st.st_mode & 0777, 0700, "the data directory is private");
}

//  Without --data-dir, the index lives beside the output file.
Test (recover, default_data_dir_is_beside_the_output)
{
    snprintf (endpoint, sizeof endpoint, "%s", support_endpoint ());
    sink_pid = support_spawn (log_path, "sink", "--bind", endpoint, "--output", out_path, NULL);
    cr_assert (SUPPORT_WAIT (s_log_has ("sink ready"), 10000));
    char expected[600];
    snprintf (expected, sizeof expected, "%s.sink-data", out_path);
    cr_expect (s_log_has (expected), "index in %s", expected);
    struct stat st;
    cr_expect_eq (stat (expected, &st), 0);
}
