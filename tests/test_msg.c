//  test_msg.c -- the message object (proto/msg.c): typed fields that only
//  the commands carrying them accept, getters that tell absent from zero,
//  setters that copy and refuse what the wire could not carry, and the
//  payload frames as a queue.  Nothing here touches bytes; the codec is
//  test_wire*.c's.
#include "proto/msg.h"

#include <criterion/criterion.h>
#include <string.h>

static const msg_ref_t s_refs[3] = { { 1, 1 }, { 300, 2 }, { 5000000000ULL, UINT32_MAX } };
static const uint8_t s_options[] = { 0x81, 0xa4, 'p', 'o', 'r', 't', 0xcd, 0x01, 0xbb };

//  Set field with the setter of type; its return.
static int
s_set_as (msg_t *msg, msg_field_t field, schema_type_t type)
{
    switch (type) {
        case SCHEMA_STR:  return msg_set_str (msg, field, "x");
        case SCHEMA_UINT: return msg_set_uint (msg, field, 1);
        case SCHEMA_BOOL: return msg_set_bool (msg, field, true);
        case SCHEMA_MAP:  return msg_set_raw (msg, field, s_options, sizeof s_options);
        case SCHEMA_REFS: return msg_set_refs (msg, field, s_refs, 1);
    }
    return -1;
}

Test (msg, fields_only_on_commands_that_carry_them)
{
    for (int command = MSG_SUBMIT; command < MSG_COMMAND_MAX; command++) {
        msg_t *msg = msg_new ((msg_command_t) command);
        cr_assert_not_null (msg);
        cr_assert_eq ((int) msg_command (msg), command);
        schema_fields_t accepts = schema_accepts ((msg_command_t) command);
        for (int f = 0; f < MSG_F_MAX; f++) {
            msg_field_t field = (msg_field_t) f;
            schema_type_t own = schema_field_type (field);
            for (int type = SCHEMA_STR; type <= SCHEMA_REFS; type++) {
                bool ok = (accepts & SCHEMA_FIELD (field)) && type == (int) own;
                cr_assert_eq (s_set_as (msg, field, (schema_type_t) type),
                              ok? 0: -DRV_E_BAD_TYPE, "%s.%s as type %d",
                              msg_command_name ((msg_command_t) command),
                              schema_field_name (field), type);
            }
            cr_assert_eq (msg_has (msg, field), (accepts & SCHEMA_FIELD (field)) != 0);
        }
        msg_destroy (&msg);
        cr_assert_null (msg);
    }
}

Test (msg, getters_on_absent_and_mismatched_fields)
{
    msg_t *msg = msg_new (MSG_SUBMIT);
    size_t size = 99;
    cr_assert_not (msg_has (msg, MSG_F_JOB));
    cr_assert_null (msg_str (msg, MSG_F_JOB));
    cr_assert_eq (msg_uint (msg, MSG_F_MAX_ATTEMPTS), 0);
    cr_assert_not (msg_bool (msg, MSG_F_CLOSE));
    cr_assert_null (msg_raw (msg, MSG_F_OPTIONS, &size));
    cr_assert_eq (size, 0);
    size = 99;
    cr_assert_null (msg_refs (msg, MSG_F_TUPLES, &size));
    cr_assert_eq (size, 0);
    cr_assert_eq (msg_payload_count (msg), 0);
    cr_assert_null (msg_payload (msg, 0));
    cr_assert_null (msg_payload_pop (msg));
    cr_assert_not (msg_has (msg, MSG_F_MAX));

    //  Present, but asked for as another type.
    cr_assert_eq (msg_set_str (msg, MSG_F_JOB, "j"), 0);
    cr_assert_eq (msg_set_uint (msg, MSG_F_TIMEOUT_MS, 0), 0);
    cr_assert (msg_has (msg, MSG_F_TIMEOUT_MS), "has tells absent from zero");
    cr_assert_eq (msg_uint (msg, MSG_F_JOB), 0);
    cr_assert_null (msg_str (msg, MSG_F_TIMEOUT_MS));
    cr_assert_not (msg_bool (msg, MSG_F_JOB));
    cr_assert_null (msg_raw (msg, MSG_F_JOB, NULL));
    cr_assert_null (msg_refs (msg, MSG_F_JOB, NULL));

    //  Setting NULL unsets; setting again replaces.
    cr_assert_eq (msg_set_str (msg, MSG_F_JOB, "a"), 0);
    cr_assert_eq (msg_set_str (msg, MSG_F_JOB, "b"), 0);
    cr_assert_str_eq (msg_str (msg, MSG_F_JOB), "b");
    cr_assert_eq (msg_set_str (msg, MSG_F_JOB, NULL), 0);
    cr_assert_not (msg_has (msg, MSG_F_JOB));
    msg_destroy (&msg);
    msg_destroy (&msg);     //  NULL after the first: harmless
}

Test (msg, setters_reject_wrong_type)
{
    msg_t *msg = msg_new (MSG_SUBMIT);
    cr_assert_eq (msg_set_str (msg, MSG_F_MAX_ATTEMPTS, "3"), -DRV_E_BAD_TYPE);
    cr_assert_eq (msg_set_uint (msg, MSG_F_JOB, 3), -DRV_E_BAD_TYPE);
    cr_assert_eq (msg_set_bool (msg, MSG_F_JOB, true), -DRV_E_BAD_TYPE);
    cr_assert_eq (msg_set_raw (msg, MSG_F_JOB, s_options, sizeof s_options), -DRV_E_BAD_TYPE);
    cr_assert_eq (msg_set_refs (msg, MSG_F_JOB, s_refs, 1), -DRV_E_BAD_TYPE);
    cr_assert_eq (msg_set_uint (msg, MSG_F_MAX, 3), -DRV_E_BAD_TYPE);
    cr_assert_eq (msg_set_uint (msg, (msg_field_t) -1, 3), -DRV_E_BAD_TYPE);
    //  options must be one whole msgpack map.
    const uint8_t array[] = { 0x91, 0x01 };
    const uint8_t trailing[] = { 0x80, 0x01 };
    const uint8_t truncated[] = { 0x81, 0xa1 };
    cr_assert_eq (msg_set_raw (msg, MSG_F_OPTIONS, array, sizeof array), -DRV_E_BAD_TYPE);
    cr_assert_eq (msg_set_raw (msg, MSG_F_OPTIONS, trailing, 2), -DRV_E_BAD_TYPE);
    cr_assert_eq (msg_set_raw (msg, MSG_F_OPTIONS, truncated, 2), -DRV_E_BAD_TYPE);
    cr_assert_eq (msg_set_raw (msg, MSG_F_OPTIONS, s_options, 0), -DRV_E_BAD_TYPE);
    cr_assert_not (msg_has (msg, MSG_F_OPTIONS));
    cr_assert_eq (msg_set_raw (msg, MSG_F_OPTIONS, trailing, 1), 0);
    msg_destroy (&msg);

    msg = msg_new (MSG_DONE);
    cr_assert_eq (msg_set_refs (msg, MSG_F_TUPLES, NULL, 0), 0);
    cr_assert (msg_has (msg, MSG_F_TUPLES), "an empty refs array is present");
    cr_assert_eq (msg_set_refs (msg, MSG_F_TUPLES, s_refs, MSG_MAX_REFS + 1), -DRV_E_TOO_LARGE);
    msg_destroy (&msg);

    cr_assert_null (msg_new (0));
    cr_assert_null (msg_new (MSG_COMMAND_MAX));
}

Test (msg, payload_queue)
{
    msg_t *msg = msg_new (MSG_SUBMIT);
    zframe_t *frame = NULL;
    msg_payload_append (msg, &frame);   //  NULL frame: nothing
    cr_assert_eq (msg_payload_count (msg), 0);
    //  Interleave appends and pops past the initial capacity.
    size_t next_in = 0, next_out = 0;
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 7; i++) {
            frame = zframe_new (&next_in, sizeof next_in);
            next_in++;
            msg_payload_append (msg, &frame);
        }
        for (int i = 0; i < 3; i++) {
            frame = msg_payload_pop (msg);
            cr_assert (memcmp (zframe_data (frame), &next_out, sizeof next_out) == 0);
            next_out++;
            zframe_destroy (&frame);
        }
        cr_assert_eq (msg_payload_count (msg), next_in - next_out);
        size_t first;
        memcpy (&first, zframe_data (msg_payload (msg, 0)), sizeof first);
        cr_assert_eq (first, next_out);
    }
    msg_destroy (&msg);
}

Test (msg, str_from_bytes)
{
    msg_t *msg = msg_new (MSG_STATUS);
    cr_assert_eq (msg_set_strn (msg, MSG_F_JOB, "scanner", 4), 0);
    cr_assert_str_eq (msg_str (msg, MSG_F_JOB), "scan");
    cr_assert_eq (msg_set_strn (msg, MSG_F_JOB, "", 0), 0);
    cr_assert (msg_has (msg, MSG_F_JOB), "an empty str is present");
    cr_assert_str_eq (msg_str (msg, MSG_F_JOB), "");
    //  A NUL cannot be in a C string: refused, and the old value kept.
    cr_assert_eq (msg_set_strn (msg, MSG_F_JOB, "a\0b", 3), -DRV_E_BAD_TYPE);
    cr_assert_str_eq (msg_str (msg, MSG_F_JOB), "");
    cr_assert_eq (msg_set_strn (msg, MSG_F_SLOTS, "1", 1), -DRV_E_BAD_TYPE);
    msg_destroy (&msg);
}

Test (msg, user_id)
{
    msg_t *msg = msg_new (MSG_HELLO);
    cr_assert_str_eq (msg_user_id (msg), "", "none until the codec sets one");
    msg_set_user_id (msg, "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7");
    cr_assert_str_eq (msg_user_id (msg), "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7");
    char long_id[100];
    memset (long_id, 'k', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = 0;
    msg_set_user_id (msg, long_id);
    cr_assert_eq (strlen (msg_user_id (msg)), 63, "kept to 63 bytes");
    msg_set_user_id (msg, NULL);
    cr_assert_str_eq (msg_user_id (msg), "");
    msg_destroy (&msg);
}

Test (msg, payload_reserve)
{
    msg_t *msg = msg_new (MSG_SUBMIT);
    cr_assert_eq (msg_payload_reserve (msg, 1000), 0);
    for (size_t i = 0; i < 1000; i++) {
        zframe_t *frame = zframe_new (&i, sizeof i);
        msg_payload_append (msg, &frame);
        cr_assert_null (frame);
    }
    cr_assert_eq (msg_payload_count (msg), 1000);
    zframe_t *frame = msg_payload_pop (msg);
    size_t first;
    memcpy (&first, zframe_data (frame), sizeof first);
    cr_assert_eq (first, 0);
    zframe_destroy (&frame);
    cr_assert_eq (msg_payload_reserve (msg, 0), 0);
    cr_assert_eq (msg_payload_count (msg), 999);
    msg_destroy (&msg);
}
