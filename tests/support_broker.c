//  support_broker.c -- see support_broker.h.  Criterion runs each test in
//  a process of its own, so the broker under test is this file's state,
//  set by tb_start and reset by tb_fini.
#include "support_broker.h"

#include <criterion/criterion.h>

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

//  The broker of the current test; .fini stops it even when a test fails.
static struct {
    char *dir;
    char log[512];
    char data[512];
    char *extra[24];                    //  flags of tb_start, for a restart
    size_t extra_count;
    char frontend[64], intake[64], backend[64];
    pid_t pid;
} s_broker;

static zsock_t *s_sockets[16];          //  destroyed by .fini
static size_t s_socket_count;

const char *
tb_frontend (void)
{
    return s_broker.frontend;
}

const char *
tb_intake (void)
{
    return s_broker.intake;
}

const char *
tb_backend (void)
{
    return s_broker.backend;
}

pid_t
tb_pid (void)
{
    return s_broker.pid;
}

const char *
tb_log_path (void)
{
    return s_broker.log;
}

void
tb_use_frontend (const char *endpoint)
{
    snprintf (s_broker.frontend, sizeof s_broker.frontend, "%s", endpoint);
}

zsock_t *
tb_socket (int type, const char *endpoint)
{
    zsock_t *sock = zsock_new (type);
    cr_assert_not_null (sock);
    zsock_set_linger (sock, 0);
    cr_assert_eq (zsock_connect (sock, "%s", endpoint), 0);
    cr_assert_lt (s_socket_count, 16);
    s_sockets[s_socket_count++] = sock;
    return sock;
}

//  One message, or NULL if none came within timeout_ms.
msg_t *
tb_recv (zsock_t *sock, int timeout_ms)
{
    zmq_pollitem_t item = { zsock_resolve (sock), 0, ZMQ_POLLIN, 0 };
    if (zmq_poll (&item, 1, timeout_ms) != 1)
        return NULL;
    msg_t *msg = NULL;
    int rc = wire_recv (sock, NULL, &msg);
    cr_assert_eq (rc, 0, "the broker sent a message we cannot decode (%d)", rc);
    return msg;
}

//  Any answer to the probe's STATUS.
static bool
s_answered (zsock_t *probe)
{
    msg_t *reply = tb_recv (probe, 100);
    bool answered = reply != NULL;
    msg_destroy (&reply);
    return answered;
}

//  Send one STATUS for a job that does not exist and wait for the answer:
//  the broker is up when it answers.  One, not one per try: the DEALER
//  queues what it sends until it connects, and a broker slow to start
//  (a loaded machine) then got a burst of them, whose refusal lines used
//  up the second's rate limit the test meant to read (test_broker_input).
static bool
s_answers (zsock_t *probe, int timeout_ms)
{
    msg_t *msg = msg_new (MSG_STATUS);
    msg_set_str (msg, MSG_F_JOB, "probe");
    wire_send (&msg, probe, NULL);
    return SUPPORT_WAIT (s_answered (probe), timeout_ms);
}

//  Run the broker with the current endpoints, data dir and extra flags,
//  and wait until it answers.
static void
s_spawn (void)
{
    const char *store = getenv ("DROVER_TEST_STORE");
    char *argv[40] = {
        "broker", "--frontend", s_broker.frontend, "--intake", s_broker.intake,
        "--backend", s_broker.backend, "--log-level", "debug",
        "--store", (char *) (store && *store? store: "lmdb"), "--data-dir", s_broker.data
    };
    size_t argc = 13;
    for (size_t i = 0; i < s_broker.extra_count; i++)
        argv[argc++] = s_broker.extra[i];
    argv[argc] = NULL;
    s_broker.pid = support_spawnv (s_broker.log, argv);
    cr_assert_gt (s_broker.pid, 0);

    zsock_t *probe = zsock_new_dealer (s_broker.frontend);
    cr_assert_not_null (probe);
    zsock_set_linger (probe, 0);
    bool up = s_answers (probe, 20000);
    zsock_destroy (&probe);
    cr_assert (up, "broker did not answer within 20 s; log:\n%s", support_slurp (s_broker.log));
}

//  Start a broker on fresh ports with extra flags (NULL-terminated).
//  Each test gets its own data dir; DROVER_TEST_STORE=memory runs the whole
//  suite on the memory store (the default here is lmdb, as in drover).
void
tb_start (const char *flag, ...)
{
    s_broker.dir = support_tmpdir ();
    cr_assert_not_null (s_broker.dir);
    snprintf (s_broker.log, sizeof s_broker.log, "%s/broker.log", s_broker.dir);
    snprintf (s_broker.data, sizeof s_broker.data, "%s/data", s_broker.dir);
    if (!*s_broker.frontend)        //  a test may have chosen it
        snprintf (s_broker.frontend, sizeof s_broker.frontend, "%s", support_endpoint ());
    snprintf (s_broker.intake, sizeof s_broker.intake, "%s", support_endpoint ());
    snprintf (s_broker.backend, sizeof s_broker.backend, "%s", support_endpoint ());
    s_broker.extra_count = 0;
    va_list ap;
    va_start (ap, flag);
    for (const char *a = flag; a && s_broker.extra_count < 24; a = va_arg (ap, const char *))
        s_broker.extra[s_broker.extra_count++] = (char *) a;
    va_end (ap);
    s_spawn ();
}

//  kill -9 the broker and start it again on the same data dir and ports.
void
tb_crash_and_restart (void)
{
    int status = support_stop (s_broker.pid, SIGKILL, 5000);
    cr_assert (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL, "status %d", status);
    s_spawn ();
}

bool
tb_log_has (const char *text)
{
    char *log = support_slurp (s_broker.log);
    bool found = log && strstr (log, text);
    free (log);
    return found;
}

void
tb_fini (void)
{
    for (size_t i = 0; i < s_socket_count; i++)
        zsock_destroy (&s_sockets[i]);
    s_socket_count = 0;
    if (s_broker.pid > 0) {
        int status = support_stop (s_broker.pid, SIGTERM, 10000);
        s_broker.pid = 0;
        cr_expect (WIFEXITED (status) && WEXITSTATUS (status) == 0,
                   "broker did not exit 0 on SIGTERM (status %d)", status);
        cr_expect (tb_log_has ("broker at shutdown"), "no counters logged at shutdown");
    }
    support_rmdir (&s_broker.dir);
    s_broker.frontend[0] = 0;
}

//  A tuple that says which it is: msgpack ["t", n].
zframe_t *
tb_tuple (uint32_t n)
{
    uint8_t bytes[] = { 0x92, 0xa1, 't', 0xce,
                        (uint8_t) (n >> 24), (uint8_t) (n >> 16), (uint8_t) (n >> 8), (uint8_t) n };
    return zframe_new (bytes, sizeof bytes);
}

zframe_t *
tb_bin (size_t size)
{
    assert (size >= 5);
    zframe_t *frame = zframe_new (NULL, size);
    uint8_t *data = zframe_data (frame);
    memset (data, 0xc0, size);
    size_t body = size - 5;
    data[0] = 0xc6;                     //  bin32
    data[1] = (uint8_t) (body >> 24), data[2] = (uint8_t) (body >> 16);
    data[3] = (uint8_t) (body >> 8), data[4] = (uint8_t) body;
    return frame;
}

bool
tb_tuple_is (msg_t *msg, size_t index, uint32_t n)
{
    zframe_t *want = tb_tuple (n);
    size_t size;
    const void *tuple = msg_tuple (msg, index, &size);
    bool same = tuple && size == zframe_size (want) && !memcmp (tuple, zframe_data (want), size);
    zframe_destroy (&want);
    return same;
}

//  SUBMIT count tuples numbered from tag; handler/sink/batch may be NULL.
msg_t *
tb_submit_msg (const char *job, const char *handler, const char *batch,
              uint32_t tag, size_t count, bool close)
{
    msg_t *msg = msg_new (MSG_SUBMIT);
    msg_set_str (msg, MSG_F_JOB, job);
    if (handler) {
        msg_set_str (msg, MSG_F_HANDLER, handler);
        msg_set_str (msg, MSG_F_SINK, TB_SINK);
    }
    if (batch)
        msg_set_str (msg, MSG_F_BATCH, batch);
    if (close)
        msg_set_bool (msg, MSG_F_CLOSE, true);
    for (size_t i = 0; i < count; i++) {
        zframe_t *frame = tb_tuple (tag + (uint32_t) i);
        msg_payload_append (msg, &frame);
    }
    return msg;
}

void
tb_send (zsock_t *sock, msg_t *msg)
{
    cr_assert_eq (wire_send (&msg, sock, NULL), 0);
}

//  Expect ACCEPTED with first/count (and batch if given).
void
tb_expect_accepted (zsock_t *sock, uint64_t first, uint64_t count, const char *batch)
{
    msg_t *reply = tb_recv (sock, 5000);
    cr_assert_not_null (reply, "no reply to SUBMIT");
    cr_assert_eq (msg_command (reply), MSG_ACCEPTED, "got %s (%s)",
                  msg_command_name (msg_command (reply)),
                  msg_str (reply, MSG_F_REASON)? msg_str (reply, MSG_F_REASON): "");
    cr_assert_eq (msg_uint (reply, MSG_F_FIRST), first);
    cr_assert_eq (msg_uint (reply, MSG_F_COUNT), count);
    if (batch)
        cr_assert_str_eq (msg_str (reply, MSG_F_BATCH), batch);
    msg_destroy (&reply);
}

//  Expect ERROR code; returns the message for more checks (caller frees).
//  HEARTBEATs an agent socket may get meanwhile are skipped.
msg_t *
tb_expect_error (zsock_t *sock, int code)
{
    msg_t *reply;
    while ((reply = tb_recv (sock, 5000)) && msg_command (reply) == MSG_HEARTBEAT)
        msg_destroy (&reply);
    cr_assert_not_null (reply, "no ERROR %s", msg_error_name (code));
    cr_assert_eq (msg_command (reply), MSG_ERROR, "got %s instead of ERROR %s",
                  msg_command_name (msg_command (reply)), msg_error_name (code));
    cr_assert_eq (msg_uint (reply, MSG_F_CODE), (uint64_t) code, "got ERROR %s (%s), not %s",
                  msg_error_name ((int) msg_uint (reply, MSG_F_CODE)),
                  msg_str (reply, MSG_F_REASON), msg_error_name (code));
    cr_assert (msg_str (reply, MSG_F_REASON) && *msg_str (reply, MSG_F_REASON));
    return reply;
}

void
tb_refused (zsock_t *sock, int code)
{
    msg_t *reply = tb_expect_error (sock, code);
    msg_destroy (&reply);
}

msg_t *
tb_status (zsock_t *req, const char *job)
{
    msg_t *msg = msg_new (MSG_STATUS);
    msg_set_str (msg, MSG_F_JOB, job);
    tb_send (req, msg);
    msg_t *reply = tb_recv (req, 5000);
    cr_assert_not_null (reply, "no reply to STATUS");
    return reply;
}

bool
tb_status_is (zsock_t *req, const char *job, tb_counts_t want)
{
    msg_t *reply = tb_status (req, job);
    bool same = msg_command (reply) == MSG_JOB
        && !strcmp (msg_str (reply, MSG_F_STATE), want.state)
        && msg_uint (reply, MSG_F_SUBMITTED) == want.submitted
        && msg_uint (reply, MSG_F_QUEUED) == want.queued
        && msg_uint (reply, MSG_F_RUNNING) == want.running
        && msg_uint (reply, MSG_F_DONE) == want.done
        && msg_uint (reply, MSG_F_FAILED) == want.failed;
    if (!same && msg_command (reply) == MSG_JOB)
        cr_log_info ("%s: %s submitted %lu queued %lu running %lu done %lu failed %lu",
                     job, msg_str (reply, MSG_F_STATE),
                     (unsigned long) msg_uint (reply, MSG_F_SUBMITTED),
                     (unsigned long) msg_uint (reply, MSG_F_QUEUED),
                     (unsigned long) msg_uint (reply, MSG_F_RUNNING),
                     (unsigned long) msg_uint (reply, MSG_F_DONE),
                     (unsigned long) msg_uint (reply, MSG_F_FAILED));
    msg_destroy (&reply);
    return same;
}

//  Raw multipart messages, for what the codec would never build.
void
tb_send_raw (zsock_t *sock, const char *frames[], const size_t sizes[], size_t count)
{
    zmsg_t *zmsg = zmsg_new ();
    for (size_t i = 0; i < count; i++)
        zmsg_addmem (zmsg, frames[i], sizes[i]);
    cr_assert_eq (zmsg_send (&zmsg, sock), 0);
}

zsock_t *
tb_agent (const char *name, uint64_t slots)
{
    zsock_t *agent = tb_socket (ZMQ_DEALER, s_broker.backend);
    msg_t *hello = msg_new (MSG_HELLO);
    msg_set_str (hello, MSG_F_AGENT, name);
    msg_set_uint (hello, MSG_F_SLOTS, slots);
    tb_send (agent, hello);
    msg_t *welcome = tb_recv (agent, 5000);
    cr_assert_not_null (welcome, "no WELCOME");
    cr_assert_eq (msg_command (welcome), MSG_WELCOME);
    cr_assert_gt (msg_uint (welcome, MSG_F_HEARTBEAT_MS), 0);
    msg_destroy (&welcome);
    return agent;
}

void
tb_agent_send (zsock_t *agent, msg_command_t command, const char *job,
              const msg_ref_t *refs, size_t count, const msg_ref_t *dead, size_t dead_count)
{
    msg_t *msg = msg_new (command);
    if (job)
        msg_set_str (msg, MSG_F_JOB, job);
    if (refs)
        msg_set_refs (msg, MSG_F_TUPLES, refs, count);
    if (dead)
        msg_set_refs (msg, MSG_F_DEAD, dead, dead_count);
    tb_send (agent, msg);
}

void
tb_credit (zsock_t *agent, uint64_t credit)
{
    msg_t *msg = msg_new (MSG_CREDIT);
    msg_set_uint (msg, MSG_F_CREDIT, credit);
    tb_send (agent, msg);
}

//  Receive WORK until none came for quiet_ms (a condition wait: we are
//  asserting that nothing more arrives), heartbeating meanwhile like a live
//  agent.  Checks each WORK's payload matches its refs.
size_t
tb_collect (zsock_t *agent, int quiet_ms, tb_got_t *got, size_t max, size_t *heartbeats)
{
    size_t n = 0;
    int64_t quiet_since = support_now_ms ();
    while (support_now_ms () - quiet_since < quiet_ms) {
        msg_t *msg = tb_recv (agent, 50);
        if (!msg) {
            msg_t *heartbeat = msg_new (MSG_HEARTBEAT);
            tb_send (agent, heartbeat);
            continue;
        }
        if (msg_command (msg) == MSG_HEARTBEAT) {
            if (heartbeats)
                (*heartbeats)++;
            msg_destroy (&msg);
            continue;
        }
        cr_assert_eq (msg_command (msg), MSG_WORK, "expected WORK, got %s",
                      msg_command_name (msg_command (msg)));
        cr_assert_str_eq (msg_str (msg, MSG_F_HANDLER), "echo");
        cr_assert_str_eq (msg_str (msg, MSG_F_SINK), TB_SINK);
        cr_assert_eq (msg_uint (msg, MSG_F_MAX_ATTEMPTS), 3);
        size_t count = 0;
        const msg_ref_t *refs = msg_refs (msg, MSG_F_TUPLES, &count);
        cr_assert_eq (msg_tuple_count (msg), count);
        for (size_t i = 0; i < count; i++) {
            cr_assert_lt (n, max, "more tuples than expected");
            cr_assert (tb_tuple_is (msg, i, (uint32_t) refs[i].id),
                       "payload %zu is not tuple %lu", i, (unsigned long) refs[i].id);
            snprintf (got[n].job, sizeof got[n].job, "%s", msg_str (msg, MSG_F_JOB));
            got[n].id = refs[i].id;
            got[n].attempt = refs[i].attempt;
            n++;
        }
        msg_destroy (&msg);
        quiet_since = support_now_ms ();
    }
    return n;
}

//  Submit count tuples (ids 1..count) to a new job, tagging tuple i as i.
void
tb_fill (zsock_t *req, const char *job, size_t count)
{
    tb_send (req, tb_submit_msg (job, "echo", NULL, 1, count, false));
    tb_expect_accepted (req, 1, count, NULL);
}

//  The next WORK within timeout_ms (HEARTBEATs skipped), or NULL.
msg_t *
tb_next_work (zsock_t *agent, int timeout_ms)
{
    int64_t deadline = support_now_ms () + timeout_ms;
    while (support_now_ms () < deadline) {
        msg_t *msg = tb_recv (agent, 50);
        if (!msg) {
            tb_send (agent, msg_new (MSG_HEARTBEAT));
            continue;
        }
        if (msg_command (msg) == MSG_WORK)
            return msg;
        cr_assert_eq (msg_command (msg), MSG_HEARTBEAT, "got %s%s%s",
                      msg_command_name (msg_command (msg)),
                      msg_command (msg) == MSG_ERROR? ": ": "",
                      msg_command (msg) == MSG_ERROR? msg_str (msg, MSG_F_REASON): "");
        msg_destroy (&msg);
    }
    return NULL;
}

uint64_t
tb_status_field (zsock_t *req, const char *job, msg_field_t field)
{
    msg_t *reply = tb_status (req, job);
    cr_assert_eq (msg_command (reply), MSG_JOB);
    uint64_t value = msg_uint (reply, field);
    msg_destroy (&reply);
    return value;
}

