//  schema.c -- see schema.h.  Two tables restate PROTOCOL.md section 4:
//  header fields (wire name, type) and commands (wire name, fields accepted
//  and required, payload frames); tests/test_schema.c checks them against
//  its own reading of the document.
#include "proto/schema.h"

#include <string.h>

static const struct {
    const char *name;
    size_t size;
    schema_type_t type;
} s_fields[MSG_F_MAX] = {
#define FIELD(id, wire, type) [id] = { wire, sizeof (wire) - 1, type }
    FIELD (MSG_F_JOB,          "job",          SCHEMA_STR),
    FIELD (MSG_F_HANDLER,      "handler",      SCHEMA_STR),
    FIELD (MSG_F_SINK,         "sink",         SCHEMA_STR),
    FIELD (MSG_F_OPTIONS,      "options",      SCHEMA_MAP),
    FIELD (MSG_F_MAX_ATTEMPTS, "max_attempts", SCHEMA_UINT),
    FIELD (MSG_F_TIMEOUT_MS,   "timeout_ms",   SCHEMA_UINT),
    FIELD (MSG_F_CLOSE,        "close",        SCHEMA_BOOL),
    FIELD (MSG_F_BATCH,        "batch",        SCHEMA_STR),
    FIELD (MSG_F_FIRST,        "first",        SCHEMA_UINT),
    FIELD (MSG_F_COUNT,        "count",        SCHEMA_UINT),
    FIELD (MSG_F_CODE,         "code",         SCHEMA_UINT),
    FIELD (MSG_F_REASON,       "reason",       SCHEMA_STR),
    FIELD (MSG_F_RETRY_MS,     "retry_ms",     SCHEMA_UINT),
    FIELD (MSG_F_AGENT,        "agent",        SCHEMA_STR),
    FIELD (MSG_F_SLOTS,        "slots",        SCHEMA_UINT),
    FIELD (MSG_F_CREDIT,       "credit",       SCHEMA_UINT),
    FIELD (MSG_F_HEARTBEAT_MS, "heartbeat_ms", SCHEMA_UINT),
    FIELD (MSG_F_TUPLES,       "tuples",       SCHEMA_REFS),
    FIELD (MSG_F_DEAD,         "dead",         SCHEMA_REFS),
    FIELD (MSG_F_STATE,        "state",        SCHEMA_STR),
    FIELD (MSG_F_SUBMITTED,    "submitted",    SCHEMA_UINT),
    FIELD (MSG_F_QUEUED,       "queued",       SCHEMA_UINT),
    FIELD (MSG_F_RUNNING,      "running",      SCHEMA_UINT),
    FIELD (MSG_F_DONE,         "done",         SCHEMA_UINT),
    FIELD (MSG_F_FAILED,       "failed",       SCHEMA_UINT),
    FIELD (MSG_F_LEASE_MS,     "lease_ms",     SCHEMA_UINT),
    FIELD (MSG_F_DEAD_LETTER,  "dead_letter",  SCHEMA_STR),
    FIELD (MSG_F_KEY,          "key",          SCHEMA_STR),
    FIELD (MSG_F_SINK_KEY,     "sink_key",     SCHEMA_STR),
    FIELD (MSG_F_HELD,         "held",         SCHEMA_MAP),
    FIELD (MSG_F_SPEC,         "spec",         SCHEMA_MAP),
    FIELD (MSG_F_LABELS,       "labels",       SCHEMA_MAP),
    FIELD (MSG_F_EXCLUDED,     "excluded",     SCHEMA_BOOL),
    FIELD (MSG_F_TOTAL,        "total",        SCHEMA_UINT),
    FIELD (MSG_F_AFTER,        "after",        SCHEMA_UINT),
    FIELD (MSG_F_LIMIT,        "limit",        SCHEMA_UINT),
    FIELD (MSG_F_NEXT,         "next",         SCHEMA_UINT),
    FIELD (MSG_F_RATE_MILLI,   "rate_milli",   SCHEMA_UINT),
    FIELD (MSG_F_ETA_MS,       "eta_ms",       SCHEMA_UINT),
    FIELD (MSG_F_STATUS,       "status",       SCHEMA_UINT),
    FIELD (MSG_F_OP,           "op",           SCHEMA_STR),
    FIELD (MSG_F_SCHEDULE,     "schedule",     SCHEMA_STR),
    FIELD (MSG_F_CRON,         "cron",         SCHEMA_STR),
    FIELD (MSG_F_EVERY_MS,     "every_ms",     SCHEMA_UINT),
    FIELD (MSG_F_DEPS,         "deps",         SCHEMA_MAP),
    FIELD (MSG_F_WAITING,      "waiting",      SCHEMA_UINT),
    FIELD (MSG_F_SKIPPED,      "skipped",      SCHEMA_UINT),
    FIELD (MSG_F_PER_TUPLE,    "per_tuple",    SCHEMA_MAP),
    FIELD (MSG_F_PRIORITY,     "priority",     SCHEMA_UINT),
    FIELD (MSG_F_NOT_BEFORE,   "not_before",   SCHEMA_UINT),
    FIELD (MSG_F_DELAYED,      "delayed",      SCHEMA_UINT),
#undef FIELD
};

#define F(x) SCHEMA_FIELD (MSG_F_##x)
static const struct {
    const char *name;
    schema_fields_t accepts;
    schema_fields_t requires;
    schema_payload_t payload;
} s_commands[MSG_COMMAND_MAX] = {
    [MSG_SUBMIT] = { "SUBMIT",
        F (JOB) | F (HANDLER) | F (SINK) | F (OPTIONS) | F (MAX_ATTEMPTS)
        | F (TIMEOUT_MS) | F (CLOSE) | F (BATCH) | F (SINK_KEY) | F (SPEC) | F (DEPS)
        | F (PER_TUPLE), F (JOB),
        SCHEMA_PAYLOAD_ANY },
    [MSG_ACCEPTED] = { "ACCEPTED", F (JOB) | F (FIRST) | F (COUNT) | F (BATCH),
        F (JOB) | F (FIRST) | F (COUNT), SCHEMA_PAYLOAD_NONE },
    [MSG_ERROR] = { "ERROR", F (CODE) | F (REASON) | F (RETRY_MS) | F (BATCH),
        F (CODE) | F (REASON), SCHEMA_PAYLOAD_NONE },
    [MSG_STATUS] = { "STATUS", F (JOB), F (JOB), SCHEMA_PAYLOAD_NONE },
    [MSG_JOB] = { "JOB",
        F (JOB) | F (STATE) | F (SUBMITTED) | F (QUEUED) | F (RUNNING)
        | F (DONE) | F (FAILED) | F (TOTAL) | F (RATE_MILLI) | F (ETA_MS) | F (WAITING)
        | F (SKIPPED) | F (MAX_ATTEMPTS) | F (TIMEOUT_MS) | F (PRIORITY) | F (NOT_BEFORE)
        | F (DELAYED),
        F (JOB) | F (STATE) | F (SUBMITTED) | F (QUEUED) | F (RUNNING)
        | F (DONE) | F (FAILED), SCHEMA_PAYLOAD_NONE },
    [MSG_HELLO] = { "HELLO", F (AGENT) | F (SLOTS) | F (HELD) | F (LABELS),
        F (AGENT) | F (SLOTS), SCHEMA_PAYLOAD_NONE },
    [MSG_WELCOME] = { "WELCOME", F (HEARTBEAT_MS), F (HEARTBEAT_MS),
        SCHEMA_PAYLOAD_NONE },
    [MSG_CREDIT] = { "CREDIT", F (CREDIT), F (CREDIT), SCHEMA_PAYLOAD_NONE },
    [MSG_WORK] = { "WORK",
        F (JOB) | F (HANDLER) | F (SINK) | F (TUPLES) | F (OPTIONS)
        | F (MAX_ATTEMPTS) | F (TIMEOUT_MS) | F (LEASE_MS) | F (DEAD_LETTER)
        | F (SINK_KEY) | F (EXCLUDED) | F (STATUS),
        F (JOB) | F (HANDLER) | F (SINK) | F (TUPLES), SCHEMA_PAYLOAD_PER_REF },
    [MSG_DONE] = { "DONE", F (JOB) | F (TUPLES) | F (DEAD),
        F (JOB) | F (TUPLES), SCHEMA_PAYLOAD_NONE },
    [MSG_RETRY] = { "RETRY", F (JOB) | F (TUPLES) | F (REASON),
        F (JOB) | F (TUPLES), SCHEMA_PAYLOAD_NONE },
    [MSG_HEARTBEAT] = { "HEARTBEAT", 0, 0, SCHEMA_PAYLOAD_NONE },
    [MSG_BYE] = { "BYE", 0, 0, SCHEMA_PAYLOAD_NONE },
    [MSG_RESULT] = { "RESULT", F (JOB) | F (AGENT) | F (TUPLES) | F (KEY) | F (LABELS),
        F (JOB) | F (AGENT) | F (TUPLES), SCHEMA_PAYLOAD_ONE },
    [MSG_STORED] = { "STORED", F (JOB) | F (TUPLES) | F (DEAD),
        F (JOB) | F (TUPLES), SCHEMA_PAYLOAD_NONE },
    [MSG_TOUCH] = { "TOUCH", F (JOB) | F (TUPLES) | F (LEASE_MS),
        F (JOB) | F (TUPLES) | F (LEASE_MS), SCHEMA_PAYLOAD_NONE },
    //  PROTOCOL.md section 11: listings, a page each.
    [MSG_JOBS] = { "JOBS", F (AFTER) | F (LIMIT), 0, SCHEMA_PAYLOAD_NONE },
    [MSG_JOB_LIST] = { "JOBLIST", F (COUNT) | F (TOTAL) | F (NEXT),
        F (COUNT) | F (TOTAL), SCHEMA_PAYLOAD_ONE },
    [MSG_AGENTS] = { "AGENTS", F (AFTER) | F (LIMIT), 0, SCHEMA_PAYLOAD_NONE },
    [MSG_AGENT_LIST] = { "AGENTLIST", F (COUNT) | F (TOTAL) | F (NEXT),
        F (COUNT) | F (TOTAL), SCHEMA_PAYLOAD_ONE },
    //  PROTOCOL.md section 12: ending a job early.
    [MSG_CANCEL] = { "CANCEL", F (JOB), F (JOB), SCHEMA_PAYLOAD_NONE },
    //  PROTOCOL.md section 15: recurring jobs.
    [MSG_SCHEDULE] = { "SCHEDULE",
        F (OP) | F (SCHEDULE) | F (CRON) | F (EVERY_MS) | F (HANDLER) | F (SINK)
        | F (SINK_KEY) | F (OPTIONS) | F (MAX_ATTEMPTS) | F (TIMEOUT_MS) | F (SPEC),
        F (OP), SCHEMA_PAYLOAD_ANY },
    [MSG_SCHEDULE_LIST] = { "SCHEDULELIST", F (COUNT), F (COUNT), SCHEMA_PAYLOAD_ONE },
    [MSG_STOP] = { "STOP", F (JOB), F (JOB), SCHEMA_PAYLOAD_NONE },
};
#undef F

static const char *s_error_names[DRV_E_MAX] = {
    "OK", "BAD_VERSION", "BAD_FRAMES", "BAD_HEADER", "MISSING_FIELD",
    "BAD_TYPE", "UNKNOWN_COMMAND", "TOO_LARGE", "UNKNOWN_JOB", "CONFLICT",
    "JOB_CLOSED", "QUEUE_FULL", "UNEXPECTED", "DENIED", "INTERNAL", "BAD_TUPLE"
};

const char *
msg_command_name (msg_command_t command)
{
    return schema_command_valid (command)? s_commands[command].name: "UNKNOWN";
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

bool
schema_command_valid (msg_command_t command)
{
    return command > 0 && command < MSG_COMMAND_MAX;
}

schema_fields_t
schema_accepts (msg_command_t command)
{
    return schema_command_valid (command)? s_commands[command].accepts: 0;
}

schema_fields_t
schema_requires (msg_command_t command)
{
    return schema_command_valid (command)? s_commands[command].requires: 0;
}

schema_payload_t
schema_payload (msg_command_t command)
{
    return schema_command_valid (command)? s_commands[command].payload
                                         : SCHEMA_PAYLOAD_NONE;
}

bool
schema_has_tuples (msg_command_t command)
{
    schema_payload_t payload = schema_payload (command);
    return payload == SCHEMA_PAYLOAD_ANY || payload == SCHEMA_PAYLOAD_PER_REF;
}

msg_command_t
schema_command_find (const void *name, size_t size)
{
    for (int command = 1; command < MSG_COMMAND_MAX; command++)
        if (strlen (s_commands[command].name) == size
        &&  memcmp (s_commands[command].name, name, size) == 0)
            return (msg_command_t) command;
    return 0;
}

const char *
schema_field_name (msg_field_t field)
{
    return s_fields[field].name;
}

size_t
schema_field_name_size (msg_field_t field)
{
    return s_fields[field].size;
}

schema_type_t
schema_field_type (msg_field_t field)
{
    return s_fields[field].type;
}

int
schema_field_find (const void *name, size_t size)
{
    for (int field = 0; field < MSG_F_MAX; field++)
        if (s_fields[field].size == size && memcmp (s_fields[field].name, name, size) == 0)
            return field;
    return -1;
}
