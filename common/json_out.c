//  json_out.c -- see json_out.h.  A FILE is written through the local
//  buffer (one fwrite per few KiB instead of one stdio call per character);
//  a json_buffer_t grows as it is written.
#include "common/json_out.h"
#include "common/utf8.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void
json_out_to_file (json_out_t *self, FILE *file)
{
    self->file = file;                      //  buf not zeroed: 4 KiB per call
    self->mem = NULL;
    self->size = 0;
    self->failed = false;
    self->keys = 0;
}

void
json_out_to_buffer (json_out_t *self, json_buffer_t *mem)
{
    self->file = NULL;                      //  buf unused: writes go to mem
    self->mem = mem;
    self->size = 0;
    self->failed = false;
    self->keys = 0;
}

void
json_out_flush (json_out_t *self)
{
    if (self->file && self->size
    &&  fwrite (self->buf, 1, self->size, self->file) != self->size)
        self->failed = true;
    self->size = 0;
}

void
json_out_put_mem (json_out_t *self, const void *data, size_t size)
{
    if (self->failed || json_buffer_reserve (self->mem, size)) {
        self->failed = true;
        return;
    }
    memcpy (self->mem->data + self->mem->size, data, size);
    self->mem->size += size;
}

void
json_out_put (json_out_t *self, const void *data, size_t size)
{
    if (size == 0)
        return;                             //  data may be NULL then
    if (self->mem) {
        json_out_put_mem (self, data, size);
        return;
    }
    if (self->size + size > JSON_OUT_BUFFER) {
        json_out_flush (self);
        if (size > JSON_OUT_BUFFER) {
            if (fwrite (data, 1, size, self->file) != size)
                self->failed = true;
            return;
        }
    }
    memcpy (self->buf + self->size, data, size);
    self->size += size;
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
s_write_escape (json_out_t *self, unsigned char c)
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
            json_out_put (self, esc, 6);
            return;
        }
    }
    json_out_put (self, esc, 2);
}

//  Whether any of the 8 bytes at p needs a look (a control character, '"',
//  '\\' or a byte of 0x80 and up), tested on the word at once: most
//  strings in results are plain ASCII, and a byte at a time was a fifth of
//  the sink's CPU.  Each test is the classic "has a byte less than n" /
//  "has a zero byte" trick, exact about whether one exists; which byte it
//  is the byte loop finds.
static inline bool
s_word_needs_look (const unsigned char *p)
{
    const uint64_t ones = 0x0101010101010101ULL, high = ones * 0x80;
    uint64_t w;
    memcpy (&w, p, sizeof w);
    uint64_t below = (w - ones * 0x20)
                   | ((w ^ ones * '"') - ones)
                   | ((w ^ ones * '\\') - ones);
    return ((below & ~w) | w) & high;
}

//  Runs of bytes that need no escaping go out in one copy.
void
json_out_string (json_out_t *self, const char *data, size_t size)
{
    if (size == 0) {
        json_out_put (self, "\"\"", 2);          //  data may be NULL then
        return;
    }
    const unsigned char *s = (const unsigned char *) data;
    json_out_putc (self, '"');
    size_t run = 0, i = 0;
    while (i < size) {
        if (size - i >= 8 && !s_word_needs_look (s + i)) {
            i += 8;
            continue;
        }
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
        json_out_put (self, s + run, i - run);
        s_write_escape (self, s[i]);        //  invalid UTF-8 becomes \u00XX
        run = ++i;
    }
    json_out_put (self, s + run, i - run);
    json_out_putc (self, '"');
}

void
json_out_base64 (json_out_t *self, const char *data, size_t size)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *s = (const unsigned char *) data;
    json_out_putc (self, '"');
    char quad[4];
    size_t i = 0;
    for (; i + 3 <= size; i += 3) {
        uint32_t v = (uint32_t) s[i] << 16 | (uint32_t) s[i + 1] << 8 | s[i + 2];
        quad[0] = alphabet[v >> 18];
        quad[1] = alphabet[(v >> 12) & 63];
        quad[2] = alphabet[(v >> 6) & 63];
        quad[3] = alphabet[v & 63];
        json_out_put (self, quad, 4);
    }
    if (i < size) {
        uint32_t v = (uint32_t) s[i] << 16 | (i + 1 < size? (uint32_t) s[i + 1] << 8: 0);
        quad[0] = alphabet[v >> 18];
        quad[1] = alphabet[(v >> 12) & 63];
        quad[2] = i + 1 < size? alphabet[(v >> 6) & 63]: '=';
        quad[3] = '=';
        json_out_put (self, quad, 4);
    }
    json_out_putc (self, '"');
}

void
json_out_uint (json_out_t *self, uint64_t value, bool negative)
{
    char digits[24];
    size_t at = sizeof digits;
    do {
        digits[--at] = (char) ('0' + value % 10);
        value /= 10;
    } while (value);
    if (negative)
        digits[--at] = '-';
    json_out_put (self, digits + at, sizeof digits - at);
}

//  The shortest of 15..17 significant digits (6..9 for float32) that reads
//  back as the same value, with ".0" added so it reads back as a float.
void
json_out_float (json_out_t *self, double value, bool is_float32)
{
    if (isnan (value) || isinf (value)) {
        json_out_put (self, "null", 4);
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
    json_out_put (self, text, size);
}


void
json_out_ext (json_out_t *self, int8_t type, const char *data, size_t size)
{
    json_out_put (self, "{\"ext\":", 7);
    json_out_uint (self, type < 0? 0 - (uint64_t) type: (uint64_t) type, type < 0);
    json_out_put (self, ",\"data\":", 8);
    json_out_base64 (self, data, size);
    json_out_putc (self, '}');
}

int
json_write_string (json_buffer_t *out, const char *text, size_t size)
{
    if (!out || (!text && size))
        return -1;
    size_t before = out->size;
    json_out_t self;
    json_out_to_buffer (&self, out);
    json_out_string (&self, text, size);
    if (self.failed)
        out->size = before;
    return self.failed? -1: 0;
}
