//  task.c -- tasks and job records; see task.h.
#include "agent/task.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct task_jobs {
    zhashx_t *table;            //  name -> task_job_t
};

//  ---------------------------------------------------------------------
//  Job records

//  A record with refs 0; copies what work says.  NULL if out of memory.
static task_job_t *
s_job_new (const work_t *work)
{
    task_job_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->name = strdup (work->job);
    self->handler = strdup (work->handler? work->handler: "");
    //  A sealed sink travels with the job as "ENDPOINT KEY" (outbox.h).
    self->sink = work->sink_key? zsys_sprintf ("%s %s", work->sink, work->sink_key)
                               : strdup (work->sink);
    if (work->options_size) {
        self->options = malloc (work->options_size);
        if (self->options)
            memcpy (self->options, work->options, work->options_size);
        self->options_size = work->options_size;
    }
    self->max_attempts = work->max_attempts;
    self->timeout_ms = work->timeout_ms;
    if (!self->name || !self->handler || !self->sink
    ||  (self->options_size && !self->options)) {
        task_job_unref (&self);
        return NULL;
    }
    return self;
}

//  True if the record says what work says.
static bool
s_job_same (const task_job_t *self, const work_t *work)
{
    size_t endpoint = strlen (work->sink);
    const char *key = work->sink_key;
    bool same_sink = !strncmp (self->sink, work->sink, endpoint)
                  && (key? self->sink[endpoint] == ' ' && !strcmp (self->sink + endpoint + 1, key)
                         : self->sink[endpoint] == 0);
    return same_sink && !strcmp (self->handler, work->handler? work->handler: "")
        && self->options_size == work->options_size
        && (!work->options_size || !memcmp (self->options, work->options, work->options_size))
        && self->max_attempts == work->max_attempts && self->timeout_ms == work->timeout_ms;
}

void
task_job_ref (task_job_t *self)
{
    self->refs++;
}

void
task_job_unref (task_job_t **self_p)
{
    task_job_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    if (self->refs > 1) {
        self->refs--;
        return;
    }
    if (self->table && self->name && zhashx_lookup (self->table, self->name) == self)
        zhashx_delete (self->table, self->name);
    free (self->name);
    free (self->handler);
    free (self->sink);
    free (self->options);
    free (self);
}

task_jobs_t *
task_jobs_new (void)
{
    task_jobs_t *self = calloc (1, sizeof *self);
    if (self && !(self->table = zhashx_new ())) {
        free (self);
        self = NULL;
    }
    return self;
}

void
task_jobs_destroy (task_jobs_t **self_p)
{
    task_jobs_t *self = *self_p;
    if (!self)
        return;
    //  Unlist them all first: freeing one must not touch the table.
    zlistx_t *records = zhashx_values (self->table);
    for (task_job_t *job = zlistx_first (records); job; job = zlistx_next (records))
        job->table = NULL;
    zhashx_destroy (&self->table);
    for (task_job_t *job = zlistx_first (records); job; job = zlistx_next (records))
        if (job->refs == 0)
            task_job_unref (&job);
    zlistx_destroy (&records);
    free (self);
    *self_p = NULL;
}

task_job_t *
task_jobs_get (task_jobs_t *self, const work_t *work)
{
    task_job_t *job = zhashx_lookup (self->table, work->job);
    if (job && s_job_same (job, work))
        return job;
    task_job_t *fresh = s_job_new (work);
    if (!fresh)
        return NULL;
    if (job) {
        zhashx_delete (self->table, work->job);
        job->table = NULL;
        if (job->refs == 0)
            task_job_unref (&job);
    }
    if (zhashx_insert (self->table, work->job, fresh) == 0)
        fresh->table = self->table;
    return fresh;
}

//  ---------------------------------------------------------------------
//  Tasks

//  Results are copied into chunks of the block, one after the other, and
//  freed with it: no allocation per result (a frame per result, two
//  allocations and two frees, showed in the agent's profile).  Chunks grow
//  from about 256 bytes a task to RESULTS_CHUNK_MAX.
#define RESULTS_CHUNK_MAX   (64 * 1024)

typedef struct chunk chunk_t;
struct chunk {
    chunk_t *next;
    size_t used, cap;
    uint8_t data[];
};

struct task_block {
    size_t refs;                //  its tasks not yet destroyed
    size_t count;               //  tasks it was made with
    zframe_t *tuples;           //  the WORK's packed tuples
    chunk_t *results;           //  newest first
};

//  size bytes in the block's results, or NULL if out of memory.
static uint8_t *
s_block_alloc (task_block_t *block, size_t size)
{
    chunk_t *chunk = block->results;
    if (!chunk || chunk->cap - chunk->used < size) {
        size_t cap = chunk? chunk->cap * 2: block->count * 256;
        cap = cap < RESULTS_CHUNK_MAX? cap: RESULTS_CHUNK_MAX;
        cap = cap > size? cap: size;
        chunk_t *more = malloc (sizeof *more + cap);
        if (!more)
            return NULL;
        *more = (chunk_t) { .next = chunk, .cap = cap };
        block->results = chunk = more;
    }
    uint8_t *at = chunk->data + chunk->used;
    chunk->used += size;
    return at;
}

static void
s_block_free (task_block_t *block)
{
    zframe_destroy (&block->tuples);
    while (block->results) {
        chunk_t *next = block->results->next;
        free (block->results);
        block->results = next;
    }
    free (block);
}

//  The task's data: size bytes copied from each of the two parts.  0 or
//  -ENOMEM.
static int
s_set_data (task_t *self, const void *first, size_t first_size, const void *second,
            size_t second_size)
{
    size_t size = first_size + second_size;
    uint8_t *data = size? s_block_alloc (self->block, size): NULL;
    if (size && !data)
        return -ENOMEM;
    if (first_size)
        memcpy (data, first, first_size);
    if (second_size)
        memcpy (data + first_size, second, second_size);
    self->data = data;
    self->data_size = size;
    return 0;
}

int
task_new_all (task_job_t *job, work_t *work, uint32_t session, task_t **tasks)
{
    size_t count = work->count;
    task_block_t *block = calloc (1, sizeof *block + count * sizeof (task_t));
    if (!block)
        return -ENOMEM;
    //  Where each tuple lies in the packed buffer; the frame taken out of
    //  the message holds the same bytes (the very frame, or a copy).
    size_t packed_size;
    const uint8_t *base = msg_tuples_packed (work->msg, &packed_size);
    task_t *task = (task_t *) (block + 1);
    for (size_t i = 0; i < count; i++) {
        const uint8_t *tuple = msg_tuple (work->msg, i, &task[i].tuple_size);
        task[i].tuple = (const uint8_t *) (uintptr_t) (tuple - base);
    }
    block->tuples = count? msg_tuples_pop (work->msg): NULL;
    if (count && (!block->tuples || zframe_size (block->tuples) != packed_size)) {
        zframe_destroy (&block->tuples);
        free (block);
        return -ENOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        task[i].tuple = zframe_data (block->tuples) + (uintptr_t) task[i].tuple;
        task[i].block = block;
        task[i].job = job;
        task_job_ref (job);
        task[i].ref = work->refs[i];
        task[i].session = session;
        task[i].touch.at = INT64_MAX;
        tasks[i] = &task[i];
    }
    block->refs = block->count = count;
    if (!count)
        free (block);
    return 0;
}

void
task_destroy (task_t **self_p)
{
    task_t *self = *self_p;
    if (!self)
        return;
    free (self->partial);
    task_job_unref (&self->job);
    task_block_t *block = self->block;
    if (--block->refs == 0)
        s_block_free (block);
    *self_p = NULL;
}

int
task_dead_letter (task_t *self, const char *error)
{
    self->dead = true;
    self->status = POOL_ERROR;
    self->started_us = (uint64_t) zclock_time () * 1000;
    return s_set_data (self, error, strlen (error), NULL, 0);
}

int
task_add_partial (task_t *self, const void *data, size_t size)
{
    if (self->partial_size + size > self->partial_cap) {
        size_t cap = self->partial_cap? self->partial_cap: 256;
        while (cap < self->partial_size + size)
            cap *= 2;
        uint8_t *more = realloc (self->partial, cap);
        if (!more)
            return -ENOMEM;
        self->partial = more;
        self->partial_cap = cap;
    }
    memcpy (self->partial + self->partial_size, data, size);
    self->partial_size += size;
    self->partial_outputs++;
    return 0;
}

static void
s_fail (task_t *self, const char *reason)
{
    self->status = POOL_ERROR;
    self->data = (const uint8_t *) reason;
    self->data_size = strlen (reason);
}

void
task_take_result (task_t *self, const pool_record_t *result, const void *data)
{
    self->status = (pool_status_t) result->status;
    self->outputs = result->outputs;
    self->started_us = result->started_us;
    self->duration_us = result->duration_us;
    //  A successful result carries only the outputs after the streamed
    //  ones: those go first, so the sink gets every output in order.
    bool join = self->status == POOL_OK && self->partial_outputs;
    if (s_set_data (self, join? self->partial: NULL, join? self->partial_size: 0, data,
                    result->size))
        s_fail (self, "agent out of memory");
    else
    if (join)
        self->outputs += self->partial_outputs;
    if (join) {
        free (self->partial);
        self->partial = NULL;
        self->partial_size = self->partial_cap = self->partial_outputs = 0;
    }
}

void
task_cancelled (task_t *self, const char *reason)
{
    s_fail (self, reason);
    self->stored_as = WORK_STATUS_CANCELLED;
}

bool
task_is_final (const task_t *self)
{
    return self->status == POOL_OK || self->dead || self->stored_as > WORK_STATUS_FAILED
        || self->ref.attempt >= self->job->max_attempts;
}
