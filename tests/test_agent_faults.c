//  test_agent_faults.c -- `drover agent` when its peers fail it,
//  black-box: a sink that does not store (the results go again), a broker
//  that falls silent (the agent dials again and says HELLO), bad messages
//  (an ERROR each, and work goes on), bad flags (usage errors).  The test
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

Test (agent, resends_results_the_sink_did_not_store)
{
    play_t ctx;
    play_start (&ctx, "--result-timeout-ms", "300", NULL);
    play_welcome (&ctx, 5000);
    msg_ref_t ref = { 5, 2 };
    const char *tuple[] = { "[\"again\"]" };
    play_work (&ctx, "j5", "echo", 3, &ref, 1, tuple);
    record_t first, second;
    play_collect (&ctx, "j5", &first, 1, false);
    int64_t start = support_now_ms ();
    play_collect (&ctx, "j5", &second, 1, true);
    cr_assert_geq (support_now_ms () - start, 200, "not before the result timeout");
    cr_assert_eq (second.tuple, 5);
    cr_assert_eq (second.attempt, 2);
    cr_assert_eq (second.started_us, first.started_us, "the same result, sent again");
    reports_t reports = play_reports (&ctx, "j5", 1);
    cr_assert_eq (reports.done_count, 1);
    play_stop (&ctx);
}

Test (agent, reconnects_when_the_broker_falls_silent)
{
    play_t ctx;
    play_start (&ctx, NULL);
    cr_assert_eq (play_welcome (&ctx, 100), 2);
    //  One slot busy, then the broker says nothing more: after 3 heartbeat
    //  intervals the agent says HELLO again, offering the free slot only.
    msg_ref_t ref = { 9, 1 };
    const char *tuple[] = { "[1500]" };
    play_work (&ctx, "j6", "sleep", 3, &ref, 1, tuple);
    zmsg_t *old_envelope = zmsg_dup (ctx.agent);
    int64_t start = support_now_ms ();
    cr_assert_eq (play_welcome (&ctx, 5000), 1);
    cr_assert_geq (support_now_ms () - start, 250);
    //  The new HELLO named the tuple it holds (PROTOCOL.md 4.2 `held`): its
    //  result goes to the sink and its DONE to the new session.
    record_t record;
    play_collect (&ctx, "j6", &record, 1, true);
    cr_assert_eq (record.tuple, 9);
    reports_t reports = play_reports (&ctx, "j6", 1);
    cr_assert_eq (reports.done_count, 1);
    cr_assert_eq (reports.done[0].id, 9);
    cr_assert_eq (reports.dead_count + reports.retry_count, 0);
    zmsg_destroy (&old_envelope);
    play_stop (&ctx);
}

Test (agent, bad_messages_get_an_error_and_work_goes_on)
{
    play_t ctx;
    play_start (&ctx, NULL);
    play_welcome (&ctx, 5000);
    //  Not a drover message at all.
    zmsg_t *junk = zmsg_dup (ctx.agent);
    zmsg_addstr (junk, "hello?");
    cr_assert_eq (zmsg_send (&junk, ctx.broker), 0);
    msg_t *error = play_expect (&ctx, ctx.broker, MSG_ERROR, NULL);
    cr_assert_eq (msg_uint (error, MSG_F_CODE), DRV_E_BAD_FRAMES);
    msg_destroy (&error);
    //  A valid command that agents do not take.
    msg_t *stored = msg_new (MSG_STORED);
    msg_set_str (stored, MSG_F_JOB, "x");
    msg_set_refs (stored, MSG_F_TUPLES, NULL, 0);
    cr_assert_eq (wire_send (&stored, ctx.broker, ctx.agent), 0);
    error = play_expect (&ctx, ctx.broker, MSG_ERROR, NULL);
    cr_assert_eq (msg_uint (error, MSG_F_CODE), DRV_E_UNEXPECTED);
    msg_destroy (&error);
    //  In version 2 a packed frame that is not msgpack is refused whole:
    //  the tuples' bounds are not known.
    zmsg_t *packed = zmsg_dup (ctx.agent);
    zmsg_addstr (packed, "DRV2");
    zmsg_addstr (packed, "WORK");
    //  {"job": "j", "handler": "echo", "sink": "s", "tuples": [[1, 1, 1]]}
    zmsg_addmem (packed, "\x84\xa3job\xa1j\xa7handler\xa4" "echo\xa4sink\xa1s"
                         "\xa6tuples\x91\x93\x01\x01\x01", 39);
    zmsg_addmem (packed, "\xc1", 1);
    cr_assert_eq (zmsg_send (&packed, ctx.broker), 0);
    error = play_expect (&ctx, ctx.broker, MSG_ERROR, NULL);
    cr_assert_eq (msg_uint (error, MSG_F_CODE), DRV_E_BAD_TUPLE);
    cr_assert_eq (msg_version (error), 2, "answered in the version of the request");
    msg_destroy (&error);
    //  In version 1, a tuple that is not msgpack fails (a dead letter on
    //  its last attempt, its input kept as bin), an unknown handler likewise.
    msg_t *work = msg_new (MSG_WORK);
    msg_set_version (work, 1);
    msg_set_str (work, MSG_F_JOB, "j7");
    msg_set_str (work, MSG_F_HANDLER, "echo");
    msg_set_str (work, MSG_F_SINK, ctx.sink_ep);
    msg_set_uint (work, MSG_F_MAX_ATTEMPTS, 1);
    msg_ref_t ref = { 1, 1 };
    msg_set_refs (work, MSG_F_TUPLES, &ref, 1);
    zframe_t *bad = zframe_new ("\xc1", 1);
    msg_payload_append (work, &bad);
    cr_assert_eq (wire_send (&work, ctx.broker, ctx.agent), 0);
    record_t record;
    play_collect (&ctx, "j7", &record, 1, true);
    cr_assert_str_eq (record.status, "failed");
    cr_assert_str_eq (record.error, "tuple is not valid msgpack");
    const char *tuple[] = { "[1]" };
    msg_ref_t ref2 = { 2, 1 };
    play_work (&ctx, "j8", "no-such-handler", 1, &ref2, 1, tuple);
    play_collect (&ctx, "j8", &record, 1, true);
    cr_assert_str_eq (record.error, "unknown handler 'no-such-handler'");
    cr_assert (SUPPORT_WAIT (!support_exited (ctx.pid, NULL), 100));
    play_stop (&ctx);
}

Test (agent, help_and_usage_errors)
{
    char *dir = support_tmpdir ();
    char log[300];
    snprintf (log, sizeof log, "%s/out", dir);
    int status = -1;
    pid_t pid = support_spawn (log, "agent", "--help", NULL);
    cr_assert (SUPPORT_WAIT (support_exited (pid, &status), PLAY_WAIT_MS));
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    char *text = support_slurp (log);
    cr_assert (strstr (text, "--processes") && strstr (text, "--slots") && strstr (text, "--grace ")
               && strstr (text, "DROVER_PROCESSES") && strstr (text, "DROVER_SLOTS"), "%s", text);
    cr_assert (strstr (text, "--broker") && strstr (text, "--threads") && strstr (text, "--grace-ms")
               && strstr (text, "--result-timeout-ms") && strstr (text, "DROVER_THREADS"), "%s", text);
    free (text);
    const char *bad[][2] = { { "--threads", "0" }, { "--grace-ms", "x" }, { "--bogus", NULL },
                             { "--processes", "-1" }, { "--slots", "0" }, { "--grace", "5w" } };
    for (int i = 0; i < 6; i++) {
        pid = support_spawn (log, "agent", bad[i][0], bad[i][1], NULL);
        cr_assert (SUPPORT_WAIT (support_exited (pid, &status), PLAY_WAIT_MS));
        cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 2, "%s: status %d", bad[i][0], status);
    }
    support_rmdir (&dir);
}
