//  test_wire.c -- the codec (proto/wire.c): every command encodes to the
//  frames PROTOCOL.md section 3 lays out and decodes back field for field,
//  a missing required field is MISSING_FIELD, and random damage to valid
//  messages never crashes the decoder.  Which fields and frames a command
//  has comes from proto/schema.h, which test_schema.c checks against the
//  document; malformed input class by class is test_wire_malformed.c's.
#include "proto/wire.h"

#include "support_wire.h"

#include <criterion/criterion.h>
#include <string.h>

static const msg_ref_t s_refs[3] = { { 1, 1 }, { 300, 2 }, { 5000000000ULL, UINT32_MAX } };
static const uint8_t s_options[] = { 0x81, 0xa4, 'p', 'o', 'r', 't', 0xcd, 0x01, 0xbb };

//  A distinct value per field, so that mixed-up fields would show.
static void
s_set_field (msg_t *msg, msg_field_t field)
{
    char text[32];
    snprintf (text, sizeof text, "v-%s", schema_field_name (field));
    int rc = -1;
    switch (schema_field_type (field)) {
        case SCHEMA_STR:  rc = msg_set_str (msg, field, text); break;
        case SCHEMA_UINT: rc = msg_set_uint (msg, field, 1000u * (unsigned) field + 7); break;
        case SCHEMA_BOOL: rc = msg_set_bool (msg, field, true); break;
        case SCHEMA_MAP:  rc = msg_set_raw (msg, field, s_options, sizeof s_options); break;
        case SCHEMA_REFS: rc = msg_set_refs (msg, field, s_refs, field == MSG_F_DEAD? 2: 3); break;
    }
    cr_assert_eq (rc, 0, "set %s", schema_field_name (field));
}

static void
s_check_field (msg_t *msg, msg_field_t field)
{
    char text[32];
    snprintf (text, sizeof text, "v-%s", schema_field_name (field));
    cr_assert (msg_has (msg, field), "has %s", schema_field_name (field));
    size_t size;
    const uint8_t *raw;
    const msg_ref_t *refs;
    switch (schema_field_type (field)) {
        case SCHEMA_STR:  cr_assert_str_eq (msg_str (msg, field), text); break;
        case SCHEMA_UINT: cr_assert_eq (msg_uint (msg, field), 1000u * (unsigned) field + 7); break;
        case SCHEMA_BOOL: cr_assert (msg_bool (msg, field)); break;
        case SCHEMA_MAP:
            raw = msg_raw (msg, field, &size);
            cr_assert_eq (size, sizeof s_options);
            cr_assert (memcmp (raw, s_options, size) == 0);
            break;
        case SCHEMA_REFS:
            refs = msg_refs (msg, field, &size);
            cr_assert_eq (size, field == MSG_F_DEAD? 2u: 3u);
            for (size_t i = 0; i < size; i++) {
                cr_assert_eq (refs[i].id, s_refs[i].id);
                cr_assert_eq (refs[i].attempt, s_refs[i].attempt);
            }
            break;
    }
}

//  As many tuples or payload frames as the command carries (3 refs: 3
//  tuples for WORK).
static int
s_payloads_for (msg_command_t command)
{
    switch (schema_payload (command)) {
        case SCHEMA_PAYLOAD_ANY:     return 4;
        case SCHEMA_PAYLOAD_ONE:     return 1;
        case SCHEMA_PAYLOAD_PER_REF: return 3;
        default:                     return 0;
    }
}

//  Payload i: a msgpack uint32 (a tuple must be one msgpack value).
static void
s_payload (int i, uint8_t bytes[5])
{
    bytes[0] = 0xce;
    bytes[1] = bytes[2] = bytes[3] = 0;
    bytes[4] = (uint8_t) i;
}

static void
s_add_payloads (msg_t *msg)
{
    for (int i = 0; i < s_payloads_for (msg_command (msg)); i++) {
        uint8_t bytes[5];
        s_payload (i, bytes);
        if (schema_has_tuples (msg_command (msg)))
            cr_assert_eq (msg_add_tuple (msg, bytes, sizeof bytes), 0);
        else {
            zframe_t *frame = zframe_new (bytes, sizeof bytes);
            msg_payload_append (msg, &frame);
            cr_assert_null (frame);
        }
    }
}

static void
s_check_payloads (msg_t *msg)
{
    msg_command_t command = msg_command (msg);
    int count = s_payloads_for (command);
    bool tuples = schema_has_tuples (command);
    cr_assert_eq (tuples? msg_tuple_count (msg): msg_payload_count (msg), (size_t) count);
    for (int p = 0; p < count; p++) {
        uint8_t bytes[5];
        s_payload (p, bytes);
        size_t size = 0;
        const void *data = tuples? msg_tuple (msg, (size_t) p, &size): NULL;
        if (!tuples) {
            data = zframe_data (msg_payload (msg, (size_t) p));
            size = zframe_size (msg_payload (msg, (size_t) p));
        }
        cr_assert_eq (size, sizeof bytes);
        cr_assert (memcmp (data, bytes, sizeof bytes) == 0);
    }
    cr_assert_null (msg_payload (msg, (size_t) count));
    cr_assert_null (msg_tuple (msg, (size_t) count, NULL));
}

//  A valid message of the command in version with the fields of fields
//  set, leaving out field `skip` (or none if -1), and its payloads.
static msg_t *
s_message (msg_command_t command, int version, schema_fields_t fields, int skip)
{
    msg_t *msg = msg_new (command);
    cr_assert_not_null (msg);
    cr_assert_eq (msg_set_version (msg, version), 0);
    for (int field = 0; field < MSG_F_MAX; field++)
        if ((fields & SCHEMA_FIELD (field)) && field != skip)
            s_set_field (msg, (msg_field_t) field);
    s_add_payloads (msg);
    return msg;
}

//  All the command's fields.
static msg_t *
s_full (msg_command_t command, int version, int skip)
{
    return s_message (command, version, schema_accepts (command), skip);
}

//  Frames after the header: a tuple each in version 1, all in one in 2.
static size_t
s_frames_for (msg_command_t command, int version)
{
    int payloads = s_payloads_for (command);
    if (version == 1 || !schema_has_tuples (command))
        return (size_t) payloads;
    return payloads > 0;
}

Test (wire, round_trip_every_command)
{
    for (int version = 1; version <= MSG_VERSION; version++)
    for (int i = MSG_SUBMIT; i < MSG_COMMAND_MAX; i++) {
        msg_command_t command = (msg_command_t) i;
        const char *name = msg_command_name (command);
        msg_t *msg = s_full (command, version, -1);
        zmsg_t *zmsg = wire_encode (&msg);
        cr_assert_null (msg);
        cr_assert_eq (zmsg_size (zmsg), 3u + s_frames_for (command, version), "%s v%d",
                      name, version);
        char signature[] = "DRV0";
        signature[3] = (char) ('0' + version);
        cr_assert (zframe_streq (zmsg_first (zmsg), signature));
        cr_assert (zframe_streq (zmsg_next (zmsg), name));

        cr_assert_eq (support_decode (zmsg, &msg), 0, "%s v%d", name, version);
        cr_assert_eq (msg_command (msg), command);
        cr_assert_eq (msg_version (msg), version);
        for (int field = 0; field < MSG_F_MAX; field++)
            if (schema_accepts (command) & SCHEMA_FIELD (field))
                s_check_field (msg, (msg_field_t) field);
            else
                cr_assert_not (msg_has (msg, (msg_field_t) field));
        s_check_payloads (msg);
        msg_destroy (&msg);
    }
}

Test (wire, missing_required_field)
{
    for (int version = 1; version <= MSG_VERSION; version++)
    for (int i = MSG_SUBMIT; i < MSG_COMMAND_MAX; i++) {
        msg_command_t command = (msg_command_t) i;
        for (int field = 0; field < MSG_F_MAX; field++) {
            if (!(schema_requires (command) & SCHEMA_FIELD (field)))
                continue;
            msg_t *msg = s_full (command, version, field);
            zmsg_t *zmsg = wire_encode (&msg);
            //  WORK without tuples: the missing field wins over the payload rule.
            cr_assert_eq (support_decode (zmsg, NULL), -DRV_E_MISSING_FIELD, "%s without %s",
                          msg_command_name (command), schema_field_name ((msg_field_t) field));
        }
    }
}

Test (wire, optional_fields_may_be_absent)
{
    for (int version = 1; version <= MSG_VERSION; version++)
    for (int i = MSG_SUBMIT; i < MSG_COMMAND_MAX; i++) {
        msg_command_t command = (msg_command_t) i;
        msg_t *msg = s_message (command, version, schema_requires (command), -1);
        zmsg_t *zmsg = wire_encode (&msg);
        cr_assert_eq (support_decode (zmsg, &msg), 0, "%s", msg_command_name (command));
        for (int field = 0; field < MSG_F_MAX; field++)
            cr_assert_eq (msg_has (msg, (msg_field_t) field),
                          (schema_requires (command) & SCHEMA_FIELD (field)) != 0);
        msg_destroy (&msg);
    }
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

Test (wire, random_damage_never_crashes)
{
    //  One valid sample of every command in each version, all fields set.
    zmsg_t *samples[2][MSG_COMMAND_MAX] = { { NULL } };
    for (int version = 1; version <= 2; version++)
        for (int command = MSG_SUBMIT; command < MSG_COMMAND_MAX; command++) {
            msg_t *msg = s_full ((msg_command_t) command, version, -1);
            samples[version - 1][command] = wire_encode (&msg);
        }
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    int counts[DRV_E_MAX] = { 0 };
    for (int round = 0; round < 20000; round++) {
        int command = MSG_SUBMIT + (int) (s_rand (&rng) % (MSG_COMMAND_MAX - MSG_SUBMIT));
        int version = 1 + (int) (s_rand (&rng) % 2);
        zmsg_t *zmsg = s_mutate (samples[version - 1][command], &rng);
        //  Sometimes damage twice.
        if (s_rand (&rng) % 4 == 0) {
            zmsg_t *again = s_mutate (zmsg, &rng);
            zmsg_destroy (&zmsg);
            zmsg = again;
        }
        msg_t *msg = NULL;
        int rc = wire_decode (&zmsg, &msg);
        cr_assert (rc == 0 || (rc <= -DRV_E_BAD_VERSION && rc >= -DRV_E_TOO_LARGE)
                   || rc == -DRV_E_BAD_TUPLE, "round %d: rc %d", round, rc);
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
    cr_assert_gt (counts[DRV_E_BAD_TUPLE], 0, "a damaged packed frame is BAD_TUPLE");
    for (int version = 1; version <= 2; version++)
        for (int command = MSG_SUBMIT; command < MSG_COMMAND_MAX; command++)
            zmsg_destroy (&samples[version - 1][command]);
}
