//  wire.h -- drover messages on ZeroMQ sockets: encoding a msg_t into
//  frames, decoding frames into one (validating everything PROTOCOL.md
//  requires, a distinct error per failure class), and ROUTER envelopes.
//  The top of proto/: it uses msg.h (the message) and schema.h (the rules).
#ifndef DROVER_WIRE_H
#define DROVER_WIRE_H

#include <czmq.h>

#include "proto/msg.h"

//  Decode a message without its routing envelope.  Takes ownership of
//  *zmsg_p (sets it NULL).  Returns 0 and *msg_p, or -DRV_E_* and NULL.
int     wire_decode (zmsg_t **zmsg_p, msg_t **msg_p);
//  Encode and destroy the message; payload frames move, not copy.
zmsg_t *wire_encode (msg_t **msg_p);

//  Split a ROUTER's routing envelope off a message (PROTOCOL.md 3.1): the
//  identity frame, then the frames up to the first empty one if it comes
//  before the signature (REQ peers, proxies); else the identity frame
//  alone (DEALER peers).  Returns 0 and *envelope_p; -DRV_E_BAD_FRAMES if
//  the message is too short to have one; -DRV_E_TOO_LARGE if it would be
//  over MSG_MAX_ENVELOPE frames, too long to answer through; then zmsg is
//  left as it was.
int     wire_envelope_split (zmsg_t *zmsg, zmsg_t **envelope_p);
//  The same, returning the envelope or NULL.
zmsg_t *wire_envelope_pop (zmsg_t *zmsg);

//  Receive and decode one message.  If envelope_p is non-NULL, the socket is
//  a ROUTER and the envelope is split off into *envelope_p, even when decoding
//  fails (so the caller can answer ERROR); when it is NULL there, there is
//  no one to answer.  At most MSG_MAX_FRAMES frames of a message are kept:
//  the rest are read and dropped, and it is TOO_LARGE.  Returns 0,
//  -DRV_E_*, or -DRV_E_NOTHING when interrupted or nothing could be read.
int wire_recv (zsock_t *sock, zmsg_t **envelope_p, msg_t **msg_p);
//  wire_recv for a request the caller answers (a producer's on the
//  broker frontend): the same, and when decoding fails, the `batch` str
//  its header held, if one can be read (PROTOCOL.md 5), copied into batch
//  (size bytes); "" if none, or if it does not fit.
int wire_recv_request (zsock_t *sock, zmsg_t **envelope_p, msg_t **msg_p,
                       char *batch, size_t size);
//  Encode, prepend a copy of envelope (may be NULL), send, destroy.
int wire_send (msg_t **msg_p, zsock_t *sock, zmsg_t *envelope);
//  Answer ERROR code/reason to the peer behind envelope (NULL if none).
int wire_send_error (zsock_t *sock, zmsg_t *envelope, int code, const char *reason);

#endif
