//  test_hostile_logs.c -- what a peer can do to a daemon's log (issue 10
//  item 4), against the real broker, sink and agent: a flood of 1000 bad
//  messages costs at most 10 lines a second and a summary that accounts for
//  every message, the daemon serves a good peer meanwhile, and a newline in
//  anything a peer names (an agent, a job, a reason) never starts a line of
//  its own: every line of the log starts with a timestamp.
#include "support_broker.h"
#include "support_sink.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

TestSuite (hostile_logs, .fini = tb_fini, .timeout = 300);

#define FLOOD        1000
#define PER_SEC      10             //  what each daemon logs of a kind a second
#define FORGED       "\nFAKE-LOG-LINE broker INFO all good"

//  At most PER_SEC lines for each second the flood took, and the one it
//  started in; the lines and the summaries' counts add up to the flood.
static void
s_expect_limited (const char *log, const char *line, const char *summary,
                  int64_t started_ms)
{
    bool counted = SUPPORT_WAIT (support_count_text (log, line)
                                 + support_sum_after (log, summary) == FLOOD, 10000);
    size_t lines = support_count_text (log, line);
    cr_assert (counted, "%zu lines \"%s\" and %lu in summaries \"%s\", not %d", lines, line,
               (unsigned long) support_sum_after (log, summary), summary, FLOOD);
    int64_t seconds = (support_now_ms () - started_ms) / 1000 + 2;
    cr_assert_leq (lines, (size_t) (PER_SEC * seconds),
                   "%zu lines \"%s\" in %ld s", lines, line, (long) seconds);
    char *bad = support_unstamped_line (log);
    cr_assert_null (bad, "a line that is not the daemon's: %s", bad);
}

static void
s_expect_stamped (const char *log)
{
    char *bad = support_unstamped_line (log);
    cr_assert_null (bad, "a forged line: %s", bad);
}

//  Send FLOOD messages of frames on sock, then read the FLOOD answers.
static void
s_flood (zsock_t *sock, const char *frames[], const size_t sizes[], size_t count)
{
    for (int i = 0; i < FLOOD; i++)
        tb_send_raw (sock, frames, sizes, count);
    for (int i = 0; i < FLOOD; i++) {
        msg_t *reply = tb_recv (sock, 10000);
        cr_assert_not_null (reply, "answer %d of %d missing", i + 1, FLOOD);
        msg_destroy (&reply);
    }
}

Test (hostile_logs, a_flood_at_the_broker_costs_a_few_lines)
{
    tb_start (NULL);
    zsock_t *flooder = tb_socket (ZMQ_DEALER, tb_frontend ());
    zsock_t *producer = tb_socket (ZMQ_REQ, tb_frontend ());
    zsock_t *stranger = tb_socket (ZMQ_DEALER, tb_backend ());
    int64_t started = support_now_ms ();
    s_flood (flooder, (const char *[]) { "garbage" }, (size_t[]) { 7 }, 1);
    tb_send (producer, tb_submit_msg ("good", "echo", NULL, 0, 1, false));
    tb_expect_accepted (producer, 1, 1, NULL);
    s_expect_limited (tb_log_path (), "frontend: BAD_FRAMES", "frontend refused: ", started);

    //  The backend: an agent's commands before HELLO.
    started = support_now_ms ();
    s_flood (stranger, (const char *[]) { "DRV1", "CREDIT", "\x81\xa6" "credit\x01" },
             (size_t[]) { 4, 6, 9 }, 3);
    zsock_t *agent = tb_agent ("good", 1);
    cr_assert_not_null (agent);
    s_expect_limited (tb_log_path (), "UNEXPECTED: CREDIT before HELLO", "backend refused: ",
                      started);
}

Test (hostile_logs, names_and_reasons_cannot_forge_broker_lines)
{
    tb_start (NULL);
    zsock_t *agent = tb_agent ("evil" FORGED, 1);
    cr_assert_not_null (agent);
    zsock_t *producer = tb_socket (ZMQ_DEALER, tb_frontend ());
    char reason[128] = "";
    for (int i = 0; i < 100; i++)
        strcat (reason, "\n");
    msg_t *error = msg_new (MSG_ERROR);
    msg_set_uint (error, MSG_F_CODE, DRV_E_INTERNAL);
    msg_set_str (error, MSG_F_REASON, reason);
    tb_send (producer, error);
    tb_send (producer, tb_submit_msg ("job" FORGED, "echo", "batch" FORGED, 0, 1, false));
    tb_expect_accepted (producer, 1, 1, "batch" FORGED);
    cr_assert (SUPPORT_WAIT (tb_log_has ("agent evil\\nFAKE-LOG-LINE broker INFO all good joined")
                             && tb_log_has ("job job\\nFAKE-LOG-LINE broker INFO all good created")
                             && tb_log_has ("frontend: peer sent ERROR INTERNAL: \\n\\n\\n"), 5000),
               "log:\n%s", support_slurp (tb_log_path ()));
    s_expect_stamped (tb_log_path ());
}

//  The sink: a flood, and a job and an agent named with newlines.
Test (hostile_logs, the_sink_limits_and_escapes)
{
    rig_t *rig = rig_new ();
    rig_start (rig, NULL);
    int64_t started = support_now_ms ();
    s_flood (rig->agent, (const char *[]) { "garbage" }, (size_t[]) { 7 }, 1);
    s_expect_limited (rig->log_path, "bad message from a peer", "bad messages: ", started);

    msg_ref_t ref = { 1, 1 };
    rig_batch_t batch;
    rig_batch_begin (&batch, 1);
    rig_batch_record (&batch, ref.id, ref.attempt, true);
    msg_t *result = msg_new (MSG_RESULT);
    msg_set_version (result, 1);     //  its records are maps
    msg_set_str (result, MSG_F_JOB, "job" FORGED);
    msg_set_str (result, MSG_F_AGENT, "agent" FORGED);
    msg_set_refs (result, MSG_F_TUPLES, &ref, 1);
    zframe_t *frame = zframe_new (batch.buffer.data, batch.buffer.size);
    msgpack_sbuffer_destroy (&batch.buffer);
    msg_payload_append (result, &frame);
    cr_assert_eq (wire_send (&result, rig->agent, NULL), 0);
    msg_t *reply = NULL;
    cr_assert_eq (wire_recv (rig->agent, NULL, &reply), 0);
    rig_expect_stored (reply, "job" FORGED, &ref, 1);
    msg_destroy (&reply);
    cr_assert (SUPPORT_WAIT (rig_log_has (rig, "job job\\nFAKE-LOG-LINE broker INFO all good: "
                                          "first results"), 5000));
    s_expect_stamped (rig->log_path);
    rig_destroy (&rig);
}

//  The agent, under a broker that floods it with ERRORs and garbage whose
//  reasons hold newlines.
Test (hostile_logs, the_agent_limits_and_escapes)
{
    zsock_t *broker = zsock_new (ZMQ_ROUTER);
    cr_assert_not_null (broker);
    zsock_set_linger (broker, 0);
    zsock_set_sndhwm (broker, 0);       //  a ROUTER drops what is over it
    char endpoint[64];
    bool bound = false;
    for (int tries = 0; tries < 5 && !bound; tries++) {
        snprintf (endpoint, sizeof endpoint, "%s", support_endpoint ());
        bound = zsock_bind (broker, "%s", endpoint) != -1;
    }
    cr_assert (bound);
    char *dir = support_tmpdir ();
    char log[300];
    snprintf (log, sizeof log, "%s/agent.log", dir);
    pid_t pid = support_spawn (log, "agent", "--broker", endpoint, "--name", "flooded",
                               "--processes", "1", "--threads", "1", "--grace-ms", "2000",
                               NULL);
    cr_assert_gt (pid, 0);
    zsock_set_rcvtimeo (broker, 10000);
    zmsg_t *envelope = NULL;
    msg_t *hello = NULL;
    cr_assert_eq (wire_recv (broker, &envelope, &hello), 0, "no HELLO");
    cr_assert_eq (msg_command (hello), MSG_HELLO);
    msg_destroy (&hello);
    msg_t *welcome = msg_new (MSG_WELCOME);
    msg_set_uint (welcome, MSG_F_HEARTBEAT_MS, 1000);
    cr_assert_eq (wire_send (&welcome, broker, envelope), 0);

    int64_t started = support_now_ms ();
    for (int i = 0; i < FLOOD / 2; i++)
        wire_send_error (broker, envelope, MSG_VERSION, DRV_E_INTERNAL, "broken" FORGED);
    for (int i = 0; i < FLOOD / 2; i++) {
        zmsg_t *garbage = zmsg_dup (envelope);
        zmsg_addstr (garbage, "garbage");
        cr_assert_eq (zmsg_send (&garbage, broker), 0);
    }
    //  The agent answers each garbage message: then it has read them all.
    for (int answered = 0; answered < FLOOD / 2;) {
        zmsg_t *from = NULL;
        msg_t *msg = NULL;
        int rc = wire_recv (broker, &from, &msg);
        cr_assert_eq (rc, 0, "the agent stopped answering after %d", answered);
        answered += msg_command (msg) == MSG_ERROR;
        msg_destroy (&msg);
        zmsg_destroy (&from);
    }
    //  What it held back it counts when it stops.
    int status = support_stop (pid, SIGTERM, 10000);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "status %d", status);
    size_t lines = support_count_text (log, "answered ERROR INTERNAL: broken\\nFAKE-LOG-LINE")
                 + support_count_text (log, "bad message from broker");
    cr_assert_eq (lines + support_sum_after (log, "broker errors: "), FLOOD,
                  "log:\n%s", support_slurp (log));
    int64_t seconds = (support_now_ms () - started) / 1000 + 2;
    cr_assert_leq (lines, (size_t) (PER_SEC * seconds), "%zu lines in %ld s", lines,
                   (long) seconds);
    s_expect_stamped (log);
    zmsg_destroy (&envelope);
    zsock_destroy (&broker);
    support_rmdir (&dir);
}
