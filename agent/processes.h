//  processes.h -- the agent's worker processes as its main process sees
//  them: their life cycle only.  Each slot's process is started by fork
//  and exec of this binary (`drover agent --worker ...`, agent/worker.h),
//  reaped when it exits (SIGCHLD sets a flag; waitpid runs in the reactor,
//  so there are never zombies), and started again after a back-off that
//  doubles while it keeps dying young.  What they run is the supervisor's
//  business (agent/supervisor.h).
#ifndef DROVER_PROCESSES_H
#define DROVER_PROCESSES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PROCESSES_RESTART_MIN_MS   100     //  first restart delay after a death
#define PROCESSES_RESTART_MAX_MS   5000    //  the delay doubles up to this
#define PROCESSES_HEALTHY_MS       60000   //  one this old starts over at the minimum

typedef struct processes processes_t;

//  What became of a slot's process that exited.
typedef struct {
    size_t slot;
    pid_t pid;
    int status;                 //  as waitpid gives it
    int64_t age_ms;             //  how long it ran
    int64_t restart_ms;         //  when its successor starts, from now
} processes_death_t;

typedef void (processes_died_fn) (void *arg, const processes_death_t *death);

typedef struct {
    size_t count;               //  slots, one process each
    size_t threads;             //  handler threads per process
    const char *exe;            //  the drover binary; NULL = /proc/self/exe
    const char *endpoint;       //  the supervisor's, for the workers to dial
    const char *log_level;      //  passed on
    processes_died_fn *on_died;
    void *arg;
} processes_config_t;

//  Start a process in every slot (copies config).  NULL on failure (logged).
processes_t *processes_new (const processes_config_t *config);
//  Wait up to wait_ms for the processes to exit (ask them first), SIGKILL
//  the rest, reap them all.
void         processes_destroy (processes_t **self_p, int wait_ms);

//  Reap the processes that exited (on_died for each) and start those due.
//  Call each reactor turn; never blocks.
void         processes_work (processes_t *self, int64_t now);
//  When processes_work next has something to do (zclock_mono ms).
int64_t      processes_next_timer (processes_t *self);

//  The slot whose current process has this identity ("w<slot>.<start>",
//  its DEALER's), or -1: a message from an earlier life of a slot is stale.
ssize_t      processes_find (processes_t *self, const void *identity, size_t size);
//  The identity of slot's current process, or NULL if none runs there.
const char  *processes_identity (processes_t *self, size_t slot);
//  Kill slot's process at once (SIGKILL), for one that cannot be told to quit.
void         processes_kill (processes_t *self, size_t slot);
//  Process ids by slot (0 for a slot waiting for its restart).
const pid_t *processes_pids (processes_t *self, size_t *count_p);

#endif
