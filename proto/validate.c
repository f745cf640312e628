//  validate.c -- see validate.h.  msgpack-c allocates a container's claimed
//  count up front, so a 5-byte value claiming 2^32 items would cost
//  gigabytes before it failed; and its parser gives up past 32 open
//  containers with an "out of memory" error.  Walking the bytes first,
//  with a stack of bounded depth, makes every decoder safe from both and
//  lets it name the real fault.
#include "proto/validate.h"
#include "proto/schema.h"

#include <stdbool.h>
#include <stdint.h>

#define S_TEXT(x)  #x
#define S_VALUE(x) S_TEXT (x)

//  The type byte at data[off - 1]: how many nested values the value holds
//  (items), how many bytes of big-endian length follow (lenbytes), and how
//  many fixed bytes come after those (skip).  kind: 0 scalar, 1 array, 2
//  map.  -1 for 0xc1, which msgpack never uses.
static int
s_type (uint8_t b, uint64_t *items, size_t *lenbytes, size_t *skip, int *kind)
{
    *items = 0;
    *lenbytes = *skip = 0;
    *kind = 0;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return 0;
    if (b <= 0x8f) {
        *items = 2u * (b & 0x0f);
        *kind = 2;
        return 0;
    }
    if (b <= 0x9f) {
        *items = b & 0x0f;
        *kind = 1;
        return 0;
    }
    if (b <= 0xbf) {
        *skip = b & 0x1f;
        return 0;
    }
    switch (b) {
        case 0xc4: case 0xd9: *lenbytes = 1; break;
        case 0xc5: case 0xda: *lenbytes = 2; break;
        case 0xc6: case 0xdb: *lenbytes = 4; break;
        case 0xc7: *lenbytes = 1; *skip = 1; break;
        case 0xc8: *lenbytes = 2; *skip = 1; break;
        case 0xc9: *lenbytes = 4; *skip = 1; break;
        case 0xca: *skip = 4; break;
        case 0xcb: *skip = 8; break;
        case 0xcc: case 0xd0: *skip = 1; break;
        case 0xcd: case 0xd1: *skip = 2; break;
        case 0xce: case 0xd2: *skip = 4; break;
        case 0xcf: case 0xd3: *skip = 8; break;
        case 0xd4: *skip = 2; break;
        case 0xd5: *skip = 3; break;
        case 0xd6: *skip = 5; break;
        case 0xd7: *skip = 9; break;
        case 0xd8: *skip = 17; break;
        case 0xdc: *lenbytes = 2; *kind = 1; break;
        case 0xdd: *lenbytes = 4; *kind = 1; break;
        case 0xde: *lenbytes = 2; *kind = 2; break;
        case 0xdf: *lenbytes = 4; *kind = 2; break;
        default: return -1;     //  0xc1
    }
    return 0;
}

int
validate_msgpack (const void *bytes, size_t size)
{
    size_t used = 0;
    int rc = validate_msgpack_prefix (bytes, size, &used);
    return rc? rc: used == size? VALIDATE_OK: VALIDATE_TRAILING;
}

//  The walk: refuse nesting over max (at most MSG_MAX_DEPTH: a stack of
//  that depth); with max 0, keep no stack and step over any depth.
static int
s_walk (const uint8_t *data, size_t size, size_t *used_p, size_t max)
{
    bool bounded = max > 0;
    size_t off = 0;
    uint64_t pending = 1;           //  values still to read, at every level
    uint64_t left[MSG_MAX_DEPTH];   //  items still to read per open container
    size_t depth = 0;               //  containers open
    while (pending) {
        if (off >= size)
            return VALIDATE_MALFORMED;
        uint64_t items;
        size_t lenbytes, skip;
        int kind;
        if (s_type (data[off++], &items, &lenbytes, &skip, &kind))
            return VALIDATE_MALFORMED;
        if (lenbytes) {
            if (size - off < lenbytes)
                return VALIDATE_MALFORMED;
            uint64_t n = 0;
            for (size_t i = 0; i < lenbytes; i++)
                n = (n << 8) | data[off++];
            if (kind == 0)
                skip += n;
            else
                items = kind == 2? 2 * n: n;
        }
        if (skip > size - off)
            return VALIDATE_MALFORMED;
        off += skip;
        pending = pending - 1 + items;
        if (pending > size - off)
            return VALIDATE_MALFORMED;
        if (!bounded)
            continue;
        //  An empty container counts as a level too, as msgpack-c counts it.
        if (kind && depth == max)
            return VALIDATE_TOO_DEEP;
        if (items) {
            left[depth++] = items;
            continue;
        }
        //  A value ended: so may the containers it closes.
        while (depth && --left[depth - 1] == 0)
            depth--;
    }
    *used_p = off;
    return VALIDATE_OK;
}

int
validate_msgpack_prefix (const void *bytes, size_t size, size_t *used_p)
{
    return s_walk (bytes, size, used_p, MSG_MAX_DEPTH);
}

int
validate_msgpack_within (const void *bytes, size_t size, size_t depth, size_t *used_p)
{
    if (depth == 0 || depth > MSG_MAX_DEPTH)
        depth = MSG_MAX_DEPTH;
    return s_walk (bytes, size, used_p, depth);
}

int
validate_msgpack_skip (const void *bytes, size_t size, size_t *used_p)
{
    return s_walk (bytes, size, used_p, 0);
}

int
validate_msgpack_map (const void *bytes, size_t size)
{
    const uint8_t *data = bytes;
    //  A map starts with fixmap, map16 or map32.
    if (size == 0 || !((data[0] & 0xf0) == 0x80 || data[0] == 0xde || data[0] == 0xdf))
        return VALIDATE_MALFORMED;
    return validate_msgpack (bytes, size);
}

const char *
validate_reason (int result)
{
    switch (result) {
        case VALIDATE_OK:        return "one msgpack value";
        case VALIDATE_TRAILING:  return "bytes after the msgpack value";
        case VALIDATE_TOO_DEEP:  return "msgpack nested over " S_VALUE (MSG_MAX_DEPTH)
                                        " containers deep";
        default:                 return "not one well-formed msgpack value";
    }
}
