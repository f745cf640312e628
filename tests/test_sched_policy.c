//  test_sched_policy.c -- common/sched_policy.c: a policy set reaches the
//  threads started after it and refuses names it does not know; and the
//  daemons run under --scheduling (batch by default), every thread of them
//  and of the agent's worker processes.
#include <criterion/criterion.h>
#include "common/sched_policy.h"
#include "support.h"

#include <dirent.h>
#include <limits.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *
s_policy_of_thread (void *arg)
{
    *(int *) arg = sched_getscheduler (0);
    return NULL;
}

//  The policy a thread started now gets.
static int
s_new_thread_policy (void)
{
    int policy = -2;
    pthread_t thread;
    cr_assert_eq (pthread_create (&thread, NULL, s_policy_of_thread, &policy), 0);
    pthread_join (thread, NULL);
    return policy;
}

Test (sched_policy, batch_and_normal_reach_the_threads_started_after)
{
    cr_assert_eq (sched_policy_set ("batch"), 0, "%s", strerror (errno));
    cr_assert_eq (sched_getscheduler (0), SCHED_BATCH);
    cr_assert_str_eq (sched_policy_current (), "batch");
    cr_assert_eq (s_new_thread_policy (), SCHED_BATCH);

    cr_assert_eq (sched_policy_set ("normal"), 0, "%s", strerror (errno));
    cr_assert_eq (sched_getscheduler (0), SCHED_OTHER);
    cr_assert_str_eq (sched_policy_current (), "normal");
    cr_assert_eq (s_new_thread_policy (), SCHED_OTHER);
}

Test (sched_policy, an_unknown_name_is_refused_and_changes_nothing)
{
    cr_assert_eq (sched_policy_set ("batch"), 0);
    const char *names[] = { "fifo", "", "Batch", NULL };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        errno = 0;
        cr_assert_eq (sched_policy_set (names[i]), -1, "'%s'", names[i]? names[i]: "(null)");
        cr_assert_eq (errno, EINVAL);
        cr_assert_eq (sched_getscheduler (0), SCHED_BATCH);
    }
    cr_assert_str_eq (sched_policy_names[0], SCHED_POLICY_DEFAULT);
}

//  ---------------------------------------------------------------------
//  The daemons, black-box

//  The policy of thread tid of pid: field 41 of its stat, counted after
//  the command name, which may hold spaces and parentheses.
static int
s_thread_policy (pid_t pid, const char *tid)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "/proc/%d/task/%s/stat", (int) pid, tid);
    char *stat = support_slurp (path);
    char *at = stat? strrchr (stat, ')'): NULL;
    int policy = -1;
    for (int field = 2; at && *at; at++)
        if (*at == ' ' && ++field == 41) {
            policy = atoi (at + 1);
            break;
        }
    free (stat);
    return policy;
}

//  How many threads pid has, in *threads; how many of them run under
//  policy, returned.
static int
s_threads_under (pid_t pid, int policy, int *threads)
{
    char path[64];
    snprintf (path, sizeof path, "/proc/%d/task", (int) pid);
    DIR *dir = opendir (path);
    *threads = 0;
    int under = 0;
    for (struct dirent *entry; dir && (entry = readdir (dir)); ) {
        if (entry->d_name[0] == '.')
            continue;
        (*threads)++;
        under += s_thread_policy (pid, entry->d_name) == policy;
    }
    if (dir)
        closedir (dir);
    return under;
}

//  An agent with 2 worker processes of 3 threads, its broker an address
//  nothing listens on (it runs without one): every thread of it and of
//  both workers runs under policy once both workers started.
static void
s_agent_runs_under (const char *scheduling, int policy)
{
    char *dir = support_tmpdir ();
    support_started_dir (dir);
    char log[PATH_MAX];
    snprintf (log, sizeof log, "%s/agent.log", dir);
    char broker[64];
    snprintf (broker, sizeof broker, "tcp://127.0.0.1:%d", support_free_port ());
    char *argv[12] = { "agent", "--broker", broker, "--processes", "2", "--threads", "3" };
    int argc = 7;
    if (scheduling) {
        argv[argc++] = "--scheduling";
        argv[argc++] = (char *) scheduling;
    }
    argv[argc] = NULL;
    pid_t agent = support_spawnv (log, argv);
    cr_assert_gt (agent, 0);
    support_started (agent);
    cr_assert (SUPPORT_WAIT (support_count_text (log, "started (pid") == 2, 20000),
               "the workers did not start; see %s", log);
    pid_t workers[4];
    cr_assert_eq (support_children (agent, workers, 4), 2, "the agent's children");
    pid_t all[3] = { agent, workers[0], workers[1] };
    for (int i = 0; i < 3; i++) {
        //  A worker: its main thread and 3 handler threads at least, which
        //  may still be starting.
        int least = i? 1 + 3: 1, threads = 0, under = 0;
        SUPPORT_WAIT ((under = s_threads_under (all[i], policy, &threads)) == threads
                      && threads >= least, 10000);
        cr_assert_eq (under, threads, "pid %d: %d of %d threads under policy %d",
                      (int) all[i], under, threads, policy);
        cr_assert_geq (threads, least, "pid %d has %d threads", (int) all[i], threads);
    }
    char line[64];
    snprintf (line, sizeof line, "scheduling policy: %s", scheduling? scheduling: "batch");
    cr_assert_eq (support_count_text (log, line), 1, "no '%s' in %s", line, log);
    cr_assert_eq (WEXITSTATUS (support_stop (agent, SIGTERM, 10000)), 0);
    support_rmdir (&dir);
}

TestSuite (sched_daemons, .fini = support_kill_started);

Test (sched_daemons, an_agent_and_its_workers_run_batch_by_default)
{
    //  Started from a normal thread: the policy is the agent's own doing.
    cr_assert_eq (sched_policy_set ("normal"), 0);
    s_agent_runs_under (NULL, SCHED_BATCH);
}

Test (sched_daemons, an_agent_with_scheduling_normal_runs_normal)
{
    //  Started from a batch thread: --scheduling normal undoes what it inherits.
    cr_assert_eq (sched_policy_set ("batch"), 0);
    s_agent_runs_under ("normal", SCHED_OTHER);
}

//  The broker and the sink too: every thread, and the log says so.
Test (sched_daemons, a_broker_and_a_sink_run_batch_by_default)
{
    cr_assert_eq (sched_policy_set ("normal"), 0);
    char *dir = support_tmpdir ();
    support_started_dir (dir);
    char broker_log[PATH_MAX], sink_log[PATH_MAX], output[PATH_MAX];
    snprintf (broker_log, sizeof broker_log, "%s/broker.log", dir);
    snprintf (sink_log, sizeof sink_log, "%s/sink.log", dir);
    snprintf (output, sizeof output, "%s/results.jsonl", dir);
    pid_t broker = support_spawn (broker_log, "broker", "--store", "memory", "--frontend",
                                  support_endpoint (), "--backend", support_endpoint (),
                                  "--intake", support_endpoint (), NULL);
    pid_t sink = support_spawn (sink_log, "sink", "--store", "memory", "--bind",
                                support_endpoint (), "--output", output, NULL);
    cr_assert (broker > 0 && sink > 0);
    support_started (broker);
    support_started (sink);
    pid_t pids[2] = { broker, sink };
    const char *logs[2] = { broker_log, sink_log };
    for (int i = 0; i < 2; i++) {
        cr_assert (SUPPORT_WAIT (support_count_text (logs[i], "scheduling policy: batch") == 1,
                                 10000), "see %s", logs[i]);
        int threads = 0, under = 0;
        //  ZeroMQ starts its I/O threads with the first socket.
        SUPPORT_WAIT ((under = s_threads_under (pids[i], SCHED_BATCH, &threads)) == threads
                      && threads >= 3, 10000);
        cr_assert_eq (under, threads, "see %s: %d of %d threads batch", logs[i], under, threads);
        cr_assert_geq (threads, 3, "see %s", logs[i]);
    }
    cr_assert_eq (WEXITSTATUS (support_stop (sink, SIGTERM, 10000)), 0);
    cr_assert_eq (WEXITSTATUS (support_stop (broker, SIGTERM, 10000)), 0);
    support_rmdir (&dir);
}
