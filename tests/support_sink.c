//  support_sink.c -- see support_sink.h.
#include "support_sink.h"

#include "common/json_read.h"
#include "support.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ARGS_MAX 32

rig_t *
rig_new (void)
{
    rig_t *self = calloc (1, sizeof *self);
    cr_assert_not_null (self);
    self->dir = support_tmpdir ();
    cr_assert_not_null (self->dir);
    snprintf (self->out_path, sizeof self->out_path, "%s/results.jsonl", self->dir);
    snprintf (self->log_path, sizeof self->log_path, "%s/sink.log", self->dir);
    self->pid = -1;
    self->version = 1;
    return self;
}

void
rig_destroy (rig_t **self_p)
{
    rig_t *self = *self_p;
    if (!self)
        return;
    rig_stop (self, SIGTERM);
    if (getenv ("SINK_TEST_LOG")) {         //  debugging aid: show the sink's log
        char *log = support_slurp (self->log_path);
        fprintf (stderr, "---- sink log ----\n%s", log? log: "");
        free (log);
    }
    keys_destroy (&self->keys);
    support_rmdir (&self->dir);
    free (self);
    *self_p = NULL;
}

int
rig_stop (rig_t *self, int sig)
{
    zsock_destroy (&self->agent);
    int status = self->pid > 0? support_stop (self->pid, sig, 10000): -1;
    self->pid = -1;
    return status;
}

bool
rig_log_has (rig_t *self, const char *text)
{
    char *log = support_slurp (self->log_path);
    bool found = log && strstr (log, text);
    free (log);
    return found;
}

void
rig_connect (rig_t *self)
{
    zsock_destroy (&self->agent);
    self->agent = zsock_new (ZMQ_DEALER);
    cr_assert_not_null (self->agent);
    zsock_set_rcvtimeo (self->agent, 10000);
    zsock_set_linger (self->agent, 0);
    cr_assert_eq (zsock_connect (self->agent, "%s", self->endpoint), 0);
}

//  Stop what runs; `drover sink --bind <fresh endpoint> args...`; wait
//  until it is ready.
static void
s_spawn (rig_t *self, const char **args, size_t count)
{
    rig_stop (self, SIGTERM);
    snprintf (self->endpoint, sizeof self->endpoint, "%s", support_endpoint ());
    unlink (self->log_path);
    char *argv[ARGS_MAX + 4] = { "sink", "--bind", self->endpoint };
    for (size_t i = 0; i < count; i++)
        argv[3 + i] = (char *) args[i];
    argv[3 + count] = NULL;
    self->pid = support_spawnv (self->log_path, argv);
    cr_assert_gt (self->pid, 0);
    cr_assert (SUPPORT_WAIT (rig_log_has (self, "sink ready"), 10000), "sink did not start");
}

//  The arguments up to NULL, appended to args[count...]; the new count.
static size_t
s_collect (const char **args, size_t count, va_list ap)
{
    for (const char *arg = va_arg (ap, const char *); arg; arg = va_arg (ap, const char *)) {
        cr_assert_lt (count, ARGS_MAX);
        args[count++] = arg;
    }
    return count;
}

void
rig_spawn (rig_t *self, ...)
{
    const char *args[ARGS_MAX];
    va_list ap;
    va_start (ap, self);
    size_t count = s_collect (args, 0, ap);
    va_end (ap);
    s_spawn (self, args, count);
    rig_connect (self);
}

void
rig_start (rig_t *self, ...)
{
    const char *args[ARGS_MAX] = { "--output", self->out_path, "--log-level", "debug" };
    va_list ap;
    va_start (ap, self);
    size_t count = s_collect (args, 4, ap);
    va_end (ap);
    s_spawn (self, args, count);
    rig_connect (self);
}

void
rig_start_keyed (rig_t *self, const char *extra, const char *value)
{
    keys_destroy (&self->keys);
    self->keys = keys_new ();
    cr_assert_not_null (self->keys);
    char cert[600], err[256];
    snprintf (cert, sizeof cert, "%s/sink.cert", self->dir);
    cr_assert_eq (keys_save (self->keys, cert, true, err, sizeof err), 0, "%s", err);
    const char *args[] = { "--output", self->out_path, "--cert", cert, "--log-level", "debug",
                           extra, value };
    s_spawn (self, args, extra? 8: 6);
    cr_expect (rig_log_has (self, keys_public_txt (self->keys)),
               "the sink logs its public key");
}

zsock_t *
rig_curve_agent (rig_t *self, keys_t *keys, int timeout_ms)
{
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    cr_assert_not_null (sock);
    zcert_apply (keys_cert (keys), sock);
    zsock_set_curve_serverkey (sock, keys_public_txt (self->keys));
    zsock_set_rcvtimeo (sock, timeout_ms);
    zsock_set_linger (sock, 0);
    cr_assert_eq (zsock_connect (sock, "%s", self->endpoint), 0);
    return sock;
}

//  ---------------------------------------------------------------------
//  Batches

void
rig_batch_begin (rig_batch_t *batch, uint32_t records)
{
    rig_batch_begin_version (batch, records, 1);
}

void
rig_batch_begin_version (rig_batch_t *batch, uint32_t records, int version)
{
    batch->version = version;
    msgpack_sbuffer_init (&batch->buffer);
    msgpack_packer_init (&batch->packer, &batch->buffer, msgpack_sbuffer_write);
    msgpack_pack_array (&batch->packer, records);
}

void
rig_pack_str (msgpack_packer *pk, const char *text)
{
    msgpack_pack_str (pk, strlen (text));
    msgpack_pack_str_body (pk, text, strlen (text));
}

void
rig_batch_record (rig_batch_t *batch, uint64_t tuple, uint32_t attempt, bool ok)
{
    msgpack_packer *pk = &batch->packer;
    char text[32];
    snprintf (text, sizeof text, "out-%lu", (unsigned long) tuple);
    if (batch->version >= 2) {
        msgpack_pack_array (pk, 7);
        msgpack_pack_uint8 (pk, ok? 0: 1);
        msgpack_pack_uint64 (pk, 1700000000000000ULL + tuple);
        msgpack_pack_uint64 (pk, 250);
        msgpack_pack_array (pk, 2);
        rig_pack_str (pk, "echo");
        msgpack_pack_uint64 (pk, tuple);
        if (ok)
            rig_pack_str (pk, text);
        else
            msgpack_pack_nil (pk);
        if (ok)
            msgpack_pack_nil (pk);
        else
            rig_pack_str (pk, "exit status 3");
        msgpack_pack_false (pk);
        return;
    }
    msgpack_pack_map (pk, 7);
    rig_pack_str (pk, "tuple");       msgpack_pack_uint64 (pk, tuple);
    rig_pack_str (pk, "attempt");     msgpack_pack_uint32 (pk, attempt);
    rig_pack_str (pk, "status");      rig_pack_str (pk, ok? "ok": "failed");
    rig_pack_str (pk, "started_us");  msgpack_pack_uint64 (pk, 1700000000000000ULL + tuple);
    rig_pack_str (pk, "duration_us"); msgpack_pack_uint64 (pk, 250);
    rig_pack_str (pk, "input");
    msgpack_pack_array (pk, 2);
    rig_pack_str (pk, "echo");
    msgpack_pack_uint64 (pk, tuple);
    if (ok) {
        rig_pack_str (pk, "output");
        rig_pack_str (pk, text);
    }
    else {
        rig_pack_str (pk, "error");
        rig_pack_str (pk, "exit status 3");
    }
}

zframe_t *
rig_sealed_batch (seal_t *seal, keys_t *keys, const char *job,
                  const msg_ref_t *refs, size_t count, int version)
{
    rig_batch_t batch;
    rig_batch_begin_version (&batch, (uint32_t) count, version);
    for (size_t i = 0; i < count; i++)
        rig_batch_record (&batch, refs[i].id, refs[i].attempt, true);
    //  The runs the RESULT's header will carry: as msg_set_refs makes them.
    msg_t *result = msg_new (MSG_RESULT);
    cr_assert_eq (msg_set_refs (result, MSG_F_TUPLES, refs, count), 0);
    size_t runs_count = 0;
    const msg_run_t *runs = msg_runs (result, MSG_F_TUPLES, &runs_count);
    uint8_t ad[4096];
    size_t ad_len = seal_result_ad (ad, sizeof ad, version, keys_public (keys), job,
                                    "test-agent", runs, runs_count);
    msg_destroy (&result);
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

//  ---------------------------------------------------------------------
//  Sending, and what comes back

msg_t *
rig_send_raw (rig_t *self, const char *job, const msg_ref_t *refs, size_t count,
              const void *data, size_t size)
{
    msg_t *msg = msg_new (MSG_RESULT);
    msg_set_version (msg, self->version);
    msg_set_str (msg, MSG_F_JOB, job);
    msg_set_str (msg, MSG_F_AGENT, "test-agent");
    cr_assert_eq (msg_set_refs (msg, MSG_F_TUPLES, refs, count), 0);
    zframe_t *frame = zframe_new (data, size);
    msg_payload_append (msg, &frame);
    cr_assert_eq (wire_send (&msg, self->agent, NULL), 0);
    msg_t *reply = NULL;
    cr_assert_eq (wire_recv (self->agent, NULL, &reply), 0, "no reply from the sink");
    return reply;
}

msg_t *
rig_send_batch (rig_t *self, const char *job, const msg_ref_t *refs, size_t count,
                rig_batch_t *batch)
{
    msg_t *reply = rig_send_raw (self, job, refs, count, batch->buffer.data,
                                 batch->buffer.size);
    msgpack_sbuffer_destroy (&batch->buffer);
    return reply;
}

msg_t *
rig_send_ok (rig_t *self, const char *job, const msg_ref_t *refs, size_t count)
{
    rig_batch_t batch;
    rig_batch_begin_version (&batch, (uint32_t) count, self->version);
    for (size_t i = 0; i < count; i++)
        rig_batch_record (&batch, refs[i].id, refs[i].attempt, true);
    return rig_send_batch (self, job, refs, count, &batch);
}

void
rig_expect_stored (msg_t *reply, const char *job, const msg_ref_t *refs, size_t count)
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

void
rig_expect_error (msg_t *reply, int code)
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

rig_lines_t *
rig_read_lines (rig_t *self)
{
    rig_lines_t *lines = calloc (1, sizeof *lines);
    cr_assert_not_null (lines);
    char *text = support_slurp (self->out_path);
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

void
rig_free_lines (rig_lines_t **lines_p)
{
    rig_lines_t *lines = *lines_p;
    for (size_t i = 0; i < lines->count; i++) {
        msgpack_unpacked_destroy (&lines->lines[i]);
        msgpack_sbuffer_destroy (&lines->buffers[i]);
    }
    free (lines);
    *lines_p = NULL;
}

const msgpack_object *
rig_get (const rig_lines_t *lines, size_t index, const char *key)
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

void
rig_expect_str (const rig_lines_t *lines, size_t index, const char *key, const char *value)
{
    const msgpack_object *obj = rig_get (lines, index, key);
    cr_assert_not_null (obj, "line %zu has no %s", index + 1, key);
    cr_assert_eq (obj->type, MSGPACK_OBJECT_STR, "line %zu: %s", index + 1, key);
    cr_expect (obj->via.str.size == strlen (value)
               && !memcmp (obj->via.str.ptr, value, strlen (value)),
               "line %zu: %s is '%.*s', want '%s'", index + 1, key,
               (int) obj->via.str.size, obj->via.str.ptr, value);
}

void
rig_expect_uint (const rig_lines_t *lines, size_t index, const char *key, uint64_t value)
{
    const msgpack_object *obj = rig_get (lines, index, key);
    cr_assert_not_null (obj, "line %zu has no %s", index + 1, key);
    cr_assert_eq (obj->type, MSGPACK_OBJECT_POSITIVE_INTEGER, "line %zu: %s", index + 1, key);
    cr_expect_eq (obj->via.u64, value, "line %zu: %s", index + 1, key);
}

//  /proc/<sink>/name, read whole (its size is not known before: stat says 0).
static void
s_read_proc (rig_t *self, const char *name, char *text, size_t size)
{
    char path[64];
    snprintf (path, sizeof path, "/proc/%d/%s", (int) self->pid, name);
    FILE *file = fopen (path, "r");
    cr_assert_not_null (file, "cannot open %s", path);
    size_t got = fread (text, 1, size - 1, file);
    fclose (file);
    text[got] = 0;
    cr_assert_gt (got, 0, "%s is empty", path);
}

long
rig_peak_kib (rig_t *self)
{
    char text[4096];
    s_read_proc (self, "status", text, sizeof text);
    const char *at = strstr (text, "VmHWM:");
    cr_assert_not_null (at, "no VmHWM in /proc/%d/status", (int) self->pid);
    return strtol (at + 6, NULL, 10);
}

double
rig_cpu_us (rig_t *self)
{
    char text[1024];
    s_read_proc (self, "stat", text, sizeof text);
    const char *at = strrchr (text, ')');
    unsigned long utime = 0, stime = 0;
    //  After the name: state, 5 ints, flags and 4 fault counts, then utime
    //  and stime (fields 14 and 15, proc(5)).
    cr_assert (at && sscanf (at + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                             &utime, &stime) == 2, "cannot read /proc/%d/stat", (int) self->pid);
    return (double) (utime + stime) * 1e6 / (double) sysconf (_SC_CLK_TCK);
}
