//  validate.h -- check untrusted msgpack bytes before msgpack-c decodes them.
//  Every decoder of input from the network (the codec's headers, the sink's
//  result batches, the agent's tuples) calls this first.
#ifndef DROVER_VALIDATE_H
#define DROVER_VALIDATE_H

#include <stddef.h>

//  Walk one msgpack value at bytes[0..size) without building it: 0 if it is
//  exactly one well-formed value, 1 if bytes follow it, -1 if malformed or
//  truncated, or if any container claims more items than bytes remain
//  (each item takes at least one byte).
int validate_msgpack (const void *bytes, size_t size);
//  The same walk for the value that starts at bytes, whatever follows it:
//  0 with its size in *used_p, or -1 as above.
int validate_msgpack_prefix (const void *bytes, size_t size, size_t *used_p);
//  0 if bytes[0..size) is exactly one well-formed msgpack map (a header,
//  an options field), else -1.
int validate_msgpack_map (const void *bytes, size_t size);

#endif
