//  validate.c -- see validate.h.  msgpack-c allocates a container's claimed count up
//  front, so a 5-byte value claiming 2^32 items would cost gigabytes before
//  it failed; walking the bytes first makes every decoder safe from that.
#include "proto/validate.h"

#include <stdint.h>

int
validate_msgpack (const void *bytes, size_t size)
{
    size_t used = 0;
    int rc = validate_msgpack_prefix (bytes, size, &used);
    return rc? rc: used == size? 0: 1;
}

int
validate_msgpack_prefix (const void *bytes, size_t size, size_t *used_p)
{
    const uint8_t *data = bytes;
    size_t off = 0;
    uint64_t pending = 1;           //  values still to read
    while (pending) {
        if (off >= size)
            return -1;
        uint8_t b = data[off++];
        uint64_t items = 0;         //  nested values this one holds
        size_t lenbytes = 0;        //  big-endian length follows, of this size
        size_t skip = 0;            //  fixed bytes after the type (and length)
        int kind = 0;               //  0 scalar, 1 array, 2 map
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
            ;
        else if (b <= 0x8f)
            items = 2u * (b & 0x0f);
        else if (b <= 0x9f)
            items = b & 0x0f;
        else if (b <= 0xbf)
            skip = b & 0x1f;
        else switch (b) {
            case 0xc4: case 0xd9: lenbytes = 1; break;
            case 0xc5: case 0xda: lenbytes = 2; break;
            case 0xc6: case 0xdb: lenbytes = 4; break;
            case 0xc7: lenbytes = 1; skip = 1; break;
            case 0xc8: lenbytes = 2; skip = 1; break;
            case 0xc9: lenbytes = 4; skip = 1; break;
            case 0xca: skip = 4; break;
            case 0xcb: skip = 8; break;
            case 0xcc: case 0xd0: skip = 1; break;
            case 0xcd: case 0xd1: skip = 2; break;
            case 0xce: case 0xd2: skip = 4; break;
            case 0xcf: case 0xd3: skip = 8; break;
            case 0xd4: skip = 2; break;
            case 0xd5: skip = 3; break;
            case 0xd6: skip = 5; break;
            case 0xd7: skip = 9; break;
            case 0xd8: skip = 17; break;
            case 0xdc: lenbytes = 2; kind = 1; break;
            case 0xdd: lenbytes = 4; kind = 1; break;
            case 0xde: lenbytes = 2; kind = 2; break;
            case 0xdf: lenbytes = 4; kind = 2; break;
            default: return -1;     //  0xc1, never used
        }
        if (lenbytes) {
            if (size - off < lenbytes)
                return -1;
            uint64_t n = 0;
            for (size_t i = 0; i < lenbytes; i++)
                n = (n << 8) | data[off++];
            if (kind == 0)
                skip += n;
            else
                items = kind == 2? 2 * n: n;
        }
        if (skip > size - off)
            return -1;
        off += skip;
        pending = pending - 1 + items;
        if (pending > size - off)
            return -1;
    }
    *used_p = off;
    return 0;
}

int
validate_msgpack_map (const void *bytes, size_t size)
{
    const uint8_t *data = bytes;
    //  A map starts with fixmap, map16 or map32.
    if (size == 0 || !((data[0] & 0xf0) == 0x80 || data[0] == 0xde || data[0] == 0xdf))
        return -1;
    return validate_msgpack (bytes, size) == 0? 0: -1;
}
