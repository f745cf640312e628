//  packed.c -- see packed.h.  The values live in a frame (as received: it
//  moves on without a copy) or in a buffer grown by appends; offsets[i] is
//  where value i starts and offsets[count] where the last ends, so a value
//  is found in O(1) and none needs an allocation of its own.
#include "proto/packed.h"
#include "proto/schema.h"
#include "proto/validate.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct packed {
    zframe_t *frame;            //  the values, when taken as one frame
    uint8_t *buffer;            //  else here, grown by packed_append
    size_t size, capacity;      //  bytes used in buffer, and allocated
    size_t *offsets;            //  count + 1 used
    size_t count, slots;        //  values held; offsets allocated
};

packed_t *
packed_new (void)
{
    return calloc (1, sizeof (packed_t));
}

void
packed_destroy (packed_t **self_p)
{
    assert (self_p);
    packed_t *self = *self_p;
    if (!self)
        return;
    zframe_destroy (&self->frame);
    free (self->buffer);
    free (self->offsets);
    free (self);
    *self_p = NULL;
}

size_t
packed_count (const packed_t *self)
{
    assert (self);
    return self->count;
}

const void *
packed_data (const packed_t *self, size_t *size_p)
{
    assert (self);
    if (size_p)
        *size_p = self->count? self->offsets[self->count]: 0;
    if (!self->count)
        return NULL;
    return self->frame? zframe_data (self->frame): self->buffer;
}

const void *
packed_value (const packed_t *self, size_t index, size_t *size_p)
{
    assert (self);
    if (index >= self->count) {
        if (size_p)
            *size_p = 0;
        return NULL;
    }
    const uint8_t *data = self->frame? zframe_data (self->frame): self->buffer;
    if (size_p)
        *size_p = self->offsets[index + 1] - self->offsets[index];
    return data + self->offsets[index];
}

bool
packed_walked (const packed_t *self)
{
    assert (self);
    //  Values stay in the frame set_frame took until one is appended.
    return self->count == 0 || self->frame != NULL;
}

void
packed_clear (packed_t *self)
{
    assert (self);
    zframe_destroy (&self->frame);
    self->size = 0;
    self->count = 0;
}

//  Room in offsets for count values in all.
static int
s_offsets_reserve (packed_t *self, size_t count)
{
    if (count < self->slots)
        return 0;
    size_t slots = self->slots? self->slots: 16;
    while (slots <= count)
        slots *= 2;
    size_t *offsets = realloc (self->offsets, slots * sizeof *offsets);
    if (!offsets)
        return -ENOMEM;
    self->offsets = offsets;
    self->slots = slots;
    return 0;
}

int
packed_set_frame (packed_t *self, zframe_t **frame_p, size_t count)
{
    assert (self && frame_p);
    packed_clear (self);
    zframe_t *frame = *frame_p;
    *frame_p = NULL;
    const uint8_t *data = frame? zframe_data (frame): NULL;
    size_t size = frame? zframe_size (frame): 0;
    //  Every value takes a byte at least: a count no frame of this size
    //  could hold is refused before anything is allocated for it.
    int rc = count > size? -DRV_E_BAD_FRAMES
           : s_offsets_reserve (self, count) == 0? 0: -DRV_E_INTERNAL;
    size_t off = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        self->offsets[i] = off;
        size_t used = 0;
        if (off == size)
            rc = -DRV_E_BAD_FRAMES;         //  fewer values than count
        else
        if (validate_msgpack_prefix (data + off, size - off, &used) != VALIDATE_OK)
            rc = -DRV_E_BAD_TUPLE;
        off += used;
    }
    if (rc == 0 && off != size)
        rc = -DRV_E_BAD_FRAMES;             //  more than count
    if (rc) {
        zframe_destroy (&frame);
        return rc;
    }
    if (count) {
        self->offsets[count] = off;
        self->frame = frame;
        self->count = count;
    }
    else
        zframe_destroy (&frame);
    return 0;
}

//  Appends go to the buffer: a frame held until now is copied there first.
static int
s_to_buffer (packed_t *self, size_t more)
{
    size_t have = self->frame? zframe_size (self->frame): self->size;
    if (!self->frame && self->capacity - self->size >= more)
        return 0;
    size_t capacity = self->capacity > have? self->capacity: have;
    if (capacity - have < more) {
        capacity = capacity? capacity: 256;
        while (capacity - have < more)
            capacity *= 2;
    }
    uint8_t *buffer = self->frame? malloc (capacity): realloc (self->buffer, capacity);
    if (!buffer)
        return -ENOMEM;
    if (self->frame) {
        memcpy (buffer, zframe_data (self->frame), have);
        zframe_destroy (&self->frame);
        free (self->buffer);
    }
    self->buffer = buffer;
    self->size = have;
    self->capacity = capacity;
    return 0;
}

int
packed_reserve (packed_t *self, size_t count, size_t bytes)
{
    assert (self);
    if (s_offsets_reserve (self, self->count + count))
        return -ENOMEM;
    return s_to_buffer (self, bytes);
}

int
packed_append (packed_t *self, const void *data, size_t size)
{
    assert (self);
    assert (data || size == 0);
    if (s_offsets_reserve (self, self->count + 1) || s_to_buffer (self, size))
        return -ENOMEM;
    if (size)
        memcpy (self->buffer + self->size, data, size);
    self->offsets[self->count] = self->size;
    self->size += size;
    self->offsets[++self->count] = self->size;
    return 0;
}

zframe_t *
packed_pop_frame (packed_t *self)
{
    assert (self);
    if (!self->count)
        return NULL;
    zframe_t *frame = self->frame;
    self->frame = NULL;
    if (!frame && !(frame = zframe_new (self->buffer, self->size)))
        return NULL;
    packed_clear (self);
    return frame;
}
