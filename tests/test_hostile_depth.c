//  test_hostile_depth.c -- values nested deeper than msgpack-c decodes,
//  against the real sink (issue 10 item 2, PROTOCOL.md 7): a result batch
//  over 32 containers deep is malformed (BAD_HEADER, saying so), never
//  "out of memory" as it once was, and one at the limit is stored.
#include "support_sink.h"
#include "support.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

//  A batch of one ok record for ref whose output is nested so that the
//  whole batch is depth containers deep (the batch and the record are 2);
//  its bytes in *size_p (caller frees).
static uint8_t *
s_deep_batch (msg_ref_t ref, size_t depth, size_t *size_p)
{
    rig_batch_t batch;
    rig_batch_begin (&batch, 1);
    msgpack_packer *pk = &batch.packer;
    msgpack_pack_map (pk, 6);
    rig_pack_str (pk, "tuple");       msgpack_pack_uint64 (pk, ref.id);
    rig_pack_str (pk, "attempt");     msgpack_pack_uint32 (pk, ref.attempt);
    rig_pack_str (pk, "status");      rig_pack_str (pk, "ok");
    rig_pack_str (pk, "started_us");  msgpack_pack_uint64 (pk, 1700000000000000ULL);
    rig_pack_str (pk, "duration_us"); msgpack_pack_uint64 (pk, 5);
    rig_pack_str (pk, "output");
    for (size_t i = 2; i < depth; i++)
        msgpack_pack_array (pk, 1);
    msgpack_pack_nil (pk);
    *size_p = batch.buffer.size;
    return (uint8_t *) batch.buffer.data;
}

static msg_t *
s_send_deep (rig_t *rig, msg_ref_t ref, size_t depth)
{
    size_t size;
    uint8_t *data = s_deep_batch (ref, depth, &size);
    msg_t *reply = rig_send_raw (rig, "deep", &ref, 1, data, size);
    free (data);
    return reply;
}

Test (hostile_depth, the_sink_refuses_too_deep_and_stores_the_deepest)
{
    rig_t *rig = rig_new ();
    rig_start (rig, NULL);
    msg_ref_t ref = { 1, 1 };
    msg_t *reply = s_send_deep (rig, ref, MSG_MAX_DEPTH);
    rig_expect_stored (reply, "deep", &ref, 1);
    msg_destroy (&reply);

    ref.id = 2;
    size_t depths[] = { MSG_MAX_DEPTH + 1, 100000 };      //  the issue's: 100,000 deep
    for (size_t i = 0; i < 2; i++) {
        reply = s_send_deep (rig, ref, depths[i]);
        cr_assert_not_null (reply);
        cr_assert_eq (msg_command (reply), MSG_ERROR);
        cr_assert_eq (msg_uint (reply, MSG_F_CODE), DRV_E_BAD_HEADER,
                      "depth %zu: ERROR %s (%s)", depths[i],
                      msg_error_name ((int) msg_uint (reply, MSG_F_CODE)),
                      msg_str (reply, MSG_F_REASON));
        cr_assert (strstr (msg_str (reply, MSG_F_REASON), "nested"),
                   "reason: %s", msg_str (reply, MSG_F_REASON));
        msg_destroy (&reply);
    }
    //  The sink goes on, and only the deepest allowed is in its output.
    ref.id = 3;
    reply = rig_send_ok (rig, "deep", &ref, 1);
    rig_expect_stored (reply, "deep", &ref, 1);
    msg_destroy (&reply);
    cr_assert_eq (support_count_lines (rig->out_path), 2);
    rig_destroy (&rig);
}
