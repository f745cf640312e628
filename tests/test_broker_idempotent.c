//  test_broker_idempotent.c -- idempotent SUBMIT (PROTOCOL.md 4.1): the
//  broker answers a retry of any (batch, tuples) pair it accepted within
//  --batch-memory with the first answer, not only the latest pair of a
//  batch id, and it still does after a kill -9 and restart.
#include "support_broker.h"

#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

TestSuite (broker, .fini = tb_fini, .timeout = 120);

//  SUBMIT the tuple tagged tag to job "x" with batch; expect ids first.
static void
s_submit (zsock_t *req, const char *batch, uint32_t tag, uint64_t first)
{
    tb_send (req, tb_submit_msg ("x", "echo", batch, tag, 1, false));
    tb_expect_accepted (req, first, 1, batch);
}

Test (broker, every_batch_and_tuples_pair_is_remembered)
{
    tb_start (NULL);
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    s_submit (req, "x1", 1, 1);         //  t1
    s_submit (req, "x1", 2, 2);         //  t2 under the same batch id: new
    s_submit (req, "x1", 1, 1);         //  a retry of the first: its answer
    s_submit (req, "x1", 2, 2);         //  and of the second
    s_submit (req, "x2", 1, 3);         //  t1 under another batch id: new
    //  The queue holds t1, t2, t1: once per batch accepted.
    cr_assert (tb_status_is (req, "x", (tb_counts_t) { "open", 3, 3, 0, 0, 0 }));

    if (getenv ("DROVER_TEST_STORE") && !strcmp (getenv ("DROVER_TEST_STORE"), "memory"))
        return;                 //  nothing survives a restart there
    tb_crash_and_restart ();
    req = tb_socket (ZMQ_REQ, tb_frontend ());
    s_submit (req, "x1", 1, 1);
    s_submit (req, "x1", 2, 2);
    s_submit (req, "x2", 1, 3);
    s_submit (req, "x1", 3, 4);
    cr_assert_eq (tb_status_field (req, "x", MSG_F_SUBMITTED), 4);
}

Test (broker, the_window_counts_pairs)
{
    tb_start ("--batch-memory", "2", NULL);
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    s_submit (req, "x1", 1, 1);
    s_submit (req, "x1", 2, 2);
    s_submit (req, "x1", 1, 1);
    s_submit (req, "x1", 3, 3);         //  the third pair: the first is forgotten
    s_submit (req, "x1", 2, 2);
    s_submit (req, "x1", 1, 4);         //  new again
    cr_assert_eq (tb_status_field (req, "x", MSG_F_SUBMITTED), 4);
}
