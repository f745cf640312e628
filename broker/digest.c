//  digest.c -- see digest.h.  The keyed digest hashes the tuples where they
//  lie, one packed buffer (proto/msg.h), in one call: a third of what
//  BLAKE2b's small updates cost, two a tuple (bench/README.md).  Each tuple
//  is exactly one msgpack value (a SUBMIT with any other is refused), so
//  the bytes back to back still say where each tuple ends.
#include "broker/digest.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

_Static_assert (STORE_DIGEST_KEY_SIZE == crypto_shorthash_siphashx24_KEYBYTES
             && STORE_DIGEST_SIZE == crypto_shorthash_siphashx24_BYTES,
                "a batch digest is one SipHash-2-4 of 128 bits");

struct digest {
    bool keyed;                 //  SipHash with key; else BLAKE2b
    unsigned char key[STORE_DIGEST_KEY_SIZE];
    unsigned char *scratch;     //  the tuples' digest, then the batch id
    size_t scratch_size;
};

digest_t *
digest_new (store_t *store)
{
    digest_t *self = calloc (1, sizeof *self);
    if (self)
        self->keyed = store_digest_key (store, self->key) == 0;
    return self;
}

void
digest_destroy (digest_t **self_p)
{
    digest_t *self = *self_p;
    if (!self)
        return;
    sodium_memzero (self->key, sizeof self->key);
    free (self->scratch);
    free (self);
    *self_p = NULL;
}

static void
s_blake2b (const char *batch, const msg_t *msg, unsigned char *out)
{
    crypto_generichash_state state;
    crypto_generichash_init (&state, NULL, 0, STORE_DIGEST_SIZE);
    uint64_t size = strlen (batch);
    crypto_generichash_update (&state, (const unsigned char *) &size, sizeof size);
    crypto_generichash_update (&state, (const unsigned char *) batch, size);
    size_t count = msg_tuple_count (msg);
    for (size_t i = 0; i < count; i++) {
        size_t tuple_size;
        const void *tuple = msg_tuple (msg, i, &tuple_size);
        size = tuple_size;
        crypto_generichash_update (&state, (const unsigned char *) &size, sizeof size);
        crypto_generichash_update (&state, tuple, tuple_size);
    }
    crypto_generichash_final (&state, out, STORE_DIGEST_SIZE);
}

//  Room for size bytes in the scratch buffer.
static int
s_reserve (digest_t *self, size_t size)
{
    if (size <= self->scratch_size)
        return 0;
    unsigned char *scratch = malloc (size);
    if (!scratch)
        return -ENOMEM;
    free (self->scratch);
    self->scratch = scratch;
    self->scratch_size = size;
    return 0;
}

int
digest_batch (digest_t *self, const char *batch, const msg_t *msg,
              unsigned char out[STORE_DIGEST_SIZE])
{
    if (!self->keyed) {
        s_blake2b (batch, msg, out);
        return 0;
    }
    size_t batch_size = strlen (batch);
    if (s_reserve (self, STORE_DIGEST_SIZE + batch_size))
        return -ENOMEM;
    static const unsigned char none[1];
    size_t size;
    const unsigned char *tuples = msg_tuples_packed (msg, &size);
    crypto_shorthash_siphashx24 (self->scratch, tuples? tuples: none, size, self->key);
    memcpy (self->scratch + STORE_DIGEST_SIZE, batch, batch_size);
    crypto_shorthash_siphashx24 (out, self->scratch, STORE_DIGEST_SIZE + batch_size, self->key);
    return 0;
}
