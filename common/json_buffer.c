//  json_buffer.c -- see json_buffer.h.
#include "common/json_buffer.h"

#include <stdint.h>
#include <stdlib.h>

int
json_buffer_reserve (json_buffer_t *self, size_t more)
{
    if (self->capacity - self->size >= more)
        return 0;
    size_t capacity = self->capacity? self->capacity: 4096;
    while (capacity - self->size < more) {
        if (capacity > SIZE_MAX / 2)
            return -1;
        capacity *= 2;
    }
    char *data = realloc (self->data, capacity);
    if (!data)
        return -1;
    self->data = data;
    self->capacity = capacity;
    return 0;
}

void
json_buffer_free (json_buffer_t *self)
{
    free (self->data);
    *self = (json_buffer_t) { 0 };
}
