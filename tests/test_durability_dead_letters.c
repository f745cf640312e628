//  test_durability_dead_letters.c -- tuples out of attempts reach the sink
//  as dead letters (failed, with an error): from a handler that always
//  fails, and from an agent killed on a tuple's last attempt.  Black-box,
//  on the cluster of support_durability.h.
#include "support.h"
#include "support_durability.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

Test (durability, failing_handler_dead_letters_after_max_attempts, .timeout = 120)
{
    cluster_t c = { 0 };
    cluster_start (&c, 1);
    char tuples[512];
    cluster_path (&c, "tuples.jsonl", tuples, sizeof tuples);
    cluster_write_tuples (tuples, 20, cluster_plain);
    int status = cluster_submit (&c, "doomed", "fail", tuples, "3", "30000");
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "submit failed; see %s", c.dir);

    cluster_expect_complete (&c, "doomed", 0, 20, 60000);
    tally_t tally = cluster_tally (c.results, "doomed", 20);
    cluster_expect_exactly_once (&c, &tally, 20);
    cr_expect_eq (tally.failed, 20, "%zu dead letters, want 20", tally.failed);
    cr_expect_eq (tally.ok, 0, "%zu ok results from the fail handler", tally.ok);
    cr_expect_eq (tally.failed_with_error, 20, "%zu dead letters carry an error",
                  tally.failed_with_error);
    cr_expect_eq (tally.min_attempt, 3, "a dead letter after %" PRIu64 " attempts", tally.min_attempt);
    cr_expect_eq (tally.max_attempt, 3, "a dead letter after %" PRIu64 " attempts", tally.max_attempt);
    cr_expect_not_null (strstr (tally.first_error, "always fails"),
                        "dead letter error '%s' is not the handler's", tally.first_error);
    cluster_stop (&c);
}

Test (durability, agent_kill9_on_last_attempt_makes_dead_letters, .timeout = 120)
{
    //  8 slots on 4 threads: agent-1 always holds 4 tuples it has not
    //  started, so it holds work whenever it is stopped, even between a
    //  result and the next WORK (a race that failed CI with adaptive slots).
    cluster_t c = { .agent_slots = "8" };
    cluster_start (&c, 2);
    char tuples[512];
    cluster_path (&c, "tuples.jsonl", tuples, sizeof tuples);
    cluster_write_tuples (tuples, 80, cluster_sleep_300);
    //  One attempt each: what agent-1 holds when it dies has no attempt
    //  left, and must reach the sink as a dead letter, not vanish.
    int status = cluster_submit (&c, "last-try", "sleep", tuples, "1", "60000");
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "submit failed; see %s", c.dir);
    cr_assert (SUPPORT_WAIT (cluster_both_agents_working (&c, "last-try", 80), 30000),
               "both agents never stored results (%s)", c.dir);
    cr_assert_lt (support_count_lines (c.results), 60, "the job is nearly done already");
    cluster_kill9 (&c.agents[0]);

    tally_t tally = { 0 };
    counters_t counters = { .state = "" };
    bool complete = SUPPORT_WAIT (cluster_complete (&c, "last-try", &counters), 30000);
    tally = cluster_tally (c.results, "last-try", 80);
    cluster_expect_exactly_once (&c, &tally, 80);
    cr_expect (complete, "job not complete: state '%s', done %" PRIu64 ", failed %" PRIu64
               " (%s)", counters.state, counters.done, counters.failed, c.dir);
    cr_expect_gt (tally.failed, 0, "no dead letter for the tuples agent-1 died with");
    cr_expect_eq (tally.failed_with_error, tally.failed, "a dead letter without an error");
    cr_expect_eq (counters.failed, tally.failed, "STATUS failed %" PRIu64 ", output %zu",
                  counters.failed, tally.failed);
    cr_expect_eq (counters.done, tally.ok, "STATUS done %" PRIu64 ", output %zu",
                  counters.done, tally.ok);
    cr_expect_eq (tally.max_attempt, 1, "a tuple ran %" PRIu64 " times with max_attempts 1",
                  tally.max_attempt);
    cluster_stop (&c);
}
