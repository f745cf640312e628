//  test_output.c -- unit tests of the sink's JSON Lines writer
//  (sink/output.c): exact lines for ok and failed results, a batch written
//  only at commit, discard, and a failed write that leaves nothing behind.
#include <criterion/criterion.h>

#include "sink/output.h"
#include "support.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static char *dir;
static char path[512];

static void
setup (void)
{
    dir = support_tmpdir ();
    cr_assert_not_null (dir);
    snprintf (path, sizeof path, "%s/out.jsonl", dir);
}

static void
teardown (void)
{
    support_rmdir (&dir);
}

TestSuite (output, .init = setup, .fini = teardown);

//  A value from its msgpack bytes, given as a string literal.
#define VALUE(bytes) ((result_value_t) { (const uint8_t *) (bytes), sizeof (bytes) - 1 })

Test (output, lines_for_ok_and_failed)
{
    output_t *output = output_new (path, false);
    cr_assert_not_null (output);
    cr_expect_str_eq (output_path (output), path);
    result_record_t ok = { .tuple = 1, .attempt = 1, .status = RESULT_OK,
                           .started_us = 1700000000000001, .duration_us = 0,
                           .input = VALUE ("\xcd\x01\xbb"), .output = VALUE ("\xa4open") };
    result_record_t failed = { .tuple = 18446744073709551615ULL, .attempt = 3,
                               .status = RESULT_FAILED, .started_us = 5, .duration_us = 77,
                               .error = VALUE ("\xb5timed out \"after\" 5 s") };
    cr_assert_eq (output_begin (output, "scan \"7\"", "agent-1"), 0);
    cr_assert_eq (output_add (output, &ok), 0);
    cr_assert_eq (output_add (output, &failed), 0);
    cr_expect_eq (output_pending (output), 2);
    cr_expect_eq (support_count_lines (path), 0, "nothing written before commit");
    cr_assert_eq (output_commit (output), 0);
    cr_expect_eq (output_pending (output), 0);
    cr_expect_eq (output_records (output), 2);
    char *text = support_slurp (path);
    cr_assert_not_null (text);
    const char *expected =
        "{\"job\":\"scan \\\"7\\\"\",\"tuple\":1,\"attempt\":1,\"agent\":\"agent-1\","
        "\"status\":\"ok\",\"started_us\":1700000000000001,\"duration_us\":0,"
        "\"input\":443,\"output\":\"open\"}\n"
        "{\"job\":\"scan \\\"7\\\"\",\"tuple\":18446744073709551615,\"attempt\":3,"
        "\"agent\":\"agent-1\",\"status\":\"failed\",\"started_us\":5,\"duration_us\":77,"
        "\"input\":null,\"error\":\"timed out \\\"after\\\" 5 s\"}\n";
    cr_expect_str_eq (text, expected);
    cr_expect_eq (output_bytes (output), strlen (expected));
    free (text);
    output_destroy (&output);
    cr_expect_null (output);
}

Test (output, dead_letter_keeps_partial_output)
{
    output_t *output = output_new (path, false);
    cr_assert_not_null (output);
    result_value_t out = VALUE ("\x92\xa1" "a" "\xa1" "b");
    result_value_t error = VALUE ("\xb7worker died (signal 11)");
    result_record_t failed = { .tuple = 4, .attempt = 3, .status = RESULT_FAILED,
                               .error = error, .partial = true, .output = out };
    //  Without partial, an output on a failed record is not written.
    result_record_t plain = { .tuple = 5, .attempt = 3, .status = RESULT_FAILED,
                              .error = error, .output = out };
    cr_assert_eq (output_begin (output, "j", "a1"), 0);
    cr_assert_eq (output_add (output, &failed), 0);
    cr_assert_eq (output_add (output, &plain), 0);
    cr_assert_eq (output_commit (output), 0);
    char *text = support_slurp (path);
    cr_assert_not_null (text);
    cr_expect_str_eq (text,
        "{\"job\":\"j\",\"tuple\":4,\"attempt\":3,\"agent\":\"a1\",\"status\":\"failed\","
        "\"started_us\":0,\"duration_us\":0,\"input\":null,"
        "\"error\":\"worker died (signal 11)\",\"partial\":true,\"output\":[\"a\",\"b\"]}\n"
        "{\"job\":\"j\",\"tuple\":5,\"attempt\":3,\"agent\":\"a1\",\"status\":\"failed\","
        "\"started_us\":0,\"duration_us\":0,\"input\":null,"
        "\"error\":\"worker died (signal 11)\"}\n");
    free (text);
    output_destroy (&output);
}

Test (output, appends_and_discards)
{
    FILE *file = fopen (path, "w");
    fputs ("{\"earlier\":true}\n", file);
    fclose (file);
    output_t *output = output_new (path, true);
    cr_assert_not_null (output);
    result_record_t record = { .tuple = 9, .attempt = 1, .status = RESULT_OK };
    cr_assert_eq (output_commit (output), 0, "an empty commit is fine");
    output_begin (output, "j", "a");
    output_add (output, &record);
    output_discard (output);
    cr_expect_eq (output_pending (output), 0);
    cr_assert_eq (output_commit (output), 0);
    cr_expect_eq (support_count_lines (path), 1, "discarded lines never land");
    output_begin (output, "j", "a");
    output_add (output, &record);
    cr_assert_eq (output_commit (output), 0);
    //  A new batch drops what an earlier begin left uncommitted.
    output_begin (output, "j", "a");
    output_add (output, &record);
    output_begin (output, "k", "b");
    record.tuple = 10;
    output_add (output, &record);
    cr_assert_eq (output_commit (output), 0);
    output_destroy (&output);
    char *text = support_slurp (path);
    cr_expect_str_eq (text,
        "{\"earlier\":true}\n"
        "{\"job\":\"j\",\"tuple\":9,\"attempt\":1,\"agent\":\"a\",\"status\":\"ok\","
        "\"started_us\":0,\"duration_us\":0,\"input\":null,\"output\":null}\n"
        "{\"job\":\"k\",\"tuple\":10,\"attempt\":1,\"agent\":\"b\",\"status\":\"ok\","
        "\"started_us\":0,\"duration_us\":0,\"input\":null,\"output\":null}\n");
    free (text);
}

Test (output, failed_write_is_reported)
{
    output_t *output = output_new ("/dev/full", false);
    cr_assert_not_null (output);
    result_record_t record = { .tuple = 1, .attempt = 1, .status = RESULT_OK };
    output_begin (output, "j", "a");
    output_add (output, &record);
    cr_expect_eq (output_commit (output), -ENOSPC);
    cr_expect_eq (output_records (output), 0);
    cr_expect_eq (output_pending (output), 0);
    output_destroy (&output);
}

Test (output, cannot_open)
{
    char missing[600];
    snprintf (missing, sizeof missing, "%s/no/such/dir/out.jsonl", dir);
    errno = 0;
    cr_expect_null (output_new (missing, false));
    cr_expect_eq (errno, ENOENT);
}

Test (output, big_batch_in_one_commit)
{
    output_t *output = output_new (path, false);
    output_begin (output, "big", "a");
    result_value_t out = VALUE ("\xd9\x30" "a result of moderate length, repeated many times");
    for (uint64_t id = 1; id <= 50000; id++) {
        result_record_t record = { .tuple = id, .attempt = 1, .status = RESULT_OK, .output = out };
        cr_assert_eq (output_add (output, &record), 0);
    }
    cr_assert_eq (output_commit (output), 0);
    cr_expect_eq (support_count_lines (path), 50000);
    cr_expect_eq (output_records (output), 50000);
    output_destroy (&output);
}

Test (output, every_status_by_name)
{
    output_t *output = output_new (path, false);
    cr_assert_not_null (output);
    cr_assert_eq (output_begin (output, "j", "a"), 0);
    for (int status = 0; status < RESULT_STATUSES; status++) {
        result_record_t record = { .tuple = (uint64_t) status + 1, .attempt = 1,
                                   .status = (uint8_t) status };
        cr_assert_eq (output_add (output, &record), 0);
    }
    cr_assert_eq (output_commit (output), 0);
    char *text = support_slurp (path);
    cr_assert_not_null (text);
    const char *names[] = { "ok", "failed", "excluded", "cancelled", "aborted", "skipped" };
    const char *line = text;
    for (int status = 0; status < RESULT_STATUSES; status++) {
        char want[160];
        snprintf (want, sizeof want, "{\"job\":\"j\",\"tuple\":%d,\"attempt\":1,"
                  "\"agent\":\"a\",\"status\":\"%s\",\"started_us\":0,\"duration_us\":0,"
                  "\"input\":null,\"%s\":null}\n", status + 1, names[status],
                  status? "error": "output");
        cr_expect_eq (strncmp (line, want, strlen (want)), 0, "%s", line);
        line = strchr (line, '\n') + 1;
        cr_expect_str_eq (result_status_name (status), names[status]);
    }
    cr_expect_null (result_status_name (RESULT_STATUSES));
    free (text);
    output_destroy (&output);
}

//  A record the sink cannot take as sent is a failed line with the reason.
Test (output, a_problem_is_written_as_the_error)
{
    output_t *output = output_new (path, false);
    cr_assert_not_null (output);
    result_record_t record = { .tuple = 3, .attempt = 2, .status = RESULT_FAILED,
                               .problem = "too \"deep\"" };
    cr_assert_eq (output_begin (output, "j", "a"), 0);
    cr_assert_eq (output_add (output, &record), 0);
    //  Bytes that are not msgpack (a caller's bug) still make a line.
    result_record_t broken = { .tuple = 4, .attempt = 1, .status = RESULT_OK,
                               .output = VALUE ("\xc1") };
    cr_assert_eq (output_add (output, &broken), 0);
    cr_assert_eq (output_commit (output), 0);
    char *text = support_slurp (path);
    cr_assert_not_null (text);
    cr_expect_str_eq (text,
        "{\"job\":\"j\",\"tuple\":3,\"attempt\":2,\"agent\":\"a\",\"status\":\"failed\","
        "\"started_us\":0,\"duration_us\":0,\"input\":null,\"error\":\"too \\\"deep\\\"\"}\n"
        "{\"job\":\"j\",\"tuple\":4,\"attempt\":1,\"agent\":\"a\",\"status\":\"failed\","
        "\"started_us\":0,\"duration_us\":0,\"input\":null,\"error\":\"the sink cannot "
        "store this result: a value cannot be written as JSON\"}\n");
    free (text);
    output_destroy (&output);
}
