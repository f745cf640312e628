//  fuzz_msg.c -- libFuzzer target for the protocol codec (proto/wire.c): what
//  wire_recv does with a message off a socket, as a DEALER/PULL peer
//  (wire_decode) and as a ROUTER (wire_envelope_pop, then wire_decode).
//  The input is the message's frames joined by a separator (frames.h).
//
//  Besides "no crash, no leak", it checks what the codec promises: a failed
//  decode returns one of the DRV_E_* codes and no message; a decoded message
//  keeps its command's payload rule; and decode is a fixed point of encode
//  (decoding what wire_encode made succeeds and encodes to the same frames).
//  Payload pop, append and destroy run on every decoded message too.
#include "proto/msg.h"
#include "proto/wire.h"

#include "fuzz/frames.h"

//  Walk every accessor once, so sanitizers see every stored value read.
static void
s_touch (const msg_t *msg)
{
    msg_command_t command = msg_command (msg);
    FUZZ_CHECK (command > 0 && command < MSG_COMMAND_MAX);
    FUZZ_CHECK (strcmp (msg_command_name (command), "UNKNOWN") != 0);
    size_t total = 0;
    for (int f = 0; f < MSG_F_MAX; f++) {
        msg_field_t field = (msg_field_t) f;
        bool has = msg_has (msg, field);
        const char *str = msg_str (msg, field);
        if (str)
            total += strlen (str);
        total += msg_uint (msg, field) & 1;
        total += msg_bool (msg, field);
        size_t size = 0, count = 0;
        const uint8_t *raw = msg_raw (msg, field, &size);
        if (raw) {
            FUZZ_CHECK (size > 0);
            //  A map field keeps one whole msgpack map: it is packed as is.
            FUZZ_CHECK ((raw[0] & 0xf0) == 0x80 || raw[0] == 0xde || raw[0] == 0xdf);
            total += raw[size - 1];
        }
        const msg_ref_t *refs = msg_refs (msg, field, &count);
        FUZZ_CHECK (count <= MSG_MAX_REFS);
        for (size_t i = 0; i < count; i++)
            total += refs[i].id + refs[i].attempt;
        FUZZ_CHECK (has || (!str && !raw && !refs));
    }
    size_t payloads = msg_payload_count (msg);
    FUZZ_CHECK (payloads <= MSG_MAX_PAYLOADS);
    for (size_t i = 0; i < payloads; i++) {
        zframe_t *frame = msg_payload (msg, i);
        FUZZ_CHECK (frame);
        total += zframe_size (frame);
    }
    FUZZ_CHECK (msg_payload (msg, payloads) == NULL);
    //  The payload rule of PROTOCOL.md section 4.
    size_t refs = 0;
    msg_refs (msg, MSG_F_TUPLES, &refs);
    if (command == MSG_WORK)
        FUZZ_CHECK (payloads == refs);
    else
    if (command == MSG_RESULT)
        FUZZ_CHECK (payloads == 1);
    else
    if (command != MSG_SUBMIT)
        FUZZ_CHECK (payloads == 0);
    (void) total;
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

//  PROTOCOL.md 3.1: the identity frame alone, or every frame up to and
//  including the first empty one, if no signature comes before it.
static void
s_check_envelope (zmsg_t *envelope)
{
    size_t size = zmsg_size (envelope);
    FUZZ_CHECK (size >= 1);
    if (size == 1)
        return;
    size_t index = 0;
    for (zframe_t *frame = zmsg_first (envelope); frame; frame = zmsg_next (envelope)) {
        index++;
        FUZZ_CHECK (!s_is_signature (frame));
        if (index > 1)
            FUZZ_CHECK ((zframe_size (frame) == 0) == (index == size));
    }
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

    //  As a ROUTER receives it: the envelope first (PROTOCOL.md 3.1).
    zmsg_t *envelope = wire_envelope_pop (routed);
    if (envelope) {
        s_check_envelope (envelope);
        s_check (&routed);
        zmsg_destroy (&envelope);
    }
    else
        zmsg_destroy (&routed);
    return 0;
}
