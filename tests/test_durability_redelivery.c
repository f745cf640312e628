//  test_durability_redelivery.c -- results delivered to the sink twice are
//  stored once: after a broker restart hands tuples out again to a
//  restarted sink, and from an agent stopped (SIGSTOP) until its leases
//  ran out.  Black-box, on the cluster of support_durability.h.
#include "support.h"
#include "support_durability.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

//  The sink's count of duplicates dropped, from the "sink shut down: ...,
//  N duplicates dropped, ..." line it logs on SIGTERM; -1 if absent.
static long
s_sink_duplicates (const cluster_t *c)
{
    char log[512];
    cluster_path (c, "sink.log", log, sizeof log);
    char *text = support_slurp (log);
    if (!text)
        return -1;
    long count = -1;
    const char *line = NULL;
    for (const char *at = text; (at = strstr (at, "sink shut down: ")); at++)
        line = at;              //  the last run's
    const char *end = line? strstr (line, " duplicates dropped"): NULL;
    if (end) {
        const char *digits = end;
        while (digits > line && digits[-1] >= '0' && digits[-1] <= '9')
            digits--;
        if (digits < end)
            count = strtol (digits, NULL, 10);
    }
    free (text);
    return count;
}

Test (durability, restarted_sink_dedupes_results_redelivered_after_broker_kill9, .timeout = 180)
{
    cluster_t c = { 0 };
    cluster_start (&c, 2);
    cluster_start_job_and_wait_quarter (&c, "redelivered", 2000);

    //  A stopped broker reads no DONE: results stored from now on stay
    //  leased in its store, and the killed broker's successor runs those
    //  tuples again.  The sink that gets them again is a restarted one, so
    //  only its durable index can tell they are stored already.
    kill (c.broker, SIGSTOP);
    size_t before = support_count_lines (c.results);
    cr_assert (SUPPORT_WAIT (support_count_lines (c.results) > before, 20000),
               "no result stored while the broker was stopped (%s)", c.dir);
    cluster_kill9 (&c.sink_pid);
    cluster_sink_start (&c);
    cluster_kill9 (&c.broker);
    cluster_broker_start (&c);

    cluster_expect_complete (&c, "redelivered", 2000, 0, 120000);
    cr_expect_eq (support_stop (c.sink_pid, SIGTERM, 10000), 0, "sink did not exit 0");
    c.sink_pid = 0;
    tally_t tally = cluster_tally (c.results, "redelivered", 2000);
    cluster_expect_exactly_once (&c, &tally, 2000);
    long duplicates = s_sink_duplicates (&c);
    cr_expect_gt (duplicates, 0, "the restarted sink dropped no redelivered result "
                  "(%ld duplicates in its log; %s)", duplicates, c.dir);
    cluster_stop (&c);
}

Test (durability, stopped_agent_loses_leases_late_results_deduplicated, .timeout = 180)
{
    //  8 slots on 4 threads: agent-1 always holds 4 tuples it has not
    //  started, so it holds work whenever it is stopped, even between a
    //  result and the next WORK (a race that failed CI with adaptive slots).
    cluster_t c = { .agent_slots = "8" };
    cluster_start (&c, 2);
    char tuples[512];
    cluster_path (&c, "tuples.jsonl", tuples, sizeof tuples);
    //  80 x 300 ms on 8 handler threads: about 3 s, and each agent always
    //  runs 4 tuples while the queue lasts.  Leases of 60 s: only a lost
    //  heartbeat can free agent-1's tuples within the test.
    cluster_write_tuples (tuples, 80, cluster_sleep_300);
    int status = cluster_submit (&c, "stopped", "sleep", tuples, "10", "60000");
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "submit failed; see %s", c.dir);
    cr_assert (SUPPORT_WAIT (cluster_both_agents_working (&c, "stopped", 80), 30000),
               "both agents never stored results (%s)", c.dir);
    cr_assert_lt (support_count_lines (c.results), 60, "the job is nearly done already");

    kill (c.agents[0], SIGSTOP);
    cluster_expect_complete (&c, "stopped", 80, 0, 30000);
    tally_t tally = cluster_tally (c.results, "stopped", 80);
    cluster_expect_exactly_once (&c, &tally, 80);
    cr_expect_gt (tally.redelivered_per_agent[1], 0,
                  "no tuple of the stopped agent-1 was redelivered to agent-2 (attempt >= 2)");

    //  agent-1 wakes up, finishes the tuples it ran, sends their results to
    //  the sink and drains; the sink must acknowledge without writing them.
    kill (c.agents[0], SIGCONT);
    int stopped = support_stop (c.agents[0], SIGTERM, 40000);
    c.agents[0] = 0;
    cr_expect_eq (stopped, 0, "agent-1 did not drain and exit 0 after SIGCONT (%s)", c.dir);
    cr_expect_eq (support_stop (c.sink_pid, SIGTERM, 10000), 0, "sink did not exit 0");
    c.sink_pid = 0;
    tally = cluster_tally (c.results, "stopped", 80);
    cluster_expect_exactly_once (&c, &tally, 80);
    long duplicates = s_sink_duplicates (&c);
    cr_expect_gt (duplicates, 0, "no late result of agent-1 reached the sink "
                  "(%ld duplicates dropped in its log; %s)", duplicates, c.dir);
    cluster_stop (&c);
}
