//  json_buffer.h -- growable text, where JSON is written when it does not
//  go to a FILE (json_write_msgpack, json_write_string; the sink's batch of
//  lines).  Zero-initialised is empty; the caller owns data.
#ifndef DROVER_JSON_BUFFER_H
#define DROVER_JSON_BUFFER_H

#include <stddef.h>

typedef struct {
    char  *data;
    size_t size;
    size_t capacity;
} json_buffer_t;

//  Room for more bytes after size: 0 or -1 (out of memory).
int  json_buffer_reserve (json_buffer_t *self, size_t more);
void json_buffer_free (json_buffer_t *self);

#endif
