//  tuple_peek.c -- a bounds-checked msgpack reader that only skips and
//  peeks (tuple_peek.h).  Skipping a value with nested containers needs
//  no stack: a container's items are just added to the count of values
//  still to skip.
#include "spec/tuple_peek.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

typedef struct {
    const uint8_t *at, *end;
} reader_t;

//  What a value's head says: its kind, the bytes of its body or the
//  number of items it holds.
typedef enum { HEAD_SCALAR, HEAD_STR, HEAD_ARRAY, HEAD_MAP } head_kind_t;

typedef struct {
    head_kind_t kind;
    uint64_t length;            //  body bytes (scalars, str, bin, ext); items
    const uint8_t *body;        //  HEAD_STR: the string
    uint8_t byte;               //  the first byte
} head_t;

static bool
s_take (reader_t *reader, size_t count, uint64_t *value)
{
    if ((size_t) (reader->end - reader->at) < count)
        return false;
    uint64_t result = 0;
    for (size_t i = 0; i < count; i++)
        result = result << 8 | *reader->at++;
    *value = result;
    return true;
}

//  Read a value's head; the body (length bytes) is next.  false if the
//  bytes end first or the byte is never used (0xc1).
static bool
s_head (reader_t *reader, head_t *head)
{
    if (reader->at >= reader->end)
        return false;
    uint8_t byte = *reader->at++;
    head->byte = byte;
    head->kind = HEAD_SCALAR;
    head->length = 0;
    static const uint8_t fixed[] = { [0xc2] = 0, [0xca] = 4, [0xcb] = 8, [0xcc] = 1,
        [0xcd] = 2, [0xce] = 4, [0xcf] = 8, [0xd0] = 1, [0xd1] = 2, [0xd2] = 4, [0xd3] = 8,
        [0xd4] = 2, [0xd5] = 3, [0xd6] = 5, [0xd7] = 9, [0xd8] = 17 };
    uint64_t size;
    if (byte <= 0x7f || byte >= 0xe0 || byte == 0xc0 || byte == 0xc2 || byte == 0xc3)
        return true;
    if (byte >= 0x80 && byte <= 0x8f)
        return head->kind = HEAD_MAP, head->length = byte & 0x0f, true;
    if (byte >= 0x90 && byte <= 0x9f)
        return head->kind = HEAD_ARRAY, head->length = byte & 0x0f, true;
    if (byte >= 0xa0 && byte <= 0xbf)
        head->kind = HEAD_STR, head->length = byte & 0x1f;
    else if (byte >= 0xca && byte <= 0xd8)
        head->length = fixed[byte];
    else if (byte == 0xd9 || byte == 0xda || byte == 0xdb) {
        if (!s_take (reader, (size_t) 1 << (byte - 0xd9), &size))
            return false;
        head->kind = HEAD_STR, head->length = size;
    }
    else if (byte >= 0xc4 && byte <= 0xc9) {    //  bin 8/16/32, ext 8/16/32
        unsigned index = byte <= 0xc6? byte - 0xc4u: byte - 0xc7u;
        if (!s_take (reader, (size_t) 1 << index, &size))
            return false;
        head->length = size + (byte >= 0xc7);   //  ext: and its type byte
    }
    else if (byte == 0xdc || byte == 0xdd || byte == 0xde || byte == 0xdf) {
        if (!s_take (reader, byte == 0xdc || byte == 0xde? 2: 4, &size))
            return false;
        head->kind = byte <= 0xdd? HEAD_ARRAY: HEAD_MAP;
        head->length = size;
        return true;
    }
    else
        return false;               //  0xc1
    if ((uint64_t) (reader->end - reader->at) < head->length)
        return false;
    head->body = reader->at;
    return true;
}

//  Skip count values, containers and all.
static bool
s_skip (reader_t *reader, uint64_t count)
{
    while (count > 0) {
        head_t head;
        if (!s_head (reader, &head))
            return false;
        count--;
        if (head.kind == HEAD_ARRAY || head.kind == HEAD_MAP) {
            uint64_t items = head.kind == HEAD_MAP? head.length * 2: head.length;
            //  Each item takes a byte at least: more than the bytes left
            //  is a lie, and would only make the count overflow.
            if (items > (uint64_t) (reader->end - reader->at))
                return false;
            count += items;
        }
        else
            reader->at += head.length;
    }
    return true;
}

//  One whole value's bytes, moving past it.
static bool
s_value (reader_t *reader, const uint8_t **start, size_t *size)
{
    *start = reader->at;
    if (!s_skip (reader, 1))
        return false;
    *size = (size_t) (reader->at - *start);
    return true;
}

//  The item of a container: index in an array, or the value of key in a
//  map.  On success reader is at that value.
static bool
s_find (reader_t *reader, uint32_t index, const char *key)
{
    head_t head;
    if (!s_head (reader, &head))
        return false;
    if (head.kind == HEAD_ARRAY)
        return index < head.length && s_skip (reader, index);
    if (head.kind != HEAD_MAP || !key)
        return false;
    size_t key_len = strlen (key);
    for (uint64_t i = 0; i < head.length; i++) {
        const uint8_t *start = reader->at;
        head_t name;
        if (!s_head (reader, &name))
            return false;
        bool match = name.kind == HEAD_STR && name.length == key_len
                  && !memcmp (name.body, key, key_len);
        reader->at = start;
        if (!s_skip (reader, 1))
            return false;
        if (match)
            return true;
        if (!s_skip (reader, 1))
            return false;
    }
    return false;
}

int
tuple_peek_element (const void *data, size_t size, uint32_t index, const char *key,
                    const void **element, size_t *element_size)
{
    reader_t reader = { data, (const uint8_t *) data + size };
    const uint8_t *start;
    if (!s_find (&reader, index, key) || !s_value (&reader, &start, element_size))
        return -1;
    *element = start;
    return 0;
}

//  A port: an integer, or an integral float, from 1 to 65535; else 0.
static uint16_t
s_port (const uint8_t *bytes, size_t size)
{
    reader_t reader = { bytes, bytes + size };
    head_t head;
    if (!s_head (&reader, &head) || head.kind != HEAD_SCALAR)
        return 0;
    uint8_t byte = head.byte;
    double number = -1;
    uint64_t bits = 0;
    if (byte <= 0x7f)
        number = byte;
    else if (byte >= 0xcc && byte <= 0xcf && s_take (&reader, head.length, &bits))
        number = (double) bits;
    else if (byte >= 0xd0 && byte <= 0xd3 && s_take (&reader, head.length, &bits)) {
        unsigned shift = 64 - 8 * (unsigned) head.length;
        number = (double) ((int64_t) (bits << shift) >> shift);
    }
    else if (byte == 0xcb && s_take (&reader, 8, &bits))
        memcpy (&number, &bits, sizeof number);
    else if (byte == 0xca && s_take (&reader, 4, &bits)) {
        uint32_t narrow = (uint32_t) bits;
        float single;
        memcpy (&single, &narrow, sizeof single);
        number = single;
    }
    return number >= 1 && number <= 65535 && number == floor (number)? (uint16_t) number: 0;
}

int
tuple_peek_target (const void *data, size_t size, tuple_target_t *out)
{
    const void *host, *port;
    size_t host_size, port_size;
    bool map = size > 0 && ((*(const uint8_t *) data & 0xf0) == 0x80
                         || *(const uint8_t *) data == 0xde || *(const uint8_t *) data == 0xdf);
    if (tuple_peek_element (data, size, 0, map? "host": NULL, &host, &host_size))
        return -1;
    reader_t reader = { host, (const uint8_t *) host + host_size };
    head_t head;
    if (!s_head (&reader, &head) || head.kind != HEAD_STR || head.length == 0)
        return -1;
    out->host = (const char *) head.body;
    out->host_len = head.length;
    out->port = tuple_peek_element (data, size, 1, map? "port": NULL, &port, &port_size) == 0
              ? s_port (port, port_size): 0;
    return 0;
}
