//  test_auth.c -- tests of common/auth.c and common/curve.c over real TCP on
//  loopback: who gets in (listed keys), who does not (no keys, wrong server
//  key, unlisted key, another domain's key, no ZAP handler at all), that the
//  User-Id of a message is its sender's key, and revocation without restart.
#include "common/auth.h"
#include "common/curve.h"
#include "common/keys.h"
#include "support.h"
#include "support_auth.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WAIT_MS     5000        //  for what must happen
#define QUIET_MS    300         //  for what must not, once it had its chance

static char *s_dir;
static keys_t *s_server_keys;

static void
s_setup (void)
{
    support_auth_setup (&s_dir, &s_server_keys);
}

static void
s_teardown (void)
{
    support_auth_teardown (&s_dir, &s_server_keys);
}

TestSuite (auth, .init = s_setup, .fini = s_teardown);

//  A ROUTER bound to a fresh loopback port; a CURVE server in domain, or a
//  NULL-mechanism one with a ZAP domain when keys is NULL.
static zsock_t *
s_server (keys_t *keys, const char *domain, const char **endpoint_p)
{
    zsock_t *sock = zsock_new (ZMQ_ROUTER);
    cr_assert (sock);
    int rc = keys? curve_server (sock, keys, domain): curve_insecure_server (sock, domain);
    cr_assert_eq (rc, 0, "server options: %s", strerror (-rc));
    const char *endpoint = support_endpoint ();
    cr_assert_neq (zsock_bind (sock, "%s", endpoint), -1, "bind %s", endpoint);
    *endpoint_p = endpoint;
    return sock;
}

//  A DEALER connected to endpoint: a CURVE client if keys, else plain.
static zsock_t *
s_client (keys_t *keys, const uint8_t *server_public, const char *endpoint)
{
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    cr_assert (sock);
    zsock_set_linger (sock, 0);
    if (keys)
        cr_assert_eq (curve_client (sock, keys, server_public), 0);
    cr_assert_eq (zsock_connect (sock, "%s", endpoint), 0);
    return sock;
}

//  Handshake events of sock, started before anyone connects.
static zactor_t *
s_monitor (zsock_t *sock)
{
    zactor_t *monitor = zactor_new (zmonitor, sock);
    cr_assert (monitor);
    zstr_sendx (monitor, "LISTEN", "HANDSHAKE_SUCCEEDED", "HANDSHAKE_FAILED_NO_DETAIL",
                "HANDSHAKE_FAILED_PROTOCOL", "HANDSHAKE_FAILED_AUTH", NULL);
    zstr_sendx (monitor, "START", NULL);
    zsock_wait (monitor);
    return monitor;
}

//  True once the monitor reports an event whose name starts with prefix.
static bool
s_event (zactor_t *monitor, const char *prefix, int timeout_ms)
{
    int64_t deadline = support_now_ms () + timeout_ms;
    zpoller_t *poller = zpoller_new (monitor, NULL);
    bool seen = false;
    while (!seen && support_now_ms () < deadline) {
        if (!zpoller_wait (poller, (int) (deadline - support_now_ms ())))
            break;
        zmsg_t *event = zmsg_recv (monitor);
        char *name = event? zmsg_popstr (event): NULL;
        seen = name && !strncmp (name, prefix, strlen (prefix));
        zstr_free (&name);
        zmsg_destroy (&event);
    }
    zpoller_destroy (&poller);
    return seen;
}

//  The next message on sock within timeout_ms, or NULL.
static zmsg_t *
s_recv (zsock_t *sock, int timeout_ms)
{
    zpoller_t *poller = zpoller_new (sock, NULL);
    zmsg_t *msg = zpoller_wait (poller, timeout_ms)? zmsg_recv (sock): NULL;
    zpoller_destroy (&poller);
    return msg;
}

//  client sends "ping"; the server must get it within WAIT_MS from the
//  sender whose User-Id is key_z85 (NULL: do not check), and answer.
static void
s_exchange (zsock_t *server, zsock_t *client, const char *key_z85)
{
    cr_assert_eq (zstr_send (client, "ping"), 0);
    zmsg_t *msg = s_recv (server, WAIT_MS);
    cr_assert (msg, "the server got the message");
    cr_assert_eq (zmsg_size (msg), 2);
    zframe_t *routing_id = zmsg_pop (msg);
    zframe_t *body = zmsg_first (msg);
    cr_expect (zframe_streq (body, "ping"));
    //  The peer's frames carry it; the routing id frame a ROUTER makes up
    //  does not (so roles read it from the signature frame, not the envelope).
    if (key_z85) {
        const char *user_id = zframe_meta (body, "User-Id");
        cr_expect (user_id && streq (user_id, key_z85), "User-Id is %s, expected %s",
                   user_id? user_id: "(none)", key_z85);
        cr_expect_null (zframe_meta (routing_id, "User-Id"));
    }
    zmsg_destroy (&msg);
    zmsg_t *reply = zmsg_new ();
    zmsg_append (reply, &routing_id);
    zmsg_addstr (reply, "pong");
    cr_assert_eq (zmsg_send (&reply, server), 0);
    zmsg_t *answer = s_recv (client, WAIT_MS);
    cr_assert (answer, "the client got the answer");
    cr_expect (zframe_streq (zmsg_first (answer), "pong"));
    zmsg_destroy (&answer);
}

//  Nothing reaches the server from a connection the monitor saw refused.
static void
s_refused (zsock_t *server, zactor_t *monitor, zsock_t *client)
{
    cr_assert_eq (zstr_send (client, "ping"), 0);
    cr_assert (s_event (monitor, "HANDSHAKE_FAILED", WAIT_MS), "the handshake failed");
    zmsg_t *msg = s_recv (server, QUIET_MS);
    cr_expect_null (msg, "no message got through");
    zmsg_destroy (&msg);
}

Test (auth, listed_client_exchanges_and_user_id_is_its_key)
{
    const char *dir = support_auth_subdir (s_dir, "producers");
    keys_t *producer = support_auth_keys (dir, "producer-1");
    auth_t *auth = support_auth_new (AUTH_DOMAIN_PRODUCERS, dir);
    cr_expect_eq (support_auth_stats (auth, AUTH_DOMAIN_PRODUCERS).keys, 1);
    cr_expect (auth_allowed (auth, AUTH_DOMAIN_PRODUCERS, keys_public_txt (producer)));

    const char *endpoint;
    zsock_t *server = s_server (s_server_keys, AUTH_DOMAIN_PRODUCERS, &endpoint);
    zsock_t *client = s_client (producer, keys_public (s_server_keys), endpoint);
    s_exchange (server, client, keys_public_txt (producer));
    auth_stats_t stats = support_auth_stats (auth, AUTH_DOMAIN_PRODUCERS);
    cr_expect_eq (stats.allowed, 1);
    cr_expect_eq (stats.denied, 0);

    zsock_destroy (&client);
    zsock_destroy (&server);
    auth_destroy (&auth);
    cr_expect_null (auth);
    keys_destroy (&producer);
}

Test (auth, client_without_keys_gets_nothing_through)
{
    const char *dir = support_auth_subdir (s_dir, "producers");
    keys_t *listed = support_auth_keys (dir, "listed");
    auth_t *auth = support_auth_new (AUTH_DOMAIN_PRODUCERS, dir);
    const char *endpoint;
    zsock_t *server = s_server (s_server_keys, AUTH_DOMAIN_PRODUCERS, &endpoint);
    zactor_t *monitor = s_monitor (server);

    zsock_t *plain = s_client (NULL, NULL, endpoint);
    s_refused (server, monitor, plain);
    //  A mechanism mismatch fails before ZAP: nothing is allowed.
    cr_expect_eq (support_auth_stats (auth, AUTH_DOMAIN_PRODUCERS).allowed, 0);

    //  While a listed client gets in over the same socket.
    zsock_t *client = s_client (listed, keys_public (s_server_keys), endpoint);
    s_exchange (server, client, keys_public_txt (listed));

    zsock_destroy (&client);
    zsock_destroy (&plain);
    zactor_destroy (&monitor);
    zsock_destroy (&server);
    auth_destroy (&auth);
    keys_destroy (&listed);
}

Test (auth, client_with_a_wrong_server_key_gets_nothing_through)
{
    const char *dir = support_auth_subdir (s_dir, "producers");
    keys_t *listed = support_auth_keys (dir, "listed");
    keys_t *impostor = keys_new ();
    auth_t *auth = support_auth_new (AUTH_DOMAIN_PRODUCERS, dir);
    const char *endpoint;
    zsock_t *server = s_server (s_server_keys, AUTH_DOMAIN_PRODUCERS, &endpoint);
    zactor_t *monitor = s_monitor (server);

    zsock_t *client = s_client (listed, keys_public (impostor), endpoint);
    s_refused (server, monitor, client);
    cr_expect_eq (support_auth_stats (auth, AUTH_DOMAIN_PRODUCERS).allowed, 0);

    zsock_destroy (&client);
    zactor_destroy (&monitor);
    zsock_destroy (&server);
    auth_destroy (&auth);
    keys_destroy (&impostor);
    keys_destroy (&listed);
}

Test (auth, unlisted_key_is_denied_and_counted)
{
    const char *dir = support_auth_subdir (s_dir, "producers");
    keys_t *listed = support_auth_keys (dir, "listed");
    keys_t *stranger = support_auth_keys (NULL, NULL);
    auth_t *auth = support_auth_new (AUTH_DOMAIN_PRODUCERS, dir);
    const char *endpoint;
    zsock_t *server = s_server (s_server_keys, AUTH_DOMAIN_PRODUCERS, &endpoint);
    zactor_t *monitor = s_monitor (server);

    zsock_t *intruder = s_client (stranger, keys_public (s_server_keys), endpoint);
    s_refused (server, monitor, intruder);
    cr_expect (SUPPORT_WAIT (support_auth_stats (auth, AUTH_DOMAIN_PRODUCERS).denied >= 1, WAIT_MS));
    cr_expect_eq (support_auth_stats (auth, AUTH_DOMAIN_PRODUCERS).allowed, 0);
    cr_expect_not (auth_allowed (auth, AUTH_DOMAIN_PRODUCERS, keys_public_txt (stranger)));

    zsock_t *client = s_client (listed, keys_public (s_server_keys), endpoint);
    s_exchange (server, client, keys_public_txt (listed));
    cr_expect_eq (support_auth_stats (auth, AUTH_DOMAIN_PRODUCERS).allowed, 1);

    zsock_destroy (&client);
    zsock_destroy (&intruder);
    zactor_destroy (&monitor);
    zsock_destroy (&server);
    auth_destroy (&auth);
    keys_destroy (&stranger);
    keys_destroy (&listed);
}

Test (auth, each_domain_has_its_own_list)
{
    const char *producers_dir = support_auth_subdir (s_dir, "producers");
    const char *agents_dir = support_auth_subdir (s_dir, "agents");
    keys_t *producer = support_auth_keys (producers_dir, "producer");
    keys_t *agent = support_auth_keys (agents_dir, "agent");
    auth_t *auth = support_auth_new (AUTH_DOMAIN_PRODUCERS, producers_dir);
    char err[256] = "";
    cr_assert_eq (auth_allow_dir (auth, AUTH_DOMAIN_AGENTS, agents_dir, err, sizeof err), 0);
    cr_expect_eq (auth_allow_dir (auth, AUTH_DOMAIN_AGENTS, agents_dir, err, sizeof err),
                  -EEXIST);

    const char *frontend, *backend;
    zsock_t *front = s_server (s_server_keys, AUTH_DOMAIN_PRODUCERS, &frontend);
    zsock_t *back = s_server (s_server_keys, AUTH_DOMAIN_AGENTS, &backend);
    zactor_t *back_monitor = s_monitor (back);
    const uint8_t *server_public = keys_public (s_server_keys);

    //  The producer's key works on the producers' socket only.
    zsock_t *producer_front = s_client (producer, server_public, frontend);
    s_exchange (front, producer_front, keys_public_txt (producer));
    zsock_t *producer_back = s_client (producer, server_public, backend);
    s_refused (back, back_monitor, producer_back);
    cr_expect (SUPPORT_WAIT (support_auth_stats (auth, AUTH_DOMAIN_AGENTS).denied >= 1, WAIT_MS));
    cr_expect_eq (support_auth_stats (auth, AUTH_DOMAIN_PRODUCERS).denied, 0);
    cr_expect_not (auth_allowed (auth, AUTH_DOMAIN_AGENTS, keys_public_txt (producer)));

    //  The agent's on the agents' socket.
    zsock_t *agent_back = s_client (agent, server_public, backend);
    s_exchange (back, agent_back, keys_public_txt (agent));
    cr_expect_eq (support_auth_stats (auth, AUTH_DOMAIN_AGENTS).allowed, 1);
    cr_expect_not (auth_allowed (auth, AUTH_DOMAIN_PRODUCERS, keys_public_txt (agent)));
    cr_expect_not (auth_allowed (auth, "no-such-domain", keys_public_txt (agent)));

    zsock_destroy (&agent_back);
    zsock_destroy (&producer_back);
    zsock_destroy (&producer_front);
    zactor_destroy (&back_monitor);
    zsock_destroy (&back);
    zsock_destroy (&front);
    auth_destroy (&auth);
    keys_destroy (&agent);
    keys_destroy (&producer);
}

Test (auth, removing_a_file_revokes_the_key_without_restart)
{
    const char *dir = support_auth_subdir (s_dir, "producers");
    keys_t *producer = support_auth_keys (dir, "producer");
    auth_t *auth = support_auth_new (AUTH_DOMAIN_PRODUCERS, dir);
    const char *key = keys_public_txt (producer);
    const char *endpoint;
    zsock_t *server = s_server (s_server_keys, AUTH_DOMAIN_PRODUCERS, &endpoint);
    zactor_t *monitor = s_monitor (server);
    const uint8_t *server_public = keys_public (s_server_keys);
    zsock_t *before = s_client (producer, server_public, endpoint);
    s_exchange (server, before, key);
    uint64_t generation = auth_generation (auth);

    char path[600];
    snprintf (path, sizeof path, "%s/producer", dir);
    cr_assert_eq (unlink (path), 0);
    cr_assert (SUPPORT_WAIT (!auth_allowed (auth, AUTH_DOMAIN_PRODUCERS, key), WAIT_MS),
               "the allow-list was read again");
    auth_stats_t stats = support_auth_stats (auth, AUTH_DOMAIN_PRODUCERS);
    cr_expect_eq (stats.reloads, 1);
    cr_expect_eq (stats.keys, 0);
    cr_expect_gt (auth_generation (auth), generation);

    //  A new connection with the revoked key is refused ...
    zsock_t *after = s_client (producer, server_public, endpoint);
    s_refused (server, monitor, after);
    cr_expect (SUPPORT_WAIT (support_auth_stats (auth, AUTH_DOMAIN_PRODUCERS).denied >= 1, WAIT_MS));
    //  ... while the one made before still carries messages (libzmq does
    //  not cut it): roles check its User-Id against auth_allowed.
    s_exchange (server, before, key);

    //  A key added while running is let in, without a restart either.
    keys_t *newcomer = support_auth_keys (dir, "newcomer");
    cr_assert (SUPPORT_WAIT (auth_allowed (auth, AUTH_DOMAIN_PRODUCERS,
                                           keys_public_txt (newcomer)), WAIT_MS));
    zsock_t *third = s_client (newcomer, server_public, endpoint);
    s_exchange (server, third, keys_public_txt (newcomer));

    zsock_destroy (&third);
    zsock_destroy (&after);
    zsock_destroy (&before);
    zactor_destroy (&monitor);
    zsock_destroy (&server);
    auth_destroy (&auth);
    keys_destroy (&newcomer);
    keys_destroy (&producer);
}

Test (auth, a_vanished_directory_lets_no_one_in)
{
    const char *dir = support_auth_subdir (s_dir, "agents");
    keys_t *agent = support_auth_keys (dir, "agent");
    auth_t *auth = support_auth_new (AUTH_DOMAIN_AGENTS, dir);
    cr_expect (auth_allowed (auth, AUTH_DOMAIN_AGENTS, keys_public_txt (agent)));
    char path[600];
    snprintf (path, sizeof path, "%s/agent", dir);
    cr_assert_eq (unlink (path), 0);
    cr_assert_eq (rmdir (dir), 0);
    cr_expect (SUPPORT_WAIT (!auth_allowed (auth, AUTH_DOMAIN_AGENTS,
                                            keys_public_txt (agent)), WAIT_MS));
    //  Back with the key: read again.
    support_auth_subdir (s_dir, "agents");
    cr_assert_eq (zcert_save_public (keys_cert (agent), path), 0);
    cr_expect (SUPPORT_WAIT (auth_allowed (auth, AUTH_DOMAIN_AGENTS,
                                           keys_public_txt (agent)), WAIT_MS));
    auth_destroy (&auth);
    keys_destroy (&agent);
}

//  Write text to dir/name.
static void
s_write (const char *dir, const char *name, const char *text)
{
    char path[600];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    FILE *file = fopen (path, "w");
    cr_assert (file, "%s", path);
    fputs (text, file);
    fclose (file);
}

Test (auth, only_public_certificates_count)
{
    const char *dir = support_auth_subdir (s_dir, "producers");
    keys_t *good = support_auth_keys (dir, "good");
    //  A whole keypair saved in the list: its public file counts, its
    //  secret file is skipped (with a warning).
    keys_t *pair = keys_new ();
    char path[600];
    snprintf (path, sizeof path, "%s/pair", dir);
    char err[256] = "";
    cr_assert_eq (keys_save (pair, path, false, err, sizeof err), 0, "%s", err);
    //  A secret file alone is not a key on the list.
    keys_t *secret_only = keys_new ();
    snprintf (path, sizeof path, "%s/lonely_secret", dir);
    cr_assert_eq (zcert_save_secret (keys_cert (secret_only), path), 0);
    //  Not certificates, a dot file, a directory, a bad key.
    s_write (dir, "README", "these are the producers\n");
    s_write (dir, "bad", "curve\n    public-key = \"tooshort\"\n");
    keys_t *hidden = support_auth_keys (dir, ".hidden");
    support_auth_subdir (s_dir, "producers/sub");
    //  A certificate with 100 KB of padding: over the size we read.
    keys_t *huge = support_auth_keys (dir, "huge");
    snprintf (path, sizeof path, "%s/huge", dir);
    FILE *file = fopen (path, "a");
    cr_assert (file);
    for (int i = 0; i < 100 * 1024; i++)
        fputc ('#', file);
    fclose (file);
    //  An unreadable certificate (root reads anything: then it counts).
    keys_t *locked = support_auth_keys (dir, "locked");
    snprintf (path, sizeof path, "%s/locked", dir);
    cr_assert_eq (chmod (path, 0), 0);
    bool root = geteuid () == 0;

    auth_t *auth = support_auth_new (AUTH_DOMAIN_PRODUCERS, dir);
    cr_expect_eq (support_auth_stats (auth, AUTH_DOMAIN_PRODUCERS).keys, root? 3: 2);
    cr_expect_not (auth_allowed (auth, AUTH_DOMAIN_PRODUCERS, keys_public_txt (huge)));
    cr_expect_eq (auth_allowed (auth, AUTH_DOMAIN_PRODUCERS, keys_public_txt (locked)), root);
    cr_expect (auth_allowed (auth, AUTH_DOMAIN_PRODUCERS, keys_public_txt (good)));
    cr_expect (auth_allowed (auth, AUTH_DOMAIN_PRODUCERS, keys_public_txt (pair)));
    cr_expect_not (auth_allowed (auth, AUTH_DOMAIN_PRODUCERS, keys_public_txt (secret_only)));
    cr_expect_not (auth_allowed (auth, AUTH_DOMAIN_PRODUCERS, keys_public_txt (hidden)));
    cr_expect_not (auth_allowed (auth, AUTH_DOMAIN_PRODUCERS, NULL));
    cr_expect_not (auth_allowed (auth, AUTH_DOMAIN_PRODUCERS, ""));

    auth_destroy (&auth);
    keys_destroy (&locked);
    keys_destroy (&huge);
    keys_destroy (&hidden);
    keys_destroy (&secret_only);
    keys_destroy (&pair);
    keys_destroy (&good);
}

Test (auth, no_handler_means_no_one_gets_in)
{
    //  A CURVE server without an auth_t in the process: libzmq would let
    //  every CURVE client in; ZAP_ENFORCE_DOMAIN makes it refuse them.
    keys_t *client_keys = keys_new ();
    const char *endpoint;
    zsock_t *server = s_server (s_server_keys, AUTH_DOMAIN_PRODUCERS, &endpoint);
    zactor_t *monitor = s_monitor (server);
    zsock_t *client = s_client (client_keys, keys_public (s_server_keys), endpoint);
    s_refused (server, monitor, client);
    zsock_destroy (&client);
    zactor_destroy (&monitor);
    zsock_destroy (&server);
    keys_destroy (&client_keys);
}

Test (auth, allow_any_lets_everyone_in_and_counts_them)
{
    auth_t *auth = auth_new ();
    cr_assert (auth);
    cr_assert_eq (auth_allow_any (auth, AUTH_DOMAIN_PRODUCERS), 0);
    cr_expect (support_auth_stats (auth, AUTH_DOMAIN_PRODUCERS).any);
    cr_expect (auth_allowed (auth, AUTH_DOMAIN_PRODUCERS, "anything"));

    //  --insecure: no encryption, but ZAP still sees (and logs) the client.
    const char *plain_endpoint;
    zsock_t *plain_server = s_server (NULL, AUTH_DOMAIN_PRODUCERS, &plain_endpoint);
    zsock_t *plain = s_client (NULL, NULL, plain_endpoint);
    s_exchange (plain_server, plain, NULL);
    cr_expect_eq (support_auth_stats (auth, AUTH_DOMAIN_PRODUCERS).allowed, 1);

    //  CURVE with any key: in, and its User-Id is still its key.
    keys_t *anyone = keys_new ();
    const char *endpoint;
    zsock_t *server = s_server (s_server_keys, AUTH_DOMAIN_PRODUCERS, &endpoint);
    zsock_t *client = s_client (anyone, keys_public (s_server_keys), endpoint);
    s_exchange (server, client, keys_public_txt (anyone));
    cr_expect_eq (support_auth_stats (auth, AUTH_DOMAIN_PRODUCERS).allowed, 2);
    cr_expect_eq (support_auth_stats (auth, AUTH_DOMAIN_PRODUCERS).denied, 0);

    zsock_destroy (&client);
    zsock_destroy (&server);
    zsock_destroy (&plain);
    zsock_destroy (&plain_server);
    auth_destroy (&auth);
    keys_destroy (&anyone);
}

Test (auth, plain_client_is_refused_in_a_listed_domain)
{
    //  A server left without CURVE by mistake in a domain with a list:
    //  the NULL mechanism is refused there, not waved through.
    const char *dir = support_auth_subdir (s_dir, "agents");
    keys_t *agent = support_auth_keys (dir, "agent");
    auth_t *auth = support_auth_new (AUTH_DOMAIN_AGENTS, dir);
    const char *endpoint;
    zsock_t *server = s_server (NULL, AUTH_DOMAIN_AGENTS, &endpoint);
    zactor_t *monitor = s_monitor (server);
    zsock_t *plain = s_client (NULL, NULL, endpoint);
    s_refused (server, monitor, plain);
    cr_expect (SUPPORT_WAIT (support_auth_stats (auth, AUTH_DOMAIN_AGENTS).denied >= 1, WAIT_MS));
    zsock_destroy (&plain);
    zactor_destroy (&monitor);
    zsock_destroy (&server);
    auth_destroy (&auth);
    keys_destroy (&agent);
}
