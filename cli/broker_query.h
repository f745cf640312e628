//  broker_query.h -- one question at a time to a broker's frontend, for
//  the commands that only look (`drover jobs`, `drover agents`, `drover
//  status`): STATUS answered by JOB, and the listings of PROTOCOL.md 11
//  (JOBS, AGENTS), paged through to the end.  Gives up after the reply
//  timeout, so no command hangs on a broker that is not there; falls back
//  to an older protocol version when the broker asks for one.
#ifndef DROVER_BROKER_QUERY_H
#define DROVER_BROKER_QUERY_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "common/keys.h"
#include "proto/msg.h"

typedef struct broker_query broker_query_t;

//  A DEALER to endpoint; with keys (a secret key) and broker_key, a CURVE
//  client.  NULL if the endpoint is malformed or out of memory.
broker_query_t *broker_query_new (const char *endpoint, keys_t *keys,
                                  const uint8_t *broker_key, int timeout_ms);
void            broker_query_destroy (broker_query_t **self_p);

//  Send *request_p (taken) and wait for the answer: 0 and *reply_p, or
//  -DRV_E_* (the broker's ERROR), -ETIMEDOUT, -EINTR or -errno, with the
//  reason in broker_query_error.
int             broker_query_ask (broker_query_t *self, msg_t **request_p, msg_t **reply_p);

//  JOBS or AGENTS, page after page: every entry (a msgpack map), in number
//  order, kept until the next list or destroy.  0 or as ask;
//  -DRV_E_BAD_HEADER if a page is not what PROTOCOL.md 11 says.
int             broker_query_list (broker_query_t *self, msg_command_t command);
//  A request answered by one page of entries (SCHEDULE, PROTOCOL.md 15),
//  *request_p taken: its entries kept as a listing's.  0 or as list.
int             broker_query_ask_list (broker_query_t *self, msg_t **request_p);
size_t          broker_query_count (const broker_query_t *self);
const msgpack_object *broker_query_entry (const broker_query_t *self, size_t index);

//  Why the last call failed, for a person.
const char     *broker_query_error (const broker_query_t *self);

//  An entry's value for key: a uint (0 and false if absent or not one), a
//  str (into buf, "" if absent).
bool            broker_query_uint (const msgpack_object *map, const char *key,
                                   uint64_t *value_p);
const char     *broker_query_str (const msgpack_object *map, const char *key, char *buf,
                                  size_t size);

#endif
