//  json_out.h -- where JSON text goes and how its scalars are spelled, for
//  the two msgpack-to-JSON walkers (json_write.c from an object,
//  json_write_packed.c from bytes): a FILE through a stack buffer, or a
//  growable json_buffer_t; strings escaped, bin as base64, numbers exact.
//  Not opaque, on purpose: it lives on the caller's stack, one per value
//  written, and its 4 KiB buffer is never zeroed (the sink's hot path).
#ifndef DROVER_JSON_OUT_H
#define DROVER_JSON_OUT_H

#include "common/json_buffer.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_OUT_BUFFER     4096
#define JSON_OUT_MAX_DEPTH  512      //  msgpack's unpacker nests far less
//  A key that is not a string is written as its JSON text, escaped: each
//  such key inside another one doubles the backslashes, so a few hundred
//  bytes nested 30 deep would write gigabytes.  Past this many, the value
//  is refused (the sink stores the record as failed).
#define JSON_OUT_MAX_KEY_NESTING  3

//  Writes to file through buf, or (file NULL) straight into mem.  A
//  failed write sets failed; later writes to it do nothing useful.
typedef struct {
    FILE *file;
    json_buffer_t *mem;
    size_t size;
    bool failed;
    int keys;                       //  non-string keys this writer is inside
    char buf[JSON_OUT_BUFFER];
} json_out_t;

//  Start writing to file (buffered: json_out_flush at the end) or to mem.
void json_out_to_file (json_out_t *self, FILE *file);
void json_out_to_buffer (json_out_t *self, json_buffer_t *mem);
//  Write what the buffer holds to the file (nothing for mem).
void json_out_flush (json_out_t *self);

void json_out_put (json_out_t *self, const void *data, size_t size);
//  json_out_put into mem: json_out_putc's slow path.
void json_out_put_mem (json_out_t *self, const void *data, size_t size);
//  One character: inline, as most of JSON's punctuation goes through here.
static inline void
json_out_putc (json_out_t *self, char c)
{
    if (self->mem) {
        if (self->mem->size < self->mem->capacity)
            self->mem->data[self->mem->size++] = c;
        else
            json_out_put_mem (self, &c, 1);
        return;
    }
    if (self->size == JSON_OUT_BUFFER)
        json_out_flush (self);
    self->buf[self->size++] = c;
}

//  data[0..size) as a JSON string; invalid UTF-8 bytes become \u00XX.
void json_out_string (json_out_t *self, const char *data, size_t size);
//  data[0..size) as a base64 JSON string.
void json_out_base64 (json_out_t *self, const char *data, size_t size);
//  An integer: value, with a minus sign if negative (value its magnitude).
void json_out_uint (json_out_t *self, uint64_t value, bool negative);
//  value in decimal at out, which has room for 20 bytes: how many it took.
size_t json_out_decimal (char *out, uint64_t value);
//  A float that reads back as the same value (null for NaN and infinity).
void json_out_float (json_out_t *self, double value, bool is_float32);
//  msgpack's ext: {"ext":type,"data":base64}.
void json_out_ext (json_out_t *self, int8_t type, const char *data, size_t size);

#endif
