//  wire.c -- see wire.h.  The frames of a message: the signature and
//  command frames, the header (header.h does its msgpack), the payload in
//  either version's layout, ROUTER envelopes.  Which fields and frames a
//  command has comes from schema.h, and what is decoded goes into a msg_t
//  through its public setters: this file knows the layout, those know the
//  rules.
#include "proto/wire.h"
#include "proto/header.h"
#include "proto/validate.h"

#include <assert.h>
#include <errno.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

//  ---------------------------------------------------------------------
//  Frames

//  Frame 0 is "DRV" and a version digit (PROTOCOL.md 6): the version if we
//  speak it, else the error.
static int
s_check_signature (zframe_t *frame, int *version_p)
{
    if (!frame || zframe_size (frame) != 4)
        return -DRV_E_BAD_FRAMES;
    const uint8_t *data = zframe_data (frame);
    if (memcmp (data, MSG_SIGNATURE, 3) != 0 || data[3] < '0' || data[3] > '9')
        return -DRV_E_BAD_FRAMES;
    int version = data[3] - '0';
    if (version < MSG_VERSION_MIN || version > MSG_VERSION)
        return -DRV_E_BAD_VERSION;
    *version_p = version;
    return 0;
}

//  Whether the number of payload frames suits the command in the version:
//  version 1 has a frame per tuple, version 2 packs them in one.
static bool
s_payloads_ok (msg_command_t command, int version, size_t payloads)
{
    switch (schema_payload (command)) {
        case SCHEMA_PAYLOAD_NONE: return payloads == 0;
        case SCHEMA_PAYLOAD_ONE:  return payloads == 1;
        default:                  return version == 1 || payloads <= 1;
    }
}

//  Frames 0 to 2 and the payload count, before anything is allocated:
//  the command and version, or the error.
static int
s_check_frames (zmsg_t *zmsg, msg_command_t *command_p, int *version_p)
{
    int rc = s_check_signature (zmsg_first (zmsg), version_p);
    if (rc)
        return rc;
    zframe_t *frame = zmsg_next (zmsg);
    if (!frame)
        return -DRV_E_BAD_FRAMES;
    msg_command_t command = schema_command_find (zframe_data (frame), zframe_size (frame));
    if (!command)
        return -DRV_E_UNKNOWN_COMMAND;
    if (!zmsg_next (zmsg))
        return -DRV_E_BAD_FRAMES;   //  no header
    size_t payloads = zmsg_size (zmsg) - 3;
    if (payloads > MSG_MAX_PAYLOADS)
        return -DRV_E_TOO_LARGE;
    if (!s_payloads_ok (command, *version_p, payloads))
        return -DRV_E_BAD_FRAMES;
    //  A payload is never empty; this keeps empty frames unambiguous as
    //  envelope delimiters (PROTOCOL.md 3.1).
    for (frame = zmsg_next (zmsg); frame; frame = zmsg_next (zmsg))
        if (zframe_size (frame) == 0)
            return -DRV_E_BAD_FRAMES;
    *command_p = command;
    return 0;
}

//  Version 1 tuples, a frame each, copied into the message's one packed
//  buffer: two allocations for the lot.  They are not checked here: the
//  broker names a bad one by its position (BAD_TUPLE).
static int
s_take_frames (msg_t *msg, zmsg_t *zmsg)
{
    size_t count = zmsg_size (zmsg), bytes = 0;
    for (zframe_t *frame = zmsg_first (zmsg); frame; frame = zmsg_next (zmsg))
        bytes += zframe_size (frame);
    if (count && msg_tuples_reserve (msg, count, bytes))
        return -DRV_E_INTERNAL;
    for (zframe_t *frame = zmsg_first (zmsg); frame; frame = zmsg_next (zmsg))
        msg_add_tuple (msg, zframe_data (frame), zframe_size (frame));  //  reserved
    return 0;
}

//  The payload frames (zmsg holds only those now) into msg.  How many
//  tuples there must be: SUBMIT's `count` in version 2 (when a frame
//  comes), WORK's references in both.
static int
s_take_payload (msg_t *msg, zmsg_t *zmsg, uint64_t count, bool has_count)
{
    msg_command_t command = msg_command (msg);
    size_t payloads = zmsg_size (zmsg);
    if (!schema_has_tuples (command)) {
        if (msg_payload_reserve (msg, payloads))
            return -DRV_E_INTERNAL;
        zframe_t *frame;
        while ((frame = zmsg_pop (zmsg)))
            msg_payload_append (msg, &frame);   //  cannot fail: reserved
        return 0;
    }
    bool per_ref = schema_payload (command) == SCHEMA_PAYLOAD_PER_REF;
    if (per_ref)
        count = msg_runs_total (msg, MSG_F_TUPLES);
    if (msg_version (msg) == 1) {
        if (per_ref && count != payloads)
            return -DRV_E_BAD_FRAMES;
        return s_take_frames (msg, zmsg);
    }
    if (payloads && !per_ref && !has_count)
        return -DRV_E_MISSING_FIELD;
    if (count > MSG_MAX_TUPLES)
        return -DRV_E_TOO_LARGE;
    if (!payloads)
        return count? -DRV_E_BAD_FRAMES: 0;
    zframe_t *packed = zmsg_pop (zmsg);
    return msg_set_tuples (msg, &packed, (size_t) count);
}

//  The header's fields into msg, checked against what the command
//  requires, then the payload.
static int
s_take_rest (msg_t *msg, zframe_t *header, zmsg_t *payload)
{
    uint64_t count = 0;
    bool has_count = false;
    int rc = header_decode (msg, zframe_data (header), zframe_size (header),
                            &count, &has_count);
    if (rc)
        return rc;
    schema_fields_t requires = schema_requires (msg_command (msg));
    for (int field = 0; field < MSG_F_MAX; field++)
        if ((requires & SCHEMA_FIELD (field)) && !msg_has (msg, (msg_field_t) field))
            return -DRV_E_MISSING_FIELD;
    return s_take_payload (msg, payload, count, has_count);
}

static int
s_decode (zmsg_t *zmsg, msg_t **msg_p)
{
    msg_command_t command = 0;
    int version = 0;
    int rc = s_check_frames (zmsg, &command, &version);
    if (rc)
        return rc;
    msg_t *msg = msg_new (command);
    if (!msg)
        return -DRV_E_INTERNAL;
    msg_set_version (msg, version);
    //  Metadata rides on frames received from a socket; the signature is
    //  the peer's own first frame (a ROUTER's identity frame carries none).
    const char *user_id = zframe_meta (zmsg_first (zmsg), "User-Id");
    if (user_id)
        msg_set_user_id (msg, user_id);
    msg_set_peer_address (msg, zframe_meta (zmsg_first (zmsg), "Peer-Address"));
    zframe_t *signature = zmsg_pop (zmsg);
    zframe_t *name = zmsg_pop (zmsg);
    zframe_t *header = zmsg_pop (zmsg);
    rc = s_take_rest (msg, header, zmsg);
    if (rc) {
        //  Back in front, for wire_recv_request to read the batch id of.
        zmsg_prepend (zmsg, &header);
        zmsg_prepend (zmsg, &name);
        zmsg_prepend (zmsg, &signature);
        msg_destroy (&msg);
        return rc;
    }
    zframe_destroy (&signature);
    zframe_destroy (&name);
    zframe_destroy (&header);
    *msg_p = msg;
    return 0;
}

int
wire_decode (zmsg_t **zmsg_p, msg_t **msg_p)
{
    assert (msg_p);
    *msg_p = NULL;
    if (!zmsg_p || !*zmsg_p)
        return -DRV_E_BAD_FRAMES;
    zmsg_t *zmsg = *zmsg_p;
    *zmsg_p = NULL;
    int rc = s_decode (zmsg, msg_p);
    zmsg_destroy (&zmsg);
    return rc;
}

//  Tuples as version 1 has them: a frame each, copied out of the buffer.
static void
s_add_tuple_frames (zmsg_t *zmsg, const msg_t *msg)
{
    size_t count = msg_tuple_count (msg);
    for (size_t i = 0; i < count; i++) {
        size_t size;
        const void *data = msg_tuple (msg, i, &size);
        zmsg_addmem (zmsg, data, size);
    }
}

zmsg_t *
wire_encode (msg_t **msg_p)
{
    assert (msg_p);
    msg_t *msg = *msg_p;
    if (!msg)
        return NULL;
    zmsg_t *zmsg = zmsg_new ();
    char signature[] = MSG_SIGNATURE "0";
    signature[3] = (char) ('0' + msg_version (msg));
    zmsg_addmem (zmsg, signature, 4);
    zmsg_addstr (zmsg, msg_command_name (msg_command (msg)));
    zframe_t *frame = header_encode (msg);
    zmsg_append (zmsg, &frame);
    if (msg_version (msg) == 1)
        s_add_tuple_frames (zmsg, msg);
    else
    if ((frame = msg_tuples_pop (msg)))
        zmsg_append (zmsg, &frame);         //  moved, not copied
    while ((frame = msg_payload_pop (msg)))
        zmsg_append (zmsg, &frame);
    msg_destroy (msg_p);
    return zmsg;
}

//  ---------------------------------------------------------------------
//  The batch id of a request that failed to decode

//  The payload of the str value data[0..used), or NULL if it is no str.
static const char *
s_str (const uint8_t *data, size_t used, size_t *length_p)
{
    size_t head = (data[0] & 0xe0) == 0xa0? 1
                : data[0] == 0xd9? 2: data[0] == 0xda? 3: data[0] == 0xdb? 5: 0;
    if (!head || used < head)
        return NULL;
    *length_p = used - head;
    return (const char *) data + head;
}

//  The `batch` of a header map into batch ("" if it has none that can be
//  read: a str without NUL that fits, given once).  Each key and value is
//  walked, never decoded, so a header the codec refused for its size or
//  any other field costs no more than its bytes.
static void
s_peek_batch (const uint8_t *data, size_t size, char *batch, size_t batch_size)
{
    uint64_t pairs = 0;
    size_t off = 0;
    if (size >= 1 && (data[0] & 0xf0) == 0x80)
        pairs = data[0] & 0x0f, off = 1;
    else
    if (size >= 3 && data[0] == 0xde)
        pairs = (uint64_t) data[1] << 8 | data[2], off = 3;
    else
    if (size >= 5 && data[0] == 0xdf)
        pairs = (uint64_t) data[1] << 24 | data[2] << 16 | data[3] << 8 | data[4], off = 5;
    bool seen = false;
    for (uint64_t i = 0; i < pairs && off < size; i++) {
        size_t key_size, value_size, length = 0;
        if (validate_msgpack_prefix (data + off, size - off, &key_size)
        ||  validate_msgpack_prefix (data + off + key_size, size - off - key_size,
                                     &value_size))
            break;
        const char *key = s_str (data + off, key_size, &length);
        if (key && length == 5 && !memcmp (key, "batch", 5)) {
            const char *value = s_str (data + off + key_size, value_size, &length);
            //  Twice is ambiguous: which would the peer match?
            batch[0] = 0;
            if (value && !seen && length < batch_size && !memchr (value, 0, length)) {
                memcpy (batch, value, length);
                batch[length] = 0;
            }
            seen = true;
        }
        off += key_size + value_size;
    }
}

int
wire_answer_version (zmsg_t *zmsg)
{
    zframe_t *signature = zmsg? zmsg_first (zmsg): NULL;
    int version = MSG_VERSION_MIN;
    if (signature)
        s_check_signature (signature, &version);
    return version;
}

int
wire_fallback_version (const char *reason, int version)
{
    const char *list = reason? strstr (reason, "supported:"): NULL;
    int best = 0;
    for (const char *p = list? list + 10: ""; *p; p++)
        if (*p >= '0' + MSG_VERSION_MIN && *p < '0' + version && *p - '0' > best
        &&  (p[-1] == ' ' || p[-1] == ',' || p[-1] == ':')
        &&  (p[1] == 0 || p[1] == ' ' || p[1] == ','))
            best = *p - '0';
    return best;
}

int
wire_reencode (zmsg_t **zmsg_p, int version)
{
    assert (zmsg_p);
    zmsg_t *copy = zmsg_dup (*zmsg_p);
    msg_t *msg = NULL;
    int rc = copy? wire_decode (&copy, &msg): -DRV_E_INTERNAL;
    if (rc == 0)
        rc = msg_set_version (msg, version);
    zmsg_t *again = rc? NULL: wire_encode (&msg);
    msg_destroy (&msg);
    if (rc || !again)
        return rc? rc: -DRV_E_INTERNAL;
    zmsg_destroy (zmsg_p);
    *zmsg_p = again;
    return 0;
}

//  wire_decode, and when it fails the version to answer in and the batch
//  of the request's header (if frame 0 is a signature, frame 2 is the
//  header): wire_recv_request.
static int
s_decode_request (zmsg_t **zmsg_p, msg_t **msg_p, int *version_p, char *batch, size_t size)
{
    zmsg_t *zmsg = *zmsg_p;
    *zmsg_p = NULL;
    *msg_p = NULL;
    if (size)
        batch[0] = 0;
    int rc = s_decode (zmsg, msg_p);
    if (version_p)
        *version_p = rc? wire_answer_version (zmsg): msg_version (*msg_p);
    zframe_t *signature = zmsg_first (zmsg);
    zmsg_next (zmsg);
    zframe_t *header = zmsg_next (zmsg);
    if (rc && size && header && zframe_size (signature) == 4
    &&  memcmp (zframe_data (signature), MSG_SIGNATURE, 3) == 0)
        s_peek_batch (zframe_data (header), zframe_size (header), batch, size);
    zmsg_destroy (&zmsg);
    return rc;
}

//  ---------------------------------------------------------------------
//  Envelopes and sockets

static bool
s_is_signature (zframe_t *frame)
{
    return zframe_size (frame) >= 3 && memcmp (zframe_data (frame), MSG_SIGNATURE, 3) == 0;
}

//  How many frames of zmsg are its envelope (PROTOCOL.md 3.1), or 0 if it
//  would be over MSG_MAX_ENVELOPE.  The identity frame always is, whatever
//  its bytes: a ROUTER prepends exactly one.  After it the envelope runs to
//  the first empty frame (REQ, REQ_CORRELATE and proxies stack frames
//  before one), provided it comes before the signature; without one, the
//  identity frame is the envelope (a DEALER that sent no delimiter).
static size_t
s_envelope_length (zmsg_t *zmsg)
{
    size_t index = 0;
    zmsg_first (zmsg);
    for (zframe_t *frame = zmsg_next (zmsg); frame; frame = zmsg_next (zmsg)) {
        if (++index == MSG_MAX_ENVELOPE)
            return 0;           //  no delimiter nor signature in reach
        if (zframe_size (frame) == 0)
            return index + 1;
        if (s_is_signature (frame))
            break;
    }
    return 1;
}

int
wire_envelope_split (zmsg_t *zmsg, zmsg_t **envelope_p)
{
    assert (envelope_p);
    *envelope_p = NULL;
    if (!zmsg || zmsg_size (zmsg) < 2)
        return -DRV_E_BAD_FRAMES;
    size_t length = s_envelope_length (zmsg);
    if (length == 0)
        return -DRV_E_TOO_LARGE;
    zmsg_t *envelope = zmsg_new ();
    if (!envelope)
        return -DRV_E_INTERNAL;
    while (length--) {
        zframe_t *frame = zmsg_pop (zmsg);
        zmsg_append (envelope, &frame);
    }
    *envelope_p = envelope;
    return 0;
}

zmsg_t *
wire_envelope_pop (zmsg_t *zmsg)
{
    zmsg_t *envelope;
    wire_envelope_split (zmsg, &envelope);
    return envelope;
}

//  One whole multipart message, frame by frame.  libzmq has it all by the
//  time the first frame is readable, and it bounds the size of each frame
//  (ZMQ_MAXMSGSIZE) but not their number: past MSG_MAX_FRAMES, frames are
//  read and dropped, so that what a peer sends costs no more memory here.
//  NULL if nothing could be read; *over_p if frames were dropped.
static zmsg_t *
s_recv_bounded (zsock_t *sock, bool *over_p)
{
    *over_p = false;
    zframe_t *frame = zframe_recv (sock);
    if (!frame)
        return NULL;
    zmsg_t *zmsg = zmsg_new ();
    if (!zmsg) {
        zframe_destroy (&frame);
        return NULL;
    }
    size_t count = 1;
    bool more = zframe_more (frame);
    zmsg_append (zmsg, &frame);
    while (more && count < MSG_MAX_FRAMES) {
        if (!(frame = zframe_recv (sock)))
            break;
        more = zframe_more (frame);
        zmsg_append (zmsg, &frame);
        count++;
    }
    void *handle = zsock_resolve (sock);
    while (more) {
        zmq_msg_t dropped;
        zmq_msg_init (&dropped);
        more = zmq_msg_recv (&dropped, handle, 0) >= 0 && zmq_msg_more (&dropped);
        zmq_msg_close (&dropped);
        *over_p = true;
    }
    return zmsg;
}

int
wire_recv (zsock_t *sock, zmsg_t **envelope_p, msg_t **msg_p)
{
    return wire_recv_request (sock, envelope_p, msg_p, NULL, NULL, 0);
}

int
wire_recv_request (zsock_t *sock, zmsg_t **envelope_p, msg_t **msg_p,
                   int *version_p, char *batch, size_t size)
{
    assert (msg_p);
    *msg_p = NULL;
    if (envelope_p)
        *envelope_p = NULL;
    if (version_p)
        *version_p = MSG_VERSION_MIN;
    if (size)
        batch[0] = 0;
    bool over = false;
    zmsg_t *zmsg = s_recv_bounded (sock, &over);
    if (!zmsg)
        return -DRV_E_NOTHING;
    int rc = envelope_p? wire_envelope_split (zmsg, envelope_p): 0;
    if (rc == 0 && over)
        rc = -DRV_E_TOO_LARGE;
    if (rc) {
        if (version_p && (!envelope_p || *envelope_p))
            *version_p = wire_answer_version (zmsg);
        zmsg_destroy (&zmsg);
        return rc;
    }
    return s_decode_request (&zmsg, msg_p, version_p, batch, size);
}

//  Whether every receiver would take msg as it would be encoded: version 1
//  has at most MSG_MAX_REFS references in a field, and WORK a tuple for
//  each one.  0 or the error.
static int
s_sendable (const msg_t *msg)
{
    msg_command_t command = msg_command (msg);
    if (schema_payload (command) == SCHEMA_PAYLOAD_PER_REF
    &&  msg_tuple_count (msg) != msg_runs_total (msg, MSG_F_TUPLES))
        return -DRV_E_BAD_FRAMES;
    if (msg_version (msg) == 1
    &&  (msg_runs_total (msg, MSG_F_TUPLES) > MSG_MAX_REFS
      || msg_runs_total (msg, MSG_F_DEAD) > MSG_MAX_REFS))
        return -DRV_E_TOO_LARGE;
    return 0;
}

int
wire_send (msg_t **msg_p, zsock_t *sock, zmsg_t *envelope)
{
    assert (msg_p);
    int rc = *msg_p? s_sendable (*msg_p): 0;
    if (rc) {
        msg_destroy (msg_p);
        return rc;
    }
    zmsg_t *zmsg = wire_encode (msg_p);
    if (!zmsg)
        return -EINVAL;
    //  Never send what no receiver would accept.
    zmsg_first (zmsg);
    zmsg_next (zmsg);
    if (zframe_size (zmsg_next (zmsg)) > MSG_MAX_HEADER) {
        zmsg_destroy (&zmsg);
        return -DRV_E_TOO_LARGE;
    }
    if (envelope) {
        //  A copy of the envelope, then the message's frames behind it.
        zmsg_t *routed = zmsg_dup (envelope);
        zframe_t *frame;
        while (routed && (frame = zmsg_pop (zmsg)))
            zmsg_append (routed, &frame);
        zmsg_destroy (&zmsg);
        if (!routed)
            return -ENOMEM;
        zmsg = routed;
    }
    if (zmsg_send (&zmsg, sock) != 0) {
        int err = errno? errno: EIO;
        zmsg_destroy (&zmsg);
        return -err;
    }
    return 0;
}

int
wire_send_error (zsock_t *sock, zmsg_t *envelope, int version, int code, const char *reason)
{
    unsigned value = code < 0? 0u - (unsigned) code: (unsigned) code;
    msg_t *msg = msg_new (MSG_ERROR);
    if (!msg)
        return -ENOMEM;
    //  A version we do not speak is answered in one every peer reads.
    if (msg_set_version (msg, version))
        msg_set_version (msg, MSG_VERSION_MIN);
    msg_set_uint (msg, MSG_F_CODE, value);
    msg_set_str (msg, MSG_F_REASON, reason? reason: msg_error_name (code));
    return wire_send (&msg, sock, envelope);
}
