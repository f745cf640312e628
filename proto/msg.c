//  msg.c -- see msg.h.  A message keeps each field the schema gives its
//  command as a typed value, tuple references as runs, its tuples in one
//  packed buffer (packed.h) and other payload frames in an array it can pop
//  from the front; it never sees a byte of the wire.
#include "proto/msg.h"
#include "proto/packed.h"
#include "proto/validate.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef union {
    char *str;
    uint64_t uint;
    bool boolean;
    struct { uint8_t *data; size_t size; } raw;
    struct {
        msg_run_t *runs;
        size_t count;               //  runs
        size_t total;               //  tuples they name
        msg_ref_t *refs;            //  msg_refs's expansion, or NULL
    } runs;
} value_t;

struct msg {
    msg_command_t command;
    int version;
    schema_fields_t present;        //  the fields set
    value_t values[MSG_F_MAX];
    packed_t *tuples;               //  SUBMIT, WORK: made at the first tuple
    //  Other payload frames live in frames[head..tail): a plain array gives
    //  msg_payload () by index and pop from the front in O(1).
    zframe_t **frames;
    size_t head, tail, cap;
    char user_id[64];               //  ZAP User-Id of the sender, or ""
    char peer_address[64];          //  ZeroMQ's Peer-Address of the sender, or ""
};

msg_t *
msg_new (msg_command_t command)
{
    if (!schema_command_valid (command))
        return NULL;
    msg_t *self = calloc (1, sizeof (msg_t));
    if (self) {
        self->command = command;
        self->version = MSG_VERSION;
    }
    return self;
}

static void
s_clear (msg_t *self, msg_field_t field)
{
    schema_fields_t bit = SCHEMA_FIELD (field);
    if (!(self->present & bit))
        return;
    value_t *value = &self->values[field];
    switch (schema_field_type (field)) {
        case SCHEMA_STR:  free (value->str); break;
        case SCHEMA_MAP:  free (value->raw.data); break;
        case SCHEMA_REFS: free (value->runs.runs); free (value->runs.refs); break;
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
    packed_destroy (&self->tuples);
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

void
msg_set_user_id (msg_t *self, const char *user_id)
{
    assert (self);
    snprintf (self->user_id, sizeof self->user_id, "%s", user_id? user_id: "");
}

const char *
msg_peer_address (const msg_t *self)
{
    return self->peer_address;
}

void
msg_set_peer_address (msg_t *self, const char *address)
{
    snprintf (self->peer_address, sizeof self->peer_address, "%s", address? address: "");
}

msg_command_t
msg_command (const msg_t *self)
{
    assert (self);
    return self->command;
}

int
msg_version (const msg_t *self)
{
    assert (self);
    return self->version;
}

int
msg_set_version (msg_t *self, int version)
{
    assert (self);
    if (version < MSG_VERSION_MIN || version > MSG_VERSION)
        return -DRV_E_BAD_VERSION;
    self->version = version;
    return 0;
}

//  ---------------------------------------------------------------------
//  Header fields

//  True if the command carries this field with this type.
static bool
s_field_ok (const msg_t *self, msg_field_t field, schema_type_t type)
{
    return (unsigned) field < MSG_F_MAX
        && schema_field_type (field) == type
        && (schema_accepts (self->command) & SCHEMA_FIELD (field));
}

static bool
s_present (const msg_t *self, msg_field_t field, schema_type_t type)
{
    return (unsigned) field < MSG_F_MAX
        && schema_field_type (field) == type
        && (self->present & SCHEMA_FIELD (field));
}

bool
msg_has (const msg_t *self, msg_field_t field)
{
    assert (self);
    return (unsigned) field < MSG_F_MAX && (self->present & (SCHEMA_FIELD (field)));
}

const char *
msg_str (const msg_t *self, msg_field_t field)
{
    assert (self);
    return s_present (self, field, SCHEMA_STR)? self->values[field].str: NULL;
}

uint64_t
msg_uint (const msg_t *self, msg_field_t field)
{
    assert (self);
    return s_present (self, field, SCHEMA_UINT)? self->values[field].uint: 0;
}

bool
msg_bool (const msg_t *self, msg_field_t field)
{
    assert (self);
    return s_present (self, field, SCHEMA_BOOL)? self->values[field].boolean: false;
}

const void *
msg_raw (const msg_t *self, msg_field_t field, size_t *size_p)
{
    assert (self);
    bool has = s_present (self, field, SCHEMA_MAP);
    if (size_p)
        *size_p = has? self->values[field].raw.size: 0;
    return has? self->values[field].raw.data: NULL;
}

int
msg_set_str (msg_t *self, msg_field_t field, const char *value)
{
    assert (self);
    if (value)
        return msg_set_strn (self, field, value, strlen (value));
    if (!s_field_ok (self, field, SCHEMA_STR))
        return -DRV_E_BAD_TYPE;
    s_clear (self, field);      //  NULL unsets the field
    return 0;
}

int
msg_set_strn (msg_t *self, msg_field_t field, const char *data, size_t size)
{
    assert (self);
    assert (data || size == 0);
    //  A str with a NUL in it cannot be a C string: refused, not truncated.
    if (!s_field_ok (self, field, SCHEMA_STR) || (size && memchr (data, 0, size)))
        return -DRV_E_BAD_TYPE;
    char *copy = malloc (size + 1);
    if (!copy)
        return -ENOMEM;
    if (size)
        memcpy (copy, data, size);
    copy[size] = 0;
    s_clear (self, field);
    self->values[field].str = copy;
    self->present |= SCHEMA_FIELD (field);
    return 0;
}

int
msg_set_uint (msg_t *self, msg_field_t field, uint64_t value)
{
    assert (self);
    if (!s_field_ok (self, field, SCHEMA_UINT))
        return -DRV_E_BAD_TYPE;
    self->values[field].uint = value;
    self->present |= SCHEMA_FIELD (field);
    return 0;
}

int
msg_set_bool (msg_t *self, msg_field_t field, bool value)
{
    assert (self);
    if (!s_field_ok (self, field, SCHEMA_BOOL))
        return -DRV_E_BAD_TYPE;
    self->values[field].boolean = value;
    self->present |= SCHEMA_FIELD (field);
    return 0;
}

int
msg_set_raw (msg_t *self, msg_field_t field, const void *data, size_t size)
{
    assert (self);
    if (!s_field_ok (self, field, SCHEMA_MAP))
        return -DRV_E_BAD_TYPE;
    if (!data) {
        s_clear (self, field);
        return 0;
    }
    //  Only one whole msgpack map, or the encoded header would be corrupt.
    if (validate_msgpack_map (data, size) != 0)
        return -DRV_E_BAD_TYPE;
    uint8_t *copy = malloc (size);
    if (!copy)
        return -ENOMEM;
    memcpy (copy, data, size);
    s_clear (self, field);
    self->values[field].raw.data = copy;
    self->values[field].raw.size = size;
    self->present |= SCHEMA_FIELD (field);
    return 0;
}

//  ---------------------------------------------------------------------
//  Tuple references: runs, and refs made from them

const msg_run_t *
msg_runs (const msg_t *self, msg_field_t field, size_t *count_p)
{
    assert (self);
    bool has = s_present (self, field, SCHEMA_REFS);
    if (count_p)
        *count_p = has? self->values[field].runs.count: 0;
    return has? self->values[field].runs.runs: NULL;
}

size_t
msg_runs_total (const msg_t *self, msg_field_t field)
{
    assert (self);
    return s_present (self, field, SCHEMA_REFS)? self->values[field].runs.total: 0;
}

int
msg_adopt_runs (msg_t *self, msg_field_t field, msg_run_t **runs_p, size_t count)
{
    assert (self && runs_p);
    msg_run_t *runs = *runs_p;
    *runs_p = NULL;
    assert (runs || count == 0);
    uint64_t total = 0;
    int rc = !s_field_ok (self, field, SCHEMA_REFS)? -DRV_E_BAD_TYPE
           : count > MSG_MAX_RUNS? -DRV_E_TOO_LARGE
           : !runs_valid (runs, count, &total)? -DRV_E_BAD_TYPE
           : total > MSG_MAX_RUN_TUPLES? -DRV_E_TOO_LARGE: 0;
    if (rc) {
        free (runs);
        return rc;
    }
    s_clear (self, field);
    self->values[field].runs.runs = runs;
    self->values[field].runs.count = count;
    self->values[field].runs.total = (size_t) total;
    self->present |= SCHEMA_FIELD (field);
    return 0;
}

int
msg_set_runs (msg_t *self, msg_field_t field, const msg_run_t *runs, size_t count)
{
    assert (self);
    assert (runs || count == 0);
    if (!s_field_ok (self, field, SCHEMA_REFS))
        return -DRV_E_BAD_TYPE;
    if (count > MSG_MAX_RUNS)
        return -DRV_E_TOO_LARGE;
    msg_run_t *copy = NULL;
    if (count) {
        if (!(copy = malloc (count * sizeof *copy)))
            return -ENOMEM;
        memcpy (copy, runs, count * sizeof *copy);
    }
    return msg_adopt_runs (self, field, &copy, count);
}

const msg_ref_t *
msg_refs (msg_t *self, msg_field_t field, size_t *count_p)
{
    assert (self);
    if (count_p)
        *count_p = 0;
    if (!s_present (self, field, SCHEMA_REFS))
        return NULL;
    value_t *value = &self->values[field];
    if (!value->runs.refs && value->runs.total) {
        value->runs.refs = malloc (value->runs.total * sizeof (msg_ref_t));
        if (!value->runs.refs)
            return NULL;            //  out of memory: as if absent
        runs_expand (value->runs.runs, value->runs.count, value->runs.refs);
    }
    if (count_p)
        *count_p = value->runs.total;
    return value->runs.refs;
}

int
msg_set_refs (msg_t *self, msg_field_t field, const msg_ref_t *refs, size_t count)
{
    assert (self);
    assert (refs || count == 0);
    if (!s_field_ok (self, field, SCHEMA_REFS))
        return -DRV_E_BAD_TYPE;
    if (count > MSG_MAX_RUN_TUPLES)
        return -DRV_E_TOO_LARGE;
    size_t needed = runs_needed (refs, count);
    if (needed > MSG_MAX_RUNS)
        return -DRV_E_TOO_LARGE;
    msg_run_t *runs = needed? malloc (needed * sizeof *runs): NULL;
    if (needed && !runs)
        return -ENOMEM;
    size_t made = 0;
    for (size_t i = 0; i < count; i++)
        runs_append (runs, &made, refs[i].id, refs[i].attempt);
    return msg_adopt_runs (self, field, &runs, made);
}

//  ---------------------------------------------------------------------
//  Tuples

size_t
msg_tuple_count (const msg_t *self)
{
    assert (self);
    return self->tuples? packed_count (self->tuples): 0;
}

const void *
msg_tuple (const msg_t *self, size_t index, size_t *size_p)
{
    assert (self);
    if (!self->tuples) {
        if (size_p)
            *size_p = 0;
        return NULL;
    }
    return packed_value (self->tuples, index, size_p);
}

bool
msg_tuples_walked (const msg_t *self)
{
    assert (self);
    return !self->tuples || packed_walked (self->tuples);
}

const void *
msg_tuples_packed (const msg_t *self, size_t *size_p)
{
    assert (self);
    if (!self->tuples) {
        if (size_p)
            *size_p = 0;
        return NULL;
    }
    return packed_data (self->tuples, size_p);
}

//  The packed tuples, made if need be; NULL if the command has none (or
//  out of memory: *rc_p says which).
static packed_t *
s_tuples (msg_t *self, int *rc_p)
{
    *rc_p = 0;
    if (!schema_has_tuples (self->command)) {
        *rc_p = -DRV_E_BAD_TYPE;
        return NULL;
    }
    if (!self->tuples && !(self->tuples = packed_new ()))
        *rc_p = -ENOMEM;
    return self->tuples;
}

int
msg_set_tuples (msg_t *self, zframe_t **packed_p, size_t count)
{
    assert (self && packed_p);
    int rc = count > MSG_MAX_TUPLES? -DRV_E_TOO_LARGE: 0;
    packed_t *tuples = rc? NULL: s_tuples (self, &rc);
    if (rc) {
        zframe_destroy (packed_p);
        return rc == -ENOMEM? -DRV_E_INTERNAL: rc;
    }
    return packed_set_frame (tuples, packed_p, count);
}

int
msg_tuples_reserve (msg_t *self, size_t count, size_t bytes)
{
    assert (self);
    int rc;
    packed_t *tuples = s_tuples (self, &rc);
    return tuples? packed_reserve (tuples, count, bytes): rc;
}

int
msg_add_tuple (msg_t *self, const void *data, size_t size)
{
    assert (self);
    int rc;
    packed_t *tuples = s_tuples (self, &rc);
    if (!tuples)
        return rc;
    if (packed_count (tuples) >= MSG_MAX_TUPLES)
        return -DRV_E_TOO_LARGE;
    return packed_append (tuples, data, size);
}

zframe_t *
msg_tuples_pop (msg_t *self)
{
    assert (self);
    return self->tuples? packed_pop_frame (self->tuples): NULL;
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

int
msg_payload_reserve (msg_t *self, size_t count)
{
    assert (self);
    return s_reserve (self, count);
}

void
msg_payload_append (msg_t *self, zframe_t **frame_p)
{
    assert (self);
    assert (frame_p);
    if (!*frame_p)
        return;
    if (schema_has_tuples (self->command)) {
        msg_add_tuple (self, zframe_data (*frame_p), zframe_size (*frame_p));
        zframe_destroy (frame_p);
        return;
    }
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

