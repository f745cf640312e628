//  running.c -- the tasks on the handler threads; see running.h.  A list
//  through task->running, and the scratch the supervisor's tasks are built
//  in (pointers into the tasks, which outlive their pool_task_t).
#include "agent/running.h"
#include "common/log.h"
#include "common/peerlog.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct running {
    task_t *head, *tail;
    size_t count;
    pool_task_t *submit;        //  scratch for supervisor_submit
    size_t submit_cap;
};

running_t *
running_new (void)
{
    return calloc (1, sizeof (running_t));
}

void
running_destroy (running_t **self_p)
{
    running_t *self = *self_p;
    if (!self)
        return;
    while (self->head) {
        task_t *task = self->head;
        self->head = task->running.next;
        task_destroy (&task);
    }
    free (self->submit);
    free (self);
    *self_p = NULL;
}

static void
s_append (running_t *self, task_t *task)
{
    task->running.next = NULL;
    task->running.prev = self->tail;
    if (self->tail)
        self->tail->running.next = task;
    else
        self->head = task;
    self->tail = task;
    self->count++;
}

int
running_start (running_t *self, supervisor_t *workers, task_t **tasks, size_t count)
{
    if (count > self->submit_cap) {
        pool_task_t *more = realloc (self->submit, count * sizeof *more);
        if (!more)
            return -ENOMEM;
        self->submit = more;
        self->submit_cap = count;
    }
    for (size_t i = 0; i < count; i++) {
        const task_t *task = tasks[i];
        const task_job_t *job = task->job;
        self->submit[i] = (pool_task_t) {
            .id = (uint64_t) (uintptr_t) task, .handler = job->handler,
            .tuple = task->tuple, .tuple_size = task->tuple_size,
            .options = job->options, .options_size = job->options_size,
            .timeout_ms = job->timeout_ms };
    }
    //  Listed first: a result may come back before supervisor_submit does.
    for (size_t i = 0; i < count; i++)
        s_append (self, tasks[i]);
    int rc = supervisor_submit (workers, self->submit, count);
    for (size_t i = 0; rc && i < count; i++)
        running_finish (self, tasks[i]);
    return rc;
}

void
running_finish (running_t *self, task_t *task)
{
    if (task->running.prev)
        task->running.prev->running.next = task->running.next;
    else
        self->head = task->running.next;
    if (task->running.next)
        task->running.next->running.prev = task->running.prev;
    else
        self->tail = task->running.prev;
    task->running.prev = task->running.next = NULL;
    self->count--;
}

size_t
running_count (running_t *self)
{
    return self->count;
}

size_t
running_stop_job (running_t *self, supervisor_t *workers, const char *job)
{
    size_t count = 0;
    for (task_t *task = self->head; task; task = task->running.next)
        count += !task->stopping && !strcmp (task->job->name, job);
    uint64_t *ids = count? malloc (count * sizeof *ids): NULL;
    if (!ids) {
        if (count)
            log_error ("out of memory: %zu tuples of cancelled job %s run on", count,
                       peerlog_str (job).text);
        return 0;
    }
    size_t at = 0;
    for (task_t *task = self->head; task; task = task->running.next)
        if (!task->stopping && !strcmp (task->job->name, job)) {
            task->stopping = true;
            ids[at++] = (uint64_t) (uintptr_t) task;
        }
    //  Results may come back from this call (tasks not yet at a worker).
    supervisor_cancel (workers, ids, count);
    free (ids);
    return count;
}

void
running_each (running_t *self, void (*fn) (void *arg, task_t *task), void *arg)
{
    for (task_t *task = self->head; task; task = task->running.next)
        fn (arg, task);
}
