//  handler.c -- the helpers every handler uses on its call; see handler.h.
#include "agent/handler.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void
handler_call_init (handler_call_t *call, msgpack_sbuffer *output)
{
    memset (call, 0, sizeof *call);
    call->cancel_fd = -1;
    call->output = output;
    msgpack_packer_init (&call->packer, output, msgpack_sbuffer_write);
    call->mark = output->size;
}

int
handler_emit (handler_call_t *call, bool final)
{
    const char *data = call->output->data + call->mark;
    size_t size = call->output->size - call->mark;
    call->mark = call->output->size;
    call->outputs++;
    return call->emit? call->emit (call->emit_arg, data, size, final): 0;
}

int
handler_fail (handler_call_t *call, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (call->error, sizeof call->error, fmt, ap);
    va_end (ap);
    return -1;
}

bool
handler_cancelled (const handler_call_t *call)
{
    return call->cancelled && atomic_load (call->cancelled);
}

const msgpack_object *
handler_option (const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t len = strlen (key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == len
        &&  memcmp (k->via.str.ptr, key, len) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}
