//  curve.c -- see curve.h.  zmq_setsockopt directly rather than zsock_set_*,
//  which assert on failure: a bad option here is an error to report.
#include "common/curve.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int
s_set (zsock_t *sock, int option, const void *value, size_t size)
{
    return zmq_setsockopt (zsock_resolve (sock), option, value, size) == 0
         ? 0: -zmq_errno ();
}

static int
s_set_int (zsock_t *sock, int option, int value)
{
    return s_set (sock, option, &value, sizeof value);
}

//  Our keypair on the socket; the secret key is needed either way.
static int
s_keypair (zsock_t *sock, keys_t *keys)
{
    if (!zsys_has_curve ())
        return -ENOTSUP;
    if (!keys || !keys_has_secret (keys))
        return -EINVAL;
    int rc = s_set (sock, ZMQ_CURVE_SECRETKEY, keys_secret (keys), KEYS_KEY_SIZE);
    if (rc == 0)
        rc = s_set (sock, ZMQ_CURVE_PUBLICKEY, keys_public (keys), KEYS_KEY_SIZE);
    return rc;
}

#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#   define ZMQ_ZAP_ENFORCE_DOMAIN 93    //  libzmq >= 4.3 has it, as a draft name
#endif

int
curve_server (zsock_t *sock, keys_t *keys, const char *domain)
{
    assert (sock);
    if (!domain || !*domain)
        return -EINVAL;
    int rc = s_keypair (sock, keys);
    if (rc == 0)
        rc = s_set_int (sock, ZMQ_CURVE_SERVER, 1);
    if (rc == 0)
        rc = s_set (sock, ZMQ_ZAP_DOMAIN, domain, strlen (domain));
    if (rc == 0)
        rc = s_set_int (sock, ZMQ_ZAP_ENFORCE_DOMAIN, 1);
    return rc;
}

int
curve_client (zsock_t *sock, keys_t *keys, const uint8_t server_public[KEYS_KEY_SIZE])
{
    assert (sock);
    if (!server_public)
        return -EINVAL;
    int rc = s_keypair (sock, keys);
    if (rc == 0)
        rc = s_set (sock, ZMQ_CURVE_SERVERKEY, server_public, KEYS_KEY_SIZE);
    return rc;
}

int
curve_insecure_server (zsock_t *sock, const char *domain)
{
    assert (sock);
    if (!domain || !*domain)
        return -EINVAL;
    return s_set (sock, ZMQ_ZAP_DOMAIN, domain, strlen (domain));
}

int
curve_own_keys (const char *cert, bool insecure,
                keys_t **keys_p, char *err, size_t errlen)
{
    assert (keys_p);
    *keys_p = NULL;
    char inner[512] = "";
    if (cert) {
        *keys_p = keys_load (cert, inner, sizeof inner);
        if (*keys_p && !keys_has_secret (*keys_p)) {
            keys_destroy (keys_p);
            snprintf (inner, sizeof inner, "%s holds no secret key (give the path "
                      "NAME with NAME_secret beside it)", cert);
        }
    }
    else
    if (keys_from_env (keys_p, inner, sizeof inner) == 0 && (*keys_p || insecure))
        return 0;
    if (*keys_p)
        return 0;
    if (!inner[0])
        snprintf (inner, sizeof inner, "no keypair: give --cert PATH (from drover "
                  "keygen), or %s or %s in the environment, or run --insecure",
                  KEYS_ENV_CERT, KEYS_ENV_SECRET);
    if (err && errlen)
        snprintf (err, errlen, "%s", inner);
    return -EINVAL;
}
