//  test_msg.c -- the message object (proto/msg.c): typed fields that only
//  the commands carrying them accept, getters that tell absent from zero,
//  setters that copy and refuse what the wire could not carry, tuple
//  references as runs (and refs made from them), tuples packed in one
//  buffer, the version, and the payload frames as a queue.  Nothing here
//  touches the wire; the codec is test_wire*.c's.
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
    cr_assert_eq (msg_set_refs (msg, MSG_F_TUPLES, s_refs, MSG_MAX_RUN_TUPLES + 1),
                  -DRV_E_TOO_LARGE);
    msg_destroy (&msg);

    cr_assert_null (msg_new (0));
    cr_assert_null (msg_new (MSG_COMMAND_MAX));
}

Test (msg, payload_queue)
{
    msg_t *msg = msg_new (MSG_RESULT);
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
    msg_t *msg = msg_new (MSG_RESULT);
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

Test (msg, version)
{
    msg_t *msg = msg_new (MSG_HELLO);
    cr_assert_eq (msg_version (msg), MSG_VERSION, "new messages speak the highest version");
    cr_assert_eq (msg_set_version (msg, 1), 0);
    cr_assert_eq (msg_version (msg), 1);
    cr_assert_eq (msg_set_version (msg, 0), -DRV_E_BAD_VERSION);
    cr_assert_eq (msg_set_version (msg, MSG_VERSION + 1), -DRV_E_BAD_VERSION);
    cr_assert_eq (msg_version (msg), 1, "a refused version changes nothing");
    msg_destroy (&msg);
}

Test (msg, refs_are_held_as_runs)
{
    msg_t *msg = msg_new (MSG_DONE);
    //  Consecutive ids at one attempt merge; a new attempt, a gap, a step
    //  back or a repeat starts a run.
    const msg_ref_t refs[] = { { 5, 1 }, { 6, 1 }, { 7, 1 }, { 8, 2 }, { 9, 2 }, { 11, 2 },
                               { 10, 2 }, { 10, 2 }, { UINT64_MAX, 3 }, { 0, 3 } };
    size_t count = sizeof refs / sizeof refs[0];
    cr_assert_eq (msg_set_refs (msg, MSG_F_TUPLES, refs, count), 0);
    size_t runs_count = 0;
    const msg_run_t *runs = msg_runs (msg, MSG_F_TUPLES, &runs_count);
    const msg_run_t want[] = { { 5, 3, 1 }, { 8, 2, 2 }, { 11, 1, 2 }, { 10, 1, 2 },
                               { 10, 1, 2 }, { UINT64_MAX, 1, 3 }, { 0, 1, 3 } };
    cr_assert_eq (runs_count, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < runs_count; i++)
        cr_assert (runs[i].first == want[i].first && runs[i].count == want[i].count
                   && runs[i].attempt == want[i].attempt, "run %zu", i);
    cr_assert_eq (msg_runs_total (msg, MSG_F_TUPLES), count);
    //  And back: exactly the refs set, in order.
    size_t back_count = 0;
    const msg_ref_t *back = msg_refs (msg, MSG_F_TUPLES, &back_count);
    cr_assert_eq (back_count, count);
    for (size_t i = 0; i < count; i++)
        cr_assert (back[i].id == refs[i].id && back[i].attempt == refs[i].attempt, "%zu", i);
    cr_assert_eq (msg_refs (msg, MSG_F_TUPLES, NULL), back, "expanded once, kept");
    //  Absent, and present but empty.
    cr_assert_null (msg_runs (msg, MSG_F_DEAD, &runs_count));
    cr_assert_eq (runs_count, 0);
    cr_assert_eq (msg_set_runs (msg, MSG_F_DEAD, NULL, 0), 0);
    cr_assert (msg_has (msg, MSG_F_DEAD));
    cr_assert_eq (msg_runs_total (msg, MSG_F_DEAD), 0);
    cr_assert_null (msg_refs (msg, MSG_F_DEAD, &back_count));
    cr_assert_eq (back_count, 0);
    msg_destroy (&msg);
}

Test (msg, runs_limits)
{
    msg_t *msg = msg_new (MSG_WORK);
    msg_run_t one = { 1, MSG_MAX_RUN_TUPLES, 1 };
    cr_assert_eq (msg_set_runs (msg, MSG_F_TUPLES, &one, 1), 0);
    cr_assert_eq (msg_runs_total (msg, MSG_F_TUPLES), MSG_MAX_RUN_TUPLES);
    one.count++;
    cr_assert_eq (msg_set_runs (msg, MSG_F_TUPLES, &one, 1), -DRV_E_TOO_LARGE);
    cr_assert_eq (msg_runs_total (msg, MSG_F_TUPLES), MSG_MAX_RUN_TUPLES, "kept");
    msg_run_t empty = { 1, 0, 1 };
    cr_assert_eq (msg_set_runs (msg, MSG_F_TUPLES, &empty, 1), -DRV_E_BAD_TYPE);
    msg_run_t wraps = { UINT64_MAX, 2, 1 };
    cr_assert_eq (msg_set_runs (msg, MSG_F_TUPLES, &wraps, 1), -DRV_E_BAD_TYPE);
    msg_run_t last = { UINT64_MAX - 1, 2, 1 };
    cr_assert_eq (msg_set_runs (msg, MSG_F_TUPLES, &last, 1), 0);
    msg_run_t *many = calloc (MSG_MAX_RUNS + 1, sizeof *many);
    for (size_t i = 0; i <= MSG_MAX_RUNS; i++)
        many[i] = (msg_run_t) { 2 * i, 1, 1 };
    cr_assert_eq (msg_set_runs (msg, MSG_F_TUPLES, many, MSG_MAX_RUNS), 0);
    cr_assert_eq (msg_set_runs (msg, MSG_F_TUPLES, many, MSG_MAX_RUNS + 1), -DRV_E_TOO_LARGE);
    //  Refs that make too many runs.
    msg_ref_t *refs = calloc (MSG_MAX_RUNS + 1, sizeof *refs);
    for (size_t i = 0; i <= MSG_MAX_RUNS; i++)
        refs[i] = (msg_ref_t) { 2 * i, 1 };
    cr_assert_eq (msg_set_refs (msg, MSG_F_TUPLES, refs, MSG_MAX_RUNS + 1), -DRV_E_TOO_LARGE);
    free (refs);
    //  Adopted: no copy, and freed whatever the result.
    cr_assert_eq (msg_adopt_runs (msg, MSG_F_TUPLES, &many, MSG_MAX_RUNS + 1),
                  -DRV_E_TOO_LARGE);
    cr_assert_null (many);
    many = malloc (2 * sizeof *many);
    many[0] = (msg_run_t) { 1, 2, 1 };
    many[1] = (msg_run_t) { 3, 2, 2 };
    msg_run_t *adopted = many;
    cr_assert_eq (msg_adopt_runs (msg, MSG_F_TUPLES, &many, 2), 0);
    cr_assert_null (many);
    cr_assert_eq (msg_runs (msg, MSG_F_TUPLES, NULL), adopted);
    cr_assert_eq (msg_runs_total (msg, MSG_F_TUPLES), 4);
    many = malloc (sizeof *many);
    cr_assert_eq (msg_adopt_runs (msg, MSG_F_JOB, &many, 1), -DRV_E_BAD_TYPE);
    cr_assert_null (many);
    msg_destroy (&msg);
}

Test (msg, tuples_packed_in_one_buffer)
{
    msg_t *msg = msg_new (MSG_SUBMIT);
    cr_assert_eq (msg_tuple_count (msg), 0);
    size_t size = 99;
    cr_assert_null (msg_tuples_packed (msg, &size));
    cr_assert_eq (size, 0);
    cr_assert_null (msg_tuples_pop (msg));
    cr_assert_eq (msg_tuples_reserve (msg, 2, 3), 0);
    cr_assert_eq (msg_add_tuple (msg, "\x01", 1), 0);
    cr_assert_eq (msg_add_tuple (msg, "\x92\x02\x03", 3), 0);
    //  A frame appended to SUBMIT is a tuple too (a copy).
    zframe_t *frame = zframe_new ("\xa1x", 2);
    msg_payload_append (msg, &frame);
    cr_assert_null (frame);
    cr_assert_eq (msg_payload_count (msg), 0);
    cr_assert_eq (msg_tuple_count (msg), 3);
    cr_assert_not (msg_tuples_walked (msg), "added tuples are not checked");
    const uint8_t *tuple = msg_tuple (msg, 1, &size);
    cr_assert (size == 3 && memcmp (tuple, "\x92\x02\x03", 3) == 0);
    const uint8_t *packed = msg_tuples_packed (msg, &size);
    cr_assert (size == 6 && memcmp (packed, "\x01\x92\x02\x03\xa1x", 6) == 0);
    cr_assert_eq (msg_tuple (msg, 0, NULL), packed, "tuples point into the buffer");
    cr_assert_null (msg_tuple (msg, 3, &size));
    cr_assert_eq (size, 0);
    //  Popped as one frame, leaving none.
    frame = msg_tuples_pop (msg);
    cr_assert (zframe_size (frame) == 6 && memcmp (zframe_data (frame), packed, 6) == 0);
    cr_assert_eq (msg_tuple_count (msg), 0);
    //  Set from that frame: walked, kept without a copy.
    const void *data = zframe_data (frame);
    cr_assert_eq (msg_set_tuples (msg, &frame, 3), 0);
    cr_assert_null (frame);
    cr_assert_eq (msg_tuples_packed (msg, NULL), data);
    cr_assert_eq (msg_tuple_count (msg), 3);
    cr_assert (msg_tuples_walked (msg), "a set frame's tuples were walked");
    msg_tuple (msg, 2, &size);
    cr_assert_eq (size, 2);
    //  Appending after copies the frame's bytes out first.
    cr_assert_eq (msg_add_tuple (msg, "\xc0", 1), 0);
    cr_assert_eq (msg_tuple_count (msg), 4);
    cr_assert_not (msg_tuples_walked (msg), "one added since: not all were walked");
    tuple = msg_tuple (msg, 3, &size);
    cr_assert (size == 1 && tuple[0] == 0xc0);
    tuple = msg_tuple (msg, 1, &size);
    cr_assert (size == 3 && tuple[0] == 0x92);
    frame = msg_tuples_pop (msg);
    cr_assert_eq (zframe_size (frame), 7);
    zframe_destroy (&frame);
    msg_destroy (&msg);

    //  Commands without tuples refuse them.
    msg = msg_new (MSG_RESULT);
    cr_assert_eq (msg_add_tuple (msg, "\x01", 1), -DRV_E_BAD_TYPE);
    cr_assert_eq (msg_tuples_reserve (msg, 1, 1), -DRV_E_BAD_TYPE);
    frame = zframe_new ("\x01", 1);
    cr_assert_eq (msg_set_tuples (msg, &frame, 1), -DRV_E_BAD_TYPE);
    cr_assert_null (frame);
    cr_assert_eq (msg_tuple_count (msg), 0);
    msg_destroy (&msg);
}

Test (msg, set_tuples_checks_the_packed_frame)
{
    static const struct {
        const char *bytes;
        size_t size, count;
        int rc;
    } cases[] = {
        { "\x01\x02\x03", 3, 3, 0 },
        { "\x01\x02\x03", 3, 2, -DRV_E_BAD_FRAMES },        //  one value too many
        { "\x01\x02\x03", 3, 4, -DRV_E_BAD_FRAMES },        //  frame smaller than count
        { "\x92\x01\x02\x03", 4, 3, -DRV_E_BAD_FRAMES },   //  values run together
        { "\x01\x92\x01", 3, 2, -DRV_E_BAD_TUPLE },         //  the last one cut short
        { "\x01\xc1", 2, 2, -DRV_E_BAD_TUPLE },              //  no such type
        { "\x01", 1, 0, -DRV_E_BAD_FRAMES },                  //  a frame for no tuples
        { "\xdd\xff\xff\xff\xff", 5, 1, -DRV_E_BAD_TUPLE }, //  claims 2^32 items
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        msg_t *msg = msg_new (MSG_WORK);
        zframe_t *frame = zframe_new (cases[i].bytes, cases[i].size);
        cr_assert_eq (msg_set_tuples (msg, &frame, cases[i].count), cases[i].rc,
                      "case %zu", i);
        cr_assert_null (frame, "taken whatever the result");
        cr_assert_eq (msg_tuple_count (msg), cases[i].rc? 0: cases[i].count);
        msg_destroy (&msg);
    }
    //  Nested deeper than MSG_MAX_DEPTH: refused like any malformed value.
    uint8_t deep[MSG_MAX_DEPTH + 2];
    memset (deep, 0x91, sizeof deep);
    deep[sizeof deep - 1] = 0x01;
    msg_t *msg = msg_new (MSG_WORK);
    zframe_t *frame = zframe_new (deep, sizeof deep);
    cr_assert_eq (msg_set_tuples (msg, &frame, 1), -DRV_E_BAD_TUPLE);
    frame = NULL;
    cr_assert_eq (msg_set_tuples (msg, &frame, 0), 0, "no frame, no tuples");
    cr_assert_eq (msg_set_tuples (msg, &frame, MSG_MAX_TUPLES + 1), -DRV_E_TOO_LARGE);
    msg_destroy (&msg);
}
