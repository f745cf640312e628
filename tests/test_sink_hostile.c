//  test_sink_hostile.c -- black-box tests of `drover sink` against RESULTs
//  built to make it allocate (issue 10 item 3): counts that the bytes
//  cannot hold, runs naming 65,536 tuples over a few bytes, the issue's 64
//  MiB of nils claiming 67 million records, a batch nested 100,000 deep,
//  and a frame over the sink's message size limit.  Each gets a clear
//  ERROR (or, over the limit, a dropped connection), is counted in
//  /metrics, leaves the sink's peak memory near the message's size, and
//  the sink goes on serving.
#include "support.h"
#include "support_http.h"
#include "support_sink.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB     (1024 * 1024)
#define LIMIT   (256 * MIB)         //  the sink's message size limit (PROTOCOL.md 7)

static rig_t *rig;
static int http_port;

static void
setup (void)
{
    rig = rig_new ();
    http_port = support_free_port ();
    char address[32];
    snprintf (address, sizeof address, "127.0.0.1:%d", http_port);
    rig_start (rig, "--store", "memory", "--http", address, NULL);
    rig->version = 2;
}

static void teardown (void) { rig_destroy (&rig); }
TestSuite (sink_hostile, .init = setup, .fini = teardown, .timeout = 120);

//  RESULT in version 2 for job "h" naming runs, with the payload bytes.
static msg_t *
s_send_runs (const msg_run_t *runs, size_t count, const void *data, size_t size)
{
    msg_t *msg = msg_new (MSG_RESULT);
    msg_set_version (msg, 2);
    msg_set_str (msg, MSG_F_JOB, "h");
    msg_set_str (msg, MSG_F_AGENT, "test-agent");
    cr_assert_eq (msg_set_runs (msg, MSG_F_TUPLES, runs, count), 0);
    zframe_t *frame = zframe_new (data, size);
    cr_assert_not_null (frame);
    msg_payload_append (msg, &frame);
    cr_assert_eq (wire_send (&msg, rig->agent, NULL), 0);
    msg_t *reply = NULL;
    cr_assert_eq (wire_recv (rig->agent, NULL, &reply), 0, "no reply from the sink");
    return reply;
}

static void
s_expect_error (msg_t *reply, int code, const char *reason)
{
    rig_expect_error (reply, code);
    cr_expect (strstr (msg_str (reply, MSG_F_REASON), reason), "reason: %s",
               msg_str (reply, MSG_F_REASON));
}

//  /metrics shows count messages refused with code.
static bool
s_counted (const char *code, int count)
{
    char *body = NULL;
    if (support_http_get (http_port, "/metrics", NULL, &body) != 200) {
        free (body);
        return false;
    }
    char line[128];
    snprintf (line, sizeof line,
              "drover_bad_messages_total{socket=\"sink\",code=\"%s\"} %d\n", code, count);
    bool found = strstr (body, line) != NULL;
    free (body);
    return found;
}

//  The sink still stores, and nothing of the hostile messages is written.
static void
s_expect_serving (uint64_t id)
{
    msg_ref_t ref = { id, 1 };
    msg_t *reply = rig_send_ok (rig, "h", &ref, 1);
    rig_expect_stored (reply, "h", &ref, 1);
    msg_destroy (&reply);
    cr_expect_eq (support_count_lines (rig->out_path), 1);
}

Test (sink_hostile, counts_are_checked_before_anything_is_allocated)
{
    long before = rig_peak_kib (rig);
    //  65,536 tuples named in one run, over a batch of 5 bytes that
    //  declares as many records.
    msg_run_t all = { 1, 65536, 1 };
    msg_t *reply = s_send_runs (&all, 1, "\xdd\x00\x01\x00\x00", 5);
    s_expect_error (reply, DRV_E_BAD_HEADER, "cannot hold 65536 records");
    msg_destroy (&reply);
    //  ... over a batch that declares 2^32 - 1.
    reply = s_send_runs (&all, 1, "\xdd\xff\xff\xff\xff", 5);
    s_expect_error (reply, DRV_E_BAD_HEADER, "4294967295 records for 65536 tuples");
    msg_destroy (&reply);
    //  ... over 65,536 records of 7 bytes each (a byte short of any record).
    size_t size = 5 + 65536 * 7;
    uint8_t *data = malloc (size);
    cr_assert_not_null (data);
    memcpy (data, "\xdd\x00\x01\x00\x00", 5);
    memset (data + 5, 0xc0, size - 5);
    reply = s_send_runs (&all, 1, data, size);
    s_expect_error (reply, DRV_E_BAD_HEADER, "cannot hold");
    msg_destroy (&reply);
    free (data);
    //  Runs naming more than 65,536 tuples in all (a header our codec
    //  would not make): {"job": "h", "agent": "a", "tuples": [[1, 65536,
    //  1], [70000, 1, 1]]}.
    const char header[] = "\x83\xa3job\xa1h\xa5" "agent\xa1" "a\xa6tuples\x92"
                          "\x93\x01\xce\x00\x01\x00\x00\x01\x93\xce\x00\x01\x11\x70\x01\x01";
    zsock_send (rig->agent, "ssbb", "DRV2", "RESULT", header, sizeof header - 1,
                "\x90", (size_t) 1);
    cr_assert_eq (wire_recv (rig->agent, NULL, &reply), 0);
    rig_expect_error (reply, DRV_E_TOO_LARGE);
    msg_destroy (&reply);
    cr_expect (SUPPORT_WAIT (s_counted ("BAD_HEADER", 3), 5000), "counted in /metrics");
    cr_expect (SUPPORT_WAIT (s_counted ("TOO_LARGE", 1), 5000), "counted in /metrics");
    long grown = rig_peak_kib (rig) - before;
    cr_expect_lt (grown, 16 * 1024, "peak memory grew by %ld KiB", grown);
    s_expect_serving (1);
}

//  The issue's message: 64 MiB of nils, claiming 67,108,859 records for
//  one tuple, once took the sink from 7 MB to 1.64 GB.
Test (sink_hostile, the_issues_64_mib_of_nils)
{
    long before = rig_peak_kib (rig);
    size_t size = 5 + 64 * MIB;
    uint8_t *data = malloc (size);
    cr_assert_not_null (data);
    memcpy (data, "\xdd\x03\xff\xff\xfb", 5);
    memset (data + 5, 0xc0, size - 5);
    msg_run_t one = { 1, 1, 1 };
    msg_t *reply = s_send_runs (&one, 1, data, size);
    free (data);
    s_expect_error (reply, DRV_E_BAD_HEADER, "67108859 records for 1 tuples");
    msg_destroy (&reply);
    cr_expect (SUPPORT_WAIT (s_counted ("BAD_HEADER", 1), 5000), "counted in /metrics");
    //  The message itself, once in libzmq's buffers: nothing per record.
    long grown = rig_peak_kib (rig) - before;
    cr_expect_lt (grown, 3 * 64 * 1024, "peak memory grew by %ld KiB", grown);
    s_expect_serving (1);
}

Test (sink_hostile, a_batch_nested_100000_deep)
{
    size_t size = 100001;
    uint8_t *data = malloc (size);
    cr_assert_not_null (data);
    memset (data, 0x91, size - 1);
    data[size - 1] = 0xc0;
    msg_run_t one = { 1, 1, 1 };
    msg_t *reply = s_send_runs (&one, 1, data, size);
    free (data);
    s_expect_error (reply, DRV_E_BAD_HEADER, "record 0 is not an array of 7");
    msg_destroy (&reply);
    cr_expect (SUPPORT_WAIT (s_counted ("BAD_HEADER", 1), 5000), "counted in /metrics");
    s_expect_serving (1);
}

//  A frame over the limit: libzmq drops the connection before it reads the
//  frame (nothing to answer), and the sink serves the next one.
Test (sink_hostile, over_the_message_size_limit)
{
    long before = rig_peak_kib (rig);
    size_t size = LIMIT + 1;
    uint8_t *data = calloc (1, size);
    cr_assert_not_null (data);
    msg_t *msg = msg_new (MSG_RESULT);
    msg_set_version (msg, 2);
    msg_set_str (msg, MSG_F_JOB, "h");
    msg_set_str (msg, MSG_F_AGENT, "test-agent");
    msg_run_t one = { 1, 1, 1 };
    cr_assert_eq (msg_set_runs (msg, MSG_F_TUPLES, &one, 1), 0);
    zframe_t *frame = zframe_new (data, size);
    free (data);
    msg_payload_append (msg, &frame);
    cr_assert_eq (wire_send (&msg, rig->agent, NULL), 0);
    zsock_set_rcvtimeo (rig->agent, 2000);
    msg_t *reply = NULL;
    cr_expect_neq (wire_recv (rig->agent, NULL, &reply), 0, "no answer over the limit");
    msg_destroy (&reply);
    long grown = rig_peak_kib (rig) - before;
    cr_expect_lt (grown, 64 * 1024, "peak memory grew by %ld KiB", grown);
    rig_connect (rig);
    s_expect_serving (1);
}
