//  curve.h -- make a socket speak CURVE (ZeroMQ RFC 26) with a role's keys:
//  a server whose clients the ZAP handler (auth.h) checks in a domain, or a
//  client of a server whose public key it knows.  Call before bind or
//  connect: libzmq reads these options when the connection starts.
#ifndef DROVER_CURVE_H
#define DROVER_CURVE_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/keys.h"

//  A CURVE server with our keypair (keys must hold the secret key) whose
//  clients are checked in domain.  ZMQ_ZAP_ENFORCE_DOMAIN is set, so with
//  no ZAP handler in the process no one gets in (libzmq's default would be
//  to let every CURVE client in).  0, -EINVAL (no secret key, no domain),
//  -ENOTSUP (libzmq without CURVE) or -errno of zmq_setsockopt.
int curve_server (zsock_t *sock, keys_t *keys, const char *domain);

//  A CURVE client with our keypair (secret key needed), talking to the
//  server whose public key is server_public.  Returns as curve_server.
int curve_client (zsock_t *sock, keys_t *keys,
                  const uint8_t server_public[KEYS_KEY_SIZE]);

//  --insecure: no encryption (NULL mechanism), but connections still go
//  through ZAP in domain when a handler exists, so they are logged with
//  their address (auth_allow_any).  0 or -errno.
int curve_insecure_server (zsock_t *sock, const char *domain);

//  A daemon's own keypair, secure by default: from cert (its --cert flag:
//  a certificate path) if given, else from the environment (DROVER_CERT,
//  or DROVER_SECRET_KEY; see keys.h).  It must hold the secret key.
//  Without keys it is an error naming the ways to give them, unless
//  insecure (--insecure): then *keys_p may be NULL.  Keys that were given
//  are returned even when insecure, and the caller uses them: --insecure
//  relaxes what is missing, it never turns off what was configured (so a
//  DROVER_INSECURE=1 inherited from the environment cannot silently drop
//  CURVE on a daemon that has its keys).
//  0 with *keys_p set (NULL if insecure and none given), or -EINVAL with a
//  line in err.
int curve_own_keys (const char *cert, bool insecure,
                    keys_t **keys_p, char *err, size_t errlen);

#endif
