//  waiting.h -- tasks waiting for a handler thread (agent/pool.h) or a
//  worker process (agent/supervisor.h), oldest first: a ring that grows
//  and is reused, so steady running costs no allocation per task.  Not
//  thread-safe: the pool calls it under its lock.
#ifndef DROVER_WAITING_H
#define DROVER_WAITING_H

#include "agent/pool.h"

#include <stddef.h>

typedef struct waiting waiting_t;

//  Called with each task taken out, in queue order.
typedef void (waiting_fn) (void *arg, const pool_task_t *task);

//  NULL if out of memory.
waiting_t  *waiting_new (void);
void        waiting_destroy (waiting_t **self_p);

//  Queue count tasks at the tail, in order: all or none.  0 or -ENOMEM.
int         waiting_push (waiting_t *self, const pool_task_t *tasks, size_t count);
//  Put a task back at the head, to go next.  0 or -ENOMEM.
int         waiting_push_front (waiting_t *self, const pool_task_t *task);
//  The oldest task, taken out.  Only when waiting_count is not 0.
pool_task_t waiting_pop (waiting_t *self);
//  The task index places from the head (before waiting_count), left in.
const pool_task_t *waiting_at (const waiting_t *self, size_t index);
size_t      waiting_count (const waiting_t *self);

//  Take out the tasks match says true of, keeping the others' order; each
//  goes to removed.  Returns how many.
size_t      waiting_remove_where (waiting_t *self, pool_match_fn *match, void *match_arg,
                                  waiting_fn *removed, void *removed_arg);
//  Take out every task after the first keep; each goes to removed.
//  Returns how many.
size_t      waiting_remove_after (waiting_t *self, size_t keep, waiting_fn *removed,
                                  void *removed_arg);

#endif
