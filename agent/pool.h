//  pool.h -- T handler threads that run tuples for the agent.  The agent
//  submits tasks; an idle thread takes the next one in order, so never more
//  run than there are threads and no task waits behind a busy thread.  Each
//  task comes back as exactly one result message on an inproc socket the
//  agent polls (after a POOL_PARTIAL message per output it emitted before
//  its last).  Only messages come back, so a later worker process can host
//  a pool and the agent talk to it the same way.
#ifndef DROVER_POOL_H
#define DROVER_POOL_H

#include "agent/registry.h"

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pool pool_t;

//  A task's pointers are borrowed: they must stay valid until the task's
//  result has been received (or the pool destroyed).
typedef struct {
    uint64_t id;                //  the caller's name for it; comes back in the result
    const char *handler;        //  handler name (agent/registry.h)
    const void *tuple;          //  the tuple's msgpack bytes
    size_t tuple_size;
    const void *options;        //  the job's options, a msgpack map, or NULL
    size_t options_size;
    uint32_t timeout_ms;        //  the handler's deadline; 0 = none
} pool_task_t;

typedef enum {
    POOL_OK = 0,                //  data: the outputs' msgpack values, back to back
    POOL_ERROR = 1,             //  data: the error text
    POOL_DROPPED = 2,           //  never started (pool_drop_queued); data empty
    //  Not the end: one output the handler emitted before its last, sent
    //  at once so that it survives a crash of the process; the task's
    //  result (with the outputs after this one) follows.
    POOL_PARTIAL = 3,
} pool_status_t;

typedef struct {
    uint64_t id;                //  the task's id
    pool_status_t status;
    uint32_t outputs;           //  number of outputs in data (POOL_OK)
    uint64_t started_us;        //  Unix time the handler started, microseconds
    uint64_t duration_us;       //  handler run time, microseconds
    zframe_t *data;             //  owned by the caller after pool_recv
} pool_result_t;

//  Start threads handler threads (at least 1) that run the handlers of
//  registry (borrowed: it must outlive the pool).  NULL on failure.
pool_t *pool_new (size_t threads, registry_t *registry);
//  Stop the threads: each finishes its current task, queued tasks are
//  dropped without a result.  Call pool_cancel first not to wait for them.
void    pool_destroy (pool_t **self_p);

//  Queue count tasks, in order.  Returns 0 or -ENOMEM.
int     pool_submit (pool_t *self, const pool_task_t *tasks, size_t count);
//  The socket results arrive on; poll it for input, then call pool_recv.
zsock_t *pool_socket (pool_t *self);
//  Receive one result (blocks if none is waiting).  Returns 0, or -1 if
//  interrupted or the message was not a result.
int     pool_recv (pool_t *self, pool_result_t *result);

//  Give back every task not yet started, as POOL_DROPPED results.
//  Returns how many.
size_t  pool_drop_queued (pool_t *self);
//  Give back the tasks that wait for a busy thread, as POOL_DROPPED; those
//  an idle thread is about to take are kept and run.  For draining: what
//  counts as started then depends on the threads there are, not on how
//  soon a woken thread gets the CPU.  Returns how many.
size_t  pool_drop_waiting (pool_t *self);
//  Ask running handlers to stop now (they fail with "cancelled"), and every
//  later task likewise.  For shutdown after a grace period.
void    pool_cancel (pool_t *self);

//  How long past its deadline the most overdue running handler is (ms),
//  or 0.  A handler that ignores its deadline cannot be stopped from
//  outside its thread: a worker process uses this to give up on itself.
int64_t pool_overdue (pool_t *self, int64_t now);

size_t  pool_threads (pool_t *self);
size_t  pool_running (pool_t *self);       //  tasks on a thread right now
size_t  pool_queued (pool_t *self);        //  tasks waiting for a thread

#endif
