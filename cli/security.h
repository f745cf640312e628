//  security.h -- the security options every role shares, and their one
//  rule: secure by default.  A role needs a keypair of its own (--cert,
//  else DROVER_CERT or DROVER_SECRET_KEY, else cert in the config file)
//  unless --insecure, which relaxes only what is missing: keys that are
//  given are always used.  Per role on top of that: the broker's
//  allow-lists of producers and agents (required with a keypair), the
//  sink's list of agents and --allow-plain, the broker's public key for the
//  clients that dial it (agent, submit, status), the sink's for submit.
#ifndef DROVER_SECURITY_H
#define DROVER_SECURITY_H

#include <stdbool.h>
#include <stdint.h>

#include "cli/broker_query.h"
#include "cli/options.h"
#include "common/auth.h"
#include "common/keys.h"
#include <drover/drover.h>

typedef enum {
    SECURITY_BROKER,            //  CURVE server of producers and agents
    SECURITY_SINK,              //  CURVE server of agents; opens sealed results
    SECURITY_AGENT,             //  client of the broker; its keypair also seals
                                //  results, so --insecure may drop --broker-key
    SECURITY_PRODUCER,          //  client of the broker (submit, status): a
                                //  keypair always needs --broker-key
} security_role_t;

//  The options as a command's table fills them (each role uses its own).
typedef struct {
    const char *cert;           //  --cert PATH
    bool insecure;              //  --insecure
    const char *broker_key;     //  --broker-key: Z85 or a certificate file
    const char *sink_key;       //  --sink-key: Z85 or a certificate file
    const char *allow_producers;//  --allow-producers DIR|any
    const char *allow_agents;   //  --allow-agents DIR (sink) or DIR|any (broker)
    bool allow_plain;           //  --allow-plain
} security_options_t;

//  Table entries (cli/options.h) for a command whose args struct of type
//  `type` holds a security_options_t named security; help is the role's.
#define SECURITY_CERT(type, text) \
    { "cert", 0, OPTION_STRING, OPTION_AT (type, security.cert), "PATH", \
      .flags = OPTION_EMPTY_UNSET, .help = text }
#define SECURITY_INSECURE(type, text) \
    { "insecure", 0, OPTION_BOOL, OPTION_AT (type, security.insecure), .help = text }
#define SECURITY_BROKER_KEY(type, text) \
    { "broker-key", 0, OPTION_STRING, OPTION_AT (type, security.broker_key), "KEY", \
      .flags = OPTION_EMPTY_UNSET, .help = text }
//  The three a producer has (submit, status).
#define SECURITY_PRODUCER_OPTIONS(type) \
    SECURITY_CERT (type, "our keypair (from drover keygen): talk CURVE to the broker (or " \
                   "DROVER_SECRET_KEY, Z85).  Required unless --insecure"), \
    SECURITY_BROKER_KEY (type, "the broker's public key, Z85 or its certificate file; " \
                         "needed with a keypair"), \
    SECURITY_INSECURE (type, "without a keypair, talk plain text to the broker (a keypair " \
                       "given is still used)")

typedef struct security security_t;

//  Check options against role's rule and load the keys, logging what runs
//  without protection (call log_init first).  parsed tells which options
//  were typed (a --cert flag wins over the environment, which wins over the
//  config file's cert; a typed --insecure is warned about, an inherited
//  DROVER_INSECURE only noted).  Returns 0 with *self_p set, 2 after
//  printing a usage error, 1 after logging a runtime failure.
int  security_new (security_role_t role, const security_options_t *options,
                   const options_t *parsed, security_t **self_p);
void security_destroy (security_t **self_p);

//  Our keypair, or NULL (--insecure and none given).  Owned by self.
keys_t        *security_keys (security_t *self);
//  The broker's public key (32 bytes), or NULL when none was given.
const uint8_t *security_broker_key (const security_t *self);
//  The sink's public key as Z85 text, or NULL when none was given.
const char    *security_sink_key (const security_t *self);
//  The ZAP handler: the broker's with both allow-lists, the sink's with its
//  list of agents (or any agent); NULL without a keypair, or for another
//  role.  Owned by self: destroy self after the sockets.
auth_t        *security_auth (security_t *self);
//  A libdrover producer for the broker frontend at endpoint: a CURVE
//  client when self has our keypair (with the broker's key), else plain.
//  The keys cross the public API as Z85 text, as any libdrover program has
//  them.  NULL if the endpoint is malformed.
drover_producer_t *security_producer_new (security_t *self, const char *endpoint);
//  What drover status, jobs, agents and cancel ask the broker through: a
//  query to the frontend at endpoint with the keys options give (a
//  producer's).  0 and *query_p, or the exit status to return (the error
//  said).
int security_broker_query (const security_options_t *security, const options_t *options,
                           const char *endpoint, int timeout_ms, broker_query_t **query_p);

#endif
