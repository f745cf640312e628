//  msgpack_map.c -- see msgpack_map.h.  A linear walk: the maps read this
//  way have a dozen keys.
#include "common/msgpack_map.h"

#include <string.h>

const msgpack_object *
msgpack_map_find (const msgpack_object *map, const char *key)
{
    size_t size = strlen (key);
    for (uint32_t i = 0; map->type == MSGPACK_OBJECT_MAP && i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == size
        &&  !memcmp (k->via.str.ptr, key, size))
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}
