//  test_validate.c -- proto/validate.c: what it passes, msgpack-c unpacks
//  whole; what it refuses says why, nesting over MSG_MAX_DEPTH containers
//  apart from any other fault (PROTOCOL.md 7).
#include "proto/validate.h"
#include "proto/schema.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <string.h>

//  depth containers, one in the other; the innermost holds a nil, or is
//  empty.  Arrays, or maps with a nil key when maps is set.
static size_t
s_nest (uint8_t *out, int depth, bool maps, bool empty)
{
    size_t n = 0;
    for (int i = 0; i < depth; i++) {
        bool last = i == depth - 1;
        if (last && empty)
            out[n++] = maps? 0x80: 0x90;
        else
        if (maps) {
            out[n++] = 0x81;
            out[n++] = 0xc0;        //  key
        }
        else
            out[n++] = 0x91;
    }
    if (!empty)
        out[n++] = 0xc0;
    return n;
}

static bool
s_msgpack_whole (const uint8_t *data, size_t size)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    size_t off = 0;
    bool whole = msgpack_unpack_next (&unpacked, (const char *) data, size, &off)
                 == MSGPACK_UNPACK_SUCCESS && off == size;
    msgpack_unpacked_destroy (&unpacked);
    return whole;
}

Test (validate, nesting_to_the_limit_and_over)
{
    uint8_t bytes[200];
    for (int shape = 0; shape < 4; shape++) {
        bool maps = shape & 1, empty = shape & 2;
        size_t size = s_nest (bytes, MSG_MAX_DEPTH, maps, empty);
        cr_assert_eq (validate_msgpack (bytes, size), VALIDATE_OK, "shape %d", shape);
        cr_assert (s_msgpack_whole (bytes, size), "msgpack-c takes what we pass");
        size = s_nest (bytes, MSG_MAX_DEPTH + 1, maps, empty);
        cr_assert_eq (validate_msgpack (bytes, size), VALIDATE_TOO_DEEP, "shape %d", shape);
        cr_assert_not (s_msgpack_whole (bytes, size), "msgpack-c's own limit is ours");
    }
    //  The value: 100,000 nested arrays, refused as too deep, not
    //  as anything else.
    static uint8_t deep[100001];
    memset (deep, 0x91, 100000);
    deep[100000] = 0xc0;
    cr_assert_eq (validate_msgpack (deep, sizeof deep), VALIDATE_TOO_DEEP);
    cr_assert (strstr (validate_reason (VALIDATE_TOO_DEEP), "32"));
}

Test (validate, depth_is_per_path_not_per_value)
{
    //  [[...31 deep...], [...31 deep...]]: two paths, each within the limit.
    uint8_t bytes[200];
    size_t n = 0;
    bytes[n++] = 0x92;
    for (int i = 0; i < 2; i++)
        n += s_nest (bytes + n, MSG_MAX_DEPTH - 1, false, false);
    cr_assert_eq (validate_msgpack (bytes, n), VALIDATE_OK);
    //  A map's values count a level; its keys too.
    uint8_t key_deep[100];
    n = 0;
    key_deep[n++] = 0x81;
    n += s_nest (key_deep + n, MSG_MAX_DEPTH, false, false);    //  the key
    key_deep[n++] = 0xc0;
    cr_assert_eq (validate_msgpack (key_deep, n), VALIDATE_TOO_DEEP);
}

Test (validate, malformed_trailing_and_claims)
{
    cr_assert_eq (validate_msgpack ("\xc0", 1), VALIDATE_OK);
    cr_assert_eq (validate_msgpack ("\xc0\xc0", 2), VALIDATE_TRAILING);
    cr_assert_eq (validate_msgpack ("", 0), VALIDATE_MALFORMED);
    cr_assert_eq (validate_msgpack ("\xc1", 1), VALIDATE_MALFORMED);
    cr_assert_eq (validate_msgpack ("\x92\xc0", 2), VALIDATE_MALFORMED);
    //  Claims more items than bytes follow: 67 million over 16 bytes.
    static const char claims[] = "\xdd\x03\xff\xff\xfb"
                                 "\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0";
    cr_assert_eq (validate_msgpack (claims, sizeof claims - 1), VALIDATE_MALFORMED);
    cr_assert_eq (validate_msgpack ("\xdf\xff\xff\xff\xff\xc0\xc0", 7), VALIDATE_MALFORMED);
    cr_assert_eq (validate_msgpack ("\xdb\xff\xff\xff\xff" "ab", 7), VALIDATE_MALFORMED);
    //  Maps only, for headers and options.
    cr_assert_eq (validate_msgpack_map ("\x80", 1), VALIDATE_OK);
    cr_assert_eq (validate_msgpack_map ("\x90", 1), VALIDATE_MALFORMED);
    cr_assert_eq (validate_msgpack_map ("\x80\x80", 2), VALIDATE_TRAILING);
    for (int result = VALIDATE_TOO_DEEP; result <= VALIDATE_TRAILING; result++)
        cr_assert (*validate_reason (result));
}
