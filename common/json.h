//  json.h -- JSON <-> msgpack, for the edges where people meet drover:
//  `drover submit` reads tuples as JSON Lines, the sink writes JSON Lines.
//  Strict RFC 8259 parsing; output is one line, no trailing newline.
#ifndef DROVER_JSON_H
#define DROVER_JSON_H

#include <msgpack.h>
#include <stddef.h>
#include <stdio.h>

//  Parse exactly one JSON value (surrounding white space allowed) from
//  text[0..len) and append it as msgpack to out.  Integers become msgpack
//  ints, other numbers float64.  Returns 0, or -1 with a message in err
//  ("line 1, column 7: expected ','").  Nesting deeper than 32 (what msgpack-c decodes) is an error.
int json_to_msgpack (const char *text, size_t len, msgpack_sbuffer *out,
                     char *err, size_t errlen);

//  Write obj as JSON to out.  str becomes a JSON string (invalid UTF-8
//  bytes escaped as \u00XX), bin a base64 string, ext {"ext":type,"data":b64},
//  non-string map keys their JSON text as a string.  Returns 0 or -1.
int json_write (FILE *out, const msgpack_object *obj);

#endif
