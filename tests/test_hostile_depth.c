//  test_hostile_depth.c -- values nested deeper than any decoder takes,
//  against the real sink (issue 10 item 2, PROTOCOL.md 7): a result whose
//  output makes the batch nest over 32 containers is stored as a failed
//  result saying so, and acknowledged as dead (never refused: its agent would send it
//  again forever, as it once did after "out of memory"); one at the limit
//  is stored as sent.
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

Test (hostile_depth, too_deep_is_stored_as_a_dead_letter)
{
    rig_t *rig = rig_new ();
    rig_start (rig, NULL);
    msg_ref_t ref = { 1, 1 };
    msg_t *reply = s_send_deep (rig, ref, MSG_MAX_DEPTH);
    rig_expect_stored (reply, "deep", &ref, 1);
    cr_assert_not (msg_has (reply, MSG_F_DEAD));
    msg_destroy (&reply);

    //  A container too many, and the 100,000.
    size_t depths[] = { MSG_MAX_DEPTH + 1, 100000 };
    for (size_t i = 0; i < 2; i++) {
        ref.id = 2 + i;
        reply = s_send_deep (rig, ref, depths[i]);
        rig_expect_stored (reply, "deep", &ref, 1);
        size_t dead = 0;
        const msg_ref_t *refs = msg_refs (reply, MSG_F_DEAD, &dead);
        cr_assert (dead == 1 && refs[0].id == ref.id, "depth %zu: STORED lists it dead",
                   depths[i]);
        msg_destroy (&reply);
        //  Sent again, it is a duplicate of the dead letter.
        reply = s_send_deep (rig, ref, depths[i]);
        rig_expect_stored (reply, "deep", &ref, 1);
        cr_assert (msg_has (reply, MSG_F_DEAD));
        msg_destroy (&reply);
    }
    //  The sink goes on.
    ref.id = 4;
    reply = rig_send_ok (rig, "deep", &ref, 1);
    rig_expect_stored (reply, "deep", &ref, 1);
    msg_destroy (&reply);
    rig_lines_t *lines = rig_read_lines (rig);
    cr_assert_eq (lines->count, 4);
    rig_expect_str (lines, 0, "status", "ok");
    for (size_t i = 1; i <= 2; i++) {
        rig_expect_str (lines, i, "status", "failed");
        const msgpack_object *error = rig_get (lines, i, "error");
        cr_assert (error && error->type == MSGPACK_OBJECT_STR
                   && memmem (error->via.str.ptr, error->via.str.size, "nests over 30", 13),
                   "line %zu names the reason", i);
        cr_expect_null (rig_get (lines, i, "output"));
    }
    rig_free_lines (&lines);
    rig_destroy (&rig);
}
