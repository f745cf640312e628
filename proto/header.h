//  header.h -- a message's header frame (PROTOCOL.md 3.2): the msgpack map
//  of its fields, in the message's version (tuple references as [id,
//  attempt] pairs in version 1, [first, count, attempt] runs in version 2;
//  SUBMIT's `count` in version 2).  The half of the codec (wire.h) that
//  knows msgpack; wire.c does frames, envelopes and sockets.
#ifndef DROVER_HEADER_H
#define DROVER_HEADER_H

#include "proto/msg.h"

#include <czmq.h>
#include <msgpack.h>
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

//  Runs as version 2 writes them, [[first, count, attempt], ...], for other
//  fields that hold runs (HELLO's `held`, proto/holdings.h): parse one
//  such array, checked, into *runs_p (malloc'd, the caller's) and
//  *count_p (0 or -DRV_E_BAD_TYPE, -DRV_E_TOO_LARGE, -ENOMEM); pack one.
int       header_runs_parse (const msgpack_object *obj, msg_run_t **runs_p, size_t *count_p);
void      header_runs_pack (msgpack_packer *pk, const msg_run_t *runs, size_t count);

#endif
