//  support_durability.h -- what the test_durability_*.c files share: a
//  real cluster on loopback (a broker on its LMDB data directory, a sink
//  with its LMDB dedupe index, agents), jobs submitted with `drover
//  submit`, processes killed with SIGKILL, and a tally of the sink's
//  output by tuple id.
#ifndef DROVER_TEST_SUPPORT_DURABILITY_H
#define DROVER_TEST_SUPPORT_DURABILITY_H

#include "proto/msg.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define AGENTS_MAX 3

//  Fill heartbeat_ms, max_queued, lease_slack_ms and agent_slots (or leave
//  them NULL for the defaults) before cluster_init; the rest is the cluster's.
typedef struct {
    char *dir;
    char frontend[64], intake[64], backend[64], sink[64];
    char broker_data[512], sink_data[512], results[512];
    const char *heartbeat_ms;       //  broker's --heartbeat-ms
    const char *max_queued;         //  broker's --max-queued, or NULL
    const char *lease_slack_ms;     //  broker's --lease-slack-ms, or NULL
    const char *agent_slots;        //  agents' --slots, or NULL (adapting)
    pid_t broker, sink_pid, agents[AGENTS_MAX];
} cluster_t;

//  What the sink's output says about one job of tuple ids 1..count.
typedef struct {
    size_t lines, bad, foreign;     //  unparsable; other job or id out of range
    size_t missing, duplicated;
    size_t ok, failed, failed_with_error, redelivered;  //  redelivered: attempt >= 2
    size_t cancelled, aborted, stopped_but_ran;     //  never run; with a start time
    size_t cancelled_running;       //  of cancelled: stopped while it ran (PROTOCOL.md 12)
    uint64_t min_attempt, max_attempt;
    size_t per_agent[AGENTS_MAX];
    size_t redelivered_per_agent[AGENTS_MAX];
    char first_error[256];
} tally_t;

//  A job's STATUS counters.
typedef struct {
    char state[16];
    uint64_t submitted, queued, running, done, failed;
} counters_t;

//  c->dir/name into path.
void cluster_path (const cluster_t *c, const char *name, char *path, size_t size);
//  A fresh directory and free endpoints; nothing started.
void cluster_init (cluster_t *c);
//  The broker always on the LMDB store (the default) in the cluster's data
//  dir, so a restart finds what the killed one had committed.
void cluster_broker_start (cluster_t *c);
void cluster_sink_start (cluster_t *c);
//  Agents are agent-1, agent-2, ...; a restarted one keeps its name.  Each
//  runs 2 worker processes of 2 handler threads.
void cluster_agent_start (cluster_t *c, int index);
//  cluster_init, the broker, the sink and agents agents.
void cluster_start (cluster_t *c, int agents);
//  SIGKILL: no chance to flush, commit or say BYE.  *pid_p becomes 0.
void cluster_kill9 (pid_t *pid_p);
//  SIGTERM to everything still running, each expected to exit 0; the
//  directory goes unless DROVER_TEST_KEEP=1.
void cluster_stop (cluster_t *c);

//  Write count JSON Lines tuples; line i (0-based) is tuple_of (i).
void cluster_write_tuples (const char *path, int count,
                           const char *(*tuple_of) (int, char *, size_t));
//  A mix of short sleeps (0-40 ms) so a job of a few thousand tuples stays
//  in flight for seconds on two agents: long enough to kill something in it.
const char *cluster_sleep_mix (int i, char *text, size_t size);
//  300 ms sleeps.
const char *cluster_sleep_300 (int i, char *text, size_t size);
//  ["t", i], for echo and fail.
const char *cluster_plain (int i, char *text, size_t size);

//  `drover submit` a file as a new closed job; every tuple in it is
//  acknowledged (ACCEPTED) once this returns 0 (the wait status).
int cluster_submit (cluster_t *c, const char *job, const char *handler, const char *file,
                    const char *max_attempts, const char *timeout_ms);
//  One request on a fresh DEALER (as a producer retrying after a timeout
//  would), one reply or NULL after timeout_ms.  Takes the request.
msg_t *cluster_request (const char *endpoint, msg_t **request_p, int timeout_ms);
//  STATUS of a job: 0 and the counters, or -1 if the broker did not answer
//  with JOB (down, restarting, or does not know the job).
int  cluster_status (const cluster_t *c, const char *job, counters_t *counters);
//  True once the job is complete (a STATUS per 50 ms at most).
bool cluster_complete (const cluster_t *c, const char *job, counters_t *counters);

//  Read the sink's output at path; the job's tuple ids are 1..count.
tally_t cluster_tally (const char *path, const char *job, size_t count);
//  The promise: each of the job's count tuples once in the output, nothing else.
void cluster_expect_exactly_once (const cluster_t *c, const tally_t *tally, size_t count);
//  The job completes within timeout_ms with these counters.
void cluster_expect_complete (const cluster_t *c, const char *job, size_t done, size_t failed,
                              int timeout_ms);
//  Submit count tuples of the sleep mix, all acknowledged, then wait until a
//  quarter of them are in the output: the job is now mid-flight.
void cluster_start_job_and_wait_quarter (cluster_t *c, const char *job, size_t count);
//  True once both agent-1 and agent-2 have results of job in the output.
bool cluster_both_agents_working (const cluster_t *c, const char *job, size_t count);

#endif
