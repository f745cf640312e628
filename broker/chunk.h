//  chunk.h -- tuples as the broker holds them in memory: one buffer per
//  batch (a SUBMIT's tuples, or a read of the store), their msgpack values
//  back to back with a table of where each ends, shared by reference
//  count.  A tuple waiting, backing off or out with an agent is a payload:
//  a reference to its chunk and its index there, so no tuple costs an
//  allocation of its own, and a WORK is built by copying slices.
#ifndef DROVER_BROKER_CHUNK_H
#define DROVER_BROKER_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct chunk chunk_t;

//  An empty chunk with room for count tuples of bytes bytes (it grows past
//  that if need be), holding one reference.  NULL if out of memory.
chunk_t    *chunk_new (size_t count, size_t bytes);
//  Drop the reference *self_p holds (the chunk goes with the last), NULL it.
void        chunk_destroy (chunk_t **self_p);
//  One more reference; returns self.
chunk_t    *chunk_ref (chunk_t *self);
//  Append a copy of size bytes as the next tuple.  0 or -ENOMEM.
int         chunk_append (chunk_t *self, const void *data, size_t size);
size_t      chunk_count (const chunk_t *self);
//  All tuples' bytes.
size_t      chunk_bytes (const chunk_t *self);
//  Tuple index: its bytes, size in *size_p.
const void *chunk_tuple (const chunk_t *self, size_t index, size_t *size_p);
//  Bytes of tuples first .. first+count-1, contiguous (size in *size_p).
const void *chunk_slice (const chunk_t *self, size_t first, size_t count, size_t *size_p);

//  One tuple's bytes: a reference to its chunk and its index.  A zeroed
//  payload holds nothing.
typedef struct {
    chunk_t *chunk;
    uint32_t index;
} payload_t;

//  A payload of tuple index, taking a new reference to chunk.
payload_t   payload_of (chunk_t *chunk, size_t index);
const void *payload_data (payload_t payload, size_t *size_p);
size_t      payload_size (payload_t payload);
//  Drop the reference and zero it (nothing if it holds none).
void        payload_drop (payload_t *payload);

#endif
