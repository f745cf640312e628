//  tuple_peek.h -- reading the target of a tuple straight from its msgpack
//  bytes, allocating nothing: what the broker needs for tuples it otherwise
//  never decodes (the broker-wide exclusion list, limits keyed by host or
//  by a tuple element).  Every length is checked against the bytes, so a
//  malformed tuple is just "no target", never a read past the end.
#ifndef DROVER_TUPLE_PEEK_H
#define DROVER_TUPLE_PEEK_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *host;           //  into the tuple's bytes, not NUL-ended
    size_t host_len;
    uint16_t port;              //  0 when the tuple has none
} tuple_target_t;

//  The target of a tuple shaped [host, port, ...] or {"host": .., "port":
//  ..} (what tcp-probe takes; the port may be missing, or an integral
//  float as JSON makes them).  0, or -1 when data holds no such host.
int tuple_peek_target (const void *data, size_t size, tuple_target_t *out);
//  The bytes of one element: the index-th of an array tuple, or the value
//  of key in a map tuple (key NULL: arrays only).  0, or -1 when absent.
int tuple_peek_element (const void *data, size_t size, uint32_t index, const char *key,
                        const void **element, size_t *element_size);

#endif
