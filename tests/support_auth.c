//  support_auth.c -- allow-list directories, keypairs and ZAP handlers for
//  test_auth.c and test_auth_config.c (support_auth.h).
#include "support_auth.h"
#include "support.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

void
support_auth_setup (char **dir_p, keys_t **server_keys_p)
{
    *dir_p = support_tmpdir ();
    cr_assert (*dir_p);
    *server_keys_p = keys_new ();
    cr_assert (*server_keys_p, "libzmq has CURVE");
    unsetenv (KEYS_ENV_CERT);
    unsetenv (KEYS_ENV_SECRET);
    unsetenv (KEYS_ENV_PUBLIC);
}

void
support_auth_teardown (char **dir_p, keys_t **server_keys_p)
{
    keys_destroy (server_keys_p);
    support_rmdir (dir_p);
}

const char *
support_auth_subdir (const char *base, const char *name)
{
    static char ring[8][512];
    static int next = 0;
    char *buf = ring[next++ % 8];
    snprintf (buf, 512, "%s/%s", base, name);
    mkdir (buf, 0755);
    return buf;
}

keys_t *
support_auth_keys (const char *dir, const char *name)
{
    keys_t *keys = keys_new ();
    cr_assert (keys);
    if (dir) {
        char path[600];
        snprintf (path, sizeof path, "%s/%s", dir, name);
        cr_assert_eq (zcert_save_public (keys_cert (keys), path), 0);
    }
    return keys;
}

auth_t *
support_auth_new (const char *domain, const char *dir)
{
    auth_t *auth = auth_new ();
    cr_assert (auth);
    char err[256] = "";
    cr_assert_eq (auth_allow_dir (auth, domain, dir, err, sizeof err), 0, "%s", err);
    return auth;
}

auth_stats_t
support_auth_stats (auth_t *auth, const char *domain)
{
    auth_stats_t stats;
    cr_assert_eq (auth_stats (auth, domain, &stats), 0, "domain %s exists", domain);
    return stats;
}
