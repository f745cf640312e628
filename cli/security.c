//  security.c -- see security.h.  Errors a user can fix by changing what
//  they gave are usage errors (exit 2); a ZAP handler that cannot start or
//  an allow-list that cannot be read is a runtime failure (exit 1).
#include <czmq.h>
#include "cli/security.h"
#include "common/curve.h"
#include "common/log.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct security {
    keys_t *keys;
    uint8_t broker_key[KEYS_KEY_SIZE];
    bool has_broker_key;
    char sink_key[KEYS_Z85_SIZE + 1];
    auth_t *auth;
};

//  The path to load our keypair from, or NULL for the environment: a typed
//  --cert wins over DROVER_CERT and DROVER_SECRET_KEY, which win over cert
//  in the config file (DROVER_CERT itself arrives here as the option).
static const char *
s_cert (const security_options_t *options, const options_t *parsed)
{
    option_source_t source = options_source (parsed, "cert");
    const char *secret = getenv (KEYS_ENV_SECRET);
    if (source == OPTION_FROM_FLAG
    || (source == OPTION_FROM_FILE && !(secret && *secret)))
        return options->cert;
    return NULL;
}

//  The broker's and the sink's public keys, as the role needs them.
//  0 or -EINVAL with a line in err.
static int
s_peer_keys (security_t *self, security_role_t role, const security_options_t *options,
             char *err, size_t errlen)
{
    const char *broker_key = options->broker_key;
    if (broker_key && !self->keys) {
        snprintf (err, errlen, "--broker-key needs a keypair of our own: give --cert "
                  "PATH, or DROVER_CERT or DROVER_SECRET_KEY in the environment");
        return -EINVAL;
    }
    //  --insecure lets an agent with a keypair dial the broker plain (its
    //  keys still seal results); a producer's keypair is only for CURVE.
    bool optional = role == SECURITY_AGENT && options->insecure;
    if (self->keys && !broker_key && !optional) {
        snprintf (err, errlen, "--broker-key (or DROVER_BROKER_KEY) is needed with a "
                  "keypair: the broker's public key, Z85 or its certificate file%s",
                  role == SECURITY_AGENT? " (or --insecure: plain text to the broker)": "");
        return -EINVAL;
    }
    if (broker_key && keys_peer_public (broker_key, self->broker_key, err, errlen))
        return -EINVAL;
    self->has_broker_key = broker_key != NULL;
    if (options->sink_key) {
        uint8_t key[KEYS_KEY_SIZE];
        char inner[256];
        if (keys_peer_public (options->sink_key, key, inner, sizeof inner)) {
            snprintf (err, errlen, "--sink-key: %s", inner);
            return -EINVAL;
        }
        zmq_z85_encode (self->sink_key, key, KEYS_KEY_SIZE);
    }
    return 0;
}

//  The broker's ZAP handler and its two allow-lists.  0, -EINVAL (a usage
//  error) or another -errno, with a line in err.
static int
s_broker_auth (security_t *self, const security_options_t *options, char *err, size_t errlen)
{
    const char *lists[] = { options->allow_producers, options->allow_agents };
    const char *flags[] = { "--allow-producers", "--allow-agents" };
    const char *domains[] = { AUTH_DOMAIN_PRODUCERS, AUTH_DOMAIN_AGENTS };
    if (!self->keys) {
        if (!lists[0] && !lists[1])
            return 0;
        snprintf (err, errlen, "--allow-producers and --allow-agents need a keypair "
                  "(--cert): a plain connection has no key to check");
        return -EINVAL;
    }
    self->auth = auth_new ();
    if (!self->auth) {
        snprintf (err, errlen, "cannot start the ZAP handler");
        return -ENOMEM;
    }
    //  With a keypair both lists are required, --insecure or not.
    for (int i = 0; i < 2; i++) {
        int rc = auth_allow (self->auth, domains[i], lists[i], false, flags[i], err, errlen);
        if (rc)
            return rc;
    }
    for (int i = 0; i < 2; i++)
        if (!strcmp (lists[i], "any"))
            log_warn ("%s any: every client key is let in (still encrypted)", flags[i]);
    return 0;
}

//  The sink's ZAP handler: its --allow-agents list, or any agent key (as
//  ever: sealed results still name theirs).  Without a keypair there is no
//  key to check (s_warn says the flag is ignored).  0 or -errno, with a
//  line in err.
static int
s_sink_auth (security_t *self, const security_options_t *options, char *err, size_t errlen)
{
    if (!self->keys)
        return 0;
    self->auth = auth_new ();
    if (!self->auth) {
        snprintf (err, errlen, "cannot start the ZAP handler");
        return -ENOMEM;
    }
    return auth_allow (self->auth, AUTH_DOMAIN_AGENTS, options->allow_agents, true,
                       "--allow-agents", err, errlen);
}

//  What runs without protection, said once at start.
static void
s_warn (const security_t *self, security_role_t role, const security_options_t *options,
        const options_t *parsed)
{
    if (self->keys && (role != SECURITY_AGENT || self->has_broker_key))
        return;
    if (self->keys)
        log_warn ("--insecure and no --broker-key: traffic to the broker is "
                  "unauthenticated and unencrypted");
    else
    if (role == SECURITY_BROKER)
        log_warn ("--insecure and no keypair: traffic is unauthenticated and "
                  "unencrypted, anyone on the network may connect");
    else
    if (role == SECURITY_SINK) {
        log_warn ("--insecure and no keypair: traffic is unauthenticated and "
                  "unencrypted, results arrive unsealed");
        if (options->allow_plain || options->allow_agents)
            log_warn ("--allow-plain and --allow-agents need a keypair (--cert); ignored");
    }
    else
    if (role == SECURITY_AGENT)
        log_warn ("--insecure and no keypair: traffic is unauthenticated and "
                  "unencrypted, results unsealed");
    else
        //  A producer warns for --insecure typed on the command line;
        //  DROVER_INSECURE=1 set once for a shell or a script gets a note
        //  at info level, so stderr stays the command's own.
        log_write (options_source (parsed, "insecure") == OPTION_FROM_FLAG
                   ? LOG_LEVEL_WARN: LOG_LEVEL_INFO,
                   "--insecure and no keypair: traffic to the broker is "
                   "unauthenticated and unencrypted");
}

int
security_new (security_role_t role, const security_options_t *options,
              const options_t *parsed, security_t **self_p)
{
    *self_p = NULL;
    security_t *self = calloc (1, sizeof *self);
    if (!self) {
        log_error ("out of memory");
        return 1;
    }
    char err[512] = "";
    int rc = curve_own_keys (s_cert (options, parsed), options->insecure, &self->keys,
                             err, sizeof err);
    if (rc == 0 && role != SECURITY_BROKER && role != SECURITY_SINK)
        rc = s_peer_keys (self, role, options, err, sizeof err);
    if (rc == 0 && role == SECURITY_BROKER)
        rc = s_broker_auth (self, options, err, sizeof err);
    if (rc == 0 && role == SECURITY_SINK)
        rc = s_sink_auth (self, options, err, sizeof err);
    if (rc) {
        security_destroy (&self);
        if (rc == -EINVAL)
            return options_usage_error (parsed, err, NULL);
        log_error ("%s", err);
        return 1;
    }
    s_warn (self, role, options, parsed);
    *self_p = self;
    return 0;
}

void
security_destroy (security_t **self_p)
{
    security_t *self = *self_p;
    if (!self)
        return;
    auth_destroy (&self->auth);
    keys_destroy (&self->keys);
    free (self);
    *self_p = NULL;
}

keys_t *
security_keys (security_t *self)
{
    return self->keys;
}

const uint8_t *
security_broker_key (const security_t *self)
{
    return self->has_broker_key? self->broker_key: NULL;
}

const char *
security_sink_key (const security_t *self)
{
    return self->sink_key[0]? self->sink_key: NULL;
}

auth_t *
security_auth (security_t *self)
{
    return self->auth;
}

drover_producer_t *
security_producer_new (security_t *self, const char *endpoint)
{
    keys_t *keys = security_keys (self);
    if (!keys)
        return drover_producer_new (endpoint);
    char secret[KEYS_Z85_SIZE + 1], broker[KEYS_Z85_SIZE + 1];
    zmq_z85_encode (secret, keys_secret (keys), KEYS_KEY_SIZE);
    zmq_z85_encode (broker, security_broker_key (self), KEYS_KEY_SIZE);
    drover_producer_t *producer = drover_producer_new_curve (endpoint, secret, broker);
    sodium_memzero (secret, sizeof secret);
    return producer;
}

int
security_broker_query (const security_options_t *security, const options_t *options,
                       const char *endpoint, int timeout_ms, broker_query_t **query_p)
{
    security_t *self = NULL;
    int rc = security_new (SECURITY_PRODUCER, security, options, &self);
    if (rc)
        return rc;
    *query_p = broker_query_new (endpoint, security_keys (self), security_broker_key (self),
                                 timeout_ms);
    security_destroy (&self);
    if (!*query_p)
        return options_usage_error (options, "not a valid broker endpoint", endpoint);
    return 0;
}
