//  test_durability_status.c -- STATUS counters that say what the sink's
//  output holds: after a sink outage longer than the leases, and after a
//  broker SIGKILL on tuples' last attempt.  Black-box, on the cluster of
//  support_durability.h.
#include "support.h"
#include "support_durability.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

static bool
s_running_is (const cluster_t *c, const char *job, uint64_t running)
{
    counters_t counters = { .state = "" };
    return cluster_status (c, job, &counters) == 0 && counters.running == running;
}

//  A sink outage longer than timeout_ms + lease slack: the agent holds
//  results the sink cannot take, and must keep their leases (TOUCH) or the
//  broker ends them and, with no attempt left, makes them dead letters that
//  the sink then drops as duplicates of the ok results.  The counters must
//  say what the output holds.
Test (durability, status_counts_what_the_sink_stored_after_a_sink_outage, .timeout = 90)
{
    cluster_t c = { 0 };
    c.lease_slack_ms = "200";
    cluster_start (&c, 1);
    kill (c.sink_pid, SIGSTOP);
    char tuples[512];
    cluster_path (&c, "tuples.jsonl", tuples, sizeof tuples);
    cluster_write_tuples (tuples, 4, cluster_plain);
    //  Leases of 500 + 200 ms, one attempt each.
    int status = cluster_submit (&c, "outage", "echo", tuples, "1", "500");
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "submit failed; see %s", c.dir);
    cr_assert (SUPPORT_WAIT (s_running_is (&c, "outage", 4), 20000),
               "the 4 tuples never all ran (%s)", c.dir);
    //  The outage outlasts the leases.  The broker may end them (running
    //  drops), hand the tuples out again (as dead letters: no attempt is
    //  left) and end those leases too, or the agent may keep its leases
    //  with TOUCH; each wait below lasts 4 leases at most.  Either way the
    //  counters must end up saying what the output holds.
    SUPPORT_WAIT (!s_running_is (&c, "outage", 4), 2800);
    SUPPORT_WAIT (s_running_is (&c, "outage", 4), 2800);
    SUPPORT_WAIT (!s_running_is (&c, "outage", 4), 2800);
    kill (c.sink_pid, SIGCONT);

    counters_t counters = { .state = "" };
    bool complete = SUPPORT_WAIT (cluster_complete (&c, "outage", &counters), 30000);
    tally_t tally = cluster_tally (c.results, "outage", 4);
    cluster_expect_exactly_once (&c, &tally, 4);
    cr_expect (complete, "job not complete: state '%s' (%s)", counters.state, c.dir);
    cr_expect_eq (counters.done, tally.ok, "STATUS done %" PRIu64 ", %zu ok lines in the output",
                  counters.done, tally.ok);
    cr_expect_eq (counters.failed, tally.failed, "STATUS failed %" PRIu64 ", %zu failed lines "
                  "in the output", counters.failed, tally.failed);
    cluster_stop (&c);
}

Test (durability, status_counts_what_the_sink_stored_after_broker_kill9_on_last_attempt,
      .timeout = 120)
{
    //  8 slots on 4 threads: the agents always hold tuples they have not
    //  started, so results keep coming while the broker is stopped (with
    //  adaptive slots they could hold none at that moment, between their
    //  last result and the next WORK: failed under load).
    cluster_t c = { .agent_slots = "8" };
    cluster_start (&c, 2);
    char tuples[512];
    cluster_path (&c, "tuples.jsonl", tuples, sizeof tuples);
    cluster_write_tuples (tuples, 400, cluster_sleep_mix);
    int status = cluster_submit (&c, "last-done", "sleep", tuples, "1", "60000");
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "submit failed; see %s", c.dir);
    cr_assert (SUPPORT_WAIT (support_count_lines (c.results) >= 50, 30000),
               "no results (%s)", c.dir);
    //  Results stored while the broker is stopped never reach it as DONE;
    //  its successor finds those tuples leased on their only attempt.  They
    //  are in the output as ok, so they must be counted done, not failed.
    kill (c.broker, SIGSTOP);
    size_t before = support_count_lines (c.results);
    cr_assert (SUPPORT_WAIT (support_count_lines (c.results) > before, 20000),
               "no result stored while the broker was stopped (%s)", c.dir);
    cluster_kill9 (&c.broker);
    cluster_broker_start (&c);

    counters_t counters = { .state = "" };
    bool complete = SUPPORT_WAIT (cluster_complete (&c, "last-done", &counters), 60000);
    tally_t tally = cluster_tally (c.results, "last-done", 400);
    cluster_expect_exactly_once (&c, &tally, 400);
    cr_expect (complete, "job not complete: state '%s' (%s)", counters.state, c.dir);
    cr_expect_eq (counters.done, tally.ok, "STATUS done %" PRIu64 ", %zu ok lines in the output",
                  counters.done, tally.ok);
    cr_expect_eq (counters.failed, tally.failed, "STATUS failed %" PRIu64 ", %zu failed lines "
                  "in the output", counters.failed, tally.failed);
    cluster_stop (&c);
}
