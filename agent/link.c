//  link.c -- packed tasks and results between supervisor and workers; see
//  link.h.  Measured with echo: a frame per task and per result (two each,
//  plus an allocation per task in the worker) was most of the hop's CPU.
#include "agent/link.h"
#include "common/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint32_t timeout_ms;
    uint32_t options_size;
    uint32_t handler_size;              //  with its NUL
    uint32_t count;                     //  tasks in the tuples frame after it
} link_group_t;

#define TASK_HEAD_SIZE  12              //  id (u64), size (u32)

//  ---------------------------------------------------------------------
//  Tasks out

static bool
s_same_group (const pool_task_t *a, const pool_task_t *b)
{
    return a->handler == b->handler && a->options == b->options
        && a->options_size == b->options_size && a->timeout_ms == b->timeout_ms;
}

//  Append the group of count tasks (sharing tasks[0]'s group) to zmsg.
static int
s_add_group (zmsg_t *zmsg, const pool_task_t *tasks, size_t count)
{
    link_group_t group = {
        .timeout_ms = tasks->timeout_ms, .count = (uint32_t) count,
        .options_size = tasks->options? (uint32_t) tasks->options_size: 0,
        .handler_size = (uint32_t) strlen (tasks->handler) + 1 };
    zframe_t *head = zframe_new (NULL, sizeof group + group.handler_size + group.options_size);
    size_t size = 0;
    for (size_t i = 0; i < count; i++)
        size += TASK_HEAD_SIZE + tasks[i].tuple_size;
    zframe_t *tuples = zframe_new (NULL, size);
    if (!head || !tuples) {
        zframe_destroy (&head);
        zframe_destroy (&tuples);
        return -1;
    }
    uint8_t *at = zframe_data (head);
    memcpy (at, &group, sizeof group);
    memcpy (at + sizeof group, tasks->handler, group.handler_size);
    if (group.options_size)
        memcpy (at + sizeof group + group.handler_size, tasks->options, group.options_size);
    at = zframe_data (tuples);
    for (size_t i = 0; i < count; i++) {
        uint32_t tuple_size = (uint32_t) tasks[i].tuple_size;
        memcpy (at, &tasks[i].id, 8);
        memcpy (at + 8, &tuple_size, 4);
        memcpy (at + TASK_HEAD_SIZE, tasks[i].tuple, tuple_size);
        at += TASK_HEAD_SIZE + tuple_size;
    }
    zmsg_append (zmsg, &head);
    zmsg_append (zmsg, &tuples);
    return 0;
}

int
link_send_tasks (zsock_t *router, const char *identity, const pool_task_t *tasks, size_t count)
{
    zmsg_t *zmsg = zmsg_new ();
    if (!zmsg)
        return -1;
    zmsg_addstr (zmsg, identity);
    zmsg_addmem (zmsg, (char []) { WORKER_TASKS }, 1);
    for (size_t first = 0, end; first < count; first = end) {
        for (end = first + 1; end < count && s_same_group (&tasks[first], &tasks[end]); end++)
            ;
        if (s_add_group (zmsg, tasks + first, end - first)) {
            zmsg_destroy (&zmsg);
            return -1;
        }
    }
    return zmsg_send (&zmsg, router) == 0? 0: (zmsg_destroy (&zmsg), -1);
}

//  ---------------------------------------------------------------------
//  Tasks in

typedef struct {
    link_tasks_t *batch;
    uint64_t id;                        //  the supervisor's
} item_t;

struct link_tasks {
    zmsg_t *msg;                        //  the frames the tasks point into
    size_t count, pending;
    pool_task_t *tasks;
    item_t *items;
};

void
link_tasks_destroy (link_tasks_t **self_p)
{
    link_tasks_t *self = *self_p;
    if (!self)
        return;
    zmsg_destroy (&self->msg);
    free (self);
    *self_p = NULL;
}

//  Decode one group (head, tuples) into tasks from *index on.  0 or -1.
static int
s_decode_group (link_tasks_t *self, zframe_t *head, zframe_t *tuples, size_t *index)
{
    link_group_t group;
    const char *data = (const char *) zframe_data (head);
    if (zframe_size (head) < sizeof group)
        return -1;
    memcpy (&group, data, sizeof group);
    if ((uint64_t) sizeof group + group.handler_size + group.options_size != zframe_size (head)
    ||  group.handler_size == 0 || data[sizeof group + group.handler_size - 1]
    ||  group.count > self->count - *index)
        return -1;
    const uint8_t *at = zframe_data (tuples), *end = at + zframe_size (tuples);
    for (uint32_t i = 0; i < group.count; i++) {
        uint64_t id;
        uint32_t size;
        if ((size_t) (end - at) < TASK_HEAD_SIZE)
            return -1;
        memcpy (&id, at, 8);
        memcpy (&size, at + 8, 4);
        if ((size_t) (end - at) - TASK_HEAD_SIZE < size)
            return -1;
        item_t *item = &self->items[*index];
        *item = (item_t) { .batch = self, .id = id };
        self->tasks[(*index)++] = (pool_task_t) {
            .id = (uint64_t) (uintptr_t) item, .handler = data + sizeof group,
            .tuple = at + TASK_HEAD_SIZE, .tuple_size = size,
            .options = group.options_size? data + sizeof group + group.handler_size: NULL,
            .options_size = group.options_size, .timeout_ms = group.timeout_ms };
        at += TASK_HEAD_SIZE + size;
    }
    return at == end? 0: -1;
}

//  Tasks in the message: the sum of its groups' counts.
static size_t
s_count (zmsg_t *msg)
{
    size_t count = 0;
    for (zframe_t *head = zmsg_first (msg); head; head = zmsg_next (msg)) {
        link_group_t group;
        if (zframe_size (head) >= sizeof group) {
            memcpy (&group, zframe_data (head), sizeof group);
            count += group.count;
        }
        if (!zmsg_next (msg))
            break;
    }
    return count;
}

link_tasks_t *
link_tasks_decode (zmsg_t **msg_p, size_t *count_p)
{
    size_t count = s_count (*msg_p);
    link_tasks_t *self = calloc (1, sizeof *self + count * (sizeof (pool_task_t) + sizeof (item_t)));
    if (!self) {
        log_error ("worker out of memory for %zu tasks", count);
        zmsg_destroy (msg_p);
        return NULL;
    }
    self->msg = *msg_p;
    *msg_p = NULL;
    self->count = self->pending = count;
    self->tasks = (pool_task_t *) (self + 1);
    self->items = (item_t *) (self->tasks + count);
    size_t index = 0;
    zframe_t *head = zmsg_first (self->msg);
    while (head) {
        zframe_t *tuples = zmsg_next (self->msg);
        if (!tuples || s_decode_group (self, head, tuples, &index))
            break;
        head = zmsg_next (self->msg);
    }
    if (head || index != count) {
        log_error ("worker: malformed tasks from the supervisor");
        link_tasks_destroy (&self);
        return NULL;
    }
    *count_p = count;
    return self;
}

pool_task_t *
link_tasks (link_tasks_t *self)
{
    return self->tasks;
}

uint64_t
link_task_done (uint64_t handle, bool final)
{
    item_t *item = (item_t *) (uintptr_t) handle;
    uint64_t id = item->id;
    link_tasks_t *batch = item->batch;
    if (final && --batch->pending == 0)
        link_tasks_destroy (&batch);
    return id;
}

uint64_t
link_task_id (uint64_t handle)
{
    return ((const item_t *) (uintptr_t) handle)->id;
}

//  ---------------------------------------------------------------------
//  Tasks to stop

int
link_send_cancel (zsock_t *router, const char *identity, const uint64_t *ids, size_t count)
{
    zmsg_t *zmsg = zmsg_new ();
    if (!zmsg)
        return -1;
    zmsg_addstr (zmsg, identity);
    zmsg_addmem (zmsg, (char []) { WORKER_CANCEL }, 1);
    zmsg_addmem (zmsg, ids, count * sizeof *ids);
    return zmsg_send (&zmsg, router) == 0? 0: (zmsg_destroy (&zmsg), -1);
}

static int
s_compare_ids (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y? -1: x > y;
}

uint64_t *
link_cancel_ids (zframe_t *frame, size_t *count_p)
{
    if (!frame || zframe_size (frame) % sizeof (uint64_t))
        return NULL;
    //  A copy: a received frame's bytes need not be aligned for u64.
    size_t count = zframe_size (frame) / sizeof (uint64_t);
    uint64_t *ids = malloc (count? count * sizeof *ids: 1);
    if (!ids)
        return NULL;
    memcpy (ids, zframe_data (frame), count * sizeof *ids);
    link_ids_sort (ids, count);
    *count_p = count;
    return ids;
}

void
link_ids_sort (uint64_t *ids, size_t count)
{
    qsort (ids, count, sizeof *ids, s_compare_ids);
}

bool
link_ids_has (const uint64_t *ids, size_t count, uint64_t id)
{
    return count && bsearch (&id, ids, count, sizeof id, s_compare_ids) != NULL;
}

//  ---------------------------------------------------------------------
//  Results

int
link_send_results (pool_results_t *results, zsock_t *dealer)
{
    void *handle = zsock_resolve (dealer);
    char kind = WORKER_RESULTS;
    int rc = zmq_send (handle, &kind, 1, ZMQ_SNDMORE) == 1
          && zmq_send (handle, results->data, results->size, 0) == (int) results->size? 0: -1;
    results->size = 0;
    //  One huge batch should not pin its buffer for the worker's life.
    if (results->cap > 4 * 1024 * 1024)
        pool_results_free (results);
    return rc;
}
