//  test_agent_work.c -- `drover agent`'s work cycle, black-box: WORK in,
//  RESULT records to the sink, DONE / RETRY / CREDIT back to the broker
//  once the sink said STORED, reported as the sink holds each tuple; dead
//  letters, dead-letter work, outputs streamed from a worker.  The test
//  plays the broker and the sink (support_agent.h).
#include <criterion/criterion.h>

#include "proto/msg.h"
#include "proto/wire.h"
#include "support.h"
#include "support_agent.h"

#include <msgpack.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

TestSuite (agent, .fini = support_kill_started);

Test (agent, hello_work_result_stored_done_credit)
{
    play_t ctx;
    play_start (&ctx, NULL);
    cr_assert_eq (play_welcome (&ctx, 5000), 2, "HELLO offers one slot per thread");

    msg_ref_t refs[] = { { 1, 1 }, { 2, 1 } };
    const char *tuples[] = { "[\"a\",1]", "{\"k\":[true,null]}" };
    play_work (&ctx, "j1", "echo", 3, refs, 2, tuples);

    record_t records[2];
    play_collect (&ctx, "j1", records, 2, true);
    for (int i = 0; i < 2; i++) {
        record_t *r = &records[i];
        int t = (int) r->tuple - 1;
        cr_assert (t == 0 || t == 1);
        cr_assert_eq (r->attempt, 1);
        cr_assert_str_eq (r->status, "ok");
        cr_assert_str_eq (r->input, tuples[t]);
        cr_assert (r->has_output && !r->has_error);
        cr_assert_str_eq (r->output, tuples[t], "echo's output is its tuple");
        cr_assert_lt (r->duration_us, 5000000);
    }
    cr_assert_neq (records[0].tuple, records[1].tuple);

    reports_t reports = play_reports (&ctx, "j1", 2);
    cr_assert_eq (reports.done_count, 2);
    cr_assert (play_has_ref (reports.done, 2, 1, 1) && play_has_ref (reports.done, 2, 2, 1));
    cr_assert_eq (reports.dead_count, 0);
    cr_assert_eq (reports.retry_count, 0);
    cr_assert_not (reports.credit_before_report, "slots come back after DONE");
    play_stop (&ctx);
}

Test (agent, failed_attempt_is_retried_last_one_is_a_dead_letter)
{
    play_t ctx;
    play_start (&ctx, NULL);
    play_welcome (&ctx, 5000);

    msg_ref_t first = { 7, 1 };
    const char *tuple[] = { "[\"x\"]" };
    play_work (&ctx, "j2", "fail", 3, &first, 1, tuple);
    reports_t reports = play_reports (&ctx, "j2", 1);
    cr_assert_eq (reports.retry_count, 1);
    cr_assert (play_has_ref (reports.retry, 1, 7, 1));
    cr_assert_str_eq (reports.reason, "fail: this handler always fails");
    cr_assert_eq (reports.done_count + reports.dead_count, 0);

    msg_ref_t last = { 7, 3 };
    play_work (&ctx, "j2", "fail", 3, &last, 1, tuple);
    //  The first thing the sink sees is attempt 3: attempt 1 never went there.
    record_t record;
    play_collect (&ctx, "j2", &record, 1, true);
    cr_assert_eq (record.tuple, 7);
    cr_assert_eq (record.attempt, 3);
    cr_assert_str_eq (record.status, "failed");
    cr_assert (record.has_error && !record.has_output);
    cr_assert_str_eq (record.error, "fail: this handler always fails");
    cr_assert_str_eq (record.input, "[\"x\"]");

    reports = play_reports (&ctx, "j2", 1);
    cr_assert_eq (reports.dead_count, 1);
    cr_assert (play_has_ref (reports.dead, 1, 7, 3));
    cr_assert_eq (reports.done_count, 0);
    cr_assert_eq (reports.retry_count, 0);
    play_stop (&ctx);
}

//  The agent reports each tuple as the sink holds it (STORED's dead), not
//  as its own attempt ended: the sink may hold an earlier result.
Test (agent, reports_tuples_as_the_sink_holds_them)
{
    play_t ctx;
    play_start (&ctx, NULL);
    play_welcome (&ctx, 5000);
    msg_ref_t refs[] = { { 1, 1 }, { 2, 1 } };
    const char *tuples[] = { "[1]", "[2]" };
    play_work (&ctx, "jh", "echo", 3, refs, 2, tuples);
    record_t records[2];
    size_t got = 0;
    while (got < 2) {
        //  The two may come in one RESULT or two, in either order.
        zmsg_t *envelope = NULL;
        msg_t *result = play_expect (&ctx, ctx.sink, MSG_RESULT, &envelope);
        size_t n = play_records (result, "jh", records + got, 2 - got);
        bool dead[2] = { false, false };
        for (size_t i = 0; i < n; i++) {
            cr_assert_str_eq (records[got + i].status, "ok");
            dead[i] = records[got + i].tuple == 1;  //  tuple 1 was stored failed before
        }
        play_stored_as (&ctx, result, envelope, dead);
        got += n;
        msg_destroy (&result);
        zmsg_destroy (&envelope);
    }
    reports_t reports = play_reports (&ctx, "jh", 2);
    cr_assert_eq (reports.dead_count, 1);
    cr_assert (play_has_ref (reports.dead, 1, 1, 1), "held failed: reported dead");
    cr_assert_eq (reports.done_count, 1);
    cr_assert (play_has_ref (reports.done, 1, 2, 1));

    //  A dead letter whose tuple the sink holds ok is reported done.
    msg_ref_t last = { 3, 3 };
    const char *tuple[] = { "[\"x\"]" };
    play_work (&ctx, "jh", "fail", 3, &last, 1, tuple);
    zmsg_t *envelope = NULL;
    msg_t *result = play_expect (&ctx, ctx.sink, MSG_RESULT, &envelope);
    play_records (result, "jh", records, 1);
    cr_assert_str_eq (records[0].status, "failed");
    play_stored_as (&ctx, result, envelope, NULL);
    msg_destroy (&result);
    zmsg_destroy (&envelope);
    reports = play_reports (&ctx, "jh", 1);
    cr_assert_eq (reports.done_count, 1);
    cr_assert (play_has_ref (reports.done, 1, 3, 3), "held ok: reported done");
    cr_assert_eq (reports.dead_count + reports.retry_count, 0);
    play_stop (&ctx);
}

Test (agent, dead_letter_work_is_stored_failed_not_run)
{
    play_t ctx;
    play_start (&ctx, NULL);
    play_welcome (&ctx, 5000);
    //  The broker hands over tuples whose attempts are used up: the agent
    //  must not run them (sleep would take 10 s) but store them as failed.
    msg_t *work = msg_new (MSG_WORK);
    msg_set_str (work, MSG_F_JOB, "jd");
    msg_set_str (work, MSG_F_HANDLER, "sleep");
    msg_set_str (work, MSG_F_SINK, ctx.sink_ep);
    msg_set_uint (work, MSG_F_MAX_ATTEMPTS, 3);
    msg_set_str (work, MSG_F_DEAD_LETTER, "agent lost 3 times");
    msg_ref_t refs[] = { { 4, 3 }, { 5, 3 } };
    msg_set_refs (work, MSG_F_TUPLES, refs, 2);
    for (int i = 0; i < 2; i++) {
        zframe_t *frame = zframe_new ("\x91\xcd\x27\x10", 4);       //  [10000]
        msg_payload_append (work, &frame);
    }
    int64_t start = support_now_ms ();
    cr_assert_eq (wire_send (&work, ctx.broker, ctx.agent), 0);
    record_t records[2];
    play_collect (&ctx, "jd", records, 2, true);
    cr_assert_lt (support_now_ms () - start, 5000, "not run");
    for (int i = 0; i < 2; i++) {
        cr_assert_str_eq (records[i].status, "failed");
        cr_assert_str_eq (records[i].error, "agent lost 3 times");
        cr_assert_eq (records[i].attempt, 3);
        cr_assert_str_eq (records[i].input, "[10000]");
        cr_assert_not (records[i].has_output);
    }
    reports_t reports = play_reports (&ctx, "jd", 2);
    cr_assert_eq (reports.dead_count, 2);
    cr_assert (play_has_ref (reports.dead, 2, 4, 3) && play_has_ref (reports.dead, 2, 5, 3));
    cr_assert_eq (reports.done_count + reports.retry_count, 0);
    play_stop (&ctx);
}

Test (agent, outputs_streamed_from_a_worker_arrive_whole_and_in_order)
{
    //  crashtest's ["many", 3] emits 0, 1, 2, none final: each crosses from
    //  the worker process on its own (so a crash would not lose it), and the
    //  record holds all three in order.
    char path[600];
    snprintf (path, sizeof path, "%s", DROVER_BIN);
    *strrchr (path, '/') = 0;
    strcat (path, "/examples/plugins/drover-crashtest.so");
    cr_assert_eq (access (path, R_OK), 0, "no plugin at %s", path);
    play_t ctx;
    play_start (&ctx, NULL);
    play_welcome (&ctx, 5000);
    msg_t *work = msg_new (MSG_WORK);
    msg_set_str (work, MSG_F_JOB, "jp");
    msg_set_str (work, MSG_F_HANDLER, "plugin");
    msg_set_str (work, MSG_F_SINK, ctx.sink_ep);
    msgpack_sbuffer options;
    msgpack_sbuffer_init (&options);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &options, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    msgpack_pack_str_with_body (&pk, "path", 4);
    msgpack_pack_str_with_body (&pk, path, strlen (path));
    msg_set_raw (work, MSG_F_OPTIONS, options.data, options.size);
    msgpack_sbuffer_destroy (&options);
    msg_ref_t ref = { 3, 1 };
    msg_set_refs (work, MSG_F_TUPLES, &ref, 1);
    zframe_t *frame = zframe_new ("\x92\xa4many\x03", 7);
    msg_payload_append (work, &frame);
    cr_assert_eq (wire_send (&work, ctx.broker, ctx.agent), 0);
    record_t record;
    play_collect (&ctx, "jp", &record, 1, true);
    cr_assert_str_eq (record.status, "ok", "%s", record.error);
    cr_assert_str_eq (record.output, "[0,1,2]");
    play_reports (&ctx, "jp", 1);
    play_stop (&ctx);
}

//  Under load a RESULT batch lingers a moment for more records
//  (OUTBOX_LINGER_MS), but a result never waits for the tuples still
//  running: here one sleeps for a minute, and echo's result comes anyway.
Test (agent, results_go_while_other_tuples_still_run)
{
    play_t ctx;
    play_start (&ctx, NULL);
    cr_assert_eq (play_welcome (&ctx, 5000), 2);
    msg_ref_t slow[] = { { 1, 1 } };
    const char *minute[] = { "[60000]" };
    play_work (&ctx, "slow", "sleep", 1, slow, 1, minute);
    msg_ref_t fast[] = { { 1, 1 } };
    const char *tuples[] = { "[\"now\"]" };
    play_work (&ctx, "fast", "echo", 1, fast, 1, tuples);
    record_t record;
    cr_assert_eq (play_collect (&ctx, "fast", &record, 1, true), 1);
    cr_assert_str_eq (record.output, tuples[0]);
    play_stop (&ctx);
}
