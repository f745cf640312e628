//  pool_results.c -- results packed back to back in one buffer (see
//  pool.h): how the handler threads hand results to their reactor, and how
//  a worker sends them to the supervisor, with no allocation per result.
#include "agent/pool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int
pool_results_add (pool_results_t *self, const pool_record_t *head, const void *data, size_t size)
{
    size_t need = self->size + (head? sizeof *head: 0) + size;
    if (need > self->cap) {
        size_t cap = self->cap? self->cap: 4096;
        while (cap < need)
            cap *= 2;
        uint8_t *more = realloc (self->data, cap);
        if (!more)
            return -ENOMEM;
        self->data = more;
        self->cap = cap;
    }
    if (head) {
        pool_record_t copy = *head;
        copy.size = (uint32_t) size;
        memcpy (self->data + self->size, &copy, sizeof copy);
        self->size += sizeof copy;
    }
    if (size)
        memcpy (self->data + self->size, data, size);
    self->size += size;
    return 0;
}

bool
pool_results_next (const uint8_t **cursor, const uint8_t *end, pool_record_t *head,
                   const void **data_p)
{
    if ((size_t) (end - *cursor) < sizeof *head)
        return false;
    memcpy (head, *cursor, sizeof *head);
    if ((size_t) (end - *cursor) - sizeof *head < head->size)
        return false;
    *data_p = *cursor + sizeof *head;
    *cursor += sizeof *head + head->size;
    return true;
}

void
pool_results_free (pool_results_t *self)
{
    free (self->data);
    *self = (pool_results_t) { 0 };
}
