//  auth.h -- who may connect: a daemon's ZAP handler (ZeroMQ RFC 27).  Each
//  server socket names a domain (curve.h), "producers" or "agents"; each
//  domain has an allow-list, a directory of CZMQ certificates read again
//  when it changes, so removing a file revokes that key for new connections.
//  One per process: libzmq asks inproc://zeromq.zap.01 in the socket's
//  context, and CZMQ has one context (zauth binds the same endpoint).
#ifndef DROVER_AUTH_H
#define DROVER_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  The domains drover's server sockets use (ZMQ_ZAP_DOMAIN).
#define AUTH_DOMAIN_PRODUCERS "producers"   //  broker frontend and intake
#define AUTH_DOMAIN_AGENTS    "agents"      //  broker backend; a sink
#define AUTH_DOMAIN_MAX       8             //  domains in one auth_t
#define AUTH_CHECK_MS         1000          //  allow-list directories checked
#define AUTH_LOG_PER_SEC      10            //  connection lines logged a second

typedef struct auth auth_t;

//  A domain's counters since it was added.
typedef struct {
    uint64_t allowed;       //  connections let in (ZAP status 200)
    uint64_t denied;        //  connections refused (ZAP status 400)
    uint64_t reloads;       //  the directory was read again after a change
    size_t   keys;          //  public keys on the list now
    bool     any;           //  allow-any mode: no list, everyone in
} auth_stats_t;

//  Start the handler thread and bind the ZAP endpoint.  NULL if another
//  handler (auth_t or zauth) already serves this process, or out of memory.
//  Until domains are added, every connection is refused.
auth_t  *auth_new (void);
//  Stop the handler.  Sockets that use it should be closed first: with
//  no handler, curve_server sockets let no one in (ZAP_ENFORCE_DOMAIN).
void     auth_destroy (auth_t **self_p);

//  Let CURVE clients into domain whose public key is in a certificate file
//  in dir: every regular file except NAME_secret files (a secret has no
//  business in an allow-list: warned and skipped), dot files and files that
//  are not certificates (warned and skipped).  Symbolic links are followed,
//  so a Kubernetes Secret or ConfigMap volume works.  Read now; then checked
//  every AUTH_CHECK_MS and read again when anything in it changed.  If the
//  directory disappears or cannot be read, the list is empty (fail closed).
//  Returns 0, -EEXIST (domain already added), -ENOSPC (AUTH_DOMAIN_MAX),
//  -EINVAL (bad name), or -errno of opening dir, with a line in err.
int      auth_allow_dir (auth_t *self, const char *domain, const char *dir,
                         char *err, size_t errlen);
//  Let anyone into domain: CURVE clients with any key (User-Id is still
//  their key) and NULL-mechanism clients (--insecure).  Each connection is
//  still logged with its address, rate-limited.  0, -EEXIST, -ENOSPC, -EINVAL.
int      auth_allow_any (auth_t *self, const char *domain);

//  Configure domain from a daemon's flag (named by flag in errors, e.g.
//  "--allow-producers"): spec is a directory (auth_allow_dir), or "any"
//  (auth_allow_any: encrypted, but any client key gets in).  Secure by
//  default: spec NULL is an error that says how to fix it, unless insecure
//  (--insecure), which then allows any.  A daemon without a keypair (NULL
//  mechanism) has no client keys to check: it passes spec NULL and refuses
//  a directory itself.  0 or a negative errno, with a line in err.
int      auth_allow (auth_t *self, const char *domain, const char *spec,
                     bool insecure, const char *flag, char *err, size_t errlen);

//  Is key (40 Z85 characters: a message's "User-Id" property, see
//  zframe_meta) on domain's list now?  Always true in an allow-any domain;
//  false for an unknown domain.  Thread-safe; a mutex and a hash lookup, so
//  a role may check every message and refuse those of a revoked key on a
//  connection made before the revocation (libzmq never cuts it).
bool     auth_allowed (auth_t *self, const char *domain, const char *key_z85);
//  A number that grows each time any list changes, for roles that cache
//  auth_allowed per peer and check again only when it moved.  Thread-safe.
uint64_t auth_generation (auth_t *self);
//  The domain's counters.  0, or -ENOENT for an unknown domain.
int      auth_stats (auth_t *self, const char *domain, auth_stats_t *stats);

#endif
