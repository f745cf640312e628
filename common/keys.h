//  keys.h -- a role's long-term keypair: CURVE certificates in CZMQ's zcert
//  format on disk (NAME public, NAME_secret with both keys, mode 0600), or
//  Z85 text from the environment for containers.  The same X25519 keypair
//  serves CURVE (zcert_apply on a socket) and libsodium's crypto_kx, which
//  the seal of results uses (common/seal.h): both are X25519 keys.
#ifndef DROVER_KEYS_H
#define DROVER_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEYS_KEY_SIZE   32          //  raw X25519 key, public or secret
#define KEYS_Z85_SIZE   40          //  the same key as Z85 text
#define KEYS_PATH_MAX   230         //  zcert_load appends "_secret" in 256 bytes

//  Environment variables keys_from_env reads: a certificate path, or the
//  keys as Z85 text (the public key may be left out: it follows from the
//  secret one; if given, it must match).
#define KEYS_ENV_CERT   "DROVER_CERT"
#define KEYS_ENV_SECRET "DROVER_SECRET_KEY"
#define KEYS_ENV_PUBLIC "DROVER_PUBLIC_KEY"

typedef struct keys keys_t;
typedef struct _zcert_t zcert_t;    //  as czmq.h declares it

//  Functions that can fail on input take err/errlen and write one line
//  there saying what was wrong and where ("DROVER_SECRET_KEY: expected 40
//  Z85 characters, got 39"); secret key text never appears in it.

//  A fresh keypair, or NULL (libzmq without CURVE, or out of memory).
keys_t *keys_new (void);
//  A keypair from Z85 text; public_z85 may be NULL.  Surrounding white
//  space is ignored (secrets read from files often end in a newline).
keys_t *keys_from_z85 (const char *secret_z85, const char *public_z85,
                       char *err, size_t errlen);
//  Load a certificate: path names the public file (NAME) and its secret
//  file NAME_secret is read instead when it exists, as zcert_load does.
//  Both keys are checked: Z85, length, and that the public key belongs to
//  the secret one.  A public-only certificate loads without a secret.
//  A secret file that others may read is loaded, with a warning logged.
keys_t *keys_load (const char *path, char *err, size_t errlen);
//  The keypair from DROVER_CERT, or DROVER_SECRET_KEY (and optionally
//  DROVER_PUBLIC_KEY); setting both ways is an error.  Returns 0 with
//  *keys_p set, 0 with *keys_p NULL when none is set, or -EINVAL.
int     keys_from_env (keys_t **keys_p, char *err, size_t errlen);
void    keys_destroy (keys_t **self_p);

//  Write path (public, mode 0644) and path_secret (mode 0600, checked
//  after writing and chmod'ed if needed).  Refuses with -EEXIST when
//  either file exists, unless force.  Files are written under temporary
//  names, read back and checked, then linked (or, with force, renamed)
//  into place, so a failure never leaves a half-written certificate.
//  Returns 0 or -errno.  Needs the secret key (-EINVAL without).
int     keys_save (keys_t *self, const char *path, bool force,
                   char *err, size_t errlen);

//  Raw 32-byte keys for libsodium (crypto_kx_* take exactly these).
const uint8_t *keys_public (const keys_t *self);
//  NULL for a public-only certificate.
const uint8_t *keys_secret (const keys_t *self);
bool           keys_has_secret (const keys_t *self);
//  The public key as 40 Z85 characters (what allow-lists and logs show).
const char    *keys_public_txt (const keys_t *self);
//  The certificate, still owned by self: zcert_apply (keys_cert (k), sock)
//  makes a socket use it for CURVE; zcert_set_meta adds metadata to save.
zcert_t       *keys_cert (keys_t *self);

//  Decode 40 Z85 characters (surrounding white space ignored) into key.
//  what names the value in errors ("DROVER_SINK_KEY").  0 or -EINVAL.
int keys_z85_decode (const char *text, uint8_t key[KEYS_KEY_SIZE],
                     const char *what, char *err, size_t errlen);
//  A peer's public key from a flag: the path of a certificate file if one
//  exists by that name, else 40 Z85 characters.  0 or -EINVAL.
int keys_peer_public (const char *spec, uint8_t key[KEYS_KEY_SIZE],
                      char *err, size_t errlen);

#endif
