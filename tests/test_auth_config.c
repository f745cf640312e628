//  test_auth_config.c -- how common/auth.c and common/curve.c refuse a bad
//  configuration: wrong arguments as error values, lists required unless
//  --insecure or "any", own keys required, secrets never echoed in errors.
#include "common/auth.h"
#include "common/curve.h"
#include "common/keys.h"
#include "support.h"
#include "support_auth.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

TestSuite (auth_config, .init = s_setup, .fini = s_teardown);

Test (auth_config, bad_configuration_is_an_error_value)
{
    auth_t *auth = auth_new ();
    cr_assert (auth);
    char err[256] = "";
    char missing[600];
    snprintf (missing, sizeof missing, "%s/missing", s_dir);
    cr_expect_eq (auth_allow_dir (auth, AUTH_DOMAIN_AGENTS, missing, err, sizeof err),
                  -ENOENT);
    cr_expect (strstr (err, missing), "the error names the directory: %s", err);
    cr_expect_eq (auth_allow_dir (auth, "", s_dir, err, sizeof err), -EINVAL);
    cr_expect_eq (auth_allow_any (auth, NULL), -EINVAL);
    auth_stats_t stats;
    cr_expect_eq (auth_stats (auth, AUTH_DOMAIN_AGENTS, &stats), -ENOENT);
    for (int i = 0; i < AUTH_DOMAIN_MAX; i++) {
        char name[16];
        snprintf (name, sizeof name, "d%d", i);
        cr_assert_eq (auth_allow_any (auth, name), 0);
    }
    cr_expect_eq (auth_allow_any (auth, "one-too-many"), -ENOSPC);
    cr_expect_eq (auth_allow_any (auth, "d0"), -EEXIST);

    //  One ZAP handler per process.
    auth_t *second = auth_new ();
    cr_expect_null (second);
    auth_destroy (&auth);

    //  The server needs a secret key; so does a client.
    keys_t *public_only = NULL;
    char path[600];
    snprintf (path, sizeof path, "%s/public", s_dir);
    cr_assert_eq (zcert_save_public (keys_cert (s_server_keys), path), 0);
    public_only = keys_load (path, err, sizeof err);
    cr_assert (public_only, "%s", err);
    zsock_t *sock = zsock_new (ZMQ_ROUTER);
    cr_expect_eq (curve_server (sock, public_only, AUTH_DOMAIN_AGENTS), -EINVAL);
    cr_expect_eq (curve_server (sock, NULL, AUTH_DOMAIN_AGENTS), -EINVAL);
    cr_expect_eq (curve_server (sock, s_server_keys, NULL), -EINVAL);
    cr_expect_eq (curve_client (sock, public_only, keys_public (s_server_keys)), -EINVAL);
    cr_expect_eq (curve_client (sock, s_server_keys, NULL), -EINVAL);
    zsock_destroy (&sock);
    keys_destroy (&public_only);
}

Test (auth_config, flags_are_secure_by_default)
{
    auth_t *auth = auth_new ();
    cr_assert (auth);
    char err[256] = "";
    //  No list and not --insecure: an error that says what to give.
    cr_expect_eq (auth_allow (auth, AUTH_DOMAIN_PRODUCERS, NULL, false,
                              "--allow-producers", err, sizeof err), -EINVAL);
    cr_expect (strstr (err, "--allow-producers DIR is required"), "%s", err);
    cr_expect_eq (auth_stats (auth, AUTH_DOMAIN_PRODUCERS, &(auth_stats_t) { 0 }), -ENOENT);
    //  A directory, "any", and --insecure; a list given wins over it.
    const char *dir = support_auth_subdir (s_dir, "agents");
    keys_t *agent = support_auth_keys (dir, "agent");
    cr_expect_eq (auth_allow (auth, AUTH_DOMAIN_AGENTS, dir, false, "--allow-agents",
                              err, sizeof err), 0, "%s", err);
    cr_expect (auth_allowed (auth, AUTH_DOMAIN_AGENTS, keys_public_txt (agent)));
    cr_expect_not (support_auth_stats (auth, AUTH_DOMAIN_AGENTS).any);
    cr_expect_eq (auth_allow (auth, AUTH_DOMAIN_PRODUCERS, "any", false,
                              "--allow-producers", err, sizeof err), 0, "%s", err);
    cr_expect (support_auth_stats (auth, AUTH_DOMAIN_PRODUCERS).any);
    cr_expect_eq (auth_allow (auth, "sink", NULL, true, "--allow-agents", err, sizeof err), 0);
    cr_expect (support_auth_stats (auth, "sink").any);
    cr_expect_eq (auth_allow (auth, "listed", dir, true, "--allow-agents", err, sizeof err), 0);
    cr_expect_not (support_auth_stats (auth, "listed").any);
    cr_expect_eq (support_auth_stats (auth, "listed").keys, 1);
    //  A missing directory names itself.
    char missing[600];
    snprintf (missing, sizeof missing, "%s/missing", s_dir);
    cr_expect_eq (auth_allow (auth, "other", missing, false, "--allow-agents",
                              err, sizeof err), -ENOENT);
    cr_expect (strstr (err, missing), "%s", err);
    auth_destroy (&auth);
    keys_destroy (&agent);
}

Test (auth_config, own_keys_are_required_unless_insecure)
{
    char err[512] = "";
    keys_t *keys = NULL;
    cr_expect_eq (curve_own_keys (NULL, false, &keys, err, sizeof err), -EINVAL);
    cr_expect_null (keys);
    cr_expect (strstr (err, "--cert") && strstr (err, "--insecure")
            && strstr (err, KEYS_ENV_SECRET), "says how to fix it: %s", err);
    cr_expect_eq (curve_own_keys (NULL, true, &keys, err, sizeof err), 0);
    cr_expect_null (keys);

    //  From a certificate path: the secret is needed.
    char path[600];
    snprintf (path, sizeof path, "%s/broker", s_dir);
    cr_assert_eq (keys_save (s_server_keys, path, false, err, sizeof err), 0, "%s", err);
    cr_assert_eq (curve_own_keys (path, false, &keys, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq (keys_public_txt (keys), keys_public_txt (s_server_keys));
    keys_destroy (&keys);
    snprintf (path, sizeof path, "%s/public-only", s_dir);
    cr_assert_eq (zcert_save_public (keys_cert (s_server_keys), path), 0);
    cr_expect_eq (curve_own_keys (path, false, &keys, err, sizeof err), -EINVAL);
    cr_expect (strstr (err, "no secret key"), "%s", err);

    //  From the environment, as containers give them; kept with --insecure.
    char secret[KEYS_Z85_SIZE + 1];
    zmq_z85_encode (secret, keys_secret (s_server_keys), KEYS_KEY_SIZE);
    setenv (KEYS_ENV_SECRET, secret, 1);
    cr_assert_eq (curve_own_keys (NULL, false, &keys, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq (keys_public_txt (keys), keys_public_txt (s_server_keys));
    keys_destroy (&keys);
    cr_assert_eq (curve_own_keys (NULL, true, &keys, err, sizeof err), 0, "%s", err);
    cr_expect (keys);
    keys_destroy (&keys);
    setenv (KEYS_ENV_SECRET, "not a key", 1);
    cr_expect_eq (curve_own_keys (NULL, false, &keys, err, sizeof err), -EINVAL);
    cr_expect (strstr (err, KEYS_ENV_SECRET), "%s", err);
    cr_expect_null (strstr (err, "not a key"), "no secret text in errors: %s", err);
    unsetenv (KEYS_ENV_SECRET);
    sodium_memzero (secret, sizeof secret);
}
