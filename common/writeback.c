//  writeback.c -- see writeback.h.  Without it a sink's file sits dirty in
//  the page cache for up to dirty_expire (30 s by default), and every new
//  line goes into a page the kernel must find; with it the file's pages
//  are reused.  On a VM whose freed memory goes back to the host, that
//  first touch of a page, in large folios most of all, cost the sink more
//  than half its CPU (bench/README.md, "The sink's page cache" and "Large
//  folios").
#include "common/writeback.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

struct writeback {
    int      fd;
    uint64_t chunk;
    uint64_t keep;
    uint64_t started;       //  writeback started up to here (chunk-aligned)
    uint64_t dropped;       //  dropped from the cache up to here
    uint64_t total;         //  bytes dropped since writeback_new
};

writeback_t *
writeback_new (int fd, uint64_t end, uint64_t chunk, uint64_t keep)
{
    assert (chunk > 0);
    writeback_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->fd = fd;
    self->chunk = chunk;
    self->keep = keep;
    self->started = self->dropped = end / chunk * chunk;
    return self;
}

void
writeback_destroy (writeback_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free (*self_p);
    *self_p = NULL;
}

void
writeback_advance (writeback_t *self, uint64_t end)
{
    assert (self);
    //  Cut back (a rollback, logrotate's copytruncate): start over there.
    if (end < self->started)
        self->started = self->dropped = end / self->chunk * self->chunk;
    for (; self->started + self->chunk <= end; self->started += self->chunk)
        sync_file_range (self->fd, (off_t) self->started, (off_t) self->chunk,
                         SYNC_FILE_RANGE_WRITE);
    //  Dirty pages cannot be dropped: wait for the chunk's writeback
    //  (started a while ago, so usually done) before the advice.
    while (self->dropped + self->keep + self->chunk <= end) {
        off_t at = (off_t) self->dropped, size = (off_t) self->chunk;
        if (sync_file_range (self->fd, at, size, SYNC_FILE_RANGE_WAIT_BEFORE
                             | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) == 0
        &&  posix_fadvise (self->fd, at, size, POSIX_FADV_DONTNEED) == 0)
            self->total += self->chunk;
        self->dropped += self->chunk;
    }
}

int
writeback_write (int fd, const void *data, size_t size)
{
    const char *at = data;
    while (size > 0) {
        ssize_t wrote = write (fd, at, size < WRITEBACK_WRITE? size: WRITEBACK_WRITE);
        if (wrote < 0 && errno == EINTR)
            continue;
        if (wrote < 0)
            return -errno;
        if (wrote == 0)
            return -EIO;
        at += wrote;
        size -= (size_t) wrote;
    }
    return 0;
}

uint64_t
writeback_dropped (const writeback_t *self)
{
    assert (self);
    return self->total;
}
