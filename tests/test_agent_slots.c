//  test_agent_slots.c -- `drover agent`'s slots and leases, black-box:
//  never more tuples running than its slots, a long-running tuple's lease
//  kept with TOUCH, SIGTERM finishing the work in hand before BYE.  The
//  test plays the broker and the sink (support_agent.h).
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

Test (agent, never_runs_more_than_its_slots)
{
    play_t ctx;
    play_start (&ctx, NULL);
    cr_assert_eq (play_welcome (&ctx, 5000), 2);
    //  A broker that ignores credit sends 5 tuples to a 2-slot agent.
    msg_ref_t refs[5] = { { 1, 1 }, { 2, 1 }, { 3, 1 }, { 4, 1 }, { 5, 1 } };
    const char *tuples[5] = { "[250]", "[250]", "[250]", "[250]", "[250]" };
    play_work (&ctx, "j3", "sleep", 3, refs, 5, tuples);
    record_t records[5];
    play_collect (&ctx, "j3", records, 5, true);
    //  At any record's start, count the records running then.
    int most = 0;
    for (int i = 0; i < 5; i++) {
        cr_assert_str_eq (records[i].status, "ok");
        cr_assert_str_eq (records[i].output, "{\"slept_ms\":250}");
        cr_assert_geq (records[i].duration_us, 250000);
        int running = 0;
        for (int j = 0; j < 5; j++)
            if (records[j].started_us <= records[i].started_us
            &&  records[i].started_us < records[j].started_us + records[j].duration_us)
                running++;
        most = running > most? running: most;
    }
    cr_assert_eq (most, 2, "two ran at once, never more (most %d)", most);
    //  Credit tops up to the slots (2), not to what the broker overspent.
    play_reports (&ctx, "j3", 2);
    play_stop (&ctx);
}

Test (agent, long_running_tuple_touches_its_lease)
{
    play_t ctx;
    play_start (&ctx, NULL);
    play_welcome (&ctx, 5000);
    msg_t *work = msg_new (MSG_WORK);
    msg_set_str (work, MSG_F_JOB, "jt");
    msg_set_str (work, MSG_F_HANDLER, "sleep");
    msg_set_str (work, MSG_F_SINK, ctx.sink_ep);
    //  A lease long enough that a loaded machine's scheduling delays (tens
    //  of ms) are small beside the margin a TOUCH has before it runs out.
    msg_set_uint (work, MSG_F_LEASE_MS, 1500);
    msg_ref_t ref = { 8, 1 };
    msg_set_refs (work, MSG_F_TUPLES, &ref, 1);
    zframe_t *frame = zframe_new ("\x91\xcd\x0d\xac", 4);              //  [3500]
    msg_payload_append (work, &frame);
    int64_t start = support_now_ms ();
    cr_assert_eq (wire_send (&work, ctx.broker, ctx.agent), 0);
    //  At 2/3 of the lease (1000 ms), and again 1000 ms later while it runs.
    for (int i = 0; i < 2; i++) {
        msg_t *touch = play_expect (&ctx, ctx.broker, MSG_TOUCH, NULL);
        int64_t at = support_now_ms () - start;
        cr_assert_str_eq (msg_str (touch, MSG_F_JOB), "jt");
        cr_assert_eq (msg_uint (touch, MSG_F_LEASE_MS), 1500);
        size_t count = 0;
        const msg_ref_t *refs = msg_refs (touch, MSG_F_TUPLES, &count);
        cr_assert (count == 1 && refs[0].id == 8 && refs[0].attempt == 1);
        cr_assert (at >= 750 * (i + 1) && at < 1500 * (i + 1), "TOUCH %d at %lld ms", i,
                   (long long) at);
        msg_destroy (&touch);
    }
    //  Done, but the sink has not stored it: the agent still holds it and
    //  keeps the lease (a slow sink is no reason to run it again).
    zmsg_t *envelope = NULL;
    msg_t *result = play_expect (&ctx, ctx.sink, MSG_RESULT, &envelope);
    record_t record;
    play_records (result, "jt", &record, 1);
    cr_assert_str_eq (record.status, "ok");
    msg_t *touch = play_expect_skip_credit (&ctx, MSG_TOUCH);
    size_t count = 0;
    const msg_ref_t *refs = msg_refs (touch, MSG_F_TUPLES, &count);
    cr_assert (count == 1 && refs[0].id == 8);
    msg_destroy (&touch);
    play_stored (&ctx, result, envelope, &record);
    msg_destroy (&result);
    zmsg_destroy (&envelope);
    reports_t reports = play_reports (&ctx, "jt", 1);
    cr_assert_eq (reports.done_count, 1);
    play_stop (&ctx);
}

Test (agent, sigterm_finishes_work_then_says_bye)
{
    play_t ctx;
    play_start (&ctx, NULL);
    play_welcome (&ctx, 5000);
    msg_ref_t refs[] = { { 1, 1 }, { 2, 1 } };
    const char *tuples[] = { "[1]", "[400]" };
    play_work (&ctx, "j4", "echo", 3, refs, 1, tuples);
    play_work (&ctx, "j4s", "sleep", 3, refs + 1, 1, tuples + 1);
    //  The echo result shows the agent has the work; the sleep is running.
    record_t record;
    zmsg_t *envelope = NULL;
    msg_t *result = play_expect (&ctx, ctx.sink, MSG_RESULT, &envelope);
    play_records (result, "j4", &record, 1);
    cr_assert_eq (kill (ctx.pid, SIGTERM), 0);
    //  It waits for STORED before it reports and leaves.
    play_stored (&ctx, result, envelope, &record);
    msg_destroy (&result);
    zmsg_destroy (&envelope);
    msg_t *done = play_expect_skip_credit (&ctx, MSG_DONE);
    cr_assert_str_eq (msg_str (done, MSG_F_JOB), "j4");
    msg_destroy (&done);
    //  The running sleep finishes within the grace period and is stored.
    play_collect (&ctx, "j4s", &record, 1, true);
    cr_assert_str_eq (record.status, "ok");
    done = play_expect_skip_credit (&ctx, MSG_DONE);
    cr_assert_str_eq (msg_str (done, MSG_F_JOB), "j4s");
    msg_destroy (&done);
    msg_t *bye = play_expect_skip_credit (&ctx, MSG_BYE);
    msg_destroy (&bye);
    int status = -1;
    cr_assert (SUPPORT_WAIT (support_exited (ctx.pid, &status), PLAY_WAIT_MS), "agent did not exit");
    ctx.pid = 0;
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "status %d", status);
    char *log = support_slurp (ctx.log);
    cr_assert (strstr (log, "agent test-agent connected to broker"), "%s", log);
    cr_assert (strstr (log, "shut down: 2 ok, 0 failed, 0 retried"), "%s", log);
    free (log);
    play_stop (&ctx);
}
