//  deps_batch.c -- see deps_batch.h.  The map is decoded once into a flat
//  array of refs with an offset per tuple; the cycle check is Kahn's
//  algorithm on the edges inside the batch (reverse adjacency in one
//  array), so it costs O(tuples + edges) and no recursion.
#include "broker/deps_batch.h"

#include <errno.h>
#include <inttypes.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct deps_batch {
    size_t count;               //  tuples in the SUBMIT
    size_t *offsets;            //  count + 1: tuple i's refs are [offsets[i], offsets[i+1])
    deps_ref_t *refs;
    size_t with;                //  tuples with dependencies
};

typedef struct {
    const char *name;           //  the SUBMIT's job
    uint64_t first;
    size_t count;
    deps_batch_job_fn *fn;
    void *arg;
    char *reason;
    size_t reason_size;
} context_t;

static bool
s_refuse (const context_t *c, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static bool
s_refuse (const context_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (c->reason, c->reason_size, fmt, ap);
    va_end (ap);
    return false;
}

void
deps_batch_destroy (deps_batch_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    deps_batch_t *self = *self_p;
    free (self->offsets);
    free (self->refs);
    free (self);
    *self_p = NULL;
}

const deps_ref_t *
deps_batch_of (const deps_batch_t *self, size_t i, size_t *count_p)
{
    *count_p = self->offsets[i + 1] - self->offsets[i];
    return self->refs + self->offsets[i];
}

size_t
deps_batch_tuples (const deps_batch_t *self)
{
    return self->with;
}

//  "JOB:ID" into *ref: the job by name (this job: DEPS_BATCH_OWN) and an id
//  it has.  position is the tuple's, for the reason.
static bool
s_other (const context_t *c, const msgpack_object_str *str, size_t position, deps_ref_t *ref)
{
    const char *colon = NULL;
    for (uint32_t i = 0; i < str->size; i++)
        if (str->ptr[i] == ':')
            colon = str->ptr + i;
    char digits[24];
    size_t name_size = colon? (size_t) (colon - str->ptr): 0;
    size_t digits_size = colon? str->size - name_size - 1: 0;
    if (!colon || name_size == 0 || digits_size == 0 || digits_size >= sizeof digits)
        return s_refuse (c, "deps: tuple %zu: \"%.*s\" is not JOB:ID", position,
                         (int) (str->size < 64? str->size: 64), str->ptr);
    memcpy (digits, colon + 1, digits_size);
    digits[digits_size] = 0;
    char *end;
    errno = 0;
    uint64_t id = strtoull (digits, &end, 10);
    if (*end || errno || digits[0] < '0' || digits[0] > '9')
        return s_refuse (c, "deps: tuple %zu: \"%.*s\" is not JOB:ID", position,
                         (int) (str->size < 64? str->size: 64), str->ptr);
    if (name_size == strlen (c->name) && !memcmp (str->ptr, c->name, name_size)) {
        *ref = (deps_ref_t) { DEPS_BATCH_OWN, id };
        return true;
    }
    uint32_t job;
    uint64_t next_id;
    if (!c->fn || !c->fn (c->arg, str->ptr, name_size, &job, &next_id))
        return s_refuse (c, "deps: tuple %zu: no job %.*s", position,
                         (int) (name_size < 64? name_size: 64), str->ptr);
    if (id == 0 || id >= next_id)
        return s_refuse (c, "deps: tuple %zu: job %.*s has no tuple %" PRIu64 " (its ids: 1 "
                         "to %" PRIu64 ")", position, (int) (name_size < 64? name_size: 64),
                         str->ptr, id, next_id - 1);
    *ref = (deps_ref_t) { job, id };
    return true;
}

//  One dependency of the tuple at position (from 1) into *ref.
static bool
s_dependency (const context_t *c, const msgpack_object *o, size_t position, deps_ref_t *ref)
{
    uint64_t own = c->first + position - 1;
    if (o->type == MSGPACK_OBJECT_STR && !s_other (c, &o->via.str, position, ref))
        return false;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        *ref = (deps_ref_t) { DEPS_BATCH_OWN, o->via.u64 };
    else
    if (o->type != MSGPACK_OBJECT_STR)
        return s_refuse (c, "deps: tuple %zu: a dependency is a uint (an id of job %.64s) "
                         "or a str JOB:ID", position, c->name);
    if (ref->job != DEPS_BATCH_OWN)
        return true;
    if (ref->id == own)
        return s_refuse (c, "deps: tuple %zu (id %" PRIu64 ") depends on itself: a cycle",
                         position, own);
    if (ref->id == 0 || ref->id >= c->first + c->count)
        return s_refuse (c, "deps: tuple %zu: job %.64s has no tuple %" PRIu64 " (its ids "
                         "with this SUBMIT: 1 to %" PRIu64 ")", position, c->name, ref->id,
                         c->first + c->count - 1);
    return true;
}

static bool
s_reserve (deps_batch_t *self, size_t *capacity, size_t need)
{
    if (need <= *capacity)
        return true;
    size_t more = *capacity * 2 > need? *capacity * 2: need + 16;
    deps_ref_t *refs = realloc (self->refs, more * sizeof *refs);
    if (!refs)
        return false;
    self->refs = refs;
    *capacity = more;
    return true;
}

//  The map's entries into self: refs grouped by tuple, in position order.
//  Positions may come in any order: first counted, then placed.
static bool
s_decode (deps_batch_t *self, const context_t *c, const msgpack_object_map *map)
{
    for (uint32_t k = 0; k < map->size; k++) {
        const msgpack_object *key = &map->ptr[k].key, *value = &map->ptr[k].val;
        if (key->type != MSGPACK_OBJECT_POSITIVE_INTEGER || key->via.u64 == 0
        ||  key->via.u64 > c->count)
            return s_refuse (c, "deps: a key must be a tuple's position in the SUBMIT, 1 "
                             "to %zu", c->count);
        if (value->type != MSGPACK_OBJECT_ARRAY)
            return s_refuse (c, "deps: tuple %" PRIu64 ": not an array of dependencies",
                             key->via.u64);
        size_t i = (size_t) key->via.u64 - 1;
        if (self->offsets[i + 1])
            return s_refuse (c, "deps: tuple %" PRIu64 " appears twice", key->via.u64);
        self->offsets[i + 1] = value->via.array.size + 1;     //  + 1: seen
    }
    size_t total = 0;
    for (size_t i = 0; i < c->count; i++) {
        size_t n = self->offsets[i + 1]? self->offsets[i + 1] - 1: 0;
        self->with += n > 0;
        self->offsets[i] = total;
        total += n;
    }
    self->offsets[c->count] = total;
    size_t capacity = 0;
    if (!s_reserve (self, &capacity, total + 1))
        return s_refuse (c, "out of memory");
    for (uint32_t k = 0; k < map->size; k++) {
        size_t position = (size_t) map->ptr[k].key.via.u64;
        const msgpack_object_array *deps = &map->ptr[k].val.via.array;
        for (uint32_t d = 0; d < deps->size; d++)
            if (!s_dependency (c, &deps->ptr[d], position,
                               &self->refs[self->offsets[position - 1] + d]))
                return false;
    }
    return true;
}

//  Kahn's algorithm on the batch's own edges: a tuple is done once every
//  dependency of it inside the batch is.  Tuples never done are on a cycle.
static bool
s_acyclic (const deps_batch_t *self, const context_t *c)
{
    size_t n = c->count, edges = self->offsets[n];
    size_t *in = calloc (n, sizeof *in);            //  unmet in-batch deps
    size_t *start = calloc (n + 1, sizeof *start);  //  reverse adjacency
    size_t *out = calloc (edges + 1, sizeof *out);
    size_t *ready = calloc (n + 1, sizeof *ready);
    bool ok = in && start && out && ready;
    for (size_t i = 0; ok && i < n; i++)
        for (size_t e = self->offsets[i]; e < self->offsets[i + 1]; e++)
            if (self->refs[e].job == DEPS_BATCH_OWN && self->refs[e].id >= c->first) {
                in[i]++;
                start[self->refs[e].id - c->first]++;
            }
    for (size_t i = 0, sum = 0; ok && i <= n; i++) {
        size_t here = i < n? start[i]: 0;
        start[i] = sum;
        sum += here;
    }
    size_t *fill = ok? calloc (n + 1, sizeof *fill): NULL;
    ok = ok && fill;
    for (size_t i = 0; ok && i < n; i++)
        for (size_t e = self->offsets[i]; e < self->offsets[i + 1]; e++)
            if (self->refs[e].job == DEPS_BATCH_OWN && self->refs[e].id >= c->first) {
                size_t from = (size_t) (self->refs[e].id - c->first);
                out[start[from] + fill[from]++] = i;
            }
    size_t head = 0, tail = 0;
    for (size_t i = 0; ok && i < n; i++)
        if (in[i] == 0)
            ready[tail++] = i;
    while (ok && head < tail) {
        size_t from = ready[head++];
        for (size_t e = start[from]; e < start[from + 1]; e++)
            if (--in[out[e]] == 0)
                ready[tail++] = out[e];
    }
    if (!ok)
        s_refuse (c, "out of memory");
    else
    if (tail < n) {
        size_t on = 0;
        while (in[on] == 0)
            on++;
        ok = s_refuse (c, "deps: a cycle: tuple %zu (id %" PRIu64 ") and %zu others of "
                       "this SUBMIT wait on each other", on + 1, c->first + on,
                       n - tail - 1);
    }
    free (in);
    free (start);
    free (out);
    free (ready);
    free (fill);
    return ok;
}

deps_batch_t *
deps_batch_new (const void *map, size_t size, size_t count, const char *name,
                uint64_t first, deps_batch_job_fn *fn, void *arg,
                char *reason, size_t reason_size)
{
    context_t c = { name, first, count, fn, arg, reason, reason_size };
    deps_batch_t *self = calloc (1, sizeof *self);
    if (!self || !(self->offsets = calloc (count + 1, sizeof *self->offsets))) {
        s_refuse (&c, "out of memory");
        free (self);
        return NULL;
    }
    self->count = count;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    bool ok = msgpack_unpack_next (&unpacked, map, size, NULL) == MSGPACK_UNPACK_SUCCESS
           && unpacked.data.type == MSGPACK_OBJECT_MAP;
    if (!ok)
        s_refuse (&c, "deps: not a map of positions to dependencies");
    ok = ok && s_decode (self, &c, &unpacked.data.via.map) && s_acyclic (self, &c);
    msgpack_unpacked_destroy (&unpacked);
    if (!ok)
        deps_batch_destroy (&self);
    return self;
}
