//  test_security.c -- black-box tests of CURVE and ZAP on the broker: a real
//  `drover broker --cert ... --allow-producers DIR --allow-agents DIR` with
//  keys made here in a scratch directory (never committed), producers and
//  agents played by `drover submit` and by CURVE DEALERs speaking the
//  protocol, allowed and not, at the same time.
#include <criterion/criterion.h>

#include <czmq.h>
#include "common/keys.h"
#include "common/curve.h"
#include "proto/msg.h"
#include "proto/wire.h"
#include "support.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

//  The keys of one test, each saved as DIR/keys/NAME (+ NAME_secret).
enum { K_BROKER, K_PRODUCER, K_REVOKED, K_STRANGER, K_AGENT, K_ROGUE, K_COUNT };
static const char *s_names[K_COUNT] = {
    "broker", "producer", "revoked", "stranger", "agent", "rogue"
};

static struct {
    char *dir;
    char log[512];
    char frontend[64], intake[64], backend[64];
    keys_t *keys[K_COUNT];
    char path[K_COUNT][512];            //  the public certificate
    pid_t pid;
} s_site;

static zsock_t *s_sockets[16];          //  destroyed by .fini
static size_t s_socket_count;

static void
s_fini (void)
{
    for (size_t i = 0; i < s_socket_count; i++)
        zsock_destroy (&s_sockets[i]);
    s_socket_count = 0;
    if (s_site.pid > 0)
        support_stop (s_site.pid, SIGTERM, 10000);
    s_site.pid = 0;
    for (int i = 0; i < K_COUNT; i++)
        keys_destroy (&s_site.keys[i]);
    support_rmdir (&s_site.dir);
}

//  A DEALER to endpoint; a CURVE client with keys of the server whose
//  public key is server, or plain if keys is NULL.
static zsock_t *
s_dealer (const char *endpoint, keys_t *keys, const uint8_t *server)
{
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    cr_assert_not_null (sock);
    zsock_set_linger (sock, 0);
    if (keys)
        cr_assert_eq (curve_client (sock, keys, server), 0);
    cr_assert_eq (zsock_connect (sock, "%s", endpoint), 0);
    cr_assert_lt (s_socket_count, 16);
    s_sockets[s_socket_count++] = sock;
    return sock;
}

static zsock_t *
s_client (const char *endpoint, int key)
{
    return s_dealer (endpoint, s_site.keys[key], keys_public (s_site.keys[K_BROKER]));
}

//  One message, or NULL if none came within timeout_ms.
static msg_t *
s_recv (zsock_t *sock, int timeout_ms)
{
    zmq_pollitem_t item = { zsock_resolve (sock), 0, ZMQ_POLLIN, 0 };
    if (zmq_poll (&item, 1, timeout_ms) != 1)
        return NULL;
    msg_t *msg = NULL;
    cr_assert_eq (wire_recv (sock, NULL, &msg), 0);
    return msg;
}

static void
s_send (zsock_t *sock, msg_t *msg)
{
    cr_assert_not_null (msg);
    cr_assert_eq (wire_send (&msg, sock, NULL), 0);
}

//  SUBMIT one tuple to job (created with a handler if new) in batch.
static void
s_submit (zsock_t *sock, const char *job, const char *batch)
{
    msg_t *msg = msg_new (MSG_SUBMIT);
    msg_set_str (msg, MSG_F_JOB, job);
    msg_set_str (msg, MSG_F_HANDLER, "echo");
    msg_set_str (msg, MSG_F_SINK, "tcp://127.0.0.1:1");
    msg_set_str (msg, MSG_F_BATCH, batch);
    zframe_t *tuple = zframe_new ("\x01", 1);
    msg_payload_append (msg, &tuple);
    s_send (sock, msg);
}

//  The command of the answer to a SUBMIT (or -1 for none within timeout_ms),
//  and the ERROR code in *code_p.
static int
s_answer (zsock_t *sock, int timeout_ms, uint64_t *code_p)
{
    msg_t *msg = s_recv (sock, timeout_ms);
    if (!msg)
        return -1;
    int command = (int) msg_command (msg);
    if (code_p)
        *code_p = command == MSG_ERROR? msg_uint (msg, MSG_F_CODE): 0;
    msg_destroy (&msg);
    return command;
}

//  The job's submitted count as the broker tells an allowed producer, or
//  -1 if it knows no such job.
static int64_t
s_submitted (zsock_t *sock, const char *job)
{
    msg_t *msg = msg_new (MSG_STATUS);
    msg_set_str (msg, MSG_F_JOB, job);
    s_send (sock, msg);
    msg_t *reply = s_recv (sock, 5000);
    cr_assert_not_null (reply, "no answer to STATUS from an allowed producer");
    int64_t submitted = msg_command (reply) == MSG_JOB
                      ? (int64_t) msg_uint (reply, MSG_F_SUBMITTED): -1;
    if (msg_command (reply) == MSG_ERROR)
        cr_assert_eq (msg_uint (reply, MSG_F_CODE), DRV_E_UNKNOWN_JOB);
    msg_destroy (&reply);
    return submitted;
}

static bool
s_log_has (const char *text)
{
    char *log = support_slurp (s_site.log);
    bool has = log && strstr (log, text);
    free (log);
    return has;
}

//  Keys in DIR/keys; allowed: producer, revoked (in DIR/producers) and
//  agent (in DIR/agents).  Then the broker, up when an allowed producer
//  gets an answer.
static void
s_start (void)
{
    s_site.dir = support_tmpdir ();
    cr_assert_not_null (s_site.dir);
    char path[512], err[256];
    const char *subdirs[] = { "keys", "producers", "agents" };
    for (int i = 0; i < 3; i++) {
        snprintf (path, sizeof path, "%s/%s", s_site.dir, subdirs[i]);
        cr_assert_eq (mkdir (path, 0700), 0);
    }
    for (int i = 0; i < K_COUNT; i++) {
        s_site.keys[i] = keys_new ();
        cr_assert_not_null (s_site.keys[i]);
        snprintf (s_site.path[i], sizeof s_site.path[i], "%s/keys/%s", s_site.dir, s_names[i]);
        cr_assert_eq (keys_save (s_site.keys[i], s_site.path[i], false, err, sizeof err), 0,
                      "%s", err);
    }
    int allowed[] = { K_PRODUCER, K_REVOKED, K_AGENT };
    for (int i = 0; i < 3; i++) {
        snprintf (path, sizeof path, "%s/%s/%s", s_site.dir,
                  allowed[i] == K_AGENT? "agents": "producers", s_names[allowed[i]]);
        cr_assert_eq (zcert_save_public (keys_cert (s_site.keys[allowed[i]]), path), 0);
    }
    snprintf (s_site.log, sizeof s_site.log, "%s/broker.log", s_site.dir);
    snprintf (s_site.frontend, sizeof s_site.frontend, "%s", support_endpoint ());
    snprintf (s_site.intake, sizeof s_site.intake, "%s", support_endpoint ());
    snprintf (s_site.backend, sizeof s_site.backend, "%s", support_endpoint ());
    char producers[512], agents[512];
    snprintf (producers, sizeof producers, "%s/producers", s_site.dir);
    snprintf (agents, sizeof agents, "%s/agents", s_site.dir);
    s_site.pid = support_spawn (s_site.log, "broker", "--store", "memory",
        "--frontend", s_site.frontend, "--intake", s_site.intake,
        "--backend", s_site.backend, "--heartbeat-ms", "200", "--log-level", "debug",
        "--cert", s_site.path[K_BROKER], "--allow-producers", producers,
        "--allow-agents", agents, NULL);
    cr_assert_gt (s_site.pid, 0);
    zsock_t *probe = s_client (s_site.frontend, K_PRODUCER);
    bool up = SUPPORT_WAIT (s_submitted (probe, "probe") == -1, 20000);
    cr_assert (up, "the broker did not answer; log:\n%s", support_slurp (s_site.log));
}

//  Run `drover submit` of one tuple to job with extra flags (NULL-ended)
//  and return its exit status.
static int
s_drover_submit (const char *job, ...)
{
    char input[512], log[512];
    snprintf (input, sizeof input, "%s/tuples.jsonl", s_site.dir);
    snprintf (log, sizeof log, "%s/submit-%s.log", s_site.dir, job);
    FILE *file = fopen (input, "w");
    cr_assert_not_null (file);
    fputs ("{\"n\": 1}\n", file);
    fclose (file);
    char *argv[32] = {
        "submit", "--broker", s_site.frontend, "--job", (char *) job, "--handler", "echo",
        "--reply-timeout", "1", "--quiet"
    };
    size_t argc = 10;
    va_list ap;
    va_start (ap, job);
    for (const char *arg = va_arg (ap, const char *); arg && argc < 30;
         arg = va_arg (ap, const char *))
        argv[argc++] = (char *) arg;
    va_end (ap);
    argv[argc++] = input;
    argv[argc] = NULL;
    pid_t pid = support_spawnv (log, argv);
    cr_assert_gt (pid, 0);
    int status = 0;
    bool exited = SUPPORT_WAIT (support_exited (pid, &status), 20000);
    if (!exited)
        support_stop (pid, SIGKILL, 1000);
    cr_assert (exited, "drover submit did not finish");
    return WIFEXITED (status)? WEXITSTATUS (status): -1;
}

TestSuite (security, .fini = s_fini, .timeout = 120);

Test (security, producers_without_an_allowed_key_queue_nothing)
{
    s_start ();
    zsock_t *good = s_client (s_site.frontend, K_PRODUCER);
    //  drover submit: no key, a wrong broker key, a key not on the list.
    char broker_key[KEYS_Z85_SIZE + 1];
    snprintf (broker_key, sizeof broker_key, "%s", keys_public_txt (s_site.keys[K_BROKER]));
    cr_expect_eq (s_drover_submit ("no-key", NULL), 1);
    cr_expect_eq (s_drover_submit ("wrong-server", "--cert", s_site.path[K_PRODUCER],
                                   "--broker-key", s_site.path[K_STRANGER], NULL), 1);
    cr_expect_eq (s_drover_submit ("stranger", "--cert", s_site.path[K_STRANGER],
                                   "--broker-key", broker_key, NULL), 1);
    //  ... while an allowed one works, with its key from the environment
    //  as in a container: drover submit ... --cert and a Z85 broker key.
    cr_expect_eq (s_drover_submit ("allowed", "--cert", s_site.path[K_PRODUCER],
                                   "--broker-key", broker_key, NULL), 0);
    //  The same by hand over the protocol: an unlisted key gets nothing.
    zsock_t *stranger = s_client (s_site.frontend, K_STRANGER);
    s_submit (stranger, "stranger-dealer", "s-1");
    zsock_t *plain = s_dealer (s_site.frontend, NULL, NULL);
    s_submit (plain, "plain-dealer", "p-1");
    s_submit (good, "good-dealer", "g-1");
    cr_expect_eq (s_answer (good, 5000, NULL), MSG_ACCEPTED);
    //  Asserting an absence: nothing comes within a while.
    cr_expect_eq (s_answer (stranger, 500, NULL), -1);
    cr_expect_eq (s_answer (plain, 100, NULL), -1);

    cr_expect_eq (s_submitted (good, "allowed"), 1);
    cr_expect_eq (s_submitted (good, "good-dealer"), 1);
    const char *refused[] = { "no-key", "wrong-server", "stranger", "stranger-dealer",
                              "plain-dealer" };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        cr_expect_eq (s_submitted (good, refused[i]), -1, "job %s was created", refused[i]);
    char line[128];
    snprintf (line, sizeof line, "refused CURVE client %s",
              keys_public_txt (s_site.keys[K_STRANGER]));
    cr_expect (SUPPORT_WAIT (s_log_has (line), 5000), "no refusal logged:\n%s",
               support_slurp (s_site.log));
    cr_expect (!s_log_has ("job stranger created"));
}

Test (security, the_intake_takes_only_allowed_keys)
{
    s_start ();
    zsock_t *good = s_client (s_site.frontend, K_PRODUCER);
    const uint8_t *server = keys_public (s_site.keys[K_BROKER]);
    int keys[] = { K_STRANGER, K_PRODUCER };
    const char *jobs[] = { "intake-stranger", "intake-allowed" };
    for (int i = 0; i < 2; i++) {
        zsock_t *push = zsock_new (ZMQ_PUSH);
        cr_assert_not_null (push);
        zsock_set_linger (push, 0);
        zsock_set_sndtimeo (push, 0);
        cr_assert_eq (curve_client (push, s_site.keys[keys[i]], server), 0);
        cr_assert_eq (zsock_connect (push, "%s", s_site.intake), 0);
        s_sockets[s_socket_count++] = push;
        //  PUSH holds the message until the handshake is done (if ever).
        msg_t *msg = msg_new (MSG_SUBMIT);
        msg_set_str (msg, MSG_F_JOB, jobs[i]);
        msg_set_str (msg, MSG_F_HANDLER, "echo");
        msg_set_str (msg, MSG_F_SINK, "tcp://127.0.0.1:1");
        zframe_t *tuple = zframe_new ("\x01", 1);
        msg_payload_append (msg, &tuple);
        wire_send (&msg, push, NULL);
    }
    cr_expect (SUPPORT_WAIT (s_submitted (good, "intake-allowed") == 1, 5000));
    cr_expect_eq (s_submitted (good, "intake-stranger"), -1);
}

Test (security, agents_not_on_the_list_get_no_work)
{
    s_start ();
    zsock_t *good = s_client (s_site.frontend, K_PRODUCER);
    s_submit (good, "work", "w-1");
    cr_assert_eq (s_answer (good, 5000, NULL), MSG_ACCEPTED);

    zsock_t *agents[2] = {
        s_client (s_site.backend, K_ROGUE), s_client (s_site.backend, K_AGENT)
    };
    for (int i = 0; i < 2; i++) {
        msg_t *hello = msg_new (MSG_HELLO);
        msg_set_str (hello, MSG_F_AGENT, i? "listed": "rogue");
        msg_set_uint (hello, MSG_F_SLOTS, 4);
        s_send (agents[i], hello);
        msg_t *credit = msg_new (MSG_CREDIT);
        msg_set_uint (credit, MSG_F_CREDIT, 4);
        s_send (agents[i], credit);
    }
    //  The listed agent gets WELCOME, then the WORK.
    bool work = false;
    int64_t deadline = support_now_ms () + 10000;
    while (!work && support_now_ms () < deadline) {
        msg_t *msg = s_recv (agents[1], 100);
        work = msg && msg_command (msg) == MSG_WORK;
        if (work)
            cr_expect_str_eq (msg_str (msg, MSG_F_JOB), "work");
        msg_destroy (&msg);
    }
    cr_expect (work, "the listed agent got no WORK");
    //  The rogue never completed the handshake: nothing at all.
    cr_expect_null (s_recv (agents[0], 300));
    cr_expect (!s_log_has ("agent rogue joined"));
    char line[128];
    snprintf (line, sizeof line, "refused CURVE client %s",
              keys_public_txt (s_site.keys[K_ROGUE]));
    cr_expect (SUPPORT_WAIT (s_log_has (line), 5000));
}

Test (security, revoking_a_key_needs_no_restart)
{
    s_start ();
    zsock_t *good = s_client (s_site.frontend, K_PRODUCER);
    zsock_t *revoked = s_client (s_site.frontend, K_REVOKED);
    s_submit (revoked, "before", "r-1");
    cr_assert_eq (s_answer (revoked, 5000, NULL), MSG_ACCEPTED);

    char path[600];
    snprintf (path, sizeof path, "%s/producers/%s", s_site.dir, s_names[K_REVOKED]);
    cr_assert_eq (unlink (path), 0);
    //  The connection made before stays open: its messages are refused.
    int batch = 2;
    uint64_t code = 0;
    bool denied = SUPPORT_WAIT (({
        char name[32];
        snprintf (name, sizeof name, "r-%d", batch++);
        s_submit (revoked, "after", name);
        s_answer (revoked, 2000, &code) == MSG_ERROR && code == DRV_E_DENIED; }), 10000);
    cr_expect (denied, "the revoked key was not refused on its open connection");
    int64_t after = s_submitted (good, "after");
    //  A new connection with the revoked key gets nothing.
    zsock_t *again = s_client (s_site.frontend, K_REVOKED);
    s_submit (again, "new-connection", "n-1");
    cr_expect_eq (s_answer (again, 500, NULL), -1);
    cr_expect_eq (s_submitted (good, "new-connection"), -1);
    //  Nothing more was queued from it once refused, and others still work.
    s_submit (revoked, "after", "r-last");
    cr_expect_eq (s_answer (revoked, 5000, &code), MSG_ERROR);
    cr_expect_eq (code, DRV_E_DENIED);
    cr_expect_eq (s_submitted (good, "after"), after);
    s_submit (good, "still-good", "g-1");
    cr_expect_eq (s_answer (good, 5000, NULL), MSG_ACCEPTED);
    cr_expect (SUPPORT_WAIT (s_log_has ("DENIED"), 5000));
}

Test (security, a_revoked_agent_gets_no_more_work)
{
    s_start ();
    zsock_t *agent = s_client (s_site.backend, K_AGENT);
    msg_t *hello = msg_new (MSG_HELLO);
    msg_set_str (hello, MSG_F_AGENT, "doomed");
    msg_set_uint (hello, MSG_F_SLOTS, 4);
    s_send (agent, hello);
    msg_t *welcome = s_recv (agent, 5000);
    cr_assert_not_null (welcome);
    cr_assert_eq (msg_command (welcome), MSG_WELCOME);
    msg_destroy (&welcome);

    char path[600];
    snprintf (path, sizeof path, "%s/agents/%s", s_site.dir, s_names[K_AGENT]);
    cr_assert_eq (unlink (path), 0);
    //  The broker's sweep or its next message: ERROR DENIED, then no WORK.
    uint64_t code = 0;
    bool denied = SUPPORT_WAIT (({
        msg_t *heartbeat = msg_new (MSG_HEARTBEAT);
        s_send (agent, heartbeat);
        int command = s_answer (agent, 100, &code);
        command == MSG_ERROR && code == DRV_E_DENIED; }), 10000);
    cr_expect (denied, "the revoked agent was not refused");
    zsock_t *good = s_client (s_site.frontend, K_PRODUCER);
    s_submit (good, "late", "l-1");
    cr_assert_eq (s_answer (good, 5000, NULL), MSG_ACCEPTED);
    msg_t *credit = msg_new (MSG_CREDIT);
    msg_set_uint (credit, MSG_F_CREDIT, 4);
    s_send (agent, credit);
    //  Asserting an absence: no WORK within a while.
    int64_t until = support_now_ms () + 500;
    while (support_now_ms () < until) {
        msg_t *msg = s_recv (agent, 50);
        if (msg)
            cr_expect_neq (msg_command (msg), MSG_WORK);
        msg_destroy (&msg);
    }
    cr_expect (s_log_has ("agent doomed dropped"));
}

//  The exit status of pid, which should end by itself within 10 s (else -1).
static int
s_exit_status (pid_t pid)
{
    int status = -1;
    if (pid <= 0 || !SUPPORT_WAIT (support_exited (pid, &status), 10000)) {
        support_stop (pid, SIGKILL, 1000);
        return -1;
    }
    return WIFEXITED (status)? WEXITSTATUS (status): -1;
}

//  Secure by default: each role without keys (and without DROVER_INSECURE,
//  which the other tests inherit) refuses to start with a usage error that
//  says how to give keys, or how to run without them.
Test (security, no_keys_no_start_without_insecure)
{
    s_site.dir = support_tmpdir ();
    cr_assert_not_null (s_site.dir);
    char endpoint[64];
    snprintf (endpoint, sizeof endpoint, "%s", support_endpoint ());
    char *roles[][10] = {
        { "broker", "--frontend", endpoint, "--store", "memory", NULL },
        { "sink", "--bind", endpoint, "--store", "memory", NULL },
        { "agent", "--broker", endpoint, "--processes", "0", NULL },
        { "submit", "--broker", endpoint, "--job", "j", "--handler", "echo",
          "/dev/null", NULL },
        { "status", "--broker", endpoint, "j", NULL },
    };
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        snprintf (s_site.log, sizeof s_site.log, "%s/%s.log", s_site.dir, roles[i][0]);
        cr_expect_eq (s_exit_status (support_spawnv_secure (s_site.log, roles[i])), 2,
                      "%s without keys exits 2", roles[i][0]);
        char *log = support_slurp (s_site.log);
        cr_assert_not_null (log);
        cr_expect (strstr (log, "--cert") && strstr (log, "DROVER_SECRET_KEY")
                   && strstr (log, "--insecure"), "%s names the ways out: %s",
                   roles[i][0], log);
        free (log);
    }
    //  A keypair without the broker's key is not enough either.
    keys_t *keys = keys_new ();
    cr_assert_not_null (keys);
    char path[600];
    snprintf (path, sizeof path, "%s/agent", s_site.dir);
    cr_assert_eq (keys_save (keys, path, false, NULL, 0), 0);
    keys_destroy (&keys);
    snprintf (s_site.log, sizeof s_site.log, "%s/agent-cert.log", s_site.dir);
    char *agent[] = { "agent", "--broker", endpoint, "--processes", "0", "--cert", path, NULL };
    cr_expect_eq (s_exit_status (support_spawnv_secure (s_site.log, agent)), 2);
    char *log = support_slurp (s_site.log);
    cr_expect (log && strstr (log, "--broker-key"), "names --broker-key: %s", log);
    free (log);
}

//  --insecure runs plain, with one warning line that says so.
Test (security, insecure_runs_plain_and_warns)
{
    s_site.dir = support_tmpdir ();
    cr_assert_not_null (s_site.dir);
    snprintf (s_site.log, sizeof s_site.log, "%s/broker.log", s_site.dir);
    snprintf (s_site.frontend, sizeof s_site.frontend, "%s", support_endpoint ());
    snprintf (s_site.intake, sizeof s_site.intake, "%s", support_endpoint ());
    snprintf (s_site.backend, sizeof s_site.backend, "%s", support_endpoint ());
    char *argv[] = { "broker", "--insecure", "--store", "memory",
                     "--frontend", s_site.frontend, "--intake", s_site.intake,
                     "--backend", s_site.backend, NULL };
    s_site.pid = support_spawnv_secure (s_site.log, argv);
    cr_assert (SUPPORT_WAIT (s_log_has ("broker ready"), 10000));
    char *log = support_slurp (s_site.log);
    cr_expect (log && strstr (log, "WARN") && strstr (log, "unauthenticated and unencrypted"),
               "the warning: %s", log);
    free (log);
    //  Plain producers get in.
    zsock_t *sock = s_dealer (s_site.frontend, NULL, NULL);
    s_submit (sock, "plain", "b1");
    cr_expect_eq (s_answer (sock, 10000, NULL), MSG_ACCEPTED);
}
