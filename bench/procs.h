//  procs.h -- the processes one benchmark run starts (daemons, workers):
//  each logs to a file in the run's scratch directory, dies with the
//  benchmark (PR_SET_PDEATHSIG), and is stopped with SIGTERM, then SIGKILL
//  if it has not exited within a grace period.  Nothing outlives a run.
#ifndef DROVER_BENCH_PROCS_H
#define DROVER_BENCH_PROCS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

typedef struct procs procs_t;

//  Logs go to dir/<name>.log.
procs_t *procs_new (const char *dir);
//  Every process started from now on, by any procs_t, runs under the
//  scheduling policy called name (common/sched_policy.h), so that each
//  system compared runs under the same one; NULL: the bench's own.
void     procs_set_scheduling (const char *name);
//  Stops whatever is still running.
void     procs_destroy (procs_t **self_p);

//  Start argv[0] (a path) with argv; name labels its log.  Returns the pid
//  or -1.
pid_t    procs_start (procs_t *self, const char *name, char *const argv[]);
//  The same with env ("NAME=VALUE" strings, NULL-terminated) added to the
//  child's environment: secrets go there, never in argv.
pid_t    procs_start_env (procs_t *self, const char *name, char *const argv[],
                          char *const env[]);
//  False (and a line on stderr naming it and its log) if a process has
//  exited already: a daemon that could not start.
bool     procs_alive (procs_t *self);
//  SIGTERM all, in reverse start order, wait up to grace_ms, then SIGKILL.
void     procs_stop (procs_t *self, int grace_ms);

//  Run argv[0] (a path) to completion, output to dir/<name>.log, killed
//  after timeout_ms.  *elapsed_us: start to exit, *usage: its CPU (wait4).
//  Either may be NULL.  Returns its exit status (0-255), or -1 if it could
//  not start, was killed by a signal or timed out.
int      procs_run (const char *dir, const char *name, char *const argv[], int timeout_ms,
                    uint64_t *elapsed_us, struct rusage *usage);

//  A TCP port on 127.0.0.1 that was free a moment ago; -1 on failure.
int      procs_free_port (void);
//  True once something accepts TCP connections on 127.0.0.1:port, false
//  after timeout_ms.
bool     procs_wait_port (int port, int timeout_ms);

#endif
