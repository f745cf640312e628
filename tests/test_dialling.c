//  test_dialling.c -- black-box tests of how a real `drover agent` dials
//  its broker and its sinks (agent/monitor.h, agent/uplink.h,
//  agent/sinklink.h): a broker not up yet, or that closes every connection
//  during the handshake, is dialled with a back-off, and said so once in a
//  while, not per try; a key the broker or a sink refuses is said plainly
//  and dialled again, so listing it later lets the agent in; a sink that
//  restarts after taking RESULTs it never stored gets them again at once,
//  not at the result timeout.  Real brokers and sinks, or the test playing
//  one on a real socket.
#include <criterion/criterion.h>

#include <czmq.h>
#include "common/keys.h"
#include "proto/wire.h"
#include "support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define WAIT_MS 15000

static struct {
    char *dir;
    char frontend[64], intake[64], backend[64], sink[64];
} s_site;

static void
s_setup (void)
{
    s_site.dir = support_tmpdir ();
    cr_assert (s_site.dir);
    support_started_dir (s_site.dir);
    snprintf (s_site.frontend, sizeof s_site.frontend, "%s", support_endpoint ());
    snprintf (s_site.intake, sizeof s_site.intake, "%s", support_endpoint ());
    snprintf (s_site.backend, sizeof s_site.backend, "%s", support_endpoint ());
    snprintf (s_site.sink, sizeof s_site.sink, "%s", support_endpoint ());
}

TestSuite (dialling, .init = s_setup, .fini = support_kill_started, .timeout = 120);

//  dir/name, in a static ring of buffers.
static const char *
s_path (const char *name)
{
    static char ring[8][400];
    static int next;
    char *path = ring[next++ % 8];
    snprintf (path, sizeof ring[0], "%s/%s", s_site.dir, name);
    return path;
}

//  Start `drover ROLE ARGS...` (NULL-ended), logging to dir/NAME.log.
static pid_t
s_start (const char *name, ...)
{
    char *argv[40];
    int argc = 0;
    va_list ap;
    va_start (ap, name);
    for (char *arg = va_arg (ap, char *); arg && argc < 39; arg = va_arg (ap, char *))
        argv[argc++] = arg;
    va_end (ap);
    argv[argc] = NULL;
    char log[64];
    snprintf (log, sizeof log, "%s.log", name);
    pid_t pid = support_spawnv (s_path (log), argv);
    cr_assert_gt (pid, 0);
    support_started (pid);
    return pid;
}

static size_t
s_count (const char *name, const char *text)
{
    char log[64];
    snprintf (log, sizeof log, "%s.log", name);
    return support_count_text (s_path (log), text);
}

static pid_t
s_broker (void)
{
    pid_t pid = s_start ("broker", "broker", "--store", "memory", "--frontend", s_site.frontend,
                         "--intake", s_site.intake, "--backend", s_site.backend, NULL);
    cr_assert (SUPPORT_WAIT (s_count ("broker", "broker ready"), WAIT_MS), "no broker");
    return pid;
}

//  A keypair saved as dir/name (and name_secret).
static keys_t *
s_keys (const char *name)
{
    keys_t *keys = keys_new ();
    char err[256];
    cr_assert_eq (keys_save (keys, s_path (name), false, err, sizeof err), 0, "%s", err);
    return keys;
}

//  `drover submit` of n echo tuples to job, for the sink endpoint (with
//  sink_cert: sealed for it); waits for it to exit 0.
static void
s_submit (const char *job, int n, const char *sink_cert)
{
    FILE *file = fopen (s_path ("tuples.jsonl"), "w");
    cr_assert (file);
    for (int i = 0; i < n; i++)
        fprintf (file, "[\"%s\", %d]\n", job, i);
    fclose (file);
    char *argv[] = { "submit", "--broker", s_site.frontend, "--job", (char *) job, "--handler",
                     "echo", "--sink", s_site.sink, "--quiet", (char *) s_path ("tuples.jsonl"),
                     sink_cert? "--sink-key": NULL, (char *) sink_cert, NULL };
    pid_t pid = support_spawnv (s_path ("submit.log"), argv);
    cr_assert_gt (pid, 0);
    int status = -1;
    cr_assert (SUPPORT_WAIT (support_exited (pid, &status), WAIT_MS), "submit hangs");
    cr_assert_eq (status, 0, "submit failed: %s", support_slurp (s_path ("submit.log")));
}

//  ---------------------------------------------------------------------
//  The broker

//  A TCP listener on a free loopback port that accepts and closes each
//  connection at once (a peer that fails every handshake), timing them.
typedef struct {
    int fd;
    char endpoint[64];
    int64_t at[64];
    size_t count;
} closer_t;

static void
s_closer_open (closer_t *self)
{
    memset (self, 0, sizeof *self);
    self->fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET };
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    cr_assert (self->fd >= 0 && bind (self->fd, (struct sockaddr *) &addr, sizeof addr) == 0
               && listen (self->fd, 16) == 0
               && getsockname (self->fd, (struct sockaddr *) &addr, &len) == 0);
    snprintf (self->endpoint, sizeof self->endpoint, "tcp://127.0.0.1:%d", ntohs (addr.sin_port));
}

//  Accept and close what came; true once count connections came.
static bool
s_closer_count (closer_t *self, size_t count)
{
    zmq_pollitem_t item = { NULL, self->fd, ZMQ_POLLIN, 0 };
    while (self->count < 64 && zmq_poll (&item, 1, 10) == 1) {
        int fd = accept (self->fd, NULL, NULL);
        if (fd >= 0)
            close (fd);
        self->at[self->count++] = support_now_ms ();
    }
    return self->count >= count;
}

Test (dialling, a_broker_that_fails_every_handshake_is_dialled_with_back_off)
{
    closer_t closer;
    s_closer_open (&closer);
    s_start ("agent", "agent", "--broker", closer.endpoint, "--name", "a", "--processes", "0",
             "--threads", "1", NULL);
    //  libzmq alone redials such a peer every 100-200 ms for ever.
    cr_assert (SUPPORT_WAIT (s_closer_count (&closer, 7), 30000), "only %zu connections",
               closer.count);
    int64_t first = closer.at[1] - closer.at[0], last = closer.at[6] - closer.at[5];
    cr_expect_geq (last, 1500, "the 7th try came %lld ms after the 6th (the 2nd %lld ms "
                   "after the 1st): no back-off", (long long) last, (long long) first);
    cr_expect_geq (closer.at[6] - closer.at[0], 5000);
    //  Said once in a while, with the likely cause; not per try.
    cr_assert (SUPPORT_WAIT (s_count ("agent", "not reachable for"), WAIT_MS));
    cr_expect (s_count ("agent", "wrong --broker-key?"));
    cr_expect_leq (s_count ("agent", " WARN "), 3, "%s", support_slurp (s_path ("agent.log")));
    close (closer.fd);
}

Test (dialling, a_broker_not_up_yet_is_joined_once_it_is)
{
    s_start ("agent", "agent", "--broker", s_site.backend, "--name", "a", "--processes", "0",
             "--threads", "1", NULL);
    cr_assert (SUPPORT_WAIT (s_count ("agent", "not reachable for 5 s"), WAIT_MS));
    cr_expect (s_count ("agent", "connection refused"));
    int64_t start = support_now_ms ();
    s_broker ();
    cr_assert (SUPPORT_WAIT (s_count ("broker", "agent a joined"), WAIT_MS));
    //  libzmq's back-off reaches 5 s: a try within that, and 100 ms of jitter.
    cr_expect_leq (support_now_ms () - start, 7000);
    //  The broker may say so before the agent does.
    cr_expect (SUPPORT_WAIT (s_count ("agent", "agent a connected to broker"), WAIT_MS));
    cr_expect_leq (s_count ("agent", " WARN "), 3, "%s", support_slurp (s_path ("agent.log")));
}

Test (dialling, a_refused_key_is_said_and_listing_it_lets_the_agent_in)
{
    keys_t *broker = s_keys ("broker"), *agent = s_keys ("agent");
    keys_destroy (&broker);
    cr_assert_eq (mkdir (s_path ("agents"), 0700), 0);
    s_start ("broker", "broker", "--store", "memory", "--frontend", s_site.frontend,
             "--intake", s_site.intake, "--backend", s_site.backend, "--cert", s_path ("broker"),
             "--allow-producers", "any", "--allow-agents", s_path ("agents"), NULL);
    cr_assert (SUPPORT_WAIT (s_count ("broker", "broker ready"), WAIT_MS));
    s_start ("agent", "agent", "--broker", s_site.backend, "--name", "a", "--processes", "0",
             "--threads", "1", "--cert", s_path ("agent"), "--broker-key", s_path ("broker"),
             NULL);
    char said[200];
    snprintf (said, sizeof said, "refused our key %s", keys_public_txt (agent));
    cr_assert (SUPPORT_WAIT (s_count ("agent", said), WAIT_MS), "the agent does not say so");
    //  Listed: let in at a later try (the broker reads its list every second).
    char listed[400];
    snprintf (listed, sizeof listed, "%s/agent", s_path ("agents"));
    cr_assert_eq (zcert_save_public (keys_cert (agent), listed), 0);
    cr_assert (SUPPORT_WAIT (s_count ("broker", "agent a joined"), WAIT_MS),
               "the agent did not try again");
    cr_expect_eq (s_count ("agent", said), 1, "said per try");
    keys_destroy (&agent);
}

//  ---------------------------------------------------------------------
//  Sinks

//  The next RESULT at a sink the test plays (other commands skipped), or
//  NULL if none came within timeout_ms.
static msg_t *
s_result (zsock_t *sink, int timeout_ms)
{
    int64_t deadline = support_now_ms () + timeout_ms;
    zpoller_t *poller = zpoller_new (sink, NULL);
    msg_t *msg = NULL;
    while (!msg && support_now_ms () < deadline
           && zpoller_wait (poller, (int) (deadline - support_now_ms ()))) {
        zmsg_t *envelope = NULL;
        if (wire_recv (sink, &envelope, &msg) == 0 && msg_command (msg) != MSG_RESULT)
            msg_destroy (&msg);
        zmsg_destroy (&envelope);
    }
    zpoller_destroy (&poller);
    return msg;
}

static zsock_t *
s_sink_socket (void)
{
    zsock_t *sink = zsock_new (ZMQ_ROUTER);
    cr_assert (sink);
    zsock_set_linger (sink, 0);
    //  A socket just destroyed on this port may still hold it: libzmq
    //  closes the listener in its I/O thread, after zsock_destroy returns.
    cr_assert (SUPPORT_WAIT (zsock_bind (sink, "%s", s_site.sink) != -1, 5000),
               "cannot bind %s", s_site.sink);
    return sink;
}

Test (dialling, a_restarted_sink_gets_what_it_did_not_store_at_once)
{
    s_broker ();
    zsock_t *sink = s_sink_socket ();
    s_start ("agent", "agent", "--broker", s_site.backend, "--name", "a", "--processes", "0",
             "--threads", "1", "--slots", "2", "--result-timeout-ms", "60000", NULL);
    s_submit ("j", 2, NULL);
    msg_t *result = s_result (sink, WAIT_MS);
    cr_assert (result, "no RESULT");
    msg_destroy (&result);
    //  The sink dies before it stored them, and comes back.
    zsock_destroy (&sink);
    int64_t back = support_now_ms ();
    sink = s_sink_socket ();
    result = s_result (sink, 10000);
    cr_assert (result, "no RESULT again within 10 s (the result timeout is 60 s)");
    cr_expect_leq (support_now_ms () - back, 3000);
    msg_destroy (&result);
    cr_expect (SUPPORT_WAIT (s_count ("agent", "sending 2 results again to sink"), WAIT_MS));
    zsock_destroy (&sink);
}

Test (dialling, a_sink_that_refuses_our_key_says_so_and_so_does_the_agent)
{
    keys_t *sink = s_keys ("sink"), *agent = s_keys ("agent");
    keys_destroy (&sink);
    cr_assert_eq (mkdir (s_path ("agents"), 0700), 0);
    s_broker ();
    s_start ("sink", "sink", "--bind", s_site.sink, "--output", s_path ("results.jsonl"),
             "--store", "memory", "--cert", s_path ("sink"), "--allow-agents", s_path ("agents"),
             NULL);
    cr_assert (SUPPORT_WAIT (s_count ("sink", "sink ready"), WAIT_MS));
    s_start ("agent", "agent", "--broker", s_site.backend, "--name", "a", "--processes", "0",
             "--threads", "1", "--cert", s_path ("agent"), NULL);
    s_submit ("j", 2, s_path ("sink"));
    char said[200];
    snprintf (said, sizeof said, "sink %s refused our key %s", s_site.sink,
              keys_public_txt (agent));
    cr_assert (SUPPORT_WAIT (s_count ("agent", said), WAIT_MS), "the agent does not say so");
    snprintf (said, sizeof said, "refused CURVE client %s", keys_public_txt (agent));
    cr_expect (SUPPORT_WAIT (s_count ("sink", said), WAIT_MS), "the sink does not say so");
    //  Listed: the agent gets in at a later try, and the results are stored.
    char listed[400];
    snprintf (listed, sizeof listed, "%s/agent", s_path ("agents"));
    cr_assert_eq (zcert_save_public (keys_cert (agent), listed), 0);
    cr_assert (SUPPORT_WAIT (support_count_lines (s_path ("results.jsonl")) == 2, WAIT_MS),
               "the results were not stored once the key was listed");
    cr_expect_eq (s_count ("agent", "refused our key"), 1, "said per try");
    cr_expect_eq (s_count ("agent", "Resource temporarily unavailable"), 0);
    keys_destroy (&agent);
}
