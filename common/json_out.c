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
        //  Room checked here, not in two calls: most puts are a few bytes.
        json_buffer_t *mem = self->mem;
        if (!self->failed && mem->capacity - mem->size >= size) {
            memcpy (mem->data + mem->size, data, size);
            mem->size += size;
        }
        else
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
static inline uint64_t
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

//  Where the plain ASCII from s[i] ends (plain: written as it is): 16
//  bytes at a time, then 8, then the last few at once when the 8 bytes
//  that end the string are plain, else a byte at a time.
static size_t
s_plain_end (const unsigned char *s, size_t i, size_t size)
{
    while (size - i >= 16 && !(s_word_needs_look (s + i) | s_word_needs_look (s + i + 8)))
        i += 16;
    while (size - i >= 8 && !s_word_needs_look (s + i))
        i += 8;
    if (size - i < 8 && size >= 8 && !s_word_needs_look (s + size - 8))
        return size;
    while (i < size && s_byte_class (s[i]) == 0)
        i++;
    return i;
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
    while ((i = s_plain_end (s, i, size)) < size) {
        //  A byte to escape, or of 0x80 and up: kept if it starts valid UTF-8
        size_t n = s_byte_class (s[i]) == 2? utf8_len (s + i, size - i): 0;
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
    char text[21];
    size_t size = negative;
    text[0] = '-';
    size += json_out_decimal (text + size, value);
    json_out_put (self, text, size);
}

//  Two digits at a time, from the last: a division per digit was a
//  measurable share of the sink's lines (a started_us has 16 digits).
size_t
json_out_decimal (char *out, uint64_t value)
{
    static const char pairs[] =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
        "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
        "8081828384858687888990919293949596979899";
    static const uint64_t powers[20] = {
        1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
        100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL,
        10000000000000ULL, 100000000000000ULL, 1000000000000000ULL,
        10000000000000000ULL, 100000000000000000ULL, 1000000000000000000ULL,
        10000000000000000000ULL };
    //  Digits from the bits (log10(2) is about 1233 / 4096): one short at
    //  most, which the table of powers makes up.  value | 1 crosses no
    //  power of ten, and makes 0 one digit.
    unsigned bits = 64 - (unsigned) __builtin_clzll (value | 1);
    size_t guess = (bits * 1233) >> 12;
    size_t size = guess + ((value | 1) >= powers[guess]);
    char *p = out + size;
    while (value >= 100) {
        size_t pair = (size_t) (value % 100) * 2;
        value /= 100;
        *--p = pairs[pair + 1];
        *--p = pairs[pair];
    }
    if (value >= 10) {
        *--p = pairs[value * 2 + 1];
        *--p = pairs[value * 2];
    }
    else
        *--p = (char) ('0' + value);
    return size;
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
