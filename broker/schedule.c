//  schedule.c -- see schedule.h.  The template is a SUBMIT message held
//  whole (its fields and packed tuples), so a tick copies it and names
//  it; its store record is the template's header frame as the codec
//  writes it (header.h) and its packed tuples, after the schedule's own
//  fields: a version, numbers big-endian, strings length-prefixed.
#include "broker/schedule.h"
#include "broker/store_record.h"
#include "proto/header.h"
#include "spec/cron.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SCHEDULE_RECORD_VERSION 1

struct schedule {
    char *name;
    char *cron_text;            //  NULL: every
    cron_t *cron;
    int64_t every;              //  seconds; 0: cron
    int64_t created;
    int64_t last_run;           //  the tick it last ran for; 0: never
    char *last_job;             //  the job that run made, or NULL
    msg_t *template;            //  a SUBMIT without job and close
};

void
schedule_destroy (schedule_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    schedule_t *self = *self_p;
    free (self->name);
    free (self->cron_text);
    cron_destroy (&self->cron);
    free (self->last_job);
    msg_destroy (&self->template);
    free (self);
    *self_p = NULL;
}

//  The job's fields and tuples of from (a SUBMIT or a SCHEDULE) into to (a
//  SUBMIT).  0, or -ENOMEM (or what a setter said).
static int
s_copy_template (const msg_t *from, msg_t *to)
{
    static const msg_field_t strs[] = { MSG_F_HANDLER, MSG_F_SINK, MSG_F_SINK_KEY };
    static const msg_field_t maps[] = { MSG_F_OPTIONS, MSG_F_SPEC };
    static const msg_field_t uints[] = { MSG_F_MAX_ATTEMPTS, MSG_F_TIMEOUT_MS };
    int rc = 0;
    for (size_t i = 0; i < 3 && rc == 0; i++)
        if (msg_has (from, strs[i]))
            rc = msg_set_str (to, strs[i], msg_str (from, strs[i]));
    for (size_t i = 0; i < 2 && rc == 0; i++) {
        size_t size;
        const void *map = msg_raw (from, maps[i], &size);
        if (map)
            rc = msg_set_raw (to, maps[i], map, size);
    }
    for (size_t i = 0; i < 2 && rc == 0; i++)
        if (msg_has (from, uints[i]))
            rc = msg_set_uint (to, uints[i], msg_uint (from, uints[i]));
    size_t bytes;
    const void *packed = msg_tuples_packed (from, &bytes);
    if (rc == 0 && packed) {
        zframe_t *frame = zframe_new (packed, bytes);
        rc = frame? msg_set_tuples (to, &frame, msg_tuple_count (from)): -ENOMEM;
    }
    return rc;
}

static msg_t *
s_template (const msg_t *from)
{
    msg_t *template = msg_new (MSG_SUBMIT);
    if (template && s_copy_template (from, template))
        msg_destroy (&template);
    return template;
}

//  When it runs: cron text (parsed) or every (seconds).  0, or -1 with
//  the reason.
static int
s_set_when (schedule_t *self, const char *cron, uint64_t every_ms, char *reason,
            size_t size)
{
    if (cron) {
        char err[200];
        self->cron_text = strdup (cron);
        self->cron = cron_new (cron, err, sizeof err);
        if (!self->cron)
            snprintf (reason, size, "cron: %s", err);
        return self->cron && self->cron_text? 0: -1;
    }
    if (every_ms < SCHEDULE_EVERY_MS_MIN || every_ms > SCHEDULE_EVERY_MS_MAX
    ||  every_ms % 1000) {
        snprintf (reason, size, "every_ms must be whole seconds, 1 s to 366 days");
        return -1;
    }
    self->every = (int64_t) (every_ms / 1000);
    return 0;
}

//  A SCHEDULE add's own rules; the reason's code in *code_p.
static int
s_check (const msg_t *msg, int *code_p, char *reason, size_t size)
{
    const char *name = msg_str (msg, MSG_F_SCHEDULE);
    size_t bytes = 0;
    msg_tuples_packed (msg, &bytes);
    *code_p = DRV_E_BAD_TYPE;
    if (!name || !*name)
        snprintf (reason, size, "a schedule needs a name (schedule)");
    else
    if (strlen (name) > SCHEDULE_MAX_NAME) {
        *code_p = DRV_E_TOO_LARGE;
        snprintf (reason, size, "a schedule's name is at most %d bytes", SCHEDULE_MAX_NAME);
    }
    else
    if (msg_has (msg, MSG_F_CRON) == msg_has (msg, MSG_F_EVERY_MS))
        snprintf (reason, size, "schedule %.64s: give cron or every_ms, one of them", name);
    else
    if (bytes > SCHEDULE_MAX_TUPLE_BYTES) {
        *code_p = DRV_E_TOO_LARGE;
        snprintf (reason, size, "schedule %.64s: its tuples are over %d bytes; a "
                  "schedule keeps them all", name, SCHEDULE_MAX_TUPLE_BYTES);
    }
    else
        return 0;
    return -1;
}

schedule_t *
schedule_new (const msg_t *msg, int64_t now, int *code_p, char *reason, size_t size)
{
    if (s_check (msg, code_p, reason, size))
        return NULL;
    schedule_t *self = calloc (1, sizeof *self);
    if (!self || !(self->name = strdup (msg_str (msg, MSG_F_SCHEDULE)))
    ||  !(self->template = s_template (msg))) {
        *code_p = DRV_E_INTERNAL;
        snprintf (reason, size, "out of memory");
        schedule_destroy (&self);
        return NULL;
    }
    self->created = now;
    *code_p = DRV_E_BAD_TYPE;
    if (s_set_when (self, msg_str (msg, MSG_F_CRON), msg_uint (msg, MSG_F_EVERY_MS),
                    reason, size))
        schedule_destroy (&self);
    return self;
}

const char *
schedule_name (const schedule_t *self)
{
    return self->name;
}

//  ---------------------------------------------------------------------
//  Ticks

//  The last tick at or before t, or -1.
static int64_t
s_last_at (const schedule_t *self, int64_t t)
{
    if (self->cron)
        return cron_last_at (self->cron, t);
    return t < 0? -1: t - t % self->every;
}

int64_t
schedule_next_after (const schedule_t *self, int64_t t)
{
    if (self->cron)
        return cron_next_after (self->cron, t);
    return s_last_at (self, t) + self->every;
}

bool
schedule_due (const schedule_t *self, int64_t now, int64_t *tick_p)
{
    int64_t last = self->last_run? self->last_run: self->created;
    int64_t latest = s_last_at (self, now);
    if (latest < 0 || latest <= last)
        return false;
    *tick_p = latest;
    return true;
}

msg_t *
schedule_submit (const schedule_t *self, int64_t tick, const char **job_p)
{
    char stamp[32], name[SCHEDULE_MAX_NAME + 40];
    time_t when = (time_t) tick;
    struct tm tm;
    gmtime_r (&when, &tm);
    strftime (stamp, sizeof stamp, self->cron? "%Y%m%dT%H%MZ": "%Y%m%dT%H%M%SZ", &tm);
    snprintf (name, sizeof name, "%s-%s", self->name, stamp);
    msg_t *submit = msg_new (MSG_SUBMIT);
    if (!submit || s_copy_template (self->template, submit)
    ||  msg_set_str (submit, MSG_F_JOB, name) || msg_set_bool (submit, MSG_F_CLOSE, true))
        msg_destroy (&submit);
    *job_p = submit? msg_str (submit, MSG_F_JOB): NULL;
    return submit;
}

int
schedule_ran (schedule_t *self, int64_t tick, const char *job)
{
    char *copy = strdup (job);
    if (!copy)
        return -ENOMEM;
    free (self->last_job);
    self->last_job = copy;
    self->last_run = tick;
    return 0;
}

//  ---------------------------------------------------------------------
//  The listing entry

static void
s_pack_str (msgpack_packer *pk, const char *text)
{
    size_t size = strlen (text);
    msgpack_pack_str_with_body (pk, text, size);
}

static void
s_pack_uint (msgpack_packer *pk, const char *key, int64_t value)
{
    s_pack_str (pk, key);
    msgpack_pack_uint64 (pk, (uint64_t) value);
}

void
schedule_pack (const schedule_t *self, int64_t now, msgpack_packer *pk)
{
    int64_t next = schedule_next_after (self, now);
    size_t tuples = msg_tuple_count (self->template);
    msgpack_pack_map (pk, 6 + (next >= 0) + (self->last_run != 0) + (self->last_job != NULL));
    s_pack_str (pk, "schedule");
    s_pack_str (pk, self->name);
    if (self->cron) {
        s_pack_str (pk, "cron");
        s_pack_str (pk, self->cron_text);
    }
    else
        s_pack_uint (pk, "every_ms", self->every * 1000);
    s_pack_str (pk, "handler");
    s_pack_str (pk, msg_has (self->template, MSG_F_HANDLER)?
                    msg_str (self->template, MSG_F_HANDLER): "");
    s_pack_str (pk, "spec");
    if (msg_has (self->template, MSG_F_SPEC))
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
    s_pack_uint (pk, "tuples", (int64_t) tuples);
    s_pack_uint (pk, "created", self->created);
    if (next >= 0)
        s_pack_uint (pk, "next_run", next);
    if (self->last_run)
        s_pack_uint (pk, "last_run", self->last_run);
    if (self->last_job) {
        s_pack_str (pk, "last_job");
        s_pack_str (pk, self->last_job);
    }
}

//  ---------------------------------------------------------------------
//  The store record

static void
s_put_u64 (zchunk_t *chunk, uint64_t value)
{
    unsigned char bytes[8];
    store_record_put_u64 (bytes, value);
    zchunk_extend (chunk, bytes, 8);
}

static void
s_put_bytes (zchunk_t *chunk, const void *data, size_t size)
{
    s_put_u64 (chunk, size);
    zchunk_extend (chunk, data, size);
}

int
schedule_encode (const schedule_t *self, unsigned char **data_p, size_t *size_p)
{
    zframe_t *header = header_encode (self->template);
    zchunk_t *chunk = header? zchunk_new (NULL, 256): NULL;
    if (!chunk) {
        zframe_destroy (&header);
        return -ENOMEM;
    }
    s_put_u64 (chunk, SCHEDULE_RECORD_VERSION);
    s_put_u64 (chunk, (uint64_t) self->every);
    s_put_u64 (chunk, (uint64_t) self->created);
    s_put_u64 (chunk, (uint64_t) self->last_run);
    const char *cron = self->cron_text? self->cron_text: "";
    s_put_bytes (chunk, cron, strlen (cron));
    const char *job = self->last_job? self->last_job: "";
    s_put_bytes (chunk, job, strlen (job));
    s_put_bytes (chunk, zframe_data (header), zframe_size (header));
    size_t bytes = 0;
    const void *tuples = msg_tuples_packed (self->template, &bytes);
    s_put_u64 (chunk, msg_tuple_count (self->template));
    s_put_bytes (chunk, tuples, bytes);
    zframe_destroy (&header);
    *size_p = zchunk_size (chunk);
    *data_p = malloc (*size_p? *size_p: 1);
    if (*data_p)
        memcpy (*data_p, zchunk_data (chunk), *size_p);
    zchunk_destroy (&chunk);
    return *data_p? 0: -ENOMEM;
}

//  A record being read: every length checked against what is left.
typedef struct {
    const unsigned char *at;
    size_t left;
    bool bad;
} reader_t;

static uint64_t
s_get_u64 (reader_t *r)
{
    if (r->bad || r->left < 8) {
        r->bad = true;
        return 0;
    }
    uint64_t value = store_record_u64 (r->at);
    r->at += 8;
    r->left -= 8;
    return value;
}

static const void *
s_get_bytes (reader_t *r, size_t *size_p)
{
    uint64_t size = s_get_u64 (r);
    if (r->bad || size > r->left) {
        r->bad = true;
        *size_p = 0;
        return NULL;
    }
    const void *data = r->at;
    r->at += size;
    r->left -= size;
    *size_p = (size_t) size;
    return data;
}

//  The template from its header and packed tuples.
static msg_t *
s_template_decode (const void *header, size_t header_size, const void *tuples,
                   size_t bytes, uint64_t count)
{
    msg_t *template = msg_new (MSG_SUBMIT);
    uint64_t packed_count = 0;
    bool has_count = false;
    if (!template || msg_set_version (template, MSG_VERSION)
    ||  header_decode (template, header, header_size, &packed_count, &has_count)) {
        msg_destroy (&template);
        return NULL;
    }
    zframe_t *frame = bytes? zframe_new (tuples, bytes): NULL;
    if (bytes && (!frame || msg_set_tuples (template, &frame, (size_t) count)))
        msg_destroy (&template);
    return template;
}

schedule_t *
schedule_decode (const void *name, size_t name_size, const void *data, size_t size)
{
    reader_t r = { data, size, false };
    schedule_t *self = calloc (1, sizeof *self);
    if (!self || s_get_u64 (&r) != SCHEDULE_RECORD_VERSION) {
        free (self);
        return NULL;
    }
    self->every = (int64_t) s_get_u64 (&r);
    self->created = (int64_t) s_get_u64 (&r);
    self->last_run = (int64_t) s_get_u64 (&r);
    size_t cron_size, job_size, header_size, bytes;
    const char *cron = s_get_bytes (&r, &cron_size);
    const char *job = s_get_bytes (&r, &job_size);
    const void *header = s_get_bytes (&r, &header_size);
    uint64_t count = s_get_u64 (&r);
    const void *tuples = s_get_bytes (&r, &bytes);
    self->name = strndup (name, name_size);
    self->last_job = job_size? strndup (job, job_size): NULL;
    char *cron_text = cron_size? strndup (cron, cron_size): NULL;
    char reason[256];
    if (r.bad || !self->name || (job_size && !self->last_job) || (cron_size && !cron_text)
    ||  !(self->template = s_template_decode (header, header_size, tuples, bytes, count))
    ||  s_set_when (self, cron_text, (uint64_t) self->every * 1000, reason, sizeof reason))
        schedule_destroy (&self);
    free (cron_text);
    return self;
}
