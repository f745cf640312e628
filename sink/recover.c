//  recover.c -- see recover.h.  The file is read in chunks; each whole line
//  is parsed as JSON (common/json_read.h) only to find "job", "tuple" and
//  "status" (the index keeps whether the result failed), so a
//  scan costs about as much as writing the lines did.  Index commits go in
//  groups of lines, each with the mark of the last line it covers, so an
//  interrupted scan resumes where it stopped.
#include "sink/recover.h"

#include "common/json_read.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RECOVER_CHUNK       (1 << 20)
#define RECOVER_GROUP       65536       //  lines per index commit
#define RECOVER_JOB_MAX     65536       //  a header's whole size

typedef struct {
    seen_t          *seen;
    seen_mark_t      mark;
    recover_stats_t *stats;
    msgpack_sbuffer  packed;
    msgpack_unpacked unpacked;
    char             job[RECOVER_JOB_MAX + 1];
    size_t           group;             //  lines in the open batch
} scan_t;

static const msgpack_object *
s_field (const msgpack_object *map, const char *name)
{
    size_t len = strlen (name);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *key = &map->via.map.ptr[i].key;
        if (key->type == MSGPACK_OBJECT_STR && key->via.str.size == len
        &&  !memcmp (key->via.str.ptr, name, len))
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

//  One whole line (without its newline): add its (job, tuple).
static int
s_line (scan_t *scan, const char *line, size_t len)
{
    scan->stats->lines++;
    char err[128];
    scan->packed.size = 0;
    size_t offset = 0;
    const msgpack_object *job = NULL, *tuple = NULL, *status = NULL;
    if (json_to_msgpack (line, len, &scan->packed, err, sizeof err) == 0
    &&  msgpack_unpack_next (&scan->unpacked, scan->packed.data, scan->packed.size,
                             &offset) == MSGPACK_UNPACK_SUCCESS
    &&  scan->unpacked.data.type == MSGPACK_OBJECT_MAP) {
        job = s_field (&scan->unpacked.data, "job");
        tuple = s_field (&scan->unpacked.data, "tuple");
        status = s_field (&scan->unpacked.data, "status");
    }
    if (!job || job->type != MSGPACK_OBJECT_STR || job->via.str.size > RECOVER_JOB_MAX
    ||  memchr (job->via.str.ptr, 0, job->via.str.size)
    ||  !tuple || tuple->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        scan->stats->unreadable++;
        return 0;
    }
    memcpy (scan->job, job->via.str.ptr, job->via.str.size);
    scan->job[job->via.str.size] = 0;
    if (scan->group == 0) {
        int rc = seen_begin (scan->seen);
        if (rc)
            return rc;
    }
    //  The sink writes "ok" or "failed"; anything else was not a failure.
    bool failed = status && status->type == MSGPACK_OBJECT_STR
               && status->via.str.size == 6 && !memcmp (status->via.str.ptr, "failed", 6);
    int rc = seen_insert (scan->seen, scan->job, tuple->via.u64, failed, NULL);
    if (rc < 0)
        return rc;
    scan->stats->indexed += (uint64_t) rc;
    scan->group++;
    return 0;
}

static int
s_commit (scan_t *scan)
{
    if (scan->group == 0)
        return 0;
    scan->group = 0;
    int rc = seen_commit (scan->seen, &scan->mark);
    return rc < 0? rc: 0;
}

//  Read fd from offset to its end, line by line; *tail gets the offset
//  after the last whole line.
static int
s_scan (scan_t *scan, int fd, uint64_t offset, uint64_t *tail)
{
    size_t capacity = RECOVER_CHUNK, used = 0;
    char *buffer = malloc (capacity);
    if (!buffer)
        return -ENOMEM;
    int rc = 0;
    uint64_t at = offset;               //  file offset of buffer[0]
    while (rc == 0) {
        if (used == capacity) {         //  a line longer than the buffer
            char *bigger = realloc (buffer, capacity * 2);
            if (!bigger) {
                rc = -ENOMEM;
                break;
            }
            buffer = bigger;
            capacity *= 2;
        }
        ssize_t n = pread (fd, buffer + used, capacity - used, (off_t) (at + used));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            break;
        }
        if (n == 0)
            break;
        used += (size_t) n;
        size_t start = 0;
        char *newline;
        while (rc == 0 && (newline = memchr (buffer + start, '\n', used - start))) {
            size_t len = (size_t) (newline - (buffer + start));
            rc = s_line (scan, buffer + start, len);
            start += len + 1;
            scan->mark.size = at + start;
            if (rc == 0 && scan->group >= RECOVER_GROUP)
                rc = s_commit (scan);
        }
        memmove (buffer, buffer + start, used - start);
        used -= start;
        at += start;
    }
    free (buffer);
    *tail = at;
    return rc;
}

int
recover_output (output_t *output, seen_t *seen, recover_stats_t *stats,
                char *err, size_t errlen)
{
    assert (output && seen && stats);
    memset (stats, 0, sizeof *stats);
    scan_t *scan = calloc (1, sizeof *scan);
    if (!scan) {
        snprintf (err, errlen, "out of memory");
        return -ENOMEM;
    }
    int rc = output_stat (output, &scan->mark.dev, &scan->mark.ino, &scan->mark.size);
    if (rc) {
        free (scan);
        return rc == -ENOTSUP? 0: rc;
    }
    uint64_t size = scan->mark.size;
    seen_mark_t last;
    if (seen_mark (seen, &last) == 0 && last.dev == scan->mark.dev
    &&  last.ino == scan->mark.ino && last.size <= size)
        stats->from = last.size;
    scan->seen = seen;
    scan->stats = stats;
    scan->mark.size = stats->from;
    msgpack_sbuffer_init (&scan->packed);
    msgpack_unpacked_init (&scan->unpacked);
    int fd = open (output_path (output), O_RDONLY | O_CLOEXEC);
    uint64_t tail = stats->from;
    rc = fd < 0? -errno: s_scan (scan, fd, stats->from, &tail);
    if (fd >= 0)
        close (fd);
    if (rc == 0 && tail < size) {
        stats->cut = size - tail;
        rc = output_truncate (output, tail);
    }
    if (rc == 0) {
        //  Commit the mark even when no line was new: the next start then
        //  scans from here.
        if (scan->group == 0)
            rc = seen_begin (seen);
        scan->group = 1;
        scan->mark.size = tail;
        if (rc == 0)
            rc = s_commit (scan);
    }
    else
        seen_abort (seen);
    if (rc)
        snprintf (err, errlen, "cannot recover the index from %s: %s",
                  output_path (output), strerror (-rc));
    msgpack_unpacked_destroy (&scan->unpacked);
    msgpack_sbuffer_destroy (&scan->packed);
    free (scan);
    return rc;
}
