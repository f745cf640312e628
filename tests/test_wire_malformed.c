//  test_wire_malformed.c -- the codec (proto/wire.c) against malformed
//  input: each class of damage PROTOCOL.md names (sections 3, 5 and 7)
//  gets its own error code, unknown keys are ignored, and limits hold at
//  the byte.
#include "proto/wire.h"

#include "support_wire.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Decode [signature, command, header from hex, payloads x "t"]; NULL
//  signature or command leaves that frame (and the ones after) out.
static int
s_try (const char *signature, const char *command, const char *header, int payloads)
{
    zmsg_t *zmsg = zmsg_new ();
    if (signature)
        zmsg_addstr (zmsg, signature);
    if (signature && command)
        zmsg_addstr (zmsg, command);
    if (signature && command && header) {
        zframe_t *frame = support_hex (header);
        zmsg_append (zmsg, &frame);
        for (int i = 0; i < payloads; i++)
            zmsg_addstr (zmsg, "t");
    }
    return support_decode (zmsg, NULL);
}

//  Headers used below, as msgpack hex.
#define H_STATUS  "81 a3 6a6f62 a1 61"                  //  {"job": "a"}
#define H_HELLO   "82 a5 6167656e74 a1 61 a5 736c6f7473 05"   //  {"agent": "a", "slots": 5}

Test (wire, bad_signature_and_version)
{
    cr_assert_eq (s_try ("DRV1", "STATUS", H_STATUS, 0), 0);
    cr_assert_eq (s_try ("DRV9", "STATUS", H_STATUS, 0), -DRV_E_BAD_VERSION);
    cr_assert_eq (s_try ("DRV0", "STATUS", H_STATUS, 0), -DRV_E_BAD_VERSION);
    cr_assert_eq (s_try ("DRV", "STATUS", H_STATUS, 0), -DRV_E_BAD_FRAMES);
    cr_assert_eq (s_try ("DRV12", "STATUS", H_STATUS, 0), -DRV_E_BAD_FRAMES);
    cr_assert_eq (s_try ("DRVx", "STATUS", H_STATUS, 0), -DRV_E_BAD_FRAMES);
    cr_assert_eq (s_try ("drv1", "STATUS", H_STATUS, 0), -DRV_E_BAD_FRAMES);
    cr_assert_eq (s_try ("", "STATUS", H_STATUS, 0), -DRV_E_BAD_FRAMES);
    //  A message that forgot the signature: the command lands in frame 0.
    cr_assert_eq (s_try ("STATUS", H_STATUS, NULL, 0), -DRV_E_BAD_FRAMES);
    cr_assert_eq (s_try (NULL, NULL, NULL, 0), -DRV_E_BAD_FRAMES);
    zmsg_t *none = NULL;
    msg_t *msg = NULL;
    cr_assert_eq (wire_decode (&none, &msg), -DRV_E_BAD_FRAMES);
    cr_assert_eq (wire_decode (NULL, &msg), -DRV_E_BAD_FRAMES);
}

Test (wire, missing_frames_and_unknown_command)
{
    cr_assert_eq (s_try ("DRV1", NULL, NULL, 0), -DRV_E_BAD_FRAMES);
    cr_assert_eq (s_try ("DRV1", "STATUS", NULL, 0), -DRV_E_BAD_FRAMES);
    cr_assert_eq (s_try ("DRV1", "FROB", H_STATUS, 0), -DRV_E_UNKNOWN_COMMAND);
    cr_assert_eq (s_try ("DRV1", "status", H_STATUS, 0), -DRV_E_UNKNOWN_COMMAND);
    cr_assert_eq (s_try ("DRV1", "STATU", H_STATUS, 0), -DRV_E_UNKNOWN_COMMAND);
    cr_assert_eq (s_try ("DRV1", "STATUSX", H_STATUS, 0), -DRV_E_UNKNOWN_COMMAND);
    cr_assert_eq (s_try ("DRV1", "", H_STATUS, 0), -DRV_E_UNKNOWN_COMMAND);
    //  An unknown command is reported even when its header is missing.
    cr_assert_eq (s_try ("DRV1", "FROB", NULL, 0), -DRV_E_UNKNOWN_COMMAND);
}

Test (wire, bad_header)
{
    cr_assert_eq (s_try ("DRV1", "HEARTBEAT", "80", 0), 0);
    cr_assert_eq (s_try ("DRV1", "HEARTBEAT", "", 0), -DRV_E_BAD_HEADER);
    //  Not msgpack (JSON text), truncated, not a map, non-str key, trailing bytes.
    cr_assert_eq (s_try ("DRV1", "STATUS", "7b226a6f62223a2261227d", 0), -DRV_E_BAD_HEADER);
    cr_assert_eq (s_try ("DRV1", "STATUS", "81 a3 6a6f62 a1", 0), -DRV_E_BAD_HEADER);
    cr_assert_eq (s_try ("DRV1", "STATUS", "81 a3 6a6f62", 0), -DRV_E_BAD_HEADER);
    cr_assert_eq (s_try ("DRV1", "STATUS", "81", 0), -DRV_E_BAD_HEADER);
    cr_assert_eq (s_try ("DRV1", "STATUS", "92 a3 6a6f62 a1 61", 0), -DRV_E_BAD_HEADER);
    cr_assert_eq (s_try ("DRV1", "STATUS", "a3 6a6f62", 0), -DRV_E_BAD_HEADER);
    cr_assert_eq (s_try ("DRV1", "STATUS", "c0", 0), -DRV_E_BAD_HEADER);
    cr_assert_eq (s_try ("DRV1", "STATUS", "82 a3 6a6f62 a1 61 01 02", 0), -DRV_E_BAD_HEADER);
    cr_assert_eq (s_try ("DRV1", "STATUS", "82 a3 6a6f62 a1 61 c4 01 6a 02", 0), -DRV_E_BAD_HEADER);
    cr_assert_eq (s_try ("DRV1", "STATUS", H_STATUS " 80", 0), -DRV_E_BAD_HEADER);
    cr_assert_eq (s_try ("DRV1", "STATUS", H_STATUS " 00", 0), -DRV_E_BAD_HEADER);
    cr_assert_eq (s_try ("DRV1", "STATUS", "c1", 0), -DRV_E_BAD_HEADER);
    //  Claims of huge containers in a few bytes are refused before any
    //  allocation (map32 of 2^32-1 pairs, array32 inside a map).
    cr_assert_eq (s_try ("DRV1", "STATUS", "df ffffffff", 0), -DRV_E_BAD_HEADER);
    cr_assert_eq (s_try ("DRV1", "STATUS", "81 a1 78 dd 7fffffff", 0), -DRV_E_BAD_HEADER);
    cr_assert_eq (s_try ("DRV1", "STATUS", "81 a1 78 db ffffffff", 0), -DRV_E_BAD_HEADER);
    //  A known key twice is ambiguous: refused rather than guessed.
    cr_assert_eq (s_try ("DRV1", "STATUS", "82 a3 6a6f62 a1 61 a3 6a6f62 a1 62", 0),
                  -DRV_E_BAD_HEADER);
}

Test (wire, unknown_keys_are_ignored)
{
    //  {"job": "a", "zz": [nil, {}], "slots": "not-for-status", "x": 1.5}
    msg_t *msg;
    zmsg_t *zmsg = zmsg_new ();
    zmsg_addstr (zmsg, "DRV1");
    zmsg_addstr (zmsg, "STATUS");
    zframe_t *frame = support_hex ("84 a3 6a6f62 a1 61 a2 7a7a 92 c0 80 a5 736c6f7473 a1 78"
                             " a1 78 cb 3ff8000000000000");
    zmsg_append (zmsg, &frame);
    cr_assert_eq (support_decode (zmsg, &msg), 0);
    cr_assert_str_eq (msg_str (msg, MSG_F_JOB), "a");
    cr_assert_not (msg_has (msg, MSG_F_SLOTS));
    msg_destroy (&msg);
    //  An unknown key may repeat; it is not ours to judge.
    cr_assert_eq (s_try ("DRV1", "STATUS", "83 a3 6a6f62 a1 61 a1 78 01 a1 78 02", 0), 0);
}

Test (wire, deep_nesting_is_refused)
{
    //  {"job": "a", "x": [[[...]]]} nested 1000 deep: msgpack-c's parse
    //  stack is 32 levels; deeper is BAD_HEADER, never a stack overflow.
    uint8_t header[1100];
    const uint8_t head[] = { 0x82, 0xa3, 'j', 'o', 'b', 0xa1, 'a', 0xa1, 'x' };
    memcpy (header, head, sizeof head);
    memset (header + sizeof head, 0x91, 1000);
    header[sizeof head + 1000] = 0xc0;
    zmsg_t *zmsg = zmsg_new ();
    zmsg_addstr (zmsg, "DRV1");
    zmsg_addstr (zmsg, "STATUS");
    zmsg_addmem (zmsg, header, sizeof head + 1001);
    cr_assert_eq (support_decode (zmsg, NULL), -DRV_E_BAD_HEADER);
}

Test (wire, options_are_kept_as_an_equal_map)
{
    //  SUBMIT {"job": "a", "options": map16 {"n": uint64 7}}: the decoder
    //  hands back the same map, packed in the shortest form.
    msg_t *msg;
    zmsg_t *zmsg = zmsg_new ();
    zmsg_addstr (zmsg, "DRV1");
    zmsg_addstr (zmsg, "SUBMIT");
    zframe_t *frame = support_hex ("82 a3 6a6f62 a1 61 a7 6f7074696f6e73 de 0001 a1 6e"
                             " cf 0000000000000007");
    zmsg_append (zmsg, &frame);
    cr_assert_eq (support_decode (zmsg, &msg), 0);
    size_t size;
    const uint8_t *raw = msg_raw (msg, MSG_F_OPTIONS, &size);
    const uint8_t expect[] = { 0x81, 0xa1, 'n', 0x07 };
    cr_assert_eq (size, sizeof expect);
    cr_assert (memcmp (raw, expect, size) == 0);
    msg_destroy (&msg);
}

Test (wire, header_size_limit)
{
    //  {"job": "a", "pad": <str8/16 of n bytes>} sized to exactly the limit,
    //  then one byte over.
    for (int over = 0; over <= 1; over++) {
        size_t size = MSG_MAX_HEADER + (size_t) over;
        uint8_t *header = malloc (size);
        const uint8_t head[] = { 0x82, 0xa3, 'j', 'o', 'b', 0xa1, 'a', 0xa3, 'p', 'a', 'd', 0xda };
        memcpy (header, head, sizeof head);
        size_t pad = size - sizeof head - 2;
        header[sizeof head] = (uint8_t) (pad >> 8);
        header[sizeof head + 1] = (uint8_t) pad;
        memset (header + sizeof head + 2, 'p', pad);
        zmsg_t *zmsg = zmsg_new ();
        zmsg_addstr (zmsg, "DRV1");
        zmsg_addstr (zmsg, "STATUS");
        zmsg_addmem (zmsg, header, size);
        free (header);
        cr_assert_eq (support_decode (zmsg, NULL), over? -DRV_E_TOO_LARGE: 0, "size %zu", size);
    }
}

Test (wire, wrong_types)
{
    //  str where uint belongs, and uint where str belongs.
    cr_assert_eq (s_try ("DRV1", "HELLO", "82 a5 6167656e74 a1 61 a5 736c6f7473 a1 35", 0),
                  -DRV_E_BAD_TYPE);
    cr_assert_eq (s_try ("DRV1", "HELLO", "82 a5 6167656e74 07 a5 736c6f7473 05", 0),
                  -DRV_E_BAD_TYPE);
    //  bin is not str; a str with a NUL cannot become a C string.
    cr_assert_eq (s_try ("DRV1", "STATUS", "81 a3 6a6f62 c4 01 61", 0), -DRV_E_BAD_TYPE);
    cr_assert_eq (s_try ("DRV1", "STATUS", "81 a3 6a6f62 a2 6100", 0), -DRV_E_BAD_TYPE);
    //  Negative ints, floats, nil and bools are not uints; any width of a
    //  non-negative int is (int8 0x05, uint64).
    const char *slots[] = { "ff", "d0 fb", "d3 ffffffffffffffff", "ca 40a00000", "c0", "c3" };
    for (size_t i = 0; i < sizeof slots / sizeof *slots; i++) {
        char header[128];
        snprintf (header, sizeof header, "82 a5 6167656e74 a1 61 a5 736c6f7473 %s", slots[i]);
        cr_assert_eq (s_try ("DRV1", "HELLO", header, 0), -DRV_E_BAD_TYPE, "slots %s", slots[i]);
    }
    cr_assert_eq (s_try ("DRV1", "HELLO", "82 a5 6167656e74 a1 61 a5 736c6f7473 d0 05", 0), 0);
    cr_assert_eq (s_try ("DRV1", "HELLO",
                         "82 a5 6167656e74 a1 61 a5 736c6f7473 cf ffffffffffffffff", 0), 0);
    //  bool: 1 is not true.  map: an array is not a map.
    cr_assert_eq (s_try ("DRV1", "SUBMIT", "82 a3 6a6f62 a1 61 a5 636c6f7365 01", 0),
                  -DRV_E_BAD_TYPE);
    cr_assert_eq (s_try ("DRV1", "SUBMIT", "82 a3 6a6f62 a1 61 a7 6f7074696f6e73 90", 0),
                  -DRV_E_BAD_TYPE);
}

//  DONE {"job": "a", "tuples": <refs>}
static int
s_try_refs (const char *refs)
{
    char header[256];
    snprintf (header, sizeof header, "82 a3 6a6f62 a1 61 a6 7475706c6573 %s", refs);
    return s_try ("DRV1", "DONE", header, 0);
}

Test (wire, malformed_refs)
{
    cr_assert_eq (s_try_refs ("90"), 0);
    cr_assert_eq (s_try_refs ("92 92 01 01 92 cf 0000000100000000 ce ffffffff"), 0);
    cr_assert_eq (s_try_refs ("01"), -DRV_E_BAD_TYPE);              //  not an array
    cr_assert_eq (s_try_refs ("80"), -DRV_E_BAD_TYPE);
    cr_assert_eq (s_try_refs ("92 01 01"), -DRV_E_BAD_TYPE);        //  flat, not pairs
    cr_assert_eq (s_try_refs ("91 91 01"), -DRV_E_BAD_TYPE);        //  pair of one
    cr_assert_eq (s_try_refs ("91 93 01 01 01"), -DRV_E_BAD_TYPE);  //  pair of three
    cr_assert_eq (s_try_refs ("91 92 a1 31 01"), -DRV_E_BAD_TYPE);  //  id a str
    cr_assert_eq (s_try_refs ("91 92 01 ff"), -DRV_E_BAD_TYPE);     //  attempt -1
    cr_assert_eq (s_try_refs ("91 92 01 cf 0000000100000000"), -DRV_E_BAD_TYPE); //  > uint32
    cr_assert_eq (s_try_refs ("92 92 01 01 c0"), -DRV_E_BAD_TYPE);  //  second not a pair

    msg_t *msg;
    zmsg_t *zmsg = zmsg_new ();
    zmsg_addstr (zmsg, "DRV1");
    zmsg_addstr (zmsg, "DONE");
    zframe_t *frame = support_hex ("83 a3 6a6f62 a1 61 a6 7475706c6573 92 92 01 01 92 cf"
                             " 0000000100000000 ce ffffffff a4 64656164 90");
    zmsg_append (zmsg, &frame);
    cr_assert_eq (support_decode (zmsg, &msg), 0);
    size_t count;
    const msg_ref_t *refs = msg_refs (msg, MSG_F_TUPLES, &count);
    cr_assert_eq (count, 2);
    cr_assert_eq (refs[1].id, 1ULL << 32);
    cr_assert_eq (refs[1].attempt, UINT32_MAX);
    cr_assert (msg_has (msg, MSG_F_DEAD));
    msg_refs (msg, MSG_F_DEAD, &count);
    cr_assert_eq (count, 0);
    msg_destroy (&msg);
}

Test (wire, too_many_refs_and_payloads)
{
    //  More refs than MSG_MAX_REFS cannot fit in a header under the header
    //  limit either: the decoder says TOO_LARGE whichever it sees first.
    size_t count = MSG_MAX_REFS + 1;
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 2);
    msgpack_pack_str_with_body (&pk, "job", 3);
    msgpack_pack_str_with_body (&pk, "a", 1);
    msgpack_pack_str_with_body (&pk, "tuples", 6);
    msgpack_pack_array (&pk, count);
    for (size_t i = 0; i < count; i++) {
        msgpack_pack_array (&pk, 2);
        msgpack_pack_uint64 (&pk, 1);
        msgpack_pack_uint64 (&pk, 1);
    }
    zmsg_t *zmsg = zmsg_new ();
    zmsg_addstr (zmsg, "DRV1");
    zmsg_addstr (zmsg, "DONE");
    zmsg_addmem (zmsg, sbuf.data, sbuf.size);
    msgpack_sbuffer_destroy (&sbuf);
    cr_assert_eq (support_decode (zmsg, NULL), -DRV_E_TOO_LARGE);

    //  A SUBMIT may carry MSG_MAX_PAYLOADS tuples, not one more.
    for (int over = 0; over <= 1; over++) {
        zmsg = zmsg_new ();
        zmsg_addstr (zmsg, "DRV1");
        zmsg_addstr (zmsg, "SUBMIT");
        zframe_t *frame = support_hex (H_STATUS);
        zmsg_append (zmsg, &frame);
        for (int i = 0; i < MSG_MAX_PAYLOADS + over; i++)
            zmsg_addmem (zmsg, "t", 1);
        msg_t *msg;
        cr_assert_eq (support_decode (zmsg, &msg), over? -DRV_E_TOO_LARGE: 0);
        if (!over)
            cr_assert_eq (msg_tuple_count (msg), MSG_MAX_PAYLOADS);
        msg_destroy (&msg);
    }
}

Test (wire, wrong_payload_count)
{
    //  WORK {"job", "handler", "sink", "tuples": [[1,1],[2,1]]}: two frames.
    const char *work = "84 a3 6a6f62 a1 61 a7 68616e646c6572 a1 68 a4 73696e6b a1 73"
                       " a6 7475706c6573 92 92 01 01 92 02 01";
    cr_assert_eq (s_try ("DRV1", "WORK", work, 2), 0);
    cr_assert_eq (s_try ("DRV1", "WORK", work, 1), -DRV_E_BAD_FRAMES);
    cr_assert_eq (s_try ("DRV1", "WORK", work, 3), -DRV_E_BAD_FRAMES);
    cr_assert_eq (s_try ("DRV1", "WORK", work, 0), -DRV_E_BAD_FRAMES);
    const char *result = "83 a3 6a6f62 a1 61 a5 6167656e74 a1 61 a6 7475706c6573 91 92 01 01";
    cr_assert_eq (s_try ("DRV1", "RESULT", result, 1), 0);
    cr_assert_eq (s_try ("DRV1", "RESULT", result, 0), -DRV_E_BAD_FRAMES);
    cr_assert_eq (s_try ("DRV1", "RESULT", result, 2), -DRV_E_BAD_FRAMES);
    cr_assert_eq (s_try ("DRV1", "HELLO", H_HELLO, 0), 0);
    cr_assert_eq (s_try ("DRV1", "HELLO", H_HELLO, 1), -DRV_E_BAD_FRAMES);
    cr_assert_eq (s_try ("DRV1", "HEARTBEAT", "80", 1), -DRV_E_BAD_FRAMES);
    cr_assert_eq (s_try ("DRV1", "SUBMIT", H_STATUS, 0), 0);
}

Test (wire, empty_payload_frame)
{
    //  An empty tuple frame is no tuple (and empty frames stay delimiters).
    zmsg_t *zmsg = zmsg_new ();
    zmsg_addstr (zmsg, "DRV1");
    zmsg_addstr (zmsg, "SUBMIT");
    zmsg_addmem (zmsg, "\x81\xa3job\xa1j", 7);
    zmsg_addmem (zmsg, "\x91\x01", 2);
    zmsg_addmem (zmsg, "", 0);
    zmsg_addmem (zmsg, "\x91\x02", 2);
    cr_assert_eq (support_decode (zmsg, NULL), -DRV_E_BAD_FRAMES);
}
