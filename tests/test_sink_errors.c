//  test_sink_errors.c -- black-box tests of `drover sink` against bad input
//  (tests/support_sink.h): each malformed batch, wrong command or garbage
//  gets its ERROR code, writes nothing and leaves the sink working; a batch
//  that cannot be written is an error and is not remembered as stored.
#include "support.h"
#include "support_sink.h"

#include <criterion/criterion.h>

static rig_t *rig;
static void setup (void) { rig = rig_new (); rig_start (rig, NULL); }
static void teardown (void) { rig_destroy (&rig); }
TestSuite (sink_errors, .init = setup, .fini = teardown, .timeout = 60);

//  Each malformed batch gets its ERROR code and writes nothing.
Test (sink_errors, malformed_batches_get_errors_and_write_nothing)
{
    msg_ref_t refs[] = { { 1, 1 }, { 2, 1 } };
    struct {
        const char *what;
        const char *bytes;
        size_t size;
        int code;
    } raw[] = {
        { "not msgpack", "\xc1\xc1", 2, DRV_E_BAD_HEADER },
        { "truncated", "\x92\x81", 2, DRV_E_BAD_HEADER },
        { "not an array", "\x80", 1, DRV_E_BAD_HEADER },
        { "array of non-maps", "\x92\x01\x02", 3, DRV_E_BAD_HEADER },
        { "2^32 records declared", "\xdd\xff\xff\xff\xff", 5, DRV_E_BAD_HEADER },
    };
    for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++) {
        msg_t *reply = rig_send_raw (rig, "scan", refs, 2, raw[i].bytes, raw[i].size);
        cr_expect_eq (msg_command (reply), MSG_ERROR, "%s", raw[i].what);
        rig_expect_error (reply, raw[i].code);
        msg_destroy (&reply);
    }
    rig_batch_t batch;
    //  One record for two refs.
    rig_batch_begin (&batch, 1);
    rig_batch_record (&batch, 1, 1, true);
    msg_t *reply = rig_send_batch (rig, "scan", refs, 2, &batch);
    rig_expect_error (reply, DRV_E_BAD_HEADER);
    msg_destroy (&reply);
    //  Record 1 is tuple 3 where the header says 2.
    rig_batch_begin (&batch, 2);
    rig_batch_record (&batch, 1, 1, true);
    rig_batch_record (&batch, 3, 1, true);
    reply = rig_send_batch (rig, "scan", refs, 2, &batch);
    rig_expect_error (reply, DRV_E_BAD_HEADER);
    msg_destroy (&reply);
    //  A record without started_us (the first record is fine: all or nothing).
    rig_batch_begin (&batch, 2);
    rig_batch_record (&batch, 1, 1, true);
    msgpack_pack_map (&batch.packer, 4);
    rig_pack_str (&batch.packer, "tuple");       msgpack_pack_uint64 (&batch.packer, 2);
    rig_pack_str (&batch.packer, "attempt");     msgpack_pack_uint64 (&batch.packer, 1);
    rig_pack_str (&batch.packer, "status");      rig_pack_str (&batch.packer, "ok");
    rig_pack_str (&batch.packer, "duration_us"); msgpack_pack_uint64 (&batch.packer, 1);
    reply = rig_send_batch (rig, "scan", refs, 2, &batch);
    rig_expect_error (reply, DRV_E_MISSING_FIELD);
    msg_destroy (&reply);
    //  A status that is a number.
    rig_batch_begin (&batch, 1);
    msgpack_pack_map (&batch.packer, 5);
    rig_pack_str (&batch.packer, "tuple");       msgpack_pack_uint64 (&batch.packer, 1);
    rig_pack_str (&batch.packer, "attempt");     msgpack_pack_uint64 (&batch.packer, 1);
    rig_pack_str (&batch.packer, "status");      msgpack_pack_uint64 (&batch.packer, 0);
    rig_pack_str (&batch.packer, "started_us");  msgpack_pack_uint64 (&batch.packer, 1);
    rig_pack_str (&batch.packer, "duration_us"); msgpack_pack_uint64 (&batch.packer, 1);
    reply = rig_send_batch (rig, "scan", refs, 1, &batch);
    rig_expect_error (reply, DRV_E_BAD_TYPE);
    msg_destroy (&reply);

    cr_expect_eq (support_count_lines (rig->out_path), 0, "nothing of a bad batch is written");
    //  The rejected tuple 1 was not marked as stored: a good batch writes it.
    reply = rig_send_ok (rig, "scan", refs, 2);
    rig_expect_stored (reply, "scan", refs, 2);
    msg_destroy (&reply);
    cr_expect_eq (support_count_lines (rig->out_path), 2);
    cr_expect (SUPPORT_WAIT (rig_log_has (rig, "MISSING_FIELD"), 5000), "bad input is logged");
}

Test (sink_errors, wrong_command_and_garbage_get_errors)
{
    msg_t *submit = msg_new (MSG_SUBMIT);
    msg_set_str (submit, MSG_F_JOB, "scan");
    cr_assert_eq (wire_send (&submit, rig->agent, NULL), 0);
    msg_t *reply = NULL;
    cr_assert_eq (wire_recv (rig->agent, NULL, &reply), 0);
    rig_expect_error (reply, DRV_E_UNEXPECTED);
    msg_destroy (&reply);

    //  Not a drover message at all: the codec's code comes back.
    zstr_sendx (rig->agent, "hello", "world", NULL);
    cr_assert_eq (wire_recv (rig->agent, NULL, &reply), 0);
    rig_expect_error (reply, DRV_E_BAD_FRAMES);
    msg_destroy (&reply);
    //  A future version.
    zstr_sendx (rig->agent, "DRV9", "RESULT", "\x80", NULL);
    cr_assert_eq (wire_recv (rig->agent, NULL, &reply), 0);
    rig_expect_error (reply, DRV_E_BAD_VERSION);
    cr_expect_str_eq (msg_str (reply, MSG_F_REASON), "supported: 1 2");
    cr_expect_eq (msg_version (reply), 1, "a version we do not speak is answered in 1");
    msg_destroy (&reply);
    //  RESULT without its payload frame.
    zsock_send (rig->agent, "ssb", "DRV1", "RESULT", "\x80", (size_t) 1);
    cr_assert_eq (wire_recv (rig->agent, NULL, &reply), 0);
    rig_expect_error (reply, DRV_E_BAD_FRAMES);
    msg_destroy (&reply);
    //  RESULT whose header lacks tuples: {"job": "scan", "agent": "a"}.
    const char header[] = "\x82\xa3job\xa4scan\xa5" "agent\xa1" "a";
    zsock_send (rig->agent, "ssbb", "DRV1", "RESULT", header, sizeof header - 1, "\x90", (size_t) 1);
    cr_assert_eq (wire_recv (rig->agent, NULL, &reply), 0);
    rig_expect_error (reply, DRV_E_MISSING_FIELD);
    msg_destroy (&reply);

    //  The sink still works, for this agent and for a new one.
    msg_ref_t refs[] = { { 1, 1 } };
    reply = rig_send_ok (rig, "scan", refs, 1);
    rig_expect_stored (reply, "scan", refs, 1);
    msg_destroy (&reply);
    rig_connect (rig);
    msg_ref_t more[] = { { 2, 1 } };
    reply = rig_send_ok (rig, "scan", more, 1);
    rig_expect_stored (reply, "scan", more, 1);
    msg_destroy (&reply);
    cr_expect_eq (support_count_lines (rig->out_path), 2);
}

//  A batch that cannot be written is not acknowledged, and not remembered:
//  when the agent sends it again it is tried again, not dropped as stored.
Test (sink_errors, write_failure_is_an_error_and_forgotten)
{
    rig_spawn (rig, "--output", "/dev/full", "--store", "memory", NULL);
    msg_ref_t refs[] = { { 1, 1 }, { 2, 1 } };
    for (int i = 0; i < 2; i++) {
        msg_t *reply = rig_send_ok (rig, "full", refs, 2);
        rig_expect_error (reply, DRV_E_INTERNAL);
        msg_destroy (&reply);
    }
    cr_expect (rig_log_has (rig, "cannot write /dev/full: No space left on device"));
}
