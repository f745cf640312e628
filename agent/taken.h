//  taken.h -- the tasks one handler thread of the pool (agent/pool.h) took
//  from the queue at once and runs in order: which one it runs, the marks
//  pool_cancel_where leaves on them, and the stop flag and fd handed to the
//  running one's handler (agent/handler.h).  Filling, marking and giving
//  back happen under the pool's lock; the thread moves from task to task
//  without it (taken_start says in what order that is safe).
#ifndef DROVER_TAKEN_H
#define DROVER_TAKEN_H

#include "agent/pool.h"
#include "agent/registry.h"
#include "agent/waiting.h"

#include <msgpack.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TAKEN_MAX 32            //  tasks a thread takes at once, at most

typedef struct taken taken_t;

//  A task's result as its thread keeps it until the batch is over: its
//  data (outputs, or the error text) at offset at in the thread's buffer.
typedef struct {
    pool_record_t wire;
    size_t at, size;
} taken_result_t;

//  What taken_run tells the pool as it goes (from the thread, no lock held).
typedef struct {
    //  An output a handler emitted before its last (POOL_PARTIAL): it goes
    //  at once, so that it survives a crash of the process.
    void (*partial) (void *arg, const pool_record_t *head, const void *data, size_t size);
    //  The task before index was slow: the rest may go back to the queue
    //  (taken_give_back) for other threads.
    void (*slow) (void *arg, size_t index);
    void *arg;
} taken_hooks_t;

//  NULL if out of memory or out of file descriptors.
taken_t *taken_new (void);
void     taken_destroy (taken_t **self_p);

//  Under the pool's lock.
//  Take count (1 .. TAKEN_MAX) tasks from the queue's head, none marked.
void     taken_fill (taken_t *self, waiting_t *queue, size_t count);
size_t   taken_size (const taken_t *self);
//  The batch is over (its results posted).
void     taken_clear (taken_t *self);
//  Mark the tasks not over yet that match, and stop the running one if it
//  is one of them.  Returns how many were marked.
size_t   taken_cancel_where (taken_t *self, pool_match_fn *match, void *arg);
//  Put the tasks from index on back at the queue's head, in order; a marked
//  one goes to marked instead.  Returns how many left the batch (fewer if
//  the queue is out of memory: the thread runs the rest).
size_t   taken_give_back (taken_t *self, size_t from, waiting_t *queue, waiting_fn *marked,
                          void *arg);

//  Any time.
//  Stop the running task now (its handler sees the flag and the fd).
void     taken_stop (taken_t *self);
//  The running task's deadline (zclock_mono ms), 0 if none.
int64_t  taken_deadline (taken_t *self);

//  By the thread, without the lock.
//  Run the tasks in order with registry's handlers, outputs appended to
//  output (cleared first), a result per task into results (taken_size of
//  them once it returns; a marked task is POOL_CANCELLED and never starts).
//  A stop asked of an earlier task is over for the next unless
//  *pool_cancelled (the whole pool is: pool_cancel).  A task that ran
//  longer than slow_us calls hooks->slow.  Returns when the last ended
//  (CLOCK_MONOTONIC, us): one clock reading a task, the end of one being
//  the start of the next.
uint64_t taken_run (taken_t *self, registry_t *registry, msgpack_sbuffer *output,
                    msgpack_zone *zone, taken_result_t *results,
                    const atomic_bool *pool_cancelled,
                    uint64_t slow_us, const taken_hooks_t *hooks);

#endif
