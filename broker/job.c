//  job.c -- see job.h.  A job is bookkeeping only: its tuples live in the
//  queue (waiting) or with agents (running); here we count them and decide
//  when the job is complete.
#include "broker/job.h"
#include "common/log.h"
#include "common/msgpack_map.h"
#include "common/peerlog.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct job {
    char *name;
    char *handler;
    char *sink;
    char *sink_key;             //  or NULL
    void *options;              //  raw msgpack map
    size_t options_size;
    void *spec;                 //  a spec job's spec (campaign.h), or NULL
    size_t spec_size;
    uint32_t max_attempts;
    uint32_t timeout_ms;
    bool closed;
    job_state_t ended;          //  JOB_OPEN, or JOB_CANCELLED / JOB_ABORTED
    uint64_t abort_after;       //  option: abort once this many failed (0: never)
    uint32_t priority;          //  option: its tuples' level (PROTOCOL.md 13)
    uint64_t not_before;        //  option: none of its tuples runs before (0: none)
    bool completed;             //  completion already logged
    bool dirty;                 //  to be written to the store
    uint32_t number;
    uint64_t next_id;
    uint64_t bytes;             //  of tuples not finished
    uint64_t batches;           //  SUBMIT batches remembered so far
    job_counters_t counters;
};

//  An empty msgpack map: what "no options" means on the wire.
static const unsigned char s_empty_map[] = { 0x80 };

job_t *
job_new (const char *name, const char *handler, const char *sink)
{
    job_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->name = strdup (name);
    self->handler = strdup (handler);
    self->sink = strdup (sink);
    if (!self->name || !self->handler || !self->sink) {
        job_destroy (&self);
        return NULL;
    }
    self->max_attempts = JOB_MAX_ATTEMPTS_DEFAULT;
    self->priority = JOB_PRIORITY_DEFAULT;
    self->timeout_ms = JOB_TIMEOUT_MS_DEFAULT;
    self->next_id = 1;
    self->dirty = true;
    log_info ("job %s created (handler %s, sink %s)", peerlog_str (name).text,
              peerlog_str (handler).text, peerlog_str (sink).text);
    return self;
}

void
job_destroy (job_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    job_t *self = *self_p;
    free (self->name);
    free (self->handler);
    free (self->sink);
    free (self->sink_key);
    free (self->options);
    free (self->spec);
    free (self);
    *self_p = NULL;
}

//  The uint value of key in a raw msgpack map, or otherwise.
static uint64_t
s_option_uint (const void *options, size_t size, const char *key, uint64_t otherwise)
{
    if (!options || !memmem (options, size, key, strlen (key)))
        return otherwise;   //  most jobs: no decoding
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    uint64_t value = otherwise;
    if (msgpack_unpack_next (&unpacked, options, size, NULL) == MSGPACK_UNPACK_SUCCESS) {
        const msgpack_object *o = msgpack_map_find (&unpacked.data, key);
        if (o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            value = o->via.u64;
    }
    msgpack_unpacked_destroy (&unpacked);
    return value;
}

int
job_set_options (job_t *self, const void *data, size_t size)
{
    void *copy = NULL;
    if (data && size) {
        copy = malloc (size);
        if (!copy)
            return -ENOMEM;
        memcpy (copy, data, size);
    }
    free (self->options);
    self->options = copy;
    self->options_size = copy? size: 0;
    self->abort_after = s_option_uint (copy, self->options_size, "abort_after", 0);
    self->priority = (uint32_t) s_option_uint (copy, self->options_size, "priority",
                                               JOB_PRIORITY_DEFAULT);
    if (self->priority > JOB_PRIORITY_MAX)
        self->priority = JOB_PRIORITY_MAX;      //  SUBMIT refuses it; a record may not
    self->not_before = s_option_uint (copy, self->options_size, "not_before", 0);
    return 0;
}

int
job_set_spec (job_t *self, const void *data, size_t size)
{
    void *copy = NULL;
    if (data && size && !(copy = malloc (size)))
        return -ENOMEM;
    if (copy)
        memcpy (copy, data, size);
    free (self->spec);
    self->spec = copy;
    self->spec_size = copy? size: 0;
    self->dirty = true;
    return 0;
}

const void *
job_spec (const job_t *self, size_t *size_p)
{
    *size_p = self->spec_size;
    return self->spec;
}

int
job_set_sink_key (job_t *self, const char *sink_key)
{
    char *copy = NULL;
    if (sink_key && !(copy = strdup (sink_key)))
        return -ENOMEM;
    free (self->sink_key);
    self->sink_key = copy;
    return 0;
}

const char *
job_sink_key (const job_t *self)
{
    return self->sink_key;
}

void
job_set_number (job_t *self, uint32_t number)
{
    self->number = number;
}

uint32_t
job_number (const job_t *self)
{
    return self->number;
}

void
job_set_max_attempts (job_t *self, uint32_t max_attempts)
{
    self->max_attempts = max_attempts;
}

void
job_set_timeout_ms (job_t *self, uint32_t timeout_ms)
{
    self->timeout_ms = timeout_ms;
}

const char *
job_name (const job_t *self)
{
    return self->name;
}

const char *
job_handler (const job_t *self)
{
    return self->handler;
}

const char *
job_sink (const job_t *self)
{
    return self->sink;
}

size_t
job_fields_size (const job_t *self)
{
    size_t options;
    job_options (self, &options);
    return strlen (self->name) + strlen (self->handler) + strlen (self->sink)
         + (self->sink_key? strlen (self->sink_key): 0) + options;
}

const void *
job_options (const job_t *self, size_t *size_p)
{
    if (!self->options) {
        *size_p = sizeof s_empty_map;
        return s_empty_map;
    }
    *size_p = self->options_size;
    return self->options;
}

uint32_t
job_max_attempts (const job_t *self)
{
    return self->max_attempts;
}

uint32_t
job_timeout_ms (const job_t *self)
{
    return self->timeout_ms;
}

uint64_t
job_next_id (const job_t *self)
{
    return self->next_id;
}

//  Log completion once, when a closed job has nothing left to run.
static void
s_check_complete (job_t *self)
{
    if (self->completed || job_state (self) != JOB_COMPLETE)
        return;
    self->completed = true;
    log_info ("job %s complete: %" PRIu64 " done, %" PRIu64 " failed",
              peerlog_str (self->name).text, self->counters.done, self->counters.failed);
}

uint64_t
job_accept (job_t *self, size_t count)
{
    uint64_t first = self->next_id;
    self->next_id += count;
    self->dirty = true;
    self->counters.submitted += count;
    self->counters.queued += count;
    return first;
}

void
job_dispatched (job_t *self, size_t count)
{
    //  Callers move only tuples they hold; clamping keeps a bug visible in
    //  the counters instead of wrapping them to 2^64.
    if (count > self->counters.queued)
        count = self->counters.queued;
    self->counters.queued -= count;
    self->counters.running += count;
}

void
job_requeued (job_t *self, size_t count)
{
    if (count > self->counters.running)
        count = self->counters.running;
    self->counters.running -= count;
    self->counters.queued += count;
}

void
job_wait (job_t *self, size_t count)
{
    if (count > self->counters.queued)
        count = self->counters.queued;
    self->counters.queued -= count;
    self->counters.waiting += count;
}

void
job_unwait (job_t *self, size_t count)
{
    if (count > self->counters.waiting)
        count = self->counters.waiting;
    self->counters.waiting -= count;
    self->counters.queued += count;
}

void
job_skipped (job_t *self, size_t count)
{
    self->counters.skipped += count;
}

void
job_finished (job_t *self, size_t done, size_t failed)
{
    if (done + failed > self->counters.running)
        failed = self->counters.running > done? self->counters.running - done: 0;
    if (done > self->counters.running)
        done = self->counters.running;
    self->counters.running -= done + failed;
    self->counters.done += done;
    self->counters.failed += failed;
    self->dirty = true;
    if (self->abort_after && self->counters.failed >= self->abort_after
    &&  self->ended == JOB_OPEN) {
        log_info ("job %s aborted: %" PRIu64 " tuples failed (abort_after %" PRIu64 ")",
                  peerlog_str (self->name).text, self->counters.failed, self->abort_after);
        self->ended = JOB_ABORTED;
    }
    s_check_complete (self);
}

void
job_close (job_t *self)
{
    self->closed = true;
    self->dirty = true;
    s_check_complete (self);
}

void
job_restore (job_t *self, uint64_t next_id, bool closed,
             const job_counters_t *counters, uint64_t bytes)
{
    self->next_id = next_id;
    self->closed = closed;
    self->counters = *counters;
    self->counters.running = 0;
    self->bytes = bytes;
    self->dirty = false;
    //  A job complete before the restart is not logged complete again.
    self->completed = job_state (self) == JOB_COMPLETE;
}

uint64_t
job_bytes (const job_t *self)
{
    return self->bytes;
}

void
job_add_bytes (job_t *self, uint64_t bytes)
{
    self->bytes += bytes;
}

void
job_sub_bytes (job_t *self, uint64_t bytes)
{
    self->bytes = bytes < self->bytes? self->bytes - bytes: 0;
}

uint64_t
job_batch_seq (job_t *self)
{
    self->dirty = true;
    return self->batches++;
}

uint64_t
job_batches (const job_t *self)
{
    return self->batches;
}

void
job_set_batches (job_t *self, uint64_t batches)
{
    self->batches = batches;
}

bool
job_dirty (const job_t *self)
{
    return self->dirty;
}

void
job_clean (job_t *self)
{
    self->dirty = false;
}

bool
job_closed (const job_t *self)
{
    return self->closed;
}

void
job_end (job_t *self, job_state_t how)
{
    if (self->ended != JOB_OPEN || (how != JOB_CANCELLED && how != JOB_ABORTED))
        return;
    self->ended = how;
    self->dirty = true;
    log_info ("job %s %s: %" PRIu64 " queued tuples will not run", peerlog_str (self->name).text,
              job_state_name (how), self->counters.queued);
}

job_state_t
job_ended (const job_t *self)
{
    return self->ended;
}

uint64_t
job_abort_after (const job_t *self)
{
    return self->abort_after;
}

uint32_t
job_priority (const job_t *self)
{
    return self->priority;
}

uint64_t
job_not_before (const job_t *self)
{
    return self->not_before;
}

job_state_t
job_state (const job_t *self)
{
    if (self->ended != JOB_OPEN)
        return self->ended;
    if (!self->closed)
        return JOB_OPEN;
    const job_counters_t *c = &self->counters;
    return c->done + c->failed == c->submitted? JOB_COMPLETE: JOB_CLOSED;
}

const char *
job_state_name (job_state_t state)
{
    switch (state) {
        case JOB_OPEN:     return "open";
        case JOB_CLOSED:   return "closed";
        case JOB_COMPLETE: return "complete";
        case JOB_CANCELLED: return "cancelled";
        case JOB_ABORTED:  return "aborted";
    }
    return "unknown";
}

const job_counters_t *
job_counters (const job_t *self)
{
    return &self->counters;
}
