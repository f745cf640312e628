//  link.h -- the wire between the supervisor and its worker processes
//  (agent/worker.h's 'T' and 'R' messages), packed: a batch of tasks
//  travels as one frame per group of tasks that share handler, options and
//  deadline (the tasks of one WORK are one group), and a batch of results
//  as one frame.  So a batch costs a few frames and no allocation per
//  tuple, however many tuples it holds.
//
//  'T' frames after the kind: per group a head frame (link_group_t, the
//  handler with its NUL, the options) and a tuples frame (per task its id
//  (u64) and size (u32), then its bytes).  'R' after the kind: one frame,
//  per result a link_result_t then its data.  Integers in host order: both
//  ends are this binary on this machine.
#ifndef DROVER_LINK_H
#define DROVER_LINK_H

#include "agent/pool.h"

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t id;
    uint64_t started_us;
    uint64_t duration_us;
    uint32_t status;                    //  pool_status_t
    uint32_t outputs;
    uint32_t size;                      //  of the data that follows
    uint32_t unused;
} link_result_t;

//  Send count tasks as one 'T' message to identity over router.  0, or -1
//  (nothing sent).
int  link_send_tasks (zsock_t *router, const char *identity, const pool_task_t *tasks,
                      size_t count);

//  The tasks of one 'T' message, decoded where they lie: each task's
//  pointers point into the message, kept until its last task is done.
typedef struct link_tasks link_tasks_t;

//  Decode msg (after its kind frame; taken).  Tasks' ids are handles for
//  link_task_done; the supervisor's ids are kept inside.  NULL if out of
//  memory or malformed (logged).
link_tasks_t *link_tasks_decode (zmsg_t **msg_p, size_t *count_p);
//  The decoded tasks, count of them.
pool_task_t  *link_tasks (link_tasks_t *self);
//  The task named by handle (a pool task id from link_tasks) has its
//  result: the supervisor's id for it.  With final, the task is done;
//  the batch is freed with its last task.
uint64_t      link_task_done (uint64_t handle, bool final);
//  Free a batch none of whose tasks went to the pool.
void          link_tasks_destroy (link_tasks_t **self_p);

//  Results packed for one 'R' message.
typedef struct {
    uint8_t *data;
    size_t size, cap;
} link_results_t;

//  Append a result.  0 or -ENOMEM.
int  link_results_add (link_results_t *self, const link_result_t *head, const void *data,
                       size_t size);
//  Send them as one 'R' message on dealer and empty the buffer.  0 or -1.
int  link_results_send (link_results_t *self, zsock_t *dealer);
void link_results_free (link_results_t *self);
//  Walk an 'R' frame: the next result at *cursor (before end) into head
//  and *data_p, advancing *cursor.  False at the end or if malformed.
bool link_results_next (const uint8_t **cursor, const uint8_t *end, link_result_t *head,
                        const void **data_p);

#endif
