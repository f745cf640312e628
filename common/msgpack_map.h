//  msgpack_map.h -- the value of a str key in an unpacked msgpack map: what
//  every reader of a decoded map (a JSON line, a listing entry) needs.
#ifndef DROVER_MSGPACK_MAP_H
#define DROVER_MSGPACK_MAP_H

#include <msgpack.h>

//  The value of key in map, or NULL if map is no map or lacks the key.
const msgpack_object *msgpack_map_find (const msgpack_object *map, const char *key);

#endif
