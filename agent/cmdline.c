//  cmdline.c -- argv and environment building for the exec handler; see
//  cmdline.h.  Words are NUL-terminated back to back in one msgpack_sbuffer
//  (used as a plain byte buffer); their offsets become pointers only in
//  cmdline_vector, after the buffer stopped moving.
#include "agent/cmdline.h"
#include "common/json_write.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INLINE_WORDS 64

struct cmdline {
    msgpack_sbuffer bytes;      //  the words, each NUL-terminated
    msgpack_sbuffer scratch;    //  one value's text while it is quoted
    size_t inline_offsets[INLINE_WORDS];
    size_t *offsets;            //  inline_offsets, or a heap array past 64
    size_t count, cap;
    char **vector;
};

cmdline_t *
cmdline_new (void)
{
    cmdline_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    msgpack_sbuffer_init (&self->bytes);
    msgpack_sbuffer_init (&self->scratch);
    self->offsets = self->inline_offsets;
    self->cap = INLINE_WORDS;
    return self;
}

void
cmdline_destroy (cmdline_t **self_p)
{
    cmdline_t *self = *self_p;
    if (!self)
        return;
    msgpack_sbuffer_destroy (&self->bytes);
    msgpack_sbuffer_destroy (&self->scratch);
    if (self->offsets != self->inline_offsets)
        free (self->offsets);
    free (self->vector);
    free (self);
    *self_p = NULL;
}

static void
s_put (msgpack_sbuffer *buf, const char *data, size_t size)
{
    msgpack_sbuffer_write (buf, data, size);
}

//  Start the next word at the buffer's end.  -1 if out of memory.
static int
s_start (cmdline_t *self)
{
    if (self->count == self->cap) {
        size_t *grown = malloc (self->cap * 2 * sizeof *grown);
        if (!grown)
            return -1;
        memcpy (grown, self->offsets, self->count * sizeof *grown);
        if (self->offsets != self->inline_offsets)
            free (self->offsets);
        self->offsets = grown;
        self->cap *= 2;
    }
    self->offsets[self->count++] = self->bytes.size;
    return 0;
}

//  End the current word; a NUL inside it would cut it short: refuse.
static int
s_end (cmdline_t *self, char *err, size_t errlen)
{
    size_t start = self->offsets[self->count - 1];
    if (self->bytes.size > start && memchr (self->bytes.data + start, 0, self->bytes.size - start)) {
        self->bytes.size = start;
        self->count--;
        snprintf (err, errlen, "a value contains a NUL byte");
        return -1;
    }
    s_put (&self->bytes, "", 1);
    return 0;
}

static int
s_no_memory (char *err, size_t errlen)
{
    snprintf (err, errlen, "out of memory");
    return -1;
}

int
cmdline_add (cmdline_t *self, const char *text, size_t len, char *err, size_t errlen)
{
    if (s_start (self))
        return s_no_memory (err, errlen);
    s_put (&self->bytes, text, len);
    return s_end (self, err, errlen);
}

int
cmdline_value_text (msgpack_sbuffer *out, const msgpack_object *value)
{
    char number[40];
    int len = -1;
    switch (value->type) {
        case MSGPACK_OBJECT_STR:
            s_put (out, value->via.str.ptr, value->via.str.size);
            return 0;
        case MSGPACK_OBJECT_NIL:
            return 0;
        case MSGPACK_OBJECT_BOOLEAN:
            len = snprintf (number, sizeof number, "%s", value->via.boolean? "true": "false");
            break;
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            len = snprintf (number, sizeof number, "%" PRIu64, value->via.u64);
            break;
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            len = snprintf (number, sizeof number, "%" PRId64, value->via.i64);
            break;
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
            for (int digits = 15; digits <= 17; digits++) {
                len = snprintf (number, sizeof number, "%.*g", digits, value->via.f64);
                if (strtod (number, NULL) == value->via.f64)
                    break;
            }
            break;
        default: {
            char *text = NULL;
            size_t size = 0;
            FILE *stream = open_memstream (&text, &size);
            if (!stream)
                return -1;
            int rc = json_write (stream, value);
            fclose (stream);
            if (rc == 0)
                s_put (out, text, size);
            free (text);
            return rc;
        }
    }
    s_put (out, number, (size_t) len);
    return 0;
}

//  The tuple's value a placeholder names, or NULL with a message in err.
static const msgpack_object *
s_lookup (const msgpack_object *tuple, const char *name, size_t len, char *err, size_t errlen)
{
    bool digits = len > 0 && len < 10;
    for (size_t i = 0; i < len && digits; i++)
        digits = name[i] >= '0' && name[i] <= '9';
    if (digits) {
        uint32_t index = (uint32_t) strtoul (name, NULL, 10);
        if (tuple->type == MSGPACK_OBJECT_ARRAY && index < tuple->via.array.size)
            return &tuple->via.array.ptr[index];
        if (tuple->type != MSGPACK_OBJECT_ARRAY && tuple->type != MSGPACK_OBJECT_MAP && index == 0)
            return tuple;
        snprintf (err, errlen, "placeholder {%.*s}: the tuple has no element %u",
                  (int) len, name, index);
        return NULL;
    }
    if (tuple->type != MSGPACK_OBJECT_MAP) {
        snprintf (err, errlen, "placeholder {%.*s}: the tuple is not a map", (int) len, name);
        return NULL;
    }
    for (uint32_t i = 0; i < tuple->via.map.size; i++) {
        const msgpack_object *key = &tuple->via.map.ptr[i].key;
        if (key->type == MSGPACK_OBJECT_STR && key->via.str.size == len
        &&  memcmp (key->via.str.ptr, name, len) == 0)
            return &tuple->via.map.ptr[i].val;
    }
    snprintf (err, errlen, "placeholder {%.*s}: the tuple has no such field", (int) len, name);
    return NULL;
}

//  Append text in single quotes for /bin/sh.
static void
s_shell_quote (msgpack_sbuffer *out, const char *text, size_t len)
{
    s_put (out, "'", 1);
    for (size_t i = 0; i < len; i++)
        if (text[i] == '\'')
            s_put (out, "'\\''", 4);
        else
            s_put (out, text + i, 1);
    s_put (out, "'", 1);
}

static int
s_expand (cmdline_t *self, const msgpack_object *tuple, const char *tpl, size_t len,
          bool quote, char *err, size_t errlen)
{
    msgpack_sbuffer *out = &self->bytes, *value_text = &self->scratch;
    for (size_t i = 0; i < len; i++) {
        char c = tpl[i];
        if ((c == '{' || c == '}') && i + 1 < len && tpl[i + 1] == c) {
            s_put (out, &c, 1);
            i++;
            continue;
        }
        if (c != '{') {
            s_put (out, &c, 1);
            continue;
        }
        const char *end = memchr (tpl + i + 1, '}', len - i - 1);
        if (!end) {
            snprintf (err, errlen, "command has a '{' without '}' (write {{ for a brace)");
            return -1;
        }
        const char *name = tpl + i + 1;
        const msgpack_object *value = s_lookup (tuple, name, (size_t) (end - name), err, errlen);
        if (!value)
            return -1;
        value_text->size = 0;
        if (cmdline_value_text (value_text, value))
            return s_no_memory (err, errlen);
        if (quote)
            s_shell_quote (out, value_text->data, value_text->size);
        else
            s_put (out, value_text->data, value_text->size);
        i = (size_t) (end - tpl);
    }
    return 0;
}

int
cmdline_add_template (cmdline_t *self, const msgpack_object *tuple,
                      const char *tpl, size_t len, bool quote, char *err, size_t errlen)
{
    if (s_start (self))
        return s_no_memory (err, errlen);
    if (s_expand (self, tuple, tpl, len, quote, err, errlen)) {
        self->bytes.size = self->offsets[--self->count];
        return -1;
    }
    return s_end (self, err, errlen);
}

int
cmdline_add_var (cmdline_t *self, const char *name, size_t name_len,
                 const msgpack_object *value, char *err, size_t errlen)
{
    if (!name_len || memchr (name, '=', name_len) || memchr (name, 0, name_len)) {
        snprintf (err, errlen, "variable names must be non-empty strings without '='");
        return -1;
    }
    if (s_start (self))
        return s_no_memory (err, errlen);
    s_put (&self->bytes, name, name_len);
    s_put (&self->bytes, "=", 1);
    if (cmdline_value_text (&self->bytes, value)) {
        self->bytes.size = self->offsets[--self->count];
        return s_no_memory (err, errlen);
    }
    return s_end (self, err, errlen);
}

size_t
cmdline_count (const cmdline_t *self)
{
    return self->count;
}

char **
cmdline_vector (cmdline_t *self)
{
    free (self->vector);
    self->vector = malloc ((self->count + 1) * sizeof (char *));
    if (!self->vector)
        return NULL;
    for (size_t i = 0; i < self->count; i++)
        self->vector[i] = self->bytes.data + self->offsets[i];
    self->vector[self->count] = NULL;
    return self->vector;
}
