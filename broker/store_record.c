//  store_record.c -- see store_record.h.  A job record is a version, the
//  fixed fields as u64, then length-prefixed strings (NUL included) and
//  the raw msgpack options; readers check every length against what is left.
#include "broker/store_record.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define JOB_RECORD_VERSION 1

void
store_record_put_u32 (unsigned char *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char) v;
}

void
store_record_put_u64 (unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char) v;
}

uint32_t
store_record_u32 (const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = (v << 8) | p[i];
    return v;
}

uint64_t
store_record_u64 (const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

//  A growing buffer: one failed allocation fails the whole record.
typedef struct {
    unsigned char *data;
    size_t size;
    size_t capacity;
    bool failed;
} buffer_t;

static void
s_append (buffer_t *b, const void *data, size_t size)
{
    if (b->failed)
        return;
    if (b->size + size > b->capacity) {
        size_t capacity = (b->size + size) * 2 + 64;
        unsigned char *grown = realloc (b->data, capacity);
        if (!grown) {
            b->failed = true;
            return;
        }
        b->data = grown;
        b->capacity = capacity;
    }
    memcpy (b->data + b->size, data, size);
    b->size += size;
}

static void
s_append_u64 (buffer_t *b, uint64_t v)
{
    unsigned char bytes[8];
    store_record_put_u64 (bytes, v);
    s_append (b, bytes, 8);
}

static void
s_append_bytes (buffer_t *b, const void *data, size_t size)
{
    s_append_u64 (b, size);
    s_append (b, data, size);
}

int
store_record_encode_job (const job_t *job, unsigned char **data_p, size_t *size_p)
{
    buffer_t b = { 0 };
    const job_counters_t *c = job_counters (job);
    s_append_u64 (&b, JOB_RECORD_VERSION);
    s_append_u64 (&b, job_number (job));
    s_append_u64 (&b, job_max_attempts (job));
    s_append_u64 (&b, job_timeout_ms (job));
    //  Bit 0 closed, bits 1-3 how it ended (job_state_t; 0: not ended):
    //  an older broker reads any of it as closed.
    s_append_u64 (&b, (uint64_t) job_closed (job) | (uint64_t) job_ended (job) << 1);
    s_append_u64 (&b, job_next_id (job));
    s_append_u64 (&b, c->submitted);
    s_append_u64 (&b, c->done);
    s_append_u64 (&b, c->failed);
    s_append_u64 (&b, job_batches (job));
    s_append_bytes (&b, job_handler (job), strlen (job_handler (job)) + 1);
    s_append_bytes (&b, job_sink (job), strlen (job_sink (job)) + 1);
    const char *sink_key = job_sink_key (job);
    s_append_bytes (&b, sink_key? sink_key: "", sink_key? strlen (sink_key) + 1: 0);
    size_t options_size;
    const void *options = job_options (job, &options_size);
    s_append_bytes (&b, options, options_size);
    //  Last and optional: a record without it (an older broker's) is an
    //  ordinary job.
    size_t spec_size;
    const void *spec = job_spec (job, &spec_size);
    if (spec)
        s_append_bytes (&b, spec, spec_size);
    if (b.failed) {
        free (b.data);
        return -ENOMEM;
    }
    *data_p = b.data;
    *size_p = b.size;
    return 0;
}

typedef struct {
    const unsigned char *p;
    size_t left;
    bool failed;
} reader_t;

static uint64_t
s_read_u64 (reader_t *r)
{
    if (r->failed || r->left < 8) {
        r->failed = true;
        return 0;
    }
    uint64_t v = store_record_u64 (r->p);
    r->p += 8;
    r->left -= 8;
    return v;
}

static const void *
s_read_bytes (reader_t *r, size_t *size_p)
{
    uint64_t size = s_read_u64 (r);
    if (r->failed || size > r->left) {
        r->failed = true;
        return NULL;
    }
    const void *data = r->p;
    r->p += size;
    r->left -= size;
    *size_p = (size_t) size;
    return data;
}

//  A C string field: non-empty and NUL-terminated, or NULL.
static const char *
s_read_str (reader_t *r)
{
    size_t size = 0;
    const char *s = (const char *) s_read_bytes (r, &size);
    return s && size > 0 && s[size - 1] == 0? s: NULL;
}

job_t *
store_record_decode_job (const void *name, size_t name_size, const void *data, size_t size)
{
    reader_t r = { data, size, false };
    if (s_read_u64 (&r) != JOB_RECORD_VERSION)
        return NULL;
    uint64_t number = s_read_u64 (&r);
    uint64_t max_attempts = s_read_u64 (&r);
    uint64_t timeout_ms = s_read_u64 (&r);
    uint64_t closed_ended = s_read_u64 (&r);
    bool closed = (closed_ended & 1) != 0;
    job_state_t ended = (job_state_t) (closed_ended >> 1 & 7);
    uint64_t next_id = s_read_u64 (&r);
    job_counters_t c = { 0 };
    c.submitted = s_read_u64 (&r);
    c.done = s_read_u64 (&r);
    c.failed = s_read_u64 (&r);
    uint64_t batches = s_read_u64 (&r);
    const char *handler = s_read_str (&r);
    const char *sink = s_read_str (&r);
    size_t key_size = 0;
    const char *sink_key = (const char *) s_read_bytes (&r, &key_size);
    size_t options_size = 0;
    const void *options = s_read_bytes (&r, &options_size);
    size_t spec_size = 0;
    const void *spec = r.left > 0? s_read_bytes (&r, &spec_size): NULL;
    if (r.failed || !handler || !sink || name_size == 0 || name_size > 1024)
        return NULL;
    char job_name[1025];
    memcpy (job_name, name, name_size);
    job_name[name_size] = 0;
    job_t *job = job_new (job_name, handler, sink);
    if (!job)
        return NULL;
    job_set_number (job, (uint32_t) number);
    job_set_max_attempts (job, (uint32_t) max_attempts);
    job_set_timeout_ms (job, (uint32_t) timeout_ms);
    job_set_batches (job, batches);
    if (job_set_options (job, options, options_size)
    ||  job_set_spec (job, spec, spec_size)
    ||  (key_size && sink_key[key_size - 1] == 0 && job_set_sink_key (job, sink_key))) {
        job_destroy (&job);
        return NULL;
    }
    job_restore (job, next_id, closed, &c, 0);
    if (ended == JOB_CANCELLED || ended == JOB_ABORTED) {
        job_end (job, ended);
        job_clean (job);
    }
    return job;
}
