//  output.c -- see output.h.  Lines are rendered into an in-memory stream
//  (json_write wants a FILE) that is reused batch after batch, so a batch
//  costs one write() whatever its size, plus fdatasync when asked.
#include "sink/output.h"

#include "common/json_write.h"

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
    FILE     *batch;            //  open_memstream over buffer
    char     *buffer;
    size_t    buffer_size;
    char     *job_json;         //  the batch's job and agent, as JSON strings
    char     *agent_json;
    size_t    pending;
    int64_t   start;            //  where the last commit began, -1: unknown
    int64_t   end;              //  and where it ended
    uint64_t  records;
    uint64_t  bytes;
    uint64_t  failures;         //  commits that failed
    int       error;            //  the last commit's: 0 or -errno
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
    self->batch = open_memstream (&self->buffer, &self->buffer_size);
    if (!self->path || !self->batch)
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
    if (self->batch)
        fclose (self->batch);
    free (self->buffer);
    if (self->owns_fd && self->fd >= 0)
        close (self->fd);
    free (self->job_json);
    free (self->agent_json);
    free (self->path);
    free (self);
    *self_p = NULL;
}

//  A C string rendered as a JSON string, through json_write so escaping
//  is the same everywhere.  Uses the batch stream as scratch space.
static char *
s_json_string (output_t *self, const char *text)
{
    msgpack_object obj = { .type = MSGPACK_OBJECT_STR };
    obj.via.str.ptr = text;
    obj.via.str.size = (uint32_t) strlen (text);
    rewind (self->batch);
    if (json_write (self->batch, &obj) || fflush (self->batch))
        return NULL;
    off_t size = ftello (self->batch);
    rewind (self->batch);
    return size < 0? NULL: strndup (self->buffer, (size_t) size);
}

int
output_begin (output_t *self, const char *job, const char *agent)
{
    assert (self && job && agent);
    output_discard (self);
    free (self->job_json);
    free (self->agent_json);
    self->job_json = s_json_string (self, job);
    self->agent_json = s_json_string (self, agent);
    if (!self->job_json || !self->agent_json)
        return -ENOMEM;
    return 0;
}

static void
s_put (FILE *file, const char *text)
{
    fputs_unlocked (text, file);
}

//  printf is a measurable share of a short line; numbers are most of it.
static void
s_put_uint (FILE *file, uint64_t value)
{
    char digits[24];
    char *end = digits + sizeof digits;
    char *p = end;
    do {
        *--p = (char) ('0' + value % 10);
        value /= 10;
    } while (value);
    fwrite_unlocked (p, 1, (size_t) (end - p), file);
}

static int
s_put_value (FILE *file, const msgpack_object *value)
{
    if (!value) {
        s_put (file, "null");
        return 0;
    }
    return json_write (file, value);
}

int
output_add (output_t *self, const result_record_t *record)
{
    assert (self && record);
    assert (self->job_json && self->agent_json);     //  output_begin first
    FILE *file = self->batch;
    s_put (file, "{\"job\":");
    s_put (file, self->job_json);
    s_put (file, ",\"tuple\":");
    s_put_uint (file, record->tuple);
    s_put (file, ",\"attempt\":");
    s_put_uint (file, record->attempt);
    s_put (file, ",\"agent\":");
    s_put (file, self->agent_json);
    s_put (file, record->ok? ",\"status\":\"ok\"": ",\"status\":\"failed\"");
    s_put (file, ",\"started_us\":");
    s_put_uint (file, record->started_us);
    s_put (file, ",\"duration_us\":");
    s_put_uint (file, record->duration_us);
    s_put (file, ",\"input\":");
    int rc = s_put_value (file, record->input);
    s_put (file, record->ok? ",\"output\":": ",\"error\":");
    if (rc == 0)
        rc = s_put_value (file, record->ok? record->output: record->error);
    //  A dead letter keeps what its handler emitted before it failed.
    if (rc == 0 && !record->ok && record->partial && record->output) {
        s_put (file, ",\"partial\":true,\"output\":");
        rc = s_put_value (file, record->output);
    }
    s_put (file, "}\n");
    if (rc || ferror (file)) {
        output_discard (self);
        return ferror (file)? -ENOMEM: -EINVAL;
    }
    self->pending++;
    return 0;
}

//  write() all of data, through partial writes and interruptions.
static int
s_write_all (int fd, const char *data, size_t size)
{
    while (size > 0) {
        ssize_t n = write (fd, data, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        data += n;
        size -= (size_t) n;
    }
    return 0;
}

int
output_commit (output_t *self)
{
    assert (self);
    if (self->pending == 0)
        return 0;
    if (fflush (self->batch)) {
        output_discard (self);
        return -ENOMEM;
    }
    off_t size = ftello (self->batch);
    //  Where the batch begins, to cut a failed batch back out.  Asked each
    //  time rather than tracked: someone may truncate the file (logrotate).
    off_t start = self->regular? lseek (self->fd, 0, SEEK_END): -1;
    int rc = size < 0? -ENOMEM: s_write_all (self->fd, self->buffer, (size_t) size);
    if (rc == 0 && self->fsync && self->regular && fdatasync (self->fd))
        rc = -errno;
    if (rc && start >= 0 && ftruncate (self->fd, start)) {
        //  Nothing more to do: the caller reports the failed batch.
    }
    if (rc == 0) {
        self->records += self->pending;
        self->bytes += (uint64_t) size;
        self->start = start;
        self->end = start >= 0? start + size: -1;
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
    clearerr (self->batch);
    rewind (self->batch);
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
