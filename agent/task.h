//  task.h -- what the agent holds for one tuple, from WORK until it has told
//  the broker (DONE or RETRY), and the record of the job the tuple belongs
//  to.  A task is on the handler threads (agent/running.h), then, once
//  final, on its way to the sink (agent/outbox.h); its lease is renewed
//  meanwhile (agent/leases.h).  Each of those modules keeps its own
//  bookkeeping in the task, in a part named after it that no one else
//  writes.
#ifndef DROVER_TASK_H
#define DROVER_TASK_H

#include "agent/pool.h"
#include "agent/work.h"
#include "proto/msg.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

//  A job as WORK described it.  Shared by its tasks (counted in refs) and,
//  while listed, found by name in a task_jobs_t.
typedef struct task_job task_job_t;
struct task_job {
    char *name;
    char *handler;
    char *sink;                 //  "ENDPOINT", or "ENDPOINT KEY" for sealed results
    uint8_t *options;           //  msgpack map, or NULL
    size_t options_size;
    uint32_t max_attempts;
    uint32_t timeout_ms;
    size_t refs;                //  tasks that point here
    zhashx_t *table;            //  the table it is listed in by name, or NULL
};

//  The tasks of one WORK, made at once (task_new_all): one allocation for
//  them all, and the WORK's packed tuples kept, not copied; freed with the
//  last of its tasks.
typedef struct task_block task_block_t;

typedef struct task task_t;
struct task {
    task_job_t *job;
    task_block_t *block;
    msg_ref_t ref;
    uint32_t session;           //  the broker session that gave it to us
    const uint8_t *tuple;       //  its msgpack bytes, in the block's frame
    size_t tuple_size;
    bool dead;                  //  WORK dead_letter: not run, stored as failed
    uint8_t stored_as;          //  ... or, 2 and up, never run: the result's status
                                //  (excluded, cancelled, aborted: WORK status);
                                //  or cancelled while it ran (task_cancelled)
    bool stopping;              //  STOP named its job while it ran
    uint32_t lease_ms;          //  WORK lease_ms, 0 = none
    //  The result, from the handler thread (or the dead letter's error).
    pool_status_t status;
    uint32_t outputs;
    uint64_t started_us;
    uint64_t duration_us;
    const uint8_t *data;        //  outputs (POOL_OK) or error text, in the block
    size_t data_size;
    uint8_t *partial;           //  outputs streamed before the result (POOL_PARTIAL)
    size_t partial_size, partial_cap;
    uint32_t partial_outputs;

    struct {                    //  agent/running.c: the list of tasks on the threads
        task_t *prev, *next;
    } running;
    struct {                    //  agent/leases.c
        int64_t at;             //  when to ask for a longer lease (zclock_mono ms)
    } touch;
    struct {                    //  agent/outbox.c
        void *batch;            //  the batch its record is in
        bool sent;              //  in the sent list (else the batch's queued list)
        int64_t sent_ms;
        task_t *prev, *next;    //  in that list
        task_t *same;           //  next pending task with the same tuple id
    } outbox;
};

//  A task for each tuple of work, in ref order, into tasks (room for
//  work->count); each holds a ref on job.  Takes work's tuples out of its
//  message.  0, or -ENOMEM (no task made, the message untouched).
int     task_new_all (task_job_t *job, work_t *work, uint32_t session, task_t **tasks);
void    task_destroy (task_t **self_p);

//  Make the task a dead letter: not run; its result is failed with error.
//  0, or -ENOMEM.
int     task_dead_letter (task_t *self, const char *error);
//  Keep an output that came before the task's result.  0 or -ENOMEM.
int     task_add_partial (task_t *self, const void *data, size_t size);
//  Take the handler's result: status and timings, and its data (copied
//  into the task's block), the outputs streamed before it joined to its
//  own, in order.  Out of memory, the task fails with that reason.
void    task_take_result (task_t *self, const pool_record_t *result, const void *data);
//  The task was stopped, its job cancelled (PROTOCOL.md 12): its result is
//  stored as cancelled, reason (a constant string) its error, with the
//  times it ran (0 if it never started), and without partial outputs.
void    task_cancelled (task_t *self, const char *reason);
//  True if the task's last attempt is over: its result goes to the sink
//  (status ok, a dead letter, or cancelled).  Otherwise a failure is retried.
bool    task_is_final (const task_t *self);

//  The job records by name: the latest one WORK described for each job.
typedef struct task_jobs task_jobs_t;

task_jobs_t *task_jobs_new (void);
//  Records still used by tasks live on until their last task goes.
void         task_jobs_destroy (task_jobs_t **self_p);
//  The record work describes: the listed one if it says the same, else a
//  new one that replaces it in the table (tasks keep the record they came
//  with).  Its refs count only tasks: take one before anything else can
//  drop the last.  NULL if out of memory.
task_job_t  *task_jobs_get (task_jobs_t *self, const work_t *work);
void         task_job_ref (task_job_t *self);
//  Drop a ref; at zero, unlist the record and free it.
void         task_job_unref (task_job_t **self_p);

#endif
