//  supervisor.h -- where the agent's tasks run: P worker processes of T
//  handler threads each (agent/worker.h), fed and watched by the agent's
//  main process; started and restarted by agent/processes.h.  With P = 0
//  the handler threads run in the agent itself (no crash isolation; for
//  comparison and tests).
//
//  Transport: one ROUTER bound on ipc:// in a private 0700 directory; each
//  worker dials it with a DEALER named by its slot and generation.  Chosen
//  over a socketpair because the agent's reactor polls ZeroMQ sockets
//  (zpoller), so workers are one more socket in the same poll, and ZeroMQ
//  frames the batches for us; the 0700 directory keeps other local users
//  out.  Tasks and results cross it in batches, packed (agent/link.h).
//
//  Tasks go to the least loaded worker: first one per free thread on every
//  worker, then a prefetch queued at the workers (so a thread that
//  finishes finds its next task without a round trip through the agent):
//  about SUPERVISOR_PREFETCH_US of handler time per thread at the rate
//  results report, between SUPERVISOR_PREFETCH_MIN and _MAX tasks; beyond
//  that they wait here.  Each task comes back as exactly one result
//  through the callback: from its handler, POOL_DROPPED if given back by
//  a drain, POOL_CANCELLED if stopped by supervisor_cancel, or POOL_ERROR
//  "worker died (signal N)" if its worker died while it may have been
//  running (one that cannot have started goes to another worker
//  instead).
#ifndef DROVER_SUPERVISOR_H
#define DROVER_SUPERVISOR_H

#include "agent/pool.h"

#include <czmq.h>
#include <stddef.h>
#include <stdint.h>

#define SUPERVISOR_PREFETCH_MIN     64      //  tasks a worker holds per handler thread, at least
#define SUPERVISOR_PREFETCH_MAX     1024    //  at most (fast tasks)
#define SUPERVISOR_PREFETCH_US      2000    //  handler time a thread's prefetch holds, in between

typedef struct supervisor supervisor_t;

//  Told about each finished task (or output streamed before its end): the
//  result's record and its result->size bytes, both valid only during the
//  call (they lie in the message they came in).
typedef void (supervisor_result_fn) (void *arg, const pool_record_t *result, const void *data);
//  A hint: the result of the task named id comes a few results from now,
//  so what handling it will touch can be fetched into the cache meanwhile.
//  The task is still held (never a stale record's), so it may be read.
typedef void (supervisor_ahead_fn) (void *arg, uint64_t id);

typedef struct {
    size_t processes;           //  worker processes; 0 = threads in this process
    size_t threads;             //  handler threads per process
    const char *exe;            //  the drover binary; NULL = /proc/self/exe
    const char *log_level;      //  passed to workers, or NULL
    supervisor_result_fn *on_result;
    supervisor_ahead_fn *on_ahead;  //  or NULL
    void *arg;
} supervisor_config_t;

//  Start the workers.  NULL on failure (logged).
supervisor_t *supervisor_new (const supervisor_config_t *config);
//  Stop the workers (cancelling what they run), reap them, remove the
//  private directory.  Tasks still held get no result.
void     supervisor_destroy (supervisor_t **self_p);

//  Queue tasks (pointers borrowed until their result).  0 or -ENOMEM.
int      supervisor_submit (supervisor_t *self, const pool_task_t *tasks, size_t count);
//  The socket to poll for input.
zsock_t *supervisor_socket (supervisor_t *self);
//  Read what workers sent, reap dead ones, restart those due, dispatch
//  queued tasks.  Call each reactor turn; never blocks.
void     supervisor_work (supervisor_t *self, int64_t now);
//  When supervisor_work next has something to do (zclock_mono ms).
int64_t  supervisor_next_timer (supervisor_t *self);
//  For a drain: give back (POOL_DROPPED) the tasks no handler thread is
//  free for: those waiting here at once, and those queued at a worker
//  behind its busy threads as the worker answers.  A task a thread is free
//  for counts as started, however late that thread wakes.  Returns how
//  many go back (at most: a worker's threads may free up meanwhile).
size_t   supervisor_drop_waiting (supervisor_t *self);
//  Stop the tasks named by ids (their job was cancelled): those waiting
//  here come back at once as POOL_CANCELLED, never started; those given to
//  a worker (running, or queued behind its threads) as POOL_CANCELLED when
//  the worker answers, or POOL_OK if the handler finished first.  ids is
//  sorted in place.
void     supervisor_cancel (supervisor_t *self, uint64_t *ids, size_t count);
//  Tasks given to handlers (started or queued at a worker).
size_t   supervisor_running (supervisor_t *self);
//  Handler threads in all (P x T, or T in-process).
size_t   supervisor_threads (supervisor_t *self);
//  Worker processes in all (P), those that said hello and take tasks, and
//  those that died since the start (each restarted).
size_t   supervisor_processes (supervisor_t *self);
size_t   supervisor_ready (supervisor_t *self);
uint64_t supervisor_deaths (supervisor_t *self);
//  Worker process ids (0 for a slot waiting for its restart); count in *count_p.
const pid_t *supervisor_pids (supervisor_t *self, size_t *count_p);

#endif
