//  test_msg.c -- the protocol codec (proto/msg.c) against PROTOCOL.md: every
//  command round trips, every malformed-input class gets its own code, the
//  worked examples of section 8 decode byte for byte, and random damage to
//  valid messages never crashes the decoder.
#include "proto/msg.h"
#include "proto/wire.h"

#include "support.h"

#include <criterion/criterion.h>
#include <ctype.h>
#include <limits.h>
#include <msgpack.h>
#include <string.h>

//  ---------------------------------------------------------------------
//  What PROTOCOL.md section 4 says, restated here so that the codec's own
//  tables are checked against the spec rather than against themselves.

typedef enum { T_STR, T_UINT, T_BOOL, T_MAP, T_REFS } type_t;

static const struct { const char *name; type_t type; } s_field[MSG_F_MAX] = {
    [MSG_F_JOB] = { "job", T_STR },           [MSG_F_HANDLER] = { "handler", T_STR },
    [MSG_F_SINK] = { "sink", T_STR },         [MSG_F_OPTIONS] = { "options", T_MAP },
    [MSG_F_MAX_ATTEMPTS] = { "max_attempts", T_UINT },
    [MSG_F_TIMEOUT_MS] = { "timeout_ms", T_UINT },
    [MSG_F_CLOSE] = { "close", T_BOOL },      [MSG_F_BATCH] = { "batch", T_STR },
    [MSG_F_FIRST] = { "first", T_UINT },      [MSG_F_COUNT] = { "count", T_UINT },
    [MSG_F_CODE] = { "code", T_UINT },        [MSG_F_REASON] = { "reason", T_STR },
    [MSG_F_RETRY_MS] = { "retry_ms", T_UINT },[MSG_F_AGENT] = { "agent", T_STR },
    [MSG_F_SLOTS] = { "slots", T_UINT },      [MSG_F_CREDIT] = { "credit", T_UINT },
    [MSG_F_HEARTBEAT_MS] = { "heartbeat_ms", T_UINT },
    [MSG_F_TUPLES] = { "tuples", T_REFS },    [MSG_F_DEAD] = { "dead", T_REFS },
    [MSG_F_STATE] = { "state", T_STR },       [MSG_F_SUBMITTED] = { "submitted", T_UINT },
    [MSG_F_QUEUED] = { "queued", T_UINT },    [MSG_F_RUNNING] = { "running", T_UINT },
    [MSG_F_DONE] = { "done", T_UINT },        [MSG_F_FAILED] = { "failed", T_UINT },
    [MSG_F_LEASE_MS] = { "lease_ms", T_UINT },[MSG_F_DEAD_LETTER] = { "dead_letter", T_STR },
    [MSG_F_KEY] = { "key", T_STR },           [MSG_F_SINK_KEY] = { "sink_key", T_STR },
};

#define END (-1)
//  Fields of each command, required ones first; payload: -1 any, -2 per ref.
static const struct {
    const char *name;
    int required;           //  how many of fields[] are required
    int fields[12];
    int payloads;
} s_spec[MSG_COMMAND_MAX] = {
    [MSG_SUBMIT] = { "SUBMIT", 1, { MSG_F_JOB, MSG_F_HANDLER, MSG_F_SINK, MSG_F_OPTIONS,
        MSG_F_MAX_ATTEMPTS, MSG_F_TIMEOUT_MS, MSG_F_CLOSE, MSG_F_BATCH, MSG_F_SINK_KEY,
        END }, -1 },
    [MSG_ACCEPTED] = { "ACCEPTED", 3, { MSG_F_JOB, MSG_F_FIRST, MSG_F_COUNT,
        MSG_F_BATCH, END }, 0 },
    [MSG_ERROR] = { "ERROR", 2, { MSG_F_CODE, MSG_F_REASON, MSG_F_RETRY_MS,
        MSG_F_BATCH, END }, 0 },
    [MSG_STATUS] = { "STATUS", 1, { MSG_F_JOB, END }, 0 },
    [MSG_JOB] = { "JOB", 7, { MSG_F_JOB, MSG_F_STATE, MSG_F_SUBMITTED, MSG_F_QUEUED,
        MSG_F_RUNNING, MSG_F_DONE, MSG_F_FAILED, END }, 0 },
    [MSG_HELLO] = { "HELLO", 2, { MSG_F_AGENT, MSG_F_SLOTS, END }, 0 },
    [MSG_WELCOME] = { "WELCOME", 1, { MSG_F_HEARTBEAT_MS, END }, 0 },
    [MSG_CREDIT] = { "CREDIT", 1, { MSG_F_CREDIT, END }, 0 },
    [MSG_WORK] = { "WORK", 4, { MSG_F_JOB, MSG_F_HANDLER, MSG_F_SINK, MSG_F_TUPLES,
        MSG_F_OPTIONS, MSG_F_MAX_ATTEMPTS, MSG_F_TIMEOUT_MS, MSG_F_LEASE_MS,
        MSG_F_DEAD_LETTER, MSG_F_SINK_KEY, END }, -2 },
    [MSG_DONE] = { "DONE", 2, { MSG_F_JOB, MSG_F_TUPLES, MSG_F_DEAD, END }, 0 },
    [MSG_RETRY] = { "RETRY", 2, { MSG_F_JOB, MSG_F_TUPLES, MSG_F_REASON, END }, 0 },
    [MSG_HEARTBEAT] = { "HEARTBEAT", 0, { END }, 0 },
    [MSG_BYE] = { "BYE", 0, { END }, 0 },
    [MSG_RESULT] = { "RESULT", 3, { MSG_F_JOB, MSG_F_AGENT, MSG_F_TUPLES, MSG_F_KEY,
        END }, 1 },
    [MSG_STORED] = { "STORED", 2, { MSG_F_JOB, MSG_F_TUPLES, MSG_F_DEAD, END }, 0 },
    [MSG_TOUCH] = { "TOUCH", 3, { MSG_F_JOB, MSG_F_TUPLES, MSG_F_LEASE_MS, END }, 0 },
};

static const msg_ref_t s_refs[3] = { { 1, 1 }, { 300, 2 }, { 5000000000ULL, UINT32_MAX } };
static const uint8_t s_options[] = { 0x81, 0xa4, 'p', 'o', 'r', 't', 0xcd, 0x01, 0xbb };

//  A distinct value per field, so that mixed-up fields would show.
static void
s_set_field (msg_t *msg, int field)
{
    char text[32];
    snprintf (text, sizeof text, "v-%s", s_field[field].name);
    int rc = -1;
    switch (s_field[field].type) {
        case T_STR:  rc = msg_set_str (msg, field, text); break;
        case T_UINT: rc = msg_set_uint (msg, field, 1000u * (unsigned) field + 7); break;
        case T_BOOL: rc = msg_set_bool (msg, field, true); break;
        case T_MAP:  rc = msg_set_raw (msg, field, s_options, sizeof s_options); break;
        case T_REFS: rc = msg_set_refs (msg, field, s_refs, field == MSG_F_DEAD? 2: 3); break;
    }
    cr_assert_eq (rc, 0, "set %s", s_field[field].name);
}

static void
s_check_field (const msg_t *msg, int field)
{
    char text[32];
    snprintf (text, sizeof text, "v-%s", s_field[field].name);
    cr_assert (msg_has (msg, field), "has %s", s_field[field].name);
    size_t size;
    const uint8_t *raw;
    const msg_ref_t *refs;
    switch (s_field[field].type) {
        case T_STR:  cr_assert_str_eq (msg_str (msg, field), text); break;
        case T_UINT: cr_assert_eq (msg_uint (msg, field), 1000u * (unsigned) field + 7); break;
        case T_BOOL: cr_assert (msg_bool (msg, field)); break;
        case T_MAP:
            raw = msg_raw (msg, field, &size);
            cr_assert_eq (size, sizeof s_options);
            cr_assert (memcmp (raw, s_options, size) == 0);
            break;
        case T_REFS:
            refs = msg_refs (msg, field, &size);
            cr_assert_eq (size, field == MSG_F_DEAD? 2u: 3u);
            for (size_t i = 0; i < size; i++) {
                cr_assert_eq (refs[i].id, s_refs[i].id);
                cr_assert_eq (refs[i].attempt, s_refs[i].attempt);
            }
            break;
    }
}

static int
s_payloads_for (int command)
{
    int rule = s_spec[command].payloads;
    return rule == -1? 4: rule == -2? 3: rule;
}

//  A valid message of the command with all its fields and payloads set,
//  leaving out field `skip` (or none if -1).
static msg_t *
s_full (int command, int skip)
{
    msg_t *msg = msg_new (command);
    cr_assert_not_null (msg);
    for (int i = 0; s_spec[command].fields[i] != END; i++)
        if (s_spec[command].fields[i] != skip)
            s_set_field (msg, s_spec[command].fields[i]);
    for (int i = 0; i < s_payloads_for (command); i++) {
        zframe_t *frame = zframe_new (&i, sizeof i);
        msg_payload_append (msg, &frame);
        cr_assert_null (frame);
    }
    return msg;
}

static int
s_decode (zmsg_t *zmsg, msg_t **msg_p)
{
    msg_t *msg = NULL;
    int rc = wire_decode (&zmsg, &msg);
    cr_assert_null (zmsg, "decode takes the zmsg");
    if (rc)
        cr_assert_null (msg);
    if (msg_p)
        *msg_p = msg;
    else
        msg_destroy (&msg);
    return rc;
}

Test (msg, round_trip_every_command)
{
    for (int command = MSG_SUBMIT; command < MSG_COMMAND_MAX; command++) {
        msg_t *msg = s_full (command, -1);
        cr_assert_eq ((int) msg_command (msg), command);
        cr_assert_str_eq (msg_command_name (command), s_spec[command].name);
        zmsg_t *zmsg = wire_encode (&msg);
        cr_assert_null (msg);
        cr_assert_eq (zmsg_size (zmsg), 3u + (size_t) s_payloads_for (command));
        cr_assert (zframe_streq (zmsg_first (zmsg), "DRV1"));
        cr_assert (zframe_streq (zmsg_next (zmsg), s_spec[command].name));

        cr_assert_eq (s_decode (zmsg, &msg), 0, "%s", s_spec[command].name);
        cr_assert_eq ((int) msg_command (msg), command);
        int nfields = 0;
        for (int i = 0; s_spec[command].fields[i] != END; i++, nfields++)
            s_check_field (msg, s_spec[command].fields[i]);
        for (int field = 0; field < MSG_F_MAX; field++) {
            bool listed = false;
            for (int i = 0; i < nfields; i++)
                listed |= s_spec[command].fields[i] == field;
            //  A field the command does not carry cannot be set or decoded.
            if (!listed) {
                cr_assert_not (msg_has (msg, field));
                int rc = -1;
                switch (s_field[field].type) {
                    case T_STR:  rc = msg_set_str (msg, field, "x"); break;
                    case T_UINT: rc = msg_set_uint (msg, field, 1); break;
                    case T_BOOL: rc = msg_set_bool (msg, field, true); break;
                    case T_MAP:  rc = msg_set_raw (msg, field, s_options, sizeof s_options); break;
                    case T_REFS: rc = msg_set_refs (msg, field, s_refs, 1); break;
                }
                cr_assert_eq (rc, -DRV_E_BAD_TYPE, "%s.%s", s_spec[command].name,
                              s_field[field].name);
            }
        }
        cr_assert_eq (msg_payload_count (msg), (size_t) s_payloads_for (command));
        for (int i = 0; i < s_payloads_for (command); i++) {
            zframe_t *frame = msg_payload (msg, (size_t) i);
            cr_assert_eq (zframe_size (frame), sizeof i);
            cr_assert (memcmp (zframe_data (frame), &i, sizeof i) == 0);
        }
        cr_assert_null (msg_payload (msg, (size_t) s_payloads_for (command)));
        msg_destroy (&msg);
        cr_assert_null (msg);
    }
}

Test (msg, missing_required_field)
{
    for (int command = MSG_SUBMIT; command < MSG_COMMAND_MAX; command++)
        for (int i = 0; i < s_spec[command].required; i++) {
            int field = s_spec[command].fields[i];
            msg_t *msg = s_full (command, field);
            zmsg_t *zmsg = wire_encode (&msg);
            //  WORK without tuples: the missing field wins over the payload rule.
            cr_assert_eq (s_decode (zmsg, NULL), -DRV_E_MISSING_FIELD, "%s without %s",
                          s_spec[command].name, s_field[field].name);
        }
}

Test (msg, optional_fields_may_be_absent)
{
    for (int command = MSG_SUBMIT; command < MSG_COMMAND_MAX; command++) {
        msg_t *msg = msg_new (command);
        for (int i = 0; i < s_spec[command].required; i++)
            s_set_field (msg, s_spec[command].fields[i]);
        for (int i = 0; i < s_payloads_for (command); i++) {
            zframe_t *frame = zframe_new ("t", 1);
            msg_payload_append (msg, &frame);
        }
        zmsg_t *zmsg = wire_encode (&msg);
        cr_assert_eq (s_decode (zmsg, &msg), 0, "%s", s_spec[command].name);
        for (int i = s_spec[command].required; s_spec[command].fields[i] != END; i++)
            cr_assert_not (msg_has (msg, s_spec[command].fields[i]));
        msg_destroy (&msg);
    }
}

Test (msg, getters_on_absent_and_mismatched_fields)
{
    msg_t *msg = msg_new (MSG_SUBMIT);
    size_t size = 99;
    cr_assert_not (msg_has (msg, MSG_F_JOB));
    cr_assert_null (msg_str (msg, MSG_F_JOB));
    cr_assert_eq (msg_uint (msg, MSG_F_MAX_ATTEMPTS), 0);
    cr_assert_not (msg_bool (msg, MSG_F_CLOSE));
    cr_assert_null (msg_raw (msg, MSG_F_OPTIONS, &size));
    cr_assert_eq (size, 0);
    size = 99;
    cr_assert_null (msg_refs (msg, MSG_F_TUPLES, &size));
    cr_assert_eq (size, 0);
    cr_assert_eq (msg_payload_count (msg), 0);
    cr_assert_null (msg_payload (msg, 0));
    cr_assert_null (msg_payload_pop (msg));
    cr_assert_not (msg_has (msg, MSG_F_MAX));

    //  Present, but asked for as another type.
    cr_assert_eq (msg_set_str (msg, MSG_F_JOB, "j"), 0);
    cr_assert_eq (msg_set_uint (msg, MSG_F_TIMEOUT_MS, 0), 0);
    cr_assert (msg_has (msg, MSG_F_TIMEOUT_MS), "has tells absent from zero");
    cr_assert_eq (msg_uint (msg, MSG_F_JOB), 0);
    cr_assert_null (msg_str (msg, MSG_F_TIMEOUT_MS));
    cr_assert_not (msg_bool (msg, MSG_F_JOB));
    cr_assert_null (msg_raw (msg, MSG_F_JOB, NULL));
    cr_assert_null (msg_refs (msg, MSG_F_JOB, NULL));

    //  Setting NULL unsets; setting again replaces.
    cr_assert_eq (msg_set_str (msg, MSG_F_JOB, "a"), 0);
    cr_assert_eq (msg_set_str (msg, MSG_F_JOB, "b"), 0);
    cr_assert_str_eq (msg_str (msg, MSG_F_JOB), "b");
    cr_assert_eq (msg_set_str (msg, MSG_F_JOB, NULL), 0);
    cr_assert_not (msg_has (msg, MSG_F_JOB));
    msg_destroy (&msg);
    msg_destroy (&msg);     //  NULL after the first: harmless
}

Test (msg, setters_reject_wrong_type)
{
    msg_t *msg = msg_new (MSG_SUBMIT);
    cr_assert_eq (msg_set_str (msg, MSG_F_MAX_ATTEMPTS, "3"), -DRV_E_BAD_TYPE);
    cr_assert_eq (msg_set_uint (msg, MSG_F_JOB, 3), -DRV_E_BAD_TYPE);
    cr_assert_eq (msg_set_bool (msg, MSG_F_JOB, true), -DRV_E_BAD_TYPE);
    cr_assert_eq (msg_set_raw (msg, MSG_F_JOB, s_options, sizeof s_options), -DRV_E_BAD_TYPE);
    cr_assert_eq (msg_set_refs (msg, MSG_F_JOB, s_refs, 1), -DRV_E_BAD_TYPE);
    cr_assert_eq (msg_set_uint (msg, MSG_F_MAX, 3), -DRV_E_BAD_TYPE);
    cr_assert_eq (msg_set_uint (msg, (msg_field_t) -1, 3), -DRV_E_BAD_TYPE);
    //  options must be one whole msgpack map.
    const uint8_t array[] = { 0x91, 0x01 };
    const uint8_t trailing[] = { 0x80, 0x01 };
    const uint8_t truncated[] = { 0x81, 0xa1 };
    cr_assert_eq (msg_set_raw (msg, MSG_F_OPTIONS, array, sizeof array), -DRV_E_BAD_TYPE);
    cr_assert_eq (msg_set_raw (msg, MSG_F_OPTIONS, trailing, 2), -DRV_E_BAD_TYPE);
    cr_assert_eq (msg_set_raw (msg, MSG_F_OPTIONS, truncated, 2), -DRV_E_BAD_TYPE);
    cr_assert_eq (msg_set_raw (msg, MSG_F_OPTIONS, s_options, 0), -DRV_E_BAD_TYPE);
    cr_assert_not (msg_has (msg, MSG_F_OPTIONS));
    cr_assert_eq (msg_set_raw (msg, MSG_F_OPTIONS, trailing, 1), 0);
    msg_destroy (&msg);

    msg = msg_new (MSG_DONE);
    cr_assert_eq (msg_set_refs (msg, MSG_F_TUPLES, NULL, 0), 0);
    cr_assert (msg_has (msg, MSG_F_TUPLES), "an empty refs array is present");
    cr_assert_eq (msg_set_refs (msg, MSG_F_TUPLES, s_refs, MSG_MAX_REFS + 1), -DRV_E_TOO_LARGE);
    msg_destroy (&msg);

    cr_assert_null (msg_new (0));
    cr_assert_null (msg_new (MSG_COMMAND_MAX));
}

Test (msg, names)
{
    cr_assert_str_eq (msg_error_name (DRV_E_BAD_VERSION), "BAD_VERSION");
    cr_assert_str_eq (msg_error_name (-DRV_E_INTERNAL), "INTERNAL");
    cr_assert_str_eq (msg_error_name (-DRV_E_TOO_LARGE), "TOO_LARGE");
    cr_assert_str_eq (msg_error_name (0), "OK");
    cr_assert_str_eq (msg_error_name (DRV_E_MAX), "UNKNOWN");
    cr_assert_str_eq (msg_error_name (INT_MIN), "UNKNOWN");
    cr_assert_str_eq (msg_command_name (MSG_HEARTBEAT), "HEARTBEAT");
    cr_assert_str_eq (msg_command_name (MSG_COMMAND_MAX), "UNKNOWN");
}

Test (msg, payload_queue)
{
    msg_t *msg = msg_new (MSG_SUBMIT);
    zframe_t *frame = NULL;
    msg_payload_append (msg, &frame);   //  NULL frame: nothing
    cr_assert_eq (msg_payload_count (msg), 0);
    //  Interleave appends and pops past the initial capacity.
    size_t next_in = 0, next_out = 0;
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 7; i++) {
            frame = zframe_new (&next_in, sizeof next_in);
            next_in++;
            msg_payload_append (msg, &frame);
        }
        for (int i = 0; i < 3; i++) {
            frame = msg_payload_pop (msg);
            cr_assert (memcmp (zframe_data (frame), &next_out, sizeof next_out) == 0);
            next_out++;
            zframe_destroy (&frame);
        }
        cr_assert_eq (msg_payload_count (msg), next_in - next_out);
        size_t first;
        memcpy (&first, zframe_data (msg_payload (msg, 0)), sizeof first);
        cr_assert_eq (first, next_out);
    }
    msg_destroy (&msg);
}

//  ---------------------------------------------------------------------
//  Malformed input, one distinct code per class

static zframe_t *
s_hex (const char *hex)
{
    uint8_t bytes[256];
    size_t size = 0;
    for (const char *p = hex; *p; ) {
        if (*p == ' ') {
            p++;
            continue;
        }
        unsigned byte;
        cr_assert_eq (sscanf (p, "%2x", &byte), 1);
        cr_assert_lt (size, sizeof bytes);
        bytes[size++] = (uint8_t) byte;
        p += 2;
    }
    return zframe_new (bytes, size);
}

//  Decode [signature, command, header from hex, payloads x "t"]; NULL
//  signature or command leaves that frame (and the ones after) out.
static int
s_try (const char *signature, const char *command, const char *header, int payloads)
{
    zmsg_t *zmsg = zmsg_new ();
    if (signature)
        zmsg_addstr (zmsg, signature);
    if (signature && command)
        zmsg_addstr (zmsg, command);
    if (signature && command && header) {
        zframe_t *frame = s_hex (header);
        zmsg_append (zmsg, &frame);
        for (int i = 0; i < payloads; i++)
            zmsg_addstr (zmsg, "t");
    }
    return s_decode (zmsg, NULL);
}

//  Headers used below, as msgpack hex.
#define H_STATUS  "81 a3 6a6f62 a1 61"                  //  {"job": "a"}
#define H_HELLO   "82 a5 6167656e74 a1 61 a5 736c6f7473 05"   //  {"agent": "a", "slots": 5}

Test (msg, bad_signature_and_version)
{
    cr_assert_eq (s_try ("DRV1", "STATUS", H_STATUS, 0), 0);
    cr_assert_eq (s_try ("DRV9", "STATUS", H_STATUS, 0), -DRV_E_BAD_VERSION);
    cr_assert_eq (s_try ("DRV0", "STATUS", H_STATUS, 0), -DRV_E_BAD_VERSION);
    cr_assert_eq (s_try ("DRV", "STATUS", H_STATUS, 0), -DRV_E_BAD_FRAMES);
    cr_assert_eq (s_try ("DRV12", "STATUS", H_STATUS, 0), -DRV_E_BAD_FRAMES);
    cr_assert_eq (s_try ("DRVx", "STATUS", H_STATUS, 0), -DRV_E_BAD_FRAMES);
    cr_assert_eq (s_try ("drv1", "STATUS", H_STATUS, 0), -DRV_E_BAD_FRAMES);
    cr_assert_eq (s_try ("", "STATUS", H_STATUS, 0), -DRV_E_BAD_FRAMES);
    //  A message that forgot the signature: the command lands in frame 0.
    cr_assert_eq (s_try ("STATUS", H_STATUS, NULL, 0), -DRV_E_BAD_FRAMES);
    cr_assert_eq (s_try (NULL, NULL, NULL, 0), -DRV_E_BAD_FRAMES);
    zmsg_t *none = NULL;
    msg_t *msg = NULL;
    cr_assert_eq (wire_decode (&none, &msg), -DRV_E_BAD_FRAMES);
    cr_assert_eq (wire_decode (NULL, &msg), -DRV_E_BAD_FRAMES);
}

Test (msg, missing_frames_and_unknown_command)
{
    cr_assert_eq (s_try ("DRV1", NULL, NULL, 0), -DRV_E_BAD_FRAMES);
    cr_assert_eq (s_try ("DRV1", "STATUS", NULL, 0), -DRV_E_BAD_FRAMES);
    cr_assert_eq (s_try ("DRV1", "FROB", H_STATUS, 0), -DRV_E_UNKNOWN_COMMAND);
    cr_assert_eq (s_try ("DRV1", "status", H_STATUS, 0), -DRV_E_UNKNOWN_COMMAND);
    cr_assert_eq (s_try ("DRV1", "STATU", H_STATUS, 0), -DRV_E_UNKNOWN_COMMAND);
    cr_assert_eq (s_try ("DRV1", "STATUSX", H_STATUS, 0), -DRV_E_UNKNOWN_COMMAND);
    cr_assert_eq (s_try ("DRV1", "", H_STATUS, 0), -DRV_E_UNKNOWN_COMMAND);
    //  An unknown command is reported even when its header is missing.
    cr_assert_eq (s_try ("DRV1", "FROB", NULL, 0), -DRV_E_UNKNOWN_COMMAND);
}

Test (msg, bad_header)
{
    cr_assert_eq (s_try ("DRV1", "HEARTBEAT", "80", 0), 0);
    cr_assert_eq (s_try ("DRV1", "HEARTBEAT", "", 0), -DRV_E_BAD_HEADER);
    //  Not msgpack (JSON text), truncated, not a map, non-str key, trailing bytes.
    cr_assert_eq (s_try ("DRV1", "STATUS", "7b226a6f62223a2261227d", 0), -DRV_E_BAD_HEADER);
    cr_assert_eq (s_try ("DRV1", "STATUS", "81 a3 6a6f62 a1", 0), -DRV_E_BAD_HEADER);
    cr_assert_eq (s_try ("DRV1", "STATUS", "81 a3 6a6f62", 0), -DRV_E_BAD_HEADER);
    cr_assert_eq (s_try ("DRV1", "STATUS", "81", 0), -DRV_E_BAD_HEADER);
    cr_assert_eq (s_try ("DRV1", "STATUS", "92 a3 6a6f62 a1 61", 0), -DRV_E_BAD_HEADER);
    cr_assert_eq (s_try ("DRV1", "STATUS", "a3 6a6f62", 0), -DRV_E_BAD_HEADER);
    cr_assert_eq (s_try ("DRV1", "STATUS", "c0", 0), -DRV_E_BAD_HEADER);
    cr_assert_eq (s_try ("DRV1", "STATUS", "82 a3 6a6f62 a1 61 01 02", 0), -DRV_E_BAD_HEADER);
    cr_assert_eq (s_try ("DRV1", "STATUS", "82 a3 6a6f62 a1 61 c4 01 6a 02", 0), -DRV_E_BAD_HEADER);
    cr_assert_eq (s_try ("DRV1", "STATUS", H_STATUS " 80", 0), -DRV_E_BAD_HEADER);
    cr_assert_eq (s_try ("DRV1", "STATUS", H_STATUS " 00", 0), -DRV_E_BAD_HEADER);
    cr_assert_eq (s_try ("DRV1", "STATUS", "c1", 0), -DRV_E_BAD_HEADER);
    //  Claims of huge containers in a few bytes are refused before any
    //  allocation (map32 of 2^32-1 pairs, array32 inside a map).
    cr_assert_eq (s_try ("DRV1", "STATUS", "df ffffffff", 0), -DRV_E_BAD_HEADER);
    cr_assert_eq (s_try ("DRV1", "STATUS", "81 a1 78 dd 7fffffff", 0), -DRV_E_BAD_HEADER);
    cr_assert_eq (s_try ("DRV1", "STATUS", "81 a1 78 db ffffffff", 0), -DRV_E_BAD_HEADER);
    //  A known key twice is ambiguous: refused rather than guessed.
    cr_assert_eq (s_try ("DRV1", "STATUS", "82 a3 6a6f62 a1 61 a3 6a6f62 a1 62", 0),
                  -DRV_E_BAD_HEADER);
}

Test (msg, unknown_keys_are_ignored)
{
    //  {"job": "a", "zz": [nil, {}], "slots": "not-for-status", "x": 1.5}
    msg_t *msg;
    zmsg_t *zmsg = zmsg_new ();
    zmsg_addstr (zmsg, "DRV1");
    zmsg_addstr (zmsg, "STATUS");
    zframe_t *frame = s_hex ("84 a3 6a6f62 a1 61 a2 7a7a 92 c0 80 a5 736c6f7473 a1 78"
                             " a1 78 cb 3ff8000000000000");
    zmsg_append (zmsg, &frame);
    cr_assert_eq (s_decode (zmsg, &msg), 0);
    cr_assert_str_eq (msg_str (msg, MSG_F_JOB), "a");
    cr_assert_not (msg_has (msg, MSG_F_SLOTS));
    msg_destroy (&msg);
    //  An unknown key may repeat; it is not ours to judge.
    cr_assert_eq (s_try ("DRV1", "STATUS", "83 a3 6a6f62 a1 61 a1 78 01 a1 78 02", 0), 0);
}

Test (msg, deep_nesting_is_refused)
{
    //  {"job": "a", "x": [[[...]]]} nested 1000 deep: msgpack-c's parse
    //  stack is 32 levels; deeper is BAD_HEADER, never a stack overflow.
    uint8_t header[1100];
    const uint8_t head[] = { 0x82, 0xa3, 'j', 'o', 'b', 0xa1, 'a', 0xa1, 'x' };
    memcpy (header, head, sizeof head);
    memset (header + sizeof head, 0x91, 1000);
    header[sizeof head + 1000] = 0xc0;
    zmsg_t *zmsg = zmsg_new ();
    zmsg_addstr (zmsg, "DRV1");
    zmsg_addstr (zmsg, "STATUS");
    zmsg_addmem (zmsg, header, sizeof head + 1001);
    cr_assert_eq (s_decode (zmsg, NULL), -DRV_E_BAD_HEADER);
}

Test (msg, options_are_kept_as_an_equal_map)
{
    //  SUBMIT {"job": "a", "options": map16 {"n": uint64 7}}: the decoder
    //  hands back the same map, packed in the shortest form.
    msg_t *msg;
    zmsg_t *zmsg = zmsg_new ();
    zmsg_addstr (zmsg, "DRV1");
    zmsg_addstr (zmsg, "SUBMIT");
    zframe_t *frame = s_hex ("82 a3 6a6f62 a1 61 a7 6f7074696f6e73 de 0001 a1 6e"
                             " cf 0000000000000007");
    zmsg_append (zmsg, &frame);
    cr_assert_eq (s_decode (zmsg, &msg), 0);
    size_t size;
    const uint8_t *raw = msg_raw (msg, MSG_F_OPTIONS, &size);
    const uint8_t expect[] = { 0x81, 0xa1, 'n', 0x07 };
    cr_assert_eq (size, sizeof expect);
    cr_assert (memcmp (raw, expect, size) == 0);
    msg_destroy (&msg);
}

Test (msg, header_size_limit)
{
    //  {"job": "a", "pad": <str8/16 of n bytes>} sized to exactly the limit,
    //  then one byte over.
    for (int over = 0; over <= 1; over++) {
        size_t size = MSG_MAX_HEADER + (size_t) over;
        uint8_t *header = malloc (size);
        const uint8_t head[] = { 0x82, 0xa3, 'j', 'o', 'b', 0xa1, 'a', 0xa3, 'p', 'a', 'd', 0xda };
        memcpy (header, head, sizeof head);
        size_t pad = size - sizeof head - 2;
        header[sizeof head] = (uint8_t) (pad >> 8);
        header[sizeof head + 1] = (uint8_t) pad;
        memset (header + sizeof head + 2, 'p', pad);
        zmsg_t *zmsg = zmsg_new ();
        zmsg_addstr (zmsg, "DRV1");
        zmsg_addstr (zmsg, "STATUS");
        zmsg_addmem (zmsg, header, size);
        free (header);
        cr_assert_eq (s_decode (zmsg, NULL), over? -DRV_E_TOO_LARGE: 0, "size %zu", size);
    }
}

Test (msg, wrong_types)
{
    //  str where uint belongs, and uint where str belongs.
    cr_assert_eq (s_try ("DRV1", "HELLO", "82 a5 6167656e74 a1 61 a5 736c6f7473 a1 35", 0),
                  -DRV_E_BAD_TYPE);
    cr_assert_eq (s_try ("DRV1", "HELLO", "82 a5 6167656e74 07 a5 736c6f7473 05", 0),
                  -DRV_E_BAD_TYPE);
    //  bin is not str; a str with a NUL cannot become a C string.
    cr_assert_eq (s_try ("DRV1", "STATUS", "81 a3 6a6f62 c4 01 61", 0), -DRV_E_BAD_TYPE);
    cr_assert_eq (s_try ("DRV1", "STATUS", "81 a3 6a6f62 a2 6100", 0), -DRV_E_BAD_TYPE);
    //  Negative ints, floats, nil and bools are not uints; any width of a
    //  non-negative int is (int8 0x05, uint64).
    const char *slots[] = { "ff", "d0 fb", "d3 ffffffffffffffff", "ca 40a00000", "c0", "c3" };
    for (size_t i = 0; i < sizeof slots / sizeof *slots; i++) {
        char header[128];
        snprintf (header, sizeof header, "82 a5 6167656e74 a1 61 a5 736c6f7473 %s", slots[i]);
        cr_assert_eq (s_try ("DRV1", "HELLO", header, 0), -DRV_E_BAD_TYPE, "slots %s", slots[i]);
    }
    cr_assert_eq (s_try ("DRV1", "HELLO", "82 a5 6167656e74 a1 61 a5 736c6f7473 d0 05", 0), 0);
    cr_assert_eq (s_try ("DRV1", "HELLO",
                         "82 a5 6167656e74 a1 61 a5 736c6f7473 cf ffffffffffffffff", 0), 0);
    //  bool: 1 is not true.  map: an array is not a map.
    cr_assert_eq (s_try ("DRV1", "SUBMIT", "82 a3 6a6f62 a1 61 a5 636c6f7365 01", 0),
                  -DRV_E_BAD_TYPE);
    cr_assert_eq (s_try ("DRV1", "SUBMIT", "82 a3 6a6f62 a1 61 a7 6f7074696f6e73 90", 0),
                  -DRV_E_BAD_TYPE);
}

//  DONE {"job": "a", "tuples": <refs>}
static int
s_try_refs (const char *refs)
{
    char header[256];
    snprintf (header, sizeof header, "82 a3 6a6f62 a1 61 a6 7475706c6573 %s", refs);
    return s_try ("DRV1", "DONE", header, 0);
}

Test (msg, malformed_refs)
{
    cr_assert_eq (s_try_refs ("90"), 0);
    cr_assert_eq (s_try_refs ("92 92 01 01 92 cf 0000000100000000 ce ffffffff"), 0);
    cr_assert_eq (s_try_refs ("01"), -DRV_E_BAD_TYPE);              //  not an array
    cr_assert_eq (s_try_refs ("80"), -DRV_E_BAD_TYPE);
    cr_assert_eq (s_try_refs ("92 01 01"), -DRV_E_BAD_TYPE);        //  flat, not pairs
    cr_assert_eq (s_try_refs ("91 91 01"), -DRV_E_BAD_TYPE);        //  pair of one
    cr_assert_eq (s_try_refs ("91 93 01 01 01"), -DRV_E_BAD_TYPE);  //  pair of three
    cr_assert_eq (s_try_refs ("91 92 a1 31 01"), -DRV_E_BAD_TYPE);  //  id a str
    cr_assert_eq (s_try_refs ("91 92 01 ff"), -DRV_E_BAD_TYPE);     //  attempt -1
    cr_assert_eq (s_try_refs ("91 92 01 cf 0000000100000000"), -DRV_E_BAD_TYPE); //  > uint32
    cr_assert_eq (s_try_refs ("92 92 01 01 c0"), -DRV_E_BAD_TYPE);  //  second not a pair

    msg_t *msg;
    zmsg_t *zmsg = zmsg_new ();
    zmsg_addstr (zmsg, "DRV1");
    zmsg_addstr (zmsg, "DONE");
    zframe_t *frame = s_hex ("83 a3 6a6f62 a1 61 a6 7475706c6573 92 92 01 01 92 cf"
                             " 0000000100000000 ce ffffffff a4 64656164 90");
    zmsg_append (zmsg, &frame);
    cr_assert_eq (s_decode (zmsg, &msg), 0);
    size_t count;
    const msg_ref_t *refs = msg_refs (msg, MSG_F_TUPLES, &count);
    cr_assert_eq (count, 2);
    cr_assert_eq (refs[1].id, 1ULL << 32);
    cr_assert_eq (refs[1].attempt, UINT32_MAX);
    cr_assert (msg_has (msg, MSG_F_DEAD));
    msg_refs (msg, MSG_F_DEAD, &count);
    cr_assert_eq (count, 0);
    msg_destroy (&msg);
}

Test (msg, too_many_refs_and_payloads)
{
    //  More refs than MSG_MAX_REFS cannot fit in a header under the header
    //  limit either: the decoder says TOO_LARGE whichever it sees first.
    size_t count = MSG_MAX_REFS + 1;
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 2);
    msgpack_pack_str_with_body (&pk, "job", 3);
    msgpack_pack_str_with_body (&pk, "a", 1);
    msgpack_pack_str_with_body (&pk, "tuples", 6);
    msgpack_pack_array (&pk, count);
    for (size_t i = 0; i < count; i++) {
        msgpack_pack_array (&pk, 2);
        msgpack_pack_uint64 (&pk, 1);
        msgpack_pack_uint64 (&pk, 1);
    }
    zmsg_t *zmsg = zmsg_new ();
    zmsg_addstr (zmsg, "DRV1");
    zmsg_addstr (zmsg, "DONE");
    zmsg_addmem (zmsg, sbuf.data, sbuf.size);
    msgpack_sbuffer_destroy (&sbuf);
    cr_assert_eq (s_decode (zmsg, NULL), -DRV_E_TOO_LARGE);

    //  A SUBMIT may carry MSG_MAX_PAYLOADS tuples, not one more.
    for (int over = 0; over <= 1; over++) {
        zmsg = zmsg_new ();
        zmsg_addstr (zmsg, "DRV1");
        zmsg_addstr (zmsg, "SUBMIT");
        zframe_t *frame = s_hex (H_STATUS);
        zmsg_append (zmsg, &frame);
        for (int i = 0; i < MSG_MAX_PAYLOADS + over; i++)
            zmsg_addmem (zmsg, "t", 1);
        msg_t *msg;
        cr_assert_eq (s_decode (zmsg, &msg), over? -DRV_E_TOO_LARGE: 0);
        if (!over)
            cr_assert_eq (msg_payload_count (msg), MSG_MAX_PAYLOADS);
        msg_destroy (&msg);
    }
}

Test (msg, wrong_payload_count)
{
    //  WORK {"job", "handler", "sink", "tuples": [[1,1],[2,1]]}: two frames.
    const char *work = "84 a3 6a6f62 a1 61 a7 68616e646c6572 a1 68 a4 73696e6b a1 73"
                       " a6 7475706c6573 92 92 01 01 92 02 01";
    cr_assert_eq (s_try ("DRV1", "WORK", work, 2), 0);
    cr_assert_eq (s_try ("DRV1", "WORK", work, 1), -DRV_E_BAD_FRAMES);
    cr_assert_eq (s_try ("DRV1", "WORK", work, 3), -DRV_E_BAD_FRAMES);
    cr_assert_eq (s_try ("DRV1", "WORK", work, 0), -DRV_E_BAD_FRAMES);
    const char *result = "83 a3 6a6f62 a1 61 a5 6167656e74 a1 61 a6 7475706c6573 91 92 01 01";
    cr_assert_eq (s_try ("DRV1", "RESULT", result, 1), 0);
    cr_assert_eq (s_try ("DRV1", "RESULT", result, 0), -DRV_E_BAD_FRAMES);
    cr_assert_eq (s_try ("DRV1", "RESULT", result, 2), -DRV_E_BAD_FRAMES);
    cr_assert_eq (s_try ("DRV1", "HELLO", H_HELLO, 0), 0);
    cr_assert_eq (s_try ("DRV1", "HELLO", H_HELLO, 1), -DRV_E_BAD_FRAMES);
    cr_assert_eq (s_try ("DRV1", "HEARTBEAT", "80", 1), -DRV_E_BAD_FRAMES);
    cr_assert_eq (s_try ("DRV1", "SUBMIT", H_STATUS, 0), 0);
}

//  ---------------------------------------------------------------------
//  Envelopes and real sockets

static zmsg_t *
s_zmsg (int count, ...)
{
    zmsg_t *zmsg = zmsg_new ();
    va_list ap;
    va_start (ap, count);
    for (int i = 0; i < count; i++)
        zmsg_addstr (zmsg, va_arg (ap, const char *));
    va_end (ap);
    return zmsg;
}

Test (msg, empty_payload_frame)
{
    //  An empty tuple frame is no tuple (and empty frames stay delimiters).
    zmsg_t *zmsg = s_zmsg (6, "DRV1", "SUBMIT", "hdr", "\x91\x01", "", "\x91\x02");
    zmsg_first (zmsg);
    zmsg_next (zmsg);
    zframe_t *header = zmsg_next (zmsg);
    zframe_reset (header, "\x81\xa3job\xa1j", 7);
    cr_assert_eq (s_decode (zmsg, NULL), -DRV_E_BAD_FRAMES);
}

Test (msg, envelope_pop)
{
    //  REQ-style: identity, empty delimiter, body.
    zmsg_t *zmsg = s_zmsg (5, "id1", "", "DRV1", "STATUS", "x");
    zmsg_t *envelope = wire_envelope_pop (zmsg);
    cr_assert_eq (zmsg_size (envelope), 2);
    cr_assert (zframe_streq (zmsg_first (envelope), "id1"));
    cr_assert_eq (zframe_size (zmsg_next (envelope)), 0);
    cr_assert_eq (zmsg_size (zmsg), 3);
    cr_assert (zframe_streq (zmsg_first (zmsg), "DRV1"));
    zmsg_destroy (&envelope);
    zmsg_destroy (&zmsg);

    //  DEALER-style: identity, body.
    zmsg = s_zmsg (4, "id2", "DRV1", "STATUS", "x");
    envelope = wire_envelope_pop (zmsg);
    cr_assert_eq (zmsg_size (envelope), 1);
    cr_assert (zframe_streq (zmsg_first (envelope), "id2"));
    cr_assert_eq (zmsg_size (zmsg), 3);
    zmsg_destroy (&envelope);
    zmsg_destroy (&zmsg);

    //  REQ with ZMQ_REQ_CORRELATE, or behind a proxy: more frames before
    //  the delimiter all belong to the envelope.
    zmsg = s_zmsg (6, "id5", "request-7", "", "DRV1", "STATUS", "x");
    envelope = wire_envelope_pop (zmsg);
    cr_assert_eq (zmsg_size (envelope), 3);
    cr_assert (zframe_streq (zmsg_first (zmsg), "DRV1"));
    zmsg_destroy (&envelope);
    zmsg_destroy (&zmsg);

    //  An empty frame after the signature is no delimiter.
    zmsg = s_zmsg (6, "id6", "DRV1", "SUBMIT", "x", "", "y");
    envelope = wire_envelope_pop (zmsg);
    cr_assert_eq (zmsg_size (envelope), 1);
    cr_assert_eq (zmsg_size (zmsg), 5);
    zmsg_destroy (&envelope);
    zmsg_destroy (&zmsg);

    //  Too short: nothing but an identity, or nothing; left as it was.
    zmsg = s_zmsg (1, "id3");
    cr_assert_null (wire_envelope_pop (zmsg));
    cr_assert_eq (zmsg_size (zmsg), 1);
    zmsg_destroy (&zmsg);
    zmsg = zmsg_new ();
    cr_assert_null (wire_envelope_pop (zmsg));
    zmsg_destroy (&zmsg);
    cr_assert_null (wire_envelope_pop (NULL));

    //  Identity and a delimiter with no body: the envelope still answers.
    zmsg = s_zmsg (2, "id4", "");
    envelope = wire_envelope_pop (zmsg);
    cr_assert_eq (zmsg_size (envelope), 2);
    cr_assert_eq (zmsg_size (zmsg), 0);
    zmsg_destroy (&envelope);
    cr_assert_eq (s_decode (zmsg, NULL), -DRV_E_BAD_FRAMES);
}

static msg_t *
s_submit (const char *job, int tuples)
{
    msg_t *msg = msg_new (MSG_SUBMIT);
    msg_set_str (msg, MSG_F_JOB, job);
    for (int i = 0; i < tuples; i++) {
        zframe_t *frame = zframe_new (&i, sizeof i);
        msg_payload_append (msg, &frame);
    }
    return msg;
}

//  A REQ and a DEALER producer against a ROUTER, as on the broker frontend.
Test (msg, send_recv_over_router)
{
    zsock_t *router = zsock_new_router ("inproc://msg-test");
    zsock_t *req = zsock_new_req (">inproc://msg-test");
    zsock_t *dealer = zsock_new_dealer (">inproc://msg-test");
    cr_assert (router && req && dealer);
    zsock_set_rcvtimeo (router, 5000);
    zsock_set_rcvtimeo (req, 5000);
    zsock_set_rcvtimeo (dealer, 5000);

    for (int round = 0; round < 2; round++) {
        zsock_t *client = round == 0? req: dealer;
        msg_t *msg = s_submit (round == 0? "from-req": "from-dealer", 3);
        cr_assert_eq (wire_send (&msg, client, NULL), 0);
        cr_assert_null (msg);

        zmsg_t *envelope;
        cr_assert_eq (wire_recv (router, &envelope, &msg), 0);
        cr_assert_eq (zmsg_size (envelope), round == 0? 2u: 1u);
        cr_assert_eq (msg_command (msg), MSG_SUBMIT);
        cr_assert_str_eq (msg_str (msg, MSG_F_JOB), round == 0? "from-req": "from-dealer");
        cr_assert_eq (msg_payload_count (msg), 3);
        msg_destroy (&msg);

        msg = msg_new (MSG_ACCEPTED);
        msg_set_str (msg, MSG_F_JOB, "j");
        msg_set_uint (msg, MSG_F_FIRST, 1);
        msg_set_uint (msg, MSG_F_COUNT, 3);
        cr_assert_eq (wire_send (&msg, router, envelope), 0);
        cr_assert_eq (zmsg_size (envelope), round == 0? 2u: 1u, "envelope is copied");

        cr_assert_eq (wire_recv (client, NULL, &msg), 0);
        cr_assert_eq (msg_command (msg), MSG_ACCEPTED);
        cr_assert_eq (msg_uint (msg, MSG_F_COUNT), 3);
        msg_destroy (&msg);
        zmsg_destroy (&envelope);
    }

    //  Garbage from the DEALER: the envelope is still split off, so the
    //  ROUTER can answer ERROR, and the DEALER gets exactly that.
    zmsg_t *junk = s_zmsg (2, "DRV1", "FROB");
    cr_assert_eq (zmsg_send (&junk, dealer), 0);
    zmsg_t *envelope;
    msg_t *msg;
    cr_assert_eq (wire_recv (router, &envelope, &msg), -DRV_E_UNKNOWN_COMMAND);
    cr_assert_null (msg);
    cr_assert_not_null (envelope);
    cr_assert_eq (wire_send_error (router, envelope, -DRV_E_UNKNOWN_COMMAND, "no FROB"), 0);
    zmsg_destroy (&envelope);
    cr_assert_eq (wire_recv (dealer, NULL, &msg), 0);
    cr_assert_eq (msg_command (msg), MSG_ERROR);
    cr_assert_eq (msg_uint (msg, MSG_F_CODE), DRV_E_UNKNOWN_COMMAND);
    cr_assert_str_eq (msg_str (msg, MSG_F_REASON), "no FROB");
    msg_destroy (&msg);

    //  Without a reason, the code's name is sent.
    cr_assert_eq (wire_send_error (dealer, NULL, DRV_E_QUEUE_FULL, NULL), 0);
    cr_assert_eq (wire_recv (router, &envelope, &msg), 0);
    cr_assert_str_eq (msg_str (msg, MSG_F_REASON), "QUEUE_FULL");
    msg_destroy (&msg);
    zmsg_destroy (&envelope);

    //  Nothing to read: -DRV_E_NOTHING (zmsg_recv returned NULL), no envelope.
    zsock_set_rcvtimeo (router, 1);
    envelope = (zmsg_t *) 1;
    cr_assert_eq (wire_recv (router, &envelope, &msg), -DRV_E_NOTHING);
    cr_assert_null (envelope);
    cr_assert_null (msg);

    zsock_destroy (&req);
    zsock_destroy (&dealer);
    zsock_destroy (&router);
}

Test (msg, send_refuses_oversized_header)
{
    zsock_t *push = zsock_new_push ("inproc://msg-big");
    zsock_t *pull = zsock_new_pull (">inproc://msg-big");
    //  MSG_MAX_REFS refs with 64-bit ids (15 bytes each): within the refs
    //  limit, over the 64 KiB header limit.
    msg_t *msg = msg_new (MSG_DONE);
    msg_set_str (msg, MSG_F_JOB, "j");
    msg_ref_t *refs = calloc (MSG_MAX_REFS, sizeof *refs);
    for (size_t i = 0; i < MSG_MAX_REFS; i++)
        refs[i] = (msg_ref_t) { (1ULL << 40) + i, 1 };
    cr_assert_eq (msg_set_refs (msg, MSG_F_TUPLES, refs, MSG_MAX_REFS), 0);
    free (refs);
    cr_assert_eq (wire_send (&msg, push, NULL), -DRV_E_TOO_LARGE);
    cr_assert_null (msg);
    zsock_destroy (&pull);
    zsock_destroy (&push);
}

//  ---------------------------------------------------------------------
//  PROTOCOL.md section 8: the worked examples, byte for byte.

typedef struct { const char *hex[6]; } frames_t;

static zmsg_t *
s_frames (const frames_t *frames)
{
    zmsg_t *zmsg = zmsg_new ();
    for (int i = 0; frames->hex[i]; i++) {
        zframe_t *frame = s_hex (frames->hex[i]);
        zmsg_append (zmsg, &frame);
    }
    return zmsg;
}

//  Our encoder produces exactly the documented frames.
static void
s_assert_encodes_to (msg_t **msg_p, const frames_t *frames)
{
    zmsg_t *zmsg = wire_encode (msg_p);
    zmsg_t *expect = s_frames (frames);
    cr_assert_eq (zmsg_size (zmsg), zmsg_size (expect));
    zframe_t *a = zmsg_first (zmsg), *b = zmsg_first (expect);
    for (int i = 0; a && b; i++, a = zmsg_next (zmsg), b = zmsg_next (expect))
        cr_assert (zframe_eq (a, b), "frame %d differs", i);
    zmsg_destroy (&zmsg);
    zmsg_destroy (&expect);
}

static const frames_t s_ex_submit = { {
    "44 52 56 31",
    "53 55 42 4d 49 54",
    "84 a3 6a 6f 62 a4 73 63 61 6e a7 68 61 6e 64 6c 65 72 a9 74 63 70 2d 70 72 6f 62 65"
    " a4 73 69 6e 6b b4 74 63 70 3a 2f 2f 31 32 37 2e 30 2e 30 2e 31 3a 35 35 35 38"
    " a5 63 6c 6f 73 65 c3",
    "92 a9 31 32 37 2e 30 2e 30 2e 31 16",
    "92 a9 31 32 37 2e 30 2e 30 2e 31 cd 01 bb",
    NULL } };
static const frames_t s_ex_accepted = { {
    "44 52 56 31",
    "41 43 43 45 50 54 45 44",
    "83 a3 6a 6f 62 a4 73 63 61 6e a5 66 69 72 73 74 01 a5 63 6f 75 6e 74 02",
    NULL } };
static const frames_t s_ex_status = { {
    "44 52 56 31",
    "53 54 41 54 55 53",
    "81 a3 6a 6f 62 a4 73 63 61 6e",
    NULL } };
static const frames_t s_ex_job = { {
    "44 52 56 31",
    "4a 4f 42",
    "87 a3 6a 6f 62 a4 73 63 61 6e a5 73 74 61 74 65 a8 63 6f 6d 70 6c 65 74 65"
    " a9 73 75 62 6d 69 74 74 65 64 02 a6 71 75 65 75 65 64 00 a7 72 75 6e 6e 69 6e 67 00"
    " a4 64 6f 6e 65 02 a6 66 61 69 6c 65 64 00",
    NULL } };
static const frames_t s_ex_error = { {
    "44 52 56 31",
    "45 52 52 4f 52",
    "83 a4 63 6f 64 65 0b a6 72 65 61 73 6f 6e aa 71 75 65 75 65 20 66 75 6c 6c"
    " a8 72 65 74 72 79 5f 6d 73 cd 01 f4",
    NULL } };

static const uint8_t s_tuple_22[] = {
    0x92, 0xa9, '1', '2', '7', '.', '0', '.', '0', '.', '1', 0x16 };
static const uint8_t s_tuple_443[] = {
    0x92, 0xa9, '1', '2', '7', '.', '0', '.', '0', '.', '1', 0xcd, 0x01, 0xbb };

Test (msg, example_submit)
{
    //  As the broker's ROUTER reads it from a REQ producer: identity,
    //  delimiter, then the documented frames.
    zmsg_t *zmsg = s_frames (&s_ex_submit);
    zmsg_pushmem (zmsg, NULL, 0);
    zmsg_pushmem (zmsg, "\x00\x6b\x8b\x45\x67", 5);
    zmsg_t *envelope = wire_envelope_pop (zmsg);
    cr_assert_eq (zmsg_size (envelope), 2);
    msg_t *msg;
    cr_assert_eq (s_decode (zmsg, &msg), 0);
    cr_assert_eq (msg_command (msg), MSG_SUBMIT);
    cr_assert_str_eq (msg_str (msg, MSG_F_JOB), "scan");
    cr_assert_str_eq (msg_str (msg, MSG_F_HANDLER), "tcp-probe");
    cr_assert_str_eq (msg_str (msg, MSG_F_SINK), "tcp://127.0.0.1:5558");
    cr_assert (msg_bool (msg, MSG_F_CLOSE));
    cr_assert_not (msg_has (msg, MSG_F_OPTIONS));
    cr_assert_not (msg_has (msg, MSG_F_BATCH));
    cr_assert_eq (msg_payload_count (msg), 2);
    zframe_t *frame = msg_payload (msg, 0);
    cr_assert_eq (zframe_size (frame), sizeof s_tuple_22);
    cr_assert (memcmp (zframe_data (frame), s_tuple_22, sizeof s_tuple_22) == 0);
    frame = msg_payload (msg, 1);
    cr_assert_eq (zframe_size (frame), sizeof s_tuple_443);
    cr_assert (memcmp (zframe_data (frame), s_tuple_443, sizeof s_tuple_443) == 0);
    msg_destroy (&msg);
    zmsg_destroy (&envelope);

    msg = msg_new (MSG_SUBMIT);
    msg_set_str (msg, MSG_F_JOB, "scan");
    msg_set_str (msg, MSG_F_HANDLER, "tcp-probe");
    msg_set_str (msg, MSG_F_SINK, "tcp://127.0.0.1:5558");
    msg_set_bool (msg, MSG_F_CLOSE, true);
    frame = zframe_new (s_tuple_22, sizeof s_tuple_22);
    msg_payload_append (msg, &frame);
    frame = zframe_new (s_tuple_443, sizeof s_tuple_443);
    msg_payload_append (msg, &frame);
    s_assert_encodes_to (&msg, &s_ex_submit);
}

Test (msg, example_accepted)
{
    msg_t *msg;
    cr_assert_eq (s_decode (s_frames (&s_ex_accepted), &msg), 0);
    cr_assert_eq (msg_command (msg), MSG_ACCEPTED);
    cr_assert_str_eq (msg_str (msg, MSG_F_JOB), "scan");
    cr_assert_eq (msg_uint (msg, MSG_F_FIRST), 1);
    cr_assert_eq (msg_uint (msg, MSG_F_COUNT), 2);
    cr_assert_not (msg_has (msg, MSG_F_BATCH));
    msg_destroy (&msg);

    msg = msg_new (MSG_ACCEPTED);
    msg_set_str (msg, MSG_F_JOB, "scan");
    msg_set_uint (msg, MSG_F_FIRST, 1);
    msg_set_uint (msg, MSG_F_COUNT, 2);
    s_assert_encodes_to (&msg, &s_ex_accepted);
}

Test (msg, example_status_and_job)
{
    msg_t *msg;
    cr_assert_eq (s_decode (s_frames (&s_ex_status), &msg), 0);
    cr_assert_eq (msg_command (msg), MSG_STATUS);
    cr_assert_str_eq (msg_str (msg, MSG_F_JOB), "scan");
    msg_destroy (&msg);
    msg = msg_new (MSG_STATUS);
    msg_set_str (msg, MSG_F_JOB, "scan");
    s_assert_encodes_to (&msg, &s_ex_status);

    cr_assert_eq (s_decode (s_frames (&s_ex_job), &msg), 0);
    cr_assert_eq (msg_command (msg), MSG_JOB);
    cr_assert_str_eq (msg_str (msg, MSG_F_JOB), "scan");
    cr_assert_str_eq (msg_str (msg, MSG_F_STATE), "complete");
    cr_assert_eq (msg_uint (msg, MSG_F_SUBMITTED), 2);
    cr_assert_eq (msg_uint (msg, MSG_F_QUEUED), 0);
    cr_assert_eq (msg_uint (msg, MSG_F_RUNNING), 0);
    cr_assert_eq (msg_uint (msg, MSG_F_DONE), 2);
    cr_assert_eq (msg_uint (msg, MSG_F_FAILED), 0);
    msg_destroy (&msg);
    msg = msg_new (MSG_JOB);
    msg_set_str (msg, MSG_F_JOB, "scan");
    msg_set_str (msg, MSG_F_STATE, "complete");
    msg_set_uint (msg, MSG_F_SUBMITTED, 2);
    msg_set_uint (msg, MSG_F_QUEUED, 0);
    msg_set_uint (msg, MSG_F_RUNNING, 0);
    msg_set_uint (msg, MSG_F_DONE, 2);
    msg_set_uint (msg, MSG_F_FAILED, 0);
    s_assert_encodes_to (&msg, &s_ex_job);
}

Test (msg, example_error)
{
    msg_t *msg;
    cr_assert_eq (s_decode (s_frames (&s_ex_error), &msg), 0);
    cr_assert_eq (msg_command (msg), MSG_ERROR);
    cr_assert_eq (msg_uint (msg, MSG_F_CODE), DRV_E_QUEUE_FULL);
    cr_assert_str_eq (msg_str (msg, MSG_F_REASON), "queue full");
    cr_assert_eq (msg_uint (msg, MSG_F_RETRY_MS), 500);
    msg_destroy (&msg);
    msg = msg_new (MSG_ERROR);
    msg_set_uint (msg, MSG_F_CODE, DRV_E_QUEUE_FULL);
    msg_set_str (msg, MSG_F_REASON, "queue full");
    msg_set_uint (msg, MSG_F_RETRY_MS, 500);
    s_assert_encodes_to (&msg, &s_ex_error);
}

//  The frames in PROTOCOL.md's section 8 code blocks, in order, so that the
//  vectors above cannot drift from the document.  A row starting with a
//  frame number opens a frame, an indented row continues it; its bytes are
//  the leading two-digit hex tokens, the rest of the row is commentary.
static zmsg_t *
s_doc_example (const char *doc, int which)
{
    const char *p = strstr (doc, "## 8. Worked examples");
    cr_assert_not_null (p, "PROTOCOL.md has section 8");
    for (int block = 0; block <= which; block++) {
        p = strstr (p, "```\n");
        cr_assert_not_null (p, "example %d in PROTOCOL.md", which);
        p += 4;
        if (block < which)
            p = strstr (p, "```\n") + 4;
    }
    const char *end = strstr (p, "```\n");
    zmsg_t *zmsg = zmsg_new ();
    uint8_t bytes[256];
    size_t size = 0;
    bool open = false;
    for (const char *line = p; line < end; line = strchr (line, '\n') + 1) {
        const char *q = line;
        if (*q >= '0' && *q <= '9') {
            if (open)
                zmsg_addmem (zmsg, bytes, size);
            open = true;
            size = 0;
            while (*q >= '0' && *q <= '9')
                q++;
        }
        else
        if (*q != ' ' || !open)
            continue;               //  envelope rows belong to no frame
        for (;;) {
            while (*q == ' ')
                q++;
            unsigned byte;
            if (!isxdigit (q[0]) || !isxdigit (q[1]) || (q[2] != ' ' && q[2] != '\n')
            || sscanf (q, "%2x", &byte) != 1)
                break;
            cr_assert_lt (size, sizeof bytes);
            bytes[size++] = (uint8_t) byte;
            q += 2;
        }
    }
    if (open)
        zmsg_addmem (zmsg, bytes, size);
    return zmsg;
}

Test (msg, examples_match_protocol_md)
{
    char *doc = support_slurp (DROVER_SOURCE_DIR "/proto/PROTOCOL.md");
    cr_assert_not_null (doc);
    const frames_t *vectors[] = {
        &s_ex_submit, &s_ex_accepted, &s_ex_status, &s_ex_job, &s_ex_error };
    for (int i = 0; i < 5; i++) {
        zmsg_t *documented = s_doc_example (doc, i);
        zmsg_t *expect = s_frames (vectors[i]);
        cr_assert_eq (zmsg_size (documented), zmsg_size (expect), "example %d", i);
        zframe_t *a = zmsg_first (documented), *b = zmsg_first (expect);
        for (int f = 0; a && b; f++, a = zmsg_next (documented), b = zmsg_next (expect))
            cr_assert (zframe_eq (a, b), "example %d frame %d differs from PROTOCOL.md", i, f);
        zmsg_destroy (&documented);
        zmsg_destroy (&expect);
    }
    free (doc);
}

//  ---------------------------------------------------------------------
//  Robustness: damaged valid messages decode to 0 or a decoder code.

static uint64_t
s_rand (uint64_t *state)
{
    //  xorshift64*: fixed seed, so a failure reproduces.
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 2685821657736338717ULL;
}

//  Copy zmsg's frames into a new zmsg, damaging it one way.
static zmsg_t *
s_mutate (zmsg_t *zmsg, uint64_t *rng)
{
    zmsg_t *copy = zmsg_dup (zmsg);
    size_t nframes = zmsg_size (copy);
    size_t target = (size_t) (s_rand (rng) % nframes);
    zframe_t *frame = zmsg_first (copy);
    for (size_t i = 0; i < target; i++)
        frame = zmsg_next (copy);
    size_t size = zframe_size (frame);
    uint8_t *data = zframe_data (frame);
    int how = (int) (s_rand (rng) % 6);
    if (how == 0 && size) {                 //  flip bits in a few bytes
        int flips = 1 + (int) (s_rand (rng) % 4);
        for (int i = 0; i < flips; i++)
            data[s_rand (rng) % size] ^= (uint8_t) (1u << (s_rand (rng) % 8));
    }
    else
    if (how == 1 && size) {                 //  random byte values
        data[s_rand (rng) % size] = (uint8_t) s_rand (rng);
    }
    else
    if (how == 2) {                         //  truncate the frame
        //  zframe_reset frees the old data first: copy out of it.
        size_t keep = size? (size_t) (s_rand (rng) % size): 0;
        uint8_t *head = malloc (keep + 1);
        memcpy (head, data, keep);
        zframe_reset (frame, head, keep);
        free (head);
    }
    else
    if (how == 3) {                         //  insert a frame somewhere
        zmsg_t *out = zmsg_new ();
        size_t at = (size_t) (s_rand (rng) % (nframes + 1)), i = 0;
        for (zframe_t *f = zmsg_first (copy); ; f = zmsg_next (copy), i++) {
            if (i == at)
                zmsg_addmem (out, data, size / 2);
            if (!f)
                break;
            zmsg_addmem (out, zframe_data (f), zframe_size (f));
        }
        zmsg_destroy (&copy);
        copy = out;
    }
    else
    if (how == 4) {                         //  drop a frame
        zmsg_remove (copy, frame);
        zframe_destroy (&frame);
    }
    else {                                  //  append random bytes
        uint8_t extra[8];
        for (size_t i = 0; i < sizeof extra; i++)
            extra[i] = (uint8_t) s_rand (rng);
        size_t more = 1 + (size_t) (s_rand (rng) % sizeof extra);
        uint8_t *grown = malloc (size + more);
        memcpy (grown, data, size);
        memcpy (grown + size, extra, more);
        zframe_reset (frame, grown, size + more);
        free (grown);
    }
    return copy;
}

Test (msg, random_damage_never_crashes)
{
    //  One valid sample of every command, all fields set.
    zmsg_t *samples[MSG_COMMAND_MAX] = { NULL };
    for (int command = MSG_SUBMIT; command < MSG_COMMAND_MAX; command++) {
        msg_t *msg = s_full (command, -1);
        samples[command] = wire_encode (&msg);
    }
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    int counts[DRV_E_MAX] = { 0 };
    for (int round = 0; round < 20000; round++) {
        int command = MSG_SUBMIT + (int) (s_rand (&rng) % (MSG_COMMAND_MAX - MSG_SUBMIT));
        zmsg_t *zmsg = s_mutate (samples[command], &rng);
        //  Sometimes damage twice.
        if (s_rand (&rng) % 4 == 0) {
            zmsg_t *again = s_mutate (zmsg, &rng);
            zmsg_destroy (&zmsg);
            zmsg = again;
        }
        msg_t *msg = NULL;
        int rc = wire_decode (&zmsg, &msg);
        cr_assert (rc == 0 || (rc <= -DRV_E_BAD_VERSION && rc >= -DRV_E_TOO_LARGE),
                   "round %d: rc %d", round, rc);
        cr_assert ((rc == 0) == (msg != NULL));
        counts[-rc]++;
        if (msg) {
            //  Whatever decoded must encode and decode again.
            zmsg_t *again = wire_encode (&msg);
            cr_assert_eq (wire_decode (&again, &msg), 0, "round %d", round);
            msg_destroy (&msg);
        }
    }
    //  The damage reached every decoder check, not just the first.
    for (int code = 0; code < DRV_E_TOO_LARGE; code++)
        cr_assert_gt (counts[code], 0, "code %d never seen", code);
    for (int command = MSG_SUBMIT; command < MSG_COMMAND_MAX; command++)
        zmsg_destroy (&samples[command]);
}

//  ---------------------------------------------------------------------
//  The sender's CURVE key reaches the receiver as the message's User-Id.

#include "common/auth.h"
#include "common/curve.h"
#include "common/keys.h"
#include "common/free_port.h"

Test (msg, user_id_is_the_curve_key)
{
    auth_t *auth = auth_new ();
    cr_assert_not_null (auth);
    cr_assert_eq (auth_allow_any (auth, AUTH_DOMAIN_PRODUCERS), 0);
    keys_t *server_keys = keys_new ();
    keys_t *client_keys = keys_new ();
    char endpoint[64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", free_port_pick ());

    zsock_t *router = zsock_new (ZMQ_ROUTER);
    cr_assert_eq (curve_server (router, server_keys, AUTH_DOMAIN_PRODUCERS), 0);
    cr_assert_neq (zsock_bind (router, "%s", endpoint), -1);
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    cr_assert_eq (curve_client (dealer, client_keys, keys_public (server_keys)), 0);
    cr_assert_eq (zsock_connect (dealer, "%s", endpoint), 0);

    msg_t *msg = msg_new (MSG_STATUS);
    msg_set_str (msg, MSG_F_JOB, "who");
    cr_assert_eq (wire_send (&msg, dealer, NULL), 0);
    zsock_set_rcvtimeo (router, 5000);
    zmsg_t *envelope = NULL;
    cr_assert_eq (wire_recv (router, &envelope, &msg), 0);
    cr_assert_str_eq (msg_user_id (msg), keys_public_txt (client_keys));
    msg_destroy (&msg);
    zmsg_destroy (&envelope);

    //  Without authentication there is no User-Id.
    zsock_t *pull = zsock_new_pull ("inproc://msg-user-id");
    zsock_t *push = zsock_new_push (">inproc://msg-user-id");
    msg = msg_new (MSG_STATUS);
    msg_set_str (msg, MSG_F_JOB, "anyone");
    cr_assert_eq (wire_send (&msg, push, NULL), 0);
    cr_assert_eq (wire_recv (pull, NULL, &msg), 0);
    cr_assert_str_eq (msg_user_id (msg), "");
    msg_destroy (&msg);

    zsock_destroy (&push);
    zsock_destroy (&pull);
    zsock_destroy (&dealer);
    zsock_destroy (&router);
    keys_destroy (&client_keys);
    keys_destroy (&server_keys);
    auth_destroy (&auth);
}
