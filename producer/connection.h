//  connection.h -- the producer's DEALER to the broker frontend (plain, or
//  a CURVE client), watched by watch.h: sends requests, waits for one
//  answer or one event of the connection (dropped, back after a drop).
//  What to send again after a drop, and what a silence means, is the
//  producer's business; this only reports.
#ifndef DROVER_CONNECTION_H
#define DROVER_CONNECTION_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/keys.h"
#include "producer/watch.h"
#include "proto/msg.h"

typedef struct connection connection_t;

#define CONNECTION_INTERRUPTED  1   //  connection_recv: SIGINT or SIGTERM

//  Connect to endpoint; with keys (secret key needed), as a CURVE client
//  of the broker whose public key is broker_key.  name (unique per
//  process: the producer's run) names the watch's monitor.  A send gives
//  up after send_timeout ms.  NULL if the endpoint is malformed, or out of
//  memory or sockets.
connection_t *connection_new (const char *endpoint, keys_t *keys, const uint8_t *broker_key,
                              const char *name, int send_timeout);
void connection_destroy (connection_t **self_p);

void connection_set_send_timeout (connection_t *self, int timeout_ms);

//  Send request's frames, keeping them (ZFRAME_REUSE): a request answered
//  QUEUE_FULL goes again without a copy.  0, or -errno (-EAGAIN: the send
//  timed out; zsys_interrupted tells SIGINT or SIGTERM).
int  connection_send_frames (connection_t *self, zmsg_t *request);
//  Encode and send *msg_p (destroyed): 0, or as wire_send.
int  connection_send (connection_t *self, msg_t **msg_p);

//  Wait until deadline (monotonic ms) for one message from the broker, or
//  one event of the connection.  0 with the message in *msg_p, or with
//  *msg_p NULL and the event in *event_p (WATCH_NOTHING for one that does
//  not matter); -ETIMEDOUT when nothing came, CONNECTION_INTERRUPTED, or
//  the -DRV_E_* of a malformed message (-DRV_E_NOTHING: none came after
//  all).  -DRV_E_* and -errno overlap: hence the positive code.
int  connection_recv (connection_t *self, int64_t deadline, msg_t **msg_p,
                      watch_event_t *event_p);

//  True from a drop until the connection is back.
bool connection_lost (const connection_t *self);

#endif
