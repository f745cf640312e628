//  task.h -- what the agent holds for one tuple, from WORK until it has told
//  the broker (DONE or RETRY), and the job the tuple belongs to.  agent.c
//  runs tasks on the pool (agent/pool.h); outbox.c carries their results to
//  sinks.  Plain structs: both sides read the fields, each writes its own.
#ifndef DROVER_TASK_H
#define DROVER_TASK_H

#include "agent/pool.h"
#include "proto/msg.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

//  A job as WORK described it.  Shared by its tasks (counted in refs) and,
//  while listed, found by name in the agent's job table.
typedef struct task_job task_job_t;
struct task_job {
    char *name;
    char *handler;
    char *sink;                 //  the sink endpoint results go to
    uint8_t *options;           //  msgpack map, or NULL
    size_t options_size;
    uint32_t max_attempts;
    uint32_t timeout_ms;
    size_t refs;                //  tasks and reports that point here
    zhashx_t *table;            //  the table it is listed in by name, or NULL
    //  agent.c: what to tell the broker at the end of this reactor turn
    msg_ref_t *done, *dead, *retry;
    size_t done_count, dead_count, retry_count;
    size_t done_cap, dead_cap, retry_cap;
    char *retry_reason;
    task_job_t *next_report;    //  next job with reports, while in that list
    bool reporting;             //  in the agent's report list (holds a ref)
};

typedef enum {
    TASK_RUNNING = 0,           //  on the pool
    TASK_QUEUED,                //  record in an outbox batch, not yet sent
    TASK_SENT,                  //  RESULT sent, waiting for STORED
} task_state_t;

typedef struct task task_t;
struct task {
    task_job_t *job;
    msg_ref_t ref;
    uint32_t session;           //  the broker session that gave it to us
    zframe_t *tuple;
    bool dead;                  //  WORK dead_letter: not run, stored as failed
    uint32_t lease_ms;          //  WORK lease_ms, 0 = none
    int64_t touch_at;           //  when to ask for a longer lease (zclock_mono ms)
    task_state_t state;
    //  set from the pool result
    pool_status_t status;
    uint32_t outputs;
    uint64_t started_us;
    uint64_t duration_us;
    zframe_t *data;             //  outputs (POOL_OK) or error text
    uint8_t *partial;           //  outputs streamed before the result (POOL_PARTIAL)
    size_t partial_size, partial_cap;
    uint32_t partial_outputs;
    //  outbox.c's bookkeeping
    void *batch;
    int64_t sent_ms;
    task_t *prev, *next;        //  in the batch's queued list or the sent list
    task_t *same;               //  next pending task with the same tuple id
};

//  A job record with refs 0; copies its arguments.  NULL if out of memory.
task_job_t *task_job_new (const char *name, const char *handler, const char *sink,
                          const void *options, size_t options_size,
                          uint32_t max_attempts, uint32_t timeout_ms);
//  True if the job record says what these arguments say.
bool        task_job_same (const task_job_t *self, const char *handler, const char *sink,
                           const void *options, size_t options_size,
                           uint32_t max_attempts, uint32_t timeout_ms);
void        task_job_ref (task_job_t *self);
//  Drop a ref; at zero, unlist the job and free it.
void        task_job_unref (task_job_t **self_p);

//  A task for one tuple (takes the frame); holds a ref on job.
task_t     *task_new (task_job_t *job, msg_ref_t ref, uint32_t session, zframe_t **tuple_p);
void        task_destroy (task_t **self_p);

//  Keep an output that came before the task's result.  0 or -ENOMEM.
int         task_add_partial (task_t *self, const void *data, size_t size);
//  True if the task's last attempt is over: its result goes to the sink
//  (status ok, or a dead letter).  Otherwise a failure is retried.
bool        task_is_final (const task_t *self);

#endif
