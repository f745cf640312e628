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
//  the results as the pool packs them (pool_results_t), the ids the
//  supervisor's.  'C' after the kind: one frame of the supervisor's ids
//  (u64 each) of tasks to stop.  Integers in host order: both
//  ends are this binary on this machine.
#ifndef DROVER_LINK_H
#define DROVER_LINK_H

#include "agent/pool.h"

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  The kind of a supervisor <-> worker message, its first frame (worker.h
//  says what each carries).
#define WORKER_HELLO    'H'
#define WORKER_TASKS    'T'
#define WORKER_RESULTS  'R'
#define WORKER_DROP     'D'
#define WORKER_CANCEL   'C'
#define WORKER_QUIT     'Q'

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
//  The supervisor's id for the task named by handle, which is not done.
uint64_t      link_task_id (uint64_t handle);
//  Free a batch none of whose tasks went to the pool.
void          link_tasks_destroy (link_tasks_t **self_p);

//  Send the supervisor's ids of count tasks to stop as one 'C' message
//  (one frame of ids) to identity over router.  0, or -1.
int  link_send_cancel (zsock_t *router, const char *identity, const uint64_t *ids,
                       size_t count);
//  The ids of a 'C' message's frame, copied and sorted for link_ids_has
//  (free them); their count in *count_p.  NULL if the frame is not whole
//  ids or out of memory.
uint64_t *link_cancel_ids (zframe_t *frame, size_t *count_p);
//  Sort ids for link_ids_has; true if id is among the count sorted ids.
void link_ids_sort (uint64_t *ids, size_t count);
bool link_ids_has (const uint64_t *ids, size_t count, uint64_t id);

//  Send results (pool_take's, ids already the supervisor's) as one 'R'
//  message on dealer, and empty the buffer.  0 or -1.
int  link_send_results (pool_results_t *results, zsock_t *dealer);

#endif
