//  store_memory.c -- the store that keeps nothing durable (`--store memory`):
//  the queue in memory is all there is, so a broker restart loses every
//  tuple.  For benchmarks and throwaway runs; see store.h for the interface.
//  It still remembers SUBMIT batches, so a retried SUBMIT is a no-op here too.
#include "broker/store.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    zhashx_t *batches;          //  "number/digest" -> store_batch_t
    zhashx_t *order;            //  "number:seq" -> that key (to forget)
    unsigned char digest_key[STORE_DIGEST_KEY_SIZE];    //  this process's
} memory_t;

static int
s_nothing (void *state)
{
    (void) state;
    return 0;
}

static int
s_put_job (void *state, const job_t *job)
{
    (void) state;
    (void) job;
    return 0;
}

static int
s_put_batch (void *state, const job_t *job, uint64_t first, const chunk_t *chunk)
{
    (void) state;
    (void) job;
    (void) first;
    (void) chunk;
    return 0;
}

static int
s_refs (void *state, const job_t *job, const msg_ref_t *refs, size_t count)
{
    (void) state;
    (void) job;
    (void) refs;
    (void) count;
    return 0;
}

//  "number/digest in hex": a batch's key, as in the LMDB store.
static void
s_batch_key (char *key, size_t size, const job_t *job, const store_batch_t *record)
{
    int n = snprintf (key, size, "%u/", job_number (job));
    sodium_bin2hex (key + n, size - (size_t) n, record->digest, STORE_DIGEST_SIZE);
}

static int
s_batch_get (void *state, const job_t *job, store_batch_t *record)
{
    memory_t *self = (memory_t *) state;
    char key[64];
    s_batch_key (key, sizeof key, job, record);
    store_batch_t *found = (store_batch_t *) zhashx_lookup (self->batches, key);
    if (!found)
        return -ENOENT;
    *record = *found;
    return 0;
}

static int
s_batch_put (void *state, const job_t *job, const store_batch_t *batch_record,
             uint64_t seq, uint64_t keep)
{
    memory_t *self = (memory_t *) state;
    char key[64], order[64];
    if (seq >= keep) {
        snprintf (order, sizeof order, "%u:%" PRIu64, job_number (job), seq - keep);
        char *old = (char *) zhashx_lookup (self->order, order);
        if (old) {
            zhashx_delete (self->batches, old);
            zhashx_delete (self->order, order);
        }
    }
    s_batch_key (key, sizeof key, job, batch_record);
    store_batch_t *record = malloc (sizeof *record);
    char *name = strdup (key);
    if (!record || !name) {
        free (record);
        free (name);
        return -ENOMEM;
    }
    *record = *batch_record;
    snprintf (order, sizeof order, "%u:%" PRIu64, job_number (job), seq);
    zhashx_update (self->batches, key, record);
    zhashx_update (self->order, order, name);
    return 0;
}

static void
s_destroy (void **state_p)
{
    memory_t *self = (memory_t *) *state_p;
    if (!self)
        return;
    zhashx_destroy (&self->batches);
    zhashx_destroy (&self->order);
    free (self);
    *state_p = NULL;
}

//  The batches go with the process, and so can the key.
static int
s_digest_key (void *state, unsigned char key[STORE_DIGEST_KEY_SIZE])
{
    memcpy (key, ((memory_t *) state)->digest_key, STORE_DIGEST_KEY_SIZE);
    return 0;
}

static const store_ops_t s_memory_ops = {
    .name = "memory",
    .durable = false,
    .begin = s_nothing,
    .commit = s_nothing,
    .put_job = s_put_job,
    .put_batch = s_put_batch,
    .requeue = s_refs,
    .remove = s_refs,
    .read = NULL,
    .batch_get = s_batch_get,
    .batch_put = s_batch_put,
    .digest_key = s_digest_key,
    .load = NULL,
    .destroy = s_destroy,
};

store_t *
store_memory_new (void)
{
    memory_t *self = sodium_init () < 0? NULL: calloc (1, sizeof *self);
    if (!self)
        return NULL;
    randombytes_buf (self->digest_key, sizeof self->digest_key);
    self->batches = zhashx_new ();
    self->order = zhashx_new ();
    if (!self->batches || !self->order) {
        void *state = self;
        s_destroy (&state);
        return NULL;
    }
    zhashx_set_destructor (self->batches, (zhashx_destructor_fn *) zstr_free);
    zhashx_set_destructor (self->order, (zhashx_destructor_fn *) zstr_free);
    return store_new (&s_memory_ops, self);
}
