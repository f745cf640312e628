//  json_write_packed.c -- json_write_msgpack (json_write.h): the bytes of
//  a msgpack value into one line of JSON without building an object tree
//  (the sink's path: results arrive as bytes).  json_out.c spells the
//  scalars, the same as for json_write.
#include "common/json_write.h"
#include "common/json_out.h"

#include <stdlib.h>
#include <string.h>

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

static void s_write_packed (json_out_t *self, reader_t *in, int depth);

//  A map key that is not a string: its JSON text, as a string (as
//  s_write_key does for an object).
static void
s_write_packed_key (json_out_t *self, reader_t *in, int depth)
{
    if (in->p < in->end && ((*in->p & 0xe0) == 0xa0 || (*in->p >= 0xd9 && *in->p <= 0xdb))) {
        s_write_packed (self, in, depth + 1);
        return;
    }
    if (self->keys >= JSON_OUT_MAX_KEY_NESTING) {
        self->failed = true;
        return;
    }
    json_buffer_t text = { 0 };
    json_out_t *inner = malloc (sizeof (json_out_t));
    if (!inner) {
        self->failed = true;
        return;
    }
    json_out_to_buffer (inner, &text);
    inner->keys = self->keys + 1;
    s_write_packed (inner, in, depth + 1);
    if (inner->failed)
        self->failed = true;
    else
        json_out_string (self, text.data, text.size);
    free (inner);
    json_buffer_free (&text);
}

//  An array or map of count items (pairs for a map).
static void
s_write_packed_container (json_out_t *self, reader_t *in, uint64_t count, bool map, int depth)
{
    json_out_putc (self, map? '{': '[');
    for (uint64_t i = 0; i < count && !self->failed; i++) {
        if (i)
            json_out_putc (self, ',');
        if (map) {
            s_write_packed_key (self, in, depth);
            json_out_putc (self, ':');
        }
        s_write_packed (self, in, depth + 1);
    }
    json_out_putc (self, map? '}': ']');
}

//  str, bin or ext of size bytes (ext: type first).
static void
s_write_packed_bytes (json_out_t *self, reader_t *in, uint8_t kind, uint64_t size)
{
    const uint8_t *type = NULL, *bytes = NULL;
    if ((kind == 'e' && !s_take (in, 1, &type)) || !s_take (in, size, &bytes)) {
        self->failed = true;
        return;
    }
    if (kind == 's')
        json_out_string (self, (const char *) bytes, size);
    else
    if (kind == 'b')
        json_out_base64 (self, (const char *) bytes, size);
    else
        json_out_ext (self, (int8_t) *type, (const char *) bytes, size);
}

//  A signed integer of size bytes.
static void
s_write_packed_int (json_out_t *self, reader_t *in, size_t size)
{
    uint64_t raw;
    if (!s_take_be (in, size, &raw)) {
        self->failed = true;
        return;
    }
    int64_t value = size == 1? (int8_t) raw: size == 2? (int16_t) raw
                  : size == 4? (int32_t) raw: (int64_t) raw;
    json_out_uint (self, value < 0? 0 - (uint64_t) value: (uint64_t) value, value < 0);
}

//  Type bytes 0xc0 .. 0xdf.  Why so long: one case per msgpack format.
static void
s_write_packed_typed (json_out_t *self, reader_t *in, uint8_t b, int depth)
{
    static const uint8_t width[] = { 1, 2, 4, 8 };
    uint64_t n = 0;
    switch (b) {
        case 0xc0: json_out_put (self, "null", 4); return;
        case 0xc2: json_out_put (self, "false", 5); return;
        case 0xc3: json_out_put (self, "true", 4); return;
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
            json_out_float (self, value, b == 0xca);
            return;
        }
        case 0xcc: case 0xcd: case 0xce: case 0xcf:
            if (s_take_be (in, width[b - 0xcc], &n))
                json_out_uint (self, n, false);
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
s_write_packed (json_out_t *self, reader_t *in, int depth)
{
    const uint8_t *type;
    if (depth > JSON_OUT_MAX_DEPTH || self->failed || !s_take (in, 1, &type)) {
        self->failed = true;
        return;
    }
    uint8_t b = *type;
    if (b <= 0x7f)
        json_out_uint (self, b, false);
    else
    if (b >= 0xe0)
        json_out_uint (self, (uint64_t) (0x100 - b), true);
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
    json_out_t self;
    json_out_to_buffer (&self, out);
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
