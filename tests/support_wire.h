//  support_wire.h -- what the codec's tests (test_wire*.c) share: frames
//  from hex, and decoding with the ownership rules wire_decode promises
//  checked on every call.
#ifndef DROVER_TEST_SUPPORT_WIRE_H
#define DROVER_TEST_SUPPORT_WIRE_H

#include "proto/wire.h"

//  A frame of the bytes written in hex ("81 a3 6a6f62"): pairs of hex
//  digits, spaces anywhere between pairs.
zframe_t *support_hex (const char *hex);
//  wire_decode, asserting that it took the zmsg and left no message behind
//  a failure.  The message in *msg_p, or destroyed if msg_p is NULL.
int       support_decode (zmsg_t *zmsg, msg_t **msg_p);

#endif
