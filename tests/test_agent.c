//  test_agent.c -- black-box tests of `drover agent`: the test plays the
//  broker and the sink on real ROUTER sockets, speaking the protocol through
//  proto/msg.h, and watches what a real agent process does: HELLO, RESULT
//  records, DONE / RETRY / CREDIT, dead letters, slots, resends, reconnects,
//  BYE on SIGTERM.
#include <criterion/criterion.h>

#include "common/json_read.h"
#include "common/json_write.h"
#include "proto/msg.h"
#include "proto/wire.h"
#include "support.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define WAIT_MS 10000

typedef struct {
    zsock_t *broker;            //  ROUTER the agent dials
    zsock_t *sink;              //  ROUTER results go to
    char broker_ep[64];
    char sink_ep[64];
    char *dir;
    char log[300];
    pid_t pid;
    zmsg_t *agent;              //  the agent's envelope at the broker
} ctx_t;

TestSuite (agent, .fini = support_kill_started);

//  Bind both ROUTERs and start `drover agent` with extra flags (NULL-ended).
static void
s_start (ctx_t *ctx, ...)
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
static void
s_stop (ctx_t *ctx)
{
    if (ctx->pid > 0) {
        int status = support_stop (ctx->pid, SIGTERM, WAIT_MS);
        cr_expect (WIFEXITED (status) && WEXITSTATUS (status) == 0,
                   "agent did not exit 0 on SIGTERM (status %d)", status);
    }
    char *log = support_slurp (ctx->log);
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
static msg_t *
s_recv (ctx_t *ctx, zsock_t *sock, zmsg_t **envelope_p, int timeout_ms)
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
static msg_t *
s_expect (ctx_t *ctx, zsock_t *sock, msg_command_t command, zmsg_t **envelope_p)
{
    msg_t *msg = s_recv (ctx, sock, envelope_p, WAIT_MS);
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
static msg_t *
s_expect_skip_credit (ctx_t *ctx, msg_command_t command)
{
    while (true) {
        msg_t *msg = s_recv (ctx, ctx->broker, NULL, WAIT_MS);
        if (msg_command (msg) != MSG_CREDIT) {
            cr_assert_eq (msg_command (msg), command, "expected %s, got %s",
                          msg_command_name (command), msg_command_name (msg_command (msg)));
            return msg;
        }
        msg_destroy (&msg);
    }
}

//  HELLO -> WELCOME; returns the slots the agent offered.
static uint64_t
s_welcome (ctx_t *ctx, uint64_t heartbeat_ms)
{
    zmsg_destroy (&ctx->agent);
    msg_t *hello = s_expect (ctx, ctx->broker, MSG_HELLO, &ctx->agent);
    cr_assert_str_eq (msg_str (hello, MSG_F_AGENT), "test-agent");
    uint64_t slots = msg_uint (hello, MSG_F_SLOTS);
    msg_destroy (&hello);
    msg_t *welcome = msg_new (MSG_WELCOME);
    msg_set_uint (welcome, MSG_F_HEARTBEAT_MS, heartbeat_ms);
    cr_assert_eq (wire_send (&welcome, ctx->broker, ctx->agent), 0);
    return slots;
}

//  Send WORK: tuples as JSON texts, one per ref.
static void
s_work (ctx_t *ctx, const char *job, const char *handler, uint64_t max_attempts,
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

//  A RESULT's records, decoded.
typedef struct {
    uint64_t tuple, attempt, started_us, duration_us;
    char status[16];
    char input[256], output[256], error[256];
    bool has_output, has_error;
} record_t;

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
static size_t
s_records (msg_t *result, const char *job, record_t *records, size_t max)
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
static void
s_stored_as (ctx_t *ctx, msg_t *result, zmsg_t *envelope, const bool *dead)
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
static void
s_stored (ctx_t *ctx, msg_t *result, zmsg_t *envelope, const record_t *records)
{
    size_t count = 0;
    msg_refs (result, MSG_F_TUPLES, &count);
    bool dead[64] = { false };
    for (size_t i = 0; records && i < count && i < 64; i++)
        dead[i] = !strcmp (records[i].status, "failed");
    s_stored_as (ctx, result, envelope, dead);
}

//  Collect results at the sink until count records came; answer each with
//  STORED if store is true.
static size_t
s_collect (ctx_t *ctx, const char *job, record_t *records, size_t count, bool store)
{
    size_t got = 0;
    while (got < count) {
        zmsg_t *envelope = NULL;
        msg_t *result = s_expect (ctx, ctx->sink, MSG_RESULT, &envelope);
        size_t n = s_records (result, job, records + got, count - got);
        if (store)
            s_stored (ctx, result, envelope, records + got);
        got += n;
        msg_destroy (&result);
        zmsg_destroy (&envelope);
    }
    return got;
}

//  What the broker heard back: DONE, RETRY and CREDIT, until the credit
//  returned reaches `credit`.
typedef struct {
    msg_ref_t done[16], dead[16], retry[16];
    size_t done_count, dead_count, retry_count;
    uint64_t credit;
    char reason[256];
    bool credit_before_report;      //  a CREDIT came before any DONE/RETRY
} reports_t;

static void
s_refs_append (msg_ref_t *into, size_t *count, msg_t *msg, msg_field_t field)
{
    size_t n = 0;
    const msg_ref_t *refs = msg_refs (msg, field, &n);
    for (size_t i = 0; i < n && *count < 16; i++)
        into[(*count)++] = refs[i];
}

static reports_t
s_reports (ctx_t *ctx, const char *job, uint64_t credit)
{
    reports_t reports = { 0 };
    while (reports.credit < credit) {
        msg_t *msg = s_recv (ctx, ctx->broker, NULL, WAIT_MS);
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

static bool
s_has_ref (const msg_ref_t *refs, size_t count, uint64_t id, uint32_t attempt)
{
    for (size_t i = 0; i < count; i++)
        if (refs[i].id == id && refs[i].attempt == attempt)
            return true;
    return false;
}

Test (agent, hello_work_result_stored_done_credit)
{
    ctx_t ctx;
    s_start (&ctx, NULL);
    cr_assert_eq (s_welcome (&ctx, 5000), 2, "HELLO offers one slot per thread");

    msg_ref_t refs[] = { { 1, 1 }, { 2, 1 } };
    const char *tuples[] = { "[\"a\",1]", "{\"k\":[true,null]}" };
    s_work (&ctx, "j1", "echo", 3, refs, 2, tuples);

    record_t records[2];
    s_collect (&ctx, "j1", records, 2, true);
    for (int i = 0; i < 2; i++) {
        record_t *r = &records[i];
        int t = (int) r->tuple - 1;
        cr_assert (t == 0 || t == 1);
        cr_assert_eq (r->attempt, 1);
        cr_assert_str_eq (r->status, "ok");
        cr_assert_str_eq (r->input, tuples[t]);
        cr_assert (r->has_output && !r->has_error);
        cr_assert_str_eq (r->output, tuples[t], "echo's output is its tuple");
        cr_assert_lt (r->duration_us, 5000000);
    }
    cr_assert_neq (records[0].tuple, records[1].tuple);

    reports_t reports = s_reports (&ctx, "j1", 2);
    cr_assert_eq (reports.done_count, 2);
    cr_assert (s_has_ref (reports.done, 2, 1, 1) && s_has_ref (reports.done, 2, 2, 1));
    cr_assert_eq (reports.dead_count, 0);
    cr_assert_eq (reports.retry_count, 0);
    cr_assert_not (reports.credit_before_report, "slots come back after DONE");
    s_stop (&ctx);
}

Test (agent, failed_attempt_is_retried_last_one_is_a_dead_letter)
{
    ctx_t ctx;
    s_start (&ctx, NULL);
    s_welcome (&ctx, 5000);

    msg_ref_t first = { 7, 1 };
    const char *tuple[] = { "[\"x\"]" };
    s_work (&ctx, "j2", "fail", 3, &first, 1, tuple);
    reports_t reports = s_reports (&ctx, "j2", 1);
    cr_assert_eq (reports.retry_count, 1);
    cr_assert (s_has_ref (reports.retry, 1, 7, 1));
    cr_assert_str_eq (reports.reason, "fail: this handler always fails");
    cr_assert_eq (reports.done_count + reports.dead_count, 0);

    msg_ref_t last = { 7, 3 };
    s_work (&ctx, "j2", "fail", 3, &last, 1, tuple);
    //  The first thing the sink sees is attempt 3: attempt 1 never went there.
    record_t record;
    s_collect (&ctx, "j2", &record, 1, true);
    cr_assert_eq (record.tuple, 7);
    cr_assert_eq (record.attempt, 3);
    cr_assert_str_eq (record.status, "failed");
    cr_assert (record.has_error && !record.has_output);
    cr_assert_str_eq (record.error, "fail: this handler always fails");
    cr_assert_str_eq (record.input, "[\"x\"]");

    reports = s_reports (&ctx, "j2", 1);
    cr_assert_eq (reports.dead_count, 1);
    cr_assert (s_has_ref (reports.dead, 1, 7, 3));
    cr_assert_eq (reports.done_count, 0);
    cr_assert_eq (reports.retry_count, 0);
    s_stop (&ctx);
}

//  The agent reports each tuple as the sink holds it (STORED's dead), not
//  as its own attempt ended: the sink may hold an earlier result.
Test (agent, reports_tuples_as_the_sink_holds_them)
{
    ctx_t ctx;
    s_start (&ctx, NULL);
    s_welcome (&ctx, 5000);
    msg_ref_t refs[] = { { 1, 1 }, { 2, 1 } };
    const char *tuples[] = { "[1]", "[2]" };
    s_work (&ctx, "jh", "echo", 3, refs, 2, tuples);
    record_t records[2];
    size_t got = 0;
    while (got < 2) {
        //  The two may come in one RESULT or two, in either order.
        zmsg_t *envelope = NULL;
        msg_t *result = s_expect (&ctx, ctx.sink, MSG_RESULT, &envelope);
        size_t n = s_records (result, "jh", records + got, 2 - got);
        bool dead[2] = { false, false };
        for (size_t i = 0; i < n; i++) {
            cr_assert_str_eq (records[got + i].status, "ok");
            dead[i] = records[got + i].tuple == 1;  //  tuple 1 was stored failed before
        }
        s_stored_as (&ctx, result, envelope, dead);
        got += n;
        msg_destroy (&result);
        zmsg_destroy (&envelope);
    }
    reports_t reports = s_reports (&ctx, "jh", 2);
    cr_assert_eq (reports.dead_count, 1);
    cr_assert (s_has_ref (reports.dead, 1, 1, 1), "held failed: reported dead");
    cr_assert_eq (reports.done_count, 1);
    cr_assert (s_has_ref (reports.done, 1, 2, 1));

    //  A dead letter whose tuple the sink holds ok is reported done.
    msg_ref_t last = { 3, 3 };
    const char *tuple[] = { "[\"x\"]" };
    s_work (&ctx, "jh", "fail", 3, &last, 1, tuple);
    zmsg_t *envelope = NULL;
    msg_t *result = s_expect (&ctx, ctx.sink, MSG_RESULT, &envelope);
    s_records (result, "jh", records, 1);
    cr_assert_str_eq (records[0].status, "failed");
    s_stored_as (&ctx, result, envelope, NULL);
    msg_destroy (&result);
    zmsg_destroy (&envelope);
    reports = s_reports (&ctx, "jh", 1);
    cr_assert_eq (reports.done_count, 1);
    cr_assert (s_has_ref (reports.done, 1, 3, 3), "held ok: reported done");
    cr_assert_eq (reports.dead_count + reports.retry_count, 0);
    s_stop (&ctx);
}

Test (agent, never_runs_more_than_its_slots)
{
    ctx_t ctx;
    s_start (&ctx, NULL);
    cr_assert_eq (s_welcome (&ctx, 5000), 2);
    //  A broker that ignores credit sends 5 tuples to a 2-slot agent.
    msg_ref_t refs[5] = { { 1, 1 }, { 2, 1 }, { 3, 1 }, { 4, 1 }, { 5, 1 } };
    const char *tuples[5] = { "[250]", "[250]", "[250]", "[250]", "[250]" };
    s_work (&ctx, "j3", "sleep", 3, refs, 5, tuples);
    record_t records[5];
    s_collect (&ctx, "j3", records, 5, true);
    //  At any record's start, count the records running then.
    int most = 0;
    for (int i = 0; i < 5; i++) {
        cr_assert_str_eq (records[i].status, "ok");
        cr_assert_str_eq (records[i].output, "{\"slept_ms\":250}");
        cr_assert_geq (records[i].duration_us, 250000);
        int running = 0;
        for (int j = 0; j < 5; j++)
            if (records[j].started_us <= records[i].started_us
            &&  records[i].started_us < records[j].started_us + records[j].duration_us)
                running++;
        most = running > most? running: most;
    }
    cr_assert_eq (most, 2, "two ran at once, never more (most %d)", most);
    //  Credit tops up to the slots (2), not to what the broker overspent.
    s_reports (&ctx, "j3", 2);
    s_stop (&ctx);
}

Test (agent, sigterm_finishes_work_then_says_bye)
{
    ctx_t ctx;
    s_start (&ctx, NULL);
    s_welcome (&ctx, 5000);
    msg_ref_t refs[] = { { 1, 1 }, { 2, 1 } };
    const char *tuples[] = { "[1]", "[400]" };
    s_work (&ctx, "j4", "echo", 3, refs, 1, tuples);
    s_work (&ctx, "j4s", "sleep", 3, refs + 1, 1, tuples + 1);
    //  The echo result shows the agent has the work; the sleep is running.
    record_t record;
    zmsg_t *envelope = NULL;
    msg_t *result = s_expect (&ctx, ctx.sink, MSG_RESULT, &envelope);
    s_records (result, "j4", &record, 1);
    cr_assert_eq (kill (ctx.pid, SIGTERM), 0);
    //  It waits for STORED before it reports and leaves.
    s_stored (&ctx, result, envelope, &record);
    msg_destroy (&result);
    zmsg_destroy (&envelope);
    msg_t *done = s_expect_skip_credit (&ctx, MSG_DONE);
    cr_assert_str_eq (msg_str (done, MSG_F_JOB), "j4");
    msg_destroy (&done);
    //  The running sleep finishes within the grace period and is stored.
    s_collect (&ctx, "j4s", &record, 1, true);
    cr_assert_str_eq (record.status, "ok");
    done = s_expect_skip_credit (&ctx, MSG_DONE);
    cr_assert_str_eq (msg_str (done, MSG_F_JOB), "j4s");
    msg_destroy (&done);
    msg_t *bye = s_expect_skip_credit (&ctx, MSG_BYE);
    msg_destroy (&bye);
    int status = -1;
    cr_assert (SUPPORT_WAIT (support_exited (ctx.pid, &status), WAIT_MS), "agent did not exit");
    ctx.pid = 0;
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "status %d", status);
    char *log = support_slurp (ctx.log);
    cr_assert (strstr (log, "agent test-agent connected to broker"), "%s", log);
    cr_assert (strstr (log, "shut down: 2 ok, 0 failed, 0 retried"), "%s", log);
    free (log);
    s_stop (&ctx);
}

Test (agent, resends_results_the_sink_did_not_store)
{
    ctx_t ctx;
    s_start (&ctx, "--result-timeout-ms", "300", NULL);
    s_welcome (&ctx, 5000);
    msg_ref_t ref = { 5, 2 };
    const char *tuple[] = { "[\"again\"]" };
    s_work (&ctx, "j5", "echo", 3, &ref, 1, tuple);
    record_t first, second;
    s_collect (&ctx, "j5", &first, 1, false);
    int64_t start = support_now_ms ();
    s_collect (&ctx, "j5", &second, 1, true);
    cr_assert_geq (support_now_ms () - start, 200, "not before the result timeout");
    cr_assert_eq (second.tuple, 5);
    cr_assert_eq (second.attempt, 2);
    cr_assert_eq (second.started_us, first.started_us, "the same result, sent again");
    reports_t reports = s_reports (&ctx, "j5", 1);
    cr_assert_eq (reports.done_count, 1);
    s_stop (&ctx);
}

Test (agent, reconnects_when_the_broker_falls_silent)
{
    ctx_t ctx;
    s_start (&ctx, NULL);
    cr_assert_eq (s_welcome (&ctx, 100), 2);
    //  One slot busy, then the broker says nothing more: after 3 heartbeat
    //  intervals the agent says HELLO again, offering the free slot only.
    msg_ref_t ref = { 9, 1 };
    const char *tuple[] = { "[1500]" };
    s_work (&ctx, "j6", "sleep", 3, &ref, 1, tuple);
    zmsg_t *old_envelope = zmsg_dup (ctx.agent);
    int64_t start = support_now_ms ();
    cr_assert_eq (s_welcome (&ctx, 5000), 1);
    cr_assert_geq (support_now_ms () - start, 250);
    //  The new HELLO named the tuple it holds (PROTOCOL.md 4.2 `held`): its
    //  result goes to the sink and its DONE to the new session.
    record_t record;
    s_collect (&ctx, "j6", &record, 1, true);
    cr_assert_eq (record.tuple, 9);
    reports_t reports = s_reports (&ctx, "j6", 1);
    cr_assert_eq (reports.done_count, 1);
    cr_assert_eq (reports.done[0].id, 9);
    cr_assert_eq (reports.dead_count + reports.retry_count, 0);
    zmsg_destroy (&old_envelope);
    s_stop (&ctx);
}

Test (agent, bad_messages_get_an_error_and_work_goes_on)
{
    ctx_t ctx;
    s_start (&ctx, NULL);
    s_welcome (&ctx, 5000);
    //  Not a drover message at all.
    zmsg_t *junk = zmsg_dup (ctx.agent);
    zmsg_addstr (junk, "hello?");
    cr_assert_eq (zmsg_send (&junk, ctx.broker), 0);
    msg_t *error = s_expect (&ctx, ctx.broker, MSG_ERROR, NULL);
    cr_assert_eq (msg_uint (error, MSG_F_CODE), DRV_E_BAD_FRAMES);
    msg_destroy (&error);
    //  A valid command that agents do not take.
    msg_t *stored = msg_new (MSG_STORED);
    msg_set_str (stored, MSG_F_JOB, "x");
    msg_set_refs (stored, MSG_F_TUPLES, NULL, 0);
    cr_assert_eq (wire_send (&stored, ctx.broker, ctx.agent), 0);
    error = s_expect (&ctx, ctx.broker, MSG_ERROR, NULL);
    cr_assert_eq (msg_uint (error, MSG_F_CODE), DRV_E_UNEXPECTED);
    msg_destroy (&error);
    //  In version 2 a packed frame that is not msgpack is refused whole:
    //  the tuples' bounds are not known.
    zmsg_t *packed = zmsg_dup (ctx.agent);
    zmsg_addstr (packed, "DRV2");
    zmsg_addstr (packed, "WORK");
    //  {"job": "j", "handler": "echo", "sink": "s", "tuples": [[1, 1, 1]]}
    zmsg_addmem (packed, "\x84\xa3job\xa1j\xa7handler\xa4" "echo\xa4sink\xa1s"
                         "\xa6tuples\x91\x93\x01\x01\x01", 39);
    zmsg_addmem (packed, "\xc1", 1);
    cr_assert_eq (zmsg_send (&packed, ctx.broker), 0);
    error = s_expect (&ctx, ctx.broker, MSG_ERROR, NULL);
    cr_assert_eq (msg_uint (error, MSG_F_CODE), DRV_E_BAD_TUPLE);
    cr_assert_eq (msg_version (error), 2, "answered in the version of the request");
    msg_destroy (&error);
    //  In version 1, a tuple that is not msgpack fails (a dead letter on
    //  its last attempt, its input kept as bin), an unknown handler likewise.
    msg_t *work = msg_new (MSG_WORK);
    msg_set_version (work, 1);
    msg_set_str (work, MSG_F_JOB, "j7");
    msg_set_str (work, MSG_F_HANDLER, "echo");
    msg_set_str (work, MSG_F_SINK, ctx.sink_ep);
    msg_set_uint (work, MSG_F_MAX_ATTEMPTS, 1);
    msg_ref_t ref = { 1, 1 };
    msg_set_refs (work, MSG_F_TUPLES, &ref, 1);
    zframe_t *bad = zframe_new ("\xc1", 1);
    msg_payload_append (work, &bad);
    cr_assert_eq (wire_send (&work, ctx.broker, ctx.agent), 0);
    record_t record;
    s_collect (&ctx, "j7", &record, 1, true);
    cr_assert_str_eq (record.status, "failed");
    cr_assert_str_eq (record.error, "tuple is not valid msgpack");
    const char *tuple[] = { "[1]" };
    msg_ref_t ref2 = { 2, 1 };
    s_work (&ctx, "j8", "no-such-handler", 1, &ref2, 1, tuple);
    s_collect (&ctx, "j8", &record, 1, true);
    cr_assert_str_eq (record.error, "unknown handler 'no-such-handler'");
    cr_assert (SUPPORT_WAIT (!support_exited (ctx.pid, NULL), 100));
    s_stop (&ctx);
}

Test (agent, dead_letter_work_is_stored_failed_not_run)
{
    ctx_t ctx;
    s_start (&ctx, NULL);
    s_welcome (&ctx, 5000);
    //  The broker hands over tuples whose attempts are used up: the agent
    //  must not run them (sleep would take 10 s) but store them as failed.
    msg_t *work = msg_new (MSG_WORK);
    msg_set_str (work, MSG_F_JOB, "jd");
    msg_set_str (work, MSG_F_HANDLER, "sleep");
    msg_set_str (work, MSG_F_SINK, ctx.sink_ep);
    msg_set_uint (work, MSG_F_MAX_ATTEMPTS, 3);
    msg_set_str (work, MSG_F_DEAD_LETTER, "agent lost 3 times");
    msg_ref_t refs[] = { { 4, 3 }, { 5, 3 } };
    msg_set_refs (work, MSG_F_TUPLES, refs, 2);
    for (int i = 0; i < 2; i++) {
        zframe_t *frame = zframe_new ("\x91\xcd\x27\x10", 4);       //  [10000]
        msg_payload_append (work, &frame);
    }
    int64_t start = support_now_ms ();
    cr_assert_eq (wire_send (&work, ctx.broker, ctx.agent), 0);
    record_t records[2];
    s_collect (&ctx, "jd", records, 2, true);
    cr_assert_lt (support_now_ms () - start, 5000, "not run");
    for (int i = 0; i < 2; i++) {
        cr_assert_str_eq (records[i].status, "failed");
        cr_assert_str_eq (records[i].error, "agent lost 3 times");
        cr_assert_eq (records[i].attempt, 3);
        cr_assert_str_eq (records[i].input, "[10000]");
        cr_assert_not (records[i].has_output);
    }
    reports_t reports = s_reports (&ctx, "jd", 2);
    cr_assert_eq (reports.dead_count, 2);
    cr_assert (s_has_ref (reports.dead, 2, 4, 3) && s_has_ref (reports.dead, 2, 5, 3));
    cr_assert_eq (reports.done_count + reports.retry_count, 0);
    s_stop (&ctx);
}

Test (agent, long_running_tuple_touches_its_lease)
{
    ctx_t ctx;
    s_start (&ctx, NULL);
    s_welcome (&ctx, 5000);
    msg_t *work = msg_new (MSG_WORK);
    msg_set_str (work, MSG_F_JOB, "jt");
    msg_set_str (work, MSG_F_HANDLER, "sleep");
    msg_set_str (work, MSG_F_SINK, ctx.sink_ep);
    msg_set_uint (work, MSG_F_LEASE_MS, 600);
    msg_ref_t ref = { 8, 1 };
    msg_set_refs (work, MSG_F_TUPLES, &ref, 1);
    zframe_t *frame = zframe_new ("\x91\xcd\x05\xdc", 4);              //  [1500]
    msg_payload_append (work, &frame);
    int64_t start = support_now_ms ();
    cr_assert_eq (wire_send (&work, ctx.broker, ctx.agent), 0);
    //  At 2/3 of the lease (400 ms), and again 400 ms later while it runs.
    for (int i = 0; i < 2; i++) {
        msg_t *touch = s_expect (&ctx, ctx.broker, MSG_TOUCH, NULL);
        int64_t at = support_now_ms () - start;
        cr_assert_str_eq (msg_str (touch, MSG_F_JOB), "jt");
        cr_assert_eq (msg_uint (touch, MSG_F_LEASE_MS), 600);
        size_t count = 0;
        const msg_ref_t *refs = msg_refs (touch, MSG_F_TUPLES, &count);
        cr_assert (count == 1 && refs[0].id == 8 && refs[0].attempt == 1);
        cr_assert (at >= 300 * (i + 1) && at < 600 * (i + 1), "TOUCH %d at %lld ms", i,
                   (long long) at);
        msg_destroy (&touch);
    }
    //  Done, but the sink has not stored it: the agent still holds it and
    //  keeps the lease (a slow sink is no reason to run it again).
    zmsg_t *envelope = NULL;
    msg_t *result = s_expect (&ctx, ctx.sink, MSG_RESULT, &envelope);
    record_t record;
    s_records (result, "jt", &record, 1);
    cr_assert_str_eq (record.status, "ok");
    msg_t *touch = s_expect_skip_credit (&ctx, MSG_TOUCH);
    size_t count = 0;
    const msg_ref_t *refs = msg_refs (touch, MSG_F_TUPLES, &count);
    cr_assert (count == 1 && refs[0].id == 8);
    msg_destroy (&touch);
    s_stored (&ctx, result, envelope, &record);
    msg_destroy (&result);
    zmsg_destroy (&envelope);
    reports_t reports = s_reports (&ctx, "jt", 1);
    cr_assert_eq (reports.done_count, 1);
    s_stop (&ctx);
}

Test (agent, outputs_streamed_from_a_worker_arrive_whole_and_in_order)
{
    //  crashtest's ["many", 3] emits 0, 1, 2, none final: each crosses from
    //  the worker process on its own (so a crash would not lose it), and the
    //  record holds all three in order.
    char path[600];
    snprintf (path, sizeof path, "%s", DROVER_BIN);
    *strrchr (path, '/') = 0;
    strcat (path, "/examples/plugins/drover-crashtest.so");
    cr_assert_eq (access (path, R_OK), 0, "no plugin at %s", path);
    ctx_t ctx;
    s_start (&ctx, NULL);
    s_welcome (&ctx, 5000);
    msg_t *work = msg_new (MSG_WORK);
    msg_set_str (work, MSG_F_JOB, "jp");
    msg_set_str (work, MSG_F_HANDLER, "plugin");
    msg_set_str (work, MSG_F_SINK, ctx.sink_ep);
    msgpack_sbuffer options;
    msgpack_sbuffer_init (&options);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &options, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    msgpack_pack_str_with_body (&pk, "path", 4);
    msgpack_pack_str_with_body (&pk, path, strlen (path));
    msg_set_raw (work, MSG_F_OPTIONS, options.data, options.size);
    msgpack_sbuffer_destroy (&options);
    msg_ref_t ref = { 3, 1 };
    msg_set_refs (work, MSG_F_TUPLES, &ref, 1);
    zframe_t *frame = zframe_new ("\x92\xa4many\x03", 7);
    msg_payload_append (work, &frame);
    cr_assert_eq (wire_send (&work, ctx.broker, ctx.agent), 0);
    record_t record;
    s_collect (&ctx, "jp", &record, 1, true);
    cr_assert_str_eq (record.status, "ok", "%s", record.error);
    cr_assert_str_eq (record.output, "[0,1,2]");
    s_reports (&ctx, "jp", 1);
    s_stop (&ctx);
}

Test (agent, help_and_usage_errors)
{
    char *dir = support_tmpdir ();
    char log[300];
    snprintf (log, sizeof log, "%s/out", dir);
    int status = -1;
    pid_t pid = support_spawn (log, "agent", "--help", NULL);
    cr_assert (SUPPORT_WAIT (support_exited (pid, &status), WAIT_MS));
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    char *text = support_slurp (log);
    cr_assert (strstr (text, "--processes") && strstr (text, "--slots") && strstr (text, "--grace ")
               && strstr (text, "DROVER_PROCESSES") && strstr (text, "DROVER_SLOTS"), "%s", text);
    cr_assert (strstr (text, "--broker") && strstr (text, "--threads") && strstr (text, "--grace-ms")
               && strstr (text, "--result-timeout-ms") && strstr (text, "DROVER_THREADS"), "%s", text);
    free (text);
    const char *bad[][2] = { { "--threads", "0" }, { "--grace-ms", "x" }, { "--bogus", NULL },
                             { "--processes", "-1" }, { "--slots", "0" }, { "--grace", "5h" } };
    for (int i = 0; i < 6; i++) {
        pid = support_spawn (log, "agent", bad[i][0], bad[i][1], NULL);
        cr_assert (SUPPORT_WAIT (support_exited (pid, &status), WAIT_MS));
        cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 2, "%s: status %d", bad[i][0], status);
    }
    support_rmdir (&dir);
}
