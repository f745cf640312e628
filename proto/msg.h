//  msg.h -- one drover protocol message in memory: its command, its wire
//  version, its header fields, its tuples (SUBMIT, WORK) and its payload
//  frame (RESULT).  What a command may carry comes from the tables of
//  schema.h; turning a message into frames and back, and sending it, is the
//  codec's (wire.h).  A message holds the same things whichever version it
//  travels in: tuple references as runs, tuples packed in one buffer.
#ifndef DROVER_MSG_H
#define DROVER_MSG_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/runs.h"             //  msg_ref_t, msg_run_t
#include "proto/schema.h"

typedef struct msg msg_t;

//  Create an empty message for a command, in version MSG_VERSION; NULL if
//  command is out of range.
msg_t *msg_new (msg_command_t command);
void   msg_destroy (msg_t **self_p);

msg_command_t msg_command (const msg_t *self);
//  The version the message travels in: the one it was decoded from, or set
//  (an answer goes in the version of its request).  Setting one outside
//  MSG_VERSION_MIN .. MSG_VERSION is -DRV_E_BAD_VERSION, else 0.
int           msg_version (const msg_t *self);
int           msg_set_version (msg_t *self, int version);
//  The sender's ZAP User-Id (with CURVE: its public key in Z85) when the
//  message came from a socket with authentication, else "".
const char   *msg_user_id (const msg_t *self);
//  Set by the codec from the received frames; at most 63 bytes are kept.
void          msg_set_user_id (msg_t *self, const char *user_id);
//  The sender's address as ZeroMQ gives it (Peer-Address: the IP of a tcp
//  peer), or ""; set by the codec, at most 63 bytes kept.
const char   *msg_peer_address (const msg_t *self);
void          msg_set_peer_address (msg_t *self, const char *address);

//  Header fields.  Getters return NULL/0/false when the field is absent;
//  msg_has tells absent from zero.  Setters copy their arguments.
bool        msg_has (const msg_t *self, msg_field_t field);
const char *msg_str (const msg_t *self, msg_field_t field);
uint64_t    msg_uint (const msg_t *self, msg_field_t field);
bool        msg_bool (const msg_t *self, msg_field_t field);
//  Raw msgpack bytes of a map field (options), or NULL.
const void *msg_raw (const msg_t *self, msg_field_t field, size_t *size_p);

int msg_set_str (msg_t *self, msg_field_t field, const char *value);
//  The size bytes at data as a str field (no NUL among them).
int msg_set_strn (msg_t *self, msg_field_t field, const char *data, size_t size);
int msg_set_uint (msg_t *self, msg_field_t field, uint64_t value);
int msg_set_bool (msg_t *self, msg_field_t field, bool value);
//  data must be exactly one msgpack map (validate_msgpack_map).
int msg_set_raw (msg_t *self, msg_field_t field, const void *data, size_t size);
//  Each setter returns 0; -DRV_E_BAD_TYPE if the command has no such field
//  of that type, or the value is not one (a str with a NUL, options that
//  are not one map); -ENOMEM.  A NULL str or map unsets the field.

//  Tuple references (fields of type SCHEMA_REFS: tuples, dead) are held as
//  runs, whatever the version: runs in order name the field's tuples in
//  order.  NULL and 0 when the field is absent (an empty field is present
//  with 0 runs).  The pointer is valid until the field is set again.
const msg_run_t *msg_runs (const msg_t *self, msg_field_t field, size_t *count_p);
//  How many tuples the field names (its runs expanded).
size_t msg_runs_total (const msg_t *self, msg_field_t field);
//  Copy runs in.  -DRV_E_BAD_TYPE also for a run of count 0 or whose last
//  id is over 2^64 - 1; -DRV_E_TOO_LARGE over MSG_MAX_RUNS runs or
//  MSG_MAX_RUN_TUPLES tuples.
int msg_set_runs (msg_t *self, msg_field_t field, const msg_run_t *runs, size_t count);
//  The same, taking *runs_p (malloc'd; NULL after, whatever the result)
//  instead of a copy.
int msg_adopt_runs (msg_t *self, msg_field_t field, msg_run_t **runs_p, size_t count);
//  Conveniences for code that thinks in refs, one (id, attempt) per tuple.
//  Each costs a copy (msg_refs expands the runs into an array the message
//  keeps until the field is set again; msg_set_refs compresses refs into
//  runs, consecutive ids at one attempt merging): hot paths use runs.
//  msg_set_refs has msg_set_runs's limits.
const msg_ref_t *msg_refs (msg_t *self, msg_field_t field, size_t *count_p);
int msg_set_refs (msg_t *self, msg_field_t field, const msg_ref_t *refs, size_t count);

//  Tuples, of SUBMIT and WORK: one packed buffer (their msgpack values back
//  to back) and where each starts, whatever the version; no allocation per
//  tuple.  Other commands have none, and refuse them (-DRV_E_BAD_TYPE).
size_t      msg_tuple_count (const msg_t *self);
//  Tuple index, pointing into the packed buffer, or NULL past the last.
const void *msg_tuple (const msg_t *self, size_t index, size_t *size_p);
//  True if the tuples were checked on their way in (msg_set_tuples: a
//  version 2 frame, walked), so that each is one well-formed value;
//  false if any was added unchecked (msg_add_tuple).
bool        msg_tuples_walked (const msg_t *self);
//  The whole packed buffer (NULL, size 0, if there are no tuples).
const void *msg_tuples_packed (const msg_t *self, size_t *size_p);
//  Take *packed_p (NULL after, whatever the result) as the tuples: exactly
//  count msgpack values back to back, replacing any held.  One walk checks
//  them and finds their bounds; the frame itself is kept, not copied.  0,
//  -DRV_E_BAD_TUPLE (a value not well-formed), -DRV_E_BAD_FRAMES (not
//  count values), -DRV_E_TOO_LARGE (over MSG_MAX_TUPLES), -DRV_E_INTERNAL.
int         msg_set_tuples (msg_t *self, zframe_t **packed_p, size_t count);
//  Append a copy of one tuple, size bytes that must be exactly one msgpack
//  value (unchecked here: version 2 finds tuples by walking them, and
//  version 1 receivers check each).  0, -DRV_E_TOO_LARGE, -ENOMEM.
int         msg_add_tuple (msg_t *self, const void *data, size_t size);
//  Room for count more tuples of bytes bytes in all, so that as many
//  msg_add_tuple calls cannot fail.  0, -DRV_E_BAD_TYPE or -ENOMEM.
int         msg_tuples_reserve (msg_t *self, size_t count, size_t bytes);
//  The tuples as one packed frame, for forwarding without a copy: the frame
//  msg_set_tuples took (or decoding found), else a copy of the buffer.  The
//  message has no tuples after.  NULL if it had none.
zframe_t   *msg_tuples_pop (msg_t *self);

//  Payload frames other than tuples: RESULT's batch.  Commands that carry
//  tuples have none.
size_t    msg_payload_count (const msg_t *self);
zframe_t *msg_payload (const msg_t *self, size_t index);
//  Append a frame, taking ownership.  Out of memory loses the frame,
//  unless room was reserved.  For SUBMIT and WORK, the frame's bytes are
//  added as a tuple (msg_add_tuple, a copy) and the frame destroyed.
void      msg_payload_append (msg_t *self, zframe_t **frame_p);
//  Make room for count more frames, so that as many appends cannot fail.
//  0 or -ENOMEM.
int       msg_payload_reserve (msg_t *self, size_t count);
//  Remove and return the first frame, or NULL.
zframe_t *msg_payload_pop (msg_t *self);

#endif
