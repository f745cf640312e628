//  submit_check.c -- see submit_check.h.  The broker never decodes a tuple:
//  validate_msgpack walks its bytes without building anything, so a tuple
//  no agent could decode is refused here instead of failing every attempt.
#include "broker/submit_check.h"
#include "common/keys.h"
#include "proto/validate.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOST_MAX         253         //  a DNS name
#define IPC_PATH_MAX     107         //  a Unix socket path, without its NUL

//  Write the reason and return -code.
static int
s_refuse (int code, char *reason, size_t size, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

static int
s_refuse (int code, char *reason, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (reason, size, fmt, ap);
    va_end (ap);
    return -code;
}

//  ---------------------------------------------------------------------
//  Fields

//  A host name, an IPv4 address, or an IPv6 address in brackets.
static bool
s_host_ok (const char *host, size_t length)
{
    if (length == 0 || length > HOST_MAX)
        return false;
    const char *allowed = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_";
    if (host[0] == '[') {
        host++;
        length -= 2;
        if (length == 0 || host[length] != ']')
            return false;
        allowed = "0123456789abcdefABCDEF:.%";
    }
    for (size_t i = 0; i < length; i++)
        if (!host[i] || !strchr (allowed, host[i]))
            return false;
    return true;
}

//  An endpoint an agent can connect to: tcp://HOST:PORT, port 1-65535, or
//  ipc://PATH.  Anything else (a bind address like tcp://*:5558, a typo,
//  another transport) would only fail on every agent, for every tuple.
static bool
s_endpoint_ok (const char *sink)
{
    if (!strncmp (sink, "ipc://", 6)) {
        size_t length = strlen (sink + 6);
        for (const char *c = sink + 6; *c; c++)
            if (iscntrl ((unsigned char) *c))
                return false;
        return length > 0 && length <= IPC_PATH_MAX;
    }
    if (strncmp (sink, "tcp://", 6))
        return false;
    const char *host = sink + 6;
    const char *colon = strrchr (host, ':');
    if (!colon || !s_host_ok (host, (size_t) (colon - host)))
        return false;
    const char *port = colon + 1;
    size_t digits = strspn (port, "0123456789");
    if (digits == 0 || digits > 5 || port[digits])
        return false;
    long number = strtol (port, NULL, 10);
    return number >= 1 && number <= 65535;
}

//  A sink's public key: exactly 40 Z85 characters that decode.
static bool
s_key_ok (const char *key)
{
    uint8_t bytes[KEYS_KEY_SIZE];
    char err[128];
    return strlen (key) == KEYS_Z85_SIZE
        && keys_z85_decode (key, bytes, "sink_key", err, sizeof err) == 0;
}

//  A uint field, if present, in min .. UINT32_MAX.
static bool
s_range_ok (const msg_t *msg, msg_field_t field, uint64_t min)
{
    if (!msg_has (msg, field))
        return true;
    uint64_t value = msg_uint (msg, field);
    return value >= min && value <= UINT32_MAX;
}

//  The values a new job takes from its first SUBMIT, checked on every
//  SUBMIT that carries them: a producer learns of a bad one at once.
static int
s_check_values (const msg_t *msg, const char *name, char *reason, size_t size)
{
    const char *sink = msg_str (msg, MSG_F_SINK);
    const char *sink_key = msg_str (msg, MSG_F_SINK_KEY);
    if (sink && !s_endpoint_ok (sink))
        return s_refuse (DRV_E_BAD_TYPE, reason, size, "job %.64s: sink '%.64s' is not "
                         "tcp://HOST:PORT or ipc://PATH", name, sink);
    if (sink_key && !s_key_ok (sink_key))
        return s_refuse (DRV_E_BAD_TYPE, reason, size,
                         "job %.64s: sink_key is not 40 Z85 characters of a key", name);
    if (!s_range_ok (msg, MSG_F_MAX_ATTEMPTS, 1))
        return s_refuse (DRV_E_BAD_TYPE, reason, size,
                         "job %.64s: max_attempts must be 1 to 4294967295", name);
    if (!s_range_ok (msg, MSG_F_TIMEOUT_MS, 0))
        return s_refuse (DRV_E_BAD_TYPE, reason, size,
                         "job %.64s: timeout_ms must be 0 to 4294967295", name);
    return 0;
}

//  Every WORK carries the job's fields, so they must leave room for some
//  refs, or no agent could ever take the job's tuples.  The documented
//  limit (BROKER_MAX_JOB_FIELDS) leaves room for BROKER_WORK_REFS_SURE;
//  dispatch.c sends more a WORK while every job's fields leave room.
static int
s_check_work_fits (const msg_t *msg, char *reason, size_t size)
{
    size_t options = 0;
    msg_raw (msg, MSG_F_OPTIONS, &options);
    const char *sink_key = msg_str (msg, MSG_F_SINK_KEY);
    size_t fields = strlen (msg_str (msg, MSG_F_JOB)) + strlen (msg_str (msg, MSG_F_HANDLER))
                  + strlen (msg_str (msg, MSG_F_SINK)) + (sink_key? strlen (sink_key): 0)
                  + options;
    if (fields <= BROKER_MAX_JOB_FIELDS)
        return 0;
    return s_refuse (DRV_E_TOO_LARGE, reason, size, "job %.64s: job, handler, sink, "
                     "sink_key and options take %zu bytes, over the limit of %d (every "
                     "WORK carries them)", msg_str (msg, MSG_F_JOB), fields,
                     BROKER_MAX_JOB_FIELDS);
}

int
submit_check_fields (const msg_t *msg, const job_t *job, char *reason, size_t size)
{
    const char *name = msg_str (msg, MSG_F_JOB);
    const char *batch = msg_str (msg, MSG_F_BATCH);
    const char *handler = msg_str (msg, MSG_F_HANDLER);
    const char *sink = msg_str (msg, MSG_F_SINK);
    if (!*name)
        return s_refuse (DRV_E_BAD_TYPE, reason, size, "the job name is empty");
    //  The name is the job's key in the store (LMDB keys are short).
    if (strlen (name) > BROKER_MAX_JOB_NAME)
        return s_refuse (DRV_E_TOO_LARGE, reason, size, "job name of %zu bytes, over the "
                         "limit of %d", strlen (name), BROKER_MAX_JOB_NAME);
    if (batch && (!*batch || strlen (batch) > BROKER_MAX_BATCH_ID))
        return s_refuse (*batch? DRV_E_TOO_LARGE: DRV_E_BAD_TYPE, reason, size,
                         "job %.64s: a batch id must be 1 to %d bytes, not %zu", name,
                         BROKER_MAX_BATCH_ID, strlen (batch));
    int rc = s_check_values (msg, name, reason, size);
    if (rc)
        return rc;
    if (!job && (!handler || !sink))
        return s_refuse (DRV_E_UNKNOWN_JOB, reason, size,
                         "no job %.64s (a new job needs handler and sink)", name);
    if (!job && (rc = s_check_work_fits (msg, reason, size)))
        return rc;
    if (job && ((handler && strcmp (handler, job_handler (job)))
             || (sink && strcmp (sink, job_sink (job)))))
        return s_refuse (DRV_E_CONFLICT, reason, size, "job %.64s has handler %.64s and "
                         "sink %.64s", name, job_handler (job), job_sink (job));
    return 0;
}

//  ---------------------------------------------------------------------
//  Tuples and room

//  A batch over a limit that holds even on an empty queue can never be
//  accepted: QUEUE_FULL would have the producer retry it forever.
static int
s_check_fits (size_t count, uint64_t bytes, const broker_config_t *c,
              char *reason, size_t size)
{
    const char *over = NULL;
    uint64_t limit = 0;
    if (count > c->max_job_queued)
        over = "tuples queued per job (--max-job-queued)", limit = c->max_job_queued;
    else
    if (count > c->max_queued)
        over = "tuples queued (--max-queued)", limit = c->max_queued;
    else
    if (bytes > c->max_job_queued_bytes)
        over = "bytes queued per job (--max-job-queued-bytes)", limit = c->max_job_queued_bytes;
    else
    if (bytes > c->max_queued_bytes)
        over = "bytes queued (--max-queued-bytes)", limit = c->max_queued_bytes;
    if (!over)
        return 0;
    return s_refuse (DRV_E_TOO_LARGE, reason, size, "a batch of %zu tuples, %" PRIu64
                     " bytes, can never fit: the broker takes at most %" PRIu64 " %s",
                     count, bytes, limit, over);
}

int
submit_check_tuples (const msg_t *msg, const broker_config_t *config,
                     uint64_t *bytes_p, char *reason, size_t size)
{
    size_t count = msg_tuple_count (msg);
    if (count > config->max_batch)
        return s_refuse (DRV_E_TOO_LARGE, reason, size, "%zu tuples in one SUBMIT, over "
                         "the limit of %u", count, config->max_batch);
    uint64_t bytes = 0;
    for (size_t i = 0; i < count; i++) {
        size_t tuple_size;
        msg_tuple (msg, i, &tuple_size);
        if (tuple_size > config->max_tuple_size)
            return s_refuse (DRV_E_TOO_LARGE, reason, size, "tuple %zu is %zu bytes, over "
                             "the limit of %" PRIu64, i + 1, tuple_size,
                             config->max_tuple_size);
        bytes += tuple_size;
    }
    int rc = s_check_fits (count, bytes, config, reason, size);
    if (rc)
        return rc;
    //  A version 2 frame was walked tuple by tuple as it was decoded;
    //  version 1's frames, one per tuple, are checked here.
    size_t unchecked = msg_tuples_walked (msg)? 0: count;
    for (size_t i = 0; i < unchecked; i++) {
        size_t tuple_size;
        const void *tuple = msg_tuple (msg, i, &tuple_size);
        if (validate_msgpack (tuple, tuple_size) != 0)
            return s_refuse (DRV_E_BAD_TUPLE, reason, size, "tuple %zu is not exactly one "
                             "well-formed msgpack value", i + 1);
    }
    *bytes_p = bytes;
    return 0;
}

int
submit_check_room (const job_t *job, size_t count, uint64_t bytes,
                   uint64_t queued, uint64_t held, const broker_config_t *c,
                   char *reason, size_t size)
{
    uint64_t job_queued = job? job_counters (job)->queued + job_counters (job)->waiting: 0;
    uint64_t job_held = job? job_bytes (job): 0;
    const char *name = job? job_name (job): "(new)";
    if (job_queued + count > c->max_job_queued)
        return s_refuse (DRV_E_QUEUE_FULL, reason, size, "job %.64s: %" PRIu64 " tuples "
                         "queued, limit %" PRIu64, name, job_queued, c->max_job_queued);
    if (job_held + bytes > c->max_job_queued_bytes)
        return s_refuse (DRV_E_QUEUE_FULL, reason, size, "job %.64s: %" PRIu64 " bytes "
                         "queued, limit %" PRIu64, name, job_held, c->max_job_queued_bytes);
    if (queued + count > c->max_queued)
        return s_refuse (DRV_E_QUEUE_FULL, reason, size, "%" PRIu64 " tuples queued, "
                         "limit %" PRIu64, queued, c->max_queued);
    if (held + bytes > c->max_queued_bytes)
        return s_refuse (DRV_E_QUEUE_FULL, reason, size, "%" PRIu64 " bytes queued, "
                         "limit %" PRIu64, held, c->max_queued_bytes);
    return 0;
}
