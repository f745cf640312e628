//  json_write.c -- see json_write.h.  Turns a msgpack_object into one line
//  of JSON, walking the object tree; json_out.c spells the scalars and
//  json_write_packed.c does the same from msgpack bytes.
#include "common/json_write.h"
#include "common/json_out.h"

#include <stdlib.h>

static void s_write_value (json_out_t *self, const msgpack_object *obj, int depth);

//  JSON keys are strings: any other key is written as its JSON text, quoted.
static void
s_write_key (json_out_t *self, const msgpack_object *key, int depth)
{
    if (key->type == MSGPACK_OBJECT_STR) {
        json_out_string (self, key->via.str.ptr, key->via.str.size);
        return;
    }
    if (self->keys >= JSON_OUT_MAX_KEY_NESTING) {
        self->failed = true;
        return;
    }
    char *text = NULL;
    size_t size = 0;
    FILE *memory = open_memstream (&text, &size);
    if (!memory) {
        self->failed = true;
        return;
    }
    json_out_t *inner = malloc (sizeof (json_out_t));
    if (inner) {
        json_out_to_file (inner, memory);
        inner->keys = self->keys + 1;
        s_write_value (inner, key, depth + 1);
        json_out_flush (inner);
        if (inner->failed)
            self->failed = true;
        free (inner);
    }
    else
        self->failed = true;
    if (fclose (memory) != 0)
        self->failed = true;
    if (text && !self->failed)
        json_out_string (self, text, size);
    free (text);
}

static void
s_write_value (json_out_t *self, const msgpack_object *obj, int depth)
{
    if (depth > JSON_OUT_MAX_DEPTH) {
        self->failed = true;
        return;
    }
    switch (obj->type) {
        case MSGPACK_OBJECT_NIL:
            json_out_put (self, "null", 4);
            break;
        case MSGPACK_OBJECT_BOOLEAN:
            if (obj->via.boolean)
                json_out_put (self, "true", 4);
            else
                json_out_put (self, "false", 5);
            break;
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            json_out_uint (self, obj->via.u64, false);
            break;
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            //  Magnitude computed in unsigned so INT64_MIN does not overflow.
            json_out_uint (self, obj->via.i64 < 0? 0 - (uint64_t) obj->via.i64
                                                : (uint64_t) obj->via.i64,
                          obj->via.i64 < 0);
            break;
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
            json_out_float (self, obj->via.f64, obj->type == MSGPACK_OBJECT_FLOAT32);
            break;
        case MSGPACK_OBJECT_STR:
            json_out_string (self, obj->via.str.ptr, obj->via.str.size);
            break;
        case MSGPACK_OBJECT_BIN:
            json_out_base64 (self, obj->via.bin.ptr, obj->via.bin.size);
            break;
        case MSGPACK_OBJECT_EXT:
            json_out_ext (self, obj->via.ext.type, obj->via.ext.ptr, obj->via.ext.size);
            break;
        case MSGPACK_OBJECT_ARRAY:
            json_out_putc (self, '[');
            for (uint32_t i = 0; i < obj->via.array.size && !self->failed; i++) {
                if (i)
                    json_out_putc (self, ',');
                s_write_value (self, &obj->via.array.ptr[i], depth + 1);
            }
            json_out_putc (self, ']');
            break;
        case MSGPACK_OBJECT_MAP:
            json_out_putc (self, '{');
            for (uint32_t i = 0; i < obj->via.map.size && !self->failed; i++) {
                if (i)
                    json_out_putc (self, ',');
                s_write_key (self, &obj->via.map.ptr[i].key, depth);
                json_out_putc (self, ':');
                s_write_value (self, &obj->via.map.ptr[i].val, depth + 1);
            }
            json_out_putc (self, '}');
            break;
        default:
            self->failed = true;
    }
}

int
json_write (FILE *out, const msgpack_object *obj)
{
    if (!out || !obj)
        return -1;
    json_out_t self;
    json_out_to_file (&self, out);
    s_write_value (&self, obj, 0);
    json_out_flush (&self);
    return self.failed? -1: 0;
}
