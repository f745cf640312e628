//  msg.c -- see msg.h.  A message keeps each field the schema gives its
//  command as a typed value, and its payload frames in an array it can pop
//  from the front; it never sees a byte of the wire.
#include "proto/msg.h"
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
    struct { msg_ref_t *refs; size_t count; } refs;
} value_t;

struct msg {
    msg_command_t command;
    schema_fields_t present;        //  the fields set
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
    if (!schema_command_valid (command))
        return NULL;
    msg_t *self = calloc (1, sizeof (msg_t));
    if (self)
        self->command = command;
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
        case SCHEMA_REFS: free (value->refs.refs); break;
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

void
msg_set_user_id (msg_t *self, const char *user_id)
{
    assert (self);
    snprintf (self->user_id, sizeof self->user_id, "%s", user_id? user_id: "");
}

msg_command_t
msg_command (const msg_t *self)
{
    assert (self);
    return self->command;
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

const msg_ref_t *
msg_refs (const msg_t *self, msg_field_t field, size_t *count_p)
{
    assert (self);
    bool has = s_present (self, field, SCHEMA_REFS);
    if (count_p)
        *count_p = has? self->values[field].refs.count: 0;
    return has? self->values[field].refs.refs: NULL;
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

int
msg_set_refs (msg_t *self, msg_field_t field, const msg_ref_t *refs, size_t count)
{
    assert (self);
    assert (refs || count == 0);
    if (!s_field_ok (self, field, SCHEMA_REFS))
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
    self->present |= SCHEMA_FIELD (field);
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

