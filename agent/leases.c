//  leases.c -- TOUCH for held tasks; see leases.h.  Each task keeps when
//  it is due (task->touch.at); a look at every held task, no more often
//  than LEASES_CHECK_MS, collects those due and sorts them by job and lease.
#include "agent/leases.h"
#include "common/log.h"

#include <stdlib.h>

#define TOUCH_MAX 256               //  refs per TOUCH

struct leases {
    int64_t next;                   //  when held tasks are next looked at
    int64_t now;                    //  of the look under way
    uint32_t session;               //  the session of the look under way
    task_t **due;                   //  scratch: tasks whose lease is due
    size_t due_count, due_cap;
    uint64_t touched;
};

//  Ask for more at 2/3 of the lease: a third of it is left for TOUCH to
//  reach the broker.
static int64_t
s_due_at (const task_t *task, int64_t now)
{
    return now + (int64_t) task->lease_ms * 2 / 3;
}

leases_t *
leases_new (void)
{
    leases_t *self = calloc (1, sizeof *self);
    if (self)
        self->next = INT64_MAX;
    return self;
}

void
leases_destroy (leases_t **self_p)
{
    leases_t *self = *self_p;
    if (!self)
        return;
    free (self->due);
    free (self);
    *self_p = NULL;
}

void
leases_start (leases_t *self, task_t *task, int64_t now)
{
    task->touch.at = task->lease_ms? s_due_at (task, now): INT64_MAX;
    if (task->touch.at < self->next)
        self->next = task->touch.at;
}

int64_t
leases_next (leases_t *self)
{
    return self->next;
}

uint64_t
leases_touched (leases_t *self)
{
    return self->touched;
}

//  A held task whose lease is due goes into self->due.
static void
s_collect (void *arg, task_t *task)
{
    leases_t *self = arg;
    if (task->lease_ms == 0 || task->session != self->session)
        task->touch.at = INT64_MAX;         //  no lease, or that broker session is over
    if (task->touch.at > self->now) {
        if (task->touch.at < self->next)
            self->next = task->touch.at;
        return;
    }
    if (self->due_count == self->due_cap) {
        size_t cap = self->due_cap? self->due_cap * 2: 64;
        task_t **more = realloc (self->due, cap * sizeof *more);
        if (!more)
            return;                         //  touched next time
        self->due = more;
        self->due_cap = cap;
    }
    self->due[self->due_count++] = task;
}

static int
s_order (const void *a, const void *b)
{
    const task_t *x = *(task_t *const *) a, *y = *(task_t *const *) b;
    if (x->job != y->job)
        return (uintptr_t) x->job < (uintptr_t) y->job? -1: 1;
    return x->lease_ms < y->lease_ms? -1: x->lease_ms > y->lease_ms;
}

//  One TOUCH for due[*at...] of the same job and lease (up to TOUCH_MAX).
static void
s_send (leases_t *self, size_t *at, uplink_t *uplink)
{
    msg_ref_t refs[TOUCH_MAX];
    task_t *first = self->due[*at];
    size_t count = 0;
    for (; *at < self->due_count && count < TOUCH_MAX && !s_order (&first, &self->due[*at]); (*at)++) {
        refs[count++] = self->due[*at]->ref;
        self->due[*at]->touch.at = s_due_at (first, self->now);
    }
    msg_t *msg = msg_new (MSG_TOUCH);
    msg_set_str (msg, MSG_F_JOB, first->job->name);
    msg_set_refs (msg, MSG_F_TUPLES, refs, count);
    msg_set_uint (msg, MSG_F_LEASE_MS, first->lease_ms);
    uplink_send (uplink, &msg);
    self->touched += count;
    log_debug ("TOUCH %zu tuples of job %s (lease %u ms)", count, first->job->name,
               first->lease_ms);
    if (first->touch.at < self->next)
        self->next = first->touch.at;
}

void
leases_touch (leases_t *self, int64_t now, uplink_t *uplink, running_t *running, outbox_t *outbox)
{
    if (now < self->next)
        return;
    self->next = now + LEASES_CHECK_MS;
    if (!uplink_live (uplink))
        return;                 //  look again later: the session may come back
    self->now = now;
    self->session = uplink_session (uplink);
    self->due_count = 0;
    running_each (running, s_collect, self);
    outbox_each (outbox, s_collect, self);
    if (self->due_count)
        qsort (self->due, self->due_count, sizeof *self->due, s_order);
    for (size_t at = 0; at < self->due_count; )
        s_send (self, &at, uplink);
}
