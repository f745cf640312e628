//  json_read.c -- see json_read.h.  A recursive-descent RFC 8259 parser
//  that packs straight into msgpack (no tree in between).
#include "common/json_read.h"
#include "common/utf8.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

//  msgpack-c's unpacker (MSGPACK_EMBED_STACK_SIZE, compiled into libmsgpackc)
//  decodes at most 32 nested containers: a deeper tuple could be submitted
//  but never run, so the parser refuses it here, where the user can fix it.
#define JSON_MAX_DEPTH   32
#define CONTAINER_SLOT   5          //  room for the widest array/map header


typedef struct {
    const unsigned char *text;
    size_t len;
    size_t pos;
    int depth;
    msgpack_sbuffer *out;
    msgpack_packer pk;
    char *scratch;              //  unescaped string bytes
    size_t scratch_size;
    size_t scratch_cap;
    char *err;
    size_t errlen;
} parser_t;

//  Format "line L, column C: message" for byte offset pos.  Columns count
//  characters, not bytes, so they match what an editor shows.
static int
s_fail (parser_t *self, size_t pos, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

static int
s_fail (parser_t *self, size_t pos, const char *fmt, ...)
{
    if (!self->err || self->errlen == 0)
        return -1;
    size_t line = 1, column = 1;
    for (size_t i = 0; i < pos && i < self->len; i++) {
        if (self->text[i] == '\n') {
            line++;
            column = 1;
        }
        else
        if ((self->text[i] & 0xC0) != 0x80)
            column++;
    }
    int n = snprintf (self->err, self->errlen, "line %zu, column %zu: ", line, column);
    if (n < 0 || (size_t) n >= self->errlen)
        return -1;
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (self->err + n, self->errlen - (size_t) n, fmt, ap);
    va_end (ap);
    return -1;
}

//  What is at pos, for messages: "'x'", "byte 0xFF" or "end of input".
static const char *
s_what (parser_t *self, size_t pos, char *buf, size_t size)
{
    if (pos >= self->len)
        return "end of input";
    unsigned char c = self->text[pos];
    if (c > 0x20 && c < 0x7F)
        snprintf (buf, size, "'%c'", c);
    else
        snprintf (buf, size, "byte 0x%02X", c);
    return buf;
}

static int
s_fail_expected (parser_t *self, const char *expected)
{
    char buf[16];
    return s_fail (self, self->pos, "expected %s, got %s", expected,
                   s_what (self, self->pos, buf, sizeof buf));
}

static int
s_nomem (parser_t *self)
{
    return s_fail (self, self->pos, "out of memory");
}

static void
s_skip_space (parser_t *self)
{
    while (self->pos < self->len) {
        unsigned char c = self->text[self->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        self->pos++;
    }
}

static int s_value (parser_t *self);

//  Reserve the widest header for a container whose size is not known yet.
static int
s_container_open (parser_t *self, size_t *slot_p)
{
    if (++self->depth > JSON_MAX_DEPTH)
        return s_fail (self, self->pos, "nesting deeper than %d", JSON_MAX_DEPTH);
    *slot_p = self->out->size;
    static const char zeros[CONTAINER_SLOT] = { 0 };
    if (msgpack_sbuffer_write (self->out, zeros, CONTAINER_SLOT))
        return s_nomem (self);
    self->pos++;                            //  past '[' or '{'
    return 0;
}

//  Write the real (shortest) header into the slot and close the gap: the
//  body moves once per enclosing level, bounded by the depth limit.
static int
s_container_close (parser_t *self, size_t slot, uint64_t count, bool is_map)
{
    unsigned char header[CONTAINER_SLOT];
    size_t hlen;
    if (count > UINT32_MAX)
        return s_fail (self, self->pos, "more than %u elements", UINT32_MAX);
    if (count < 16) {
        header[0] = (unsigned char) ((is_map? 0x80: 0x90) | count);
        hlen = 1;
    }
    else
    if (count <= UINT16_MAX) {
        header[0] = is_map? 0xDE: 0xDC;
        header[1] = (unsigned char) (count >> 8);
        header[2] = (unsigned char) count;
        hlen = 3;
    }
    else {
        header[0] = is_map? 0xDF: 0xDD;
        for (int i = 0; i < 4; i++)
            header[1 + i] = (unsigned char) (count >> (24 - 8 * i));
        hlen = 5;
    }
    char *data = self->out->data;
    size_t body = self->out->size - slot - CONTAINER_SLOT;
    if (hlen < CONTAINER_SLOT)
        memmove (data + slot + hlen, data + slot + CONTAINER_SLOT, body);
    memcpy (data + slot, header, hlen);
    self->out->size -= CONTAINER_SLOT - hlen;
    self->depth--;
    self->pos++;                            //  past ']' or '}'
    return 0;
}

static int
s_array (parser_t *self)
{
    size_t slot;
    if (s_container_open (self, &slot))
        return -1;
    uint64_t count = 0;
    s_skip_space (self);
    if (self->pos < self->len && self->text[self->pos] == ']')
        return s_container_close (self, slot, 0, false);
    while (true) {
        if (s_value (self))
            return -1;
        count++;
        s_skip_space (self);
        if (self->pos < self->len && self->text[self->pos] == ',') {
            self->pos++;
            continue;
        }
        if (self->pos < self->len && self->text[self->pos] == ']')
            return s_container_close (self, slot, count, false);
        return s_fail_expected (self, "',' or ']'");
    }
}

static int s_string (parser_t *self);

static int
s_object (parser_t *self)
{
    size_t slot;
    if (s_container_open (self, &slot))
        return -1;
    uint64_t count = 0;
    s_skip_space (self);
    if (self->pos < self->len && self->text[self->pos] == '}')
        return s_container_close (self, slot, 0, true);
    while (true) {
        s_skip_space (self);
        if (self->pos >= self->len || self->text[self->pos] != '"')
            return s_fail_expected (self, "a string key");
        if (s_string (self))
            return -1;
        s_skip_space (self);
        if (self->pos >= self->len || self->text[self->pos] != ':')
            return s_fail_expected (self, "':'");
        self->pos++;
        if (s_value (self))
            return -1;
        count++;
        s_skip_space (self);
        if (self->pos < self->len && self->text[self->pos] == ',') {
            self->pos++;
            continue;
        }
        if (self->pos < self->len && self->text[self->pos] == '}')
            return s_container_close (self, slot, count, true);
        return s_fail_expected (self, "',' or '}'");
    }
}

static int
s_scratch_put (parser_t *self, const void *data, size_t size)
{
    if (size == 0)
        return 0;
    if (self->scratch_size + size > self->scratch_cap) {
        size_t cap = self->scratch_cap? self->scratch_cap * 2: 256;
        while (cap < self->scratch_size + size)
            cap *= 2;
        char *grown = realloc (self->scratch, cap);
        if (!grown)
            return -1;
        self->scratch = grown;
        self->scratch_cap = cap;
    }
    memcpy (self->scratch + self->scratch_size, data, size);
    self->scratch_size += size;
    return 0;
}

//  Four hex digits at pos, or -1.
static int32_t
s_hex4 (parser_t *self, size_t pos)
{
    if (pos + 4 > self->len)
        return -1;
    int32_t value = 0;
    for (size_t i = pos; i < pos + 4; i++) {
        unsigned char c = self->text[i];
        int digit = c >= '0' && c <= '9'? c - '0'
                  : c >= 'a' && c <= 'f'? c - 'a' + 10
                  : c >= 'A' && c <= 'F'? c - 'A' + 10: -1;
        if (digit < 0)
            return -1;
        value = value * 16 + digit;
    }
    return value;
}

//  Decode the escape at pos (the backslash) into scratch; advance pos.
static int
s_escape (parser_t *self)
{
    size_t at = self->pos;
    if (at + 1 >= self->len)
        return s_fail (self, at, "unterminated string");
    unsigned char c = self->text[at + 1];
    const char *simple = strchr ("\"\\/bfnrt", c);
    if (c && simple) {
        static const char decoded[] = "\"\\/\b\f\n\r\t";
        self->pos += 2;
        return s_scratch_put (self, &decoded[simple - "\"\\/bfnrt"], 1)? s_nomem (self): 0;
    }
    if (c != 'u') {
        char buf[16];
        return s_fail (self, at, "invalid escape \\%s in string",
                       s_what (self, at + 1, buf, sizeof buf));
    }
    int32_t unit = s_hex4 (self, at + 2);
    if (unit < 0)
        return s_fail (self, at, "invalid \\u escape: expected four hex digits");
    uint32_t cp = (uint32_t) unit;
    self->pos += 6;
    if (unit >= 0xDC00 && unit <= 0xDFFF)
        return s_fail (self, at, "lone low surrogate \\u%04X", (unsigned) unit);
    if (unit >= 0xD800 && unit <= 0xDBFF) {
        int32_t low = self->pos + 1 < self->len && self->text[self->pos] == '\\'
                   && self->text[self->pos + 1] == 'u'? s_hex4 (self, self->pos + 2): -1;
        if (low < 0xDC00 || low > 0xDFFF)
            return s_fail (self, at, "lone high surrogate \\u%04X", (unsigned) unit);
        cp = 0x10000 + (((uint32_t) unit - 0xD800) << 10) + ((uint32_t) low - 0xDC00);
        self->pos += 6;
    }
    char utf8[4];
    size_t n = utf8_encode (cp, utf8);
    return s_scratch_put (self, utf8, n)? s_nomem (self): 0;
}

//  A string at pos (the opening quote).  Without escapes the bytes are
//  packed straight from the input; with them, they are decoded to scratch.
static int
s_string (parser_t *self)
{
    size_t start = ++self->pos;
    bool escaped = false;
    self->scratch_size = 0;
    while (true) {
        if (self->pos >= self->len)
            return s_fail (self, start - 1, "unterminated string");
        unsigned char c = self->text[self->pos];
        if (c == '"')
            break;
        if (c == '\\') {
            if (!escaped
            &&  s_scratch_put (self, self->text + start, self->pos - start))
                return s_nomem (self);
            escaped = true;
            if (s_escape (self))
                return -1;
            continue;
        }
        size_t n = 1;
        if (c < 0x20)
            return s_fail (self, self->pos, "control character U+%04X in string"
                           " (must be escaped)", c);
        if (c >= 0x80 && !(n = utf8_len (self->text + self->pos, self->len - self->pos)))
            return s_fail (self, self->pos, "invalid UTF-8 byte 0x%02X in string", c);
        if (escaped && s_scratch_put (self, self->text + self->pos, n))
            return s_nomem (self);
        self->pos += n;
    }
    const void *body = escaped? (const void *) self->scratch: self->text + start;
    size_t size = escaped? self->scratch_size: self->pos - start;
    self->pos++;                            //  past the closing quote
    if (msgpack_pack_str (&self->pk, size) || msgpack_pack_str_body (&self->pk, body, size))
        return s_nomem (self);
    return 0;
}

static size_t
s_digits (parser_t *self, size_t pos)
{
    while (pos < self->len && self->text[pos] >= '0' && self->text[pos] <= '9')
        pos++;
    return pos;
}

//  Integers within int64/uint64 become msgpack ints; anything else,
//  including integers out of that range, float64.
static int
s_number (parser_t *self)
{
    size_t start = self->pos, pos = start;
    bool negative = pos < self->len && self->text[pos] == '-';
    pos += negative;
    size_t int_start = pos;
    pos = s_digits (self, pos);
    if (pos == int_start)
        return s_fail (self, start, "invalid number: expected a digit");
    if (pos - int_start > 1 && self->text[int_start] == '0')
        return s_fail (self, start, "invalid number: leading zero");
    bool integer = true;
    if (pos < self->len && self->text[pos] == '.') {
        size_t frac = ++pos;
        pos = s_digits (self, pos);
        if (pos == frac)
            return s_fail (self, start, "invalid number: expected a digit after '.'");
        integer = false;
    }
    if (pos < self->len && (self->text[pos] == 'e' || self->text[pos] == 'E')) {
        pos++;
        if (pos < self->len && (self->text[pos] == '+' || self->text[pos] == '-'))
            pos++;
        size_t exp = pos;
        pos = s_digits (self, pos);
        if (pos == exp)
            return s_fail (self, start, "invalid number: expected a digit in the exponent");
        integer = false;
    }
    self->pos = pos;
    if (integer) {
        uint64_t value = 0;
        bool fits = true;
        for (size_t i = int_start; i < pos && fits; i++) {
            unsigned digit = self->text[i] - '0';
            fits = value <= (UINT64_MAX - digit) / 10;
            value = value * 10 + digit;
        }
        if (fits && !negative)
            return msgpack_pack_uint64 (&self->pk, value)? s_nomem (self): 0;
        if (fits && value <= (uint64_t) INT64_MAX + 1) {
            int64_t signed_value = value == (uint64_t) INT64_MAX + 1
                                 ? INT64_MIN: -(int64_t) value;
            return msgpack_pack_int64 (&self->pk, signed_value)? s_nomem (self): 0;
        }
    }
    //  The text is validated, so strtod sees only JSON number syntax; it is
    //  copied because the input need not be NUL-terminated.
    char local[64];
    size_t size = pos - start;
    char *copy = size < sizeof local? local: malloc (size + 1);
    if (!copy)
        return s_nomem (self);
    memcpy (copy, self->text + start, size);
    copy[size] = 0;
    double value = strtod (copy, NULL);
    if (copy != local)
        free (copy);
    if (isinf (value))
        return s_fail (self, start, "number out of range");
    return msgpack_pack_double (&self->pk, value)? s_nomem (self): 0;
}

static int
s_literal (parser_t *self, const char *word)
{
    size_t size = strlen (word);
    if (self->len - self->pos < size || memcmp (self->text + self->pos, word, size))
        return s_fail_expected (self, "a value");
    self->pos += size;
    int rc = word[0] == 'n'? msgpack_pack_nil (&self->pk)
           : word[0] == 't'? msgpack_pack_true (&self->pk)
           : msgpack_pack_false (&self->pk);
    return rc? s_nomem (self): 0;
}

static int
s_value (parser_t *self)
{
    s_skip_space (self);
    if (self->pos >= self->len)
        return s_fail_expected (self, "a value");
    unsigned char c = self->text[self->pos];
    switch (c) {
        case '[': return s_array (self);
        case '{': return s_object (self);
        case '"': return s_string (self);
        case 't': return s_literal (self, "true");
        case 'f': return s_literal (self, "false");
        case 'n': return s_literal (self, "null");
        default:
            if (c == '-' || (c >= '0' && c <= '9'))
                return s_number (self);
            return s_fail_expected (self, "a value");
    }
}

int
json_to_msgpack (const char *text, size_t len, msgpack_sbuffer *out,
                 char *err, size_t errlen)
{
    if (!out || (!text && len))
        return -1;
    parser_t self = {
        .text = (const unsigned char *) text, .len = len,
        .out = out, .err = err, .errlen = errlen
    };
    msgpack_packer_init (&self.pk, out, msgpack_sbuffer_write);
    size_t mark = out->size;
    int rc = s_value (&self);
    if (rc == 0) {
        s_skip_space (&self);
        if (self.pos < self.len) {
            char buf[16];
            rc = s_fail (&self, self.pos, "unexpected %s after the value",
                         s_what (&self, self.pos, buf, sizeof buf));
        }
    }
    free (self.scratch);
    if (rc)
        out->size = mark;                   //  nothing half-written stays
    return rc;
}
