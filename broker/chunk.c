//  chunk.c -- see chunk.h.  The header, the end table and the bytes are
//  separate allocations so that appending can grow either; a chunk is
//  made once per batch, never per tuple.
#include "broker/chunk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct chunk {
    size_t refs;
    size_t count;
    size_t count_max;
    uint32_t *ends;             //  end of tuple i in data
    unsigned char *data;
    size_t bytes;
    size_t bytes_max;
};

chunk_t *
chunk_new (size_t count, size_t bytes)
{
    chunk_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->refs = 1;
    self->count_max = count? count: 16;
    self->bytes_max = bytes? bytes: 1024;
    self->ends = malloc (self->count_max * sizeof *self->ends);
    self->data = malloc (self->bytes_max);
    if (!self->ends || !self->data)
        chunk_destroy (&self);
    return self;
}

void
chunk_destroy (chunk_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    chunk_t *self = *self_p;
    *self_p = NULL;
    if (--self->refs > 0)
        return;
    free (self->ends);
    free (self->data);
    free (self);
}

chunk_t *
chunk_ref (chunk_t *self)
{
    self->refs++;
    return self;
}

int
chunk_append (chunk_t *self, const void *data, size_t size)
{
    if (self->bytes + size > UINT32_MAX)
        return -ENOMEM;
    if (self->count == self->count_max) {
        uint32_t *ends = realloc (self->ends, 2 * self->count_max * sizeof *ends);
        if (!ends)
            return -ENOMEM;
        self->ends = ends;
        self->count_max *= 2;
    }
    if (self->bytes + size > self->bytes_max) {
        size_t max = 2 * (self->bytes + size);
        unsigned char *grown = realloc (self->data, max);
        if (!grown)
            return -ENOMEM;
        self->data = grown;
        self->bytes_max = max;
    }
    if (size)
        memcpy (self->data + self->bytes, data, size);
    self->bytes += size;
    self->ends[self->count++] = (uint32_t) self->bytes;
    return 0;
}

size_t
chunk_count (const chunk_t *self)
{
    return self->count;
}

size_t
chunk_bytes (const chunk_t *self)
{
    return self->bytes;
}

const void *
chunk_slice (const chunk_t *self, size_t first, size_t count, size_t *size_p)
{
    size_t start = first? self->ends[first - 1]: 0;
    *size_p = count? self->ends[first + count - 1] - start: 0;
    return self->data + start;
}

const void *
chunk_tuple (const chunk_t *self, size_t index, size_t *size_p)
{
    return chunk_slice (self, index, 1, size_p);
}

payload_t
payload_of (chunk_t *chunk, size_t index)
{
    return (payload_t) { chunk_ref (chunk), (uint32_t) index };
}

const void *
payload_data (payload_t payload, size_t *size_p)
{
    if (!payload.chunk) {
        *size_p = 0;
        return NULL;
    }
    return chunk_tuple (payload.chunk, payload.index, size_p);
}

size_t
payload_size (payload_t payload)
{
    size_t size;
    payload_data (payload, &size);
    return size;
}

void
payload_drop (payload_t *payload)
{
    chunk_destroy (&payload->chunk);
    payload->index = 0;
}
