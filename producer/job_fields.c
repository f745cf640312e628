//  job_fields.c -- see job_fields.h.  The str and map fields live in a
//  SUBMIT of their own, so msg.h checks each once, when it is set.
#include "producer/job_fields.h"
#include "common/json_read.h"

#include <assert.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct job_fields {
    msg_t *fields;              //  a SUBMIT holding the str and map fields
    uint64_t max_attempts;      //  0: left out
    uint64_t timeout_ms;        //  0: left out
};

job_fields_t *
job_fields_new (void)
{
    job_fields_t *self = calloc (1, sizeof *self);
    if (self && !(self->fields = msg_new (MSG_SUBMIT)))
        job_fields_destroy (&self);
    return self;
}

void
job_fields_destroy (job_fields_t **self_p)
{
    assert (self_p);
    job_fields_t *self = *self_p;
    if (!self)
        return;
    msg_destroy (&self->fields);
    free (self);
    *self_p = NULL;
}

void
job_fields_set_str (job_fields_t *self, msg_field_t field, const char *value)
{
    msg_set_str (self->fields, field, value);
}

void
job_fields_set_uint (job_fields_t *self, msg_field_t field, uint64_t value)
{
    if (field == MSG_F_MAX_ATTEMPTS)
        self->max_attempts = value;
    else
    if (field == MSG_F_TIMEOUT_MS)
        self->timeout_ms = value;
}

int
job_fields_set_options (job_fields_t *self, const char *json, char *err, size_t errlen)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    if (json_to_msgpack (json, strlen (json), &buf, err, errlen)) {
        msgpack_sbuffer_destroy (&buf);
        return -1;
    }
    unsigned char first = (unsigned char) buf.data[0];
    const char *problem = !((first & 0xF0) == 0x80 || first == 0xDE || first == 0xDF)
                        ? "options must be a JSON object"
                        : buf.size > MSG_MAX_HEADER - 4096? "options are over 60 KiB"
                        : msg_set_raw (self->fields, MSG_F_OPTIONS, buf.data, buf.size)
                        ? "options are not one msgpack map": NULL;
    msgpack_sbuffer_destroy (&buf);
    if (problem)
        snprintf (err, errlen, "%s", problem);
    return problem? -1: 0;
}

int
job_fields_set_map (job_fields_t *self, msg_field_t field, const void *data, size_t size)
{
    return msg_set_raw (self->fields, field, data, size)? -1: 0;
}

const char *
job_fields_job (const job_fields_t *self)
{
    return msg_str (self->fields, MSG_F_JOB);
}

int
job_fields_apply (const job_fields_t *self, msg_t *msg)
{
    static const msg_field_t strs[] = { MSG_F_JOB, MSG_F_HANDLER, MSG_F_SINK, MSG_F_SINK_KEY };
    int rc = 0;
    for (size_t i = 0; i < sizeof strs / sizeof strs[0] && rc == 0; i++)
        if (msg_has (self->fields, strs[i]))
            rc = msg_set_str (msg, strs[i], msg_str (self->fields, strs[i]));
    static const msg_field_t maps[] = { MSG_F_OPTIONS, MSG_F_SPEC };
    for (size_t i = 0; i < sizeof maps / sizeof maps[0] && rc == 0; i++) {
        size_t size;
        const void *map = msg_raw (self->fields, maps[i], &size);
        if (map)
            rc = msg_set_raw (msg, maps[i], map, size);
    }
    if (rc == 0 && self->max_attempts)
        rc = msg_set_uint (msg, MSG_F_MAX_ATTEMPTS, self->max_attempts);
    if (rc == 0 && self->timeout_ms)
        rc = msg_set_uint (msg, MSG_F_TIMEOUT_MS, self->timeout_ms);
    return rc;
}
