//  test_per_tuple.c -- the per_tuple runs builder (producer/per_tuple.h):
//  consecutive tuples with one value become one run, a gap or another
//  value starts a new one, tuples with the job's settings are in no run,
//  and the map taken is what PROTOCOL.md 13.3 says and empties the builder.
#include "producer/per_tuple.h"
#include "proto/validate.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdio.h>
#include <string.h>

//  The map in buffer as JSON-like text: {"priority":[[1,2,9]],...}.
static void
s_text (const msgpack_sbuffer *buffer, char *text, size_t size)
{
    cr_assert_eq (validate_msgpack (buffer->data, buffer->size), VALIDATE_OK);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    cr_assert_eq (msgpack_unpack_next (&unpacked, buffer->data, buffer->size, NULL),
                  MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq (unpacked.data.type, MSGPACK_OBJECT_MAP);
    msgpack_object_print_buffer (text, size, unpacked.data);
    msgpack_unpacked_destroy (&unpacked);
}

Test (per_tuple, runs_join_consecutive_equal_values)
{
    per_tuple_t *pt = per_tuple_new ();
    cr_assert (pt);
    //  1: job's; 2-4 priority 9; 5: job's; 6 priority 9; 7 priority 2 and
    //  a time; 8 the same time.
    cr_assert_eq (per_tuple_add (pt, 2, 9, 0), 0);
    cr_assert_eq (per_tuple_add (pt, 3, 9, 0), 0);
    cr_assert_eq (per_tuple_add (pt, 4, 9, 0), 0);
    cr_assert_eq (per_tuple_add (pt, 6, 9, 0), 0);
    cr_assert_eq (per_tuple_add (pt, 7, 2, 1796288400000), 0);
    cr_assert_eq (per_tuple_add (pt, 8, -1, 1796288400000), 0);
    cr_expect_eq (per_tuple_runs (pt), 4, "priority [2,3,9] [6,1,9] [7,1,2]; not_before [7,2,t]");
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    cr_assert_eq (per_tuple_take (pt, &buffer), 0);
    char text[512];
    s_text (&buffer, text, sizeof text);
    cr_expect_str_eq (text, "{\"priority\"=>[[2, 3, 9], [6, 1, 9], [7, 1, 2]], "
                            "\"not_before\"=>[[7, 2, 1796288400000]]}");
    cr_expect_eq (per_tuple_runs (pt), 0, "taking the map forgets the runs");

    //  The next batch starts afresh, with only the keys it uses.
    cr_assert_eq (per_tuple_add (pt, 1, -1, 42), 0);
    cr_assert_eq (per_tuple_take (pt, &buffer), 0);
    s_text (&buffer, text, sizeof text);
    cr_expect_str_eq (text, "{\"not_before\"=>[[1, 1, 42]]}");
    msgpack_sbuffer_destroy (&buffer);
    per_tuple_destroy (&pt);
    cr_expect_null (pt);
    per_tuple_destroy (&pt);
}

Test (per_tuple, job_settings_make_no_run)
{
    per_tuple_t *pt = per_tuple_new ();
    for (size_t position = 1; position <= 1000; position++)
        cr_assert_eq (per_tuple_add (pt, position, -1, 0), 0);
    cr_expect_eq (per_tuple_runs (pt), 0);
    //  A time of its own for each tuple, the longest values there are, at
    //  positions past 65,535: a run each, as many as a batch may hold
    //  (the library sends the batch then), and the map leaves most of the
    //  64 KiB header for the job's fields.
    for (size_t i = 0; i < PER_TUPLE_RUNS_MAX; i++)
        cr_assert_eq (per_tuple_add (pt, 70000 + i, -1, 1796288400000 + i), 0);
    cr_expect_eq (per_tuple_runs (pt), PER_TUPLE_RUNS_MAX);
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    cr_assert_eq (per_tuple_take (pt, &buffer), 0);
    cr_expect_eq (validate_msgpack (buffer.data, buffer.size), VALIDATE_OK);
    cr_expect_lt (buffer.size, 48 * 1024, "%zu bytes", buffer.size);
    msgpack_sbuffer_destroy (&buffer);
    per_tuple_destroy (&pt);
}
