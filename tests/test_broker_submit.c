//  test_broker_submit.c -- the broker's producer side, black-box: SUBMIT
//  over REQ, DEALER (pipelined) and PUSH, ids in order, STATUS, job errors
//  (unknown, conflicting, closed), and idempotent SUBMIT by batch id.
#include "support_broker.h"

#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

TestSuite (broker, .fini = tb_fini, .timeout = 120);

Test (broker, req_producer_gets_ids_in_order)
{
    tb_start (NULL);
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    tb_send (req, tb_submit_msg ("scan", "echo", "one", 1, 5, false));
    tb_expect_accepted (req, 1, 5, "one");
    tb_send (req, tb_submit_msg ("scan", NULL, NULL, 6, 3, false));
    tb_expect_accepted (req, 6, 3, NULL);
    //  Same handler and sink again is fine; an empty batch is accepted.
    tb_send (req, tb_submit_msg ("scan", "echo", "empty", 0, 0, false));
    tb_expect_accepted (req, 9, 0, "empty");
    cr_assert (tb_status_is (req, "scan", (tb_counts_t) { "open", 8, 8, 0, 0, 0 }));
    cr_assert (SUPPORT_WAIT (tb_log_has ("job scan created (handler echo, sink " TB_SINK ")"),
                             2000));
    cr_assert (tb_log_has ("broker ready: frontend tcp://127.0.0.1:"));
}

Test (broker, binds_every_endpoint_of_a_list)
{
    tb_use_frontend (support_endpoint ());
    char second[64], list[160];
    snprintf (second, sizeof second, "%s", support_endpoint ());
    snprintf (list, sizeof list, "%s,%s", tb_frontend (), second);
    tb_start ("--frontend", list, NULL);
    zsock_t *one = tb_socket (ZMQ_REQ, tb_frontend ());
    zsock_t *two = tb_socket (ZMQ_REQ, second);
    tb_send (one, tb_submit_msg ("both", "echo", NULL, 0, 2, false));
    tb_expect_accepted (one, 1, 2, NULL);
    tb_send (two, tb_submit_msg ("both", NULL, NULL, 0, 2, false));
    tb_expect_accepted (two, 3, 2, NULL);
    cr_assert (tb_log_has (list), "the ready line names every endpoint");
}

Test (broker, dealer_producer_pipelines)
{
    tb_start (NULL);
    zsock_t *dealer = tb_socket (ZMQ_DEALER, tb_frontend ());
    //  Ten batches without waiting; replies are matched by batch.
    for (int i = 0; i < 10; i++) {
        char batch[16];
        snprintf (batch, sizeof batch, "b%d", i);
        tb_send (dealer, tb_submit_msg ("pipe", i == 0? "echo": NULL, batch,
                                      (uint32_t) i * 100, 100, false));
    }
    bool seen[10] = { false };
    for (int i = 0; i < 10; i++) {
        msg_t *reply = tb_recv (dealer, 5000);
        cr_assert_not_null (reply);
        cr_assert_eq (msg_command (reply), MSG_ACCEPTED);
        int b = atoi (msg_str (reply, MSG_F_BATCH) + 1);
        cr_assert (b >= 0 && b < 10 && !seen[b]);
        seen[b] = true;
        //  One connection is served in order: batch b holds ids b*100+1...
        cr_assert_eq (msg_uint (reply, MSG_F_FIRST), (uint64_t) b * 100 + 1);
        cr_assert_eq (msg_uint (reply, MSG_F_COUNT), 100);
        msg_destroy (&reply);
    }
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    cr_assert (tb_status_is (req, "pipe", (tb_counts_t) { "open", 1000, 1000, 0, 0, 0 }));
}

Test (broker, push_intake_submits)
{
    tb_start (NULL);
    zsock_t *push = tb_socket (ZMQ_PUSH, tb_intake ());
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    tb_send (push, tb_submit_msg ("fire", "echo", NULL, 0, 50, false));
    tb_send (push, tb_submit_msg ("fire", NULL, NULL, 50, 70, true));
    cr_assert (SUPPORT_WAIT (tb_status_is (req, "fire",
                                           (tb_counts_t) { "closed", 120, 120, 0, 0, 0 }),
                             5000));
    //  Refusals on the intake are logged, not answered.
    tb_send (push, tb_submit_msg ("fire", NULL, NULL, 0, 1, false));
    cr_assert (SUPPORT_WAIT (tb_log_has ("intake: JOB_CLOSED"), 5000));
    zmsg_t *garbage = zmsg_new ();
    zmsg_addstr (garbage, "no protocol here");
    zmsg_send (&garbage, push);
    cr_assert (SUPPORT_WAIT (tb_log_has ("intake: BAD_FRAMES"), 5000));
    tb_send (push, tb_submit_msg ("more", "echo", NULL, 0, 3, false));
    cr_assert (SUPPORT_WAIT (tb_status_is (req, "more", (tb_counts_t) { "open", 3, 3, 0, 0, 0 }),
                             5000));
}

Test (broker, job_errors)
{
    tb_start (NULL);
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    msg_t *reply = tb_status (req, "nothing");
    cr_assert_eq (msg_command (reply), MSG_ERROR);
    cr_assert_eq (msg_uint (reply, MSG_F_CODE), DRV_E_UNKNOWN_JOB);
    msg_destroy (&reply);

    //  A new job needs handler and sink.
    tb_send (req, tb_submit_msg ("nohandler", NULL, "x", 0, 2, false));
    reply = tb_expect_error (req, DRV_E_UNKNOWN_JOB);
    cr_assert_str_eq (msg_str (reply, MSG_F_BATCH), "x", "ERROR echoes the batch");
    msg_destroy (&reply);

    tb_send (req, tb_submit_msg ("job", "echo", NULL, 0, 2, false));
    tb_expect_accepted (req, 1, 2, NULL);
    msg_t *conflict = tb_submit_msg ("job", "sleep", NULL, 0, 1, false);
    tb_send (req, conflict);
    tb_refused (req, DRV_E_CONFLICT);
    conflict = tb_submit_msg ("job", NULL, NULL, 0, 1, false);
    msg_set_str (conflict, MSG_F_SINK, "tcp://127.0.0.1:1");
    tb_send (req, conflict);
    tb_refused (req, DRV_E_CONFLICT);

    //  Close with a last batch; then the job takes nothing more.
    tb_send (req, tb_submit_msg ("job", NULL, NULL, 2, 1, true));
    tb_expect_accepted (req, 3, 1, NULL);
    tb_send (req, tb_submit_msg ("job", NULL, NULL, 0, 0, true));
    tb_refused (req, DRV_E_JOB_CLOSED);
    tb_send (req, tb_submit_msg ("job", NULL, NULL, 0, 1, false));
    tb_refused (req, DRV_E_JOB_CLOSED);
    //  None of the refused SUBMITs changed anything.
    cr_assert (tb_status_is (req, "job", (tb_counts_t) { "closed", 3, 3, 0, 0, 0 }));
    cr_assert (tb_status_is (req, "job", (tb_counts_t) { "closed", 3, 3, 0, 0, 0 }));

    //  A job closed empty is complete at once.
    tb_send (req, tb_submit_msg ("empty", "echo", NULL, 0, 0, true));
    tb_expect_accepted (req, 1, 0, NULL);
    cr_assert (tb_status_is (req, "empty", (tb_counts_t) { "complete", 0, 0, 0, 0, 0 }));
    //  A job name is a store key: 255 bytes at most.
    char name[300];
    memset (name, 'n', sizeof name - 1);
    name[sizeof name - 1] = 0;
    tb_send (req, tb_submit_msg (name, "echo", NULL, 0, 1, false));
    tb_refused (req, DRV_E_TOO_LARGE);
    name[255] = 0;
    tb_send (req, tb_submit_msg (name, "echo", NULL, 0, 1, false));
    tb_expect_accepted (req, 1, 1, NULL);
}

Test (broker, retried_submit_is_a_no_op)
{
    tb_start ("--batch-memory", "2", NULL);
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    tb_send (req, tb_submit_msg ("work", "echo", "b1", 1, 5, false));
    tb_expect_accepted (req, 1, 5, "b1");
    tb_send (req, tb_submit_msg ("work", "echo", "b1", 1, 5, false));
    tb_expect_accepted (req, 1, 5, "b1");
    cr_assert_eq (tb_status_field (req, "work", MSG_F_SUBMITTED), 5);
    //  Over the intake too (no answer: the count tells).
    zsock_t *push = tb_socket (ZMQ_PUSH, tb_intake ());
    tb_send (push, tb_submit_msg ("work", NULL, "b2", 6, 3, false));
    tb_send (push, tb_submit_msg ("work", NULL, "b2", 6, 3, false));
    tb_send (push, tb_submit_msg ("work", NULL, "b1", 1, 5, false));
    cr_assert (SUPPORT_WAIT (tb_status_field (req, "work", MSG_F_SUBMITTED) == 8, 5000));
    tb_send (req, tb_submit_msg ("work", NULL, "b2", 6, 3, false));
    tb_expect_accepted (req, 6, 3, "b2");
    cr_assert_eq (tb_status_field (req, "work", MSG_F_SUBMITTED), 8);
    //  Only the last --batch-memory batches are remembered: b1 is new again.
    tb_send (req, tb_submit_msg ("work", NULL, "b3", 9, 1, false));
    tb_expect_accepted (req, 9, 1, "b3");
    tb_send (req, tb_submit_msg ("work", NULL, "b1", 1, 5, false));
    tb_expect_accepted (req, 10, 5, "b1");
    cr_assert (SUPPORT_WAIT (tb_log_has ("already accepted"), 2000));
    //  A batch id reused for other tuples is not a retry.
    tb_send (req, tb_submit_msg ("work", NULL, "b1", 100, 5, false));
    tb_expect_accepted (req, 15, 5, "b1");
    //  A retry of the closing SUBMIT is answered after the job closed.
    tb_send (req, tb_submit_msg ("work", NULL, "last", 200, 2, true));
    tb_expect_accepted (req, 20, 2, "last");
    tb_send (req, tb_submit_msg ("work", NULL, "last", 200, 2, true));
    tb_expect_accepted (req, 20, 2, "last");
    tb_send (req, tb_submit_msg ("work", NULL, "other", 300, 2, true));
    tb_refused (req, DRV_E_JOB_CLOSED);
    cr_assert_eq (tb_status_field (req, "work", MSG_F_SUBMITTED), 21);
}
