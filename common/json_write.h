//  json_write.h -- msgpack to JSON, for the edge where people read what
//  drover produced: the sink writes results as JSON Lines.  Output is one
//  line, no trailing newline.
#ifndef DROVER_JSON_WRITE_H
#define DROVER_JSON_WRITE_H

#include <msgpack.h>
#include <stdio.h>

//  Write obj as JSON to out.  str becomes a JSON string (invalid UTF-8
//  bytes escaped as \u00XX), bin a base64 string, ext {"ext":type,"data":b64},
//  non-string map keys their JSON text as a string.  Returns 0 or -1.
int json_write (FILE *out, const msgpack_object *obj);

#endif
