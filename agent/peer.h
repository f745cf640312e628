//  peer.h -- reading from a peer the agent dialled (its broker, a sink):
//  each message decoded, or, when it cannot be, logged and answered with
//  ERROR -- but never an ERROR with an ERROR, or two peers could answer
//  each other forever.
#ifndef DROVER_PEER_H
#define DROVER_PEER_H

#include "common/peerlog.h"
#include "proto/msg.h"

#include <czmq.h>
#include <stdint.h>

//  Receive one message from sock and decode it.  NULL if there was none to
//  read or it was bad: then logged through log (rate-limited, in the
//  category "<peer> errors") as from "<peer> <endpoint>" (e.g. "sink
//  tcp://..."), answered, and counted in *bad (may be NULL).  peer is
//  "broker" or "sink".
msg_t *peer_recv (zsock_t *sock, peerlog_t *log, const char *peer, const char *endpoint,
                  uint64_t *bad);

#endif
