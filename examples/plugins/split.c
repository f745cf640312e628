//  split.c -- an example drover plugin (include/drover/plugin.h): splits
//  the strings of a tuple into words and emits one output per word,
//  {"word": w, "index": i}, so one tuple streams many results to the sink.
//  Config (optional): {"separators": " ,", "min_length": 2}.
//  Build: cc -shared -fPIC -I include split.c -lmsgpackc -o drover-split.so
#include <drover/plugin.h>

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char separators[64];
    size_t min_length;
} split_t;

static int
s_init (const uint8_t *config, size_t size, void **state, char *err, size_t errlen)
{
    split_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return -1;
    }
    strcpy (self->separators, " \t\r\n");
    msgpack_unpacked msg;
    msgpack_unpacked_init (&msg);
    int rc = 0;
    if (msgpack_unpack_next (&msg, (const char *) config, size, NULL) == MSGPACK_UNPACK_SUCCESS
    &&  msg.data.type == MSGPACK_OBJECT_MAP) {
        msgpack_object_map *map = &msg.data.via.map;
        for (uint32_t i = 0; i < map->size; i++) {
            msgpack_object *key = &map->ptr[i].key, *val = &map->ptr[i].val;
            if (key->type != MSGPACK_OBJECT_STR)
                continue;
            if (key->via.str.size == 10 && !memcmp (key->via.str.ptr, "separators", 10)) {
                if (val->type != MSGPACK_OBJECT_STR || val->via.str.size == 0
                ||  val->via.str.size >= sizeof self->separators) {
                    snprintf (err, errlen, "separators must be a string of 1 to %zu bytes",
                              sizeof self->separators - 1);
                    rc = -1;
                    break;
                }
                memcpy (self->separators, val->via.str.ptr, val->via.str.size);
                self->separators[val->via.str.size] = 0;
            }
            else
            if (key->via.str.size == 10 && !memcmp (key->via.str.ptr, "min_length", 10)) {
                if (val->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
                    snprintf (err, errlen, "min_length must be an integer >= 0");
                    rc = -1;
                    break;
                }
                self->min_length = (size_t) val->via.u64;
            }
        }
    }
    msgpack_unpacked_destroy (&msg);
    if (rc)
        free (self);
    else
        *state = self;
    return rc;
}

//  Emit each word of one string; *index counts words across the tuple.
static int
s_split (const split_t *self, const char *text, size_t len, uint32_t *index,
         drover_emit_fn emit, void *emit_ctx, msgpack_sbuffer *buf)
{
    size_t at = 0;
    while (at < len) {
        while (at < len && strchr (self->separators, text[at]) && text[at])
            at++;
        size_t start = at;
        while (at < len && !(strchr (self->separators, text[at]) && text[at]))
            at++;
        if (at == start || at - start < self->min_length)
            continue;
        msgpack_sbuffer_clear (buf);
        msgpack_packer pk;
        msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
        msgpack_pack_map (&pk, 2);
        msgpack_pack_str_with_body (&pk, "word", 4);
        msgpack_pack_str_with_body (&pk, text + start, at - start);
        msgpack_pack_str_with_body (&pk, "index", 5);
        msgpack_pack_uint32 (&pk, (*index)++);
        //  Not final: the agent marks the last one final when we return.
        if (emit (emit_ctx, (const uint8_t *) buf->data, buf->size, 0))
            return -1;
    }
    return 0;
}

static int
s_handle (void *state, const uint8_t *tuple, size_t size,
          drover_emit_fn emit, void *emit_ctx, char *err, size_t errlen)
{
    const split_t *self = state;
    msgpack_unpacked msg;
    msgpack_unpacked_init (&msg);
    if (msgpack_unpack_next (&msg, (const char *) tuple, size, NULL) != MSGPACK_UNPACK_SUCCESS) {
        msgpack_unpacked_destroy (&msg);
        snprintf (err, errlen, "tuple is not msgpack");
        return -1;
    }
    const msgpack_object *items = &msg.data;
    uint32_t count = 1;
    if (msg.data.type == MSGPACK_OBJECT_ARRAY) {
        items = msg.data.via.array.ptr;
        count = msg.data.via.array.size;
    }
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    uint32_t index = 0;
    int rc = 0;
    for (uint32_t i = 0; i < count && rc == 0; i++)
        if (items[i].type == MSGPACK_OBJECT_STR)
            rc = s_split (self, items[i].via.str.ptr, items[i].via.str.size, &index,
                          emit, emit_ctx, &buf);
    msgpack_sbuffer_destroy (&buf);
    msgpack_unpacked_destroy (&msg);
    if (rc)
        snprintf (err, errlen, "emit refused");
    return rc;
}

static void
s_fini (void *state)
{
    free (state);
}

const drover_plugin_t drover_plugin = {
    .abi = DROVER_PLUGIN_ABI,
    .name = "split",
    .init = s_init,
    .handle = s_handle,
    .fini = s_fini,
};
