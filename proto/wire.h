//  wire.h -- drover messages on ZeroMQ sockets: encoding a msg_t into
//  frames, decoding frames into one (validating everything PROTOCOL.md
//  requires, a distinct error per failure class), and ROUTER envelopes.
//  The top of proto/: it uses msg.h (the message) and schema.h (the rules).
#ifndef DROVER_WIRE_H
#define DROVER_WIRE_H

#include <czmq.h>

#include "proto/msg.h"

//  Decode a message without its routing envelope, in either version (the
//  message records which: msg_version).  Takes ownership of *zmsg_p (sets
//  it NULL).  Returns 0 and *msg_p, or -DRV_E_* and NULL.  Version 2's
//  packed tuples are walked once here (-DRV_E_BAD_TUPLE for a value that is
//  not well-formed, -DRV_E_BAD_FRAMES for more or fewer than the header
//  says); version 1's are copied into one buffer, unchecked.
int     wire_decode (zmsg_t **zmsg_p, msg_t **msg_p);
//  Encode and destroy the message, in its version: tuples as a frame each
//  (version 1, copied) or as one packed frame (version 2, moved when it
//  came as one); other payload frames move, not copy.
zmsg_t *wire_encode (msg_t **msg_p);

//  The version to answer zmsg in, without decoding it (its envelope off):
//  the one its frame 0 names if we speak it, else MSG_VERSION_MIN, which
//  every drover peer reads.
int     wire_answer_version (zmsg_t *zmsg);

//  After ERROR BAD_VERSION with reason (e.g. "supported: 1") for a request
//  in version: the version to send it again in, the highest the reason
//  lists that we speak and is below version; 0 if none (PROTOCOL.md 6).
int     wire_fallback_version (const char *reason, int version);
//  A message encoded by wire_encode, encoded again in version (decoded and
//  encoded: a copy).  0 with *zmsg_p replaced, or -DRV_E_* and it is left.
int     wire_reencode (zmsg_t **zmsg_p, int version);

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
//  wire_recv for a request the caller answers (an agent's on the backend,
//  a producer's on the frontend): the same, and what answering needs when
//  decoding fails.  *version_p (may be NULL) is the version to answer in:
//  the message's, or when it could not be decoded the one its frame 0
//  names if we speak it, else MSG_VERSION_MIN.  batch (size bytes, size
//  may be 0) gets the `batch` str the header held, if one can be read
//  (PROTOCOL.md 5); "" if none, or if it does not fit.
int wire_recv_request (zsock_t *sock, zmsg_t **envelope_p, msg_t **msg_p,
                       int *version_p, char *batch, size_t size);
//  Encode, prepend a copy of envelope (may be NULL), send, destroy.  A
//  message no receiver would take is not sent (-DRV_E_TOO_LARGE: a header
//  over MSG_MAX_HEADER, a version 1 field over MSG_MAX_REFS references;
//  -DRV_E_BAD_FRAMES: WORK without a tuple per reference).
int wire_send (msg_t **msg_p, zsock_t *sock, zmsg_t *envelope);
//  Answer ERROR code/reason to the peer behind envelope (NULL if none), in
//  version (that of the request; MSG_VERSION_MIN if we do not speak it).
int wire_send_error (zsock_t *sock, zmsg_t *envelope, int version, int code,
                     const char *reason);

#endif
