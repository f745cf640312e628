//  json_write.c -- see json_write.h.  Turns a msgpack_object, or the bytes
//  of a msgpack value, into one line of JSON: into a FILE through a local
//  buffer (one fwrite per few KiB instead of one stdio call per character),
//  or straight into a growable buffer (the sink's batch of lines).
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
//  A key that is not a string is written as its JSON text, escaped: each
//  such key inside another one doubles the backslashes, so a few hundred
//  bytes nested 30 deep would write gigabytes.  Past this many, the value
//  is refused (the sink stores the record as failed).
#define WRITE_MAX_KEY_NESTING  3

//  Writes to file through buf, or (file NULL) straight into mem.
typedef struct {
    FILE *file;
    json_buffer_t *mem;
    size_t size;
    bool failed;
    int keys;                       //  non-string keys this writer is inside
    char buf[WRITER_BUFFER];
} writer_t;

static void
s_flush (writer_t *self)
{
    if (self->file && self->size
    &&  fwrite (self->buf, 1, self->size, self->file) != self->size)
        self->failed = true;
    self->size = 0;
}

int
json_buffer_reserve (json_buffer_t *self, size_t more)
{
    if (self->capacity - self->size >= more)
        return 0;
    size_t capacity = self->capacity? self->capacity: 4096;
    while (capacity - self->size < more) {
        if (capacity > SIZE_MAX / 2)
            return -1;
        capacity *= 2;
    }
    char *data = realloc (self->data, capacity);
    if (!data)
        return -1;
    self->data = data;
    self->capacity = capacity;
    return 0;
}

void
json_buffer_free (json_buffer_t *self)
{
    free (self->data);
    *self = (json_buffer_t) { 0 };
}

static void
s_put_mem (writer_t *self, const void *data, size_t size)
{
    if (self->failed || json_buffer_reserve (self->mem, size)) {
        self->failed = true;
        return;
    }
    memcpy (self->mem->data + self->mem->size, data, size);
    self->mem->size += size;
}

static void
s_put (writer_t *self, const void *data, size_t size)
{
    if (size == 0)
        return;                             //  data may be NULL then
    if (self->mem) {
        s_put_mem (self, data, size);
        return;
    }
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
    if (self->mem) {
        if (self->mem->size < self->mem->capacity)
            self->mem->data[self->mem->size++] = c;
        else
            s_put_mem (self, &c, 1);
        return;
    }
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
    if (self->keys >= WRITE_MAX_KEY_NESTING) {
        self->failed = true;
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
        inner->mem = NULL;
        inner->size = 0;
        inner->failed = false;
        inner->keys = self->keys + 1;
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
    self.mem = NULL;
    self.size = 0;
    self.failed = false;
    self.keys = 0;
    s_write_value (&self, obj, 0);
    s_flush (&self);
    return self.failed? -1: 0;
}


//  The bytes of a msgpack value, read front to back.  Any value that does
//  not fit what is left fails the writer: callers normally pass values
//  validate.h has checked, but a short read must never run off the end.
typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} reader_t;

static bool
s_take (reader_t *in, size_t size, const uint8_t **bytes)
{
    if ((size_t) (in->end - in->p) < size)
        return false;
    *bytes = in->p;
    in->p += size;
    return true;
}

//  A big-endian unsigned of size bytes (1, 2, 4 or 8).
static bool
s_take_be (reader_t *in, size_t size, uint64_t *value)
{
    const uint8_t *b;
    if (!s_take (in, size, &b))
        return false;
    *value = 0;
    for (size_t i = 0; i < size; i++)
        *value = *value << 8 | b[i];
    return true;
}

static void s_write_packed (writer_t *self, reader_t *in, int depth);

//  A map key that is not a string: its JSON text, as a string (as
//  s_write_key does for an object).
static void
s_write_packed_key (writer_t *self, reader_t *in, int depth)
{
    if (in->p < in->end && ((*in->p & 0xe0) == 0xa0 || (*in->p >= 0xd9 && *in->p <= 0xdb))) {
        s_write_packed (self, in, depth + 1);
        return;
    }
    if (self->keys >= WRITE_MAX_KEY_NESTING) {
        self->failed = true;
        return;
    }
    json_buffer_t text = { 0 };
    writer_t *inner = malloc (sizeof (writer_t));
    if (!inner) {
        self->failed = true;
        return;
    }
    inner->file = NULL;
    inner->mem = &text;
    inner->failed = false;
    inner->keys = self->keys + 1;
    s_write_packed (inner, in, depth + 1);
    if (inner->failed)
        self->failed = true;
    else
        s_write_string (self, text.data, text.size);
    free (inner);
    json_buffer_free (&text);
}

//  An array or map of count items (pairs for a map).
static void
s_write_packed_container (writer_t *self, reader_t *in, uint64_t count, bool map, int depth)
{
    s_putc (self, map? '{': '[');
    for (uint64_t i = 0; i < count && !self->failed; i++) {
        if (i)
            s_putc (self, ',');
        if (map) {
            s_write_packed_key (self, in, depth);
            s_putc (self, ':');
        }
        s_write_packed (self, in, depth + 1);
    }
    s_putc (self, map? '}': ']');
}

//  str, bin or ext of size bytes (ext: type first).
static void
s_write_packed_bytes (writer_t *self, reader_t *in, uint8_t kind, uint64_t size)
{
    const uint8_t *type = NULL, *bytes = NULL;
    if ((kind == 'e' && !s_take (in, 1, &type)) || !s_take (in, size, &bytes)) {
        self->failed = true;
        return;
    }
    if (kind == 's')
        s_write_string (self, (const char *) bytes, size);
    else
    if (kind == 'b')
        s_write_base64 (self, (const char *) bytes, size);
    else {
        int8_t t = (int8_t) *type;
        s_put (self, "{\"ext\":", 7);
        s_write_uint (self, t < 0? 0 - (uint64_t) t: (uint64_t) t, t < 0);
        s_put (self, ",\"data\":", 8);
        s_write_base64 (self, (const char *) bytes, size);
        s_putc (self, '}');
    }
}

//  A signed integer of size bytes.
static void
s_write_packed_int (writer_t *self, reader_t *in, size_t size)
{
    uint64_t raw;
    if (!s_take_be (in, size, &raw)) {
        self->failed = true;
        return;
    }
    int64_t value = size == 1? (int8_t) raw: size == 2? (int16_t) raw
                  : size == 4? (int32_t) raw: (int64_t) raw;
    s_write_uint (self, value < 0? 0 - (uint64_t) value: (uint64_t) value, value < 0);
}

//  Type bytes 0xc0 .. 0xdf.  Why so long: one case per msgpack format.
static void
s_write_packed_typed (writer_t *self, reader_t *in, uint8_t b, int depth)
{
    static const uint8_t width[] = { 1, 2, 4, 8 };
    uint64_t n = 0;
    switch (b) {
        case 0xc0: s_put (self, "null", 4); return;
        case 0xc2: s_put (self, "false", 5); return;
        case 0xc3: s_put (self, "true", 4); return;
        case 0xc4: case 0xc5: case 0xc6:
            if (s_take_be (in, width[b - 0xc4], &n))
                s_write_packed_bytes (self, in, 'b', n);
            else
                self->failed = true;
            return;
        case 0xc7: case 0xc8: case 0xc9:
            if (s_take_be (in, width[b - 0xc7], &n))
                s_write_packed_bytes (self, in, 'e', n);
            else
                self->failed = true;
            return;
        case 0xca: case 0xcb: {
            if (!s_take_be (in, b == 0xca? 4: 8, &n)) {
                self->failed = true;
                return;
            }
            double value;
            if (b == 0xca) {
                uint32_t bits = (uint32_t) n;
                float f;
                memcpy (&f, &bits, sizeof f);
                value = f;
            }
            else
                memcpy (&value, &n, sizeof value);
            s_write_float (self, value, b == 0xca);
            return;
        }
        case 0xcc: case 0xcd: case 0xce: case 0xcf:
            if (s_take_be (in, width[b - 0xcc], &n))
                s_write_uint (self, n, false);
            else
                self->failed = true;
            return;
        case 0xd0: case 0xd1: case 0xd2: case 0xd3:
            s_write_packed_int (self, in, width[b - 0xd0]);
            return;
        case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
            s_write_packed_bytes (self, in, 'e', 1u << (b - 0xd4));
            return;
        case 0xd9: case 0xda: case 0xdb:
            if (s_take_be (in, width[b - 0xd9], &n))
                s_write_packed_bytes (self, in, 's', n);
            else
                self->failed = true;
            return;
        case 0xdc: case 0xdd: case 0xde: case 0xdf:
            //  Every item takes a byte: a count over what is left fails
            //  before anything is written for it.
            if (!s_take_be (in, (b & 1)? 4: 2, &n) || n > (uint64_t) (in->end - in->p))
                self->failed = true;
            else
                s_write_packed_container (self, in, n, b >= 0xde, depth);
            return;
        default:
            self->failed = true;            //  0xc1, never used
    }
}

static void
s_write_packed (writer_t *self, reader_t *in, int depth)
{
    const uint8_t *type;
    if (depth > WRITE_MAX_DEPTH || self->failed || !s_take (in, 1, &type)) {
        self->failed = true;
        return;
    }
    uint8_t b = *type;
    if (b <= 0x7f)
        s_write_uint (self, b, false);
    else
    if (b >= 0xe0)
        s_write_uint (self, (uint64_t) (0x100 - b), true);
    else
    if (b <= 0x8f)
        s_write_packed_container (self, in, b & 0x0f, true, depth);
    else
    if (b <= 0x9f)
        s_write_packed_container (self, in, b & 0x0f, false, depth);
    else
    if (b <= 0xbf)
        s_write_packed_bytes (self, in, 's', b & 0x1f);
    else
        s_write_packed_typed (self, in, b, depth);
}

int
json_write_msgpack (json_buffer_t *out, const void *bytes, size_t size, size_t *used_p)
{
    if (!out || !bytes || size == 0)        //  no value to write
        return -1;
    size_t before = out->size;
    writer_t self;                          //  buf unused: writes go to out
    self.file = NULL;
    self.mem = out;
    self.failed = false;
    self.keys = 0;
    reader_t in = { bytes, (const uint8_t *) bytes + size };
    s_write_packed (&self, &in, 0);
    if (self.failed) {
        out->size = before;
        return -1;
    }
    if (used_p)
        *used_p = (size_t) (in.p - (const uint8_t *) bytes);
    return 0;
}

int
json_write_string (json_buffer_t *out, const char *text, size_t size)
{
    if (!out || (!text && size))
        return -1;
    size_t before = out->size;
    writer_t self;
    self.file = NULL;
    self.mem = out;
    self.failed = false;
    self.keys = 0;
    s_write_string (&self, text, size);
    if (self.failed)
        out->size = before;
    return self.failed? -1: 0;
}
