//  fuzz_msg.c -- libFuzzer target for the protocol codec (proto/wire.c): what
//  wire_recv does with a message off a socket, as a DEALER/PULL peer
//  (wire_decode) and as a ROUTER (wire_envelope_split, then wire_decode);
//  with each frame checked as a msgpack value (validate_msgpack against
//  msgpack-c) and as a peer's string for a log line (peerlog_mem).
//  The input is the message's frames joined by a separator (frames.h).
//
//  Besides "no crash, no leak", it checks what the codec promises: a failed
//  decode returns one of the DRV_E_* codes and no message; a decoded message
//  keeps its command's payload rule and its version's limits (runs; a
//  version 2 tuple is exactly one msgpack value, the packed frame exactly
//  its tuples); decode is a fixed point of encode (decoding what wire_encode
//  made succeeds and encodes to the same frames); a message decoded in one
//  version means the same in the other (encoded in it, decoded, and encoded
//  back, it gives the same frames); the envelope follows PROTOCOL.md 3.1
//  and its bound; what validate_msgpack passes msgpack-c unpacks whole; an
//  escaped string holds no control character and only valid UTF-8.
//  Payload pop, append, packed tuples taken out and set again, and destroy
//  run on every decoded message too.
#include "proto/msg.h"
#include "proto/validate.h"
#include "proto/wire.h"
#include "common/peerlog.h"
#include "common/utf8.h"

#include "fuzz/frames.h"

#include <msgpack.h>

//  A refs field: its runs within the limits, their expansion the refs.
static size_t
s_touch_runs (msg_t *msg, msg_field_t field)
{
    size_t runs_count = 0, count = 0, total = 0;
    const msg_run_t *runs = msg_runs (msg, field, &runs_count);
    const msg_ref_t *refs = msg_refs (msg, field, &count);
    FUZZ_CHECK (runs_count <= MSG_MAX_RUNS && count <= MSG_MAX_RUN_TUPLES);
    FUZZ_CHECK (count == msg_runs_total (msg, field));
    if (msg_version (msg) == 1)
        FUZZ_CHECK (count <= MSG_MAX_REFS);
    for (size_t i = 0, k = 0; i < runs_count; i++) {
        FUZZ_CHECK (runs[i].count >= 1);
        FUZZ_CHECK (msg_version (msg) == 1 || runs[i].attempt >= 1);
        for (uint32_t j = 0; j < runs[i].count; j++, k++)
            FUZZ_CHECK (refs[k].id == runs[i].first + j && refs[k].attempt == runs[i].attempt);
        total += runs[i].count;
    }
    FUZZ_CHECK (total == count);
    FUZZ_CHECK (!refs == !count);
    return count;
}

//  The tuples: one buffer, back to back; in version 2 each one value.
static size_t
s_touch_tuples (msg_t *msg)
{
    size_t count = msg_tuple_count (msg), packed_size = 0, sum = 0;
    FUZZ_CHECK (count <= MSG_MAX_TUPLES);
    FUZZ_CHECK (count == 0 || schema_has_tuples (msg_command (msg)));
    const uint8_t *packed = msg_tuples_packed (msg, &packed_size);
    FUZZ_CHECK (!packed == !count);
    for (size_t i = 0; i < count; i++) {
        size_t size = 0;
        const uint8_t *tuple = msg_tuple (msg, i, &size);
        FUZZ_CHECK (tuple == packed + sum && size > 0);
        if (msg_version (msg) >= 2)
            FUZZ_CHECK (validate_msgpack (tuple, size) == VALIDATE_OK);
        sum += size;
    }
    FUZZ_CHECK (sum == packed_size);
    FUZZ_CHECK (msg_tuple (msg, count, NULL) == NULL);
    return count;
}

//  Walk every accessor once, so sanitizers see every stored value read.
static void
s_touch (msg_t *msg)
{
    msg_command_t command = msg_command (msg);
    FUZZ_CHECK (command > 0 && command < MSG_COMMAND_MAX);
    FUZZ_CHECK (strcmp (msg_command_name (command), "UNKNOWN") != 0);
    FUZZ_CHECK (msg_version (msg) >= MSG_VERSION_MIN && msg_version (msg) <= MSG_VERSION);
    size_t total = 0;
    for (int f = 0; f < MSG_F_MAX; f++) {
        msg_field_t field = (msg_field_t) f;
        bool has = msg_has (msg, field);
        const char *str = msg_str (msg, field);
        if (str)
            total += strlen (str);
        total += msg_uint (msg, field) & 1;
        total += msg_bool (msg, field);
        size_t size = 0;
        const uint8_t *raw = msg_raw (msg, field, &size);
        if (raw) {
            FUZZ_CHECK (size > 0);
            //  A map field keeps one whole msgpack map: it is packed as is.
            FUZZ_CHECK ((raw[0] & 0xf0) == 0x80 || raw[0] == 0xde || raw[0] == 0xdf);
            total += raw[size - 1];
        }
        bool runs = msg_runs (msg, field, NULL) != NULL;
        total += s_touch_runs (msg, field);
        FUZZ_CHECK (has || (!str && !raw && !runs));
    }
    size_t payloads = msg_payload_count (msg);
    for (size_t i = 0; i < payloads; i++) {
        zframe_t *frame = msg_payload (msg, i);
        FUZZ_CHECK (frame);
        total += zframe_size (frame);
    }
    FUZZ_CHECK (msg_payload (msg, payloads) == NULL);
    //  The payload rule of PROTOCOL.md sections 4 and 9.1.
    size_t tuples = s_touch_tuples (msg);
    if (command == MSG_WORK)
        FUZZ_CHECK (tuples == msg_runs_total (msg, MSG_F_TUPLES));
    FUZZ_CHECK (payloads == (command == MSG_RESULT));
    (void) total;
}

//  Version 2 tuples taken out as the packed frame and set again: the same.
static void
s_repack (msg_t *msg)
{
    size_t count = msg_tuple_count (msg);
    if (msg_version (msg) < 2 || count == 0)
        return;
    zframe_t *packed = msg_tuples_pop (msg);
    FUZZ_CHECK (packed && msg_tuple_count (msg) == 0);
    FUZZ_CHECK (msg_set_tuples (msg, &packed, count) == 0);
    FUZZ_CHECK (!packed && msg_tuple_count (msg) == count);
}

static bool
s_same_frames (zmsg_t *a, zmsg_t *b)
{
    if (zmsg_size (a) != zmsg_size (b))
        return false;
    zframe_t *fa = zmsg_first (a), *fb = zmsg_first (b);
    for (; fa && fb; fa = zmsg_next (a), fb = zmsg_next (b))
        if (!zframe_eq (fa, fb))
            return false;
    return true;
}

static bool
s_is_signature (zframe_t *frame)
{
    return zframe_size (frame) >= 3 && memcmp (zframe_data (frame), "DRV", 3) == 0;
}

//  PROTOCOL.md 3.1 for what wire_envelope_split said of zmsg (as it was
//  before the split): the identity frame, then every frame up to and
//  including the first empty one if no signature comes before it, or the
//  identity alone; TOO_LARGE exactly when that would be over
//  MSG_MAX_ENVELOPE frames.
static void
s_check_envelope (zmsg_t *zmsg, int rc, zmsg_t *envelope)
{
    size_t size = zmsg_size (zmsg), want = 1, stop = 0;
    for (zframe_t *frame = zmsg_first (zmsg); frame; frame = zmsg_next (zmsg), stop++) {
        if (stop == 0)
            continue;           //  the identity, whatever its bytes
        if (s_is_signature (frame))
            break;
        if (zframe_size (frame) == 0) {
            want = stop + 1;
            break;
        }
    }
    //  Where the envelope ends is found among the first MSG_MAX_ENVELOPE
    //  frames, or the envelope is too long.
    bool over = stop >= MSG_MAX_ENVELOPE && size > MSG_MAX_ENVELOPE;
    if (size < 2)
        FUZZ_CHECK (rc == -DRV_E_BAD_FRAMES && !envelope);
    else
    if (over)
        FUZZ_CHECK (rc == -DRV_E_TOO_LARGE && !envelope);
    else {
        FUZZ_CHECK (rc == 0 && envelope && zmsg_size (envelope) == want);
        FUZZ_CHECK (zmsg_size (envelope) <= MSG_MAX_ENVELOPE);
    }
}

//  What the codec and the broker trust validate_msgpack for: a value it
//  passes, msgpack-c unpacks whole; one with bytes after it, msgpack-c
//  unpacks and stops before them; one nested too deep, msgpack-c refuses
//  (it has no more parse stack).  A malformed one is never given to
//  msgpack-c: a container claiming 2^32 items would have it allocate 100
//  GB.  And each frame, as a peer's string, escapes into one log line.
static void
s_check_value (const uint8_t *data, size_t size)
{
    int valid = validate_msgpack (data, size);
    FUZZ_CHECK (valid >= VALIDATE_TOO_DEEP && valid <= VALIDATE_TRAILING);
    FUZZ_CHECK (strlen (validate_reason (valid)) > 0);
    if (valid != VALIDATE_MALFORMED) {
        msgpack_unpacked unpacked;
        msgpack_unpacked_init (&unpacked);
        size_t off = 0;
        msgpack_unpack_return urc = msgpack_unpack_next (&unpacked, (const char *) data,
                                                         size, &off);
        if (valid == VALIDATE_TOO_DEEP)
            FUZZ_CHECK (urc != MSGPACK_UNPACK_SUCCESS);
        else
            FUZZ_CHECK (urc == MSGPACK_UNPACK_SUCCESS
                     && (valid == VALIDATE_OK? off == size: off < size));
        msgpack_unpacked_destroy (&unpacked);
    }
    peerlog_str_t text = peerlog_mem (data, size);
    size_t len = strlen (text.text);
    FUZZ_CHECK (len <= PEERLOG_STR_MAX + 3);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) text.text[i];
        FUZZ_CHECK (c >= 0x20 && c != 0x7f);
        if (c >= 0x80) {
            size_t n = utf8_len ((const unsigned char *) text.text + i, len - i);
            FUZZ_CHECK (n >= 2);
            i += n - 1;
        }
    }
}

//  True if every tuple of msg is exactly one msgpack value: only then does
//  packing them (version 2) keep their bounds.
static bool
s_tuples_valid (msg_t *msg)
{
    for (size_t i = 0; i < msg_tuple_count (msg); i++) {
        size_t size;
        const void *tuple = msg_tuple (msg, i, &size);
        if (validate_msgpack (tuple, size) != VALIDATE_OK)
            return false;
    }
    return true;
}

//  The message encoded (by wire_encode) in the other version: refused only
//  for what the other version cannot carry (a version 1 field over
//  MSG_MAX_REFS, its header over the limit; in version 2 a run a version 1
//  field had at attempt 0), else the same message, encoded back to the
//  same frames.  Version 1 tuples that are not one msgpack value each are
//  not taken to version 2: packed, they could be read back with other
//  bounds (the sender's duty, PROTOCOL.md 9.1).  Where version 2 was first,
//  the comparison is made in version 1: a sender may split a run where it
//  likes ([1,1,2],[2,8,2] is [1,9,2]), and runs come back joined, while
//  version 1 has one form for a message's tuples.
static void
s_check_other_version (zmsg_t *encoded, bool tuples_valid)
{
    int version = zframe_streq (zmsg_first (encoded), "DRV1")? 2: 1;
    if (version == 2 && !tuples_valid)
        return;
    zmsg_t *other = zmsg_dup (encoded);
    int rc = wire_reencode (&other, version);
    FUZZ_CHECK (rc == 0);
    zmsg_t *expected = version == 1? zmsg_dup (other): NULL;
    msg_t *msg = NULL;
    rc = wire_decode (&other, &msg);
    if (rc) {
        FUZZ_CHECK (rc == -DRV_E_TOO_LARGE || rc == -DRV_E_BAD_TYPE);
        zmsg_destroy (&expected);
        return;
    }
    FUZZ_CHECK (msg_version (msg) == version);
    FUZZ_CHECK (msg_set_version (msg, 3 - version) == 0);
    zmsg_t *back = wire_encode (&msg);
    if (expected) {
        FUZZ_CHECK (wire_reencode (&back, 1) == 0);
        FUZZ_CHECK (s_same_frames (expected, back));
    }
    else
        FUZZ_CHECK (s_same_frames (encoded, back));
    zmsg_destroy (&back);
    zmsg_destroy (&expected);
}

//  Decode zmsg (taken); if it decodes, check it and its round trip.
static void
s_check (zmsg_t **zmsg_p)
{
    msg_t *msg = NULL;
    int rc = wire_decode (zmsg_p, &msg);
    FUZZ_CHECK (*zmsg_p == NULL);
    if (rc) {
        FUZZ_CHECK (rc < 0 && rc > -DRV_E_MAX && msg == NULL);
        FUZZ_CHECK (strcmp (msg_error_name (rc), "UNKNOWN") != 0);
        return;
    }
    FUZZ_CHECK (msg);
    s_touch (msg);
    s_repack (msg);
    bool tuples_valid = s_tuples_valid (msg);
    //  Rotate the payload once: pop and append reuse the frame array.
    size_t payloads = msg_payload_count (msg);
    if (payloads) {
        zframe_t *first = msg_payload_pop (msg);
        FUZZ_CHECK (first && msg_payload_count (msg) == payloads - 1);
        msg_payload_append (msg, &first);
        FUZZ_CHECK (!first && msg_payload_count (msg) == payloads);
    }

    zmsg_t *encoded = wire_encode (&msg);
    FUZZ_CHECK (encoded && msg == NULL);
    s_check_other_version (encoded, tuples_valid);
    zmsg_t *expected = zmsg_dup (encoded);
    rc = wire_decode (&encoded, &msg);
    if (rc)
        fprintf (stderr, "re-encoded message does not decode: %s\n", msg_error_name (rc));
    FUZZ_CHECK (rc == 0);
    zmsg_t *again = wire_encode (&msg);
    FUZZ_CHECK (s_same_frames (expected, again));
    //  And once more, destroyed with its payload rather than encoded.
    zmsg_t *copy = zmsg_dup (again);
    FUZZ_CHECK (wire_decode (&copy, &msg) == 0);
    msg_destroy (&msg);
    zmsg_destroy (&expected);
    zmsg_destroy (&again);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    zmsg_t *zmsg = zmsg_new ();
    FUZZ_CHECK (zmsg);
    fuzz_frames_append (zmsg, data, size);
    zmsg_t *routed = zmsg_dup (zmsg);
    FUZZ_CHECK (routed);

    s_check (&zmsg);

    for (zframe_t *frame = zmsg_first (routed); frame; frame = zmsg_next (routed))
        s_check_value (zframe_data (frame), zframe_size (frame));

    //  As a ROUTER receives it: the envelope first (PROTOCOL.md 3.1).
    zmsg_t *before = zmsg_dup (routed);
    FUZZ_CHECK (before);
    zmsg_t *envelope = NULL;
    int rc = wire_envelope_split (routed, &envelope);
    s_check_envelope (before, rc, envelope);
    zmsg_destroy (&before);
    if (envelope) {
        s_check (&routed);
        zmsg_destroy (&envelope);
    }
    else
        zmsg_destroy (&routed);
    return 0;
}
