//  digest.h -- the digest a SUBMIT's batch is remembered by (idempotent
//  SUBMIT, PROTOCOL.md 4.1): of its batch id and its tuples.  Keyed
//  SipHash-2-4 (128 bits, the store's secret key) of the tuples back to
//  back, then of that digest followed by the batch id.  For a store that
//  remembered batches before it had a key, BLAKE2b of the batch id and of
//  each tuple, sizes and bytes, as then: a retry across the upgrade still
//  finds its batch.
#ifndef DROVER_BROKER_DIGEST_H
#define DROVER_BROKER_DIGEST_H

#include "broker/store.h"
#include "proto/msg.h"

typedef struct digest digest_t;

//  The store (borrowed) gives the key, once.  NULL if out of memory.
digest_t *digest_new (store_t *store);
void      digest_destroy (digest_t **self_p);
//  The digest of batch and msg's tuples into out.  0, or -ENOMEM.
int       digest_batch (digest_t *self, const char *batch, const msg_t *msg,
                        unsigned char out[STORE_DIGEST_SIZE]);

#endif
