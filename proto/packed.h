//  packed.h -- a batch of tuples packed in one buffer: their msgpack values
//  back to back (version 2's payload frame), and a table of where each
//  starts.  msg.h keeps the tuples of SUBMIT and WORK in one, whichever
//  version they came in: from one frame (packed_set_frame: one walk, no
//  copy) or appended (version 1's frames, a producer building a batch).
#ifndef DROVER_PACKED_H
#define DROVER_PACKED_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct packed packed_t;

//  NULL if out of memory.
packed_t   *packed_new (void);
void        packed_destroy (packed_t **self_p);

size_t      packed_count (const packed_t *self);
//  Value index (its size in *size_p), or NULL past the last.
const void *packed_value (const packed_t *self, size_t index, size_t *size_p);
//  All the values, back to back (NULL, size 0, if there are none).
const void *packed_data (const packed_t *self, size_t *size_p);

//  Take *frame_p (set NULL, whatever the result) as exactly count values,
//  replacing what was held: one walk (validate.h) checks each and finds
//  where it ends.  0; -DRV_E_BAD_TUPLE if a value is not well-formed or
//  nests too deep; -DRV_E_BAD_FRAMES if the frame holds fewer or more
//  values than count; -DRV_E_INTERNAL out of memory.  Nothing held then.
int         packed_set_frame (packed_t *self, zframe_t **frame_p, size_t count);
//  True if every value held came through packed_set_frame's walk (none
//  was appended since): each is known to be one well-formed value.
bool        packed_walked (const packed_t *self);
//  Make room for count more values of bytes bytes in all, so that as many
//  packed_append calls cannot fail.  0 or -ENOMEM.
int         packed_reserve (packed_t *self, size_t count, size_t bytes);
//  Append size bytes as the next value, unchecked: the caller knows they
//  are one msgpack value (or, for a version 1 receiver, checks later).
//  0 or -ENOMEM.
int         packed_append (packed_t *self, const void *data, size_t size);
//  The values as one frame, leaving none held: the frame set_frame took,
//  else a copy of what was appended.  NULL if there are none (or out of
//  memory: then they stay held).
zframe_t   *packed_pop_frame (packed_t *self);
//  Forget the values (allocations are kept for reuse).
void        packed_clear (packed_t *self);

#endif
