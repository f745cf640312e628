//  test_digest.c -- the digest SUBMIT batches are remembered by
//  (broker/digest.c): SipHash-2-4 with the store's key of the tuples, then
//  of that and the batch id; BLAKE2b of the batch id and each tuple's size
//  and bytes, as before keys, for a store that has none.  Both are
//  computed here from their definitions, so a change of either would show.
#include "broker/digest.h"
#include "broker/store.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <sodium.h>
#include <string.h>

static msg_t *
s_submit (const char *const *tuples, size_t count)
{
    msg_t *msg = msg_new (MSG_SUBMIT);
    cr_assert_not_null (msg);
    for (size_t i = 0; i < count; i++)
        cr_assert_eq (msg_add_tuple (msg, tuples[i], strlen (tuples[i])), 0);
    return msg;
}

static void
s_digest (store_t *store, const char *batch, const char *const *tuples, size_t count,
          unsigned char out[STORE_DIGEST_SIZE])
{
    digest_t *digest = digest_new (store);
    cr_assert_not_null (digest);
    msg_t *msg = s_submit (tuples, count);
    cr_assert_eq (digest_batch (digest, batch, msg, out), 0);
    msg_destroy (&msg);
    digest_destroy (&digest);
    cr_assert_null (digest);
}

//  What BLAKE2b covers: each item's size (8 bytes, host order) and its
//  bytes.
static size_t
s_layout (const char *batch, const char *const *tuples, size_t count, unsigned char *out)
{
    size_t at = 0;
    for (size_t i = 0; i <= count; i++) {
        const char *item = i? tuples[i - 1]: batch;
        uint64_t size = strlen (item);
        memcpy (out + at, &size, 8);
        memcpy (out + at + 8, item, size);
        at += 8 + size;
    }
    return at;
}

static const char *const s_tuples[] = { "\x91\x01", "\xa3\x61\x62\x63", "\x07", "\xc0" };

Test (digest, is_siphash_with_the_stores_key)
{
    cr_assert_geq (sodium_init (), 0);
    store_t *store = store_memory_new ();
    unsigned char key[STORE_DIGEST_KEY_SIZE], got[STORE_DIGEST_SIZE], want[16];
    cr_assert_eq (store_digest_key (store, key), 0);
    s_digest (store, "run-7:1", s_tuples, 4, got);
    const char *packed = "\x91\x01\xa3\x61\x62\x63\x07\xc0";
    unsigned char outer[16 + 7];
    crypto_shorthash_siphashx24 (outer, (const unsigned char *) packed, 8, key);
    memcpy (outer + 16, "run-7:1", 7);
    crypto_shorthash_siphashx24 (want, outer, sizeof outer, key);
    cr_assert_arr_eq (got, want, sizeof want);
    store_destroy (&store);
}

Test (digest, tells_batches_apart)
{
    store_t *store = store_memory_new ();
    unsigned char first[STORE_DIGEST_SIZE], again[STORE_DIGEST_SIZE];
    unsigned char other[STORE_DIGEST_SIZE];
    s_digest (store, "b1", s_tuples, 4, first);
    s_digest (store, "b1", s_tuples, 4, again);
    cr_assert_arr_eq (first, again, sizeof first, "a retry gets the same digest");

    s_digest (store, "b2", s_tuples, 4, other);
    cr_assert_arr_neq (first, other, sizeof first, "another batch id");
    s_digest (store, "b1", s_tuples, 3, other);
    cr_assert_arr_neq (first, other, sizeof first, "a tuple fewer");
    const char *const moved[] = { "\x01", "\x02" }, *const moved_back[] = { "\x02", "\x01" };
    s_digest (store, "b1", moved, 2, first);
    s_digest (store, "b1", moved_back, 2, other);
    cr_assert_arr_neq (first, other, sizeof first, "the same tuples in another order");
    const char *const none[] = { NULL };
    s_digest (store, "b1", none, 0, other);
    cr_assert_arr_neq (first, other, sizeof first, "no tuples");

    //  Another broker's memory store has another key.
    store_t *another = store_memory_new ();
    s_digest (another, "b1", moved, 2, other);
    cr_assert_arr_neq (first, other, sizeof first, "another key");
    store_destroy (&another);
    store_destroy (&store);
}

//  A store that remembered batches before keys (the LMDB store of an
//  earlier broker, test_store_lmdb.c) answers -ENOENT: BLAKE2b, as then.
static int
s_no_key (void *state, unsigned char key[STORE_DIGEST_KEY_SIZE])
{
    (void) state;
    (void) key;
    return -ENOENT;
}

Test (digest, is_blake2b_as_before_where_the_store_has_no_key)
{
    cr_assert_geq (sodium_init (), 0);
    store_t *memory = store_memory_new ();
    store_ops_t ops = { .name = "old", .digest_key = s_no_key };
    store_t *store = store_new (&ops, NULL);
    cr_assert_not_null (store);
    unsigned char got[STORE_DIGEST_SIZE], want[STORE_DIGEST_SIZE], keyed[STORE_DIGEST_SIZE];
    s_digest (store, "run-7:1", s_tuples, 4, got);
    unsigned char layout[256];
    size_t size = s_layout ("run-7:1", s_tuples, 4, layout);
    crypto_generichash (want, sizeof want, layout, size, NULL, 0);
    cr_assert_arr_eq (got, want, sizeof want);
    s_digest (memory, "run-7:1", s_tuples, 4, keyed);
    cr_assert_arr_neq (got, keyed, sizeof got);
    store_destroy (&store);
    store_destroy (&memory);
}

Test (digest, of_a_long_batch_id_reuses_its_room)
{
    store_t *store = store_memory_new ();
    digest_t *digest = digest_new (store);
    static char big[70000];
    memset (big, 'x', sizeof big - 1);
    const char *const large[] = { big, big, "\x01" };
    msg_t *msg = s_submit (large, 3);
    unsigned char first[STORE_DIGEST_SIZE], again[STORE_DIGEST_SIZE];
    static char id[5000];
    memset (id, 'b', sizeof id - 1);
    cr_assert_eq (digest_batch (digest, id, msg, first), 0);
    msg_t *small = s_submit (s_tuples, 1);
    cr_assert_eq (digest_batch (digest, "small", small, again), 0);
    cr_assert_eq (digest_batch (digest, id, msg, again), 0);
    cr_assert_arr_eq (first, again, sizeof first);
    msg_destroy (&small);
    msg_destroy (&msg);
    digest_destroy (&digest);
    store_destroy (&store);
}
