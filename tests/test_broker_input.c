//  test_broker_input.c -- what the broker does with input it must refuse:
//  malformed messages on the frontend and the backend (each answered with
//  its ERROR code, the sender and everyone else still served), frames over
//  the message size, and usage errors on the command line.
#include "support_broker.h"

#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

TestSuite (broker, .fini = tb_fini, .timeout = 120);

Test (broker, bad_input_does_not_disturb_others)
{
    tb_start (NULL);
    zsock_t *bad = tb_socket (ZMQ_DEALER, tb_frontend ());
    zsock_t *good = tb_socket (ZMQ_REQ, tb_frontend ());
    static const char header[] = "\x81\xa3job\xa1j";     //  {"job": "j"}
    struct {
        const char *frames[4];
        size_t sizes[4];
        size_t count;
        int code;
    } cases[] = {
        { { "garbage" }, { 7 }, 1, DRV_E_BAD_FRAMES },
        { { "DRV1", "SUBMIT" }, { 4, 6 }, 2, DRV_E_BAD_FRAMES },
        { { "DRV9", "STATUS", header }, { 4, 6, 7 }, 3, DRV_E_BAD_VERSION },
        { { "DRV1", "FROBNICATE", header }, { 4, 10, 7 }, 3, DRV_E_UNKNOWN_COMMAND },
        { { "DRV1", "STATUS", "\xc1" }, { 4, 6, 1 }, 3, DRV_E_BAD_HEADER },
        { { "DRV1", "STATUS", "\x81\xa3job" }, { 4, 6, 5 }, 3, DRV_E_BAD_HEADER },
        { { "DRV1", "STATUS", "\x80" }, { 4, 6, 1 }, 3, DRV_E_MISSING_FIELD },
        { { "DRV1", "STATUS", "\x81\xa3job\x07" }, { 4, 6, 6 }, 3, DRV_E_BAD_TYPE },
        { { "DRV1", "HELLO", "\x82\xa5" "agent\xa1" "a\xa5slots\x01" }, { 4, 5, 16 }, 3,
          DRV_E_UNEXPECTED },
        { { "DRV1", "STATUS", header, "extra" }, { 4, 6, 7, 5 }, 4, DRV_E_BAD_FRAMES },
    };
    size_t count = sizeof cases / sizeof cases[0];
    uint64_t next_id = 1;
    for (size_t i = 0; i < count; i++) {
        tb_send_raw (bad, cases[i].frames, cases[i].sizes, cases[i].count);
        tb_send (good, tb_submit_msg ("good", "echo", NULL, 0, 2, false));
        msg_t *reply = tb_expect_error (bad, cases[i].code);
        msg_destroy (&reply);
        tb_expect_accepted (good, next_id, 2, NULL);
        next_id += 2;
    }
    msg_t *reply = NULL;
    //  BAD_VERSION names the versions the broker speaks.
    tb_send_raw (bad, cases[2].frames, cases[2].sizes, cases[2].count);
    reply = tb_expect_error (bad, DRV_E_BAD_VERSION);
    cr_assert (strstr (msg_str (reply, MSG_F_REASON), "1"));
    msg_destroy (&reply);

    //  A 2 MiB tuple (over the 1 MiB default), then the good producer again.
    msg_t *huge = tb_submit_msg ("huge", "echo", "h", 0, 1, false);
    zframe_t *frame = tb_bin (2 * 1024 * 1024);
    msg_payload_append (huge, &frame);
    tb_send (bad, huge);
    tb_send (good, tb_submit_msg ("good", NULL, NULL, 0, 2, false));
    reply = tb_expect_error (bad, DRV_E_TOO_LARGE);
    cr_assert_str_eq (msg_str (reply, MSG_F_BATCH), "h");
    msg_destroy (&reply);
    tb_expect_accepted (good, next_id, 2, NULL);

    //  The bad socket itself still works when it behaves.
    tb_send (bad, tb_submit_msg ("good", NULL, "ok", 0, 1, false));
    tb_expect_accepted (bad, next_id + 2, 1, "ok");
    cr_assert (SUPPORT_WAIT (tb_log_has ("frontend: UNKNOWN_COMMAND"), 2000));
}

Test (broker, frame_over_max_message_size_drops_only_that_peer)
{
    tb_start ("--max-message-size", "64K", "--max-tuple-size", "1M", NULL);
    zsock_t *rude = tb_socket (ZMQ_DEALER, tb_frontend ());
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    msg_t *submit = tb_submit_msg ("rude", "echo", NULL, 0, 0, false);
    zframe_t *frame = tb_bin (100 * 1024);
    msg_payload_append (submit, &frame);
    tb_send (rude, submit);
    //  libzmq drops the connection: no answer, no job, broker still serving.
    tb_send (req, tb_submit_msg ("polite", "echo", NULL, 0, 3, false));
    tb_expect_accepted (req, 1, 3, NULL);
    msg_t *reply = tb_recv (rude, 300);
    cr_assert_null (reply, "an oversized frame got an answer");
    reply = tb_status (req, "rude");
    cr_assert_eq (msg_uint (reply, MSG_F_CODE), DRV_E_UNKNOWN_JOB);
    msg_destroy (&reply);
}

Test (broker, backend_refuses_before_hello_and_producer_commands)
{
    tb_start (NULL);
    zsock_t *stranger = tb_socket (ZMQ_DEALER, tb_backend ());
    tb_credit (stranger, 5);
    tb_refused (stranger, DRV_E_UNEXPECTED);
    zsock_t *agent = tb_agent ("a", 1);
    tb_send (agent, tb_submit_msg ("job", "echo", NULL, 0, 1, false));
    tb_refused (agent, DRV_E_UNEXPECTED);
    const char *frames[] = { "DRV1", "DONE", "\x80" };
    tb_send_raw (agent, frames, (size_t[]) { 4, 4, 1 }, 3);
    tb_refused (agent, DRV_E_MISSING_FIELD);
}

Test (broker, help_and_usage_errors)
{
    char *dir = support_tmpdir ();
    char log[512];
    snprintf (log, sizeof log, "%s/out", dir);
    pid_t pid = support_spawn (log, "broker", "--help", NULL);
    int status = -1;
    cr_assert (SUPPORT_WAIT (support_exited (pid, &status), 10000));
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    char *text = support_slurp (log);
    cr_assert (text && strstr (text, "--max-queued") && strstr (text, "DROVER_HEARTBEAT_MS"));
    free (text);
    const char *bad[][2] = {
        { "--store", "disk" }, { "--heartbeat-ms", "soon" }, { "--max-tuple-size", "1Q" },
        { "--max-batch", "0" }, { "--log-level", "loud" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pid = support_spawn (log, "broker", bad[i][0], bad[i][1], NULL);
        cr_assert (SUPPORT_WAIT (support_exited (pid, &status), 10000));
        cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 2,
                   "%s %s should be a usage error", bad[i][0], bad[i][1]);
    }
    support_rmdir (&dir);
}
