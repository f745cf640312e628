//  test_tuple_input.c -- unit tests of cli/tuple_input.c: JSON Lines and
//  msgpack streams from files and pipes, values across read boundaries,
//  errors with line numbers and byte offsets, and IDLE on a paused pipe.
#include "producer/tuple_input.h"
#include "support.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  A file under /tmp holding data, opened for reading.
static int
s_file_with (const void *data, size_t size)
{
    char path[] = "/tmp/drover-input-XXXXXX";
    int fd = mkstemp (path);
    cr_assert_geq (fd, 0);
    unlink (path);
    cr_assert_eq (write (fd, data, size), (ssize_t) size);
    lseek (fd, 0, SEEK_SET);
    return fd;
}

//  The next tuple as JSON-ish text for comparing: its msgpack bytes in hex.
static tuple_input_rc_t
s_next (tuple_input_t *input, msgpack_object *obj, msgpack_zone *zone)
{
    const void *data;
    size_t size;
    tuple_input_rc_t rc = tuple_input_next (input, -1, &data, &size);
    if (rc == TUPLE_INPUT_TUPLE) {
        size_t off = 0;
        cr_assert_eq (msgpack_unpack (data, size, &off, zone, obj), MSGPACK_UNPACK_SUCCESS);
        cr_assert_eq (off, size, "one value per tuple");
    }
    return rc;
}

Test (tuple_input, json_lines_from_a_file) {
    //  CRLF, blank lines, a last line without newline, a line far longer
    //  than one read.
    size_t big = 300000;
    char *text = malloc (big + 200);
    int n = sprintf (text, "[1, \"a\"]\r\n\n  \n{\"k\": true}\n[\"");
    memset (text + n, 'x', big);
    n += (int) big;
    n += sprintf (text + n, "\"]\n42");
    int fd = s_file_with (text, (size_t) n);
    free (text);
    tuple_input_t *input = tuple_input_new (fd, "t.jsonl", TUPLE_INPUT_JSON);
    msgpack_zone zone;
    msgpack_zone_init (&zone, 4096);
    msgpack_object obj;
    cr_assert_eq (s_next (input, &obj, &zone), TUPLE_INPUT_TUPLE);
    cr_expect (obj.type == MSGPACK_OBJECT_ARRAY && obj.via.array.size == 2);
    cr_assert_eq (s_next (input, &obj, &zone), TUPLE_INPUT_TUPLE);
    cr_expect_eq (obj.type, MSGPACK_OBJECT_MAP);
    cr_assert_eq (s_next (input, &obj, &zone), TUPLE_INPUT_TUPLE);
    cr_expect_eq (obj.via.array.ptr[0].via.str.size, big);
    cr_assert_eq (s_next (input, &obj, &zone), TUPLE_INPUT_TUPLE);
    cr_expect_eq (obj.via.u64, 42);
    cr_expect_eq (s_next (input, &obj, &zone), TUPLE_INPUT_END);
    cr_expect_eq (s_next (input, &obj, &zone), TUPLE_INPUT_END, "and stays at the end");
    msgpack_zone_destroy (&zone);
    tuple_input_destroy (&input);
    cr_expect_null (input);
    close (fd);
}

Test (tuple_input, json_errors_name_the_line) {
    const char *text = "[1]\n\n[2]\n[3,\n[4]\n";
    int fd = s_file_with (text, strlen (text));
    tuple_input_t *input = tuple_input_new (fd, "bad.jsonl", TUPLE_INPUT_JSON);
    const void *data;
    size_t size;
    cr_assert_eq (tuple_input_next (input, -1, &data, &size), TUPLE_INPUT_TUPLE);
    cr_assert_eq (tuple_input_next (input, -1, &data, &size), TUPLE_INPUT_TUPLE);
    cr_assert_eq (tuple_input_next (input, -1, &data, &size), TUPLE_INPUT_ERROR);
    cr_expect_str_eq (tuple_input_error (input),
                      "bad.jsonl line 4, column 4: expected a value, got end of input");
    cr_expect_eq (tuple_input_next (input, -1, &data, &size), TUPLE_INPUT_ERROR,
                  "nothing after an error");
    tuple_input_destroy (&input);
    close (fd);
    //  Empty input is no tuples, not an error.
    fd = s_file_with ("", 0);
    input = tuple_input_new (fd, "empty", TUPLE_INPUT_JSON);
    cr_expect_eq (tuple_input_next (input, -1, &data, &size), TUPLE_INPUT_END);
    tuple_input_destroy (&input);
    close (fd);
}

Test (tuple_input, idle_on_a_paused_pipe) {
    int fds[2];
    cr_assert_eq (pipe (fds), 0);
    tuple_input_t *input = tuple_input_new (fds[0], "stdin", TUPLE_INPUT_JSON);
    const void *data;
    size_t size;
    cr_assert_eq (write (fds[1], "[1]\n[2", 6), 6);
    cr_assert_eq (tuple_input_next (input, 50, &data, &size), TUPLE_INPUT_TUPLE);
    int64_t before = support_now_ms ();
    cr_expect_eq (tuple_input_next (input, 50, &data, &size), TUPLE_INPUT_IDLE,
                  "half a line, then nothing for 50 ms");
    cr_expect_geq (support_now_ms () - before, 45);
    cr_assert_eq (write (fds[1], "]\n", 2), 2);
    cr_assert_eq (tuple_input_next (input, 50, &data, &size), TUPLE_INPUT_TUPLE);
    cr_expect_eq (size, 2);
    cr_expect_eq (memcmp (data, "\x91\x02", 2), 0);
    close (fds[1]);
    cr_expect_eq (tuple_input_next (input, 50, &data, &size), TUPLE_INPUT_END);
    tuple_input_destroy (&input);
    close (fds[0]);
}

Test (tuple_input, msgpack_stream) {
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    for (int i = 0; i < 3000; i++) {
        msgpack_pack_array (&pk, 2);
        msgpack_pack_int (&pk, i);
        //  Values across the 64 KiB reads, and one bigger than a read.
        size_t blob = i == 1500? 200000: (size_t) (i % 50);
        char *bytes = calloc (1, blob + 1);
        msgpack_pack_bin_with_body (&pk, bytes, blob);
        free (bytes);
    }
    size_t good = buf.size;
    msgpack_sbuffer_write (&buf, "\xc1", 1);        //  never valid in msgpack
    int fd = s_file_with (buf.data, buf.size);
    tuple_input_t *input = tuple_input_new (fd, "t.msgpack", TUPLE_INPUT_MSGPACK);
    const void *data;
    size_t size, total = 0;
    for (int i = 0; i < 3000; i++) {
        cr_assert_eq (tuple_input_next (input, -1, &data, &size), TUPLE_INPUT_TUPLE, "%d", i);
        cr_assert_eq (memcmp (data, buf.data + total, size), 0, "byte for byte");
        total += size;
    }
    cr_expect_eq (total, good);
    cr_expect_eq (tuple_input_next (input, -1, &data, &size), TUPLE_INPUT_ERROR);
    char expected[128];
    snprintf (expected, sizeof expected, "t.msgpack byte %zu (tuple 3001): not a valid"
              " msgpack value (or nested deeper than 32)", good);
    cr_expect_str_eq (tuple_input_error (input), expected);
    tuple_input_destroy (&input);
    close (fd);
    msgpack_sbuffer_destroy (&buf);
}

Test (tuple_input, line_over_the_limit) {
    size_t size = TUPLE_INPUT_MAX_VALUE + 10;
    char *text = malloc (size);
    memset (text, ' ', size);
    text[0] = '[';
    int fd = s_file_with (text, size);
    free (text);
    tuple_input_t *input = tuple_input_new (fd, "huge", TUPLE_INPUT_JSON);
    const void *data;
    size_t got;
    cr_expect_eq (tuple_input_next (input, -1, &data, &got), TUPLE_INPUT_ERROR);
    cr_expect_str_eq (tuple_input_error (input), "huge byte 0: a line over 64 MiB");
    tuple_input_destroy (&input);
    close (fd);
}
