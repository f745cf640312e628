//  validate.h -- check untrusted msgpack bytes before msgpack-c decodes them.
//  Every decoder of input from the network (the codec's headers, the sink's
//  result batches, the agent's tuples) calls this first, and the broker
//  checks each SUBMIT tuple with it without decoding it.
#ifndef DROVER_VALIDATE_H
#define DROVER_VALIDATE_H

#include <stddef.h>

typedef enum {
    VALIDATE_OK = 0,            //  exactly one well-formed value
    VALIDATE_TRAILING = 1,      //  one value, and bytes after it
    VALIDATE_MALFORMED = -1,    //  not msgpack, truncated, or a container
                                //  claims more items than bytes remain
    VALIDATE_TOO_DEEP = -2      //  over MSG_MAX_DEPTH nested containers
} validate_result_t;

//  Walk one msgpack value at bytes[0..size) without building it, and say
//  what it is (validate_result_t).  Every item takes at least one byte,
//  so a value that passes costs msgpack-c at most size items to unpack,
//  and it nests no deeper than msgpack-c's parser goes (PROTOCOL.md 7).
int validate_msgpack (const void *bytes, size_t size);
//  The same walk for the value that starts at bytes, whatever follows it:
//  VALIDATE_OK with its size in *used_p, or VALIDATE_MALFORMED or
//  VALIDATE_TOO_DEEP.
int validate_msgpack_prefix (const void *bytes, size_t size, size_t *used_p);
//  The same walk for a value that sits inside others: at most depth
//  (1 .. MSG_MAX_DEPTH) nested containers.
int validate_msgpack_within (const void *bytes, size_t size, size_t depth, size_t *used_p);
//  The same walk with no depth limit (it keeps no stack): VALIDATE_OK with
//  the value's size in *used_p, or VALIDATE_MALFORMED.  For a receiver that
//  steps over a value too deep to take (the sink stores such a result as a
//  failed one, PROTOCOL.md 7).
int validate_msgpack_skip (const void *bytes, size_t size, size_t *used_p);
//  0 if bytes[0..size) is exactly one well-formed msgpack map (a header,
//  an options field), else what validate_msgpack says (or
//  VALIDATE_MALFORMED for a value that is not a map).
int validate_msgpack_map (const void *bytes, size_t size);
//  What a validate_result_t means, for an ERROR reason or a log line.
const char *validate_reason (int result);

#endif
