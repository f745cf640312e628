//  msg.h -- one drover protocol v1 message (see proto/PROTOCOL.md).
//  Decoding validates everything the spec requires and returns a distinct
//  error code per failure class; it never asserts on input.  The header map
//  is table-driven: each command lists the fields it accepts and requires.
#ifndef DROVER_MSG_H
#define DROVER_MSG_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MSG_SIGNATURE      "DRV"     //  first frame is "DRV" + version digit
#define MSG_VERSION        1

//  Commands.  Values are internal; on the wire a command is its name.
typedef enum {
    MSG_SUBMIT = 1,     //  producer -> broker: tuples for a job
    MSG_ACCEPTED,       //  broker -> producer: the tuple ids assigned
    MSG_ERROR,          //  any -> any: a request failed
    MSG_STATUS,         //  producer -> broker: ask for a job's counters
    MSG_JOB,            //  broker -> producer: a job's counters
    MSG_HELLO,          //  agent -> broker: announce name and slots
    MSG_WELCOME,        //  broker -> agent: hello accepted
    MSG_CREDIT,         //  agent -> broker: this many more slots are free
    MSG_WORK,           //  broker -> agent: tuples to run
    MSG_DONE,           //  agent -> broker: tuples finished (sink stored them)
    MSG_RETRY,          //  agent -> broker: attempts failed, run them again
    MSG_HEARTBEAT,      //  broker <-> agent: still alive
    MSG_BYE,            //  agent -> broker: leaving, take back what I hold
    MSG_RESULT,         //  agent -> sink: a batch of results
    MSG_STORED,         //  sink -> agent: these results are written
    MSG_TOUCH,          //  agent -> broker: extend these tuples' leases
    MSG_COMMAND_MAX
} msg_command_t;

//  Error codes: sent as uint "code" in ERROR, returned negated by functions.
typedef enum {
    DRV_OK = 0,
    DRV_E_BAD_VERSION = 1,      //  signature frame names another version
    DRV_E_BAD_FRAMES = 2,       //  wrong number of frames, or empty envelope
    DRV_E_BAD_HEADER = 3,       //  header is not a well-formed msgpack map
    DRV_E_MISSING_FIELD = 4,    //  a required header field is absent
    DRV_E_BAD_TYPE = 5,         //  a header field has the wrong type
    DRV_E_UNKNOWN_COMMAND = 6,  //  command frame names no known command
    DRV_E_TOO_LARGE = 7,        //  frame, batch or message over a limit
    DRV_E_UNKNOWN_JOB = 8,      //  STATUS or SUBMIT names no such job
    DRV_E_CONFLICT = 9,         //  SUBMIT's handler/sink differ from the job's
    DRV_E_JOB_CLOSED = 10,      //  SUBMIT to a job that was closed
    DRV_E_QUEUE_FULL = 11,      //  limit reached; retry after retry_ms
    DRV_E_UNEXPECTED = 12,      //  valid command, wrong socket or state
    DRV_E_DENIED = 13,          //  authentication or role check failed
    DRV_E_INTERNAL = 14,        //  the peer failed; not the sender's fault
    DRV_E_MAX,
    //  Never on the wire: wire_recv read nothing (interrupt or timeout).
    //  Far from errno values, so -DRV_E_* never collides with -errno.
    DRV_E_NOTHING = 1000
} drv_error_t;

//  Header fields.  A field has one wire name and one type; a command accepts
//  a subset of them (see the table in msg.c and PROTOCOL.md).
typedef enum {
    MSG_F_JOB = 0,          //  str
    MSG_F_HANDLER,          //  str
    MSG_F_SINK,             //  str  sink endpoint agents dial
    MSG_F_OPTIONS,          //  map  handler options, kept as raw msgpack
    MSG_F_MAX_ATTEMPTS,     //  uint
    MSG_F_TIMEOUT_MS,       //  uint per-tuple handler timeout
    MSG_F_CLOSE,            //  bool no more SUBMITs for this job
    MSG_F_BATCH,            //  str  producer-chosen batch id
    MSG_F_FIRST,            //  uint first tuple id assigned
    MSG_F_COUNT,            //  uint number of tuples
    MSG_F_CODE,             //  uint error code
    MSG_F_REASON,           //  str  human-readable error text
    MSG_F_RETRY_MS,         //  uint when to retry after QUEUE_FULL
    MSG_F_AGENT,            //  str  agent name
    MSG_F_SLOTS,            //  uint slots an agent offers at HELLO
    MSG_F_CREDIT,           //  uint slots freed since last credit
    MSG_F_HEARTBEAT_MS,     //  uint heartbeat interval
    MSG_F_TUPLES,           //  refs [[id, attempt], ...]
    MSG_F_DEAD,             //  refs tuples that ended as dead letters
    MSG_F_STATE,            //  str  "open" | "closed" | "complete"
    MSG_F_SUBMITTED,        //  uint
    MSG_F_QUEUED,           //  uint
    MSG_F_RUNNING,          //  uint
    MSG_F_DONE,             //  uint
    MSG_F_FAILED,           //  uint
    MSG_F_LEASE_MS,         //  uint lease granted (WORK) or asked for (TOUCH)
    MSG_F_DEAD_LETTER,      //  str  WORK: do not run, store as failed with this error
    MSG_F_KEY,              //  str  RESULT: agent's public key (Z85); payload sealed
    MSG_F_SINK_KEY,         //  str  the sink's public key (Z85) results are sealed for
    MSG_F_MAX
} msg_field_t;

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
const char   *msg_command_name (msg_command_t command);
const char   *msg_error_name (int code);     //  "BAD_VERSION"; accepts -code too

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
int msg_set_uint (msg_t *self, msg_field_t field, uint64_t value);
int msg_set_bool (msg_t *self, msg_field_t field, bool value);
int msg_set_raw (msg_t *self, msg_field_t field, const void *data, size_t size);
int msg_set_refs (msg_t *self, msg_field_t field, const msg_ref_t *refs, size_t count);
//  Each setter returns 0, or -DRV_E_BAD_TYPE if the field is not of that type.

//  Payload frames (tuples of SUBMIT and WORK, the batch of RESULT).
size_t    msg_payload_count (const msg_t *self);
zframe_t *msg_payload (const msg_t *self, size_t index);
//  Append a frame, taking ownership.
void      msg_payload_append (msg_t *self, zframe_t **frame_p);
//  Remove and return the first frame, or NULL.
zframe_t *msg_payload_pop (msg_t *self);

//  Limits the decoder enforces (DRV_E_TOO_LARGE beyond them).
#define MSG_MAX_HEADER     (64 * 1024)
#define MSG_MAX_PAYLOADS   100000
#define MSG_MAX_REFS       8192      //  7 bytes each (32-bit ids): fits the header

#endif
