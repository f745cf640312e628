//  msg.h -- one drover protocol message in memory: its command, its header
//  fields and its payload frames.  What a command may carry comes from the
//  tables of schema.h; turning a message into frames and back, and sending
//  it, is the codec's (wire.h).
#ifndef DROVER_MSG_H
#define DROVER_MSG_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/schema.h"

//  A tuple reference: which tuple of the message's job, and which attempt.
typedef struct {
    uint64_t id;
    uint32_t attempt;
} msg_ref_t;

typedef struct msg msg_t;

//  Create an empty message for a command; NULL if command is out of range.
msg_t *msg_new (msg_command_t command);
void   msg_destroy (msg_t **self_p);

msg_command_t msg_command (const msg_t *self);
//  The sender's ZAP User-Id (with CURVE: its public key in Z85) when the
//  message came from a socket with authentication, else "".
const char   *msg_user_id (const msg_t *self);
//  Set by the codec from the received frames; at most 63 bytes are kept.
void          msg_set_user_id (msg_t *self, const char *user_id);

//  Header fields.  Getters return NULL/0/false when the field is absent;
//  msg_has tells absent from zero.  Setters copy their arguments.
bool        msg_has (const msg_t *self, msg_field_t field);
const char *msg_str (const msg_t *self, msg_field_t field);
uint64_t    msg_uint (const msg_t *self, msg_field_t field);
bool        msg_bool (const msg_t *self, msg_field_t field);
//  Raw msgpack bytes of a map field (options), or NULL.
const void *msg_raw (const msg_t *self, msg_field_t field, size_t *size_p);
const msg_ref_t *msg_refs (const msg_t *self, msg_field_t field, size_t *count_p);

int msg_set_str (msg_t *self, msg_field_t field, const char *value);
//  The size bytes at data as a str field (no NUL among them).
int msg_set_strn (msg_t *self, msg_field_t field, const char *data, size_t size);
int msg_set_uint (msg_t *self, msg_field_t field, uint64_t value);
int msg_set_bool (msg_t *self, msg_field_t field, bool value);
//  data must be exactly one msgpack map (validate_msgpack_map).
int msg_set_raw (msg_t *self, msg_field_t field, const void *data, size_t size);
int msg_set_refs (msg_t *self, msg_field_t field, const msg_ref_t *refs, size_t count);
//  Each setter returns 0; -DRV_E_BAD_TYPE if the command has no such field
//  of that type, or the value is not one (a str with a NUL, options that
//  are not one map); -DRV_E_TOO_LARGE over MSG_MAX_REFS refs; -ENOMEM.
//  A NULL str or map unsets the field.

//  Payload frames (tuples of SUBMIT and WORK, the batch of RESULT).
size_t    msg_payload_count (const msg_t *self);
zframe_t *msg_payload (const msg_t *self, size_t index);
//  Append a frame, taking ownership.  Out of memory loses the frame,
//  unless room was reserved.
void      msg_payload_append (msg_t *self, zframe_t **frame_p);
//  Make room for count more frames, so that as many appends cannot fail.
//  0 or -ENOMEM.
int       msg_payload_reserve (msg_t *self, size_t count);
//  Remove and return the first frame, or NULL.
zframe_t *msg_payload_pop (msg_t *self);

#endif
