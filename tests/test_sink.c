//  test_sink.c -- black-box tests of `drover sink` storing results: a real
//  sink process, the test playing an agent (tests/support_sink.h); what it
//  stores is read back from its JSON Lines output.  Each result is written
//  once per (job, tuple id) and acknowledged only once written; STORED's
//  dead lists what the sink holds as failed, across restarts.  Bad input
//  is test_sink_errors.c's, the process test_sink_process.c's, a sink with
//  a keypair test_sink_sealed.c's.
#include "support.h"
#include "support_sink.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rig_t *rig;
static void setup (void) { rig = rig_new (); rig_start (rig, NULL); }
static void teardown (void) { rig_destroy (&rig); }
TestSuite (sink, .init = setup, .fini = teardown, .timeout = 60);

Test (sink, batch_of_three_is_stored_then_acknowledged)
{
    msg_ref_t refs[] = { { 1, 1 }, { 2, 1 }, { 3, 1 } };
    msg_t *reply = rig_send_ok (rig, "scan", refs, 3);
    rig_expect_stored (reply, "scan", refs, 3);
    msg_destroy (&reply);
    //  STORED came after the write, so the lines are there already.
    rig_lines_t *lines = rig_read_lines (rig);
    cr_assert_eq (lines->count, 3);
    for (size_t i = 0; i < 3; i++) {
        rig_expect_str (lines, i, "job", "scan");
        rig_expect_uint (lines, i, "tuple", i + 1);
        rig_expect_uint (lines, i, "attempt", 1);
        rig_expect_str (lines, i, "agent", "test-agent");
        rig_expect_str (lines, i, "status", "ok");
        rig_expect_uint (lines, i, "started_us", 1700000000000000ULL + i + 1);
        rig_expect_uint (lines, i, "duration_us", 250);
        char out[32];
        snprintf (out, sizeof out, "out-%zu", i + 1);
        rig_expect_str (lines, i, "output", out);
        const msgpack_object *input = rig_get (lines, i, "input");
        cr_assert_not_null (input);
        cr_assert_eq (input->type, MSGPACK_OBJECT_ARRAY);
        cr_expect_eq (input->via.array.size, 2);
        cr_expect_null (rig_get (lines, i, "error"));
    }
    rig_free_lines (&lines);
}

Test (sink, redelivery_is_acknowledged_but_not_written_again)
{
    msg_ref_t refs[] = { { 1, 1 }, { 2, 1 }, { 3, 1 } };
    msg_t *reply = rig_send_ok (rig, "scan", refs, 3);
    rig_expect_stored (reply, "scan", refs, 3);
    msg_destroy (&reply);
    reply = rig_send_ok (rig, "scan", refs, 3);
    rig_expect_stored (reply, "scan", refs, 3);
    msg_destroy (&reply);
    cr_expect_eq (support_count_lines (rig->out_path), 3);

    //  A later attempt of a stored tuple is dropped too; a new tuple in the
    //  same batch is written, and STORED lists both.
    msg_ref_t again[] = { { 2, 2 }, { 4, 1 } };
    reply = rig_send_ok (rig, "scan", again, 2);
    rig_expect_stored (reply, "scan", again, 2);
    msg_destroy (&reply);
    rig_lines_t *lines = rig_read_lines (rig);
    cr_assert_eq (lines->count, 4);
    rig_expect_uint (lines, 3, "tuple", 4);
    rig_free_lines (&lines);

    //  The same tuple id in another job is another result.
    reply = rig_send_ok (rig, "other-job", refs, 1);
    rig_expect_stored (reply, "other-job", refs, 1);
    msg_destroy (&reply);
    cr_expect_eq (support_count_lines (rig->out_path), 5);

    //  Duplicates inside one batch: written once.
    msg_ref_t twice[] = { { 9, 1 }, { 9, 2 } };
    reply = rig_send_ok (rig, "scan", twice, 2);
    rig_expect_stored (reply, "scan", twice, 2);
    msg_destroy (&reply);
    cr_expect_eq (support_count_lines (rig->out_path), 6);
}

Test (sink, dead_letter_is_written_with_its_error)
{
    msg_ref_t refs[] = { { 5, 3 }, { 6, 1 } };
    rig_batch_t batch;
    rig_batch_begin (&batch, 2);
    rig_batch_record (&batch, 5, 3, false);
    rig_batch_record (&batch, 6, 1, true);
    msg_t *reply = rig_send_batch (rig, "scan", refs, 2, &batch);
    rig_expect_stored (reply, "scan", refs, 2);
    msg_destroy (&reply);
    rig_lines_t *lines = rig_read_lines (rig);
    cr_assert_eq (lines->count, 2);
    rig_expect_uint (lines, 0, "tuple", 5);
    rig_expect_uint (lines, 0, "attempt", 3);
    rig_expect_str (lines, 0, "status", "failed");
    rig_expect_str (lines, 0, "error", "exit status 3");
    cr_expect_null (rig_get (lines, 0, "output"), "a dead letter has no output");
    rig_expect_str (lines, 1, "status", "ok");
    rig_free_lines (&lines);
}

//  STORED's dead lists exactly want (count of them).
static void
s_expect_dead (msg_t *reply, const msg_ref_t *want, size_t count)
{
    cr_assert_eq (msg_command (reply), MSG_STORED);
    size_t got = 0;
    const msg_ref_t *dead = msg_refs (reply, MSG_F_DEAD, &got);
    cr_assert_eq (got, count, "STORED lists %zu dead, want %zu", got, count);
    for (size_t i = 0; i < count; i++) {
        cr_expect_eq (dead[i].id, want[i].id, "dead %zu", i);
        cr_expect_eq (dead[i].attempt, want[i].attempt, "dead %zu", i);
    }
}

//  One record per ref, ok where ok[i].
static msg_t *
s_send_mixed (const char *job, const msg_ref_t *refs, const bool *ok, size_t count)
{
    rig_batch_t batch;
    rig_batch_begin (&batch, (uint32_t) count);
    for (size_t i = 0; i < count; i++)
        rig_batch_record (&batch, refs[i].id, refs[i].attempt, ok[i]);
    return rig_send_batch (rig, job, refs, count, &batch);
}

//  The sink answers each tuple as the result it holds: a failed result
//  stored first stays dead when an ok one comes later, and an ok result
//  stored first is not made dead by a later dead letter; this survives a
//  restart of the sink.
static void
s_dead_is_what_the_sink_holds (const char *store)
{
    if (store)
        rig_start (rig, "--store", store, NULL);
    //  Tuple 1 fails for good first, tuple 2 succeeds first.
    msg_ref_t first[] = { { 1, 3 }, { 2, 1 } };
    bool first_ok[] = { false, true };
    msg_t *reply = s_send_mixed ("held", first, first_ok, 2);
    rig_expect_stored (reply, "held", first, 2);
    s_expect_dead (reply, first, 1);
    msg_destroy (&reply);

    //  Then the other way round, with two new tuples: 3 failed, 4 ok.
    msg_ref_t later[] = { { 1, 4 }, { 2, 3 }, { 3, 1 }, { 4, 1 } };
    bool later_ok[] = { true, false, false, true };
    msg_ref_t later_dead[] = { { 1, 4 }, { 3, 1 } };
    reply = s_send_mixed ("held", later, later_ok, 4);
    rig_expect_stored (reply, "held", later, 4);
    s_expect_dead (reply, later_dead, 2);
    msg_destroy (&reply);

    rig_lines_t *lines = rig_read_lines (rig);
    cr_assert_eq (lines->count, 4, "duplicates are not written");
    rig_expect_str (lines, 0, "status", "failed");
    rig_expect_str (lines, 1, "status", "ok");
    rig_expect_str (lines, 2, "status", "failed");
    rig_expect_str (lines, 3, "status", "ok");
    rig_free_lines (&lines);

    //  All ok: STORED has no dead.
    msg_ref_t fine[] = { { 2, 5 }, { 4, 2 } };
    reply = rig_send_ok (rig, "held", fine, 2);
    rig_expect_stored (reply, "held", fine, 2);
    s_expect_dead (reply, NULL, 0);
    msg_destroy (&reply);
    if (store && !strcmp (store, "memory"))
        return;

    //  A restarted sink answers from its durable index.
    cr_assert_eq (rig_stop (rig, SIGTERM), 0);
    rig_start (rig, NULL);
    bool all_ok[] = { true, true, true, true };
    reply = s_send_mixed ("held", later, all_ok, 4);
    rig_expect_stored (reply, "held", later, 4);
    s_expect_dead (reply, later_dead, 2);
    msg_destroy (&reply);
    cr_expect_eq (support_count_lines (rig->out_path), 4);
}

Test (sink, dead_is_what_the_sink_holds_lmdb)   { s_dead_is_what_the_sink_holds (NULL); }
Test (sink, dead_is_what_the_sink_holds_memory) { s_dead_is_what_the_sink_holds ("memory"); }

//  A line written but not indexed (a crash between the two) is indexed at
//  the next start with the status the line has.
Test (sink, recovered_line_keeps_its_status)
{
    cr_assert_eq (rig_stop (rig, SIGTERM), 0);
    FILE *file = fopen (rig->out_path, "a");
    cr_assert_not_null (file);
    fputs ("{\"job\":\"crash\",\"tuple\":7,\"attempt\":3,\"agent\":\"a\",\"status\":\"failed\","
           "\"started_us\":1,\"duration_us\":1,\"input\":[7],\"error\":\"boom\"}\n"
           "{\"job\":\"crash\",\"tuple\":8,\"attempt\":1,\"agent\":\"a\",\"status\":\"ok\","
           "\"started_us\":1,\"duration_us\":1,\"input\":[8],\"output\":8}\n", file);
    fclose (file);
    rig_start (rig, NULL);
    msg_ref_t refs[] = { { 7, 4 }, { 8, 2 } };
    bool ok[] = { true, false };
    msg_t *reply = s_send_mixed ("crash", refs, ok, 2);
    rig_expect_stored (reply, "crash", refs, 2);
    s_expect_dead (reply, refs, 1);
    msg_destroy (&reply);
    cr_expect_eq (support_count_lines (rig->out_path), 2, "both were duplicates");
}

Test (sink, big_batch)
{
    enum { COUNT = MSG_MAX_REFS };      //  the most one RESULT may carry
    msg_ref_t *refs = calloc (COUNT, sizeof *refs);
    for (size_t i = 0; i < COUNT; i++)
        refs[i] = (msg_ref_t) { i + 1, 1 };
    msg_t *reply = rig_send_ok (rig, "big", refs, COUNT);
    rig_expect_stored (reply, "big", refs, COUNT);
    msg_destroy (&reply);
    cr_expect_eq (support_count_lines (rig->out_path), COUNT);
    free (refs);
}

//  A RESULT in protocol version 2 (runs, positional records) is stored as
//  the same lines its version 1 twin would make, and answered STORED in
//  version 2 with its runs as they came; a version 1 RESULT beside it is
//  answered in version 1.
Test (sink, version_2_result_is_stored_like_version_1)
{
    //  Tuples 1..3 at attempt 1 are one run; 7 failed at attempt 2.
    msg_ref_t refs[] = { { 1, 1 }, { 2, 1 }, { 3, 1 }, { 7, 2 } };
    rig_batch_t batch;
    rig_batch_begin_version (&batch, 4, 2);
    for (size_t i = 0; i < 4; i++)
        rig_batch_record (&batch, refs[i].id, refs[i].attempt, i < 3);
    rig->version = 2;
    msg_t *reply = rig_send_batch (rig, "scan", refs, 4, &batch);
    rig_expect_stored (reply, "scan", refs, 4);
    cr_assert_eq (msg_version (reply), 2);
    size_t runs_count = 0;
    const msg_run_t *runs = msg_runs (reply, MSG_F_TUPLES, &runs_count);
    cr_assert_eq (runs_count, 2, "tuples as two runs, as sent");
    cr_assert (runs[0].first == 1 && runs[0].count == 3 && runs[0].attempt == 1);
    size_t dead_count = 0;
    const msg_ref_t *dead = msg_refs (reply, MSG_F_DEAD, &dead_count);
    cr_assert (dead_count == 1 && dead[0].id == 7 && dead[0].attempt == 2);
    msg_destroy (&reply);

    //  The same in version 1, for job scan-v1: the lines must match.
    rig->version = 1;
    rig_batch_begin (&batch, 4);
    for (size_t i = 0; i < 4; i++)
        rig_batch_record (&batch, refs[i].id, refs[i].attempt, i < 3);
    reply = rig_send_batch (rig, "scan-v1", refs, 4, &batch);
    rig_expect_stored (reply, "scan-v1", refs, 4);
    cr_assert_eq (msg_version (reply), 1);
    msg_destroy (&reply);
    char *text = support_slurp (rig->out_path);
    cr_assert_not_null (text);
    char *second = text;
    for (int i = 0; i < 4; i++)
        second = strchr (second, '\n') + 1;
    //  Line for line, but for the job's name.
    for (char *a = text, *b = second; a < second; ) {
        char *a_end = strchr (a, '\n'), *b_end = strchr (b, '\n');
        char *a_job = strstr (a, "\"job\":\"scan\"");
        char *b_job = strstr (b, "\"job\":\"scan-v1\"");
        cr_assert (a_job == a + 1 && b_job == b + 1);
        cr_assert_eq (a_end - a + 3, b_end - b);
        cr_assert (!memcmp (a_job + 12, b_job + 15, (size_t) (a_end - a_job - 12)),
                   "%.*s\nvs\n%.*s", (int) (a_end - a), a, (int) (b_end - b), b);
        a = a_end + 1;
        b = b_end + 1;
    }
    free (text);
    cr_expect_eq (support_count_lines (rig->out_path), 8);
}

//  A version 2 record of the wrong shape is refused with a reason.
Test (sink, version_2_records_are_checked)
{
    rig->version = 2;
    msg_ref_t ref = { 1, 1 };
    static const struct {
        const char *bytes;
        size_t size;
        int code;
    } bad[] = {
        { "\x91\x93\x00\x01\x01", 5, DRV_E_BAD_HEADER },                    //  3 items
        { "\x91\x97\x06\x01\x01\xc0\xc0\xc0\xc2", 9, DRV_E_BAD_TYPE },      //  status 6
        { "\x91\x97\x00\x01\x01\xc0\xc0\x05\xc2", 9, DRV_E_BAD_TYPE },      //  error 5
        { "\x91\x97\x00\x01\x01\xc0\xc0\xc0\xc0", 9, DRV_E_BAD_TYPE },      //  partial nil
        { "\x91\x81\xa1k\x01", 5, DRV_E_BAD_HEADER },                       //  a map
        { "\x92\x97\x00\x01\x01\xc0\xc0\xc0\xc2\x97\x00\x01\x01\xc0\xc0\xc0\xc2", 17,
          DRV_E_BAD_HEADER },                                               //  2 for 1
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        msg_t *reply = rig_send_raw (rig, "scan", &ref, 1, bad[i].bytes, bad[i].size);
        rig_expect_error (reply, bad[i].code);
        cr_assert_eq (msg_version (reply), 2, "case %zu: answered in version 2", i);
        msg_destroy (&reply);
    }
    msg_t *reply = rig_send_raw (rig, "scan", &ref, 1, "\x91\x97\x00\x01\x01\xc0\xc0\xc0\xc2", 9);
    rig_expect_stored (reply, "scan", &ref, 1);
    msg_destroy (&reply);
    cr_expect_eq (support_count_lines (rig->out_path), 1);
}

//  Statuses 2 .. 5 (round 16's contract, PROTOCOL.md 9.1): tuples that
//  never ran are stored with their status's name; 6 is no status.
Test (sink, statuses_of_tuples_that_never_ran)
{
    rig->version = 2;
    msg_ref_t refs[] = { { 1, 1 }, { 2, 1 }, { 3, 1 }, { 4, 1 } };
    rig_batch_t batch;
    rig_batch_begin_version (&batch, 4, 2);
    for (int i = 0; i < 4; i++) {
        msgpack_packer *pk = &batch.packer;
        msgpack_pack_array (pk, 7);
        msgpack_pack_uint8 (pk, (uint8_t) (2 + i));
        msgpack_pack_uint8 (pk, 0);
        msgpack_pack_uint8 (pk, 0);
        msgpack_pack_uint64 (pk, refs[i].id);       //  input
        msgpack_pack_nil (pk);
        if (i == 0)
            rig_pack_str (pk, "excluded by 10.0.0.0/8");
        else
            msgpack_pack_nil (pk);
        msgpack_pack_false (pk);
    }
    msg_t *reply = rig_send_batch (rig, "scan", refs, 4, &batch);
    rig_expect_stored (reply, "scan", refs, 4);
    cr_expect_not (msg_has (reply, MSG_F_DEAD), "never ran is not a dead letter");
    msg_destroy (&reply);
    rig_lines_t *lines = rig_read_lines (rig);
    cr_assert_eq (lines->count, 4);
    const char *names[] = { "excluded", "cancelled", "aborted", "skipped" };
    for (size_t i = 0; i < 4; i++) {
        rig_expect_str (lines, i, "status", names[i]);
        rig_expect_uint (lines, i, "input", i + 1);
        rig_expect_uint (lines, i, "started_us", 0);
        cr_expect_null (rig_get (lines, i, "output"));
    }
    rig_expect_str (lines, 0, "error", "excluded by 10.0.0.0/8");
    rig_free_lines (&lines);

    msg_ref_t ref = { 9, 1 };
    reply = rig_send_raw (rig, "scan", &ref, 1, "\x91\x97\x06\x00\x00\xc0\xc0\xc0\xc2", 9);
    rig_expect_error (reply, DRV_E_BAD_TYPE);
    cr_expect (strstr (msg_str (reply, MSG_F_REASON), "status 6"), "reason: %s",
               msg_str (reply, MSG_F_REASON));
    msg_destroy (&reply);
    cr_expect_eq (support_count_lines (rig->out_path), 4);
}

//  Version 1 records name their status.
Test (sink, version_1_statuses_by_name)
{
    msg_ref_t refs[] = { { 1, 1 }, { 2, 1 } };
    const char *names[] = { "cancelled", "nonsense" };
    for (size_t i = 0; i < 2; i++) {
        rig_batch_t batch;
        rig_batch_begin (&batch, 1);
        msgpack_packer *pk = &batch.packer;
        msgpack_pack_map (pk, 5);
        rig_pack_str (pk, "tuple");       msgpack_pack_uint64 (pk, refs[i].id);
        rig_pack_str (pk, "attempt");     msgpack_pack_uint32 (pk, 1);
        rig_pack_str (pk, "status");      rig_pack_str (pk, names[i]);
        rig_pack_str (pk, "started_us");  msgpack_pack_uint64 (pk, 0);
        rig_pack_str (pk, "duration_us"); msgpack_pack_uint64 (pk, 0);
        msg_t *reply = rig_send_batch (rig, "v1", &refs[i], 1, &batch);
        if (i == 0)
            rig_expect_stored (reply, "v1", &refs[i], 1);
        else
            rig_expect_error (reply, DRV_E_BAD_TYPE);
        msg_destroy (&reply);
    }
    rig_lines_t *lines = rig_read_lines (rig);
    cr_assert_eq (lines->count, 1);
    rig_expect_str (lines, 0, "status", "cancelled");
    rig_free_lines (&lines);
}
