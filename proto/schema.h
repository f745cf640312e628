//  schema.h -- the vocabulary of the drover protocol (PROTOCOL.md sections
//  3 to 5, and 9 for what version 2 changes): commands, header fields and
//  their types, error codes, limits, and the tables saying which fields
//  each command accepts and requires and what payload it carries.  The
//  bottom of proto/: the message object (msg.h) and the codec (wire.h)
//  follow these tables and add no rules of their own.
#ifndef DROVER_SCHEMA_H
#define DROVER_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MSG_SIGNATURE      "DRV"     //  first frame is "DRV" + version digit
//  The versions drover speaks; a new message is in the highest.
#define MSG_VERSION_MIN    1
#define MSG_VERSION        2
//  BAD_VERSION's reason (PROTOCOL.md 6): the versions we speak.
#define MSG_VERSIONS_SPOKEN "supported: 1 2"

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
    MSG_JOBS,           //  producer -> broker: list jobs, a page (PROTOCOL.md 11)
    MSG_JOB_LIST,       //  broker -> producer: a page of jobs
    MSG_AGENTS,         //  producer -> broker: list agents, a page
    MSG_AGENT_LIST,     //  broker -> producer: a page of agents
    MSG_CANCEL,         //  producer -> broker: cancel a job (PROTOCOL.md 12)
    MSG_SCHEDULE,       //  producer -> broker: add, list or remove schedules (15)
    MSG_SCHEDULE_LIST,  //  broker -> producer: the schedules it names
    MSG_STOP,           //  broker -> agent: stop the tuples of a cancelled job (12)
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
    DRV_E_BAD_TUPLE = 15,       //  a tuple is not exactly one msgpack value
    DRV_E_MAX,
    //  Never on the wire: wire_recv read nothing (interrupt or timeout).
    //  Far from errno values, so -DRV_E_* never collides with -errno.
    DRV_E_NOTHING = 1000
} drv_error_t;

//  Header fields.  A field has one wire name and one type; a command accepts
//  a subset of them (schema_accepts).
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
    MSG_F_STATE,            //  str  "open" | "closed" | "complete" | "cancelled" | "aborted"
    MSG_F_SUBMITTED,        //  uint
    MSG_F_QUEUED,           //  uint
    MSG_F_RUNNING,          //  uint
    MSG_F_DONE,             //  uint
    MSG_F_FAILED,           //  uint
    MSG_F_LEASE_MS,         //  uint lease granted (WORK) or asked for (TOUCH)
    MSG_F_DEAD_LETTER,      //  str  WORK: do not run, store as failed with this error
    MSG_F_KEY,              //  str  RESULT: agent's public key (Z85); payload sealed
    MSG_F_SINK_KEY,         //  str  the sink's public key (Z85) results are sealed for
    MSG_F_HELD,             //  map  HELLO: tuples the agent holds, by job (proto/holdings.h)
    MSG_F_SPEC,             //  map  SUBMIT: targets x ports the broker expands (section 10)
    MSG_F_LABELS,           //  map  HELLO, RESULT: the agent's labels, str -> str (10.3)
    MSG_F_EXCLUDED,         //  bool WORK: do not run; store as excluded (section 10.2)
    MSG_F_TOTAL,            //  uint JOB: a spec job's tuples in all (10.1); JOB_LIST, AGENT_LIST: entries in all (11)
    MSG_F_AFTER,            //  uint JOBS/AGENTS: list those numbered after this
    MSG_F_LIMIT,            //  uint JOBS/AGENTS: at most this many
    MSG_F_NEXT,             //  uint JOB_LIST/AGENT_LIST: `after` for the next page
    MSG_F_RATE_MILLI,       //  uint JOB: tuples finished per 1000 s, recently
    MSG_F_ETA_MS,           //  uint JOB: ms until the known tuples are finished
    MSG_F_STATUS,           //  uint WORK: with dead_letter, store as this status (12)
    MSG_F_OP,               //  str  SCHEDULE: "add" | "list" | "rm" (section 15)
    MSG_F_SCHEDULE,         //  str  SCHEDULE: the schedule's name
    MSG_F_CRON,             //  str  SCHEDULE: when it runs, a 5-field cron expression
    MSG_F_EVERY_MS,         //  uint SCHEDULE: or every this many ms
    MSG_F_DEPS,             //  map  SUBMIT: tuples' dependencies, position -> [id | "job:id"] (14)
    MSG_F_WAITING,          //  uint JOB: tuples waiting on their dependencies (14)
    MSG_F_SKIPPED,          //  uint JOB: tuples stored as skipped (14)
    MSG_F_PER_TUPLE,        //  map  SUBMIT: priority, not_before of some tuples (13)
    MSG_F_PRIORITY,         //  uint JOB: the job's priority (13)
    MSG_F_NOT_BEFORE,       //  uint JOB: the job's not_before, ms since the epoch (13)
    MSG_F_DELAYED,          //  uint JOB: of `queued`, waiting for their not_before (13)
    MSG_F_MAX
} msg_field_t;

//  Limits the decoder enforces (DRV_E_TOO_LARGE beyond them; PROTOCOL.md 7).
#define MSG_MAX_HEADER     (64 * 1024)
//  Tuples in one SUBMIT or WORK: payload frames in version 1, values of the
//  packed frame in version 2.
#define MSG_MAX_TUPLES     100000
#define MSG_MAX_PAYLOADS   MSG_MAX_TUPLES
#define MSG_MAX_REFS       8192      //  v1: 7 bytes each (32-bit ids): fits the header
//  Version 2 names tuples by runs: at most this many runs, naming at most
//  this many tuples, in one field.  A v1 field (refs) is one run or more
//  per ref, so MSG_MAX_REFS refs always fit.
#define MSG_MAX_RUNS       8192
#define MSG_MAX_RUN_TUPLES 65536
//  The longest lease (WORK and TOUCH lease_ms) either side uses: a longer
//  one is taken as this, about 24.8 days, so a deadline in ms fits int32.
#define MSG_LEASE_MS_MAX   INT32_MAX
//  Frames of a ROUTER envelope, the identity and the delimiter included
//  (PROTOCOL.md 3.1): plenty for any chain of proxies.
#define MSG_MAX_ENVELOPE   32
//  Frames of one message a receiver keeps: the rest are read and dropped.
#define MSG_MAX_FRAMES     (MSG_MAX_ENVELOPE + 3 + MSG_MAX_PAYLOADS)
//  Containers nested in one msgpack value (a header, a tuple, a batch):
//  msgpack-c's parser stops at 32 open containers itself.
#define MSG_MAX_DEPTH      32

//  A field's type (PROTOCOL.md 3.2).
typedef enum {
    SCHEMA_STR,         //  msgpack str without NUL: a C string
    SCHEMA_UINT,        //  non-negative msgpack integer, any width
    SCHEMA_BOOL,
    SCHEMA_MAP,         //  one msgpack map, kept as its bytes
    SCHEMA_REFS         //  tuple references: v1 [id, attempt] pairs (refs),
                        //  v2 [first, count, attempt] triples (runs)
} schema_type_t;

//  What payload a command carries.  Tuples travel as one frame each in
//  version 1, packed in one frame in version 2 (none when there are none).
typedef enum {
    SCHEMA_PAYLOAD_NONE,
    SCHEMA_PAYLOAD_ANY,         //  SUBMIT: zero or more tuples
    SCHEMA_PAYLOAD_ONE,         //  RESULT: the batch, one frame
    SCHEMA_PAYLOAD_PER_REF      //  WORK: one tuple per tuple `tuples` names
} schema_payload_t;

//  A set of fields, one bit per msg_field_t.
typedef uint64_t schema_fields_t;
#define SCHEMA_FIELD(field) (UINT64_C (1) << (field))

//  Names for logs and ERROR reasons; "UNKNOWN" out of range.  The error's
//  name is that of code or -code ("BAD_VERSION").
const char *msg_command_name (msg_command_t command);
const char *msg_error_name (int code);

//  Commands.  Out of range: no fields, no payload.
bool             schema_command_valid (msg_command_t command);
schema_fields_t  schema_accepts (msg_command_t command);
schema_fields_t  schema_requires (msg_command_t command);   //  within accepts
schema_payload_t schema_payload (msg_command_t command);
//  True if the command carries tuples (SUBMIT, WORK).
bool             schema_has_tuples (msg_command_t command);
//  The command whose wire name is name[0..size), or 0.
msg_command_t    schema_command_find (const void *name, size_t size);

//  Fields.  field must be below MSG_F_MAX.
const char      *schema_field_name (msg_field_t field);     //  its wire name
size_t           schema_field_name_size (msg_field_t field);
schema_type_t    schema_field_type (msg_field_t field);
//  The field whose wire name is name[0..size), or -1.
int              schema_field_find (const void *name, size_t size);

#endif
