//  group.c -- see group.h.  Holds the group's messages until their STOREDs
//  are sent: each RESULT's records and its job and tuples point into them.
#include "sink/group.h"

#include "common/grow.h"
#include "common/log.h"
#include "common/peerlog.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

typedef struct {
    group_result_t result;
    size_t         dead_first;      //  into the group's dead
} entry_t;

struct sink_group {
    output_t *output;               //  borrowed
    seen_t   *seen;                 //  borrowed
    bool      mark;
    uint64_t  dev, ino;
    bool      open;                 //  output and index batches begun
    int       error;                //  0, or the -errno that failed the group
    entry_t  *entries;
    size_t    count;
    size_t    capacity;
    size_t    records;
    msg_ref_t *dead;
    size_t    dead_count;
    size_t    dead_capacity;
};

group_t *
group_new (output_t *output, seen_t *seen, bool mark, uint64_t dev, uint64_t ino)
{
    group_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    *self = (group_t) { .output = output, .seen = seen, .mark = mark, .dev = dev,
                        .ino = ino };
    return self;
}

void
group_destroy (group_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    group_t *self = *self_p;
    group_clear (self);
    free (self->entries);
    free (self->dead);
    free (self);
    *self_p = NULL;
}

//  The output and index batches, at the group's first RESULT.
static int
s_open (group_t *self)
{
    if (self->open)
        return 0;
    output_discard (self->output);
    int rc = seen_begin (self->seen);
    if (rc) {
        log_error ("cannot start a batch in the index: %s", strerror (-rc));
        return rc;
    }
    self->open = true;
    return 0;
}

//  A RESULT's records into the open batches.
static int
s_store (group_t *self, entry_t *entry, result_t *result, metrics_histogram_t *latency)
{
    group_result_t *stored = &entry->result;
    const char *job = msg_str (stored->msg, MSG_F_JOB);
    int rc = output_source (self->output, job, msg_str (stored->msg, MSG_F_AGENT));
    size_t labels_size = 0;
    const void *labels = msg_raw (stored->msg, MSG_F_LABELS, &labels_size);
    if (rc == 0 && labels && output_labels (self->output, labels, labels_size))
        log_warn ("job %s: the agent's labels cannot be written; results go without",
                  peerlog_str (job).text);
    int jobs_before = seen_batch_new_jobs (self->seen);
    uint64_t now_us = result_now_us ();
    result_record_t record;
    while (rc == 0 && result_next (result, &record)) {
        bool held_failed = false;
        rc = seen_insert (self->seen, job, record.tuple, record.status == RESULT_FAILED,
                          &held_failed);
        if (rc < 0)
            break;
        if (held_failed) {
            if (grow ((void **) &self->dead, &self->dead_capacity, self->dead_count,
                        sizeof *self->dead))
                return -ENOMEM;
            self->dead[self->dead_count++] = (msg_ref_t) { record.tuple,
                                                           (uint32_t) record.attempt };
            stored->dead_count++;
        }
        if (rc == 0) {
            stored->duplicates++;
            continue;
        }
        stored->fresh++;
        stored->failed += record.status == RESULT_FAILED;
        metrics_histogram_observe (latency, result_latency (&record, now_us));
        rc = output_add (self->output, &record);
    }
    stored->new_job = seen_batch_new_jobs (self->seen) > jobs_before;
    if (rc < 0)
        log_error ("cannot store results of job %s: %s", peerlog_str (job).text,
                   strerror (-rc));
    return rc < 0? rc: 0;
}

int
group_add (group_t *self, zmsg_t **envelope_p, msg_t **msg_p, result_t *result,
           metrics_histogram_t *latency)
{
    assert (self && envelope_p && msg_p && result);
    if (grow ((void **) &self->entries, &self->capacity, self->count, sizeof *self->entries)) {
        zmsg_destroy (envelope_p);      //  never answered: the agent sends it again
        msg_destroy (msg_p);
        self->error = -ENOMEM;
        return self->error;
    }
    entry_t *entry = &self->entries[self->count++];
    *entry = (entry_t) { .result = { .envelope = *envelope_p, .msg = *msg_p },
                         .dead_first = self->dead_count };
    *envelope_p = NULL;
    *msg_p = NULL;
    self->records += result_count (result);
    if (self->error)
        return self->error;
    int rc = s_open (self);
    if (rc == 0)
        rc = s_store (self, entry, result, latency);
    if (rc)
        self->error = rc;
    return rc;
}

size_t
group_results (const group_t *self)
{
    assert (self);
    return self->count;
}

size_t
group_records (const group_t *self)
{
    assert (self);
    return self->records;
}

//  The group's lines written, then its inserts committed.
static int
s_commit (group_t *self)
{
    size_t fresh = 0;
    for (size_t i = 0; i < self->count; i++)
        fresh += self->entries[i].result.fresh;
    if (fresh == 0) {                   //  all duplicates: nothing to record
        seen_abort (self->seen);
        return 0;
    }
    int rc = output_commit (self->output);
    if (rc) {
        log_error ("cannot write %s: %s", output_path (self->output), strerror (-rc));
        seen_abort (self->seen);
        return DRV_E_INTERNAL;
    }
    int64_t end = output_end (self->output);
    seen_mark_t mark = { self->dev, self->ino, (uint64_t) end };
    rc = seen_commit (self->seen, self->mark && end >= 0? &mark: NULL);
    if (rc < 0) {
        int cut = output_rollback (self->output);
        log_error ("cannot record %zu results in the index: %s; %s", fresh, strerror (-rc),
                   cut? "their lines stay in the output and the index learns them at the "
                   "next start": "their lines were cut back out");
        return DRV_E_INTERNAL;
    }
    return 0;
}

int
group_commit (group_t *self)
{
    assert (self);
    if (!self->open && !self->error)
        return 0;
    int rc = DRV_E_INTERNAL;
    if (self->error) {
        output_discard (self->output);
        seen_abort (self->seen);
    }
    else
        rc = s_commit (self);
    self->open = false;
    if (rc)
        for (size_t i = 0; i < self->count; i++) {
            group_result_t *stored = &self->entries[i].result;
            stored->fresh = stored->failed = stored->dead_count = 0;
            stored->new_job = false;
        }
    return rc;
}

const group_result_t *
group_result (group_t *self, size_t index)
{
    assert (self);
    if (index >= self->count)
        return NULL;
    entry_t *entry = &self->entries[index];
    entry->result.dead = self->dead? self->dead + entry->dead_first: NULL;
    return &entry->result;
}

void
group_clear (group_t *self)
{
    assert (self);
    for (size_t i = 0; i < self->count; i++) {
        zmsg_destroy (&self->entries[i].result.envelope);
        msg_destroy (&self->entries[i].result.msg);
    }
    if (self->open) {
        output_discard (self->output);
        seen_abort (self->seen);
        self->open = false;
    }
    self->count = self->records = self->dead_count = 0;
    self->error = 0;
}
