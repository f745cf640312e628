//  msg.c -- the protocol v1 codec (see msg.h and PROTOCOL.md).  Two tables
//  drive it: one for header fields (wire name, type), one for commands
//  (wire name, fields accepted and required, how many payload frames).
#include "proto/msg.h"
#include "proto/wire.h"
#include "proto/validate.h"

#include <assert.h>
#include <errno.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { T_STR, T_UINT, T_BOOL, T_MAP, T_REFS } field_type_t;

static const struct {
    const char *name;
    size_t len;
    field_type_t type;
} s_fields[MSG_F_MAX] = {
#define FIELD(id, wire, type) [id] = { wire, sizeof (wire) - 1, type }
    FIELD (MSG_F_JOB,          "job",          T_STR),
    FIELD (MSG_F_HANDLER,      "handler",      T_STR),
    FIELD (MSG_F_SINK,         "sink",         T_STR),
    FIELD (MSG_F_OPTIONS,      "options",      T_MAP),
    FIELD (MSG_F_MAX_ATTEMPTS, "max_attempts", T_UINT),
    FIELD (MSG_F_TIMEOUT_MS,   "timeout_ms",   T_UINT),
    FIELD (MSG_F_CLOSE,        "close",        T_BOOL),
    FIELD (MSG_F_BATCH,        "batch",        T_STR),
    FIELD (MSG_F_FIRST,        "first",        T_UINT),
    FIELD (MSG_F_COUNT,        "count",        T_UINT),
    FIELD (MSG_F_CODE,         "code",         T_UINT),
    FIELD (MSG_F_REASON,       "reason",       T_STR),
    FIELD (MSG_F_RETRY_MS,     "retry_ms",     T_UINT),
    FIELD (MSG_F_AGENT,        "agent",        T_STR),
    FIELD (MSG_F_SLOTS,        "slots",        T_UINT),
    FIELD (MSG_F_CREDIT,       "credit",       T_UINT),
    FIELD (MSG_F_HEARTBEAT_MS, "heartbeat_ms", T_UINT),
    FIELD (MSG_F_TUPLES,       "tuples",       T_REFS),
    FIELD (MSG_F_DEAD,         "dead",         T_REFS),
    FIELD (MSG_F_STATE,        "state",        T_STR),
    FIELD (MSG_F_SUBMITTED,    "submitted",    T_UINT),
    FIELD (MSG_F_QUEUED,       "queued",       T_UINT),
    FIELD (MSG_F_RUNNING,      "running",      T_UINT),
    FIELD (MSG_F_DONE,         "done",         T_UINT),
    FIELD (MSG_F_FAILED,       "failed",       T_UINT),
    FIELD (MSG_F_LEASE_MS,     "lease_ms",     T_UINT),
    FIELD (MSG_F_DEAD_LETTER,  "dead_letter",  T_STR),
    FIELD (MSG_F_KEY,          "key",          T_STR),
    FIELD (MSG_F_SINK_KEY,     "sink_key",     T_STR),
#undef FIELD
};

//  How many payload frames a command carries.
typedef enum { P_NONE, P_ANY, P_ONE, P_PER_REF } payload_rule_t;

#define F(x) (UINT64_C (1) << MSG_F_##x)
static const struct {
    const char *name;
    uint64_t accepts;           //  bit per msg_field_t
    uint64_t requires;          //  subset of accepts
    payload_rule_t payload;
} s_commands[MSG_COMMAND_MAX] = {
    [MSG_SUBMIT] = { "SUBMIT",
        F (JOB) | F (HANDLER) | F (SINK) | F (OPTIONS) | F (MAX_ATTEMPTS)
        | F (TIMEOUT_MS) | F (CLOSE) | F (BATCH) | F (SINK_KEY), F (JOB), P_ANY },
    [MSG_ACCEPTED] = { "ACCEPTED", F (JOB) | F (FIRST) | F (COUNT) | F (BATCH),
        F (JOB) | F (FIRST) | F (COUNT), P_NONE },
    [MSG_ERROR] = { "ERROR", F (CODE) | F (REASON) | F (RETRY_MS) | F (BATCH),
        F (CODE) | F (REASON), P_NONE },
    [MSG_STATUS] = { "STATUS", F (JOB), F (JOB), P_NONE },
    [MSG_JOB] = { "JOB",
        F (JOB) | F (STATE) | F (SUBMITTED) | F (QUEUED) | F (RUNNING)
        | F (DONE) | F (FAILED),
        F (JOB) | F (STATE) | F (SUBMITTED) | F (QUEUED) | F (RUNNING)
        | F (DONE) | F (FAILED), P_NONE },
    [MSG_HELLO] = { "HELLO", F (AGENT) | F (SLOTS), F (AGENT) | F (SLOTS), P_NONE },
    [MSG_WELCOME] = { "WELCOME", F (HEARTBEAT_MS), F (HEARTBEAT_MS), P_NONE },
    [MSG_CREDIT] = { "CREDIT", F (CREDIT), F (CREDIT), P_NONE },
    [MSG_WORK] = { "WORK",
        F (JOB) | F (HANDLER) | F (SINK) | F (TUPLES) | F (OPTIONS)
        | F (MAX_ATTEMPTS) | F (TIMEOUT_MS) | F (LEASE_MS) | F (DEAD_LETTER)
        | F (SINK_KEY),
        F (JOB) | F (HANDLER) | F (SINK) | F (TUPLES), P_PER_REF },
    [MSG_DONE] = { "DONE", F (JOB) | F (TUPLES) | F (DEAD),
        F (JOB) | F (TUPLES), P_NONE },
    [MSG_RETRY] = { "RETRY", F (JOB) | F (TUPLES) | F (REASON),
        F (JOB) | F (TUPLES), P_NONE },
    [MSG_HEARTBEAT] = { "HEARTBEAT", 0, 0, P_NONE },
    [MSG_BYE] = { "BYE", 0, 0, P_NONE },
    [MSG_RESULT] = { "RESULT", F (JOB) | F (AGENT) | F (TUPLES) | F (KEY),
        F (JOB) | F (AGENT) | F (TUPLES), P_ONE },
    [MSG_STORED] = { "STORED", F (JOB) | F (TUPLES) | F (DEAD), F (JOB) | F (TUPLES), P_NONE },
    [MSG_TOUCH] = { "TOUCH", F (JOB) | F (TUPLES) | F (LEASE_MS),
        F (JOB) | F (TUPLES) | F (LEASE_MS), P_NONE },
};
#undef F

static const char *s_error_names[DRV_E_MAX] = {
    "OK", "BAD_VERSION", "BAD_FRAMES", "BAD_HEADER", "MISSING_FIELD",
    "BAD_TYPE", "UNKNOWN_COMMAND", "TOO_LARGE", "UNKNOWN_JOB", "CONFLICT",
    "JOB_CLOSED", "QUEUE_FULL", "UNEXPECTED", "DENIED", "INTERNAL"
};

typedef union {
    char *str;
    uint64_t uint;
    bool boolean;
    struct { uint8_t *data; size_t size; } raw;
    struct { msg_ref_t *refs; size_t count; } refs;
} value_t;

struct msg {
    msg_command_t command;
    uint64_t present;               //  bit per msg_field_t
    value_t values[MSG_F_MAX];
    //  Payload frames live in frames[head..tail): a plain array gives
    //  msg_payload () by index and pop from the front in O(1).
    zframe_t **frames;
    size_t head, tail, cap;
    char user_id[64];               //  ZAP User-Id of the sender, or ""
};

msg_t *
msg_new (msg_command_t command)
{
    if (command <= 0 || command >= MSG_COMMAND_MAX)
        return NULL;
    msg_t *self = calloc (1, sizeof (msg_t));
    if (self)
        self->command = command;
    return self;
}

static void
s_clear (msg_t *self, msg_field_t field)
{
    uint64_t bit = UINT64_C (1) << field;
    if (!(self->present & bit))
        return;
    value_t *value = &self->values[field];
    switch (s_fields[field].type) {
        case T_STR:  free (value->str); break;
        case T_MAP:  free (value->raw.data); break;
        case T_REFS: free (value->refs.refs); break;
        default: break;
    }
    memset (value, 0, sizeof *value);
    self->present &= ~bit;
}

void
msg_destroy (msg_t **self_p)
{
    assert (self_p);
    msg_t *self = *self_p;
    if (!self)
        return;
    for (int field = 0; field < MSG_F_MAX; field++)
        s_clear (self, (msg_field_t) field);
    for (size_t i = self->head; i < self->tail; i++)
        zframe_destroy (&self->frames[i]);
    free (self->frames);
    free (self);
    *self_p = NULL;
}

const char *
msg_user_id (const msg_t *self)
{
    assert (self);
    return self->user_id;
}

msg_command_t
msg_command (const msg_t *self)
{
    assert (self);
    return self->command;
}

const char *
msg_command_name (msg_command_t command)
{
    if (command <= 0 || command >= MSG_COMMAND_MAX)
        return "UNKNOWN";
    return s_commands[command].name;
}

const char *
msg_error_name (int code)
{
    //  Unsigned negation: -INT_MIN would overflow.
    unsigned index = code < 0? 0u - (unsigned) code: (unsigned) code;
    if (index == DRV_E_NOTHING)
        return "NOTHING";
    return index < DRV_E_MAX? s_error_names[index]: "UNKNOWN";
}

//  ---------------------------------------------------------------------
//  Header fields

//  True if the command carries this field with this type.
static bool
s_field_ok (const msg_t *self, msg_field_t field, field_type_t type)
{
    return (unsigned) field < MSG_F_MAX
        && s_fields[field].type == type
        && (s_commands[self->command].accepts & (UINT64_C (1) << field));
}

static bool
s_present (const msg_t *self, msg_field_t field, field_type_t type)
{
    return (unsigned) field < MSG_F_MAX
        && s_fields[field].type == type
        && (self->present & (UINT64_C (1) << field));
}

bool
msg_has (const msg_t *self, msg_field_t field)
{
    assert (self);
    return (unsigned) field < MSG_F_MAX && (self->present & (UINT64_C (1) << field));
}

const char *
msg_str (const msg_t *self, msg_field_t field)
{
    assert (self);
    return s_present (self, field, T_STR)? self->values[field].str: NULL;
}

uint64_t
msg_uint (const msg_t *self, msg_field_t field)
{
    assert (self);
    return s_present (self, field, T_UINT)? self->values[field].uint: 0;
}

bool
msg_bool (const msg_t *self, msg_field_t field)
{
    assert (self);
    return s_present (self, field, T_BOOL)? self->values[field].boolean: false;
}

const void *
msg_raw (const msg_t *self, msg_field_t field, size_t *size_p)
{
    assert (self);
    bool has = s_present (self, field, T_MAP);
    if (size_p)
        *size_p = has? self->values[field].raw.size: 0;
    return has? self->values[field].raw.data: NULL;
}

const msg_ref_t *
msg_refs (const msg_t *self, msg_field_t field, size_t *count_p)
{
    assert (self);
    bool has = s_present (self, field, T_REFS);
    if (count_p)
        *count_p = has? self->values[field].refs.count: 0;
    return has? self->values[field].refs.refs: NULL;
}

int
msg_set_str (msg_t *self, msg_field_t field, const char *value)
{
    assert (self);
    if (!s_field_ok (self, field, T_STR))
        return -DRV_E_BAD_TYPE;
    s_clear (self, field);
    if (!value)
        return 0;               //  NULL unsets the field
    char *copy = strdup (value);
    if (!copy)
        return -ENOMEM;
    self->values[field].str = copy;
    self->present |= UINT64_C (1) << field;
    return 0;
}

int
msg_set_uint (msg_t *self, msg_field_t field, uint64_t value)
{
    assert (self);
    if (!s_field_ok (self, field, T_UINT))
        return -DRV_E_BAD_TYPE;
    self->values[field].uint = value;
    self->present |= UINT64_C (1) << field;
    return 0;
}

int
msg_set_bool (msg_t *self, msg_field_t field, bool value)
{
    assert (self);
    if (!s_field_ok (self, field, T_BOOL))
        return -DRV_E_BAD_TYPE;
    self->values[field].boolean = value;
    self->present |= UINT64_C (1) << field;
    return 0;
}

int
msg_set_raw (msg_t *self, msg_field_t field, const void *data, size_t size)
{
    assert (self);
    if (!s_field_ok (self, field, T_MAP))
        return -DRV_E_BAD_TYPE;
    if (!data) {
        s_clear (self, field);
        return 0;
    }
    //  Only one whole msgpack map, or the encoded header would be corrupt.
    const uint8_t *bytes = data;
    if (size == 0 || validate_msgpack (bytes, size) != 0
    || !((bytes[0] & 0xf0) == 0x80 || bytes[0] == 0xde || bytes[0] == 0xdf))
        return -DRV_E_BAD_TYPE;
    uint8_t *copy = malloc (size);
    if (!copy)
        return -ENOMEM;
    memcpy (copy, data, size);
    s_clear (self, field);
    self->values[field].raw.data = copy;
    self->values[field].raw.size = size;
    self->present |= UINT64_C (1) << field;
    return 0;
}

int
msg_set_refs (msg_t *self, msg_field_t field, const msg_ref_t *refs, size_t count)
{
    assert (self);
    assert (refs || count == 0);
    if (!s_field_ok (self, field, T_REFS))
        return -DRV_E_BAD_TYPE;
    if (count > MSG_MAX_REFS)
        return -DRV_E_TOO_LARGE;
    msg_ref_t *copy = NULL;
    if (count) {
        copy = malloc (count * sizeof (msg_ref_t));
        if (!copy)
            return -ENOMEM;
        memcpy (copy, refs, count * sizeof (msg_ref_t));
    }
    s_clear (self, field);
    self->values[field].refs.refs = copy;
    self->values[field].refs.count = count;
    self->present |= UINT64_C (1) << field;
    return 0;
}

//  ---------------------------------------------------------------------
//  Payload frames

size_t
msg_payload_count (const msg_t *self)
{
    assert (self);
    return self->tail - self->head;
}

zframe_t *
msg_payload (const msg_t *self, size_t index)
{
    assert (self);
    return index < self->tail - self->head? self->frames[self->head + index]: NULL;
}

//  Make room for at least `more` frames after tail.
static int
s_reserve (msg_t *self, size_t more)
{
    if (self->cap - self->tail >= more)
        return 0;
    size_t count = self->tail - self->head;
    if (self->head && self->cap - count >= more) {
        memmove (self->frames, self->frames + self->head, count * sizeof (zframe_t *));
        self->head = 0;
        self->tail = count;
        return 0;
    }
    size_t cap = self->cap? self->cap * 2: 16;
    while (cap - count < more)
        cap *= 2;
    zframe_t **frames = malloc (cap * sizeof (zframe_t *));
    if (!frames)
        return -ENOMEM;
    if (count)
        memcpy (frames, self->frames + self->head, count * sizeof (zframe_t *));
    free (self->frames);
    self->frames = frames;
    self->head = 0;
    self->tail = count;
    self->cap = cap;
    return 0;
}

void
msg_payload_append (msg_t *self, zframe_t **frame_p)
{
    assert (self);
    assert (frame_p);
    if (!*frame_p)
        return;
    if (s_reserve (self, 1) != 0) {
        zframe_destroy (frame_p);   //  we own it now; out of memory loses it
        return;
    }
    self->frames[self->tail++] = *frame_p;
    *frame_p = NULL;
}

zframe_t *
msg_payload_pop (msg_t *self)
{
    assert (self);
    if (self->head == self->tail)
        return NULL;
    zframe_t *frame = self->frames[self->head++];
    if (self->head == self->tail)
        self->head = self->tail = 0;
    return frame;
}

//  ---------------------------------------------------------------------
//  Decoding

static int
s_lookup_field (const char *name, size_t len)
{
    for (int field = 0; field < MSG_F_MAX; field++)
        if (s_fields[field].len == len && memcmp (s_fields[field].name, name, len) == 0)
            return field;
    return -1;
}

static int
s_take_refs (value_t *value, const msgpack_object *obj)
{
    if (obj->type != MSGPACK_OBJECT_ARRAY)
        return -DRV_E_BAD_TYPE;
    size_t count = obj->via.array.size;
    if (count > MSG_MAX_REFS)
        return -DRV_E_TOO_LARGE;
    msg_ref_t *refs = NULL;
    if (count && !(refs = malloc (count * sizeof (msg_ref_t))))
        return -DRV_E_INTERNAL;
    for (size_t i = 0; i < count; i++) {
        const msgpack_object *pair = &obj->via.array.ptr[i];
        if (pair->type != MSGPACK_OBJECT_ARRAY || pair->via.array.size != 2
        || pair->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER
        || pair->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER
        || pair->via.array.ptr[1].via.u64 > UINT32_MAX) {
            free (refs);
            return -DRV_E_BAD_TYPE;
        }
        refs[i].id = pair->via.array.ptr[0].via.u64;
        refs[i].attempt = (uint32_t) pair->via.array.ptr[1].via.u64;
    }
    value->refs.refs = refs;
    value->refs.count = count;
    return 0;
}

//  Store one known field's value, checking its type.
static int
s_take_value (msg_t *self, msg_field_t field, const msgpack_object *obj)
{
    value_t *value = &self->values[field];
    int rc = 0;
    switch (s_fields[field].type) {
        case T_STR:
            //  A str with a NUL in it cannot be a C string: reject, not truncate.
            if (obj->type != MSGPACK_OBJECT_STR
            || memchr (obj->via.str.ptr, 0, obj->via.str.size))
                return -DRV_E_BAD_TYPE;
            if (!(value->str = strndup (obj->via.str.ptr, obj->via.str.size)))
                return -DRV_E_INTERNAL;
            break;
        case T_UINT:
            if (obj->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                return -DRV_E_BAD_TYPE;
            value->uint = obj->via.u64;
            break;
        case T_BOOL:
            if (obj->type != MSGPACK_OBJECT_BOOLEAN)
                return -DRV_E_BAD_TYPE;
            value->boolean = obj->via.boolean;
            break;
        case T_MAP: {
            if (obj->type != MSGPACK_OBJECT_MAP)
                return -DRV_E_BAD_TYPE;
            //  msgpack-c keeps no byte offsets, so pack the map again;
            //  the bytes may differ from the sender's but mean the same.
            msgpack_sbuffer sbuf;
            msgpack_sbuffer_init (&sbuf);
            msgpack_packer pk;
            msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
            if (msgpack_pack_object (&pk, *obj) != 0) {
                msgpack_sbuffer_destroy (&sbuf);
                return -DRV_E_INTERNAL;
            }
            value->raw.size = sbuf.size;
            value->raw.data = (uint8_t *) msgpack_sbuffer_release (&sbuf);
            break;
        }
        case T_REFS:
            rc = s_take_refs (value, obj);
            break;
    }
    if (rc == 0)
        self->present |= UINT64_C (1) << field;
    return rc;
}

static int
s_parse_header (msg_t *self, const uint8_t *data, size_t size)
{
    if (size > MSG_MAX_HEADER)
        return -DRV_E_TOO_LARGE;
    //  First byte must open a map; then the whole frame one value.
    if (size == 0 || !((data[0] & 0xf0) == 0x80 || data[0] == 0xde || data[0] == 0xdf)
    || validate_msgpack (data, size) != 0)
        return -DRV_E_BAD_HEADER;

    msgpack_unpacked result;
    msgpack_unpacked_init (&result);
    size_t off = 0;
    int rc = 0;
    if (msgpack_unpack_next (&result, (const char *) data, size, &off)
            != MSGPACK_UNPACK_SUCCESS
    || off != size || result.data.type != MSGPACK_OBJECT_MAP)
        rc = -DRV_E_BAD_HEADER;

    const msgpack_object_map *map = &result.data.via.map;
    for (uint32_t i = 0; rc == 0 && i < map->size; i++)
        if (map->ptr[i].key.type != MSGPACK_OBJECT_STR)
            rc = -DRV_E_BAD_HEADER;

    uint64_t accepts = s_commands[self->command].accepts;
    for (uint32_t i = 0; rc == 0 && i < map->size; i++) {
        const msgpack_object_kv *kv = &map->ptr[i];
        int field = s_lookup_field (kv->key.via.str.ptr, kv->key.via.str.size);
        if (field < 0 || !(accepts & (UINT64_C (1) << field)))
            continue;               //  unknown to this command: ignored
        if (self->present & (UINT64_C (1) << field))
            rc = -DRV_E_BAD_HEADER; //  a known key twice is ambiguous
        else
            rc = s_take_value (self, (msg_field_t) field, &kv->val);
    }
    msgpack_unpacked_destroy (&result);
    return rc;
}

//  0 for "DRV1", else the error for frame 0.
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

static msg_command_t
s_lookup_command (zframe_t *frame)
{
    if (!frame)
        return 0;
    size_t size = zframe_size (frame);
    for (int command = 1; command < MSG_COMMAND_MAX; command++)
        if (strlen (s_commands[command].name) == size
        && memcmp (s_commands[command].name, zframe_data (frame), size) == 0)
            return (msg_command_t) command;
    return 0;
}

static int
s_decode (zmsg_t *zmsg, msg_t **msg_p)
{
    int rc = s_check_signature (zmsg_first (zmsg));
    if (rc)
        return rc;
    zframe_t *frame = zmsg_next (zmsg);
    if (!frame)
        return -DRV_E_BAD_FRAMES;
    msg_command_t command = s_lookup_command (frame);
    if (!command)
        return -DRV_E_UNKNOWN_COMMAND;
    zframe_t *header = zmsg_next (zmsg);
    if (!header)
        return -DRV_E_BAD_FRAMES;

    size_t payloads = zmsg_size (zmsg) - 3;
    payload_rule_t rule = s_commands[command].payload;
    if (payloads > MSG_MAX_PAYLOADS)
        return -DRV_E_TOO_LARGE;
    if ((rule == P_NONE && payloads != 0) || (rule == P_ONE && payloads != 1))
        return -DRV_E_BAD_FRAMES;
    //  A payload is one msgpack value, never empty; this keeps empty frames
    //  unambiguous as envelope delimiters (PROTOCOL.md 3.1).
    for (frame = zmsg_next (zmsg); frame; frame = zmsg_next (zmsg))
        if (zframe_size (frame) == 0)
            return -DRV_E_BAD_FRAMES;

    msg_t *self = msg_new (command);
    if (!self)
        return -DRV_E_INTERNAL;
    //  Metadata rides on frames received from a socket; the signature is
    //  the peer's own first frame (a ROUTER's identity frame carries none).
    const char *user_id = zframe_meta (zmsg_first (zmsg), "User-Id");
    if (user_id)
        snprintf (self->user_id, sizeof self->user_id, "%s", user_id);
    rc = s_parse_header (self, zframe_data (header), zframe_size (header));
    uint64_t requires = s_commands[command].requires;
    if (rc == 0 && (self->present & requires) != requires)
        rc = -DRV_E_MISSING_FIELD;
    if (rc == 0 && rule == P_PER_REF
    && self->values[MSG_F_TUPLES].refs.count != payloads)
        rc = -DRV_E_BAD_FRAMES;
    if (rc == 0 && payloads)
        rc = s_reserve (self, payloads) == 0? 0: -DRV_E_INTERNAL;
    if (rc) {
        msg_destroy (&self);
        return rc;
    }
    for (int i = 0; i < 3; i++) {
        frame = zmsg_pop (zmsg);
        zframe_destroy (&frame);
    }
    while ((frame = zmsg_pop (zmsg)))
        self->frames[self->tail++] = frame;
    *msg_p = self;
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

//  ---------------------------------------------------------------------
//  Encoding

static void
s_pack_value (msgpack_packer *pk, msgpack_sbuffer *sbuf, field_type_t type,
              const value_t *value)
{
    switch (type) {
        case T_STR: {
            size_t len = strlen (value->str);
            msgpack_pack_str (pk, len);
            msgpack_pack_str_body (pk, value->str, len);
            break;
        }
        case T_UINT:
            msgpack_pack_uint64 (pk, value->uint);
            break;
        case T_BOOL:
            if (value->boolean)
                msgpack_pack_true (pk);
            else
                msgpack_pack_false (pk);
            break;
        case T_MAP:
            msgpack_sbuffer_write (sbuf, (const char *) value->raw.data, value->raw.size);
            break;
        case T_REFS:
            msgpack_pack_array (pk, value->refs.count);
            for (size_t i = 0; i < value->refs.count; i++) {
                msgpack_pack_array (pk, 2);
                msgpack_pack_uint64 (pk, value->refs.refs[i].id);
                msgpack_pack_uint32 (pk, value->refs.refs[i].attempt);
            }
            break;
    }
}

zmsg_t *
wire_encode (msg_t **self_p)
{
    assert (self_p);
    msg_t *self = *self_p;
    if (!self)
        return NULL;
    zmsg_t *zmsg = zmsg_new ();
    char signature[] = MSG_SIGNATURE "0";
    signature[3] = '0' + MSG_VERSION;
    zmsg_addmem (zmsg, signature, 4);
    zmsg_addstr (zmsg, s_commands[self->command].name);

    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, (size_t) __builtin_popcount (self->present));
    for (int field = 0; field < MSG_F_MAX; field++) {
        if (!(self->present & (UINT64_C (1) << field)))
            continue;
        msgpack_pack_str (&pk, s_fields[field].len);
        msgpack_pack_str_body (&pk, s_fields[field].name, s_fields[field].len);
        s_pack_value (&pk, &sbuf, s_fields[field].type, &self->values[field]);
    }
    zmsg_addmem (zmsg, sbuf.data, sbuf.size);
    msgpack_sbuffer_destroy (&sbuf);

    for (size_t i = self->head; i < self->tail; i++)
        zmsg_append (zmsg, &self->frames[i]);
    self->head = self->tail = 0;
    msg_destroy (self_p);
    return zmsg;
}

//  ---------------------------------------------------------------------
//  Sockets

zmsg_t *
wire_envelope_pop (zmsg_t *zmsg)
{
    if (!zmsg || zmsg_size (zmsg) < 2)
        return NULL;
    //  The envelope runs to the first empty frame (REQ, REQ_CORRELATE and
    //  proxies stack identities before it), provided that frame comes
    //  before the signature; otherwise it is the identity frame alone.
    size_t length = 1, index = 0;
    for (zframe_t *frame = zmsg_first (zmsg); frame; frame = zmsg_next (zmsg)) {
        index++;
        if (zframe_size (frame) >= 3 && memcmp (zframe_data (frame), "DRV", 3) == 0)
            break;
        if (zframe_size (frame) == 0 && index > 1) {
            length = index;
            break;
        }
    }
    zmsg_t *envelope = zmsg_new ();
    while (length--) {
        zframe_t *frame = zmsg_pop (zmsg);
        zmsg_append (envelope, &frame);
    }
    return envelope;
}

int
wire_recv (zsock_t *sock, zmsg_t **envelope_p, msg_t **msg_p)
{
    assert (msg_p);
    *msg_p = NULL;
    if (envelope_p)
        *envelope_p = NULL;
    zmsg_t *zmsg = zmsg_recv (sock);
    if (!zmsg)
        return -DRV_E_NOTHING;
    if (envelope_p) {
        *envelope_p = wire_envelope_pop (zmsg);
        if (!*envelope_p) {
            zmsg_destroy (&zmsg);
            return -DRV_E_BAD_FRAMES;
        }
    }
    return wire_decode (&zmsg, msg_p);
}

int
wire_send (msg_t **self_p, zsock_t *sock, zmsg_t *envelope)
{
    assert (self_p);
    zmsg_t *zmsg = wire_encode (self_p);
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
        //  zmsg has no reverse walk: collect, then prepend last to first.
        size_t count = zmsg_size (envelope);
        zframe_t *frames[count? count: 1];
        size_t n = 0;
        for (zframe_t *f = zmsg_first (envelope); f && n < count; f = zmsg_next (envelope))
            frames[n++] = f;
        while (n) {
            zframe_t *copy = zframe_dup (frames[--n]);
            zmsg_prepend (zmsg, &copy);
        }
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
