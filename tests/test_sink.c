//  test_sink.c -- black-box tests of `drover sink`: a real sink process, the
//  test playing an agent over a DEALER that speaks the protocol (proto/msg.h)
//  with result batches built by msgpack-c; the JSON Lines output is parsed
//  back (common/json_read.h) to check what was stored.  For a sink with a keypair
//  the test agent speaks CURVE and seals its batches with common/seal.h.
#include <criterion/criterion.h>

#include "common/json_read.h"
#include "common/keys.h"
#include "common/seal.h"
#include "proto/msg.h"
#include "proto/wire.h"
#include "support.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *dir;
static char out_path[512];
static char log_path[512];
static char endpoint[64];
static pid_t sink_pid = -1;
static zsock_t *agent;

//  True once the sink's log holds text.
static bool
s_log_has (const char *text)
{
    char *log = support_slurp (log_path);
    bool found = log && strstr (log, text);
    free (log);
    return found;
}

static void
s_start_sink (void)
{
    snprintf (endpoint, sizeof endpoint, "%s", support_endpoint ());
    sink_pid = support_spawn (log_path, "sink", "--bind", endpoint, "--output", out_path,
                              "--log-level", "debug", NULL);
    cr_assert_gt (sink_pid, 0);
    cr_assert (SUPPORT_WAIT (s_log_has ("sink ready"), 10000), "sink did not start");
    agent = zsock_new (ZMQ_DEALER);
    cr_assert_not_null (agent);
    zsock_set_rcvtimeo (agent, 10000);
    zsock_set_linger (agent, 0);
    cr_assert_eq (zsock_connect (agent, "%s", endpoint), 0);
}

static void
setup (void)
{
    dir = support_tmpdir ();
    cr_assert_not_null (dir);
    snprintf (out_path, sizeof out_path, "%s/results.jsonl", dir);
    snprintf (log_path, sizeof log_path, "%s/sink.log", dir);
    s_start_sink ();
}

static void
teardown (void)
{
    zsock_destroy (&agent);
    if (sink_pid > 0)
        support_stop (sink_pid, SIGTERM, 10000);
    sink_pid = -1;
    if (getenv ("SINK_TEST_LOG")) {         //  debugging aid: show the sink's log
        char *log = support_slurp (log_path);
        fprintf (stderr, "---- sink log ----\n%s", log? log: "");
        free (log);
    }
    support_rmdir (&dir);
}

TestSuite (sink, .init = setup, .fini = teardown, .timeout = 60);

//  ---------------------------------------------------------------------
//  Building and sending result batches

typedef struct {
    msgpack_sbuffer buffer;
    msgpack_packer  packer;
} batch_t;

static void
s_begin (batch_t *batch, uint32_t records)
{
    msgpack_sbuffer_init (&batch->buffer);
    msgpack_packer_init (&batch->packer, &batch->buffer, msgpack_sbuffer_write);
    msgpack_pack_array (&batch->packer, records);
}

static void
s_pack_str (msgpack_packer *pk, const char *text)
{
    msgpack_pack_str (pk, strlen (text));
    msgpack_pack_str_body (pk, text, strlen (text));
}

//  A record as an agent sends it: input ["echo", tuple], output or error.
static void
s_record (batch_t *batch, uint64_t tuple, uint32_t attempt, bool ok)
{
    msgpack_packer *pk = &batch->packer;
    msgpack_pack_map (pk, 7);
    s_pack_str (pk, "tuple");       msgpack_pack_uint64 (pk, tuple);
    s_pack_str (pk, "attempt");     msgpack_pack_uint32 (pk, attempt);
    s_pack_str (pk, "status");      s_pack_str (pk, ok? "ok": "failed");
    s_pack_str (pk, "started_us");  msgpack_pack_uint64 (pk, 1700000000000000ULL + tuple);
    s_pack_str (pk, "duration_us"); msgpack_pack_uint64 (pk, 250);
    s_pack_str (pk, "input");
    msgpack_pack_array (pk, 2);
    s_pack_str (pk, "echo");
    msgpack_pack_uint64 (pk, tuple);
    if (ok) {
        char text[32];
        snprintf (text, sizeof text, "out-%lu", (unsigned long) tuple);
        s_pack_str (pk, "output");
        s_pack_str (pk, text);
    }
    else {
        s_pack_str (pk, "error");
        s_pack_str (pk, "exit status 3");
    }
}

//  Send RESULT with the given payload bytes, wait for the reply.
static msg_t *
s_send_raw (const char *job, const msg_ref_t *refs, size_t count,
            const void *data, size_t size)
{
    msg_t *msg = msg_new (MSG_RESULT);
    msg_set_str (msg, MSG_F_JOB, job);
    msg_set_str (msg, MSG_F_AGENT, "test-agent");
    cr_assert_eq (msg_set_refs (msg, MSG_F_TUPLES, refs, count), 0);
    zframe_t *frame = zframe_new (data, size);
    msg_payload_append (msg, &frame);
    cr_assert_eq (wire_send (&msg, agent, NULL), 0);
    msg_t *reply = NULL;
    cr_assert_eq (wire_recv (agent, NULL, &reply), 0, "no reply from the sink");
    return reply;
}

static msg_t *
s_send_batch (const char *job, const msg_ref_t *refs, size_t count, batch_t *batch)
{
    msg_t *reply = s_send_raw (job, refs, count, batch->buffer.data, batch->buffer.size);
    msgpack_sbuffer_destroy (&batch->buffer);
    return reply;
}

//  A good batch of ok results for refs, sent; returns the reply.
static msg_t *
s_send_ok (const char *job, const msg_ref_t *refs, size_t count)
{
    batch_t batch;
    s_begin (&batch, (uint32_t) count);
    for (size_t i = 0; i < count; i++)
        s_record (&batch, refs[i].id, refs[i].attempt, true);
    return s_send_batch (job, refs, count, &batch);
}

static void
s_expect_stored (msg_t *reply, const char *job, const msg_ref_t *refs, size_t count)
{
    cr_assert_not_null (reply);
    cr_assert_eq (msg_command (reply), MSG_STORED, "got %s (%s)",
                  msg_command_name (msg_command (reply)),
                  msg_str (reply, MSG_F_REASON)? msg_str (reply, MSG_F_REASON): "");
    cr_expect_str_eq (msg_str (reply, MSG_F_JOB), job);
    size_t got = 0;
    const msg_ref_t *stored = msg_refs (reply, MSG_F_TUPLES, &got);
    cr_assert_eq (got, count);
    for (size_t i = 0; i < count; i++) {
        cr_expect_eq (stored[i].id, refs[i].id);
        cr_expect_eq (stored[i].attempt, refs[i].attempt);
    }
}

static void
s_expect_error (msg_t *reply, int code)
{
    cr_assert_not_null (reply);
    cr_assert_eq (msg_command (reply), MSG_ERROR, "got %s", msg_command_name (msg_command (reply)));
    cr_expect_eq (msg_uint (reply, MSG_F_CODE), (uint64_t) code, "code %s, want %s (%s)",
                  msg_error_name ((int) msg_uint (reply, MSG_F_CODE)), msg_error_name (code),
                  msg_str (reply, MSG_F_REASON));
    cr_expect_not_null (msg_str (reply, MSG_F_REASON));
}

//  ---------------------------------------------------------------------
//  Reading the output back

typedef struct {
    size_t count;
    msgpack_unpacked lines[256];
    msgpack_sbuffer buffers[256];
} lines_t;

static lines_t *
s_read_lines (void)
{
    lines_t *lines = calloc (1, sizeof *lines);
    char *text = support_slurp (out_path);
    if (!text)
        return lines;
    char *save = NULL;
    for (char *line = strtok_r (text, "\n", &save); line && lines->count < 256;
         line = strtok_r (NULL, "\n", &save)) {
        size_t i = lines->count++;
        char err[128];
        msgpack_sbuffer_init (&lines->buffers[i]);
        cr_assert_eq (json_to_msgpack (line, strlen (line), &lines->buffers[i], err, sizeof err),
                      0, "line %zu is not JSON (%s): %s", i + 1, err, line);
        msgpack_unpacked_init (&lines->lines[i]);
        size_t off = 0;
        cr_assert_eq (msgpack_unpack_next (&lines->lines[i], lines->buffers[i].data,
                                           lines->buffers[i].size, &off), MSGPACK_UNPACK_SUCCESS);
        cr_assert_eq (lines->lines[i].data.type, MSGPACK_OBJECT_MAP, "line %zu", i + 1);
    }
    free (text);
    return lines;
}

static void
s_free_lines (lines_t **lines_p)
{
    lines_t *lines = *lines_p;
    for (size_t i = 0; i < lines->count; i++) {
        msgpack_unpacked_destroy (&lines->lines[i]);
        msgpack_sbuffer_destroy (&lines->buffers[i]);
    }
    free (lines);
    *lines_p = NULL;
}

static const msgpack_object *
s_get (const lines_t *lines, size_t index, const char *key)
{
    const msgpack_object *map = &lines->lines[index].data;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen (key)
        &&  !memcmp (k->via.str.ptr, key, k->via.str.size))
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

static void
s_expect_str (const lines_t *lines, size_t index, const char *key, const char *value)
{
    const msgpack_object *obj = s_get (lines, index, key);
    cr_assert_not_null (obj, "line %zu has no %s", index + 1, key);
    cr_assert_eq (obj->type, MSGPACK_OBJECT_STR, "line %zu: %s", index + 1, key);
    cr_expect (obj->via.str.size == strlen (value)
               && !memcmp (obj->via.str.ptr, value, strlen (value)),
               "line %zu: %s is '%.*s', want '%s'", index + 1, key,
               (int) obj->via.str.size, obj->via.str.ptr, value);
}

static void
s_expect_uint (const lines_t *lines, size_t index, const char *key, uint64_t value)
{
    const msgpack_object *obj = s_get (lines, index, key);
    cr_assert_not_null (obj, "line %zu has no %s", index + 1, key);
    cr_assert_eq (obj->type, MSGPACK_OBJECT_POSITIVE_INTEGER, "line %zu: %s", index + 1, key);
    cr_expect_eq (obj->via.u64, value, "line %zu: %s", index + 1, key);
}

//  ---------------------------------------------------------------------
//  Tests

Test (sink, batch_of_three_is_stored_then_acknowledged)
{
    msg_ref_t refs[] = { { 1, 1 }, { 2, 1 }, { 3, 1 } };
    msg_t *reply = s_send_ok ("scan", refs, 3);
    s_expect_stored (reply, "scan", refs, 3);
    msg_destroy (&reply);
    //  STORED came after the write, so the lines are there already.
    lines_t *lines = s_read_lines ();
    cr_assert_eq (lines->count, 3);
    for (size_t i = 0; i < 3; i++) {
        s_expect_str (lines, i, "job", "scan");
        s_expect_uint (lines, i, "tuple", i + 1);
        s_expect_uint (lines, i, "attempt", 1);
        s_expect_str (lines, i, "agent", "test-agent");
        s_expect_str (lines, i, "status", "ok");
        s_expect_uint (lines, i, "started_us", 1700000000000000ULL + i + 1);
        s_expect_uint (lines, i, "duration_us", 250);
        char out[32];
        snprintf (out, sizeof out, "out-%zu", i + 1);
        s_expect_str (lines, i, "output", out);
        const msgpack_object *input = s_get (lines, i, "input");
        cr_assert_not_null (input);
        cr_assert_eq (input->type, MSGPACK_OBJECT_ARRAY);
        cr_expect_eq (input->via.array.size, 2);
        cr_expect_null (s_get (lines, i, "error"));
    }
    s_free_lines (&lines);
}

Test (sink, redelivery_is_acknowledged_but_not_written_again)
{
    msg_ref_t refs[] = { { 1, 1 }, { 2, 1 }, { 3, 1 } };
    msg_t *reply = s_send_ok ("scan", refs, 3);
    s_expect_stored (reply, "scan", refs, 3);
    msg_destroy (&reply);
    reply = s_send_ok ("scan", refs, 3);
    s_expect_stored (reply, "scan", refs, 3);
    msg_destroy (&reply);
    cr_expect_eq (support_count_lines (out_path), 3);

    //  A later attempt of a stored tuple is dropped too; a new tuple in the
    //  same batch is written, and STORED lists both.
    msg_ref_t again[] = { { 2, 2 }, { 4, 1 } };
    reply = s_send_ok ("scan", again, 2);
    s_expect_stored (reply, "scan", again, 2);
    msg_destroy (&reply);
    lines_t *lines = s_read_lines ();
    cr_assert_eq (lines->count, 4);
    s_expect_uint (lines, 3, "tuple", 4);
    s_free_lines (&lines);

    //  The same tuple id in another job is another result.
    reply = s_send_ok ("other-job", refs, 1);
    s_expect_stored (reply, "other-job", refs, 1);
    msg_destroy (&reply);
    cr_expect_eq (support_count_lines (out_path), 5);

    //  Duplicates inside one batch: written once.
    msg_ref_t twice[] = { { 9, 1 }, { 9, 2 } };
    reply = s_send_ok ("scan", twice, 2);
    s_expect_stored (reply, "scan", twice, 2);
    msg_destroy (&reply);
    cr_expect_eq (support_count_lines (out_path), 6);
}

Test (sink, dead_letter_is_written_with_its_error)
{
    msg_ref_t refs[] = { { 5, 3 }, { 6, 1 } };
    batch_t batch;
    s_begin (&batch, 2);
    s_record (&batch, 5, 3, false);
    s_record (&batch, 6, 1, true);
    msg_t *reply = s_send_batch ("scan", refs, 2, &batch);
    s_expect_stored (reply, "scan", refs, 2);
    msg_destroy (&reply);
    lines_t *lines = s_read_lines ();
    cr_assert_eq (lines->count, 2);
    s_expect_uint (lines, 0, "tuple", 5);
    s_expect_uint (lines, 0, "attempt", 3);
    s_expect_str (lines, 0, "status", "failed");
    s_expect_str (lines, 0, "error", "exit status 3");
    cr_expect_null (s_get (lines, 0, "output"), "a dead letter has no output");
    s_expect_str (lines, 1, "status", "ok");
    s_free_lines (&lines);
}

//  STORED's dead lists exactly want (count of them).
static void
s_expect_dead (msg_t *reply, const msg_ref_t *want, size_t count)
{
    cr_assert_eq (msg_command (reply), MSG_STORED);
    size_t got = 0;
    const msg_ref_t *dead = msg_refs (reply, MSG_F_DEAD, &got);
    cr_assert_eq (got, count, "STORED lists %zu dead, want %zu", got, count);
    for (size_t i = 0; i < count; i++) {
        cr_expect_eq (dead[i].id, want[i].id, "dead %zu", i);
        cr_expect_eq (dead[i].attempt, want[i].attempt, "dead %zu", i);
    }
}

//  One record per ref, ok where ok[i].
static msg_t *
s_send_mixed (const char *job, const msg_ref_t *refs, const bool *ok, size_t count)
{
    batch_t batch;
    s_begin (&batch, (uint32_t) count);
    for (size_t i = 0; i < count; i++)
        s_record (&batch, refs[i].id, refs[i].attempt, ok[i]);
    return s_send_batch (job, refs, count, &batch);
}

//  The sink answers each tuple as the result it holds: a failed result
//  stored first stays dead when an ok one comes later, and an ok result
//  stored first is not made dead by a later dead letter; this survives a
//  restart of the sink.
static void
s_dead_is_what_the_sink_holds (const char *store)
{
    if (store) {
        zsock_destroy (&agent);
        support_stop (sink_pid, SIGTERM, 10000);
        unlink (log_path);
        snprintf (endpoint, sizeof endpoint, "%s", support_endpoint ());
        sink_pid = support_spawn (log_path, "sink", "--bind", endpoint, "--output", out_path,
                                  "--store", store, "--log-level", "debug", NULL);
        cr_assert (SUPPORT_WAIT (s_log_has ("sink ready"), 10000));
        agent = zsock_new (ZMQ_DEALER);
        zsock_set_rcvtimeo (agent, 10000);
        zsock_set_linger (agent, 0);
        cr_assert_eq (zsock_connect (agent, "%s", endpoint), 0);
    }
    //  Tuple 1 fails for good first, tuple 2 succeeds first.
    msg_ref_t first[] = { { 1, 3 }, { 2, 1 } };
    bool first_ok[] = { false, true };
    msg_t *reply = s_send_mixed ("held", first, first_ok, 2);
    s_expect_stored (reply, "held", first, 2);
    s_expect_dead (reply, first, 1);
    msg_destroy (&reply);

    //  Then the other way round, with two new tuples: 3 failed, 4 ok.
    msg_ref_t later[] = { { 1, 4 }, { 2, 3 }, { 3, 1 }, { 4, 1 } };
    bool later_ok[] = { true, false, false, true };
    msg_ref_t later_dead[] = { { 1, 4 }, { 3, 1 } };
    reply = s_send_mixed ("held", later, later_ok, 4);
    s_expect_stored (reply, "held", later, 4);
    s_expect_dead (reply, later_dead, 2);
    msg_destroy (&reply);

    lines_t *lines = s_read_lines ();
    cr_assert_eq (lines->count, 4, "duplicates are not written");
    s_expect_str (lines, 0, "status", "failed");
    s_expect_str (lines, 1, "status", "ok");
    s_expect_str (lines, 2, "status", "failed");
    s_expect_str (lines, 3, "status", "ok");
    s_free_lines (&lines);

    //  All ok: STORED has no dead.
    msg_ref_t fine[] = { { 2, 5 }, { 4, 2 } };
    reply = s_send_ok ("held", fine, 2);
    s_expect_stored (reply, "held", fine, 2);
    s_expect_dead (reply, NULL, 0);
    msg_destroy (&reply);
    if (store && !strcmp (store, "memory"))
        return;

    //  A restarted sink answers from its durable index.
    zsock_destroy (&agent);
    cr_assert_eq (support_stop (sink_pid, SIGTERM, 10000), 0);
    unlink (log_path);
    s_start_sink ();
    bool all_ok[] = { true, true, true, true };
    reply = s_send_mixed ("held", later, all_ok, 4);
    s_expect_stored (reply, "held", later, 4);
    s_expect_dead (reply, later_dead, 2);
    msg_destroy (&reply);
    cr_expect_eq (support_count_lines (out_path), 4);
}

Test (sink, dead_is_what_the_sink_holds_lmdb)   { s_dead_is_what_the_sink_holds (NULL); }
Test (sink, dead_is_what_the_sink_holds_memory) { s_dead_is_what_the_sink_holds ("memory"); }

//  A line written but not indexed (a crash between the two) is indexed at
//  the next start with the status the line has.
Test (sink, recovered_line_keeps_its_status)
{
    zsock_destroy (&agent);
    cr_assert_eq (support_stop (sink_pid, SIGTERM, 10000), 0);
    FILE *file = fopen (out_path, "a");
    cr_assert_not_null (file);
    fputs ("{\"job\":\"crash\",\"tuple\":7,\"attempt\":3,\"agent\":\"a\",\"status\":\"failed\","
           "\"started_us\":1,\"duration_us\":1,\"input\":[7],\"error\":\"boom\"}\n"
           "{\"job\":\"crash\",\"tuple\":8,\"attempt\":1,\"agent\":\"a\",\"status\":\"ok\","
           "\"started_us\":1,\"duration_us\":1,\"input\":[8],\"output\":8}\n", file);
    fclose (file);
    unlink (log_path);
    s_start_sink ();
    msg_ref_t refs[] = { { 7, 4 }, { 8, 2 } };
    bool ok[] = { true, false };
    msg_t *reply = s_send_mixed ("crash", refs, ok, 2);
    s_expect_stored (reply, "crash", refs, 2);
    s_expect_dead (reply, refs, 1);
    msg_destroy (&reply);
    cr_expect_eq (support_count_lines (out_path), 2, "both were duplicates");
}

//  Each malformed batch gets its ERROR code and writes nothing.
Test (sink, malformed_batches_get_errors_and_write_nothing)
{
    msg_ref_t refs[] = { { 1, 1 }, { 2, 1 } };
    struct {
        const char *what;
        const char *bytes;
        size_t size;
        int code;
    } raw[] = {
        { "not msgpack", "\xc1\xc1", 2, DRV_E_BAD_HEADER },
        { "truncated", "\x92\x81", 2, DRV_E_BAD_HEADER },
        { "not an array", "\x80", 1, DRV_E_BAD_HEADER },
        { "array of non-maps", "\x92\x01\x02", 3, DRV_E_BAD_HEADER },
        { "2^32 records declared", "\xdd\xff\xff\xff\xff", 5, DRV_E_BAD_HEADER },
    };
    for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++) {
        msg_t *reply = s_send_raw ("scan", refs, 2, raw[i].bytes, raw[i].size);
        cr_expect_eq (msg_command (reply), MSG_ERROR, "%s", raw[i].what);
        s_expect_error (reply, raw[i].code);
        msg_destroy (&reply);
    }
    batch_t batch;
    //  One record for two refs.
    s_begin (&batch, 1);
    s_record (&batch, 1, 1, true);
    msg_t *reply = s_send_batch ("scan", refs, 2, &batch);
    s_expect_error (reply, DRV_E_BAD_HEADER);
    msg_destroy (&reply);
    //  Record 1 is tuple 3 where the header says 2.
    s_begin (&batch, 2);
    s_record (&batch, 1, 1, true);
    s_record (&batch, 3, 1, true);
    reply = s_send_batch ("scan", refs, 2, &batch);
    s_expect_error (reply, DRV_E_BAD_HEADER);
    msg_destroy (&reply);
    //  A record without started_us (the first record is fine: all or nothing).
    s_begin (&batch, 2);
    s_record (&batch, 1, 1, true);
    msgpack_pack_map (&batch.packer, 4);
    s_pack_str (&batch.packer, "tuple");       msgpack_pack_uint64 (&batch.packer, 2);
    s_pack_str (&batch.packer, "attempt");     msgpack_pack_uint64 (&batch.packer, 1);
    s_pack_str (&batch.packer, "status");      s_pack_str (&batch.packer, "ok");
    s_pack_str (&batch.packer, "duration_us"); msgpack_pack_uint64 (&batch.packer, 1);
    reply = s_send_batch ("scan", refs, 2, &batch);
    s_expect_error (reply, DRV_E_MISSING_FIELD);
    msg_destroy (&reply);
    //  A status that is a number.
    s_begin (&batch, 1);
    msgpack_pack_map (&batch.packer, 5);
    s_pack_str (&batch.packer, "tuple");       msgpack_pack_uint64 (&batch.packer, 1);
    s_pack_str (&batch.packer, "attempt");     msgpack_pack_uint64 (&batch.packer, 1);
    s_pack_str (&batch.packer, "status");      msgpack_pack_uint64 (&batch.packer, 0);
    s_pack_str (&batch.packer, "started_us");  msgpack_pack_uint64 (&batch.packer, 1);
    s_pack_str (&batch.packer, "duration_us"); msgpack_pack_uint64 (&batch.packer, 1);
    reply = s_send_batch ("scan", refs, 1, &batch);
    s_expect_error (reply, DRV_E_BAD_TYPE);
    msg_destroy (&reply);

    cr_expect_eq (support_count_lines (out_path), 0, "nothing of a bad batch is written");
    //  The rejected tuple 1 was not marked as stored: a good batch writes it.
    reply = s_send_ok ("scan", refs, 2);
    s_expect_stored (reply, "scan", refs, 2);
    msg_destroy (&reply);
    cr_expect_eq (support_count_lines (out_path), 2);
    cr_expect (SUPPORT_WAIT (s_log_has ("MISSING_FIELD"), 5000), "bad input is logged");
}

Test (sink, wrong_command_and_garbage_get_errors)
{
    msg_t *submit = msg_new (MSG_SUBMIT);
    msg_set_str (submit, MSG_F_JOB, "scan");
    cr_assert_eq (wire_send (&submit, agent, NULL), 0);
    msg_t *reply = NULL;
    cr_assert_eq (wire_recv (agent, NULL, &reply), 0);
    s_expect_error (reply, DRV_E_UNEXPECTED);
    msg_destroy (&reply);

    //  Not a drover message at all: the codec's code comes back.
    zstr_sendx (agent, "hello", "world", NULL);
    cr_assert_eq (wire_recv (agent, NULL, &reply), 0);
    s_expect_error (reply, DRV_E_BAD_FRAMES);
    msg_destroy (&reply);
    //  A future version.
    zstr_sendx (agent, "DRV9", "RESULT", "\x80", NULL);
    cr_assert_eq (wire_recv (agent, NULL, &reply), 0);
    s_expect_error (reply, DRV_E_BAD_VERSION);
    cr_expect_str_eq (msg_str (reply, MSG_F_REASON), "supported: 1");
    msg_destroy (&reply);
    //  RESULT without its payload frame.
    zsock_send (agent, "ssb", "DRV1", "RESULT", "\x80", (size_t) 1);
    cr_assert_eq (wire_recv (agent, NULL, &reply), 0);
    s_expect_error (reply, DRV_E_BAD_FRAMES);
    msg_destroy (&reply);
    //  RESULT whose header lacks tuples: {"job": "scan", "agent": "a"}.
    const char header[] = "\x82\xa3job\xa4scan\xa5" "agent\xa1" "a";
    zsock_send (agent, "ssbb", "DRV1", "RESULT", header, sizeof header - 1, "\x90", (size_t) 1);
    cr_assert_eq (wire_recv (agent, NULL, &reply), 0);
    s_expect_error (reply, DRV_E_MISSING_FIELD);
    msg_destroy (&reply);

    //  The sink still works, for this agent and for a new one.
    msg_ref_t refs[] = { { 1, 1 } };
    reply = s_send_ok ("scan", refs, 1);
    s_expect_stored (reply, "scan", refs, 1);
    msg_destroy (&reply);
    zsock_destroy (&agent);
    agent = zsock_new (ZMQ_DEALER);
    zsock_set_rcvtimeo (agent, 10000);
    zsock_connect (agent, "%s", endpoint);
    msg_ref_t more[] = { { 2, 1 } };
    reply = s_send_ok ("scan", more, 1);
    s_expect_stored (reply, "scan", more, 1);
    msg_destroy (&reply);
    cr_expect_eq (support_count_lines (out_path), 2);
}

//  A batch that cannot be written is not acknowledged, and not remembered:
//  when the agent sends it again it is tried again, not dropped as stored.
Test (sink, write_failure_is_an_error_and_forgotten)
{
    zsock_destroy (&agent);
    support_stop (sink_pid, SIGTERM, 10000);
    snprintf (endpoint, sizeof endpoint, "%s", support_endpoint ());
    unlink (log_path);
    sink_pid = support_spawn (log_path, "sink", "--bind", endpoint, "--output", "/dev/full",
                              "--store", "memory", NULL);
    cr_assert (SUPPORT_WAIT (s_log_has ("sink ready"), 10000));
    agent = zsock_new (ZMQ_DEALER);
    zsock_set_rcvtimeo (agent, 10000);
    zsock_connect (agent, "%s", endpoint);
    msg_ref_t refs[] = { { 1, 1 }, { 2, 1 } };
    for (int i = 0; i < 2; i++) {
        msg_t *reply = s_send_ok ("full", refs, 2);
        s_expect_error (reply, DRV_E_INTERNAL);
        msg_destroy (&reply);
    }
    cr_expect (s_log_has ("cannot write /dev/full: No space left on device"));
}

//  --output -: results on stdout, nothing else there; logs on stderr.
Test (sink, stdout_gets_only_results)
{
    zsock_destroy (&agent);
    support_stop (sink_pid, SIGTERM, 10000);
    snprintf (endpoint, sizeof endpoint, "%s", support_endpoint ());
    unlink (log_path);
    pid_t pid = fork ();
    if (pid == 0) {
        int out = open (out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open (log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2 (out, STDOUT_FILENO);
        dup2 (err, STDERR_FILENO);
        char data_dir[600];
        snprintf (data_dir, sizeof data_dir, "%s/stdout-data", dir);
        execl (DROVER_BIN, DROVER_BIN, "sink", "--bind", endpoint, "--output", "-",
               "--data-dir", data_dir, "--log-level", "debug", (char *) NULL);
        _exit (127);
    }
    sink_pid = pid;
    cr_assert (SUPPORT_WAIT (s_log_has ("writing to stdout"), 10000));
    agent = zsock_new (ZMQ_DEALER);
    zsock_set_rcvtimeo (agent, 10000);
    zsock_connect (agent, "%s", endpoint);
    msg_ref_t refs[] = { { 1, 1 }, { 2, 1 } };
    msg_t *reply = s_send_ok ("piped", refs, 2);
    s_expect_stored (reply, "piped", refs, 2);
    msg_destroy (&reply);
    int status = support_stop (sink_pid, SIGTERM, 10000);
    sink_pid = -1;
    cr_expect (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    lines_t *lines = s_read_lines ();       //  asserts each line is JSON
    cr_expect_eq (lines->count, 2);
    s_expect_str (lines, 1, "job", "piped");
    s_free_lines (&lines);
    cr_expect (s_log_has ("sink shut down"), "logs went to stderr");
}

Test (sink, big_batch)
{
    enum { COUNT = MSG_MAX_REFS };      //  the most one RESULT may carry
    msg_ref_t *refs = calloc (COUNT, sizeof *refs);
    for (size_t i = 0; i < COUNT; i++)
        refs[i] = (msg_ref_t) { i + 1, 1 };
    msg_t *reply = s_send_ok ("big", refs, COUNT);
    s_expect_stored (reply, "big", refs, COUNT);
    msg_destroy (&reply);
    cr_expect_eq (support_count_lines (out_path), COUNT);
    free (refs);
}

Test (sink, sigterm_exits_zero_with_complete_file)
{
    //  Pipeline batches without waiting, then stop the sink: every batch it
    //  acknowledged is whole in the file, and every line is whole.
    enum { BATCHES = 50, PER = 20 };
    for (uint64_t b = 0; b < BATCHES; b++) {
        msg_ref_t refs[PER];
        batch_t batch;
        s_begin (&batch, PER);
        for (uint64_t i = 0; i < PER; i++) {
            refs[i] = (msg_ref_t) { b * PER + i + 1, 1 };
            s_record (&batch, refs[i].id, 1, true);
        }
        msg_t *msg = msg_new (MSG_RESULT);
        msg_set_str (msg, MSG_F_JOB, "bulk");
        msg_set_str (msg, MSG_F_AGENT, "test-agent");
        msg_set_refs (msg, MSG_F_TUPLES, refs, PER);
        zframe_t *frame = zframe_new (batch.buffer.data, batch.buffer.size);
        msg_payload_append (msg, &frame);
        msgpack_sbuffer_destroy (&batch.buffer);
        cr_assert_eq (wire_send (&msg, agent, NULL), 0);
    }
    size_t stored = 0;
    for (int i = 0; i < 10; i++) {      //  a few replies, then stop mid-stream
        msg_t *reply = NULL;
        cr_assert_eq (wire_recv (agent, NULL, &reply), 0);
        cr_expect_eq (msg_command (reply), MSG_STORED);
        stored++;
        msg_destroy (&reply);
    }
    int status = support_stop (sink_pid, SIGTERM, 10000);
    sink_pid = -1;
    cr_assert (WIFEXITED (status), "sink did not exit by itself");
    cr_expect_eq (WEXITSTATUS (status), 0);
    char *text = support_slurp (out_path);
    cr_assert_not_null (text);
    size_t length = strlen (text);
    cr_expect (length == 0 || text[length - 1] == '\n', "the last line is whole");
    free (text);
    size_t lines = support_count_lines (out_path);
    cr_expect_geq (lines, stored * PER, "acknowledged batches are in the file");
    cr_expect_eq (lines % PER, 0, "batches are written whole");
    lines_t *parsed = s_read_lines ();      //  asserts every line is JSON
    s_free_lines (&parsed);
    cr_expect (s_log_has ("sink shut down"), "counters are logged at shutdown");
}

Test (sink, counters_at_shutdown)
{
    msg_ref_t refs[] = { { 1, 1 }, { 2, 1 } };
    msg_t *reply = s_send_ok ("scan", refs, 2);
    msg_destroy (&reply);
    reply = s_send_ok ("scan", refs, 2);
    msg_destroy (&reply);
    reply = s_send_raw ("scan", refs, 2, "\xc1", 1);
    msg_destroy (&reply);
    int status = support_stop (sink_pid, SIGINT, 10000);
    sink_pid = -1;
    cr_assert (WIFEXITED (status));
    cr_expect_eq (WEXITSTATUS (status), 0);
    cr_expect (s_log_has ("2 results stored (0 failed) in 2 batches, 2 duplicates dropped, "
                          "1 bad messages (BAD_HEADER 1)"), "counters in the log");
}

//  ---------------------------------------------------------------------
//  The command line

static int
s_exit_code (pid_t pid)
{
    int status = -1;
    cr_assert (SUPPORT_WAIT (support_exited (pid, &status), 10000));
    return WIFEXITED (status)? WEXITSTATUS (status): -1;
}

Test (sink, environment_and_flags)
{
    //  DROVER_BIND and DROVER_OUTPUT are the defaults of --bind and --output.
    zsock_destroy (&agent);
    support_stop (sink_pid, SIGTERM, 10000);
    char env_out[600];
    snprintf (env_out, sizeof env_out, "%s/env.jsonl", dir);
    char bind[64];
    snprintf (bind, sizeof bind, "%s", support_endpoint ());
    setenv ("DROVER_BIND", bind, 1);
    setenv ("DROVER_OUTPUT", env_out, 1);
    setenv ("DROVER_FSYNC", "1", 1);
    unlink (log_path);
    sink_pid = support_spawn (log_path, "sink", NULL);
    unsetenv ("DROVER_BIND");
    unsetenv ("DROVER_OUTPUT");
    unsetenv ("DROVER_FSYNC");
    cr_assert (SUPPORT_WAIT (s_log_has ("sink ready"), 10000));
    cr_expect (s_log_has (bind), "bound the endpoint from DROVER_BIND");
    cr_expect (s_log_has ("(fsync)"), "DROVER_FSYNC=1 turns fsync on");
    agent = zsock_new (ZMQ_DEALER);
    zsock_set_rcvtimeo (agent, 10000);
    zsock_connect (agent, "%s", bind);
    msg_ref_t refs[] = { { 1, 1 } };
    msg_t *reply = s_send_ok ("env", refs, 1);
    s_expect_stored (reply, "env", refs, 1);
    msg_destroy (&reply);
    cr_expect_eq (support_count_lines (env_out), 1);

    //  --help is complete and exits 0; usage errors exit 2.
    char help_log[600];
    snprintf (help_log, sizeof help_log, "%s/help.log", dir);
    cr_expect_eq (s_exit_code (support_spawn (help_log, "sink", "--help", NULL)), 0);
    char *help = support_slurp (help_log);
    cr_assert_not_null (help);
    const char *flags[] = { "--bind", "--output", "--fsync", "--log-level", "--help",
                            "--data-dir", "--store", "--cert", "--allow-plain",
                            "--allow-agents", "DROVER_BIND", "DROVER_OUTPUT", "DROVER_FSYNC",
                            "DROVER_LOG_LEVEL", "DROVER_DATA_DIR", "DROVER_STORE",
                            "DROVER_CERT", "DROVER_SECRET_KEY", "DROVER_ALLOW_PLAIN",
                            "DROVER_ALLOW_AGENTS" };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        cr_expect (strstr (help, flags[i]), "--help mentions %s", flags[i]);
    free (help);
    cr_expect_eq (s_exit_code (support_spawn (help_log, "sink", "--no-such-flag", NULL)), 2);
    cr_expect_eq (s_exit_code (support_spawn (help_log, "sink", "--log-level", "loud", NULL)), 2);
    cr_expect_eq (s_exit_code (support_spawn (help_log, "sink", "stray", NULL)), 2);
    cr_expect_eq (s_exit_code (support_spawn (help_log, "sink", "--store", "disk", NULL)), 2);
    cr_expect (SUPPORT_WAIT (s_log_has ("sink ready"), 1), "still running");
    //  Runtime failures exit 1: an output that cannot be opened.
    cr_expect_eq (s_exit_code (support_spawn (help_log, "sink", "--bind", support_endpoint (),
                                              "--output", "/nonexistent-dir/x", NULL)), 1);
    help = support_slurp (help_log);
    cr_expect (strstr (help, "try 'drover sink --help'"), "usage errors point to --help");
    cr_expect (strstr (help, "cannot open output /nonexistent-dir/x"), "%s", help);
    free (help);
}

//  ---------------------------------------------------------------------
//  A sink with a keypair: CURVE, sealed results, the agents' allow-list

static keys_t *sink_keys;

//  Restart the sink with a fresh keypair (--cert) and the extra arguments.
static void
s_start_keyed_sink (const char *extra, const char *value)
{
    zsock_destroy (&agent);
    support_stop (sink_pid, SIGTERM, 10000);
    keys_destroy (&sink_keys);
    sink_keys = keys_new ();
    cr_assert_not_null (sink_keys);
    char cert[600], err[256];
    snprintf (cert, sizeof cert, "%s/sink.cert", dir);
    cr_assert_eq (keys_save (sink_keys, cert, true, err, sizeof err), 0, "%s", err);
    snprintf (endpoint, sizeof endpoint, "%s", support_endpoint ());
    unlink (log_path);
    sink_pid = support_spawn (log_path, "sink", "--bind", endpoint, "--output", out_path,
                              "--cert", cert, "--log-level", "debug", extra, value, NULL);
    cr_assert_gt (sink_pid, 0);
    cr_assert (SUPPORT_WAIT (s_log_has ("sink ready"), 10000), "sink did not start");
    cr_expect (s_log_has (keys_public_txt (sink_keys)), "the sink logs its public key");
}

//  A DEALER speaking CURVE to the keyed sink with the agent's keys.
static zsock_t *
s_curve_agent (keys_t *keys, int timeout_ms)
{
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    cr_assert_not_null (sock);
    zcert_apply (keys_cert (keys), sock);
    zsock_set_curve_serverkey (sock, keys_public_txt (sink_keys));
    zsock_set_rcvtimeo (sock, timeout_ms);
    zsock_set_linger (sock, 0);
    cr_assert_eq (zsock_connect (sock, "%s", endpoint), 0);
    return sock;
}

//  A batch of ok results for refs, sealed by seal for job: the bytes of
//  the payload frame.
static zframe_t *
s_sealed_batch (seal_t *seal, keys_t *keys, const char *job,
                const msg_ref_t *refs, size_t count)
{
    batch_t batch;
    s_begin (&batch, (uint32_t) count);
    for (size_t i = 0; i < count; i++)
        s_record (&batch, refs[i].id, refs[i].attempt, true);
    uint8_t ad[4096];
    size_t ad_len = seal_result_ad (ad, sizeof ad, keys_public (keys), job, "test-agent",
                                    refs, count);
    cr_assert_leq (ad_len, sizeof ad);
    size_t cap = batch.buffer.size + SEAL_OVERHEAD, len = 0;
    uint8_t *sealed = malloc (cap);
    cr_assert_eq (seal_encrypt (seal, ad, ad_len, (const uint8_t *) batch.buffer.data,
                                batch.buffer.size, sealed, cap, &len, NULL), 0);
    msgpack_sbuffer_destroy (&batch.buffer);
    zframe_t *frame = zframe_new (sealed, len);
    free (sealed);
    return frame;
}

//  Send RESULT for job with key (NULL: unsealed) and a copy of payload.
static msg_t *
s_exchange (zsock_t *sock, const char *job, const char *key, const msg_ref_t *refs,
            size_t count, zframe_t *payload)
{
    msg_t *msg = msg_new (MSG_RESULT);
    msg_set_str (msg, MSG_F_JOB, job);
    msg_set_str (msg, MSG_F_AGENT, "test-agent");
    if (key)
        msg_set_str (msg, MSG_F_KEY, key);
    msg_set_refs (msg, MSG_F_TUPLES, refs, count);
    zframe_t *copy = zframe_dup (payload);
    msg_payload_append (msg, &copy);
    cr_assert_eq (wire_send (&msg, sock, NULL), 0);
    msg_t *reply = NULL;
    if (wire_recv (sock, NULL, &reply))
        return NULL;
    return reply;
}

static void
s_expect_denied (msg_t *reply, const char *reason)
{
    s_expect_error (reply, DRV_E_DENIED);
    const char *got = msg_str (reply, MSG_F_REASON);
    cr_expect (got && strstr (got, reason), "reason '%s', want '%s'", got, reason);
}

Test (sink, sealed_batch_is_stored_and_a_replay_denied)
{
    s_start_keyed_sink (NULL, NULL);
    keys_t *agent_keys = keys_new ();
    zsock_t *sock = s_curve_agent (agent_keys, 10000);
    seal_t *seal = seal_new (keys_secret (agent_keys), keys_public (agent_keys),
                             keys_public (sink_keys), SEAL_CLIENT);
    cr_assert_not_null (seal);
    msg_ref_t refs[] = { { 1, 1 }, { 2, 1 }, { 3, 1 } };
    zframe_t *sealed = s_sealed_batch (seal, agent_keys, "secret-scan", refs, 3);
    msg_t *reply = s_exchange (sock, "secret-scan", keys_public_txt (agent_keys), refs, 3,
                               sealed);
    s_expect_stored (reply, "secret-scan", refs, 3);
    msg_destroy (&reply);
    lines_t *lines = s_read_lines ();
    cr_assert_eq (lines->count, 3);
    for (size_t i = 0; i < 3; i++) {
        s_expect_str (lines, i, "job", "secret-scan");
        s_expect_uint (lines, i, "tuple", i + 1);
        char out[32];
        snprintf (out, sizeof out, "out-%zu", i + 1);
        s_expect_str (lines, i, "output", out);      //  stored decrypted
    }
    s_free_lines (&lines);

    //  The same message again (a relay replaying it): denied, not stored.
    reply = s_exchange (sock, "secret-scan", keys_public_txt (agent_keys), refs, 3, sealed);
    s_expect_denied (reply, "replayed");
    msg_destroy (&reply);
    //  A redelivery sealed anew is authentic: acknowledged, deduped.
    zframe_t *again = s_sealed_batch (seal, agent_keys, "secret-scan", refs, 3);
    reply = s_exchange (sock, "secret-scan", keys_public_txt (agent_keys), refs, 3, again);
    s_expect_stored (reply, "secret-scan", refs, 3);
    msg_destroy (&reply);
    cr_expect_eq (support_count_lines (out_path), 3, "records once");

    zframe_destroy (&sealed);
    zframe_destroy (&again);
    seal_destroy (&seal);
    zsock_destroy (&sock);
    keys_destroy (&agent_keys);
    int status = support_stop (sink_pid, SIGTERM, 10000);
    sink_pid = -1;
    cr_expect (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    cr_expect (s_log_has ("sealed batches: 2 opened, 0 tampered, 1 replayed"),
               "counters in the log");
    keys_destroy (&sink_keys);
}

Test (sink, tampered_batch_is_denied_and_counted)
{
    s_start_keyed_sink (NULL, NULL);
    keys_t *agent_keys = keys_new ();
    zsock_t *sock = s_curve_agent (agent_keys, 10000);
    seal_t *seal = seal_new (keys_secret (agent_keys), keys_public (agent_keys),
                             keys_public (sink_keys), SEAL_CLIENT);
    msg_ref_t refs[] = { { 1, 1 }, { 2, 1 } };
    const char *key = keys_public_txt (agent_keys);
    //  A byte flipped in the ciphertext, in the nonce, in the tag.
    size_t where[] = { SEAL_NONCE_SIZE + 5, 3, 0 };
    for (size_t i = 0; i < 3; i++) {
        zframe_t *sealed = s_sealed_batch (seal, agent_keys, "scan", refs, 2);
        size_t at = where[i]? where[i]: zframe_size (sealed) - 1;
        zframe_data (sealed)[at] ^= 0x01;
        msg_t *reply = s_exchange (sock, "scan", key, refs, 2, sealed);
        s_expect_denied (reply, "failed authentication");
        msg_destroy (&reply);
        zframe_destroy (&sealed);
    }
    //  An authentic batch relabelled: another job, another tuple id.
    zframe_t *sealed = s_sealed_batch (seal, agent_keys, "scan", refs, 2);
    msg_t *reply = s_exchange (sock, "other", key, refs, 2, sealed);
    s_expect_denied (reply, "failed authentication");
    msg_destroy (&reply);
    msg_ref_t moved[] = { { 1, 1 }, { 7, 1 } };
    reply = s_exchange (sock, "scan", key, moved, 2, sealed);
    cr_assert_not_null (reply);
    cr_expect_eq (msg_command (reply), MSG_ERROR, "relabelled refs are not stored");
    msg_destroy (&reply);
    //  Sealed with another agent's key than the one it names.
    keys_t *other_keys = keys_new ();
    reply = s_exchange (sock, "scan", keys_public_txt (other_keys), refs, 2, sealed);
    s_expect_denied (reply, "failed authentication");
    msg_destroy (&reply);
    //  A key that is not Z85.
    reply = s_exchange (sock, "scan", "not a key", refs, 2, sealed);
    s_expect_error (reply, DRV_E_BAD_TYPE);
    msg_destroy (&reply);
    cr_expect_eq (support_count_lines (out_path), 0, "nothing stored");
    //  The genuine message still opens: failures did not touch its window.
    reply = s_exchange (sock, "scan", key, refs, 2, sealed);
    s_expect_stored (reply, "scan", refs, 2);
    msg_destroy (&reply);
    cr_expect_eq (support_count_lines (out_path), 2);
    cr_expect (s_log_has ("DENIED"), "denials are logged");

    zframe_destroy (&sealed);
    seal_destroy (&seal);
    zsock_destroy (&sock);
    keys_destroy (&agent_keys);
    keys_destroy (&other_keys);
    support_stop (sink_pid, SIGTERM, 10000);
    sink_pid = -1;
    cr_expect (s_log_has ("sealed batches: 1 opened, 6 tampered, 0 replayed"),
               "counters in the log");
    keys_destroy (&sink_keys);
}

Test (sink, plain_and_sealed_must_match_the_sink)
{
    //  A sink without a keypair (the one setup started) refuses sealed results.
    keys_t *agent_keys = keys_new ();
    keys_t *fake_sink = keys_new ();
    seal_t *seal = seal_new (keys_secret (agent_keys), keys_public (agent_keys),
                             keys_public (fake_sink), SEAL_CLIENT);
    msg_ref_t refs[] = { { 1, 1 } };
    zframe_t *sealed = s_sealed_batch (seal, agent_keys, "scan", refs, 1);
    msg_t *reply = s_exchange (agent, "scan", keys_public_txt (agent_keys), refs, 1, sealed);
    s_expect_denied (reply, "no keypair");
    msg_destroy (&reply);
    zframe_destroy (&sealed);
    seal_destroy (&seal);
    keys_destroy (&fake_sink);

    //  A sink with one refuses plain results...
    s_start_keyed_sink (NULL, NULL);
    zsock_t *sock = s_curve_agent (agent_keys, 10000);
    batch_t batch;
    s_begin (&batch, 1);
    s_record (&batch, 1, 1, true);
    zframe_t *plain = zframe_new (batch.buffer.data, batch.buffer.size);
    msgpack_sbuffer_destroy (&batch.buffer);
    reply = s_exchange (sock, "scan", NULL, refs, 1, plain);
    s_expect_denied (reply, "sealed results only");
    msg_destroy (&reply);
    cr_expect_eq (support_count_lines (out_path), 0);
    zsock_destroy (&sock);

    //  ...unless --allow-plain; keys from DROVER_SECRET_KEY this time.
    support_stop (sink_pid, SIGTERM, 10000);
    keys_t *env_keys = keys_new ();
    char secret[KEYS_Z85_SIZE + 1];
    zmq_z85_encode (secret, keys_secret (env_keys), KEYS_KEY_SIZE);
    setenv ("DROVER_SECRET_KEY", secret, 1);
    snprintf (endpoint, sizeof endpoint, "%s", support_endpoint ());
    unlink (log_path);
    sink_pid = support_spawn (log_path, "sink", "--bind", endpoint, "--output", out_path,
                              "--allow-plain", NULL);
    unsetenv ("DROVER_SECRET_KEY");
    cr_assert (SUPPORT_WAIT (s_log_has ("sink ready"), 10000));
    cr_expect (s_log_has (keys_public_txt (env_keys)), "the key from the environment");
    keys_destroy (&sink_keys);
    sink_keys = env_keys;
    sock = s_curve_agent (agent_keys, 10000);
    reply = s_exchange (sock, "scan", NULL, refs, 1, plain);
    s_expect_stored (reply, "scan", refs, 1);
    msg_destroy (&reply);
    cr_expect_eq (support_count_lines (out_path), 1);
    zframe_destroy (&plain);
    zsock_destroy (&sock);
    keys_destroy (&agent_keys);
    keys_destroy (&sink_keys);
}

Test (sink, curve_lets_in_only_listed_agents)
{
    char allow[600], err[256];
    snprintf (allow, sizeof allow, "%s/agents", dir);
    cr_assert_eq (mkdir (allow, 0700), 0);
    keys_t *listed = keys_new ();
    keys_t *unlisted = keys_new ();
    char path[700];
    snprintf (path, sizeof path, "%s/listed", allow);
    cr_assert_eq (zcert_save_public (keys_cert (listed), path), 0);
    s_start_keyed_sink ("--allow-agents", allow);
    cr_expect (s_log_has (allow), "the allow-list is logged");

    msg_ref_t refs[] = { { 1, 1 } };
    batch_t batch;
    s_begin (&batch, 1);
    s_record (&batch, 1, 1, true);
    seal_t *seal = seal_new (keys_secret (unlisted), keys_public (unlisted),
                             keys_public (sink_keys), SEAL_CLIENT);
    zframe_t *sealed = s_sealed_batch (seal, unlisted, "scan", refs, 1);
    //  Not on the list: the handshake fails, nothing comes back.
    zsock_t *sock = s_curve_agent (unlisted, 1500);
    cr_expect_null (s_exchange (sock, "scan", keys_public_txt (unlisted), refs, 1, sealed),
                    "an unlisted agent gets no answer");
    zsock_destroy (&sock);
    //  No CURVE at all: likewise.
    sock = zsock_new (ZMQ_DEALER);
    zsock_set_rcvtimeo (sock, 1500);
    zsock_set_linger (sock, 0);
    zsock_connect (sock, "%s", endpoint);
    cr_expect_null (s_exchange (sock, "scan", keys_public_txt (unlisted), refs, 1, sealed));
    zsock_destroy (&sock);
    cr_expect_eq (support_count_lines (out_path), 0);
    zframe_destroy (&sealed);
    seal_destroy (&seal);

    //  The listed agent gets in.
    seal = seal_new (keys_secret (listed), keys_public (listed), keys_public (sink_keys),
                     SEAL_CLIENT);
    sealed = s_sealed_batch (seal, listed, "scan", refs, 1);
    sock = s_curve_agent (listed, 10000);
    msg_t *reply = s_exchange (sock, "scan", keys_public_txt (listed), refs, 1, sealed);
    s_expect_stored (reply, "scan", refs, 1);
    msg_destroy (&reply);
    cr_expect_eq (support_count_lines (out_path), 1);
    zsock_destroy (&sock);
    //  Revoked: its file removed, a new connection with that key fails.
    cr_assert_eq (unlink (path), 0);
    sock = s_curve_agent (listed, 1500);
    cr_expect_null (s_exchange (sock, "scan", keys_public_txt (listed), refs, 1, sealed),
                    "a revoked agent gets no answer");
    msgpack_sbuffer_destroy (&batch.buffer);
    zframe_destroy (&sealed);
    seal_destroy (&seal);
    zsock_destroy (&sock);
    keys_destroy (&listed);
    keys_destroy (&unlisted);
    keys_destroy (&sink_keys);
    (void) err;
}

//  ---------------------------------------------------------------------
//  Throughput: the same stream of batches into a sink with the index in
//  memory, in LMDB, and in LMDB with sealed batches (numbers on stderr).

enum { BATCHES = 600, PER = 256, WINDOW = 8 };

static double
s_stream (zsock_t *sock, const char *job, keys_t *keys, seal_t *seal)
{
    //  Batches are made before the clock starts: only the sink is timed.
    zframe_t **frames = calloc (BATCHES, sizeof *frames);
    msg_ref_t (*refs)[PER] = calloc (BATCHES, sizeof *refs);
    for (size_t b = 0; b < BATCHES; b++) {
        for (size_t i = 0; i < PER; i++)
            refs[b][i] = (msg_ref_t) { b * PER + i + 1, 1 };
        if (seal)
            frames[b] = s_sealed_batch (seal, keys, job, refs[b], PER);
        else {
            batch_t batch;
            s_begin (&batch, PER);
            for (size_t i = 0; i < PER; i++)
                s_record (&batch, refs[b][i].id, 1, true);
            frames[b] = zframe_new (batch.buffer.data, batch.buffer.size);
            msgpack_sbuffer_destroy (&batch.buffer);
        }
    }
    int64_t started = zclock_usecs ();
    size_t sent = 0, stored = 0;
    while (stored < BATCHES) {
        while (sent < BATCHES && sent - stored < WINDOW) {
            msg_t *msg = msg_new (MSG_RESULT);
            msg_set_str (msg, MSG_F_JOB, job);
            msg_set_str (msg, MSG_F_AGENT, "test-agent");
            if (seal)
                msg_set_str (msg, MSG_F_KEY, keys_public_txt (keys));
            msg_set_refs (msg, MSG_F_TUPLES, refs[sent], PER);
            msg_payload_append (msg, &frames[sent]);
            cr_assert_eq (wire_send (&msg, sock, NULL), 0);
            sent++;
        }
        msg_t *reply = NULL;
        cr_assert_eq (wire_recv (sock, NULL, &reply), 0);
        cr_assert_eq (msg_command (reply), MSG_STORED);
        msg_destroy (&reply);
        stored++;
    }
    int64_t us = zclock_usecs () - started;
    free (frames);
    free (refs);
    return (double) BATCHES * PER * 1e6 / (double) (us? us: 1);
}

Test (sink, throughput_memory_lmdb_sealed, .timeout = 120)
{
    //  Memory index (restart the setup's sink without a data directory).
    zsock_destroy (&agent);
    support_stop (sink_pid, SIGTERM, 10000);
    snprintf (endpoint, sizeof endpoint, "%s", support_endpoint ());
    unlink (log_path);
    unlink (out_path);
    sink_pid = support_spawn (log_path, "sink", "--bind", endpoint, "--output", out_path,
                              "--store", "memory", NULL);
    cr_assert (SUPPORT_WAIT (s_log_has ("sink ready"), 10000));
    agent = zsock_new (ZMQ_DEALER);
    zsock_set_rcvtimeo (agent, 10000);
    zsock_connect (agent, "%s", endpoint);
    double memory = s_stream (agent, "speed", NULL, NULL);
    cr_expect_eq (support_count_lines (out_path), BATCHES * PER);

    //  LMDB index.
    zsock_destroy (&agent);
    support_stop (sink_pid, SIGTERM, 10000);
    unlink (out_path);
    snprintf (endpoint, sizeof endpoint, "%s", support_endpoint ());
    unlink (log_path);
    char data_dir[600];
    snprintf (data_dir, sizeof data_dir, "%s/speed-data", dir);
    sink_pid = support_spawn (log_path, "sink", "--bind", endpoint, "--output", out_path,
                              "--data-dir", data_dir, NULL);
    cr_assert (SUPPORT_WAIT (s_log_has ("sink ready"), 10000));
    agent = zsock_new (ZMQ_DEALER);
    zsock_set_rcvtimeo (agent, 10000);
    zsock_connect (agent, "%s", endpoint);
    double lmdb = s_stream (agent, "speed", NULL, NULL);
    cr_expect_eq (support_count_lines (out_path), BATCHES * PER);

    //  LMDB index, CURVE and sealed batches.
    unlink (out_path);
    s_start_keyed_sink (NULL, NULL);
    keys_t *agent_keys = keys_new ();
    zsock_t *sock = s_curve_agent (agent_keys, 10000);
    seal_t *seal = seal_new (keys_secret (agent_keys), keys_public (agent_keys),
                             keys_public (sink_keys), SEAL_CLIENT);
    double sealed = s_stream (sock, "speed", agent_keys, seal);
    cr_expect_eq (support_count_lines (out_path), BATCHES * PER);
    fprintf (stderr, "sink: %d results in batches of %d, %d in flight: memory index "
             "%.0f results/s, lmdb %.0f results/s, lmdb + CURVE + sealed %.0f results/s\n",
             BATCHES * PER, PER, WINDOW, memory, lmdb, sealed);
    seal_destroy (&seal);
    zsock_destroy (&sock);
    keys_destroy (&agent_keys);
    keys_destroy (&sink_keys);
}
