//  test_broker_rules.c -- the rules of SUBMIT (PROTOCOL.md 4.1), black-box:
//  every tuple one well-formed msgpack value (BAD_TUPLE, naming it), a
//  batch that no queue limit could ever take (TOO_LARGE naming the limit,
//  not a QUEUE_FULL a producer would retry forever), the field rules (job
//  name, sink, sink_key, max_attempts, timeout_ms, batch) and a job name's
//  lifetime.
#include "support_broker.h"
#include "broker/config.h"

#include <criterion/criterion.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

TestSuite (broker, .fini = tb_fini, .timeout = 120);

//  A SUBMIT of two good tuples, then one of size bytes: in version 1, where
//  each is a frame of its own for the broker to check.
static msg_t *
s_submit_with (const char *job, const char *batch, const void *bytes, size_t size)
{
    msg_t *msg = tb_submit_msg (job, "echo", batch, 1, 2, false);
    msg_set_version (msg, 1);
    zframe_t *frame = zframe_new (bytes, size);
    msg_payload_append (msg, &frame);
    return msg;
}

Test (broker, malformed_tuples_are_refused_with_bad_tuple)
{
    tb_start (NULL);
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    static const struct {
        const char *bytes;
        size_t size;
        const char *what;
    } bad[] = {
        { "\x92\x01", 2, "an array of 2 with one element" },
        { "\xc1", 1, "the byte no type uses" },
        { "\x01\x02", 2, "two values" },
        { "\xdd\xff\xff\xff\xff\xc0", 6, "an array claiming 2^32 items" },
        { "\xa5" "abc", 4, "a str cut short" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tb_send (req, s_submit_with ("tuples", "b", bad[i].bytes, bad[i].size));
        msg_t *reply = tb_expect_error (req, DRV_E_BAD_TUPLE);
        cr_assert (strstr (msg_str (reply, MSG_F_REASON), "tuple 3"),
                   "%s: the reason names the tuple: %s", bad[i].what,
                   msg_str (reply, MSG_F_REASON));
        cr_assert_str_eq (msg_str (reply, MSG_F_BATCH), "b");
        msg_destroy (&reply);
    }
    //  Version 2: the codec walks the packed frame.  A value that is not
    //  well-formed is BAD_TUPLE, a frame of other than `count` values
    //  BAD_FRAMES; the batch is echoed, in version 2.
    static const struct {
        const char *packed;
        size_t size;
        int code;
    } packed[] = {
        { "\x01\x92\x01", 3, DRV_E_BAD_TUPLE },
        { "\x01\xc1", 2, DRV_E_BAD_TUPLE },
        { "\x01\x02\x03", 3, DRV_E_BAD_FRAMES },
        { "\x01", 1, DRV_E_BAD_FRAMES },
    };
    for (size_t i = 0; i < sizeof packed / sizeof packed[0]; i++) {
        msg_t *submit = tb_submit_msg ("tuples", "echo", "v2", 1, 2, false);
        zmsg_t *zmsg = wire_encode (&submit);
        zframe_t *good = zmsg_last (zmsg);
        zmsg_remove (zmsg, good);
        zframe_destroy (&good);
        zmsg_addmem (zmsg, packed[i].packed, packed[i].size);
        cr_assert_eq (zmsg_send (&zmsg, req), 0);
        msg_t *reply = tb_expect_error (req, packed[i].code);
        cr_assert_eq (msg_version (reply), 2);
        cr_assert_str_eq (msg_str (reply, MSG_F_BATCH), "v2");
        msg_destroy (&reply);
    }
    //  Refused whole: the job was not even created.
    msg_t *reply = tb_status (req, "tuples");
    cr_assert_eq (msg_uint (reply, MSG_F_CODE), DRV_E_UNKNOWN_JOB);
    msg_destroy (&reply);
    //  Well-formed values of any shape pass: the broker does not interpret.
    const char nested[] = "\x91\x91\x91\x81\xa1k\x93\xc0\xc3\xcb\x40\x09\x21\xfb\x54\x44\x2d\x18";
    tb_send (req, s_submit_with ("tuples", NULL, nested, sizeof nested - 1));
    tb_expect_accepted (req, 1, 3, NULL);
    //  On the intake, refused and logged; nothing reaches the queue.
    zsock_t *push = tb_socket (ZMQ_PUSH, tb_intake ());
    tb_send (push, s_submit_with ("tuples", NULL, "\xc1", 1));
    cr_assert (SUPPORT_WAIT (tb_log_has ("intake: BAD_TUPLE"), 5000));
    cr_assert (tb_status_is (req, "tuples", (tb_counts_t) { "open", 3, 3, 0, 0, 0 }));
}

//  A SUBMIT to job (created with echo) of count tuples of size bytes each
//  (msgpack bin values).
static msg_t *
s_bins (const char *job, const char *batch, size_t count, size_t size)
{
    msg_t *submit = tb_submit_msg (job, "echo", batch, 0, 0, false);
    for (size_t t = 0; t < count; t++) {
        zframe_t *frame = zframe_new (NULL, size);
        memset (zframe_data (frame), 0xc0, size);
        zframe_data (frame)[0] = 0xc5;      //  bin16 of size - 3 bytes
        zframe_data (frame)[1] = (uint8_t) ((size - 3) >> 8);
        zframe_data (frame)[2] = (uint8_t) (size - 3);
        msg_payload_append (submit, &frame);
    }
    return submit;
}

Test (broker, a_batch_that_can_never_fit_is_too_large_not_queue_full)
{
    tb_start ("--max-job-queued", "5", "--max-queued", "8", "--max-queued-bytes", "2K",
              "--max-job-queued-bytes", "3K", NULL);
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    static const struct {
        size_t count, size;
        const char *limit;
    } never[] = {
        { 6, 9, "--max-job-queued)" },
        { 2, 1500, "--max-queued-bytes)" },
    };
    for (size_t i = 0; i < 2; i++) {
        tb_send (req, s_bins ("never", "n", never[i].count, never[i].size));
        msg_t *reply = tb_expect_error (req, DRV_E_TOO_LARGE);
        cr_assert (strstr (msg_str (reply, MSG_F_REASON), never[i].limit),
                   "the reason names the limit: %s", msg_str (reply, MSG_F_REASON));
        cr_assert_not (msg_has (reply, MSG_F_RETRY_MS), "nothing to retry");
        cr_assert_str_eq (msg_str (reply, MSG_F_BATCH), "n");
        msg_destroy (&reply);
    }
    //  What fits an empty queue but not this one is still QUEUE_FULL.
    tb_fill (req, "some", 5);
    tb_send (req, tb_submit_msg ("some", NULL, NULL, 6, 1, false));
    tb_refused (req, DRV_E_QUEUE_FULL);
    tb_send (req, tb_submit_msg ("other", "echo", NULL, 0, 4, false));
    tb_refused (req, DRV_E_QUEUE_FULL);
    tb_send (req, s_bins ("bytes", NULL, 1, 1500));
    tb_expect_accepted (req, 1, 1, NULL);
    tb_send (req, s_bins ("bytes", NULL, 1, 1500));
    msg_t *reply = tb_expect_error (req, DRV_E_QUEUE_FULL);
    cr_assert (strstr (msg_str (reply, MSG_F_REASON), "bytes queued"), "%s",
               msg_str (reply, MSG_F_REASON));
    msg_destroy (&reply);

    //  A producer that follows the spec gives up at once instead of
    //  sending the batch again forever: `drover submit` exits 1.
    char *dir = support_tmpdir ();
    char input[512], log[512];
    snprintf (input, sizeof input, "%s/tuples.jsonl", dir);
    snprintf (log, sizeof log, "%s/submit.log", dir);
    FILE *file = fopen (input, "w");
    for (int i = 0; i < 6; i++)
        fprintf (file, "[%d]\n", i);
    fclose (file);
    pid_t pid = support_spawn (log, "submit", "--broker", tb_frontend (), "--job", "cli",
                               "--handler", "echo", "--sink", TB_SINK, "--batch-size", "6",
                               input, NULL);
    int status = -1;
    bool exited = SUPPORT_WAIT (support_exited (pid, &status), 20000);
    if (!exited)
        support_stop (pid, SIGKILL, 1000);
    char *text = support_slurp (log);
    cr_assert (exited, "drover submit still retrying after 20 s:\n%s", text);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 1, "status %d:\n%s", status, text);
    cr_assert (strstr (text, "TOO_LARGE"), "%s", text);
    free (text);
    support_rmdir (&dir);
}

//  A SUBMIT creating job with one field set to a string value.
static msg_t *
s_with_str (const char *job, msg_field_t field, const char *value)
{
    msg_t *msg = tb_submit_msg (job, "echo", NULL, 1, 1, false);
    cr_assert_eq (msg_set_str (msg, field, value), 0);
    return msg;
}

static msg_t *
s_with_uint (const char *job, msg_field_t field, uint64_t value)
{
    msg_t *msg = tb_submit_msg (job, "echo", NULL, 1, 1, false);
    cr_assert_eq (msg_set_uint (msg, field, value), 0);
    return msg;
}

//  SUBMIT msg and expect code (0: ACCEPTED of one tuple, id 1).
static void
s_expect (zsock_t *req, msg_t *msg, int code, const char *what)
{
    tb_send (req, msg);
    msg_t *reply = tb_recv (req, 5000);
    cr_assert_not_null (reply);
    if (code == 0)
        cr_assert_eq (msg_command (reply), MSG_ACCEPTED, "%s: %s", what,
                      msg_str (reply, MSG_F_REASON));
    else
        cr_assert (msg_command (reply) == MSG_ERROR
                   && msg_uint (reply, MSG_F_CODE) == (uint64_t) code,
                   "%s: got %s %s", what, msg_command_name (msg_command (reply)),
                   msg_command (reply) == MSG_ERROR
                   ? msg_error_name ((int) msg_uint (reply, MSG_F_CODE)): "");
    msg_destroy (&reply);
}

Test (broker, field_rules)
{
    tb_start (NULL);
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    s_expect (req, tb_submit_msg ("", "echo", NULL, 1, 1, false), DRV_E_BAD_TYPE,
              "an empty job name");
    const char *bad_sinks[] = {
        "", "nonsense", "tcp://*:5558", "tcp://127.0.0.1", "tcp://127.0.0.1:0",
        "tcp://127.0.0.1:65536", "tcp://:5558", "udp://127.0.0.1:5558",
        "tcp://127.0.0.1:55x", "tcp://bad host:1", "tcp://[::1:5558", "ipc://",
        "inproc://sink",
    };
    char job[32];
    for (size_t i = 0; i < sizeof bad_sinks / sizeof bad_sinks[0]; i++) {
        snprintf (job, sizeof job, "bad-sink-%zu", i);
        s_expect (req, s_with_str (job, MSG_F_SINK, bad_sinks[i]), DRV_E_BAD_TYPE,
                  bad_sinks[i]);
    }
    const char *good_sinks[] = {
        "tcp://localhost:5558", "tcp://10.0.0.7:1", "tcp://[::1]:65535",
        "tcp://sink-1.example.org:5558", "ipc:///run/drover/sink.sock",
    };
    for (size_t i = 0; i < sizeof good_sinks / sizeof good_sinks[0]; i++) {
        snprintf (job, sizeof job, "good-sink-%zu", i);
        s_expect (req, s_with_str (job, MSG_F_SINK, good_sinks[i]), 0, good_sinks[i]);
    }
    //  sink_key: 40 Z85 characters of a key.
    char key[41] = "", secret[41];
    cr_assert_eq (zmq_curve_keypair (key, secret), 0);
    s_expect (req, s_with_str ("key-good", MSG_F_SINK_KEY, key), 0, "a key");
    s_expect (req, s_with_str ("key-short", MSG_F_SINK_KEY, "short"), DRV_E_BAD_TYPE,
              "a short key");
    memset (key, '~', 40);
    s_expect (req, s_with_str ("key-z85", MSG_F_SINK_KEY, key), DRV_E_BAD_TYPE,
              "a key of characters Z85 lacks");
    //  max_attempts 1 .. 2^32-1; timeout_ms 0 .. 2^32-1.
    s_expect (req, s_with_uint ("att-0", MSG_F_MAX_ATTEMPTS, 0), DRV_E_BAD_TYPE, "0 attempts");
    s_expect (req, s_with_uint ("att-big", MSG_F_MAX_ATTEMPTS, 1ULL << 32), DRV_E_BAD_TYPE,
              "2^32 attempts");
    s_expect (req, s_with_uint ("att-max", MSG_F_MAX_ATTEMPTS, UINT32_MAX), 0, "2^32-1");
    s_expect (req, s_with_uint ("to-big", MSG_F_TIMEOUT_MS, 1ULL << 32), DRV_E_BAD_TYPE,
              "a timeout of 2^32 ms");
    s_expect (req, s_with_uint ("to-0", MSG_F_TIMEOUT_MS, 0), 0, "no deadline");
    //  batch: 1 to 255 bytes.
    s_expect (req, s_with_str ("batch-empty", MSG_F_BATCH, ""), DRV_E_BAD_TYPE, "batch \"\"");
    char batch[257];
    memset (batch, 'b', 256);
    batch[256] = 0;
    s_expect (req, s_with_str ("batch-long", MSG_F_BATCH, batch), DRV_E_TOO_LARGE,
              "a batch id of 256 bytes");
    batch[255] = 0;
    s_expect (req, s_with_str ("batch-255", MSG_F_BATCH, batch), 0, "255 bytes");
    //  Refused fields are refused on later SUBMITs to a job too.
    msg_t *later = s_with_uint ("att-max", MSG_F_MAX_ATTEMPTS, 0);
    s_expect (req, later, DRV_E_BAD_TYPE, "0 attempts to an existing job");

    //  timeout_ms 0 reaches agents as "no deadline", with the lease of
    //  the slack alone.
    zsock_t *agent = tb_agent ("a1", 100);
    msg_t *work = NULL;
    while ((work = tb_next_work (agent, 5000)) && strcmp (msg_str (work, MSG_F_JOB), "to-0"))
        msg_destroy (&work);
    cr_assert_not_null (work, "no WORK for job to-0");
    cr_assert (msg_has (work, MSG_F_TIMEOUT_MS));
    cr_assert_eq (msg_uint (work, MSG_F_TIMEOUT_MS), 0);
    cr_assert_eq (msg_uint (work, MSG_F_LEASE_MS), 5000);
    msg_destroy (&work);
}

Test (broker, a_job_name_is_never_reused)
{
    tb_start (NULL);
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    tb_send (req, tb_submit_msg ("once", "echo", NULL, 1, 1, true));
    tb_expect_accepted (req, 1, 1, NULL);
    zsock_t *agent = tb_agent ("a1", 10);
    tb_got_t got[2];
    cr_assert_eq (tb_collect (agent, 300, got, 2, NULL), 1);
    msg_ref_t ref = { got[0].id, got[0].attempt };
    tb_agent_send (agent, MSG_DONE, "once", &ref, 1, NULL, 0);
    cr_assert (SUPPORT_WAIT (tb_status_is (req, "once",
                                           (tb_counts_t) { "complete", 1, 0, 0, 1, 0 }), 5000));
    if (getenv ("DROVER_TEST_STORE") && !strcmp (getenv ("DROVER_TEST_STORE"), "memory"))
        return;                 //  nothing survives a restart there
    //  A complete job keeps its name across restarts: a new job of that
    //  name would number its tuples from 1 again, and the sink would drop
    //  their results as duplicates.
    tb_crash_and_restart ();
    req = tb_socket (ZMQ_REQ, tb_frontend ());
    cr_assert (tb_status_is (req, "once", (tb_counts_t) { "complete", 1, 0, 0, 1, 0 }));
    tb_send (req, tb_submit_msg ("once", "echo", NULL, 1, 1, false));
    tb_refused (req, DRV_E_JOB_CLOSED);
}

//  A SUBMIT creating job with options {"pad": bin of pad bytes} and count
//  tuples.
static msg_t *
s_with_options_n (const char *job, size_t pad, size_t count)
{
    size_t size = 1 + 4 + 5 + pad;
    unsigned char *options = malloc (size);
    memcpy (options, "\x81\xa3pad\xc6", 6);        //  {"pad": bin32 of pad bytes}
    options[6] = (unsigned char) (pad >> 24);
    options[7] = (unsigned char) (pad >> 16);
    options[8] = (unsigned char) (pad >> 8);
    options[9] = (unsigned char) pad;
    memset (options + 10, 'x', pad);
    msg_t *msg = tb_submit_msg (job, "echo", NULL, 1, count, false);
    cr_assert_eq (msg_set_raw (msg, MSG_F_OPTIONS, options, size), 0);
    free (options);
    return msg;
}

static msg_t *
s_with_options (const char *job, size_t pad)
{
    return s_with_options_n (job, pad, 1);
}

Test (broker, job_fields_leave_room_in_work)
{
    tb_start (NULL);
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    //  A SUBMIT header under 64 KiB, but every WORK of the job carries these
    //  options and 256 refs or more: over the limit, no agent could decode
    //  it, and the job's tuples would go round for ever.  So a job's fields
    //  take at most 60,000 bytes.
    s_expect (req, s_with_options ("too-rich", 65000), DRV_E_TOO_LARGE, "65000 bytes of options");
    s_expect (req, s_with_options ("too-rich", 60000), DRV_E_TOO_LARGE, "60000 bytes of options");
    s_expect (req, s_with_options ("rich", 59000), 0, "59000 bytes of options");
    zsock_t *agent = tb_agent ("a1", 300);
    msg_t *work = tb_next_work (agent, 5000);     //  asserts that it decodes
    cr_assert_not_null (work);
    size_t size = 0;
    cr_assert (msg_raw (work, MSG_F_OPTIONS, &size));
    cr_assert_geq (size, 59000);
    msg_destroy (&work);
}

//  The next count tuples' WORKs for agent, each of at least least and at
//  most most tuples (each decoded: its header fits).
static void
s_works_sized (zsock_t *agent, size_t count, size_t least, size_t most)
{
    for (size_t got = 0; got < count;) {
        msg_t *work = tb_next_work (agent, 5000);
        cr_assert_not_null (work, "%zu of %zu tuples came", got, count);
        size_t n = msg_tuple_count (work);
        got += n;
        cr_assert_leq (n, most);
        cr_assert (n >= least || got == count, "a WORK of %zu, %zu to go", n, count - got);
        msg_destroy (&work);
    }
}

//  A WORK carries as many tuples as a producer's batch (1,024) while every
//  job's fields leave room for that many refs in its header; once a job
//  with larger fields exists, as many as they leave room for, and never
//  fewer than 256.
Test (broker, work_batches_fit_the_largest_jobs_fields)
{
    tb_start (NULL);
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    tb_send (req, tb_submit_msg ("plain", "echo", NULL, 1, 2500, false));
    tb_expect_accepted (req, 1, 2500, NULL);
    zsock_t *agent = tb_agent ("a1", 100000);
    s_works_sized (agent, 2500, BROKER_WORK_BATCH_DEFAULT, BROKER_WORK_BATCH_DEFAULT);

    tb_send (req, s_with_options_n ("rich", 59000, 1000));
    tb_expect_accepted (req, 1, 1000, NULL);
    size_t fields = strlen ("rich") + strlen ("echo") + strlen (TB_SINK) + 10 + 59000;
    size_t room = broker_work_refs_room (fields);
    cr_assert (room >= BROKER_WORK_REFS_SURE && room < BROKER_WORK_BATCH_DEFAULT);
    s_works_sized (agent, 1000, room, room);
    tb_send (req, tb_submit_msg ("plain", NULL, NULL, 2501, 2000, false));
    tb_expect_accepted (req, 2501, 2000, NULL);
    s_works_sized (agent, 2000, room, room);
}
