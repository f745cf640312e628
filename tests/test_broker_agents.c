//  test_broker_agents.c -- the broker's agent side, black-box, the test
//  playing agents over DEALERs: credit bounds what an agent holds, agents
//  take turns, DONE / RETRY / dead letters are counted, what an agent
//  held comes back when it says BYE or goes silent, and agents holding a
//  cancelled job's tuples are told to STOP.
#include "support_broker.h"

#include <criterion/criterion.h>

#include <string.h>

TestSuite (broker, .fini = tb_fini, .timeout = 120);

Test (broker, agent_gets_no_more_than_its_credit)
{
    tb_start (NULL);
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    tb_fill (req, "work", 10);
    zsock_t *agent = tb_agent ("a1", 3);
    tb_got_t got[10];
    size_t n = tb_collect (agent, 300, got, 10, NULL);
    cr_assert_eq (n, 3, "slots=3 but %zu tuples arrived", n);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq (got[i].id, i + 1, "oldest first");
        cr_assert_eq (got[i].attempt, 1);
        cr_assert_str_eq (got[i].job, "work");
    }
    cr_assert (tb_status_is (req, "work", (tb_counts_t) { "open", 10, 7, 3, 0, 0 }));

    tb_credit (agent, 2);
    n = tb_collect (agent, 300, got, 10, NULL);
    cr_assert_eq (n, 2);
    cr_assert_eq (got[0].id, 4);
    cr_assert_eq (got[1].id, 5);
    cr_assert (tb_status_is (req, "work", (tb_counts_t) { "open", 10, 5, 5, 0, 0 }));
    cr_assert (SUPPORT_WAIT (tb_log_has ("agent a1 joined (3 slots)"), 2000));
}

Test (broker, done_retry_and_dead_letters)
{
    //  No back-off: a retried tuple is first in line at once (the back-off
    //  has its own test).
    tb_start ("--retry-backoff-ms", "0", NULL);
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    tb_fill (req, "work", 6);
    zsock_t *agent = tb_agent ("a1", 4);
    tb_got_t got[10];
    cr_assert_eq (tb_collect (agent, 300, got, 10, NULL), 4);

    //  1 and 2 done, 3 a dead letter; a ref never held is ignored.
    msg_ref_t done[] = { { 1, 1 }, { 2, 1 }, { 99, 1 } };
    msg_ref_t dead[] = { { 3, 1 } };
    tb_agent_send (agent, MSG_DONE, "work", done, 3, dead, 1);
    cr_assert (SUPPORT_WAIT (tb_status_is (req, "work", (tb_counts_t) { "open", 6, 2, 1, 2, 1 }),
                             5000));
    //  Reported twice (a late duplicate): counted once.
    tb_agent_send (agent, MSG_DONE, "work", done, 2, NULL, 0);
    //  4 failed its first attempt: it is queued again, first in line.
    msg_ref_t retry[] = { { 4, 1 } };
    tb_agent_send (agent, MSG_RETRY, "work", retry, 1, NULL, 0);
    cr_assert (SUPPORT_WAIT (tb_status_is (req, "work", (tb_counts_t) { "open", 6, 3, 0, 2, 1 }),
                             5000));
    tb_credit (agent, 1);
    cr_assert_eq (tb_collect (agent, 300, got, 10, NULL), 1);
    cr_assert_eq (got[0].id, 4);
    cr_assert_eq (got[0].attempt, 2, "a retry counts the attempt");

    //  Retry it to its last attempt: a RETRY then makes it a dead letter,
    //  sent at once with its last attempt, so that the sink stores it as
    //  failed; the agent's DONE (dead) counts it failed.
    tb_agent_send (agent, MSG_RETRY, "work", (msg_ref_t[]) { { 4, 2 } }, 1, NULL, 0);
    tb_credit (agent, 1);
    cr_assert_eq (tb_collect (agent, 300, got, 10, NULL), 1);
    cr_assert_eq (got[0].id, 4);
    cr_assert_eq (got[0].attempt, 3);
    tb_agent_send (agent, MSG_RETRY, "work", (msg_ref_t[]) { { 4, 3 } }, 1, NULL, 0);
    cr_assert (SUPPORT_WAIT (tb_log_has ("on its last attempt (3 of 3); sent as a dead letter"),
                             2000));
    tb_credit (agent, 1);
    msg_t *letter = tb_next_work (agent, 5000);
    cr_assert_not_null (letter, "no dead letter WORK");
    cr_assert_str_eq (msg_str (letter, MSG_F_DEAD_LETTER), "attempts exhausted: handler failed");
    size_t dead_count = 0;
    const msg_ref_t *dead_refs = msg_refs (letter, MSG_F_TUPLES, &dead_count);
    cr_assert_eq (dead_count, 1);
    cr_assert_eq (dead_refs[0].id, 4);
    cr_assert_eq (dead_refs[0].attempt, 3, "a dead letter carries its last attempt");
    msg_destroy (&letter);
    tb_agent_send (agent, MSG_DONE, "work", done, 0, (msg_ref_t[]) { { 4, 3 } }, 1);
    cr_assert (SUPPORT_WAIT (tb_status_is (req, "work", (tb_counts_t) { "open", 6, 2, 0, 2, 2 }),
                             5000));

    //  Close and finish: the job completes.
    tb_send (req, tb_submit_msg ("work", NULL, NULL, 0, 0, true));
    tb_expect_accepted (req, 7, 0, NULL);
    tb_credit (agent, 2);
    cr_assert_eq (tb_collect (agent, 300, got, 10, NULL), 2);
    tb_agent_send (agent, MSG_DONE, "work", (msg_ref_t[]) { { 5, 1 }, { 6, 1 } }, 2, NULL, 0);
    cr_assert (SUPPORT_WAIT (tb_status_is (req, "work",
                                           (tb_counts_t) { "complete", 6, 0, 0, 4, 2 }),
                             5000));
    cr_assert (SUPPORT_WAIT (tb_log_has ("job work complete: 4 done, 2 failed"), 2000));

    //  DONE for a job that does not exist is refused.
    tb_agent_send (agent, MSG_DONE, "nojob", done, 1, NULL, 0);
    tb_refused (agent, DRV_E_UNKNOWN_JOB);
}

Test (broker, bye_hands_tuples_to_another_agent)
{
    tb_start (NULL);
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    tb_fill (req, "work", 8);
    zsock_t *first = tb_agent ("first", 5);
    tb_got_t got[10];
    cr_assert_eq (tb_collect (first, 300, got, 10, NULL), 5);
    tb_agent_send (first, MSG_DONE, "work", (msg_ref_t[]) { { 1, 1 } }, 1, NULL, 0);
    tb_agent_send (first, MSG_BYE, NULL, NULL, 0, NULL, 0);
    cr_assert (SUPPORT_WAIT (tb_status_is (req, "work", (tb_counts_t) { "open", 8, 7, 0, 1, 0 }),
                             5000));
    cr_assert (SUPPORT_WAIT (tb_log_has ("agent first left; 4 tuples queued again"), 2000));

    zsock_t *second = tb_agent ("second", 10);
    size_t n = tb_collect (second, 300, got, 10, NULL);
    cr_assert_eq (n, 7);
    bool seen[9] = { false };
    for (size_t i = 0; i < n; i++) {
        cr_assert (got[i].id >= 2 && got[i].id <= 8 && !seen[got[i].id]);
        seen[got[i].id] = true;
        //  Handed back unrun: the attempt is not counted.
        cr_assert_eq (got[i].attempt, 1);
    }
    //  The first agent is gone: anything it sends now is UNEXPECTED.
    tb_credit (first, 1);
    tb_refused (first, DRV_E_UNEXPECTED);
}

//  An agent killed -9 and started again under the same name and key says
//  HELLO from a new connection: its predecessor's tuples go on at once
//  (attempt counted: the run may be what killed it), not after the old
//  session's 3 silent heartbeats.
Test (broker, restarted_agent_releases_its_predecessors_tuples)
{
    tb_start ("--heartbeat-ms", "10000", NULL);
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    tb_fill (req, "work", 3);
    zsock_t *old = tb_agent ("a1", 3);
    tb_got_t got[10];
    cr_assert_eq (tb_collect (old, 300, got, 10, NULL), 3);
    zsock_t *fresh = tb_agent ("a1", 3);
    size_t n = tb_collect (fresh, 300, got, 10, NULL);
    cr_assert_eq (n, 3, "the old session's tuples went to the new one at once");
    for (size_t i = 0; i < n; i++)
        cr_assert_eq (got[i].attempt, 2);
    cr_assert (SUPPORT_WAIT (tb_log_has ("agent a1 connected again"), 2000));
    cr_assert (tb_status_is (req, "work", (tb_counts_t) { "open", 3, 0, 3, 0, 0 }));
}

Test (broker, agents_take_turns)
{
    tb_start (NULL);
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    zsock_t *a = tb_agent ("a", 5);
    zsock_t *b = tb_agent ("b", 5);
    tb_got_t got[20];
    //  a joined first and gets the first batch; b is next in turn.
    tb_fill (req, "one", 2);
    cr_assert_eq (tb_collect (a, 300, got, 20, NULL), 2);
    cr_assert_eq (tb_collect (b, 50, got, 20, NULL), 0);
    tb_send (req, tb_submit_msg ("one", NULL, NULL, 3, 2, false));
    tb_expect_accepted (req, 3, 2, NULL);
    cr_assert_eq (tb_collect (b, 300, got, 20, NULL), 2);
    cr_assert_eq (got[0].id, 3);
    cr_assert_eq (tb_collect (a, 50, got, 20, NULL), 0);
    //  Plenty for both: each gets exactly its remaining credit.
    tb_fill (req, "two", 20);
    cr_assert_eq (tb_collect (a, 300, got, 20, NULL), 3);
    cr_assert_eq (tb_collect (b, 300, got, 20, NULL), 3);
    cr_assert (tb_status_is (req, "two", (tb_counts_t) { "open", 20, 14, 6, 0, 0 }));
}

Test (broker, lost_agent_tuples_are_requeued)
{
    tb_start ("--heartbeat-ms", "100", NULL);
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    tb_fill (req, "work", 5);
    zsock_t *silent = tb_agent ("silent", 5);
    //  Take the work, then say nothing more.
    tb_got_t got[10];
    size_t n = 0;
    while (n < 5) {
        msg_t *msg = tb_recv (silent, 2000);
        cr_assert_not_null (msg, "no WORK");
        if (msg_command (msg) == MSG_WORK) {
            size_t count;
            msg_refs (msg, MSG_F_TUPLES, &count);
            n += count;
        }
        msg_destroy (&msg);
    }
    cr_assert (SUPPORT_WAIT (tb_status_is (req, "work", (tb_counts_t) { "open", 5, 5, 0, 0, 0 }),
                             5000), "the silent agent's tuples were not queued again");
    cr_assert (SUPPORT_WAIT (tb_log_has ("agent silent lost"), 2000));
    //  Before giving up the broker heartbeated the silent agent.
    size_t heartbeats = 0;
    msg_t *msg;
    while ((msg = tb_recv (silent, 0))) {
        heartbeats += msg_command (msg) == MSG_HEARTBEAT;
        msg_destroy (&msg);
    }
    cr_assert_geq (heartbeats, 1, "no HEARTBEAT sent to a quiet agent");

    zsock_t *live = tb_agent ("live", 5);
    n = tb_collect (live, 300, got, 10, NULL);
    cr_assert_eq (n, 5);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq (got[i].attempt, 2, "a lost agent's attempt counts");
    //  The live agent heartbeats (in tb_collect) and stays.
    cr_assert (tb_status_is (req, "work", (tb_counts_t) { "open", 5, 0, 5, 0, 0 }));
}

//  The next message of command to a version 1 agent within 5 s, saying
//  HEARTBEAT (in version 1) while it waits, as a live agent would; counts
//  the version 1 HEARTBEATs it sees in *heartbeats.
static msg_t *
s_next_v1 (zsock_t *agent, msg_command_t command, int *heartbeats)
{
    for (int64_t until = support_now_ms () + 5000; support_now_ms () < until;) {
        msg_t *msg = tb_recv (agent, 50);
        if (msg && msg_command (msg) == command)
            return msg;
        if (msg && msg_command (msg) == MSG_HEARTBEAT && msg_version (msg) == 1)
            (*heartbeats)++;
        msg_destroy (&msg);
        msg_t *heartbeat = msg_new (MSG_HEARTBEAT);
        msg_set_version (heartbeat, 1);
        tb_send (agent, heartbeat);
    }
    return NULL;
}

//  An agent that says HELLO in protocol version 1 is served in version 1:
//  WELCOME, WORK (a frame per tuple), HEARTBEAT, ERROR; its reports in
//  version 1 count as any.  A version 2 agent beside it gets version 2.
Test (broker, version_1_agent_is_served_in_version_1)
{
    tb_start ("--heartbeat-ms", "200", NULL);
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    tb_fill (req, "work", 4);
    zsock_t *old = tb_socket (ZMQ_DEALER, tb_backend ());
    msg_t *hello = msg_new (MSG_HELLO);
    msg_set_version (hello, 1);
    msg_set_str (hello, MSG_F_AGENT, "old");
    msg_set_uint (hello, MSG_F_SLOTS, 2);
    tb_send (old, hello);
    int heartbeats = 0;
    msg_t *welcome = s_next_v1 (old, MSG_WELCOME, &heartbeats);
    cr_assert_not_null (welcome);
    cr_assert_eq (msg_version (welcome), 1);
    msg_destroy (&welcome);
    msg_t *work = s_next_v1 (old, MSG_WORK, &heartbeats);
    cr_assert_not_null (work);
    cr_assert_eq (msg_version (work), 1, "a frame per tuple, refs as pairs");
    size_t count = 0;
    const msg_ref_t *refs = msg_refs (work, MSG_F_TUPLES, &count);
    cr_assert_eq (count, 2);
    msg_ref_t done[2];
    for (size_t i = 0; i < 2; i++) {
        cr_assert (tb_tuple_is (work, i, (uint32_t) refs[i].id));
        done[i] = refs[i];
    }
    msg_destroy (&work);
    msg_t *report = msg_new (MSG_DONE);
    msg_set_version (report, 1);
    msg_set_str (report, MSG_F_JOB, "work");
    msg_set_refs (report, MSG_F_TUPLES, done, 2);
    tb_send (old, report);
    cr_assert (SUPPORT_WAIT (tb_status_is (req, "work", (tb_counts_t) { "open", 4, 2, 0, 2, 0 }),
                             5000));
    //  A report for a job that does not exist: ERROR in version 1.
    report = msg_new (MSG_DONE);
    msg_set_version (report, 1);
    msg_set_str (report, MSG_F_JOB, "none");
    msg_set_refs (report, MSG_F_TUPLES, done, 1);
    tb_send (old, report);
    msg_t *error = s_next_v1 (old, MSG_ERROR, &heartbeats);
    cr_assert (error && msg_uint (error, MSG_F_CODE) == DRV_E_UNKNOWN_JOB);
    cr_assert_eq (msg_version (error), 1);
    msg_destroy (&error);
    //  Quiet, it hears HEARTBEAT from the broker, in version 1.
    for (int64_t until = support_now_ms () + 5000; !heartbeats && support_now_ms () < until;) {
        msg_t *msg = tb_recv (old, 50);
        heartbeats += msg && msg_command (msg) == MSG_HEARTBEAT && msg_version (msg) == 1;
        msg_destroy (&msg);
    }
    cr_assert_gt (heartbeats, 0, "HEARTBEAT in version 1");
    //  The version 2 agent beside it: WORK in version 2, one packed frame.
    zsock_t *agent = tb_agent ("new", 2);
    work = tb_next_work (agent, 5000);
    cr_assert_not_null (work);
    cr_assert_eq (msg_version (work), 2);
    cr_assert_eq (msg_tuple_count (work), 2);
    cr_assert_eq (msg_runs_total (work, MSG_F_TUPLES), 2);
    msg_destroy (&work);
}

//  The next message other than HEARTBEAT within timeout_ms, or NULL.
static msg_t *
s_next_not_heartbeat (zsock_t *agent, int timeout_ms)
{
    int64_t until = support_now_ms () + timeout_ms;
    while (support_now_ms () < until) {
        msg_t *msg = tb_recv (agent, (int) (until - support_now_ms ()));
        if (msg && msg_command (msg) != MSG_HEARTBEAT)
            return msg;
        msg_destroy (&msg);
    }
    return NULL;
}

//  CANCEL of a job with tuples on an agent: that agent gets STOP naming the
//  job (PROTOCOL.md 12), again on a repeated CANCEL; an agent that holds
//  none of its tuples gets nothing.
Test (broker, cancel_sends_stop_to_the_agents_holding_the_job)
{
    tb_start (NULL);
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    tb_fill (req, "doomed", 5);
    zsock_t *holder = tb_agent ("a1", 3);
    tb_got_t got[10];
    cr_assert_eq (tb_collect (holder, 300, got, 10, NULL), 3);
    zsock_t *idle = tb_agent ("a2", 0);
    for (int round = 0; round < 2; round++) {
        msg_t *cancel = msg_new (MSG_CANCEL);
        msg_set_str (cancel, MSG_F_JOB, "doomed");
        tb_send (req, cancel);
        msg_t *reply = tb_recv (req, 5000);
        cr_assert (reply && msg_command (reply) == MSG_JOB, "CANCEL is answered with JOB");
        cr_assert_str_eq (msg_str (reply, MSG_F_STATE), "cancelled");
        msg_destroy (&reply);
        msg_t *stop = s_next_not_heartbeat (holder, 5000);
        cr_assert (stop && msg_command (stop) == MSG_STOP, "round %d: no STOP for a1", round);
        cr_assert_str_eq (msg_str (stop, MSG_F_JOB), "doomed");
        msg_destroy (&stop);
    }
    msg_t *none = s_next_not_heartbeat (idle, 300);
    const char *what = none? msg_command_name (msg_command (none)): "";
    cr_assert_null (none, "a2 holds nothing of the job but got %s", what);
    cr_assert (tb_log_has ("job doomed: agent a1 told to stop its 3 tuples"));
}
