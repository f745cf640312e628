//  json_write.h -- msgpack to JSON, for the edge where people read what
//  drover produced: the sink writes results as JSON Lines.  Output is one
//  line, no trailing newline.  From a msgpack_object into a FILE, or from
//  msgpack bytes (no object tree) into a growable buffer.
#ifndef DROVER_JSON_WRITE_H
#define DROVER_JSON_WRITE_H

#include <msgpack.h>
#include <stdio.h>

#include "common/json_buffer.h"

//  Write obj as JSON to out.  str becomes a JSON string (invalid UTF-8
//  bytes escaped as \u00XX), bin a base64 string, ext {"ext":type,"data":b64},
//  non-string map keys their JSON text as a string (-1 if such keys nest
//  more than 3 deep: each level doubles the escaping).  Returns 0 or -1.
int json_write (FILE *out, const msgpack_object *obj);

//  Append the msgpack value at the start of bytes[0..size) as JSON, as
//  json_write would write it unpacked, walking the bytes without building
//  objects; its length in *used_p (may be NULL).  0, or -1 (truncated or
//  malformed value, nested over 512 deep, out of memory: out unchanged).
int  json_write_msgpack (json_buffer_t *out, const void *bytes, size_t size,
                         size_t *used_p);
//  Append text[0..size) as a JSON string: 0 or -1 (out of memory).
int  json_write_string (json_buffer_t *out, const char *text, size_t size);

#endif
