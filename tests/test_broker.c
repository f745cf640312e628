//  test_broker.c -- black-box tests of `drover broker`: start the real
//  daemon, speak protocol v1 to it over real sockets as producers (REQ,
//  DEALER, PUSH) and as agents (DEALER), and assert on what comes back.
//  Bad input is sent as raw frames.
#include "support.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include "proto/msg.h"
#include "proto/wire.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SINK "tcp://127.0.0.1:5558"     //  never dialled: no agent here runs

//  The broker of the current test; .fini stops it even when a test fails.
static struct {
    char *dir;
    char log[512];
    char data[512];
    char *extra[24];                    //  flags of s_start, for a restart
    size_t extra_count;
    char frontend[64], intake[64], backend[64];
    pid_t pid;
} s_broker;

static zsock_t *s_sockets[16];          //  destroyed by .fini
static size_t s_socket_count;

static zsock_t *
s_socket (int type, const char *endpoint)
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
static msg_t *
s_recv (zsock_t *sock, int timeout_ms)
{
    zmq_pollitem_t item = { zsock_resolve (sock), 0, ZMQ_POLLIN, 0 };
    if (zmq_poll (&item, 1, timeout_ms) != 1)
        return NULL;
    msg_t *msg = NULL;
    int rc = wire_recv (sock, NULL, &msg);
    cr_assert_eq (rc, 0, "the broker sent a message we cannot decode (%d)", rc);
    return msg;
}

//  Send STATUS for a job that does not exist and wait a little for any
//  answer: the broker is up when it answers.
static bool
s_answers (zsock_t *probe)
{
    msg_t *msg = msg_new (MSG_STATUS);
    msg_set_str (msg, MSG_F_JOB, "probe");
    wire_send (&msg, probe, NULL);
    msg_t *reply = s_recv (probe, 100);
    bool answered = reply != NULL;
    msg_destroy (&reply);
    return answered;
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
    bool up = SUPPORT_WAIT (s_answers (probe), 20000);
    zsock_destroy (&probe);
    cr_assert (up, "broker did not answer within 20 s; log:\n%s", support_slurp (s_broker.log));
}

//  Start a broker on fresh ports with extra flags (NULL-terminated).
//  Each test gets its own data dir; DROVER_TEST_STORE=memory runs the whole
//  suite on the memory store (the default here is lmdb, as in drover).
static void
s_start (const char *flag, ...)
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
static void
s_crash_and_restart (void)
{
    int status = support_stop (s_broker.pid, SIGKILL, 5000);
    cr_assert (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL, "status %d", status);
    s_spawn ();
}

static bool
s_log_has (const char *text)
{
    char *log = support_slurp (s_broker.log);
    bool found = log && strstr (log, text);
    free (log);
    return found;
}

static void
s_fini (void)
{
    for (size_t i = 0; i < s_socket_count; i++)
        zsock_destroy (&s_sockets[i]);
    s_socket_count = 0;
    if (s_broker.pid > 0) {
        int status = support_stop (s_broker.pid, SIGTERM, 10000);
        s_broker.pid = 0;
        cr_expect (WIFEXITED (status) && WEXITSTATUS (status) == 0,
                   "broker did not exit 0 on SIGTERM (status %d)", status);
        cr_expect (s_log_has ("broker at shutdown"), "no counters logged at shutdown");
    }
    support_rmdir (&s_broker.dir);
    s_broker.frontend[0] = 0;
}

TestSuite (broker, .fini = s_fini, .timeout = 120);

//  ---------------------------------------------------------------------
//  Producer side

//  A tuple that says which it is: msgpack ["t", n].
static zframe_t *
s_tuple (uint32_t n)
{
    uint8_t bytes[] = { 0x92, 0xa1, 't', 0xce,
                        (uint8_t) (n >> 24), (uint8_t) (n >> 16), (uint8_t) (n >> 8), (uint8_t) n };
    return zframe_new (bytes, sizeof bytes);
}

//  SUBMIT count tuples numbered from tag; handler/sink/batch may be NULL.
static msg_t *
s_submit_msg (const char *job, const char *handler, const char *batch,
              uint32_t tag, size_t count, bool close)
{
    msg_t *msg = msg_new (MSG_SUBMIT);
    msg_set_str (msg, MSG_F_JOB, job);
    if (handler) {
        msg_set_str (msg, MSG_F_HANDLER, handler);
        msg_set_str (msg, MSG_F_SINK, SINK);
    }
    if (batch)
        msg_set_str (msg, MSG_F_BATCH, batch);
    if (close)
        msg_set_bool (msg, MSG_F_CLOSE, true);
    for (size_t i = 0; i < count; i++) {
        zframe_t *frame = s_tuple (tag + (uint32_t) i);
        msg_payload_append (msg, &frame);
    }
    return msg;
}

static void
s_send (zsock_t *sock, msg_t *msg)
{
    cr_assert_eq (wire_send (&msg, sock, NULL), 0);
}

//  Expect ACCEPTED with first/count (and batch if given).
static void
s_expect_accepted (zsock_t *sock, uint64_t first, uint64_t count, const char *batch)
{
    msg_t *reply = s_recv (sock, 5000);
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
static msg_t *
s_expect_error (zsock_t *sock, int code)
{
    msg_t *reply;
    while ((reply = s_recv (sock, 5000)) && msg_command (reply) == MSG_HEARTBEAT)
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

static void
s_refused (zsock_t *sock, int code)
{
    msg_t *reply = s_expect_error (sock, code);
    msg_destroy (&reply);
}

static msg_t *
s_status (zsock_t *req, const char *job)
{
    msg_t *msg = msg_new (MSG_STATUS);
    msg_set_str (msg, MSG_F_JOB, job);
    s_send (req, msg);
    msg_t *reply = s_recv (req, 5000);
    cr_assert_not_null (reply, "no reply to STATUS");
    return reply;
}

typedef struct {
    const char *state;
    uint64_t submitted, queued, running, done, failed;
} counts_t;

static bool
s_status_is (zsock_t *req, const char *job, counts_t want)
{
    msg_t *reply = s_status (req, job);
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

Test (broker, req_producer_gets_ids_in_order)
{
    s_start (NULL);
    zsock_t *req = s_socket (ZMQ_REQ, s_broker.frontend);
    s_send (req, s_submit_msg ("scan", "echo", "one", 1, 5, false));
    s_expect_accepted (req, 1, 5, "one");
    s_send (req, s_submit_msg ("scan", NULL, NULL, 6, 3, false));
    s_expect_accepted (req, 6, 3, NULL);
    //  Same handler and sink again is fine; an empty batch is accepted.
    s_send (req, s_submit_msg ("scan", "echo", "empty", 0, 0, false));
    s_expect_accepted (req, 9, 0, "empty");
    cr_assert (s_status_is (req, "scan", (counts_t) { "open", 8, 8, 0, 0, 0 }));
    cr_assert (SUPPORT_WAIT (s_log_has ("job scan created (handler echo, sink " SINK ")"), 2000));
    cr_assert (s_log_has ("broker ready: frontend tcp://127.0.0.1:"));
}

Test (broker, binds_every_endpoint_of_a_list)
{
    snprintf (s_broker.frontend, sizeof s_broker.frontend, "%s", support_endpoint ());
    char second[64], list[160];
    snprintf (second, sizeof second, "%s", support_endpoint ());
    snprintf (list, sizeof list, "%s,%s", s_broker.frontend, second);
    s_start ("--frontend", list, NULL);
    zsock_t *one = s_socket (ZMQ_REQ, s_broker.frontend);
    zsock_t *two = s_socket (ZMQ_REQ, second);
    s_send (one, s_submit_msg ("both", "echo", NULL, 0, 2, false));
    s_expect_accepted (one, 1, 2, NULL);
    s_send (two, s_submit_msg ("both", NULL, NULL, 0, 2, false));
    s_expect_accepted (two, 3, 2, NULL);
    cr_assert (s_log_has (list), "the ready line names every endpoint");
}

Test (broker, dealer_producer_pipelines)
{
    s_start (NULL);
    zsock_t *dealer = s_socket (ZMQ_DEALER, s_broker.frontend);
    //  Ten batches without waiting; replies are matched by batch.
    for (int i = 0; i < 10; i++) {
        char batch[16];
        snprintf (batch, sizeof batch, "b%d", i);
        s_send (dealer, s_submit_msg ("pipe", i == 0? "echo": NULL, batch,
                                      (uint32_t) i * 100, 100, false));
    }
    bool seen[10] = { false };
    for (int i = 0; i < 10; i++) {
        msg_t *reply = s_recv (dealer, 5000);
        cr_assert_not_null (reply);
        cr_assert_eq (msg_command (reply), MSG_ACCEPTED);
        int b = atoi (msg_str (reply, MSG_F_BATCH) + 1);
        cr_assert (b >= 0 && b < 10 && !seen[b]);
        seen[b] = true;
        //  One connection is served in order: batch b holds ids b*100+1...
        cr_assert_eq (msg_uint (reply, MSG_F_FIRST), (uint64_t) b * 100 + 1);
        cr_assert_eq (msg_uint (reply, MSG_F_COUNT), 100);
        msg_destroy (&reply);
    }
    zsock_t *req = s_socket (ZMQ_REQ, s_broker.frontend);
    cr_assert (s_status_is (req, "pipe", (counts_t) { "open", 1000, 1000, 0, 0, 0 }));
}

Test (broker, push_intake_submits)
{
    s_start (NULL);
    zsock_t *push = s_socket (ZMQ_PUSH, s_broker.intake);
    zsock_t *req = s_socket (ZMQ_REQ, s_broker.frontend);
    s_send (push, s_submit_msg ("fire", "echo", NULL, 0, 50, false));
    s_send (push, s_submit_msg ("fire", NULL, NULL, 50, 70, true));
    cr_assert (SUPPORT_WAIT (s_status_is (req, "fire", (counts_t) { "closed", 120, 120, 0, 0, 0 }),
                             5000));
    //  Refusals on the intake are logged, not answered.
    s_send (push, s_submit_msg ("fire", NULL, NULL, 0, 1, false));
    cr_assert (SUPPORT_WAIT (s_log_has ("intake: JOB_CLOSED"), 5000));
    zmsg_t *garbage = zmsg_new ();
    zmsg_addstr (garbage, "no protocol here");
    zmsg_send (&garbage, push);
    cr_assert (SUPPORT_WAIT (s_log_has ("intake: BAD_FRAMES"), 5000));
    s_send (push, s_submit_msg ("more", "echo", NULL, 0, 3, false));
    cr_assert (SUPPORT_WAIT (s_status_is (req, "more", (counts_t) { "open", 3, 3, 0, 0, 0 }),
                             5000));
}

Test (broker, job_errors)
{
    s_start (NULL);
    zsock_t *req = s_socket (ZMQ_REQ, s_broker.frontend);
    msg_t *reply = s_status (req, "nothing");
    cr_assert_eq (msg_command (reply), MSG_ERROR);
    cr_assert_eq (msg_uint (reply, MSG_F_CODE), DRV_E_UNKNOWN_JOB);
    msg_destroy (&reply);

    //  A new job needs handler and sink.
    s_send (req, s_submit_msg ("nohandler", NULL, "x", 0, 2, false));
    reply = s_expect_error (req, DRV_E_UNKNOWN_JOB);
    cr_assert_str_eq (msg_str (reply, MSG_F_BATCH), "x", "ERROR echoes the batch");
    msg_destroy (&reply);

    s_send (req, s_submit_msg ("job", "echo", NULL, 0, 2, false));
    s_expect_accepted (req, 1, 2, NULL);
    msg_t *conflict = s_submit_msg ("job", "sleep", NULL, 0, 1, false);
    s_send (req, conflict);
    s_refused (req, DRV_E_CONFLICT);
    conflict = s_submit_msg ("job", NULL, NULL, 0, 1, false);
    msg_set_str (conflict, MSG_F_SINK, "tcp://127.0.0.1:1");
    s_send (req, conflict);
    s_refused (req, DRV_E_CONFLICT);

    //  Close with a last batch; then the job takes nothing more.
    s_send (req, s_submit_msg ("job", NULL, NULL, 2, 1, true));
    s_expect_accepted (req, 3, 1, NULL);
    s_send (req, s_submit_msg ("job", NULL, NULL, 0, 0, true));
    s_refused (req, DRV_E_JOB_CLOSED);
    s_send (req, s_submit_msg ("job", NULL, NULL, 0, 1, false));
    s_refused (req, DRV_E_JOB_CLOSED);
    //  None of the refused SUBMITs changed anything.
    cr_assert (s_status_is (req, "job", (counts_t) { "closed", 3, 3, 0, 0, 0 }));
    cr_assert (s_status_is (req, "job", (counts_t) { "closed", 3, 3, 0, 0, 0 }));

    //  A job closed empty is complete at once.
    s_send (req, s_submit_msg ("empty", "echo", NULL, 0, 0, true));
    s_expect_accepted (req, 1, 0, NULL);
    cr_assert (s_status_is (req, "empty", (counts_t) { "complete", 0, 0, 0, 0, 0 }));
    //  A job name is a store key: 255 bytes at most.
    char name[300];
    memset (name, 'n', sizeof name - 1);
    name[sizeof name - 1] = 0;
    s_send (req, s_submit_msg (name, "echo", NULL, 0, 1, false));
    s_refused (req, DRV_E_TOO_LARGE);
    name[255] = 0;
    s_send (req, s_submit_msg (name, "echo", NULL, 0, 1, false));
    s_expect_accepted (req, 1, 1, NULL);
}

Test (broker, limits)
{
    s_start ("--max-batch", "10", "--max-queued", "25", "--max-tuple-size", "1K", NULL);
    zsock_t *req = s_socket (ZMQ_REQ, s_broker.frontend);
    s_send (req, s_submit_msg ("big", "echo", NULL, 0, 11, false));
    s_refused (req, DRV_E_TOO_LARGE);
    s_send (req, s_submit_msg ("big", "echo", NULL, 0, 10, false));
    s_expect_accepted (req, 1, 10, NULL);
    s_send (req, s_submit_msg ("big", NULL, NULL, 0, 10, false));
    s_expect_accepted (req, 11, 10, NULL);
    s_send (req, s_submit_msg ("big", NULL, "full", 0, 6, false));
    msg_t *reply = s_expect_error (req, DRV_E_QUEUE_FULL);
    cr_assert (msg_has (reply, MSG_F_RETRY_MS), "QUEUE_FULL says when to retry");
    cr_assert_gt (msg_uint (reply, MSG_F_RETRY_MS), 0);
    cr_assert_str_eq (msg_str (reply, MSG_F_BATCH), "full");
    msg_destroy (&reply);
    s_send (req, s_submit_msg ("big", NULL, NULL, 0, 5, false));
    s_expect_accepted (req, 21, 5, NULL);

    msg_t *submit = s_submit_msg ("small", "echo", NULL, 0, 2, false);
    zframe_t *frame = zframe_new (NULL, 1025);
    memset (zframe_data (frame), 0xc0, zframe_size (frame));
    msg_payload_append (submit, &frame);
    s_send (req, submit);
    reply = s_expect_error (req, DRV_E_TOO_LARGE);
    cr_assert (strstr (msg_str (reply, MSG_F_REASON), "tuple 3"), "reason names the tuple");
    msg_destroy (&reply);
    //  Refused whole: the job was not even created.
    reply = s_status (req, "small");
    cr_assert_eq (msg_command (reply), MSG_ERROR);
    cr_assert_eq (msg_uint (reply, MSG_F_CODE), DRV_E_UNKNOWN_JOB);
    msg_destroy (&reply);
}

Test (broker, frame_over_max_message_size_drops_only_that_peer)
{
    s_start ("--max-message-size", "64K", "--max-tuple-size", "1M", NULL);
    zsock_t *rude = s_socket (ZMQ_DEALER, s_broker.frontend);
    zsock_t *req = s_socket (ZMQ_REQ, s_broker.frontend);
    msg_t *submit = s_submit_msg ("rude", "echo", NULL, 0, 0, false);
    zframe_t *frame = zframe_new (NULL, 100 * 1024);
    memset (zframe_data (frame), 0xc0, zframe_size (frame));
    msg_payload_append (submit, &frame);
    s_send (rude, submit);
    //  libzmq drops the connection: no answer, no job, broker still serving.
    s_send (req, s_submit_msg ("polite", "echo", NULL, 0, 3, false));
    s_expect_accepted (req, 1, 3, NULL);
    msg_t *reply = s_recv (rude, 300);
    cr_assert_null (reply, "an oversized frame got an answer");
    reply = s_status (req, "rude");
    cr_assert_eq (msg_uint (reply, MSG_F_CODE), DRV_E_UNKNOWN_JOB);
    msg_destroy (&reply);
}

//  Raw multipart messages, for what the codec would never build.
static void
s_send_raw (zsock_t *sock, const char *frames[], const size_t sizes[], size_t count)
{
    zmsg_t *zmsg = zmsg_new ();
    for (size_t i = 0; i < count; i++)
        zmsg_addmem (zmsg, frames[i], sizes[i]);
    cr_assert_eq (zmsg_send (&zmsg, sock), 0);
}

Test (broker, bad_input_does_not_disturb_others)
{
    s_start (NULL);
    zsock_t *bad = s_socket (ZMQ_DEALER, s_broker.frontend);
    zsock_t *good = s_socket (ZMQ_REQ, s_broker.frontend);
    static const char header[] = "\x81\xa3job\xa1j";     //  {"job": "j"}
    struct {
        const char *frames[4];
        size_t sizes[4];
        size_t count;
        int code;
    } cases[] = {
        { { "garbage" }, { 7 }, 1, DRV_E_BAD_FRAMES },
        { { "DRV1", "SUBMIT" }, { 4, 6 }, 2, DRV_E_BAD_FRAMES },
        { { "DRV9", "STATUS", header }, { 4, 6, 7 }, 3, DRV_E_BAD_VERSION },
        { { "DRV1", "FROBNICATE", header }, { 4, 10, 7 }, 3, DRV_E_UNKNOWN_COMMAND },
        { { "DRV1", "STATUS", "\xc1" }, { 4, 6, 1 }, 3, DRV_E_BAD_HEADER },
        { { "DRV1", "STATUS", "\x81\xa3job" }, { 4, 6, 5 }, 3, DRV_E_BAD_HEADER },
        { { "DRV1", "STATUS", "\x80" }, { 4, 6, 1 }, 3, DRV_E_MISSING_FIELD },
        { { "DRV1", "STATUS", "\x81\xa3job\x07" }, { 4, 6, 6 }, 3, DRV_E_BAD_TYPE },
        { { "DRV1", "HELLO", "\x82\xa5" "agent\xa1" "a\xa5slots\x01" }, { 4, 5, 16 }, 3,
          DRV_E_UNEXPECTED },
        { { "DRV1", "STATUS", header, "extra" }, { 4, 6, 7, 5 }, 4, DRV_E_BAD_FRAMES },
    };
    size_t count = sizeof cases / sizeof cases[0];
    uint64_t next_id = 1;
    for (size_t i = 0; i < count; i++) {
        s_send_raw (bad, cases[i].frames, cases[i].sizes, cases[i].count);
        s_send (good, s_submit_msg ("good", "echo", NULL, 0, 2, false));
        msg_t *reply = s_expect_error (bad, cases[i].code);
        msg_destroy (&reply);
        s_expect_accepted (good, next_id, 2, NULL);
        next_id += 2;
    }
    msg_t *reply = NULL;
    //  BAD_VERSION names the versions the broker speaks.
    s_send_raw (bad, cases[2].frames, cases[2].sizes, cases[2].count);
    reply = s_expect_error (bad, DRV_E_BAD_VERSION);
    cr_assert (strstr (msg_str (reply, MSG_F_REASON), "1"));
    msg_destroy (&reply);

    //  A 2 MiB tuple (over the 1 MiB default), then the good producer again.
    msg_t *huge = s_submit_msg ("huge", "echo", "h", 0, 1, false);
    zframe_t *frame = zframe_new (NULL, 2 * 1024 * 1024);
    memset (zframe_data (frame), 0xc0, zframe_size (frame));
    msg_payload_append (huge, &frame);
    s_send (bad, huge);
    s_send (good, s_submit_msg ("good", NULL, NULL, 0, 2, false));
    reply = s_expect_error (bad, DRV_E_TOO_LARGE);
    cr_assert_str_eq (msg_str (reply, MSG_F_BATCH), "h");
    msg_destroy (&reply);
    s_expect_accepted (good, next_id, 2, NULL);

    //  The bad socket itself still works when it behaves.
    s_send (bad, s_submit_msg ("good", NULL, "ok", 0, 1, false));
    s_expect_accepted (bad, next_id + 2, 1, "ok");
    cr_assert (SUPPORT_WAIT (s_log_has ("frontend: UNKNOWN_COMMAND"), 2000));
}

//  ---------------------------------------------------------------------
//  Agent side: the test plays the agent over a DEALER

typedef struct {
    char job[32];
    uint64_t id;
    uint32_t attempt;
} got_t;

static zsock_t *
s_agent (const char *name, uint64_t slots)
{
    zsock_t *agent = s_socket (ZMQ_DEALER, s_broker.backend);
    msg_t *hello = msg_new (MSG_HELLO);
    msg_set_str (hello, MSG_F_AGENT, name);
    msg_set_uint (hello, MSG_F_SLOTS, slots);
    s_send (agent, hello);
    msg_t *welcome = s_recv (agent, 5000);
    cr_assert_not_null (welcome, "no WELCOME");
    cr_assert_eq (msg_command (welcome), MSG_WELCOME);
    cr_assert_gt (msg_uint (welcome, MSG_F_HEARTBEAT_MS), 0);
    msg_destroy (&welcome);
    return agent;
}

static void
s_agent_send (zsock_t *agent, msg_command_t command, const char *job,
              const msg_ref_t *refs, size_t count, const msg_ref_t *dead, size_t dead_count)
{
    msg_t *msg = msg_new (command);
    if (job)
        msg_set_str (msg, MSG_F_JOB, job);
    if (refs)
        msg_set_refs (msg, MSG_F_TUPLES, refs, count);
    if (dead)
        msg_set_refs (msg, MSG_F_DEAD, dead, dead_count);
    s_send (agent, msg);
}

static void
s_credit (zsock_t *agent, uint64_t credit)
{
    msg_t *msg = msg_new (MSG_CREDIT);
    msg_set_uint (msg, MSG_F_CREDIT, credit);
    s_send (agent, msg);
}

//  Receive WORK until none came for quiet_ms (a condition wait: we are
//  asserting that nothing more arrives), heartbeating meanwhile like a live
//  agent.  Checks each WORK's payload matches its refs.
static size_t
s_collect (zsock_t *agent, int quiet_ms, got_t *got, size_t max, size_t *heartbeats)
{
    size_t n = 0;
    int64_t quiet_since = support_now_ms ();
    while (support_now_ms () - quiet_since < quiet_ms) {
        msg_t *msg = s_recv (agent, 50);
        if (!msg) {
            msg_t *heartbeat = msg_new (MSG_HEARTBEAT);
            s_send (agent, heartbeat);
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
        cr_assert_str_eq (msg_str (msg, MSG_F_SINK), SINK);
        cr_assert_eq (msg_uint (msg, MSG_F_MAX_ATTEMPTS), 3);
        size_t count = 0;
        const msg_ref_t *refs = msg_refs (msg, MSG_F_TUPLES, &count);
        cr_assert_eq (msg_payload_count (msg), count);
        for (size_t i = 0; i < count; i++) {
            cr_assert_lt (n, max, "more tuples than expected");
            zframe_t *want = s_tuple ((uint32_t) refs[i].id);
            cr_assert (zframe_eq (msg_payload (msg, i), want),
                       "payload %zu is not tuple %lu", i, (unsigned long) refs[i].id);
            zframe_destroy (&want);
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
static void
s_fill (zsock_t *req, const char *job, size_t count)
{
    s_send (req, s_submit_msg (job, "echo", NULL, 1, count, false));
    s_expect_accepted (req, 1, count, NULL);
}

Test (broker, agent_gets_no_more_than_its_credit)
{
    s_start (NULL);
    zsock_t *req = s_socket (ZMQ_REQ, s_broker.frontend);
    s_fill (req, "work", 10);
    zsock_t *agent = s_agent ("a1", 3);
    got_t got[10];
    size_t n = s_collect (agent, 300, got, 10, NULL);
    cr_assert_eq (n, 3, "slots=3 but %zu tuples arrived", n);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq (got[i].id, i + 1, "oldest first");
        cr_assert_eq (got[i].attempt, 1);
        cr_assert_str_eq (got[i].job, "work");
    }
    cr_assert (s_status_is (req, "work", (counts_t) { "open", 10, 7, 3, 0, 0 }));

    s_credit (agent, 2);
    n = s_collect (agent, 300, got, 10, NULL);
    cr_assert_eq (n, 2);
    cr_assert_eq (got[0].id, 4);
    cr_assert_eq (got[1].id, 5);
    cr_assert (s_status_is (req, "work", (counts_t) { "open", 10, 5, 5, 0, 0 }));
    cr_assert (SUPPORT_WAIT (s_log_has ("agent a1 joined (3 slots)"), 2000));
}

Test (broker, done_retry_and_dead_letters)
{
    //  No back-off: a retried tuple is first in line at once (the back-off
    //  has its own test).
    s_start ("--retry-backoff-ms", "0", NULL);
    zsock_t *req = s_socket (ZMQ_REQ, s_broker.frontend);
    s_fill (req, "work", 6);
    zsock_t *agent = s_agent ("a1", 4);
    got_t got[10];
    cr_assert_eq (s_collect (agent, 300, got, 10, NULL), 4);

    //  1 and 2 done, 3 a dead letter; a ref never held is ignored.
    msg_ref_t done[] = { { 1, 1 }, { 2, 1 }, { 99, 1 } };
    msg_ref_t dead[] = { { 3, 1 } };
    s_agent_send (agent, MSG_DONE, "work", done, 3, dead, 1);
    cr_assert (SUPPORT_WAIT (s_status_is (req, "work", (counts_t) { "open", 6, 2, 1, 2, 1 }),
                             5000));
    //  Reported twice (a late duplicate): counted once.
    s_agent_send (agent, MSG_DONE, "work", done, 2, NULL, 0);
    //  4 failed its first attempt: it is queued again, first in line.
    msg_ref_t retry[] = { { 4, 1 } };
    s_agent_send (agent, MSG_RETRY, "work", retry, 1, NULL, 0);
    cr_assert (SUPPORT_WAIT (s_status_is (req, "work", (counts_t) { "open", 6, 3, 0, 2, 1 }),
                             5000));
    s_credit (agent, 1);
    cr_assert_eq (s_collect (agent, 300, got, 10, NULL), 1);
    cr_assert_eq (got[0].id, 4);
    cr_assert_eq (got[0].attempt, 2, "a retry counts the attempt");

    //  Retry it to its last attempt: then RETRY is counted failed.
    s_agent_send (agent, MSG_RETRY, "work", (msg_ref_t[]) { { 4, 2 } }, 1, NULL, 0);
    s_credit (agent, 1);
    cr_assert_eq (s_collect (agent, 300, got, 10, NULL), 1);
    cr_assert_eq (got[0].id, 4);
    cr_assert_eq (got[0].attempt, 3);
    s_agent_send (agent, MSG_RETRY, "work", (msg_ref_t[]) { { 4, 3 } }, 1, NULL, 0);
    cr_assert (SUPPORT_WAIT (s_status_is (req, "work", (counts_t) { "open", 6, 2, 0, 2, 2 }),
                             5000));
    cr_assert (SUPPORT_WAIT (s_log_has ("after its last attempt"), 2000));

    //  Close and finish: the job completes.
    s_send (req, s_submit_msg ("work", NULL, NULL, 0, 0, true));
    s_expect_accepted (req, 7, 0, NULL);
    s_credit (agent, 2);
    cr_assert_eq (s_collect (agent, 300, got, 10, NULL), 2);
    s_agent_send (agent, MSG_DONE, "work", (msg_ref_t[]) { { 5, 1 }, { 6, 1 } }, 2, NULL, 0);
    cr_assert (SUPPORT_WAIT (s_status_is (req, "work", (counts_t) { "complete", 6, 0, 0, 4, 2 }),
                             5000));
    cr_assert (SUPPORT_WAIT (s_log_has ("job work complete: 4 done, 2 failed"), 2000));

    //  DONE for a job that does not exist is refused.
    s_agent_send (agent, MSG_DONE, "nojob", done, 1, NULL, 0);
    s_refused (agent, DRV_E_UNKNOWN_JOB);
}

Test (broker, bye_hands_tuples_to_another_agent)
{
    s_start (NULL);
    zsock_t *req = s_socket (ZMQ_REQ, s_broker.frontend);
    s_fill (req, "work", 8);
    zsock_t *first = s_agent ("first", 5);
    got_t got[10];
    cr_assert_eq (s_collect (first, 300, got, 10, NULL), 5);
    s_agent_send (first, MSG_DONE, "work", (msg_ref_t[]) { { 1, 1 } }, 1, NULL, 0);
    s_agent_send (first, MSG_BYE, NULL, NULL, 0, NULL, 0);
    cr_assert (SUPPORT_WAIT (s_status_is (req, "work", (counts_t) { "open", 8, 7, 0, 1, 0 }),
                             5000));
    cr_assert (SUPPORT_WAIT (s_log_has ("agent first left; 4 tuples queued again"), 2000));

    zsock_t *second = s_agent ("second", 10);
    size_t n = s_collect (second, 300, got, 10, NULL);
    cr_assert_eq (n, 7);
    bool seen[9] = { false };
    for (size_t i = 0; i < n; i++) {
        cr_assert (got[i].id >= 2 && got[i].id <= 8 && !seen[got[i].id]);
        seen[got[i].id] = true;
        //  Handed back unrun: the attempt is not counted.
        cr_assert_eq (got[i].attempt, 1);
    }
    //  The first agent is gone: anything it sends now is UNEXPECTED.
    s_credit (first, 1);
    s_refused (first, DRV_E_UNEXPECTED);
}

Test (broker, agents_take_turns)
{
    s_start (NULL);
    zsock_t *req = s_socket (ZMQ_REQ, s_broker.frontend);
    zsock_t *a = s_agent ("a", 5);
    zsock_t *b = s_agent ("b", 5);
    got_t got[20];
    //  a joined first and gets the first batch; b is next in turn.
    s_fill (req, "one", 2);
    cr_assert_eq (s_collect (a, 300, got, 20, NULL), 2);
    cr_assert_eq (s_collect (b, 50, got, 20, NULL), 0);
    s_send (req, s_submit_msg ("one", NULL, NULL, 3, 2, false));
    s_expect_accepted (req, 3, 2, NULL);
    cr_assert_eq (s_collect (b, 300, got, 20, NULL), 2);
    cr_assert_eq (got[0].id, 3);
    cr_assert_eq (s_collect (a, 50, got, 20, NULL), 0);
    //  Plenty for both: each gets exactly its remaining credit.
    s_fill (req, "two", 20);
    cr_assert_eq (s_collect (a, 300, got, 20, NULL), 3);
    cr_assert_eq (s_collect (b, 300, got, 20, NULL), 3);
    cr_assert (s_status_is (req, "two", (counts_t) { "open", 20, 14, 6, 0, 0 }));
}

Test (broker, lost_agent_tuples_are_requeued)
{
    s_start ("--heartbeat-ms", "100", NULL);
    zsock_t *req = s_socket (ZMQ_REQ, s_broker.frontend);
    s_fill (req, "work", 5);
    zsock_t *silent = s_agent ("silent", 5);
    //  Take the work, then say nothing more.
    got_t got[10];
    size_t n = 0;
    while (n < 5) {
        msg_t *msg = s_recv (silent, 2000);
        cr_assert_not_null (msg, "no WORK");
        if (msg_command (msg) == MSG_WORK) {
            size_t count;
            msg_refs (msg, MSG_F_TUPLES, &count);
            n += count;
        }
        msg_destroy (&msg);
    }
    cr_assert (SUPPORT_WAIT (s_status_is (req, "work", (counts_t) { "open", 5, 5, 0, 0, 0 }),
                             5000), "the silent agent's tuples were not queued again");
    cr_assert (SUPPORT_WAIT (s_log_has ("agent silent lost"), 2000));
    //  Before giving up the broker heartbeated the silent agent.
    size_t heartbeats = 0;
    msg_t *msg;
    while ((msg = s_recv (silent, 0))) {
        heartbeats += msg_command (msg) == MSG_HEARTBEAT;
        msg_destroy (&msg);
    }
    cr_assert_geq (heartbeats, 1, "no HEARTBEAT sent to a quiet agent");

    zsock_t *live = s_agent ("live", 5);
    n = s_collect (live, 300, got, 10, NULL);
    cr_assert_eq (n, 5);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq (got[i].attempt, 2, "a lost agent's attempt counts");
    //  The live agent heartbeats (in s_collect) and stays.
    cr_assert (s_status_is (req, "work", (counts_t) { "open", 5, 0, 5, 0, 0 }));
}

Test (broker, backend_refuses_before_hello_and_producer_commands)
{
    s_start (NULL);
    zsock_t *stranger = s_socket (ZMQ_DEALER, s_broker.backend);
    s_credit (stranger, 5);
    s_refused (stranger, DRV_E_UNEXPECTED);
    zsock_t *agent = s_agent ("a", 1);
    s_send (agent, s_submit_msg ("job", "echo", NULL, 0, 1, false));
    s_refused (agent, DRV_E_UNEXPECTED);
    const char *frames[] = { "DRV1", "DONE", "\x80" };
    s_send_raw (agent, frames, (size_t[]) { 4, 4, 1 }, 3);
    s_refused (agent, DRV_E_MISSING_FIELD);
}

Test (broker, help_and_usage_errors)
{
    char *dir = support_tmpdir ();
    char log[512];
    snprintf (log, sizeof log, "%s/out", dir);
    pid_t pid = support_spawn (log, "broker", "--help", NULL);
    int status = -1;
    cr_assert (SUPPORT_WAIT (support_exited (pid, &status), 10000));
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    char *text = support_slurp (log);
    cr_assert (text && strstr (text, "--max-queued") && strstr (text, "DROVER_HEARTBEAT_MS"));
    free (text);
    const char *bad[][2] = {
        { "--store", "disk" }, { "--heartbeat-ms", "soon" }, { "--max-tuple-size", "1Q" },
        { "--max-batch", "0" }, { "--log-level", "loud" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pid = support_spawn (log, "broker", bad[i][0], bad[i][1], NULL);
        cr_assert (SUPPORT_WAIT (support_exited (pid, &status), 10000));
        cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 2,
                   "%s %s should be a usage error", bad[i][0], bad[i][1]);
    }
    support_rmdir (&dir);
}

//  ---------------------------------------------------------------------
//  Durability, leases, dead letters, idempotent SUBMIT, back-pressure

//  The next WORK within timeout_ms (HEARTBEATs skipped), or NULL.
static msg_t *
s_next_work (zsock_t *agent, int timeout_ms)
{
    int64_t deadline = support_now_ms () + timeout_ms;
    while (support_now_ms () < deadline) {
        msg_t *msg = s_recv (agent, 50);
        if (!msg) {
            s_send (agent, msg_new (MSG_HEARTBEAT));
            continue;
        }
        if (msg_command (msg) == MSG_WORK)
            return msg;
        cr_assert_eq (msg_command (msg), MSG_HEARTBEAT, "got %s",
                      msg_command_name (msg_command (msg)));
        msg_destroy (&msg);
    }
    return NULL;
}

static uint64_t
s_status_field (zsock_t *req, const char *job, msg_field_t field)
{
    msg_t *reply = s_status (req, job);
    cr_assert_eq (msg_command (reply), MSG_JOB);
    uint64_t value = msg_uint (reply, field);
    msg_destroy (&reply);
    return value;
}

Test (broker, kill_9_keeps_every_accepted_tuple)
{
    if (getenv ("DROVER_TEST_STORE") && strcmp (getenv ("DROVER_TEST_STORE"), "lmdb"))
        cr_skip_test ("the memory store forgets by design");
    s_start (NULL);
    zsock_t *req = s_socket (ZMQ_REQ, s_broker.frontend);
    s_send (req, s_submit_msg ("work", "echo", "b1", 1, 10, false));
    s_expect_accepted (req, 1, 10, "b1");
    //  An agent takes 4 (leased), finishes 1; 2 more tuples wait.
    zsock_t *agent = s_agent ("a1", 4);
    got_t got[20];
    cr_assert_eq (s_collect (agent, 300, got, 20, NULL), 4);
    s_agent_send (agent, MSG_DONE, "work", (msg_ref_t[]) { { 1, 1 } }, 1, NULL, 0);
    cr_assert (SUPPORT_WAIT (s_status_is (req, "work", (counts_t) { "open", 10, 6, 3, 1, 0 }),
                             5000));
    s_send (req, s_submit_msg ("work", NULL, "b2", 11, 2, true));
    s_expect_accepted (req, 11, 2, "b2");

    s_crash_and_restart ();
    cr_assert (s_log_has ("3 tuples were leased when the broker stopped"));
    //  Everything acknowledged is back: 11 queued, the leased ones' attempt
    //  counted; the job is still closed.
    cr_assert (SUPPORT_WAIT (s_status_is (req, "work", (counts_t) { "closed", 12, 11, 0, 1, 0 }),
                             5000));
    //  The producer retries b2 (it never saw the answer, say): same ids.
    s_send (req, s_submit_msg ("work", NULL, "b2", 11, 2, true));
    s_expect_accepted (req, 11, 2, "b2");
    zsock_t *fresh = s_agent ("a2", 20);
    size_t n = s_collect (fresh, 300, got, 20, NULL);
    cr_assert_eq (n, 11, "every accepted tuple not done is dispatched again");
    bool seen[13] = { false };
    for (size_t i = 0; i < n; i++) {
        cr_assert (got[i].id >= 2 && got[i].id <= 12 && !seen[got[i].id]);
        seen[got[i].id] = true;
        cr_assert_eq (got[i].attempt, got[i].id <= 4? 2: 1,
                      "tuple %lu attempt %u", (unsigned long) got[i].id, got[i].attempt);
    }
    msg_ref_t done[11];
    for (size_t i = 0; i < n; i++)
        done[i] = (msg_ref_t) { got[i].id, got[i].attempt };
    s_agent_send (fresh, MSG_DONE, "work", done, n, NULL, 0);
    cr_assert (SUPPORT_WAIT (s_status_is (req, "work", (counts_t) { "complete", 12, 0, 0, 12, 0 }),
                             5000));
    //  And a restart after completion keeps the counters.
    s_crash_and_restart ();
    cr_assert (SUPPORT_WAIT (s_status_is (req, "work", (counts_t) { "complete", 12, 0, 0, 12, 0 }),
                             5000));
}

Test (broker, expired_lease_requeues_and_touch_extends)
{
    s_start ("--heartbeat-ms", "100", "--lease-slack-ms", "0", "--retry-backoff-ms", "0", NULL);
    zsock_t *req = s_socket (ZMQ_REQ, s_broker.frontend);
    msg_t *submit = s_submit_msg ("work", "echo", NULL, 1, 2, false);
    msg_set_uint (submit, MSG_F_TIMEOUT_MS, 400);
    s_send (req, submit);
    s_expect_accepted (req, 1, 2, NULL);
    zsock_t *slow = s_agent ("slow", 2);
    msg_t *work = s_next_work (slow, 5000);
    cr_assert_not_null (work);
    cr_assert_eq (msg_uint (work, MSG_F_LEASE_MS), 400, "lease = timeout_ms + slack");
    size_t count;
    msg_refs (work, MSG_F_TUPLES, &count);
    cr_assert_eq (count, 2);
    msg_destroy (&work);
    //  The slow agent keeps tuple 1 alive with TOUCH, not tuple 2.
    zsock_t *other = s_agent ("other", 5);
    msg_t *again = NULL;
    int64_t until = support_now_ms () + 3000;
    while (!again && support_now_ms () < until) {
        msg_t *touch = msg_new (MSG_TOUCH);
        msg_set_str (touch, MSG_F_JOB, "work");
        msg_set_refs (touch, MSG_F_TUPLES, (msg_ref_t[]) { { 1, 1 } }, 1);
        msg_set_uint (touch, MSG_F_LEASE_MS, 1000);
        s_send (slow, touch);
        again = s_next_work (other, 100);
    }
    cr_assert_not_null (again, "the expired tuple was not queued again");
    const msg_ref_t *refs = msg_refs (again, MSG_F_TUPLES, &count);
    cr_assert_eq (count, 1);
    cr_assert_eq (refs[0].id, 2, "only the untouched tuple expires");
    cr_assert_eq (refs[0].attempt, 2, "an expired lease counts the attempt");
    msg_destroy (&again);
    s_agent_send (other, MSG_DONE, "work", (msg_ref_t[]) { { 2, 2 } }, 1, NULL, 0);
    //  Tuple 1 stays with the slow agent as long as it touches.
    for (int i = 0; i < 8; i++) {
        msg_t *touch = msg_new (MSG_TOUCH);
        msg_set_str (touch, MSG_F_JOB, "work");
        msg_set_refs (touch, MSG_F_TUPLES, (msg_ref_t[]) { { 1, 1 } }, 1);
        msg_set_uint (touch, MSG_F_LEASE_MS, 1000);
        s_send (slow, touch);
        msg_t *none = s_next_work (other, 100);
        cr_assert_null (none, "a touched lease expired; log:\n%s", support_slurp (s_broker.log));
    }
    cr_assert (s_status_is (req, "work", (counts_t) { "open", 2, 0, 1, 1, 0 }));
    //  The slow agent's late DONE for tuple 2 is a duplicate: ignored.
    s_agent_send (slow, MSG_DONE, "work", (msg_ref_t[]) { { 1, 1 }, { 2, 1 } }, 2, NULL, 0);
    cr_assert (SUPPORT_WAIT (s_status_is (req, "work", (counts_t) { "open", 2, 0, 0, 2, 0 }),
                             5000));
    cr_assert (s_log_has ("leases expired"));
}

Test (broker, exhausted_attempts_become_dead_letters)
{
    s_start ("--heartbeat-ms", "100", NULL);
    zsock_t *req = s_socket (ZMQ_REQ, s_broker.frontend);
    msg_t *submit = s_submit_msg ("work", "echo", NULL, 1, 1, true);
    msg_set_uint (submit, MSG_F_MAX_ATTEMPTS, 2);
    s_send (req, submit);
    s_expect_accepted (req, 1, 1, NULL);
    //  Two agents in turn take the tuple and die silently (lost).
    for (int round = 0; round < 2; round++) {
        char name[16];
        snprintf (name, sizeof name, "doomed%d", round);
        zsock_t *doomed = s_agent (name, 1);
        msg_t *work = NULL;
        while (!work) {
            work = s_recv (doomed, 5000);
            cr_assert_not_null (work);
            if (msg_command (work) != MSG_WORK)
                msg_destroy (&work);
        }
        cr_assert_null (msg_str (work, MSG_F_DEAD_LETTER));
        msg_destroy (&work);
        char lost[64];
        snprintf (lost, sizeof lost, "agent %s lost", name);
        cr_assert (SUPPORT_WAIT (s_log_has (lost), 5000));
    }
    //  Attempts used up: the next agent gets it as a dead letter.
    zsock_t *agent = s_agent ("last", 5);
    msg_t *work = s_next_work (agent, 5000);
    cr_assert_not_null (work);
    const char *reason = msg_str (work, MSG_F_DEAD_LETTER);
    cr_assert (reason && strstr (reason, "attempts exhausted"), "dead_letter: %s",
               reason? reason: "(none)");
    size_t count;
    const msg_ref_t *refs = msg_refs (work, MSG_F_TUPLES, &count);
    cr_assert_eq (count, 1);
    cr_assert_eq (msg_payload_count (work), 1, "the dead letter carries its tuple");
    cr_assert_eq (refs[0].attempt, 2, "the last attempt that ran");
    msg_ref_t dead = refs[0];
    msg_destroy (&work);
    cr_assert (s_status_is (req, "work", (counts_t) { "closed", 1, 0, 1, 0, 0 }));
    s_agent_send (agent, MSG_DONE, "work", (msg_ref_t[]) { { 0, 0 } }, 0, &dead, 1);
    cr_assert (SUPPORT_WAIT (s_status_is (req, "work", (counts_t) { "complete", 1, 0, 0, 0, 1 }),
                             5000));
}

Test (broker, retried_submit_is_a_no_op)
{
    s_start ("--batch-memory", "2", NULL);
    zsock_t *req = s_socket (ZMQ_REQ, s_broker.frontend);
    s_send (req, s_submit_msg ("work", "echo", "b1", 1, 5, false));
    s_expect_accepted (req, 1, 5, "b1");
    s_send (req, s_submit_msg ("work", "echo", "b1", 1, 5, false));
    s_expect_accepted (req, 1, 5, "b1");
    cr_assert_eq (s_status_field (req, "work", MSG_F_SUBMITTED), 5);
    //  Over the intake too (no answer: the count tells).
    zsock_t *push = s_socket (ZMQ_PUSH, s_broker.intake);
    s_send (push, s_submit_msg ("work", NULL, "b2", 6, 3, false));
    s_send (push, s_submit_msg ("work", NULL, "b2", 6, 3, false));
    s_send (push, s_submit_msg ("work", NULL, "b1", 1, 5, false));
    cr_assert (SUPPORT_WAIT (s_status_field (req, "work", MSG_F_SUBMITTED) == 8, 5000));
    s_send (req, s_submit_msg ("work", NULL, "b2", 6, 3, false));
    s_expect_accepted (req, 6, 3, "b2");
    cr_assert_eq (s_status_field (req, "work", MSG_F_SUBMITTED), 8);
    //  Only the last --batch-memory batches are remembered: b1 is new again.
    s_send (req, s_submit_msg ("work", NULL, "b3", 9, 1, false));
    s_expect_accepted (req, 9, 1, "b3");
    s_send (req, s_submit_msg ("work", NULL, "b1", 1, 5, false));
    s_expect_accepted (req, 10, 5, "b1");
    cr_assert (SUPPORT_WAIT (s_log_has ("already accepted"), 2000));
    //  A batch id reused for other tuples is not a retry.
    s_send (req, s_submit_msg ("work", NULL, "b1", 100, 5, false));
    s_expect_accepted (req, 15, 5, "b1");
    //  A retry of the closing SUBMIT is answered after the job closed.
    s_send (req, s_submit_msg ("work", NULL, "last", 200, 2, true));
    s_expect_accepted (req, 20, 2, "last");
    s_send (req, s_submit_msg ("work", NULL, "last", 200, 2, true));
    s_expect_accepted (req, 20, 2, "last");
    s_send (req, s_submit_msg ("work", NULL, "other", 300, 2, true));
    s_refused (req, DRV_E_JOB_CLOSED);
    cr_assert_eq (s_status_field (req, "work", MSG_F_SUBMITTED), 21);
}

Test (broker, queue_full_per_job_and_broker_then_drained)
{
    s_start ("--max-job-queued", "5", "--max-queued", "8", "--max-job-queued-bytes", "1K",
             "--retry-ms", "250", NULL);
    zsock_t *req = s_socket (ZMQ_REQ, s_broker.frontend);
    s_fill (req, "a", 5);
    s_send (req, s_submit_msg ("a", NULL, "over", 6, 1, false));
    msg_t *reply = s_expect_error (req, DRV_E_QUEUE_FULL);
    cr_assert_eq (msg_uint (reply, MSG_F_RETRY_MS), 250);
    cr_assert_str_eq (msg_str (reply, MSG_F_BATCH), "over");
    cr_assert (strstr (msg_str (reply, MSG_F_REASON), "job a"));
    msg_destroy (&reply);
    s_fill (req, "b", 3);
    s_send (req, s_submit_msg ("b", NULL, NULL, 4, 1, false));
    s_refused (req, DRV_E_QUEUE_FULL);
    //  Bytes per job: a 2 KiB tuple is over 1K.
    msg_t *big = s_submit_msg ("c", "echo", NULL, 0, 0, false);
    zframe_t *frame = zframe_new (NULL, 2048);
    memset (zframe_data (frame), 0xc0, 2048);
    msg_payload_append (big, &frame);
    s_send (req, big);
    reply = s_expect_error (req, DRV_E_QUEUE_FULL);
    cr_assert (strstr (msg_str (reply, MSG_F_REASON), "bytes"));
    msg_destroy (&reply);
    //  An agent drains job a: its SUBMIT passes again.
    zsock_t *agent = s_agent ("a1", 5);
    got_t got[10];
    cr_assert_eq (s_collect (agent, 300, got, 10, NULL), 5);
    s_send (req, s_submit_msg ("a", NULL, "again", 6, 1, false));
    s_expect_accepted (req, 6, 1, "again");
}

Test (broker, retry_backs_off)
{
    s_start ("--retry-backoff-ms", "400", NULL);
    zsock_t *req = s_socket (ZMQ_REQ, s_broker.frontend);
    s_fill (req, "work", 1);
    zsock_t *agent = s_agent ("a1", 2);
    msg_t *work = s_next_work (agent, 5000);
    cr_assert_not_null (work);
    msg_destroy (&work);
    int64_t sent = support_now_ms ();
    s_agent_send (agent, MSG_RETRY, "work", (msg_ref_t[]) { { 1, 1 } }, 1, NULL, 0);
    work = s_next_work (agent, 5000);
    cr_assert_not_null (work);
    int64_t waited = support_now_ms () - sent;
    size_t count;
    const msg_ref_t *refs = msg_refs (work, MSG_F_TUPLES, &count);
    cr_assert_eq (refs[0].attempt, 2);
    cr_assert_geq (waited, 350, "attempt 2 came after %ld ms, before the back-off", (long) waited);
    msg_destroy (&work);
}

//  Anonymous (heap) memory of a process in KiB, from /proc: LMDB's mapped
//  file pages are not in it, the broker's own allocations are.
static long
s_rss_anon_kib (pid_t pid)
{
    char path[64], line[256];
    snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
    FILE *file = fopen (path, "r");
    cr_assert_not_null (file);
    long kib = -1;
    while (fgets (line, sizeof line, file))
        if (!strncmp (line, "RssAnon:", 8))
            kib = strtol (line + 8, NULL, 10);
    fclose (file);
    cr_assert_gt (kib, 0, "no RssAnon in %s", path);
    return kib;
}

//  Submit count tuples to job over a DEALER, batch per SUBMIT, up to 8
//  SUBMITs in flight.  Returns accepted tuples per second.
static double
s_pump (zsock_t *dealer, const char *job, size_t count, size_t batch)
{
    const size_t window = 8;
    size_t sent = 0, answered = 0, in_flight = 0;
    int64_t start = support_now_ms ();
    while (answered < count) {
        while (in_flight < window && sent < count) {
            size_t n = count - sent < batch? count - sent: batch;
            s_send (dealer, s_submit_msg (job, "echo", NULL, (uint32_t) sent, n, false));
            sent += n;
            in_flight++;
        }
        msg_t *reply = s_recv (dealer, 20000);
        cr_assert_not_null (reply, "no ACCEPTED");
        cr_assert_eq (msg_command (reply), MSG_ACCEPTED, "%s",
                      msg_str (reply, MSG_F_REASON)? msg_str (reply, MSG_F_REASON): "");
        answered += msg_uint (reply, MSG_F_COUNT);
        in_flight--;
        msg_destroy (&reply);
    }
    int64_t ms = support_now_ms () - start;
    return (double) count * 1000.0 / (double) (ms > 0? ms: 1);
}

//  The broker's memory at 10k queued tuples and at 1M: with LMDB the queue
//  is on disk and the ratio stays near 1; the memory store, for contrast,
//  grows with the queue.  Also prints accepted tuples/s into each store.
Test (broker, memory_does_not_grow_with_queue_depth, .timeout = 600)
{
#if defined (__SANITIZE_ADDRESS__)
    cr_skip_test ("AddressSanitizer keeps freed memory: RSS says nothing here");
#elif defined (__has_feature)
#   if __has_feature (address_sanitizer)
    cr_skip_test ("AddressSanitizer keeps freed memory: RSS says nothing here");
#   endif
#endif
    const char *stores[] = { "lmdb", "memory" };
    double ratio[2];
    for (int s = 0; s < 2; s++) {
        s_start ("--store", stores[s], "--max-queued", "2000000",
                 "--max-job-queued", "2000000", NULL);
        zsock_t *dealer = s_socket (ZMQ_DEALER, s_broker.frontend);
        //  Small SUBMITs, so that what is in flight (the same at 10k and
        //  1M) does not hide what grows with the queue.
        s_pump (dealer, "deep", 10000, 1000);
        long small = s_rss_anon_kib (s_broker.pid);
        s_pump (dealer, "deep", 990000, 1000);
        long large = s_rss_anon_kib (s_broker.pid);
        //  Throughput with full-size batches, on another job.
        double rate = s_pump (dealer, "fast", 500000, 10000);
        ratio[s] = (double) large / (double) small;
        fprintf (stderr, "store %s: broker RssAnon %ld KiB at 10k queued, %ld KiB at 1M "
                     "(ratio %.2f); %.0f tuples/s accepted\n",
                     stores[s], small, large, ratio[s], rate);
        zsock_t *req = s_socket (ZMQ_REQ, s_broker.frontend);
        cr_assert_eq (s_status_field (req, "deep", MSG_F_QUEUED), 1000000);
        s_fini ();
    }
    cr_assert_lt (ratio[0], 1.5, "with LMDB the broker's memory grew %.2f times", ratio[0]);
}
