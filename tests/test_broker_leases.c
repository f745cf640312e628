//  test_broker_leases.c -- tuples that do not come back, black-box: leases
//  that expire (and TOUCH that extends them), the back-off before a retry,
//  attempts used up becoming dead letters, and a broker kill -9 that keeps
//  every accepted tuple (leased ones at the attempt they had).
#include "support_broker.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TestSuite (broker, .fini = tb_fini, .timeout = 120);

Test (broker, kill_9_keeps_every_accepted_tuple)
{
    if (getenv ("DROVER_TEST_STORE") && strcmp (getenv ("DROVER_TEST_STORE"), "lmdb"))
        cr_skip_test ("the memory store forgets by design");
    //  No reclaim grace: a2 is a new agent, and a1 never says HELLO again
    //  (test_broker_resume.c has the grace).
    tb_start ("--reclaim-ms", "0", NULL);
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    tb_send (req, tb_submit_msg ("work", "echo", "b1", 1, 10, false));
    tb_expect_accepted (req, 1, 10, "b1");
    //  An agent takes 4 (leased), finishes 1; 2 more tuples wait.
    zsock_t *agent = tb_agent ("a1", 4);
    tb_got_t got[20];
    cr_assert_eq (tb_collect (agent, 300, got, 20, NULL), 4);
    tb_agent_send (agent, MSG_DONE, "work", (msg_ref_t[]) { { 1, 1 } }, 1, NULL, 0);
    cr_assert (SUPPORT_WAIT (tb_status_is (req, "work", (tb_counts_t) { "open", 10, 6, 3, 1, 0 }),
                             5000));
    tb_send (req, tb_submit_msg ("work", NULL, "b2", 11, 2, true));
    tb_expect_accepted (req, 11, 2, "b2");

    tb_crash_and_restart ();
    //  Everything acknowledged is back: 11 queued, the leased ones at the
    //  attempt they had (a broker restart spends none); the job is still
    //  closed.
    cr_assert (SUPPORT_WAIT (tb_status_is (req, "work",
                                           (tb_counts_t) { "closed", 12, 11, 0, 1, 0 }),
                             5000));
    //  The producer retries b2 (it never saw the answer, say): same ids.
    tb_send (req, tb_submit_msg ("work", NULL, "b2", 11, 2, true));
    tb_expect_accepted (req, 11, 2, "b2");
    zsock_t *fresh = tb_agent ("a2", 20);
    size_t n = tb_collect (fresh, 300, got, 20, NULL);
    cr_assert_eq (n, 11, "every accepted tuple not done is dispatched again");
    bool seen[13] = { false };
    for (size_t i = 0; i < n; i++) {
        cr_assert (got[i].id >= 2 && got[i].id <= 12 && !seen[got[i].id]);
        seen[got[i].id] = true;
        cr_assert_eq (got[i].attempt, 1,
                      "tuple %lu attempt %u", (unsigned long) got[i].id, got[i].attempt);
    }
    msg_ref_t done[11];
    for (size_t i = 0; i < n; i++)
        done[i] = (msg_ref_t) { got[i].id, got[i].attempt };
    tb_agent_send (fresh, MSG_DONE, "work", done, n, NULL, 0);
    cr_assert (SUPPORT_WAIT (tb_status_is (req, "work",
                                           (tb_counts_t) { "complete", 12, 0, 0, 12, 0 }),
                             5000));
    //  And a restart after completion keeps the counters.
    tb_crash_and_restart ();
    cr_assert (SUPPORT_WAIT (tb_status_is (req, "work",
                                           (tb_counts_t) { "complete", 12, 0, 0, 12, 0 }),
                             5000));
}

Test (broker, expired_lease_requeues_and_touch_extends)
{
    tb_start ("--heartbeat-ms", "100", "--lease-slack-ms", "0", "--retry-backoff-ms", "0", NULL);
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    msg_t *submit = tb_submit_msg ("work", "echo", NULL, 1, 2, false);
    msg_set_uint (submit, MSG_F_TIMEOUT_MS, 400);
    tb_send (req, submit);
    tb_expect_accepted (req, 1, 2, NULL);
    zsock_t *slow = tb_agent ("slow", 2);
    msg_t *work = tb_next_work (slow, 5000);
    cr_assert_not_null (work);
    cr_assert_eq (msg_uint (work, MSG_F_LEASE_MS), 400, "lease = timeout_ms + slack");
    size_t count;
    msg_refs (work, MSG_F_TUPLES, &count);
    cr_assert_eq (count, 2);
    msg_destroy (&work);
    //  The slow agent keeps tuple 1 alive with TOUCH, not tuple 2.
    zsock_t *other = tb_agent ("other", 5);
    msg_t *again = NULL;
    int64_t until = support_now_ms () + 3000;
    while (!again && support_now_ms () < until) {
        msg_t *touch = msg_new (MSG_TOUCH);
        msg_set_str (touch, MSG_F_JOB, "work");
        msg_set_refs (touch, MSG_F_TUPLES, (msg_ref_t[]) { { 1, 1 } }, 1);
        msg_set_uint (touch, MSG_F_LEASE_MS, 1000);
        tb_send (slow, touch);
        again = tb_next_work (other, 100);
    }
    cr_assert_not_null (again, "the expired tuple was not queued again");
    const msg_ref_t *refs = msg_refs (again, MSG_F_TUPLES, &count);
    cr_assert_eq (count, 1);
    cr_assert_eq (refs[0].id, 2, "only the untouched tuple expires");
    cr_assert_eq (refs[0].attempt, 2, "an expired lease counts the attempt");
    msg_destroy (&again);
    tb_agent_send (other, MSG_DONE, "work", (msg_ref_t[]) { { 2, 2 } }, 1, NULL, 0);
    //  Tuple 1 stays with the slow agent as long as it touches.
    for (int i = 0; i < 8; i++) {
        msg_t *touch = msg_new (MSG_TOUCH);
        msg_set_str (touch, MSG_F_JOB, "work");
        msg_set_refs (touch, MSG_F_TUPLES, (msg_ref_t[]) { { 1, 1 } }, 1);
        msg_set_uint (touch, MSG_F_LEASE_MS, 1000);
        tb_send (slow, touch);
        msg_t *none = tb_next_work (other, 100);
        cr_assert_null (none, "a touched lease expired; log:\n%s", support_slurp (tb_log_path ()));
    }
    cr_assert (tb_status_is (req, "work", (tb_counts_t) { "open", 2, 0, 1, 1, 0 }));
    //  The slow agent's late DONE for tuple 2 is a duplicate: ignored.
    tb_agent_send (slow, MSG_DONE, "work", (msg_ref_t[]) { { 1, 1 }, { 2, 1 } }, 2, NULL, 0);
    cr_assert (SUPPORT_WAIT (tb_status_is (req, "work", (tb_counts_t) { "open", 2, 0, 0, 2, 0 }),
                             5000));
    cr_assert (tb_log_has ("leases expired"));
}

Test (broker, exhausted_attempts_become_dead_letters)
{
    tb_start ("--heartbeat-ms", "100", NULL);
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    msg_t *submit = tb_submit_msg ("work", "echo", NULL, 1, 1, true);
    msg_set_uint (submit, MSG_F_MAX_ATTEMPTS, 2);
    tb_send (req, submit);
    tb_expect_accepted (req, 1, 1, NULL);
    //  Two agents in turn take the tuple and die silently (lost).
    for (int round = 0; round < 2; round++) {
        char name[16];
        snprintf (name, sizeof name, "doomed%d", round);
        zsock_t *doomed = tb_agent (name, 1);
        msg_t *work = NULL;
        while (!work) {
            work = tb_recv (doomed, 5000);
            cr_assert_not_null (work);
            if (msg_command (work) != MSG_WORK)
                msg_destroy (&work);
        }
        cr_assert_null (msg_str (work, MSG_F_DEAD_LETTER));
        msg_destroy (&work);
        char lost[64];
        snprintf (lost, sizeof lost, "agent %s lost", name);
        cr_assert (SUPPORT_WAIT (tb_log_has (lost), 5000));
    }
    //  Attempts used up: the next agent gets it as a dead letter.
    zsock_t *agent = tb_agent ("last", 5);
    msg_t *work = tb_next_work (agent, 5000);
    cr_assert_not_null (work);
    const char *reason = msg_str (work, MSG_F_DEAD_LETTER);
    cr_assert (reason && strstr (reason, "attempts exhausted"), "dead_letter: %s",
               reason? reason: "(none)");
    size_t count;
    const msg_ref_t *refs = msg_refs (work, MSG_F_TUPLES, &count);
    cr_assert_eq (count, 1);
    cr_assert_eq (msg_tuple_count (work), 1, "the dead letter carries its tuple");
    cr_assert_eq (refs[0].attempt, 2, "the last attempt that ran");
    msg_ref_t dead = refs[0];
    msg_destroy (&work);
    cr_assert (tb_status_is (req, "work", (tb_counts_t) { "closed", 1, 0, 1, 0, 0 }));
    tb_agent_send (agent, MSG_DONE, "work", (msg_ref_t[]) { { 0, 0 } }, 0, &dead, 1);
    cr_assert (SUPPORT_WAIT (tb_status_is (req, "work",
                                           (tb_counts_t) { "complete", 1, 0, 0, 0, 1 }),
                             5000));
}

Test (broker, retry_backs_off)
{
    tb_start ("--retry-backoff-ms", "400", NULL);
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    tb_fill (req, "work", 1);
    zsock_t *agent = tb_agent ("a1", 2);
    msg_t *work = tb_next_work (agent, 5000);
    cr_assert_not_null (work);
    msg_destroy (&work);
    int64_t sent = support_now_ms ();
    tb_agent_send (agent, MSG_RETRY, "work", (msg_ref_t[]) { { 1, 1 } }, 1, NULL, 0);
    work = tb_next_work (agent, 5000);
    cr_assert_not_null (work);
    int64_t waited = support_now_ms () - sent;
    size_t count;
    const msg_ref_t *refs = msg_refs (work, MSG_F_TUPLES, &count);
    cr_assert_eq (refs[0].attempt, 2);
    cr_assert_geq (waited, 350, "attempt 2 came after %ld ms, before the back-off", (long) waited);
    msg_destroy (&work);
}
