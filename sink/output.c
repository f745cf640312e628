//  output.c -- see output.h.  Lines are rendered straight from the batch's
//  msgpack bytes (json_write_msgpack, no objects) into one buffer that is
//  reused batch after batch, so a batch costs a write() per 64 KiB
//  (writeback_write), plus fdatasync when asked, and no allocation once
//  the buffer has grown to the largest batch.
#include "sink/output.h"

#include "common/json_out.h"
#include "common/json_write.h"
#include "common/writeback.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct output {
    char     *path;
    int       fd;
    bool      owns_fd;          //  false for stdout
    bool      regular;          //  a regular file: can be synced and cut back
    bool      fsync;
    json_buffer_t batch;        //  the lines of the batch
    json_buffer_t job_json;     //  its job and agent, as JSON strings
    json_buffer_t agent_json;
    json_buffer_t labels_json;  //  the agent's labels, a JSON object; empty: none
    size_t    pending;
    int64_t   start;            //  where the last commit began, -1: unknown
    int64_t   end;              //  and where it ended
    uint64_t  records;
    uint64_t  bytes;
    uint64_t  failures;         //  commits that failed
    int       error;            //  the last commit's: 0 or -errno
    writeback_t *writeback;     //  a regular file's pages, kept few
};

output_t *
output_new (const char *path, bool fsync)
{
    assert (path);
    output_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->fd = -1;
    self->fsync = fsync;
    self->start = self->end = -1;
    self->path = strdup (path);
    if (!self->path)
        goto fail;
    if (!strcmp (path, "-"))
        self->fd = STDOUT_FILENO;
    else {
        self->fd = open (path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (self->fd < 0)
            goto fail;
        self->owns_fd = true;
    }
    struct stat st;
    if (fstat (self->fd, &st))
        goto fail;
    self->regular = S_ISREG (st.st_mode);
    if (self->regular) {
        self->writeback = writeback_new (self->fd, (uint64_t) st.st_size,
                                         WRITEBACK_CHUNK, WRITEBACK_KEEP);
        if (!self->writeback) {
            errno = ENOMEM;
            goto fail;
        }
    }
    return self;

fail: {
        int saved = errno;
        output_destroy (&self);
        errno = saved;
        return NULL;
    }
}

void
output_destroy (output_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    output_t *self = *self_p;
    json_buffer_free (&self->batch);
    writeback_destroy (&self->writeback);
    if (self->owns_fd && self->fd >= 0)
        close (self->fd);
    json_buffer_free (&self->job_json);
    json_buffer_free (&self->agent_json);
    json_buffer_free (&self->labels_json);
    free (self->path);
    free (self);
    *self_p = NULL;
}

int
output_begin (output_t *self, const char *job, const char *agent)
{
    assert (self && job && agent);
    output_discard (self);
    return output_source (self, job, agent);
}

int
output_source (output_t *self, const char *job, const char *agent)
{
    assert (self && job && agent);
    self->job_json.size = self->agent_json.size = self->labels_json.size = 0;
    if (json_write_string (&self->job_json, job, strlen (job))
    ||  json_write_string (&self->agent_json, agent, strlen (agent)))
        return -ENOMEM;
    return 0;
}

int
output_labels (output_t *self, const void *labels, size_t size)
{
    self->labels_json.size = 0;
    if (!labels || size == 0)
        return 0;
    //  A HELLO's labels are at most about 1 KiB (the broker checks them);
    //  more would be copied into every line.
    if (size > OUTPUT_LABELS_MAX)
        return -1;
    if (json_write_msgpack (&self->labels_json, labels, size, NULL) == 0)
        return 0;
    self->labels_json.size = 0;
    return -1;
}

static void
s_put (json_buffer_t *line, const char *text, size_t size)
{
    //  Room was reserved for the fixed parts of the line (s_line_room).
    memcpy (line->data + line->size, text, size);
    line->size += size;
}

#define S_PUT(line, literal) s_put ((line), (literal), sizeof (literal) - 1)

//  printf is a measurable share of a short line; numbers are most of it.
static void
s_put_uint (json_buffer_t *line, uint64_t value)
{
    line->size += json_out_decimal (line->data + line->size, value);
}

//  A value, or null when absent.
static int
s_put_value (json_buffer_t *line, const result_value_t *value)
{
    if (value->size == 0) {
        if (json_buffer_reserve (line, 4))
            return -1;
        S_PUT (line, "null");
        return 0;
    }
    return json_write_msgpack (line, value->data, value->size, NULL);
}

//  Bytes of a line besides its values: keys, numbers, job and agent.
static size_t
s_line_room (const output_t *self)
{
    return 256 + self->job_json.size + self->agent_json.size + self->labels_json.size;
}

//  The line of a record; -1 if a value cannot be written (out of memory,
//  or bytes that are not msgpack: the line is then left unfinished).
static int
s_line (output_t *self, const result_record_t *record)
{
    json_buffer_t *line = &self->batch;
    if (json_buffer_reserve (line, s_line_room (self)))
        return -1;
    S_PUT (line, "{\"job\":");
    s_put (line, self->job_json.data, self->job_json.size);
    S_PUT (line, ",\"tuple\":");
    s_put_uint (line, record->tuple);
    S_PUT (line, ",\"attempt\":");
    s_put_uint (line, record->attempt);
    S_PUT (line, ",\"agent\":");
    s_put (line, self->agent_json.data, self->agent_json.size);
    if (self->labels_json.size) {
        S_PUT (line, ",\"labels\":");
        s_put (line, self->labels_json.data, self->labels_json.size);
    }
    S_PUT (line, ",\"status\":\"");
    const char *status = result_status_name (record->status);
    s_put (line, status, strlen (status));
    S_PUT (line, "\",\"started_us\":");
    s_put_uint (line, record->started_us);
    S_PUT (line, ",\"duration_us\":");
    s_put_uint (line, record->duration_us);
    S_PUT (line, ",\"input\":");
    bool ok = record->status == RESULT_OK;
    if (s_put_value (line, &record->input) || json_buffer_reserve (line, 16))
        return -1;
    if (ok)
        S_PUT (line, ",\"output\":");
    else
        S_PUT (line, ",\"error\":");
    int rc = ok? s_put_value (line, &record->output)
           : record->problem? json_write_string (line, record->problem,
                                                 strlen (record->problem))
           : s_put_value (line, &record->error);
    //  A dead letter keeps what its handler emitted before it failed.
    if (rc == 0 && record->status == RESULT_FAILED && record->partial
    &&  record->output.size) {
        rc = json_buffer_reserve (line, 32);
        if (rc == 0) {
            S_PUT (line, ",\"partial\":true,\"output\":");
            rc = s_put_value (line, &record->output);
        }
    }
    if (rc || json_buffer_reserve (line, 2))
        return -1;
    S_PUT (line, "}\n");
    return 0;
}

int
output_add (output_t *self, const result_record_t *record)
{
    assert (self && record);
    assert (result_status_name (record->status));
    size_t start = self->batch.size;
    errno = 0;
    if (s_line (self, record)) {
        self->batch.size = start;
        //  What the output cannot hold is no reason to lose the batch:
        //  out of memory is (the agent sends it again), anything else
        //  could never be written, and becomes a failed result saying so.
        result_record_t failed = { .tuple = record->tuple, .attempt = record->attempt,
                                   .status = RESULT_FAILED,
                                   .started_us = record->started_us,
                                   .duration_us = record->duration_us,
                                   .problem = "the sink cannot store this result: a value "
                                              "cannot be written as JSON" };
        if (errno == ENOMEM || s_line (self, &failed)) {
            self->batch.size = start;
            return -ENOMEM;
        }
    }
    self->pending++;
    return 0;
}

int
output_commit (output_t *self)
{
    assert (self);
    if (self->pending == 0)
        return 0;
    size_t size = self->batch.size;
    //  Where the batch begins, to cut a failed batch back out.  Asked each
    //  time rather than tracked: someone may truncate the file (logrotate).
    off_t start = self->regular? lseek (self->fd, 0, SEEK_END): -1;
    int rc = writeback_write (self->fd, self->batch.data, size);
    if (rc == 0 && self->fsync && self->regular && fdatasync (self->fd))
        rc = -errno;
    if (rc && start >= 0 && ftruncate (self->fd, start)) {
        //  Nothing more to do: the caller reports the failed batch.
    }
    if (rc == 0) {
        self->records += self->pending;
        self->bytes += (uint64_t) size;
        self->start = start;
        self->end = start >= 0? start + (off_t) size: -1;
        if (self->end >= 0)             //  a regular file: it has a writeback
            writeback_advance (self->writeback, (uint64_t) self->end);
    }
    self->failures += rc != 0;
    self->error = rc;
    output_discard (self);
    return rc;
}

void
output_discard (output_t *self)
{
    assert (self);
    self->batch.size = 0;
    self->pending = 0;
}

int
output_stat (output_t *self, uint64_t *dev, uint64_t *ino, uint64_t *size)
{
    assert (self && dev && ino && size);
    struct stat st;
    //  stdout may be a regular file, but there is no path to read it back.
    if (!self->regular || !self->owns_fd)
        return -ENOTSUP;
    if (fstat (self->fd, &st))
        return -errno;
    *dev = (uint64_t) st.st_dev;
    *ino = (uint64_t) st.st_ino;
    *size = (uint64_t) st.st_size;
    return 0;
}

int64_t
output_end (const output_t *self)
{
    assert (self);
    return self->end;
}

int
output_rollback (output_t *self)
{
    assert (self);
    if (!self->regular || self->start < 0)
        return -ENOTSUP;
    int rc = output_truncate (self, (uint64_t) self->start);
    if (rc == 0) {
        self->end = self->start;
        self->start = -1;
    }
    return rc;
}

int
output_truncate (output_t *self, uint64_t size)
{
    assert (self);
    if (!self->regular)
        return -ENOTSUP;
    if (ftruncate (self->fd, (off_t) size))
        return -errno;
    writeback_advance (self->writeback, size);
    if (self->fsync && fdatasync (self->fd))
        return -errno;
    return 0;
}

size_t
output_pending (const output_t *self)
{
    assert (self);
    return self->pending;
}

uint64_t
output_records (const output_t *self)
{
    assert (self);
    return self->records;
}

uint64_t
output_bytes (const output_t *self)
{
    assert (self);
    return self->bytes;
}

const char *
output_path (const output_t *self)
{
    assert (self);
    return self->path;
}

uint64_t
output_failures (const output_t *self)
{
    return self->failures;
}

int
output_error (const output_t *self)
{
    return self->error;
}
