//  test_durability_kill9.c -- nothing lost, nothing twice (issue 4), when a
//  process dies with SIGKILL mid-job: the broker (restarted on the same
//  data directory, also with every tuple still queued), an agent, an
//  agent's worker process, the sink (restarted on the same data directory
//  and output).  Black-box, on the cluster of support_durability.h.
#include "support.h"
#include "support_durability.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

Test (durability, broker_kill9_mid_job_restart_same_data_dir, .timeout = 180)
{
    cluster_t c = { 0 };
    cluster_start (&c, 2);
    cluster_start_job_and_wait_quarter (&c, "broker-kill", 2000);

    cluster_kill9 (&c.broker);
    cluster_broker_start (&c);

    cluster_expect_complete (&c, "broker-kill", 2000, 0, 120000);
    tally_t tally = cluster_tally (c.results, "broker-kill", 2000);
    cluster_expect_exactly_once (&c, &tally, 2000);
    cr_expect_eq (tally.ok, 2000, "%zu ok results", tally.ok);
    cluster_stop (&c);
}

Test (durability, queued_tuples_survive_broker_kill9, .timeout = 120)
{
    cluster_t c = { 0 };
    cluster_init (&c);
    cluster_broker_start (&c);
    cluster_sink_start (&c);
    char tuples[512];
    cluster_path (&c, "tuples.jsonl", tuples, sizeof tuples);
    cluster_write_tuples (tuples, 300, cluster_plain);
    int status = cluster_submit (&c, "queued", "echo", tuples, "3", "30000");
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "submit failed; see %s", c.dir);

    //  No agent yet: every tuple is queued when the broker dies.
    cluster_kill9 (&c.broker);
    cluster_broker_start (&c);
    counters_t counters = { .state = "" };
    cr_assert (SUPPORT_WAIT (cluster_status (&c, "queued", &counters) == 0, 20000),
               "the restarted broker does not know job 'queued' (%s)", c.dir);
    cr_expect_eq (counters.submitted, 300, "submitted %" PRIu64 " after restart", counters.submitted);
    cr_expect_eq (counters.queued, 300, "queued %" PRIu64 " after restart", counters.queued);
    cr_expect_str_eq (counters.state, "closed", "state after restart");

    cluster_agent_start (&c, 0);
    cluster_expect_complete (&c, "queued", 300, 0, 60000);
    tally_t tally = cluster_tally (c.results, "queued", 300);
    cluster_expect_exactly_once (&c, &tally, 300);
    cluster_stop (&c);
}

Test (durability, agent_kill9_mid_job, .timeout = 180)
{
    cluster_t c = { 0 };
    cluster_start (&c, 2);
    cluster_start_job_and_wait_quarter (&c, "agent-kill", 2000);

    //  agent-1 dies holding leases; agent-2 keeps working, and agent-1
    //  comes back under the same name.
    cluster_kill9 (&c.agents[0]);
    cluster_agent_start (&c, 0);

    cluster_expect_complete (&c, "agent-kill", 2000, 0, 120000);
    tally_t tally = cluster_tally (c.results, "agent-kill", 2000);
    cluster_expect_exactly_once (&c, &tally, 2000);
    cr_expect_eq (tally.ok, 2000, "%zu ok results", tally.ok);
    cr_expect_gt (tally.per_agent[1], 0, "agent-2 did no work");
    cluster_stop (&c);
}

Test (durability, sink_kill9_mid_job_restart_same_data_dir, .timeout = 180)
{
    cluster_t c = { 0 };
    cluster_start (&c, 2);
    cluster_start_job_and_wait_quarter (&c, "sink-kill", 2000);

    //  Results in flight to the dead sink are sent again to the new one;
    //  what the old one wrote must not be written again.
    cluster_kill9 (&c.sink_pid);
    cluster_sink_start (&c);

    cluster_expect_complete (&c, "sink-kill", 2000, 0, 120000);
    tally_t tally = cluster_tally (c.results, "sink-kill", 2000);
    cluster_expect_exactly_once (&c, &tally, 2000);
    cr_expect_eq (tally.ok, 2000, "%zu ok results", tally.ok);
    cluster_stop (&c);
}

//  A child process of parent (an agent's worker), or 0.
static pid_t
s_child_of (pid_t parent)
{
    DIR *proc = opendir ("/proc");
    if (!proc)
        return 0;
    pid_t child = 0;
    struct dirent *entry;
    while (!child && (entry = readdir (proc))) {
        char path[300];
        snprintf (path, sizeof path, "/proc/%s/stat", entry->d_name);
        FILE *file = entry->d_name[0] >= '1' && entry->d_name[0] <= '9'? fopen (path, "r"): NULL;
        if (!file)
            continue;
        //  pid (comm) state ppid: comm may hold spaces, so read past the last ')'.
        char line[512];
        if (fgets (line, sizeof line, file)) {
            char *close = strrchr (line, ')');
            int ppid = 0;
            if (close && sscanf (close + 1, " %*c %d", &ppid) == 1 && ppid == parent)
                child = (pid_t) atoi (entry->d_name);
        }
        fclose (file);
    }
    closedir (proc);
    return child;
}

Test (durability, worker_kill9_mid_job, .timeout = 180)
{
    cluster_t c = { 0 };
    cluster_start (&c, 2);
    cluster_start_job_and_wait_quarter (&c, "worker-kill", 2000);

    //  A worker process of agent-1 dies (as a crashing handler would take
    //  it); the agent lives on, starts another, and nothing is lost.
    pid_t worker = s_child_of (c.agents[0]);
    cr_assert_gt (worker, 0, "agent-1 has no worker process");
    cr_assert_eq (kill (worker, SIGKILL), 0);

    cluster_expect_complete (&c, "worker-kill", 2000, 0, 120000);
    cr_expect_not (support_exited (c.agents[0], NULL), "agent-1 died with its worker");
    tally_t tally = cluster_tally (c.results, "worker-kill", 2000);
    cluster_expect_exactly_once (&c, &tally, 2000);
    cr_expect_eq (tally.ok, 2000, "%zu ok results", tally.ok);
    cluster_stop (&c);
}
