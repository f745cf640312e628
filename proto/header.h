//  header.h -- a message's header frame (PROTOCOL.md 3.2): the msgpack map
//  of its fields, in the message's version (tuple references as [id,
//  attempt] pairs in version 1, [first, count, attempt] runs in version 2;
//  SUBMIT's `count` in version 2).  The half of the codec (wire.h) that
//  knows msgpack; wire.c does frames, envelopes and sockets.
#ifndef DROVER_HEADER_H
#define DROVER_HEADER_H

#include "proto/msg.h"

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Decode data[0 .. size) into msg's fields, as msg's version has them:
//  keys the command does not know are ignored.  SUBMIT's `count` (version
//  2), which is the packed frame's and not a field, goes to *count_p, and
//  *has_count_p says whether the header had one.  0 or -DRV_E_* (BAD_HEADER,
//  BAD_TYPE, TOO_LARGE, INTERNAL).
int       header_decode (msg_t *msg, const uint8_t *data, size_t size,
                         uint64_t *count_p, bool *has_count_p);
//  The header frame of msg's fields, in msg_field_t order, as msg's version
//  has them; NULL if out of memory.
zframe_t *header_encode (const msg_t *msg);

#endif
