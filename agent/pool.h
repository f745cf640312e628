//  pool.h -- T handler threads that run tuples for the agent.  The agent
//  submits tasks; an idle thread takes the next one in order, so never more
//  run than there are threads and no task waits behind a busy thread.  Each
//  task comes back as exactly one result (after a POOL_PARTIAL result per
//  output it emitted before its last), packed into a buffer the threads
//  share; the caller polls one socket that wakes it when the buffer goes
//  from empty to not, and takes every result ready at once (pool_take):
//  one wake-up per batch of results, not per result, and no allocation per
//  result.  A worker process sends such a buffer on to the agent as it is.
#ifndef DROVER_POOL_H
#define DROVER_POOL_H

#include "agent/registry.h"

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POOL_SLICE_US   200     //  queued work that is worth waking another thread for
#define POOL_NUDGE_MS   2       //  tasks wait no longer than this for a thread that is free
#define POOL_FLUSH_MS   2       //  results wait no longer than this for others to go with

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
    //  Stopped by pool_cancel_where: data the handler's error; started_us
    //  and duration_us 0 if it never started.  (A handler that finished
    //  anyway, despite the request, gives POOL_OK.)
    POOL_CANCELLED = 4,
} pool_status_t;

typedef struct {
    uint64_t id;                //  the task's id
    pool_status_t status;
    uint32_t outputs;           //  number of outputs in data (POOL_OK)
    uint64_t started_us;        //  Unix time the handler started, microseconds
    uint64_t duration_us;       //  handler run time, microseconds
    zframe_t *data;             //  owned by the caller after pool_recv
} pool_result_t;

//  Results packed: per result a pool_record_t, then its size bytes of data
//  (outputs' msgpack values back to back, or the error text).
typedef struct {
    uint64_t id;
    uint64_t started_us;
    uint64_t duration_us;
    uint32_t status;            //  pool_status_t
    uint32_t outputs;
    uint32_t size;
    uint32_t unused;
} pool_record_t;

typedef struct {
    uint8_t *data;
    size_t size, cap;
} pool_results_t;

//  Append a result (head->size is set from size).  0 or -ENOMEM.
int     pool_results_add (pool_results_t *self, const pool_record_t *head, const void *data,
                          size_t size);
//  The record at *cursor (before end) into head and *data_p; advances
//  *cursor.  False at the end or if what is left is not a whole record.
bool    pool_results_next (const uint8_t **cursor, const uint8_t *end, pool_record_t *head,
                           const void **data_p);
void    pool_results_free (pool_results_t *self);

//  Start threads handler threads (at least 1) that run the handlers of
//  registry (borrowed: it must outlive the pool).  NULL on failure.
pool_t *pool_new (size_t threads, registry_t *registry);
//  Stop the threads: each finishes its current task, queued tasks are
//  dropped without a result.  Call pool_cancel first not to wait for them.
void    pool_destroy (pool_t **self_p);

//  Queue count tasks, in order.  Returns 0 or -ENOMEM.
int     pool_submit (pool_t *self, const pool_task_t *tasks, size_t count);
//  The socket that wakes the caller when results are ready: poll it for
//  input, then call pool_take.
zsock_t *pool_socket (pool_t *self);
//  Call once a turn (now: zclock_mono) and again by the time it returns
//  (INT64_MAX: when woken): wakes every idle thread if tasks waited
//  POOL_NUDGE_MS with none taken, so a slow tuple on the threads that were
//  awake holds up no others while threads are free.
int64_t pool_nudge (pool_t *self, int64_t now);
//  Append every result ready to results, without blocking.  Returns how
//  many.
size_t  pool_take (pool_t *self, pool_results_t *results);
//  The same when they are due: when half of what the pool holds is done,
//  an output was streamed or a task dropped, or the oldest result has
//  waited POOL_FLUSH_MS; else none, and in *next_ms (zclock_mono) when to
//  call again if not woken first (INT64_MAX: nothing waits).  Call it when
//  the socket wakes and at *next_ms.
size_t  pool_take_due (pool_t *self, pool_results_t *results, int64_t *next_ms);
//  One result at a time, for tests: waits up to timeout_ms (-1: for ever).
//  0, or -1 if none came.  Do not mix with pool_take.
int     pool_recv (pool_t *self, pool_result_t *result, int timeout_ms);

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
//  Stop the tasks whose id match (arg, id) says true of: those not started
//  are given back as POOL_CANCELLED at once, never to run; those running
//  see their call's cancel fd and flag (agent/handler.h) and come back as
//  POOL_CANCELLED when their handler returns.  For a job cancelled while
//  its tuples run.  Returns how many matched.
typedef bool (pool_match_fn) (void *arg, uint64_t id);
size_t  pool_cancel_where (pool_t *self, pool_match_fn *match, void *arg);

//  How long past its deadline the most overdue running handler is (ms),
//  or 0.  A handler that ignores its deadline cannot be stopped from
//  outside its thread: a worker process uses this to give up on itself.
int64_t pool_overdue (pool_t *self, int64_t now);

size_t  pool_threads (pool_t *self);
size_t  pool_running (pool_t *self);       //  tasks on a thread right now
size_t  pool_queued (pool_t *self);        //  tasks waiting for a thread

#endif
