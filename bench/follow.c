//  follow.c -- see follow.h.
#include "bench/follow.h"
#include "bench/lat.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#define FOLLOW_BUFFER (1 << 20)

struct follow {
    int fd, watch;
    size_t record_size;             //  0: lines
    follow_line_fn *on_line;
    follow_read_fn *on_read;
    void *arg;
    char *buffer;
    size_t size;                    //  of buffer
    bool skipping;                  //  dropping a line longer than the buffer
    volatile int stop;              //  atomic
    pthread_t thread;
};

//  Sleep until the file changes, or 20 ms (so a stop is seen soon).
static void
s_wait_change (follow_t *self)
{
    struct pollfd item = { .fd = self->watch, .events = POLLIN };
    if (poll (&item, 1, 20) > 0) {
        //  Events of a watch on a file carry no name: 16 bytes each, so a
        //  read that does not fill the buffer took them all.
        char events[4096];
        while (read (self->watch, events, sizeof events) == (ssize_t) sizeof events)
            ;
    }
}

//  Hand on the complete lines (or records) of buffer[0 .. have), read at
//  now; returns how many bytes are left, the start of a line not complete
//  yet, moved to the front.  A line longer than the whole buffer is not
//  one of ours: it is dropped, up to its newline.
static size_t
s_hand_on (follow_t *self, size_t have, uint64_t now)
{
    char *start = self->buffer, *end = self->buffer + have, *eol;
    if (self->record_size)
        for (; (size_t) (end - start) >= self->record_size; start += self->record_size)
            self->on_line (self->arg, start, self->record_size, now);
    else
    while ((eol = memchr (start, '\n', (size_t) (end - start)))) {
        if (!self->skipping)
            self->on_line (self->arg, start, (size_t) (eol - start), now);
        self->skipping = false;
        start = eol + 1;
    }
    have = (size_t) (end - start);
    if (have == self->size) {       //  lines only: a record is smaller
        self->skipping = true;
        return 0;
    }
    memmove (self->buffer, start, have);
    return have;
}

static void *
s_follow (void *arg)
{
    follow_t *self = arg;
    size_t have = 0;
    bool more = true;               //  the last read filled the buffer: read on
    while (!__atomic_load_n (&self->stop, __ATOMIC_ACQUIRE)) {
        //  After a short read we are at the end: wait for the next write
        //  rather than ask again (a read that finds nothing is a syscall
        //  for each write the sink makes).  A write between the last
        //  wait and that read left an event, so none is missed.
        if (!more)
            s_wait_change (self);
        ssize_t got = read (self->fd, self->buffer + have, self->size - have);
        more = got > 0 && (size_t) got == self->size - have;
        if (got <= 0)
            continue;
        have = s_hand_on (self, have + (size_t) got, lat_now_us ());
        if (self->on_read)
            self->on_read (self->arg);
    }
    return NULL;
}

follow_t *
follow_new (const char *path, size_t record_size, follow_line_fn *on_line,
            follow_read_fn *on_read, void *arg)
{
    follow_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    *self = (follow_t) { .record_size = record_size, .on_line = on_line, .on_read = on_read,
                         .arg = arg,
                         .fd = open (path, O_RDONLY | O_CLOEXEC),
                         .watch = inotify_init1 (IN_CLOEXEC | IN_NONBLOCK),
                         .buffer = malloc (FOLLOW_BUFFER), .size = FOLLOW_BUFFER };
    bool ready = self->fd >= 0 && self->watch >= 0 && self->buffer
              && inotify_add_watch (self->watch, path, IN_MODIFY) >= 0
              && lseek (self->fd, 0, SEEK_END) >= 0;
    if (!ready || pthread_create (&self->thread, NULL, s_follow, self)) {
        int error = errno? errno: ENOMEM;
        if (self->fd >= 0)
            close (self->fd);
        if (self->watch >= 0)
            close (self->watch);
        free (self->buffer);
        free (self);
        errno = error;
        return NULL;
    }
    return self;
}

void
follow_destroy (follow_t **self_p)
{
    follow_t *self = *self_p;
    if (!self)
        return;
    __atomic_store_n (&self->stop, 1, __ATOMIC_RELEASE);
    pthread_join (self->thread, NULL);
    close (self->fd);
    close (self->watch);
    free (self->buffer);
    free (self);
    *self_p = NULL;
}
