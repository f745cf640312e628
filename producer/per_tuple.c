//  per_tuple.c -- see per_tuple.h.  A run is extended while tuples come
//  in order with the same value, so a batch of tuples at one priority is
//  one run however many it holds.
#include "producer/per_tuple.h"

#include "common/grow.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t position, count, value;
} run_t;

//  One key's runs.
typedef struct {
    const char *name;
    run_t *runs;
    size_t count, capacity;
} key_runs_t;

struct per_tuple {
    key_runs_t priority, not_before;
};

per_tuple_t *
per_tuple_new (void)
{
    per_tuple_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->priority.name = "priority";
    self->not_before.name = "not_before";
    return self;
}

void
per_tuple_destroy (per_tuple_t **self_p)
{
    per_tuple_t *self = *self_p;
    if (!self)
        return;
    free (self->priority.runs);
    free (self->not_before.runs);
    free (self);
    *self_p = NULL;
}

static int
s_add (key_runs_t *key, uint64_t position, uint64_t value)
{
    run_t *last = key->count? &key->runs[key->count - 1]: NULL;
    if (last && last->value == value && last->position + last->count == position) {
        last->count++;
        return 0;
    }
    if (grow ((void **) &key->runs, &key->capacity, key->count, sizeof *key->runs))
        return -ENOMEM;
    key->runs[key->count++] = (run_t) { position, 1, value };
    return 0;
}

int
per_tuple_add (per_tuple_t *self, size_t position, int priority, uint64_t not_before)
{
    if (priority >= 0 && s_add (&self->priority, position, (uint64_t) priority))
        return -ENOMEM;
    if (not_before && s_add (&self->not_before, position, not_before))
        return -ENOMEM;
    return 0;
}

size_t
per_tuple_runs (const per_tuple_t *self)
{
    return self->priority.count + self->not_before.count;
}

static int
s_pack_key (msgpack_packer *pk, key_runs_t *key)
{
    if (key->count == 0)
        return 0;
    int rc = msgpack_pack_str (pk, strlen (key->name))
           | msgpack_pack_str_body (pk, key->name, strlen (key->name))
           | msgpack_pack_array (pk, key->count);
    for (size_t i = 0; i < key->count; i++)
        rc |= msgpack_pack_array (pk, 3)
            | msgpack_pack_uint64 (pk, key->runs[i].position)
            | msgpack_pack_uint64 (pk, key->runs[i].count)
            | msgpack_pack_uint64 (pk, key->runs[i].value);
    key->count = 0;
    return rc;
}

int
per_tuple_take (per_tuple_t *self, msgpack_sbuffer *buffer)
{
    msgpack_sbuffer_clear (buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, buffer, msgpack_sbuffer_write);
    int rc = msgpack_pack_map (&pk, (self->priority.count > 0) + (self->not_before.count > 0));
    rc |= s_pack_key (&pk, &self->priority);
    rc |= s_pack_key (&pk, &self->not_before);
    return rc? -ENOMEM: 0;
}
