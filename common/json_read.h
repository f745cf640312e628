//  json_read.h -- JSON to msgpack, for the edge where people hand drover
//  tuples: `drover submit` reads them as JSON Lines.  Strict RFC 8259.
#ifndef DROVER_JSON_READ_H
#define DROVER_JSON_READ_H

#include <msgpack.h>
#include <stddef.h>

//  Parse exactly one JSON value (surrounding white space allowed) from
//  text[0..len) and append it as msgpack to out.  Integers become msgpack
//  ints, other numbers float64.  Returns 0, or -1 with a message in err
//  ("line 1, column 7: expected ','").  Nesting deeper than 32 (what
//  msgpack-c decodes) is an error.
int json_to_msgpack (const char *text, size_t len, msgpack_sbuffer *out,
                     char *err, size_t errlen);

#endif
