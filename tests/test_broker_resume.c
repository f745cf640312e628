//  test_broker_resume.c -- an agent's reconnect is a re-handshake, black-box
//  (PROTOCOL.md 4.2): its new HELLO names the tuples it holds (`held`), and
//  the broker resumes them as its leases at their attempt, after a kill -9
//  of the broker (from the queue, during the reclaim grace) or on a new
//  connection to a broker that kept running (from the old session).
#include "support_broker.h"
#include "proto/holdings.h"

#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

TestSuite (broker, .fini = tb_fini, .timeout = 120);

//  An agent that says HELLO with slots naming refs of job as held.
static zsock_t *
s_agent_holding (const char *name, uint64_t slots, const char *job,
                 const msg_ref_t *refs, size_t count)
{
    zsock_t *agent = tb_socket (ZMQ_DEALER, tb_backend ());
    msg_t *hello = msg_new (MSG_HELLO);
    msg_set_str (hello, MSG_F_AGENT, name);
    msg_set_uint (hello, MSG_F_SLOTS, slots);
    holdings_t *held = holdings_new ();
    for (size_t i = 0; i < count; i++)
        cr_assert_eq (holdings_add (held, job, refs[i]), 0);
    void *data = NULL;
    size_t size = 0, named = 0;
    cr_assert_eq (holdings_encode (held, 60000, &data, &size, &named), 0);
    cr_assert_eq (named, count);
    cr_assert_eq (msg_set_raw (hello, MSG_F_HELD, data, size), 0);
    free (data);
    holdings_destroy (&held);
    tb_send (agent, hello);
    msg_t *welcome = tb_recv (agent, 5000);
    cr_assert_not_null (welcome, "no WELCOME");
    cr_assert_eq (msg_command (welcome), MSG_WELCOME);
    msg_destroy (&welcome);
    return agent;
}

Test (broker, hello_naming_held_tuples_resumes_them_after_a_restart)
{
    if (getenv ("DROVER_TEST_STORE") && strcmp (getenv ("DROVER_TEST_STORE"), "lmdb"))
        cr_skip_test ("the memory store forgets by design");
    //  Heartbeats slow enough that the agents here, silent while they
    //  wait out the grace, are not lost meanwhile.
    tb_start ("--reclaim-ms", "4000", "--heartbeat-ms", "5000", NULL);
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    tb_send (req, tb_submit_msg ("work", "echo", NULL, 1, 6, true));
    tb_expect_accepted (req, 1, 6, NULL);
    zsock_t *a1 = tb_agent ("a1", 4);
    tb_got_t got[10];
    cr_assert_eq (tb_collect (a1, 300, got, 10, NULL), 4);

    tb_crash_and_restart ();
    //  During the reclaim grace no WORK goes out, even to an agent with
    //  credit: a1 has not said HELLO again yet.
    zsock_t *a2 = tb_agent ("a2", 10);
    cr_assert_eq (tb_collect (a2, 300, got, 10, NULL), 0, "WORK during the reclaim grace");
    //  a1 reconnects holding 1 and 2 (stored, DONE not sent yet) and 3
    //  (running); 4 it does not name.  No free slot: the rest goes to a2.
    msg_ref_t held[] = { { 1, 1 }, { 2, 1 }, { 3, 1 } };
    zsock_t *again = s_agent_holding ("a1", 0, "work", held, 3);
    cr_assert (SUPPORT_WAIT (tb_status_is (req, "work",
                                           (tb_counts_t) { "closed", 6, 3, 3, 0, 0 }),
                             5000), "the 3 named are running again, the rest queued");
    tb_agent_send (again, MSG_DONE, "work", held, 2, NULL, 0);
    cr_assert (SUPPORT_WAIT (tb_status_is (req, "work",
                                           (tb_counts_t) { "closed", 6, 3, 1, 2, 0 }),
                             5000), "the DONE that followed HELLO counts");
    //  After the grace the rest goes out, at the attempt it had: the
    //  restart spent none, and nothing a1 holds runs again.
    msg_t *work = tb_next_work (a2, 10000);
    cr_assert_not_null (work, "no WORK after the reclaim grace");
    msg_destroy (&work);
    size_t n = tb_collect (a2, 300, got, 10, NULL);
    cr_assert_leq (n, 3);
    for (size_t i = 0; i < n; i++) {
        cr_assert (got[i].id >= 4 && got[i].id <= 6, "tuple %lu", (unsigned long) got[i].id);
        cr_assert_eq (got[i].attempt, 1);
    }
    //  The first WORK's tuples were not collected: finish them by id.
    msg_ref_t rest[] = { { 4, 1 }, { 5, 1 }, { 6, 1 } };
    tb_agent_send (a2, MSG_DONE, "work", rest, 3, NULL, 0);
    tb_agent_send (again, MSG_DONE, "work", &held[2], 1, NULL, 0);
    cr_assert (SUPPORT_WAIT (tb_status_is (req, "work",
                                           (tb_counts_t) { "complete", 6, 0, 0, 6, 0 }),
                             5000));
    cr_assert (tb_log_has ("agent a1 resumed its session: 3 of the 3 tuples"));
    cr_assert_not (tb_log_has ("UNEXPECTED"), "the reconnect counted an error");
}

Test (broker, a_new_connection_resumes_the_old_sessions_leases)
{
    tb_start ("--retry-backoff-ms", "0", NULL);
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    tb_send (req, tb_submit_msg ("work", "echo", NULL, 1, 2, true));
    tb_expect_accepted (req, 1, 2, NULL);
    zsock_t *old = tb_agent ("a1", 2);
    tb_got_t got[4];
    cr_assert_eq (tb_collect (old, 300, got, 4, NULL), 2);
    //  The same agent on a new connection, before the broker noticed the
    //  old one went: it holds tuple 1; tuple 2 it never got (say).
    msg_ref_t held[] = { { 1, 1 } };
    zsock_t *again = s_agent_holding ("a1", 1, "work", held, 1);
    //  Tuple 2 comes back at its attempt: a reconnect spends none.
    size_t n = tb_collect (again, 300, got, 4, NULL);
    cr_assert_eq (n, 1);
    cr_assert_eq (got[0].id, 2);
    cr_assert_eq (got[0].attempt, 1);
    msg_ref_t both[] = { { 1, 1 }, { 2, 1 } };
    tb_agent_send (again, MSG_DONE, "work", both, 2, NULL, 0);
    cr_assert (SUPPORT_WAIT (tb_status_is (req, "work",
                                           (tb_counts_t) { "complete", 2, 0, 0, 2, 0 }),
                             5000), "tuple 1's DONE counted: it was resumed, not requeued");
    cr_assert (tb_log_has ("queued again at their attempt"));
}

Test (broker, a_malformed_held_field_resumes_nothing)
{
    tb_start (NULL);
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    tb_send (req, tb_submit_msg ("work", "echo", NULL, 1, 1, true));
    tb_expect_accepted (req, 1, 1, NULL);
    zsock_t *agent = tb_socket (ZMQ_DEALER, tb_backend ());
    msg_t *hello = msg_new (MSG_HELLO);
    msg_set_str (hello, MSG_F_AGENT, "a1");
    msg_set_uint (hello, MSG_F_SLOTS, 1);
    //  {"work": "x"}: a map, but not of runs.
    cr_assert_eq (msg_set_raw (hello, MSG_F_HELD, "\x81\xa4work\xa1x", 8), 0);
    tb_send (agent, hello);
    //  Welcomed all the same, and given the tuple at its first attempt.
    msg_t *welcome = tb_recv (agent, 5000);
    cr_assert (welcome && msg_command (welcome) == MSG_WELCOME);
    msg_destroy (&welcome);
    msg_t *work = tb_next_work (agent, 5000);
    cr_assert_not_null (work);
    size_t count = 0;
    const msg_ref_t *refs = msg_refs (work, MSG_F_TUPLES, &count);
    cr_assert_eq (count, 1);
    cr_assert_eq (refs[0].id, 1);
    msg_destroy (&work);
    cr_assert (tb_log_has ("HELLO's held: malformed"));
}

Test (broker, a_late_message_of_an_ended_session_counts_no_error)
{
    tb_start ("--heartbeat-ms", "100", NULL);
    zsock_t *agent = tb_agent ("a1", 1);
    //  Silent past 3 heartbeats: lost.  Then its connection speaks again,
    //  as a partitioned agent's does when the link comes back.
    cr_assert (SUPPORT_WAIT (tb_log_has ("agent a1 lost"), 5000));
    tb_send (agent, msg_new (MSG_HEARTBEAT));
    msg_t *error = tb_expect_error (agent, DRV_E_UNEXPECTED);
    cr_assert (strstr (msg_str (error, MSG_F_REASON), "the session ended"), "%s",
               msg_str (error, MSG_F_REASON));
    msg_destroy (&error);
    cr_assert (SUPPORT_WAIT (tb_log_has ("HEARTBEAT on the connection of its ended session"),
                             5000));
    cr_assert_not (tb_log_has ("UNEXPECTED"), "counted as a refused message");
    //  A stranger's message before HELLO is still refused and counted.
    zsock_t *stranger = tb_socket (ZMQ_DEALER, tb_backend ());
    tb_send (stranger, msg_new (MSG_HEARTBEAT));
    error = tb_expect_error (stranger, DRV_E_UNEXPECTED);
    msg_destroy (&error);
    cr_assert (SUPPORT_WAIT (tb_log_has ("UNEXPECTED: HEARTBEAT before HELLO"), 5000));
}
