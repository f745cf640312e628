//  test_wire_examples.c -- PROTOCOL.md's worked examples (section 8 for
//  version 1, 9.3 to 9.5 for version 2) as the codec's test vectors.  The
//  bytes are read out of the document at test time, never copied here, so
//  doc and codec cannot drift: each example decodes to the values the
//  document shows, and the encoder makes exactly the documented frames
//  from those values.
#include "proto/wire.h"
#include "sink/result.h"

#include "support.h"
#include "support_wire.h"

#include <criterion/criterion.h>
#include <ctype.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  One code block of section 8.
typedef struct {
    zmsg_t *envelope;       //  rows "id" and "(empty)": what a ROUTER adds
    zmsg_t *frames;         //  rows 0, 1, 2, ...: the message itself
} example_t;

#define EXAMPLES_MAX 16

typedef struct {
    zmsg_t *target;         //  where the frame being read goes
    uint8_t bytes[512];
    size_t size;
} row_reader_t;

static void
s_flush (row_reader_t *reader)
{
    if (reader->target)
        zmsg_addmem (reader->target, reader->bytes, reader->size);
    reader->target = NULL;
    reader->size = 0;
}

//  The leading two-digit hex tokens of a row; the rest is commentary.
static void
s_read_bytes (row_reader_t *reader, const char *p)
{
    for (;;) {
        while (*p == ' ')
            p++;
        unsigned byte;
        if (!isxdigit ((unsigned char) p[0]) || !isxdigit ((unsigned char) p[1])
        || (p[2] != ' ' && p[2] != '\n') || sscanf (p, "%2x", &byte) != 1)
            return;
        cr_assert_lt (reader->size, sizeof reader->bytes);
        reader->bytes[reader->size++] = (uint8_t) byte;
        p += 2;
    }
}

//  A row that starts with a frame number opens a frame of the message, one
//  that starts with "id" a frame of the envelope, "(empty)" is an empty
//  envelope frame, and an indented row continues the open frame.
static void
s_read_row (row_reader_t *reader, example_t *example, const char *row)
{
    const char *p = row;
    if (isdigit ((unsigned char) *p)) {
        s_flush (reader);
        int number = atoi (p);
        cr_assert_eq ((size_t) number, zmsg_size (example->frames),
                      "frame rows numbered in order: %.40s", row);
        reader->target = example->frames;
        while (isdigit ((unsigned char) *p))
            p++;
    }
    else
    if (!strncmp (p, "id ", 3)) {
        s_flush (reader);
        reader->target = example->envelope;
        p += 2;
    }
    else {
        while (*p == ' ')
            p++;
        if (!strncmp (p, "(empty)", 7)) {
            s_flush (reader);
            zmsg_addmem (example->envelope, NULL, 0);
            return;
        }
    }
    if (reader->target)
        s_read_bytes (reader, p);
}

//  Where the examples are: version 1's section 8, version 2's 9.3 on.
static const char *
s_examples_start (int version)
{
    return version == 1? "\n## 8. Worked examples": "\n### 9.3 ";
}

//  The examples of PROTOCOL.md in version, in order; how many.
static size_t
s_examples_of (example_t *examples, int version)
{
    char *doc = support_slurp (DROVER_SOURCE_DIR "/proto/PROTOCOL.md");
    cr_assert_not_null (doc);
    const char *p = strstr (doc, s_examples_start (version));
    cr_assert_not_null (p, "PROTOCOL.md has the examples of version %d", version);
    const char *next = strstr (p + 1, "\n## ");
    size_t count = 0;
    while ((p = strstr (p, "\n```\n")) && (!next || p < next)) {
        const char *end = strstr (p + 5, "\n```\n");
        cr_assert_not_null (end, "a closed code block");
        cr_assert_lt (count, EXAMPLES_MAX);
        example_t *example = &examples[count++];
        example->envelope = zmsg_new ();
        example->frames = zmsg_new ();
        row_reader_t reader = { NULL, { 0 }, 0 };
        for (const char *row = p + 5; row < end + 1; row = strchr (row, '\n') + 1)
            s_read_row (&reader, example, row);
        s_flush (&reader);
        p = end + 4;
    }
    free (doc);
    return count;
}


static void
s_examples_destroy (example_t *examples, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        zmsg_destroy (&examples[i].envelope);
        zmsg_destroy (&examples[i].frames);
    }
}

//  The example of command (frame 1) in version, as [envelope +] frames;
//  NULL envelope_p leaves the envelope out.
static zmsg_t *
s_example_of (const char *command, int version, zmsg_t **envelope_p)
{
    example_t examples[EXAMPLES_MAX];
    size_t count = s_examples_of (examples, version);
    zmsg_t *found = NULL;
    for (size_t i = 0; i < count && !found; i++) {
        zmsg_first (examples[i].frames);
        if (zframe_streq (zmsg_next (examples[i].frames), command)) {
            found = zmsg_dup (examples[i].frames);
            if (envelope_p)
                *envelope_p = zmsg_dup (examples[i].envelope);
        }
    }
    s_examples_destroy (examples, count);
    cr_assert_not_null (found, "PROTOCOL.md has an example of %s in version %d", command,
                        version);
    return found;
}

static zmsg_t *
s_example (const char *command, zmsg_t **envelope_p)
{
    return s_example_of (command, 1, envelope_p);
}

//  Our encoder makes exactly the documented frames.
static void
s_assert_encodes_to (msg_t **msg_p, zmsg_t *documented)
{
    zmsg_t *zmsg = wire_encode (msg_p);
    cr_assert_eq (zmsg_size (zmsg), zmsg_size (documented));
    zframe_t *a = zmsg_first (zmsg), *b = zmsg_first (documented);
    for (int i = 0; a && b; i++, a = zmsg_next (zmsg), b = zmsg_next (documented))
        cr_assert (zframe_eq (a, b), "frame %d differs from PROTOCOL.md", i);
    zmsg_destroy (&zmsg);
}

//  A tcp-probe tuple ["127.0.0.1", port], packed by msgpack-c.
static zframe_t *
s_tuple (uint64_t port)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 2);
    msgpack_pack_str_with_body (&pk, "127.0.0.1", 9);
    msgpack_pack_uint64 (&pk, port);
    zframe_t *frame = zframe_new (sbuf.data, sbuf.size);
    msgpack_sbuffer_destroy (&sbuf);
    return frame;
}

//  Example i, decoded as it was read (a ROUTER's envelope split off
//  first), encodes back to the documented frames.
static void
s_assert_round_trip (example_t *example, size_t i, int version)
{
    zmsg_t *zmsg = zmsg_dup (example->envelope);
    for (zframe_t *f = zmsg_first (example->frames); f; f = zmsg_next (example->frames))
        zmsg_addmem (zmsg, zframe_data (f), zframe_size (f));
    if (zmsg_size (example->envelope)) {
        zmsg_t *envelope = wire_envelope_pop (zmsg);
        cr_assert_eq (zmsg_size (envelope), zmsg_size (example->envelope),
                      "example %zu: the envelope as documented", i + 1);
        zmsg_destroy (&envelope);
    }
    msg_t *msg;
    cr_assert_eq (support_decode (zmsg, &msg), 0, "version %d example %zu decodes", version,
                  i + 1);
    cr_assert_eq (msg_version (msg), version);
    s_assert_encodes_to (&msg, example->frames);
}

Test (wire_examples, every_example_decodes_and_encodes_back)
{
    for (int version = 1; version <= 2; version++) {
        example_t examples[EXAMPLES_MAX];
        size_t count = s_examples_of (examples, version);
        if (version == 1)
            cr_assert_geq (count, 5, "section 8 shows SUBMIT, ACCEPTED, STATUS, JOB, ERROR");
        else
            cr_assert_geq (count, 6, "9.3 to 9.5 show SUBMIT, ACCEPTED, WORK, RESULT, "
                           "STORED, DONE");
        for (size_t i = 0; i < count; i++)
            s_assert_round_trip (&examples[i], i, version);
        s_examples_destroy (examples, count);
    }
}

Test (wire_examples, submit_from_a_req_producer)
{
    zmsg_t *envelope = NULL;
    zmsg_t *documented = s_example ("SUBMIT", &envelope);
    //  As the broker's ROUTER reads it: identity, delimiter, the frames.
    cr_assert_eq (zmsg_size (envelope), 2);
    cr_assert_eq (zframe_size (zmsg_first (envelope)), 5, "the identity");
    cr_assert_eq (zframe_size (zmsg_next (envelope)), 0, "the delimiter");
    zmsg_t *zmsg = zmsg_dup (documented);
    for (zframe_t *f = zmsg_last (envelope); f; f = zmsg_last (envelope)) {
        zmsg_remove (envelope, f);
        zmsg_prepend (zmsg, &f);
    }
    zmsg_destroy (&envelope);
    envelope = wire_envelope_pop (zmsg);
    cr_assert_eq (zmsg_size (envelope), 2);
    zmsg_destroy (&envelope);

    msg_t *msg;
    cr_assert_eq (support_decode (zmsg, &msg), 0);
    cr_assert_eq (msg_command (msg), MSG_SUBMIT);
    cr_assert_str_eq (msg_str (msg, MSG_F_JOB), "scan");
    cr_assert_str_eq (msg_str (msg, MSG_F_HANDLER), "tcp-probe");
    cr_assert_str_eq (msg_str (msg, MSG_F_SINK), "tcp://127.0.0.1:5558");
    cr_assert (msg_bool (msg, MSG_F_CLOSE));
    cr_assert_not (msg_has (msg, MSG_F_OPTIONS));
    cr_assert_not (msg_has (msg, MSG_F_BATCH));
    cr_assert_eq (msg_version (msg), 1);
    cr_assert_eq (msg_tuple_count (msg), 2);
    const uint64_t ports[] = { 22, 443 };
    for (size_t i = 0; i < 2; i++) {
        size_t size;
        const void *data = msg_tuple (msg, i, &size);
        zframe_t *tuple = s_tuple (ports[i]);
        cr_assert (size == zframe_size (tuple) && !memcmp (data, zframe_data (tuple), size),
                   "tuple %zu is [\"127.0.0.1\", %lu]", i + 1, (unsigned long) ports[i]);
        zframe_destroy (&tuple);
    }
    msg_destroy (&msg);

    msg = msg_new (MSG_SUBMIT);

    msg_set_version (msg, 1);
    msg_set_str (msg, MSG_F_JOB, "scan");
    msg_set_str (msg, MSG_F_HANDLER, "tcp-probe");
    msg_set_str (msg, MSG_F_SINK, "tcp://127.0.0.1:5558");
    msg_set_bool (msg, MSG_F_CLOSE, true);
    for (size_t i = 0; i < 2; i++) {
        zframe_t *tuple = s_tuple (ports[i]);
        msg_payload_append (msg, &tuple);
    }
    s_assert_encodes_to (&msg, documented);
    zmsg_destroy (&documented);
}

Test (wire_examples, accepted)
{
    zmsg_t *documented = s_example ("ACCEPTED", NULL);
    msg_t *msg;
    cr_assert_eq (support_decode (zmsg_dup (documented), &msg), 0);
    cr_assert_eq (msg_command (msg), MSG_ACCEPTED);
    cr_assert_str_eq (msg_str (msg, MSG_F_JOB), "scan");
    cr_assert_eq (msg_uint (msg, MSG_F_FIRST), 1);
    cr_assert_eq (msg_uint (msg, MSG_F_COUNT), 2);
    cr_assert_not (msg_has (msg, MSG_F_BATCH));
    msg_destroy (&msg);

    msg = msg_new (MSG_ACCEPTED);

    msg_set_version (msg, 1);
    msg_set_str (msg, MSG_F_JOB, "scan");
    msg_set_uint (msg, MSG_F_FIRST, 1);
    msg_set_uint (msg, MSG_F_COUNT, 2);
    s_assert_encodes_to (&msg, documented);
    zmsg_destroy (&documented);
}

Test (wire_examples, status_and_job)
{
    zmsg_t *documented = s_example ("STATUS", NULL);
    msg_t *msg;
    cr_assert_eq (support_decode (zmsg_dup (documented), &msg), 0);
    cr_assert_eq (msg_command (msg), MSG_STATUS);
    cr_assert_str_eq (msg_str (msg, MSG_F_JOB), "scan");
    msg_destroy (&msg);
    msg = msg_new (MSG_STATUS);
    msg_set_version (msg, 1);
    msg_set_str (msg, MSG_F_JOB, "scan");
    s_assert_encodes_to (&msg, documented);
    zmsg_destroy (&documented);

    documented = s_example ("JOB", NULL);
    cr_assert_eq (support_decode (zmsg_dup (documented), &msg), 0);
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
    msg_set_version (msg, 1);
    msg_set_str (msg, MSG_F_JOB, "scan");
    msg_set_str (msg, MSG_F_STATE, "complete");
    msg_set_uint (msg, MSG_F_SUBMITTED, 2);
    msg_set_uint (msg, MSG_F_QUEUED, 0);
    msg_set_uint (msg, MSG_F_RUNNING, 0);
    msg_set_uint (msg, MSG_F_DONE, 2);
    msg_set_uint (msg, MSG_F_FAILED, 0);
    s_assert_encodes_to (&msg, documented);
    zmsg_destroy (&documented);
}

Test (wire_examples, error)
{
    zmsg_t *documented = s_example ("ERROR", NULL);
    msg_t *msg;
    cr_assert_eq (support_decode (zmsg_dup (documented), &msg), 0);
    cr_assert_eq (msg_command (msg), MSG_ERROR);
    cr_assert_eq (msg_uint (msg, MSG_F_CODE), DRV_E_QUEUE_FULL);
    cr_assert_str_eq (msg_str (msg, MSG_F_REASON), "queue full");
    cr_assert_eq (msg_uint (msg, MSG_F_RETRY_MS), 500);
    msg_destroy (&msg);
    msg = msg_new (MSG_ERROR);
    msg_set_version (msg, 1);
    msg_set_uint (msg, MSG_F_CODE, DRV_E_QUEUE_FULL);
    msg_set_str (msg, MSG_F_REASON, "queue full");
    msg_set_uint (msg, MSG_F_RETRY_MS, 500);
    s_assert_encodes_to (&msg, documented);
    zmsg_destroy (&documented);
}

//  ---------------------------------------------------------------------
//  Version 2 (sections 9.3 to 9.5)

//  The documented tuples, ["127.0.0.1", 22] and ["127.0.0.1", 443],
//  packed back to back.
static zframe_t *
s_packed_tuples (void)
{
    zframe_t *a = s_tuple (22), *b = s_tuple (443);
    zframe_t *packed = zframe_new (NULL, zframe_size (a) + zframe_size (b));
    memcpy (zframe_data (packed), zframe_data (a), zframe_size (a));
    memcpy (zframe_data (packed) + zframe_size (a), zframe_data (b), zframe_size (b));
    zframe_destroy (&a);
    zframe_destroy (&b);
    return packed;
}

//  msg's tuples are the documented two.
static void
s_assert_tuples (msg_t *msg)
{
    cr_assert_eq (msg_tuple_count (msg), 2);
    zframe_t *packed = s_packed_tuples ();
    size_t size;
    const void *data = msg_tuples_packed (msg, &size);
    cr_assert (size == zframe_size (packed) && !memcmp (data, zframe_data (packed), size));
    const uint64_t ports[] = { 22, 443 };
    for (size_t i = 0; i < 2; i++) {
        zframe_t *tuple = s_tuple (ports[i]);
        data = msg_tuple (msg, i, &size);
        cr_assert (size == zframe_size (tuple) && !memcmp (data, zframe_data (tuple), size),
                   "tuple %zu", i + 1);
        zframe_destroy (&tuple);
    }
    zframe_destroy (&packed);
}

//  The one run [1, 2, 1] the examples name, in field.
static void
s_assert_run (msg_t *msg, msg_field_t field)
{
    size_t count = 0;
    const msg_run_t *runs = msg_runs (msg, field, &count);
    cr_assert_eq (count, 1);
    cr_assert (runs[0].first == 1 && runs[0].count == 2 && runs[0].attempt == 1);
}

Test (wire_examples, submit_and_accepted_in_version_2)
{
    zmsg_t *documented = s_example_of ("SUBMIT", 2, NULL);
    msg_t *msg;
    cr_assert_eq (support_decode (zmsg_dup (documented), &msg), 0);
    cr_assert_eq (msg_version (msg), 2);
    cr_assert_str_eq (msg_str (msg, MSG_F_JOB), "scan");
    cr_assert_str_eq (msg_str (msg, MSG_F_HANDLER), "tcp-probe");
    cr_assert_str_eq (msg_str (msg, MSG_F_SINK), "tcp://127.0.0.1:5558");
    cr_assert (msg_bool (msg, MSG_F_CLOSE));
    cr_assert_not (msg_has (msg, MSG_F_COUNT), "count is the packed frame's, not a field");
    s_assert_tuples (msg);
    msg_destroy (&msg);

    msg = msg_new (MSG_SUBMIT);
    msg_set_str (msg, MSG_F_JOB, "scan");
    msg_set_str (msg, MSG_F_HANDLER, "tcp-probe");
    msg_set_str (msg, MSG_F_SINK, "tcp://127.0.0.1:5558");
    msg_set_bool (msg, MSG_F_CLOSE, true);
    const uint64_t ports[] = { 22, 443 };
    for (size_t i = 0; i < 2; i++) {
        zframe_t *tuple = s_tuple (ports[i]);
        cr_assert_eq (msg_add_tuple (msg, zframe_data (tuple), zframe_size (tuple)), 0);
        zframe_destroy (&tuple);
    }
    s_assert_encodes_to (&msg, documented);
    zmsg_destroy (&documented);

    documented = s_example_of ("ACCEPTED", 2, NULL);
    cr_assert_eq (support_decode (zmsg_dup (documented), &msg), 0);
    cr_assert_eq (msg_version (msg), 2);
    cr_assert_eq (msg_uint (msg, MSG_F_FIRST), 1);
    cr_assert_eq (msg_uint (msg, MSG_F_COUNT), 2);
    msg_destroy (&msg);
    msg = msg_new (MSG_ACCEPTED);
    msg_set_str (msg, MSG_F_JOB, "scan");
    msg_set_uint (msg, MSG_F_FIRST, 1);
    msg_set_uint (msg, MSG_F_COUNT, 2);
    s_assert_encodes_to (&msg, documented);
    zmsg_destroy (&documented);
}

Test (wire_examples, work_in_version_2)
{
    zmsg_t *documented = s_example_of ("WORK", 2, NULL);
    cr_assert_eq (zmsg_size (documented), 4, "one packed frame for both tuples");
    msg_t *msg;
    cr_assert_eq (support_decode (zmsg_dup (documented), &msg), 0);
    cr_assert_str_eq (msg_str (msg, MSG_F_HANDLER), "tcp-probe");
    size_t size;
    const uint8_t *options = msg_raw (msg, MSG_F_OPTIONS, &size);
    cr_assert (size == 1 && options[0] == 0x80);
    cr_assert_eq (msg_uint (msg, MSG_F_MAX_ATTEMPTS), 3);
    cr_assert_eq (msg_uint (msg, MSG_F_TIMEOUT_MS), 30000);
    cr_assert_eq (msg_uint (msg, MSG_F_LEASE_MS), 35000);
    s_assert_run (msg, MSG_F_TUPLES);
    size_t count;
    const msg_ref_t *refs = msg_refs (msg, MSG_F_TUPLES, &count);
    cr_assert (count == 2 && refs[0].id == 1 && refs[1].id == 2 && refs[1].attempt == 1);
    s_assert_tuples (msg);
    msg_destroy (&msg);

    msg = msg_new (MSG_WORK);
    msg_set_str (msg, MSG_F_JOB, "scan");
    msg_set_str (msg, MSG_F_HANDLER, "tcp-probe");
    msg_set_str (msg, MSG_F_SINK, "tcp://127.0.0.1:5558");
    msg_set_raw (msg, MSG_F_OPTIONS, "\x80", 1);
    msg_set_uint (msg, MSG_F_MAX_ATTEMPTS, 3);
    msg_set_uint (msg, MSG_F_TIMEOUT_MS, 30000);
    msg_set_runs (msg, MSG_F_TUPLES, &(msg_run_t) { 1, 2, 1 }, 1);
    msg_set_uint (msg, MSG_F_LEASE_MS, 35000);
    zframe_t *packed = s_packed_tuples ();
    cr_assert_eq (msg_set_tuples (msg, &packed, 2), 0);
    s_assert_encodes_to (&msg, documented);
    zmsg_destroy (&documented);
}

Test (wire_examples, result_stored_and_done_in_version_2)
{
    zmsg_t *documented = s_example_of ("RESULT", 2, NULL);
    msg_t *msg;
    cr_assert_eq (support_decode (zmsg_dup (documented), &msg), 0);
    cr_assert_str_eq (msg_str (msg, MSG_F_AGENT), "a1");
    s_assert_run (msg, MSG_F_TUPLES);
    cr_assert_eq (msg_payload_count (msg), 1);
    //  The records, as the sink reads them.
    zframe_t *batch = msg_payload (msg, 0);
    size_t runs_count;
    const msg_run_t *runs = msg_runs (msg, MSG_F_TUPLES, &runs_count);
    result_t *result = result_new ();
    cr_assert_eq (result_decode (result, zframe_data (batch), zframe_size (batch), 2, runs,
                                 runs_count), 0, "%s", result_reason (result));
    cr_assert_eq (result_count (result), 2);
    const uint64_t ports[] = { 22, 443 }, durations[] = { 250, 310 };
    const double ms[] = { 0.25, 0.5 };
    result_record_t record_at, *record = &record_at;
    msgpack_unpacked unpacked[2];
    for (size_t i = 0; i < 2; i++) {
        cr_assert (result_next (result, record));
        cr_assert (record->status == RESULT_OK && !record->partial && !record->error.size);
        cr_assert_eq (record->tuple, i + 1);
        cr_assert_eq (record->attempt, 1);
        cr_assert_eq (record->started_us, 1764633600000000ULL + 300 * i);
        cr_assert_eq (record->duration_us, durations[i]);
        //  Input and output are the records' own bytes: unpacked here to look.
        result_value_t spans[2] = { record->input, record->output };
        for (int v = 0; v < 2; v++) {
            msgpack_unpacked_init (&unpacked[v]);
            cr_assert_eq (msgpack_unpack_next (&unpacked[v], (const char *) spans[v].data,
                                               spans[v].size, NULL), MSGPACK_UNPACK_SUCCESS);
        }
        const msgpack_object *input = &unpacked[0].data;
        cr_assert (input->type == MSGPACK_OBJECT_ARRAY
                   && input->via.array.ptr[1].via.u64 == ports[i]);
        const msgpack_object *output = &unpacked[1].data;
        cr_assert (output && output->type == MSGPACK_OBJECT_MAP && output->via.map.size == 4);
        cr_assert_eq (output->via.map.ptr[1].val.via.u64, ports[i]);
        cr_assert_eq (output->via.map.ptr[3].val.via.f64, ms[i]);
        msgpack_unpacked_destroy (&unpacked[0]);
        msgpack_unpacked_destroy (&unpacked[1]);
    }
    cr_assert_not (result_next (result, record));
    result_destroy (&result);
    zmsg_destroy (&documented);
    msg_destroy (&msg);

    const char *commands[] = { "STORED", "DONE" };
    const msg_command_t values[] = { MSG_STORED, MSG_DONE };
    for (size_t i = 0; i < 2; i++) {
        documented = s_example_of (commands[i], 2, NULL);
        cr_assert_eq (support_decode (zmsg_dup (documented), &msg), 0);
        s_assert_run (msg, MSG_F_TUPLES);
        cr_assert_not (msg_has (msg, MSG_F_DEAD));
        msg_destroy (&msg);
        msg = msg_new (values[i]);
        msg_set_str (msg, MSG_F_JOB, "scan");
        msg_ref_t refs[] = { { 1, 1 }, { 2, 1 } };
        msg_set_refs (msg, MSG_F_TUPLES, refs, 2);        //  two refs make one run
        s_assert_encodes_to (&msg, documented);
        zmsg_destroy (&documented);
    }
}
