//  tuple_input.c -- see tuple_input.h.  One growing buffer over read(2):
//  buf[start..end) is input not handed out yet; buf[0] is input byte
//  `offset`.  A line or value that does not fit makes the buffer grow, up
//  to TUPLE_INPUT_MAX_VALUE.
#include "producer/tuple_input.h"

#include "common/json_read.h"

#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <msgpack.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK  (64 * 1024)

struct tuple_input {
    int fd;
    char *name;
    tuple_format_t format;
    char *buf;
    size_t cap;
    size_t start;
    size_t end;
    size_t scanned;                 //  JSON: buf[start..scanned) has no '\n'
    bool eof;
    uint64_t offset;                //  input bytes before buf[0]
    uint64_t line;                  //  JSON: lines handed out or skipped
    uint64_t count;                 //  tuples handed out
    msgpack_sbuffer packed;         //  JSON: the tuple as msgpack
    msgpack_unpacked unpacked;      //  msgpack: to check a value is whole
    char error[768];
};

tuple_input_t *
tuple_input_new (int fd, const char *name, tuple_format_t format)
{
    tuple_input_t *self = calloc (1, sizeof (tuple_input_t));
    if (!self)
        return NULL;
    self->fd = fd;
    self->format = format;
    self->name = strdup (name? name: "input");
    self->cap = READ_CHUNK;
    self->buf = malloc (self->cap);
    msgpack_sbuffer_init (&self->packed);
    msgpack_unpacked_init (&self->unpacked);
    if (!self->name || !self->buf)
        tuple_input_destroy (&self);
    return self;
}

void
tuple_input_destroy (tuple_input_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tuple_input_t *self = *self_p;
    msgpack_sbuffer_destroy (&self->packed);
    msgpack_unpacked_destroy (&self->unpacked);
    free (self->buf);
    free (self->name);
    free (self);
    *self_p = NULL;
}

const char *
tuple_input_error (const tuple_input_t *self)
{
    return self->error;
}

static tuple_input_rc_t
s_fail (tuple_input_t *self, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

static tuple_input_rc_t
s_fail (tuple_input_t *self, const char *fmt, ...)
{
    int n = snprintf (self->error, sizeof self->error, "%s ", self->name);
    va_list ap;
    va_start (ap, fmt);
    if (n > 0 && (size_t) n < sizeof self->error)
        vsnprintf (self->error + n, sizeof self->error - (size_t) n, fmt, ap);
    va_end (ap);
    return TUPLE_INPUT_ERROR;
}

//  Make room after what is buffered and read once.  Returns TUPLE_INPUT_TUPLE
//  when bytes came or the input ended (eof set), else IDLE, ERROR or
//  INTERRUPTED.
static tuple_input_rc_t
s_fill (tuple_input_t *self, int idle_ms)
{
    if (self->start > 0) {
        memmove (self->buf, self->buf + self->start, self->end - self->start);
        self->offset += self->start;
        self->end -= self->start;
        self->scanned -= self->start;
        self->start = 0;
    }
    if (self->end == self->cap) {
        if (self->cap >= TUPLE_INPUT_MAX_VALUE)
            return s_fail (self, "byte %" PRIu64 ": a %s over %d MiB", self->offset,
                           self->format == TUPLE_INPUT_JSON? "line": "value",
                           TUPLE_INPUT_MAX_VALUE >> 20);
        char *grown = realloc (self->buf, self->cap * 2);
        if (!grown)
            return s_fail (self, "byte %" PRIu64 ": out of memory", self->offset);
        self->buf = grown;
        self->cap *= 2;
    }
    while (true) {
        if (zsys_interrupted)
            return TUPLE_INPUT_INTERRUPTED;
        if (idle_ms >= 0) {
            struct pollfd item = { .fd = self->fd, .events = POLLIN };
            int ready = poll (&item, 1, idle_ms);
            if (ready == 0)
                return TUPLE_INPUT_IDLE;
            if (ready < 0 && errno == EINTR)
                continue;
        }
        ssize_t n = read (self->fd, self->buf + self->end, self->cap - self->end);
        if (n > 0) {
            self->end += (size_t) n;
            return TUPLE_INPUT_TUPLE;
        }
        if (n == 0) {
            self->eof = true;
            return TUPLE_INPUT_TUPLE;
        }
        if (errno != EINTR)
            return s_fail (self, "cannot be read: %s", strerror (errno));
    }
}

static bool
s_blank (const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r' && text[i] != '\n')
            return false;
    return true;
}

//  A line holds no raw newline, so the parser's "line 1, " gives way to
//  the input's line number.
static tuple_input_rc_t
s_next_json (tuple_input_t *self, int idle_ms, const void **data_p, size_t *size_p)
{
    while (true) {
        char *newline = memchr (self->buf + self->scanned, '\n', self->end - self->scanned);
        if (!newline && !(self->eof && self->start < self->end)) {
            if (self->eof)
                return TUPLE_INPUT_END;
            self->scanned = self->end;
            tuple_input_rc_t rc = s_fill (self, idle_ms);
            if (rc != TUPLE_INPUT_TUPLE)
                return rc;
            continue;
        }
        const char *text = self->buf + self->start;
        size_t len = newline? (size_t) (newline + 1 - text): self->end - self->start;
        self->start += len;
        self->scanned = self->start;
        self->line++;
        if (s_blank (text, len))
            continue;
        //  Without its line end, so errors point inside the line.
        while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
            len--;
        self->packed.size = 0;
        char err[256];
        if (json_to_msgpack (text, len, &self->packed, err, sizeof err))
            return s_fail (self, "line %" PRIu64 ", %s", self->line,
                           strncmp (err, "line 1, ", 8)? err: err + 8);
        self->count++;
        *data_p = self->packed.data;
        *size_p = self->packed.size;
        return TUPLE_INPUT_TUPLE;
    }
}

static tuple_input_rc_t
s_next_msgpack (tuple_input_t *self, int idle_ms, const void **data_p, size_t *size_p)
{
    while (true) {
        if (self->start < self->end) {
            size_t used = 0;
            int rc = msgpack_unpack_next (&self->unpacked, self->buf + self->start,
                                          self->end - self->start, &used);
            if (rc == MSGPACK_UNPACK_SUCCESS || rc == MSGPACK_UNPACK_EXTRA_BYTES) {
                *data_p = self->buf + self->start;
                *size_p = used;
                self->start += used;
                self->count++;
                return TUPLE_INPUT_TUPLE;
            }
            if (rc != MSGPACK_UNPACK_CONTINUE)
                return s_fail (self, "byte %" PRIu64 " (tuple %" PRIu64 "): not a valid"
                               " msgpack value (or nested deeper than 32)",
                               self->offset + self->start, self->count + 1);
        }
        if (self->eof) {
            if (self->start < self->end)
                return s_fail (self, "byte %" PRIu64 " (tuple %" PRIu64 "): msgpack value"
                               " cut short at the end", self->offset + self->start,
                               self->count + 1);
            return TUPLE_INPUT_END;
        }
        self->scanned = self->start;
        tuple_input_rc_t rc = s_fill (self, idle_ms);
        if (rc != TUPLE_INPUT_TUPLE)
            return rc;
    }
}

tuple_input_rc_t
tuple_input_next (tuple_input_t *self, int idle_ms, const void **data_p, size_t *size_p)
{
    if (self->error[0])
        return TUPLE_INPUT_ERROR;
    return self->format == TUPLE_INPUT_JSON
         ? s_next_json (self, idle_ms, data_p, size_p)
         : s_next_msgpack (self, idle_ms, data_p, size_p);
}
