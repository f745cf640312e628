//  json_write.c -- see json_write.h.  Turns a msgpack_object into one line
//  of JSON through a local buffer, so the sink pays one fwrite per few KiB
//  instead of one stdio call per character.
#include "common/json_write.h"
#include "common/utf8.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WRITER_BUFFER    4096       //  on the caller's stack
#define WRITE_MAX_DEPTH  512        //  msgpack's unpacker nests far less

typedef struct {
    FILE *file;
    size_t size;
    bool failed;
    char buf[WRITER_BUFFER];
} writer_t;

static void
s_flush (writer_t *self)
{
    if (self->size && fwrite (self->buf, 1, self->size, self->file) != self->size)
        self->failed = true;
    self->size = 0;
}

static void
s_put (writer_t *self, const void *data, size_t size)
{
    if (size == 0)
        return;                             //  data may be NULL then
    if (self->size + size > WRITER_BUFFER) {
        s_flush (self);
        if (size > WRITER_BUFFER) {
            if (fwrite (data, 1, size, self->file) != size)
                self->failed = true;
            return;
        }
    }
    memcpy (self->buf + self->size, data, size);
    self->size += size;
}

static inline void
s_putc (writer_t *self, char c)
{
    if (self->size == WRITER_BUFFER)
        s_flush (self);
    self->buf[self->size++] = c;
}

//  How a byte is written inside a JSON string: 0 as is, 1 escaped,
//  2 start of a UTF-8 sequence to check.
static unsigned char
s_byte_class (unsigned char c)
{
    if (c < 0x20 || c == '"' || c == '\\')
        return 1;
    return c >= 0x80? 2: 0;
}

static void
s_write_escape (writer_t *self, unsigned char c)
{
    char esc[7] = { '\\', 0 };
    switch (c) {
        case '"':  esc[1] = '"';  break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b';  break;
        case '\f': esc[1] = 'f';  break;
        case '\n': esc[1] = 'n';  break;
        case '\r': esc[1] = 'r';  break;
        case '\t': esc[1] = 't';  break;
        default: {
            static const char hex[] = "0123456789abcdef";
            memcpy (esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            s_put (self, esc, 6);
            return;
        }
    }
    s_put (self, esc, 2);
}

//  Runs of bytes that need no escaping go out in one copy.
static void
s_write_string (writer_t *self, const char *data, size_t size)
{
    if (size == 0) {
        s_put (self, "\"\"", 2);          //  data may be NULL then
        return;
    }
    const unsigned char *s = (const unsigned char *) data;
    s_putc (self, '"');
    size_t run = 0, i = 0;
    while (i < size) {
        unsigned char kind = s_byte_class (s[i]);
        if (kind == 0) {
            i++;
            continue;
        }
        size_t n = kind == 2? utf8_len (s + i, size - i): 0;
        if (n) {
            i += n;
            continue;
        }
        s_put (self, s + run, i - run);
        s_write_escape (self, s[i]);        //  invalid UTF-8 becomes \u00XX
        run = ++i;
    }
    s_put (self, s + run, i - run);
    s_putc (self, '"');
}

static void
s_write_base64 (writer_t *self, const char *data, size_t size)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *s = (const unsigned char *) data;
    s_putc (self, '"');
    char quad[4];
    size_t i = 0;
    for (; i + 3 <= size; i += 3) {
        uint32_t v = (uint32_t) s[i] << 16 | (uint32_t) s[i + 1] << 8 | s[i + 2];
        quad[0] = alphabet[v >> 18];
        quad[1] = alphabet[(v >> 12) & 63];
        quad[2] = alphabet[(v >> 6) & 63];
        quad[3] = alphabet[v & 63];
        s_put (self, quad, 4);
    }
    if (i < size) {
        uint32_t v = (uint32_t) s[i] << 16 | (i + 1 < size? (uint32_t) s[i + 1] << 8: 0);
        quad[0] = alphabet[v >> 18];
        quad[1] = alphabet[(v >> 12) & 63];
        quad[2] = i + 1 < size? alphabet[(v >> 6) & 63]: '=';
        quad[3] = '=';
        s_put (self, quad, 4);
    }
    s_putc (self, '"');
}

static void
s_write_uint (writer_t *self, uint64_t value, bool negative)
{
    char digits[24];
    size_t at = sizeof digits;
    do {
        digits[--at] = (char) ('0' + value % 10);
        value /= 10;
    } while (value);
    if (negative)
        digits[--at] = '-';
    s_put (self, digits + at, sizeof digits - at);
}

//  The shortest of 15..17 significant digits (6..9 for float32) that reads
//  back as the same value, with ".0" added so it reads back as a float.
static void
s_write_float (writer_t *self, double value, bool is_float32)
{
    if (isnan (value) || isinf (value)) {
        s_put (self, "null", 4);
        return;
    }
    char text[40];
    int precision = is_float32? 6: 15;
    int last = is_float32? 9: 17;
    for (; precision <= last; precision++) {
        snprintf (text, sizeof text, "%.*g", precision, value);
        double back = strtod (text, NULL);
        if (is_float32? (float) back == (float) value: back == value)
            break;
    }
    size_t size = strlen (text);
    if (!strpbrk (text, ".eE"))
        memcpy (text + size, ".0", 3), size += 2;
    s_put (self, text, size);
}

static void s_write_value (writer_t *self, const msgpack_object *obj, int depth);

//  JSON keys are strings: any other key is written as its JSON text, quoted.
static void
s_write_key (writer_t *self, const msgpack_object *key, int depth)
{
    if (key->type == MSGPACK_OBJECT_STR) {
        s_write_string (self, key->via.str.ptr, key->via.str.size);
        return;
    }
    char *text = NULL;
    size_t size = 0;
    FILE *memory = open_memstream (&text, &size);
    if (!memory) {
        self->failed = true;
        return;
    }
    writer_t *inner = malloc (sizeof (writer_t));
    if (inner) {
        inner->file = memory;
        inner->size = 0;
        inner->failed = false;
        s_write_value (inner, key, depth + 1);
        s_flush (inner);
        if (inner->failed)
            self->failed = true;
        free (inner);
    }
    else
        self->failed = true;
    if (fclose (memory) != 0)
        self->failed = true;
    if (text && !self->failed)
        s_write_string (self, text, size);
    free (text);
}

static void
s_write_value (writer_t *self, const msgpack_object *obj, int depth)
{
    if (depth > WRITE_MAX_DEPTH) {
        self->failed = true;
        return;
    }
    switch (obj->type) {
        case MSGPACK_OBJECT_NIL:
            s_put (self, "null", 4);
            break;
        case MSGPACK_OBJECT_BOOLEAN:
            if (obj->via.boolean)
                s_put (self, "true", 4);
            else
                s_put (self, "false", 5);
            break;
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            s_write_uint (self, obj->via.u64, false);
            break;
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            //  Magnitude computed in unsigned so INT64_MIN does not overflow.
            s_write_uint (self, obj->via.i64 < 0? 0 - (uint64_t) obj->via.i64
                                                : (uint64_t) obj->via.i64,
                          obj->via.i64 < 0);
            break;
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
            s_write_float (self, obj->via.f64, obj->type == MSGPACK_OBJECT_FLOAT32);
            break;
        case MSGPACK_OBJECT_STR:
            s_write_string (self, obj->via.str.ptr, obj->via.str.size);
            break;
        case MSGPACK_OBJECT_BIN:
            s_write_base64 (self, obj->via.bin.ptr, obj->via.bin.size);
            break;
        case MSGPACK_OBJECT_EXT:
            s_put (self, "{\"ext\":", 7);
            s_write_uint (self, obj->via.ext.type < 0? 0 - (uint64_t) obj->via.ext.type
                                                     : (uint64_t) obj->via.ext.type,
                          obj->via.ext.type < 0);
            s_put (self, ",\"data\":", 8);
            s_write_base64 (self, obj->via.ext.ptr, obj->via.ext.size);
            s_putc (self, '}');
            break;
        case MSGPACK_OBJECT_ARRAY:
            s_putc (self, '[');
            for (uint32_t i = 0; i < obj->via.array.size && !self->failed; i++) {
                if (i)
                    s_putc (self, ',');
                s_write_value (self, &obj->via.array.ptr[i], depth + 1);
            }
            s_putc (self, ']');
            break;
        case MSGPACK_OBJECT_MAP:
            s_putc (self, '{');
            for (uint32_t i = 0; i < obj->via.map.size && !self->failed; i++) {
                if (i)
                    s_putc (self, ',');
                s_write_key (self, &obj->via.map.ptr[i].key, depth);
                s_putc (self, ':');
                s_write_value (self, &obj->via.map.ptr[i].val, depth + 1);
            }
            s_putc (self, '}');
            break;
        default:
            self->failed = true;
    }
}

int
json_write (FILE *out, const msgpack_object *obj)
{
    if (!out || !obj)
        return -1;
    writer_t self;                          //  not zeroed: 4 KiB per call
    self.file = out;
    self.size = 0;
    self.failed = false;
    s_write_value (&self, obj, 0);
    s_flush (&self);
    return self.failed? -1: 0;
}

