//  support_agent.c -- the broker and the sink the test_agent_*.c files
//  play (support_agent.h): ROUTERs speaking the protocol through
//  proto/msg.h to a real `drover agent` process.
#include "support_agent.h"
#include "support.h"
#include "common/json_read.h"
#include "common/json_write.h"
#include "proto/wire.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

//  Bind both ROUTERs and start `drover agent` with extra flags (NULL-ended).
void
play_start (play_t *ctx, ...)
{
    memset (ctx, 0, sizeof *ctx);
    ctx->broker = zsock_new (ZMQ_ROUTER);
    ctx->sink = zsock_new (ZMQ_ROUTER);
    for (int tries = 0; tries < 5; tries++) {
        snprintf (ctx->broker_ep, sizeof ctx->broker_ep, "%s", support_endpoint ());
        if (zsock_bind (ctx->broker, "%s", ctx->broker_ep) != -1)
            break;
    }
    for (int tries = 0; tries < 5; tries++) {
        snprintf (ctx->sink_ep, sizeof ctx->sink_ep, "%s", support_endpoint ());
        if (zsock_bind (ctx->sink, "%s", ctx->sink_ep) != -1)
            break;
    }
    ctx->dir = support_tmpdir ();
    snprintf (ctx->log, sizeof ctx->log, "%s/agent.log", ctx->dir);
    //  One worker process of two threads, two slots: what these tests count.
    char *argv[32] = { "agent", "--broker", ctx->broker_ep, "--name", "test-agent",
                       "--processes", "1", "--threads", "2", "--slots", "2",
                       "--grace-ms", "5000", "--log-level", "debug" };
    int argc = 15;
    va_list ap;
    va_start (ap, ctx);
    for (char *arg = va_arg (ap, char *); arg && argc < 31; arg = va_arg (ap, char *))
        argv[argc++] = arg;     //  later flags win
    va_end (ap);
    argv[argc] = NULL;
    ctx->pid = support_spawnv (ctx->log, argv);
    cr_assert_gt (ctx->pid, 0);
    support_started (ctx->pid);
    support_started_dir (ctx->dir);
}

//  Stop the agent as an operator would (SIGTERM): it must exit 0, and
//  under a sanitizer its log must show no report.
void
play_stop (play_t *ctx)
{
    int status = 0;
    if (ctx->pid > 0)
        status = support_stop (ctx->pid, SIGTERM, PLAY_WAIT_MS);
    char *log = support_slurp (ctx->log);
    //  The log's end says where a slow or failed shutdown stood.
    size_t size = log? strlen (log): 0;
    cr_expect (WIFEXITED (status) && WEXITSTATUS (status) == 0,
               "agent did not exit 0 on SIGTERM (status %d); its log ends:\n%s", status,
               log? log + (size > 4000? size - 4000: 0): "(none)");
    //  Sanitizer reports, and valgrind's when run with --trace-children.
    const char *marks[] = { "Sanitizer", "runtime error", "definitely lost",
                            "== Invalid", "uninitialised", "== Conditional jump" };
    for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++)
        cr_expect (log && !strstr (log, marks[i]), "agent log:\n%s", log? log: "(none)");
    free (log);
    zmsg_destroy (&ctx->agent);
    zsock_destroy (&ctx->broker);
    zsock_destroy (&ctx->sink);
    support_rmdir (&ctx->dir);
}

//  Receive the next message on a ROUTER (skipping HEARTBEATs); its
//  envelope in *envelope_p if given.  Fails the test after timeout_ms.
msg_t *
play_recv (play_t *ctx, zsock_t *sock, zmsg_t **envelope_p, int timeout_ms)
{
    int64_t deadline = support_now_ms () + timeout_ms;
    zpoller_t *poller = zpoller_new (sock, NULL);
    while (true) {
        int64_t left = deadline - support_now_ms ();
        if (left <= 0 || !zpoller_wait (poller, (int) left)) {
            char *log = support_slurp (ctx->log);
            cr_log_error ("agent log:\n%s", log? log: "(none)");
            free (log);
            cr_assert_fail ("nothing arrived within %d ms", timeout_ms);
        }
        zmsg_t *envelope = NULL;
        msg_t *msg = NULL;
        int rc = wire_recv (sock, &envelope, &msg);
        cr_assert_eq (rc, 0, "the agent sent an undecodable message: %s", msg_error_name (rc));
        if (msg_command (msg) == MSG_HEARTBEAT) {
            cr_assert_eq (sock, ctx->broker);
            msg_destroy (&msg);
            zmsg_destroy (&envelope);
            continue;
        }
        zpoller_destroy (&poller);
        if (envelope_p)
            *envelope_p = envelope;
        else
            zmsg_destroy (&envelope);
        return msg;
    }
}

//  Receive a message and check its command.
msg_t *
play_expect (play_t *ctx, zsock_t *sock, msg_command_t command, zmsg_t **envelope_p)
{
    msg_t *msg = play_recv (ctx, sock, envelope_p, PLAY_WAIT_MS);
    if (msg_command (msg) != command) {
        char *log = support_slurp (ctx->log);
        cr_log_error ("agent log:\n%s", log? log: "(none)");
        free (log);
    }
    cr_assert_eq (msg_command (msg), command, "expected %s, got %s",
                  msg_command_name (command), msg_command_name (msg_command (msg)));
    return msg;
}

//  The next message at the broker but CREDIT, which may come any time the
//  agent was not yet draining.
msg_t *
play_expect_skip_credit (play_t *ctx, msg_command_t command)
{
    while (true) {
        msg_t *msg = play_recv (ctx, ctx->broker, NULL, PLAY_WAIT_MS);
        if (msg_command (msg) != MSG_CREDIT) {
            cr_assert_eq (msg_command (msg), command, "expected %s, got %s",
                          msg_command_name (command), msg_command_name (msg_command (msg)));
            return msg;
        }
        msg_destroy (&msg);
    }
}

//  HELLO -> WELCOME; returns the slots the agent offered.
uint64_t
play_welcome (play_t *ctx, uint64_t heartbeat_ms)
{
    zmsg_destroy (&ctx->agent);
    msg_t *hello = play_expect (ctx, ctx->broker, MSG_HELLO, &ctx->agent);
    cr_assert_str_eq (msg_str (hello, MSG_F_AGENT), "test-agent");
    uint64_t slots = msg_uint (hello, MSG_F_SLOTS);
    msg_destroy (&hello);
    msg_t *welcome = msg_new (MSG_WELCOME);
    msg_set_uint (welcome, MSG_F_HEARTBEAT_MS, heartbeat_ms);
    cr_assert_eq (wire_send (&welcome, ctx->broker, ctx->agent), 0);
    return slots;
}

//  Send WORK: tuples as JSON texts, one per ref.
void
play_work (play_t *ctx, const char *job, const char *handler, uint64_t max_attempts,
        const msg_ref_t *refs, size_t count, const char *const *tuples)
{
    msg_t *work = msg_new (MSG_WORK);
    msg_set_str (work, MSG_F_JOB, job);
    msg_set_str (work, MSG_F_HANDLER, handler);
    msg_set_str (work, MSG_F_SINK, ctx->sink_ep);
    msg_set_uint (work, MSG_F_MAX_ATTEMPTS, max_attempts);
    msg_set_refs (work, MSG_F_TUPLES, refs, count);
    for (size_t i = 0; i < count; i++) {
        msgpack_sbuffer buf;
        msgpack_sbuffer_init (&buf);
        char err[100];
        cr_assert_eq (json_to_msgpack (tuples[i], strlen (tuples[i]), &buf, err, sizeof err), 0);
        zframe_t *frame = zframe_new (buf.data, buf.size);
        msg_payload_append (work, &frame);
        msgpack_sbuffer_destroy (&buf);
    }
    cr_assert_eq (wire_send (&work, ctx->broker, ctx->agent), 0);
}

static void
s_json (const msgpack_object *obj, char *out, size_t size)
{
    FILE *file = fmemopen (out, size, "w");
    json_write (file, obj);
    fputc (0, file);
    fclose (file);
}

//  A version 1 record, a map, into r.
static void
s_record_map (const msgpack_object *map, record_t *r)
{
    cr_assert_eq (map->type, MSGPACK_OBJECT_MAP);
    for (uint32_t k = 0; k < map->via.map.size; k++) {
        msgpack_object *key = &map->via.map.ptr[k].key;
        msgpack_object *val = &map->via.map.ptr[k].val;
        cr_assert_eq (key->type, MSGPACK_OBJECT_STR);
        char name[32];
        snprintf (name, sizeof name, "%.*s", (int) key->via.str.size, key->via.str.ptr);
        if (!strcmp (name, "tuple"))            r->tuple = val->via.u64;
        else if (!strcmp (name, "attempt"))     r->attempt = val->via.u64;
        else if (!strcmp (name, "started_us"))  r->started_us = val->via.u64;
        else if (!strcmp (name, "duration_us")) r->duration_us = val->via.u64;
        else if (!strcmp (name, "status"))
            snprintf (r->status, sizeof r->status, "%.*s", (int) val->via.str.size, val->via.str.ptr);
        else if (!strcmp (name, "input"))       s_json (val, r->input, sizeof r->input);
        else if (!strcmp (name, "output")) {
            s_json (val, r->output, sizeof r->output);
            r->has_output = true;
        }
        else if (!strcmp (name, "error")) {
            cr_assert_eq (val->type, MSGPACK_OBJECT_STR);
            snprintf (r->error, sizeof r->error, "%.*s", (int) val->via.str.size, val->via.str.ptr);
            r->has_error = true;
        }
    }
}

//  A version 2 record, [status, started_us, duration_us, input, output,
//  error, partial], of the tuple ref, into r as version 1 would have it
//  (an ok record always has an output).
static void
s_record_array (const msgpack_object *array, msg_ref_t ref, record_t *r)
{
    cr_assert_eq (array->type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq (array->via.array.size, 7);
    const msgpack_object *item = array->via.array.ptr;
    r->tuple = ref.id;
    r->attempt = ref.attempt;
    cr_assert (item[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER && item[0].via.u64 <= 1);
    snprintf (r->status, sizeof r->status, "%s", item[0].via.u64 == 0? "ok": "failed");
    r->started_us = item[1].via.u64;
    r->duration_us = item[2].via.u64;
    s_json (&item[3], r->input, sizeof r->input);
    r->has_output = item[0].via.u64 == 0 || item[4].type != MSGPACK_OBJECT_NIL;
    if (r->has_output)
        s_json (&item[4], r->output, sizeof r->output);
    r->has_error = item[5].type == MSGPACK_OBJECT_STR;
    if (r->has_error)
        snprintf (r->error, sizeof r->error, "%.*s", (int) item[5].via.str.size,
                  item[5].via.str.ptr);
    cr_assert_eq (item[6].type, MSGPACK_OBJECT_BOOLEAN);
}

//  Decode a RESULT (checking its header against the records) into records;
//  returns how many.
size_t
play_records (msg_t *result, const char *job, record_t *records, size_t max)
{
    cr_assert_str_eq (msg_str (result, MSG_F_JOB), job);
    cr_assert_str_eq (msg_str (result, MSG_F_AGENT), "test-agent");
    cr_assert_eq (msg_version (result), MSG_VERSION, "the agent sends RESULT in version 2");
    size_t count = 0;
    const msg_ref_t *refs = msg_refs (result, MSG_F_TUPLES, &count);
    cr_assert_eq (msg_payload_count (result), 1);
    zframe_t *payload = msg_payload (result, 0);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    size_t offset = 0;
    cr_assert_eq (msgpack_unpack_next (&unpacked, (const char *) zframe_data (payload),
                                       zframe_size (payload), &offset), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq (offset, zframe_size (payload), "the batch is one msgpack value");
    msgpack_object *array = &unpacked.data;
    cr_assert_eq (array->type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq (array->via.array.size, count, "one record per ref");
    cr_assert_leq (count, max);
    for (size_t i = 0; i < count; i++) {
        record_t *r = &records[i];
        memset (r, 0, sizeof *r);
        if (msg_version (result) == 1)
            s_record_map (&array->via.array.ptr[i], r);
        else
            s_record_array (&array->via.array.ptr[i], refs[i], r);
        cr_assert_eq (r->tuple, refs[i].id);
        cr_assert_eq (r->attempt, refs[i].attempt);
        cr_assert_gt (r->started_us, 1600000000ull * 1000000, "started_us is Unix time");
    }
    msgpack_unpacked_destroy (&unpacked);
    return count;
}

//  Answer a RESULT with STORED for all its refs, listing in dead those
//  where dead[i] (dead may be NULL: none), as a sink that holds them failed.
void
play_stored_as (play_t *ctx, msg_t *result, zmsg_t *envelope, const bool *dead)
{
    size_t count = 0, dead_count = 0;
    const msg_ref_t *refs = msg_refs (result, MSG_F_TUPLES, &count);
    msg_ref_t held_dead[64];
    for (size_t i = 0; dead && i < count && dead_count < 64; i++)
        if (dead[i])
            held_dead[dead_count++] = refs[i];
    msg_t *stored = msg_new (MSG_STORED);
    msg_set_str (stored, MSG_F_JOB, msg_str (result, MSG_F_JOB));
    msg_set_refs (stored, MSG_F_TUPLES, refs, count);
    if (dead_count)
        msg_set_refs (stored, MSG_F_DEAD, held_dead, dead_count);
    cr_assert_eq (wire_send (&stored, ctx->sink, envelope), 0);
}

//  Answer a RESULT with STORED as a sink that stored its records as they
//  are: the failed ones in dead.
void
play_stored (play_t *ctx, msg_t *result, zmsg_t *envelope, const record_t *records)
{
    size_t count = 0;
    msg_refs (result, MSG_F_TUPLES, &count);
    bool dead[64] = { false };
    for (size_t i = 0; records && i < count && i < 64; i++)
        dead[i] = !strcmp (records[i].status, "failed");
    play_stored_as (ctx, result, envelope, dead);
}

//  Collect results at the sink until count records came; answer each with
//  STORED if store is true.
size_t
play_collect (play_t *ctx, const char *job, record_t *records, size_t count, bool store)
{
    size_t got = 0;
    while (got < count) {
        zmsg_t *envelope = NULL;
        msg_t *result = play_expect (ctx, ctx->sink, MSG_RESULT, &envelope);
        size_t n = play_records (result, job, records + got, count - got);
        if (store)
            play_stored (ctx, result, envelope, records + got);
        got += n;
        msg_destroy (&result);
        zmsg_destroy (&envelope);
    }
    return got;
}

static void
s_refs_append (msg_ref_t *into, size_t *count, msg_t *msg, msg_field_t field)
{
    size_t n = 0;
    const msg_ref_t *refs = msg_refs (msg, field, &n);
    for (size_t i = 0; i < n && *count < 16; i++)
        into[(*count)++] = refs[i];
}

reports_t
play_reports (play_t *ctx, const char *job, uint64_t credit)
{
    reports_t reports = { 0 };
    while (reports.credit < credit) {
        msg_t *msg = play_recv (ctx, ctx->broker, NULL, PLAY_WAIT_MS);
        switch (msg_command (msg)) {
            case MSG_DONE:
                cr_assert_str_eq (msg_str (msg, MSG_F_JOB), job);
                s_refs_append (reports.done, &reports.done_count, msg, MSG_F_TUPLES);
                s_refs_append (reports.dead, &reports.dead_count, msg, MSG_F_DEAD);
                break;
            case MSG_RETRY:
                cr_assert_str_eq (msg_str (msg, MSG_F_JOB), job);
                s_refs_append (reports.retry, &reports.retry_count, msg, MSG_F_TUPLES);
                if (msg_str (msg, MSG_F_REASON))
                    snprintf (reports.reason, sizeof reports.reason, "%s", msg_str (msg, MSG_F_REASON));
                break;
            case MSG_TOUCH:
                break;          //  a long tuple's lease; not a report
            case MSG_CREDIT:
                if (!reports.done_count && !reports.dead_count && !reports.retry_count)
                    reports.credit_before_report = true;
                reports.credit += msg_uint (msg, MSG_F_CREDIT);
                break;
            default:
                cr_assert_fail ("unexpected %s at the broker", msg_command_name (msg_command (msg)));
        }
        msg_destroy (&msg);
    }
    cr_assert_eq (reports.credit, credit, "no more credit than slots freed");
    return reports;
}

bool
play_has_ref (const msg_ref_t *refs, size_t count, uint64_t id, uint32_t attempt)
{
    for (size_t i = 0; i < count; i++)
        if (refs[i].id == id && refs[i].attempt == attempt)
            return true;
    return false;
}
