//  seen.c -- see seen.h.  The interface over the two stores, and the
//  store in memory: job name -> idset of tuple ids, and an undo list for
//  the open batch.  The durable store is seen_lmdb.c.
#include "sink/seen.h"

#include "sink/idset.h"
#include "sink/seen_lmdb.h"

#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    idset_t  *set;
    uint64_t  tuple;
} undo_t;

struct seen {
    seen_lmdb_t *lmdb;          //  the durable store, or NULL: in memory
    //  In memory
    zhashx_t *sets;             //  job -> idset_t
    undo_t   *undo;             //  inserts of the open batch
    size_t    undo_count;
    size_t    undo_capacity;
    seen_mark_t mem_mark;
    bool      has_mark;
    int       fresh_jobs;       //  jobs that got their first tuple in the batch
    //  Both
    bool      batch;
};

static void
s_set_free (void **item_p)
{
    idset_destroy ((idset_t **) item_p);
}

seen_t *
seen_new (void)
{
    seen_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->sets = zhashx_new ();
    if (!self->sets) {
        free (self);
        return NULL;
    }
    zhashx_set_destructor (self->sets, s_set_free);
    return self;
}

seen_t *
seen_open (const char *dir, bool sync, char *err, size_t errlen)
{
    assert (dir);
    seen_lmdb_t *lmdb = seen_lmdb_open (dir, sync, err, errlen);
    if (!lmdb)
        return NULL;
    seen_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        seen_lmdb_destroy (&lmdb);
        return NULL;
    }
    self->lmdb = lmdb;
    return self;
}

void
seen_destroy (seen_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    seen_t *self = *self_p;
    if (self->batch)
        seen_abort (self);
    zhashx_destroy (&self->sets);
    free (self->undo);
    seen_lmdb_destroy (&self->lmdb);
    free (self);
    *self_p = NULL;
}

bool
seen_durable (const seen_t *self)
{
    assert (self);
    return self->lmdb != NULL;
}

int
seen_begin (seen_t *self)
{
    assert (self && !self->batch);
    self->fresh_jobs = 0;
    self->undo_count = 0;
    if (self->lmdb) {
        int rc = seen_lmdb_begin (self->lmdb);
        if (rc)
            return rc;
    }
    self->batch = true;
    return 0;
}

static int
s_insert_memory (seen_t *self, const char *job, uint64_t tuple, bool failed,
                 bool *held_failed)
{
    if (self->undo_count == self->undo_capacity) {
        size_t capacity = self->undo_capacity? self->undo_capacity * 2: 256;
        undo_t *undo = realloc (self->undo, capacity * sizeof *undo);
        if (!undo)
            return -ENOMEM;
        self->undo = undo;
        self->undo_capacity = capacity;
    }
    idset_t *set = zhashx_lookup (self->sets, job);
    if (!set) {
        set = idset_new ();
        if (!set)
            return -ENOMEM;
        if (zhashx_insert (self->sets, job, set)) {
            idset_destroy (&set);
            return -ENOMEM;
        }
    }
    size_t before = idset_size (set);
    int rc = idset_insert (set, tuple, failed);
    if (rc == 1) {
        self->undo[self->undo_count++] = (undo_t) { set, tuple };
        self->fresh_jobs += before == 0;
    }
    else
    if (rc == 0)
        idset_get (set, tuple, &failed);
    *held_failed = failed;
    return rc;
}

int
seen_insert (seen_t *self, const char *job, uint64_t tuple, bool failed,
             bool *held_failed)
{
    assert (self && job);
    bool held = failed;
    if (!held_failed)
        held_failed = &held;
    if (!self->batch) {
        int rc = seen_begin (self);
        if (rc == 0)
            rc = seen_insert (self, job, tuple, failed, held_failed);
        if (rc < 0)
            seen_abort (self);
        else {
            int committed = seen_commit (self, NULL);
            rc = committed < 0? committed: rc;
        }
        return rc;
    }
    return self->lmdb? seen_lmdb_insert (self->lmdb, job, tuple, failed, held_failed)
                     : s_insert_memory (self, job, tuple, failed, held_failed);
}

int
seen_commit (seen_t *self, const seen_mark_t *mark)
{
    assert (self && self->batch);
    self->batch = false;
    if (self->lmdb)
        return seen_lmdb_commit (self->lmdb, mark);
    if (mark) {
        self->mem_mark = *mark;
        self->has_mark = true;
    }
    return self->fresh_jobs;
}

void
seen_abort (seen_t *self)
{
    assert (self);
    if (!self->batch)
        return;
    self->batch = false;
    if (self->lmdb) {
        seen_lmdb_abort (self->lmdb);
        return;
    }
    for (size_t i = 0; i < self->undo_count; i++)
        idset_remove (self->undo[i].set, self->undo[i].tuple);
    self->undo_count = 0;
}

int
seen_batch_new_jobs (const seen_t *self)
{
    assert (self);
    if (!self->batch)
        return 0;
    return self->lmdb? seen_lmdb_new_jobs (self->lmdb): self->fresh_jobs;
}

bool
seen_contains (seen_t *self, const char *job, uint64_t tuple)
{
    return seen_lookup (self, job, tuple, NULL);
}

bool
seen_lookup (seen_t *self, const char *job, uint64_t tuple, bool *failed)
{
    assert (self && job);
    if (self->lmdb)
        return seen_lmdb_lookup (self->lmdb, job, tuple, failed);
    idset_t *set = zhashx_lookup (self->sets, job);
    return set && idset_get (set, tuple, failed);
}

int
seen_mark (seen_t *self, seen_mark_t *mark)
{
    assert (self && mark);
    if (self->lmdb)
        return seen_lmdb_mark (self->lmdb, mark);
    *mark = self->mem_mark;
    return self->has_mark? 0: -ENOENT;
}

int64_t
seen_forget (seen_t *self, const char *job)
{
    assert (self && job && !self->batch);
    if (self->lmdb)
        return seen_lmdb_forget (self->lmdb, job);
    idset_t *set = zhashx_lookup (self->sets, job);
    int64_t forgotten = set? (int64_t) idset_size (set): 0;
    zhashx_delete (self->sets, job);
    return forgotten;
}

size_t
seen_size (seen_t *self)
{
    assert (self);
    if (self->lmdb)
        return seen_lmdb_size (self->lmdb);
    size_t size = 0;
    for (idset_t *set = zhashx_first (self->sets); set; set = zhashx_next (self->sets))
        size += idset_size (set);
    return size;
}

size_t
seen_jobs (seen_t *self)
{
    assert (self);
    if (self->lmdb)
        return seen_lmdb_jobs (self->lmdb);
    size_t jobs = 0;
    for (idset_t *set = zhashx_first (self->sets); set; set = zhashx_next (self->sets))
        jobs += idset_size (set) > 0;
    return jobs;
}
