//  test_job_end.c -- jobs ended early (PROTOCOL.md 12): `drover cancel` on
//  a job with tuples running and many queued, and a job aborted after N
//  failures.  Black-box, on the cluster of support_durability.h: the
//  sink's output must hold every tuple once, the never-run ones with their
//  status, and STATUS must say how the job ended, also after a SIGKILL.
#include "support.h"
#include "support_durability.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

//  True once the job is state and nothing of it is queued or running.
static bool
s_ended (const cluster_t *c, const char *job, const char *state, counters_t *counters)
{
    if (cluster_status (c, job, counters))
        return false;
    bool ended = !strcmp (counters->state, state) && counters->queued == 0
              && counters->running == 0;
    if (!ended)
        usleep (50000);
    return ended;
}

//  `drover ARGS...` with the cluster's broker; its exit status.
static int
s_drover (cluster_t *c, const char *log_name, const char *command, const char *job,
          const char *extra)
{
    char log[512];
    cluster_path (c, log_name, log, sizeof log);
    pid_t pid = extra
              ? support_spawn (log, command, "--broker", c->frontend, extra, job, NULL)
              : support_spawn (log, command, "--broker", c->frontend, job, NULL);
    cr_assert_gt (pid, 0);
    int status = -1;
    cr_assert (SUPPORT_WAIT (support_exited (pid, &status), 30000), "drover %s hung", command);
    return WIFEXITED (status)? WEXITSTATUS (status): -1;
}

Test (job_end, cancel_stores_queued_as_cancelled_and_survives_kill9, .timeout = 120)
{
    cluster_t c = { 0 };
    cluster_start (&c, 1);
    char tuples[512];
    cluster_path (&c, "tuples.jsonl", tuples, sizeof tuples);
    //  300 ms each on 4 slots: 20 s if nothing were cancelled.
    cluster_write_tuples (tuples, 300, cluster_sleep_300);
    int status = cluster_submit (&c, "doomed", "sleep", tuples, "3", "60000");
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "submit failed; see %s", c.dir);
    cr_assert (SUPPORT_WAIT (support_count_lines (c.results) >= 4, 30000),
               "no results (%s)", c.dir);
    cr_assert_eq (s_drover (&c, "cancel.log", "cancel", "doomed", NULL), 0,
                  "drover cancel failed (%s)", c.dir);

    counters_t counters = { .state = "" };
    cr_assert (SUPPORT_WAIT (s_ended (&c, "doomed", "cancelled", &counters), 30000),
               "job not ended as cancelled: state '%s', %" PRIu64 " queued, %" PRIu64
               " running (%s)", counters.state, counters.queued, counters.running, c.dir);
    tally_t tally = cluster_tally (c.results, "doomed", 300);
    cluster_expect_exactly_once (&c, &tally, 300);
    cr_expect_eq (tally.ok + tally.cancelled, 300, "%zu ok + %zu cancelled of 300 (%s)",
                  tally.ok, tally.cancelled, c.dir);
    cr_expect_gt (tally.cancelled, 150, "only %zu cancelled: the cancel came late (%s)",
                  tally.cancelled, c.dir);
    cr_expect_eq (tally.stopped_but_ran, 0, "cancelled results with a start time but not "
                  "stopped while running (%s)", c.dir);
    cr_expect_eq (counters.done + counters.failed, 300, "counters do not add up (%s)", c.dir);

    //  Idempotent; and the job takes no more tuples.
    cr_expect_eq (s_drover (&c, "cancel2.log", "cancel", "doomed", NULL), 0);
    status = cluster_submit (&c, "doomed", "sleep", tuples, "3", "60000");
    cr_expect (WIFEXITED (status) && WEXITSTATUS (status) == 1,
               "a SUBMIT to a cancelled job was not refused (%s)", c.dir);
    char log[512];
    cluster_path (&c, "submit.log", log, sizeof log);
    cr_expect_gt (support_count_text (log, "cancelled"), 0, "no reason given (%s)", c.dir);

    //  Durable: a successor of a SIGKILLed broker says the same.
    cluster_kill9 (&c.broker);
    cluster_broker_start (&c);
    counters_t after = { .state = "" };
    cr_assert (SUPPORT_WAIT (cluster_status (&c, "doomed", &after) == 0, 30000));
    cr_expect_str_eq (after.state, "cancelled", "after a restart: state '%s' (%s)", after.state,
                      c.dir);
    cr_expect_eq (after.done, counters.done);
    cr_expect_eq (after.submitted, 300);
    cluster_stop (&c);
}

Test (job_end, abort_after_n_failures_stores_the_rest_as_aborted, .timeout = 120)
{
    //  The agent starts once every tuple is in: a job that aborts while its
    //  producer still sends refuses the rest (JOB_CLOSED), which is right,
    //  but not what this test counts.
    cluster_t c = { 0 };
    cluster_start (&c, 0);
    char tuples[512];
    cluster_path (&c, "tuples.jsonl", tuples, sizeof tuples);
    cluster_write_tuples (tuples, 2000, cluster_plain);
    char log[512];
    cluster_path (&c, "submit.log", log, sizeof log);
    pid_t pid = support_spawn (log, "submit", "--broker", c.frontend, "--job", "flaky",
                               "--handler", "fail", "--sink", c.sink, "--max-attempts", "1",
                               "--abort-after", "5", "--quiet", tuples, NULL);
    cr_assert_gt (pid, 0);
    int status = -1;
    cr_assert (SUPPORT_WAIT (support_exited (pid, &status), 60000), "submit did not finish");
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "submit failed; see %s", c.dir);
    cluster_agent_start (&c, 0);

    counters_t counters = { .state = "" };
    cr_assert (SUPPORT_WAIT (s_ended (&c, "flaky", "aborted", &counters), 60000),
               "job not ended as aborted: state '%s', %" PRIu64 " queued, %" PRIu64
               " running (%s)", counters.state, counters.queued, counters.running, c.dir);
    tally_t tally = cluster_tally (c.results, "flaky", 2000);
    cluster_expect_exactly_once (&c, &tally, 2000);
    cr_expect_geq (tally.failed, 5, "%zu failed (%s)", tally.failed, c.dir);
    cr_expect_gt (tally.aborted, 0, "none aborted (%s)", c.dir);
    cr_expect_eq (tally.failed + tally.aborted, 2000, "%zu failed + %zu aborted (%s)",
                  tally.failed, tally.aborted, c.dir);
    cr_expect_eq (tally.stopped_but_ran, 0, "aborted results with a start time (%s)", c.dir);
    cr_expect_eq (counters.failed, tally.failed, "STATUS failed %" PRIu64 ", %zu in the output",
                  counters.failed, tally.failed);
    cr_expect_eq (counters.done, tally.aborted, "STATUS done %" PRIu64 ", %zu aborted",
                  counters.done, tally.aborted);
    //  Cancelling an aborted job leaves it aborted.
    cr_expect_eq (s_drover (&c, "cancel.log", "cancel", "flaky", NULL), 0);
    cr_expect (cluster_status (&c, "flaky", &counters) == 0
               && !strcmp (counters.state, "aborted"), "state '%s'", counters.state);
    cluster_stop (&c);
}
