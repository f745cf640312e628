//  sinklink.h -- the agent's connection to one sink, a job's "ENDPOINT" or
//  "ENDPOINT KEY" (KEY the sink's public key in Z85: then a CURVE client
//  with the agent's keypair, and a seal for that key, common/seal.h).
//  agent/outbox.h sends RESULT batches through it and learns from it when
//  to send again what the sink has not acknowledged.
//
//  The connection is watched (agent/monitor.h) and kept: ZMTP heartbeats
//  close one whose sink went silent, libzmq redials with a back-off to
//  5 s, and a sink that refuses our key (its allow-list) or fails the
//  handshake, which libzmq would never dial again, is dialled again on a
//  new socket after a back-off to 5 s.  When a connection comes up after
//  one was lost (the sink restarted, a partition ended), RESULTs sent on
//  the lost one may be gone: sinklink_recv says so, and the outbox sends
//  them again at once rather than at its result timeout.  A refusal is
//  said at once, an outage at 5 s, 10 s, 20 s ..., not per try; a sink's
//  ERROR DENIED once per 10 s.
#ifndef DROVER_SINKLINK_H
#define DROVER_SINKLINK_H

#include "common/keys.h"
#include "common/seal.h"
#include "proto/msg.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct sinklink sinklink_t;

//  A STORED from the sink (msg borrowed: valid during the call).
typedef void (sinklink_stored_fn) (void *arg, sinklink_t *link, msg_t *msg);

//  Dial the sink of spec.  keys: the agent's keypair (borrowed; NULL: none,
//  and a sink with a key cannot be reached).  Its sockets are added to
//  poller.  NULL if the spec or the keys do not do (logged), or out of
//  memory.
sinklink_t *sinklink_new (const char *spec, keys_t *keys, zpoller_t *poller);
void        sinklink_destroy (sinklink_t **self_p);

const char *sinklink_spec (const sinklink_t *self);
const char *sinklink_endpoint (const sinklink_t *self);
//  The seal of a sink with a key, or NULL.
seal_t     *sinklink_seal (sinklink_t *self);

//  Send a RESULT (taken and destroyed).  0; -ENOTCONN while the sink is to
//  be dialled again (said already: no line needed; what was sent goes
//  again when it is up); or -errno of the send (-EAGAIN: queue full).
int         sinklink_send (sinklink_t *self, msg_t **msg_p);
//  Read the connection's events and the sink's messages without blocking;
//  stored is called for each STORED.  True if the connection came up
//  after RESULTs may have been lost: send again all not acknowledged.
bool        sinklink_recv (sinklink_t *self, int64_t now, sinklink_stored_fn *stored,
                           void *arg);
//  Dial again when due; say that the sink is still out of reach.
void        sinklink_timers (sinklink_t *self, int64_t now);
//  When sinklink_timers next has something to do, or INT64_MAX.
int64_t     sinklink_next_timer (const sinklink_t *self);
//  Set the socket's linger, before the link is destroyed.
void        sinklink_linger (sinklink_t *self, int linger_ms);

#endif
