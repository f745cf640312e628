//  wire.c -- see wire.h.  The bytes of a message: the signature and command
//  frames, the header map in msgpack, payload frames, ROUTER envelopes.
//  Which fields and frames a command has comes from schema.h, and what is
//  decoded goes into a msg_t through its public setters: this file knows
//  the layout, those know the rules.
#include "proto/wire.h"
#include "proto/validate.h"

#include <assert.h>
#include <errno.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

//  ---------------------------------------------------------------------
//  Header: msgpack map -> fields

//  An array of [id, attempt] pairs.
static int
s_take_refs (msg_t *msg, msg_field_t field, const msgpack_object *obj)
{
    if (obj->type != MSGPACK_OBJECT_ARRAY)
        return -DRV_E_BAD_TYPE;
    size_t count = obj->via.array.size;
    if (count > MSG_MAX_REFS)
        return -DRV_E_TOO_LARGE;
    msg_ref_t *refs = NULL;
    if (count && !(refs = malloc (count * sizeof (msg_ref_t))))
        return -ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        const msgpack_object *pair = &obj->via.array.ptr[i];
        if (pair->type != MSGPACK_OBJECT_ARRAY || pair->via.array.size != 2
        || pair->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER
        || pair->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER
        || pair->via.array.ptr[1].via.u64 > UINT32_MAX)
            rc = -DRV_E_BAD_TYPE;
        else
            refs[i] = (msg_ref_t) { pair->via.array.ptr[0].via.u64,
                                    (uint32_t) pair->via.array.ptr[1].via.u64 };
    }
    if (rc == 0)
        rc = msg_set_refs (msg, field, refs, count);
    free (refs);
    return rc;
}

//  msgpack-c keeps no byte offsets, so a map is packed again; the bytes may
//  differ from the sender's but mean the same.
static int
s_take_map (msg_t *msg, msg_field_t field, const msgpack_object *obj)
{
    if (obj->type != MSGPACK_OBJECT_MAP)
        return -DRV_E_BAD_TYPE;
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    int rc = msgpack_pack_object (&pk, *obj) == 0
           ? msg_set_raw (msg, field, sbuf.data, sbuf.size): -ENOMEM;
    msgpack_sbuffer_destroy (&sbuf);
    return rc;
}

//  Store one field's value, checking its type.
static int
s_take_value (msg_t *msg, msg_field_t field, const msgpack_object *obj)
{
    switch (schema_field_type (field)) {
        case SCHEMA_STR:
            if (obj->type != MSGPACK_OBJECT_STR)
                return -DRV_E_BAD_TYPE;
            return msg_set_strn (msg, field, obj->via.str.ptr, obj->via.str.size);
        case SCHEMA_UINT:
            if (obj->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                return -DRV_E_BAD_TYPE;
            return msg_set_uint (msg, field, obj->via.u64);
        case SCHEMA_BOOL:
            if (obj->type != MSGPACK_OBJECT_BOOLEAN)
                return -DRV_E_BAD_TYPE;
            return msg_set_bool (msg, field, obj->via.boolean);
        case SCHEMA_MAP:
            return s_take_map (msg, field, obj);
        case SCHEMA_REFS:
            return s_take_refs (msg, field, obj);
    }
    return -DRV_E_BAD_TYPE;
}

//  The keys of a header map, into msg's fields.
static int
s_take_fields (msg_t *msg, const msgpack_object_map *map)
{
    for (uint32_t i = 0; i < map->size; i++)
        if (map->ptr[i].key.type != MSGPACK_OBJECT_STR)
            return -DRV_E_BAD_HEADER;
    schema_fields_t accepts = schema_accepts (msg_command (msg));
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object_kv *kv = &map->ptr[i];
        int field = schema_field_find (kv->key.via.str.ptr, kv->key.via.str.size);
        if (field < 0 || !(accepts & SCHEMA_FIELD (field)))
            continue;               //  unknown to this command: ignored
        if (msg_has (msg, (msg_field_t) field))
            return -DRV_E_BAD_HEADER;   //  a known key twice is ambiguous
        int rc = s_take_value (msg, (msg_field_t) field, &kv->val);
        if (rc)
            return rc == -ENOMEM? -DRV_E_INTERNAL: rc;
    }
    return 0;
}

static int
s_header_decode (msg_t *msg, const uint8_t *data, size_t size)
{
    if (size > MSG_MAX_HEADER)
        return -DRV_E_TOO_LARGE;
    //  Walked before msgpack-c sees it (validate.h), which also bounds
    //  what msgpack-c allocates for the containers it claims.
    if (validate_msgpack_map (data, size) != 0)
        return -DRV_E_BAD_HEADER;
    msgpack_unpacked result;
    msgpack_unpacked_init (&result);
    size_t off = 0;
    int rc = -DRV_E_BAD_HEADER;
    if (msgpack_unpack_next (&result, (const char *) data, size, &off)
            == MSGPACK_UNPACK_SUCCESS
    &&  off == size && result.data.type == MSGPACK_OBJECT_MAP)
        rc = s_take_fields (msg, &result.data.via.map);
    msgpack_unpacked_destroy (&result);
    return rc;
}

//  ---------------------------------------------------------------------
//  Header: fields -> msgpack map

static void
s_pack_value (msgpack_packer *pk, msgpack_sbuffer *sbuf, const msg_t *msg,
              msg_field_t field)
{
    size_t size;
    const char *str;
    const void *raw;
    const msg_ref_t *refs;
    switch (schema_field_type (field)) {
        case SCHEMA_STR:
            str = msg_str (msg, field);
            msgpack_pack_str_with_body (pk, str, strlen (str));
            break;
        case SCHEMA_UINT:
            msgpack_pack_uint64 (pk, msg_uint (msg, field));
            break;
        case SCHEMA_BOOL:
            if (msg_bool (msg, field))
                msgpack_pack_true (pk);
            else
                msgpack_pack_false (pk);
            break;
        case SCHEMA_MAP:
            //  Already one whole map (msg_set_raw): its bytes as they are.
            raw = msg_raw (msg, field, &size);
            msgpack_sbuffer_write (sbuf, raw, size);
            break;
        case SCHEMA_REFS:
            refs = msg_refs (msg, field, &size);
            msgpack_pack_array (pk, size);
            for (size_t i = 0; i < size; i++) {
                msgpack_pack_array (pk, 2);
                msgpack_pack_uint64 (pk, refs[i].id);
                msgpack_pack_uint32 (pk, refs[i].attempt);
            }
            break;
    }
}

//  The header frame: a map of the fields msg has, in msg_field_t order.
static zframe_t *
s_header_encode (const msg_t *msg)
{
    size_t count = 0;
    for (int field = 0; field < MSG_F_MAX; field++)
        count += msg_has (msg, (msg_field_t) field);
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, count);
    for (int field = 0; field < MSG_F_MAX; field++) {
        if (!msg_has (msg, (msg_field_t) field))
            continue;
        msgpack_pack_str_with_body (&pk, schema_field_name ((msg_field_t) field),
                                    schema_field_name_size ((msg_field_t) field));
        s_pack_value (&pk, &sbuf, msg, (msg_field_t) field);
    }
    zframe_t *frame = zframe_new (sbuf.data, sbuf.size);
    msgpack_sbuffer_destroy (&sbuf);
    return frame;
}

//  ---------------------------------------------------------------------
//  Frames

//  Frame 0 is "DRV" and a version digit (PROTOCOL.md 6): 0 for a version
//  we speak, else the error.  Only version 1 exists; another version would
//  be decoded by its own rules, chosen here.
static int
s_check_signature (zframe_t *frame)
{
    if (!frame || zframe_size (frame) != 4)
        return -DRV_E_BAD_FRAMES;
    const uint8_t *data = zframe_data (frame);
    if (memcmp (data, MSG_SIGNATURE, 3) != 0 || data[3] < '0' || data[3] > '9')
        return -DRV_E_BAD_FRAMES;
    return data[3] == '0' + MSG_VERSION? 0: -DRV_E_BAD_VERSION;
}

//  Frames 0 to 2 and the payload count, before anything is allocated:
//  the command, or the error.
static int
s_check_frames (zmsg_t *zmsg, msg_command_t *command_p)
{
    int rc = s_check_signature (zmsg_first (zmsg));
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
    schema_payload_t rule = schema_payload (command);
    if (payloads > MSG_MAX_PAYLOADS)
        return -DRV_E_TOO_LARGE;
    if ((rule == SCHEMA_PAYLOAD_NONE && payloads != 0)
    ||  (rule == SCHEMA_PAYLOAD_ONE && payloads != 1))
        return -DRV_E_BAD_FRAMES;
    //  A payload is one msgpack value, never empty; this keeps empty frames
    //  unambiguous as envelope delimiters (PROTOCOL.md 3.1).
    for (frame = zmsg_next (zmsg); frame; frame = zmsg_next (zmsg))
        if (zframe_size (frame) == 0)
            return -DRV_E_BAD_FRAMES;
    *command_p = command;
    return 0;
}

//  The header's fields into msg, checked against what the command requires.
static int
s_take_header (msg_t *msg, zframe_t *header, size_t payloads)
{
    int rc = s_header_decode (msg, zframe_data (header), zframe_size (header));
    if (rc)
        return rc;
    msg_command_t command = msg_command (msg);
    schema_fields_t requires = schema_requires (command);
    for (int field = 0; field < MSG_F_MAX; field++)
        if ((requires & SCHEMA_FIELD (field)) && !msg_has (msg, (msg_field_t) field))
            return -DRV_E_MISSING_FIELD;
    size_t refs = 0;
    msg_refs (msg, MSG_F_TUPLES, &refs);
    if (schema_payload (command) == SCHEMA_PAYLOAD_PER_REF && refs != payloads)
        return -DRV_E_BAD_FRAMES;
    return msg_payload_reserve (msg, payloads) == 0? 0: -DRV_E_INTERNAL;
}

static int
s_decode (zmsg_t *zmsg, msg_t **msg_p)
{
    msg_command_t command = 0;
    int rc = s_check_frames (zmsg, &command);
    if (rc)
        return rc;
    msg_t *msg = msg_new (command);
    if (!msg)
        return -DRV_E_INTERNAL;
    //  Metadata rides on frames received from a socket; the signature is
    //  the peer's own first frame (a ROUTER's identity frame carries none).
    const char *user_id = zframe_meta (zmsg_first (zmsg), "User-Id");
    if (user_id)
        msg_set_user_id (msg, user_id);
    zmsg_next (zmsg);                       //  the command
    zframe_t *header = zmsg_next (zmsg);
    rc = s_take_header (msg, header, zmsg_size (zmsg) - 3);
    if (rc) {
        msg_destroy (&msg);
        return rc;
    }
    for (int i = 0; i < 3; i++) {
        zframe_t *frame = zmsg_pop (zmsg);
        zframe_destroy (&frame);
    }
    zframe_t *frame;
    while ((frame = zmsg_pop (zmsg)))
        msg_payload_append (msg, &frame);   //  cannot fail: reserved
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

zmsg_t *
wire_encode (msg_t **msg_p)
{
    assert (msg_p);
    msg_t *msg = *msg_p;
    if (!msg)
        return NULL;
    zmsg_t *zmsg = zmsg_new ();
    char signature[] = MSG_SIGNATURE "0";
    signature[3] = '0' + MSG_VERSION;
    zmsg_addmem (zmsg, signature, 4);
    zmsg_addstr (zmsg, msg_command_name (msg_command (msg)));
    zframe_t *header = s_header_encode (msg);
    zmsg_append (zmsg, &header);
    zframe_t *frame;
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

//  wire_decode, and when it fails the batch of the request's header (if
//  frame 0 is a signature, frame 2 is the header): wire_recv_request.
static int
s_decode_request (zmsg_t **zmsg_p, msg_t **msg_p, char *batch, size_t size)
{
    if (size == 0)
        return wire_decode (zmsg_p, msg_p);
    batch[0] = 0;
    zmsg_t *zmsg = *zmsg_p;
    *zmsg_p = NULL;
    *msg_p = NULL;
    int rc = s_decode (zmsg, msg_p);
    zframe_t *signature = zmsg_first (zmsg);
    zmsg_next (zmsg);
    zframe_t *header = zmsg_next (zmsg);
    if (rc && header && zframe_size (signature) == 4
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
    return wire_recv_request (sock, envelope_p, msg_p, NULL, 0);
}

int
wire_recv_request (zsock_t *sock, zmsg_t **envelope_p, msg_t **msg_p,
                   char *batch, size_t size)
{
    assert (msg_p);
    *msg_p = NULL;
    if (envelope_p)
        *envelope_p = NULL;
    bool over = false;
    zmsg_t *zmsg = s_recv_bounded (sock, &over);
    if (!zmsg)
        return -DRV_E_NOTHING;
    int rc = envelope_p? wire_envelope_split (zmsg, envelope_p): 0;
    if (rc == 0 && over)
        rc = -DRV_E_TOO_LARGE;
    if (rc) {
        zmsg_destroy (&zmsg);
        return rc;
    }
    return s_decode_request (&zmsg, msg_p, batch, size);
}

int
wire_send (msg_t **msg_p, zsock_t *sock, zmsg_t *envelope)
{
    assert (msg_p);
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
wire_send_error (zsock_t *sock, zmsg_t *envelope, int code, const char *reason)
{
    unsigned value = code < 0? 0u - (unsigned) code: (unsigned) code;
    msg_t *msg = msg_new (MSG_ERROR);
    if (!msg)
        return -ENOMEM;
    msg_set_uint (msg, MSG_F_CODE, value);
    msg_set_str (msg, MSG_F_REASON, reason? reason: msg_error_name (code));
    return wire_send (&msg, sock, envelope);
}
