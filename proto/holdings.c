//  holdings.c -- see holdings.h.  The agent adds refs in no order; encode
//  sorts them by job and id, so consecutive ids at one attempt pack into
//  one run, and writes the map with msgpack-c.
#include "proto/holdings.h"
#include "proto/header.h"
#include "proto/schema.h"

#include <errno.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#define JOB_NAME_MAX 1024           //  longer names are not a job's (broker: 255)

typedef struct {
    const char *job;
    msg_ref_t ref;
} entry_t;

struct holdings {
    entry_t *entries;
    size_t count, cap;
};

holdings_t *
holdings_new (void)
{
    return calloc (1, sizeof (holdings_t));
}

void
holdings_destroy (holdings_t **self_p)
{
    holdings_t *self = *self_p;
    if (!self)
        return;
    free (self->entries);
    free (self);
    *self_p = NULL;
}

int
holdings_add (holdings_t *self, const char *job, msg_ref_t ref)
{
    if (self->count == self->cap) {
        size_t cap = self->cap? self->cap * 2: 64;
        entry_t *more = realloc (self->entries, cap * sizeof *more);
        if (!more)
            return -ENOMEM;
        self->entries = more;
        self->cap = cap;
    }
    self->entries[self->count++] = (entry_t) { job, ref };
    return 0;
}

size_t
holdings_count (const holdings_t *self)
{
    return self->count;
}

static int
s_order (const void *a, const void *b)
{
    const entry_t *x = a, *y = b;
    int c = strcmp (x->job, y->job);
    if (c)
        return c;
    return x->ref.id < y->ref.id? -1: x->ref.id > y->ref.id;
}

//  The runs of entries[*at ..] of one job (ids sorted; a repeated id is
//  named once), into runs (room for all of them).  Returns how many.
static size_t
s_job_runs (holdings_t *self, size_t *at, msg_run_t *runs)
{
    const char *job = self->entries[*at].job;
    size_t count = 0;
    for (; *at < self->count && !strcmp (self->entries[*at].job, job); (*at)++) {
        msg_ref_t ref = self->entries[*at].ref;
        if (count && runs[count - 1].first + runs[count - 1].count - 1 == ref.id)
            continue;                           //  the same tuple twice
        runs_append (runs, &count, ref.id, ref.attempt);
    }
    return count;
}

static void
s_pack_job (msgpack_packer *pk, const char *job, const msg_run_t *runs, size_t count)
{
    msgpack_pack_str (pk, strlen (job));
    msgpack_pack_str_body (pk, job, strlen (job));
    header_runs_pack (pk, runs, count);
}

//  Each job's runs are packed on their own first (a map's size comes
//  before its entries), and kept while the whole stays within max.
int
holdings_encode (holdings_t *self, size_t max, void **data_p, size_t *size_p,
                 size_t *named_p)
{
    if (self->count)
        qsort (self->entries, self->count, sizeof *self->entries, s_order);
    msg_run_t *runs = malloc ((self->count? self->count: 1) * sizeof *runs);
    msgpack_sbuffer body, head;
    msgpack_sbuffer_init (&body);
    msgpack_sbuffer_init (&head);
    msgpack_packer pk;
    size_t jobs = 0, named = 0;
    for (size_t at = 0; runs && at < self->count; ) {
        size_t mark = body.size;
        size_t count = s_job_runs (self, &at, runs);
        msgpack_packer_init (&pk, &body, msgpack_sbuffer_write);
        s_pack_job (&pk, self->entries[at - 1].job, runs, count);
        if (body.size + 16 > max) {
            body.size = mark;                   //  left out: it does not fit
            continue;
        }
        jobs++;
        named += runs_total (runs, count);
    }
    msgpack_packer_init (&pk, &head, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, jobs);
    int rc = -ENOMEM;
    void *data = runs? malloc (head.size + body.size): NULL;
    if (data) {
        memcpy (data, head.data, head.size);
        if (body.size)
            memcpy ((char *) data + head.size, body.data, body.size);
        *data_p = data;
        *size_p = head.size + body.size;
        *named_p = named;
        rc = 0;
    }
    msgpack_sbuffer_destroy (&body);
    msgpack_sbuffer_destroy (&head);
    free (runs);
    return rc;
}

int
holdings_each (const void *data, size_t size, holdings_fn *fn, void *arg)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    int rc = msgpack_unpack_next (&unpacked, data, size, NULL) == MSGPACK_UNPACK_SUCCESS
          && unpacked.data.type == MSGPACK_OBJECT_MAP? 0: -DRV_E_BAD_TYPE;
    const msgpack_object_map *map = &unpacked.data.via.map;
    for (size_t i = 0; rc == 0 && i < map->size; i++) {
        const msgpack_object *key = &map->ptr[i].key;
        if (key->type != MSGPACK_OBJECT_STR || key->via.str.size >= JOB_NAME_MAX) {
            rc = -DRV_E_BAD_TYPE;
            break;
        }
        char job[JOB_NAME_MAX];
        memcpy (job, key->via.str.ptr, key->via.str.size);
        job[key->via.str.size] = 0;
        msg_run_t *runs = NULL;
        size_t count = 0;
        rc = header_runs_parse (&map->ptr[i].val, &runs, &count);
        if (rc == 0 && !runs_valid (runs, count, NULL))
            rc = -DRV_E_BAD_TYPE;
        if (rc == 0)
            fn (arg, job, runs, count);
        free (runs);
    }
    msgpack_unpacked_destroy (&unpacked);
    return rc;
}
