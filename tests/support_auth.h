//  support_auth.h -- what the tests of common/auth.c share: keypairs whose
//  public certificates sit in an allow-list directory, a ZAP handler with
//  one listed domain, and a domain's counters.
#ifndef DROVER_TEST_SUPPORT_AUTH_H
#define DROVER_TEST_SUPPORT_AUTH_H

#include "common/auth.h"
#include "common/keys.h"

//  A test's fixture: a fresh directory and a server keypair, no keys in
//  the environment (KEYS_ENV_*); and its end.
void         support_auth_setup (char **dir_p, keys_t **server_keys_p);
void         support_auth_teardown (char **dir_p, keys_t **server_keys_p);
//  base/name (a static ring of eight buffers); the directory exists.
const char  *support_auth_subdir (const char *base, const char *name);
//  A new keypair whose public certificate is dir/name (dir NULL: nowhere).
keys_t      *support_auth_keys (const char *dir, const char *name);
//  A ZAP handler letting into domain the keys listed in dir.
auth_t      *support_auth_new (const char *domain, const char *dir);
//  domain's counters; the domain must exist.
auth_stats_t support_auth_stats (auth_t *auth, const char *domain);

#endif
