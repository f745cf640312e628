//  running.h -- the tasks out on the handler threads (agent/supervisor.h),
//  oldest first, from WORK until their result comes back: what a drain
//  waits for, and what leases are renewed for besides the results on their
//  way to the sink.  It owns task->running.
#ifndef DROVER_RUNNING_H
#define DROVER_RUNNING_H

#include "agent/supervisor.h"
#include "agent/task.h"

#include <stddef.h>

typedef struct running running_t;

//  NULL if out of memory.
running_t *running_new (void);
//  Destroys the tasks still listed: call once the workers are gone.
void       running_destroy (running_t **self_p);

//  Give count tasks to the workers, in order, and list them.  0, or
//  -ENOMEM with none given or listed (the caller still owns them).
int        running_start (running_t *self, supervisor_t *workers, task_t **tasks, size_t count);
//  Unlist a task whose result came back (the caller's now).
void       running_finish (running_t *self, task_t *task);
//  Tasks listed.
size_t     running_count (running_t *self);
//  Ask the workers to stop the listed tasks of job (it was cancelled) and
//  mark them stopping; their results come back as usual.  Returns how many.
size_t     running_stop_job (running_t *self, supervisor_t *workers, const char *job);
//  Call fn for each task listed, oldest first (fn must not add or remove).
void       running_each (running_t *self, void (*fn) (void *arg, task_t *task), void *arg);

#endif
