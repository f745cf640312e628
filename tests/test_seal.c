//  test_seal.c -- unit tests of common/seal.c: round trips (also in place),
//  any changed byte of nonce, ciphertext, tag or associated data rejected,
//  replays and stale messages rejected while reordering inside the window
//  passes, wrong keys, shared agent keys, and the sink's cache of peers.
#include "common/seal.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t public_key[SEAL_KEY_SIZE];
    uint8_t secret[SEAL_KEY_SIZE];
} pair_t;

static pair_t
s_pair (void)
{
    cr_assert_geq (sodium_init (), 0);
    pair_t pair;
    crypto_kx_keypair (pair.public_key, pair.secret);
    return pair;
}

//  One sealed message, kept for replaying and tampering.
typedef struct {
    uint8_t data[1024];
    size_t  size;
    uint64_t seq;
} sealed_t;

static const uint8_t s_ad[] = "job scan, agent a1, tuples 1..3";
static const uint8_t s_plain[] = "[{\"tuple\":1},{\"tuple\":2},{\"tuple\":3}]";

static sealed_t
s_seal (seal_t *agent, const uint8_t *plain, size_t len)
{
    sealed_t sealed;
    cr_assert_eq (seal_encrypt (agent, s_ad, sizeof s_ad, plain, len, sealed.data,
                                sizeof sealed.data, &sealed.size, &sealed.seq), 0);
    cr_assert_eq (sealed.size, len + SEAL_OVERHEAD);
    return sealed;
}

//  Open a copy (decryption must not depend on the caller's buffer).
static int
s_open (seal_t *sink, const sealed_t *sealed, const uint8_t *ad, size_t ad_len)
{
    uint8_t out[1024];
    size_t out_len = 0;
    int rc = seal_decrypt (sink, ad, ad_len, sealed->data, sealed->size, out, sizeof out,
                           &out_len);
    if (rc == 0)
        cr_assert_eq (out_len, sealed->size - SEAL_OVERHEAD);
    return rc;
}

//  An agent and a sink with seals for each other.
typedef struct {
    pair_t  agent_keys, sink_keys;
    seal_t *agent;
    seal_t *sink;
} link_t;

static link_t
s_link (void)
{
    link_t link;
    link.agent_keys = s_pair ();
    link.sink_keys = s_pair ();
    link.agent = seal_new (link.agent_keys.secret, link.agent_keys.public_key,
                           link.sink_keys.public_key, SEAL_CLIENT);
    link.sink = seal_new (link.sink_keys.secret, link.sink_keys.public_key,
                          link.agent_keys.public_key, SEAL_SERVER);
    cr_assert (link.agent && link.sink);
    return link;
}

static void
s_unlink (link_t *link)
{
    seal_destroy (&link->agent);
    seal_destroy (&link->sink);
    cr_assert_null (link->agent);
}

Test (seal, round_trip)
{
    link_t link = s_link ();
    for (uint64_t i = 1; i <= 3; i++) {
        sealed_t sealed = s_seal (link.agent, s_plain, sizeof s_plain);
        cr_expect_eq (sealed.seq, i, "seqs count from 1");
        uint8_t out[1024];
        size_t out_len = 0;
        cr_assert_eq (seal_decrypt (link.sink, s_ad, sizeof s_ad, sealed.data, sealed.size,
                                    out, sizeof out, &out_len), 0, "%s",
                      seal_reason (link.sink));
        cr_assert_eq (out_len, sizeof s_plain);
        cr_expect_eq (memcmp (out, s_plain, sizeof s_plain), 0);
        //  The plaintext does not show through.
        cr_expect_null (memmem (sealed.data, sealed.size, "tuple", 5));
    }
    //  An empty batch seals to exactly the overhead.
    sealed_t empty = s_seal (link.agent, NULL, 0);
    cr_expect_eq (s_open (link.sink, &empty, s_ad, sizeof s_ad), 0);
    seal_stats_t stats;
    seal_stats (link.agent, &stats);
    cr_expect_eq (stats.sealed, 4);
    seal_stats (link.sink, &stats);
    cr_expect_eq (stats.opened, 4);
    cr_expect_eq (stats.tampered + stats.replayed + stats.stale, 0);
    cr_expect_eq (memcmp (seal_peer (link.sink), link.agent_keys.public_key, SEAL_KEY_SIZE), 0);
    s_unlink (&link);
}

Test (seal, in_place)
{
    link_t link = s_link ();
    //  What the agent does: records copied right after the nonce's room,
    //  sealed where they lie; what the sink does: opened where they arrived.
    uint8_t frame[SEAL_OVERHEAD + sizeof s_plain];
    memcpy (frame + SEAL_NONCE_SIZE, s_plain, sizeof s_plain);
    size_t size = 0;
    cr_assert_eq (seal_encrypt (link.agent, s_ad, sizeof s_ad, frame + SEAL_NONCE_SIZE,
                                sizeof s_plain, frame, sizeof frame, &size, NULL), 0);
    cr_assert_eq (size, sizeof frame);
    size_t plain_len = 0;
    cr_assert_eq (seal_decrypt (link.sink, s_ad, sizeof s_ad, frame, size,
                                frame + SEAL_NONCE_SIZE, size, &plain_len), 0);
    cr_assert_eq (plain_len, sizeof s_plain);
    cr_expect_eq (memcmp (frame + SEAL_NONCE_SIZE, s_plain, sizeof s_plain), 0);
    s_unlink (&link);
}

Test (seal, any_changed_byte_fails)
{
    link_t link = s_link ();
    sealed_t sealed = s_seal (link.agent, s_plain, sizeof s_plain);
    //  Every byte: stream and seq (the nonce), ciphertext, tag.
    for (size_t i = 0; i < sealed.size; i++) {
        sealed_t changed = sealed;
        changed.data[i] ^= 0x01;
        cr_expect_eq (s_open (link.sink, &changed, s_ad, sizeof s_ad), -DRV_E_DENIED,
                      "byte %zu changed, still opened", i);
        cr_expect (strstr (seal_reason (link.sink), "authentication"));
    }
    //  Every byte of the associated data.
    uint8_t ad[sizeof s_ad];
    for (size_t i = 0; i < sizeof s_ad; i++) {
        memcpy (ad, s_ad, sizeof ad);
        ad[i] ^= 0x80;
        cr_expect_eq (s_open (link.sink, &sealed, ad, sizeof ad), -DRV_E_DENIED,
                      "AD byte %zu changed, still opened", i);
    }
    //  Shorter or longer associated data, and truncated messages.
    cr_expect_eq (s_open (link.sink, &sealed, s_ad, sizeof s_ad - 1), -DRV_E_DENIED);
    cr_expect_eq (s_open (link.sink, &sealed, NULL, 0), -DRV_E_DENIED);
    sealed_t truncated = sealed;
    truncated.size--;
    cr_expect_eq (s_open (link.sink, &truncated, s_ad, sizeof s_ad), -DRV_E_DENIED);
    truncated.size = SEAL_OVERHEAD - 1;
    cr_expect_eq (s_open (link.sink, &truncated, s_ad, sizeof s_ad), -DRV_E_DENIED);

    seal_stats_t stats;
    seal_stats (link.sink, &stats);
    cr_expect_eq (stats.tampered, sealed.size + sizeof s_ad + 4);
    cr_expect_eq (stats.opened, 0);
    //  None of that moved the window: the real message still opens, once.
    cr_expect_eq (s_open (link.sink, &sealed, s_ad, sizeof s_ad), 0, "%s",
                  seal_reason (link.sink));
    s_unlink (&link);
}

Test (seal, replay_is_rejected)
{
    link_t link = s_link ();
    sealed_t first = s_seal (link.agent, s_plain, sizeof s_plain);
    sealed_t second = s_seal (link.agent, s_plain, sizeof s_plain);
    cr_assert_eq (s_open (link.sink, &first, s_ad, sizeof s_ad), 0);
    cr_assert_eq (s_open (link.sink, &second, s_ad, sizeof s_ad), 0);
    cr_expect_eq (s_open (link.sink, &second, s_ad, sizeof s_ad), -DRV_E_DENIED);
    cr_expect (strstr (seal_reason (link.sink), "replayed"), "%s", seal_reason (link.sink));
    cr_expect_eq (s_open (link.sink, &first, s_ad, sizeof s_ad), -DRV_E_DENIED);
    seal_stats_t stats;
    seal_stats (link.sink, &stats);
    cr_expect_eq (stats.replayed, 2);
    cr_expect_eq (stats.opened, 2);
    s_unlink (&link);
}

Test (seal, reordering_inside_the_window_passes)
{
    link_t link = s_link ();
    enum { COUNT = SEAL_WINDOW };
    sealed_t *sealed = calloc (COUNT, sizeof *sealed);
    cr_assert (sealed);
    for (size_t i = 0; i < COUNT; i++)
        sealed[i] = s_seal (link.agent, s_plain, 8);
    //  Newest first, then all the older ones: every one is inside the window.
    for (size_t i = COUNT; i-- > 0;)
        cr_expect_eq (s_open (link.sink, &sealed[i], s_ad, sizeof s_ad), 0,
                      "seq %zu: %s", i + 1, seal_reason (link.sink));
    //  And each of them only once.
    for (size_t i = 0; i < COUNT; i += 97)
        cr_expect_eq (s_open (link.sink, &sealed[i], s_ad, sizeof s_ad), -DRV_E_DENIED);
    seal_stats_t stats;
    seal_stats (link.sink, &stats);
    cr_expect_eq (stats.opened, COUNT);
    free (sealed);
    s_unlink (&link);
}

Test (seal, older_than_the_window_fails)
{
    link_t link = s_link ();
    enum { COUNT = SEAL_WINDOW + 2 };
    sealed_t *sealed = calloc (COUNT, sizeof *sealed);
    cr_assert (sealed);
    for (size_t i = 0; i < COUNT; i++)
        sealed[i] = s_seal (link.agent, s_plain, 8);
    //  Highest seq is COUNT = SEAL_WINDOW + 2.  Seq 2 is SEAL_WINDOW below
    //  it: just outside; seq 3 is the oldest inside.
    cr_assert_eq (s_open (link.sink, &sealed[COUNT - 1], s_ad, sizeof s_ad), 0);
    cr_expect_eq (s_open (link.sink, &sealed[1], s_ad, sizeof s_ad), -DRV_E_DENIED);
    cr_expect (strstr (seal_reason (link.sink), "too old"), "%s", seal_reason (link.sink));
    cr_expect_eq (s_open (link.sink, &sealed[0], s_ad, sizeof s_ad), -DRV_E_DENIED);
    cr_expect_eq (s_open (link.sink, &sealed[2], s_ad, sizeof s_ad), 0, "%s",
                  seal_reason (link.sink));
    seal_stats_t stats;
    seal_stats (link.sink, &stats);
    cr_expect_eq (stats.stale, 2);
    cr_expect_eq (stats.opened, 2);
    free (sealed);
    s_unlink (&link);
}

Test (seal, window_slides_past_gaps)
{
    link_t link = s_link ();
    //  Seqs 1..3000; deliver 1, then 2000 (a jump inside 2 windows), then
    //  1000..1999 partly: those within 1024 of 2000 pass, others are stale.
    enum { COUNT = 3000 };
    sealed_t *sealed = calloc (COUNT, sizeof *sealed);
    cr_assert (sealed);
    for (size_t i = 0; i < COUNT; i++)
        sealed[i] = s_seal (link.agent, s_plain, 4);
    cr_assert_eq (s_open (link.sink, &sealed[0], s_ad, sizeof s_ad), 0);
    cr_assert_eq (s_open (link.sink, &sealed[1999], s_ad, sizeof s_ad), 0);
    cr_expect_eq (s_open (link.sink, &sealed[975], s_ad, sizeof s_ad), -DRV_E_DENIED,
                  "seq 976 is 1024 below 2000");
    cr_expect_eq (s_open (link.sink, &sealed[976], s_ad, sizeof s_ad), 0, "seq 977");
    cr_expect_eq (s_open (link.sink, &sealed[1998], s_ad, sizeof s_ad), 0, "seq 1999");
    //  Sliding to 3000 keeps what is still inside: 2000 was seen (replayed),
    //  2500 was not (opens once).
    cr_assert_eq (s_open (link.sink, &sealed[2999], s_ad, sizeof s_ad), 0);
    cr_expect_eq (s_open (link.sink, &sealed[1999], s_ad, sizeof s_ad), -DRV_E_DENIED);
    cr_expect (strstr (seal_reason (link.sink), "replayed"));
    cr_expect_eq (s_open (link.sink, &sealed[2499], s_ad, sizeof s_ad), 0);
    cr_expect_eq (s_open (link.sink, &sealed[2499], s_ad, sizeof s_ad), -DRV_E_DENIED);
    free (sealed);
    s_unlink (&link);
}

Test (seal, a_jump_past_the_window_clears_it)
{
    link_t link = s_link ();
    enum { COUNT = 3000 };
    sealed_t *sealed = calloc (COUNT, sizeof *sealed);
    cr_assert (sealed);
    for (size_t i = 0; i < COUNT; i++)
        sealed[i] = s_seal (link.agent, s_plain, 4);
    //  Seq 1977 shares its bit with seq 953 (1977 - 1024): after the jump
    //  from 953 to 3000 that bit must read "unseen".
    cr_assert_eq (s_open (link.sink, &sealed[952], s_ad, sizeof s_ad), 0);
    cr_assert_eq (s_open (link.sink, &sealed[2999], s_ad, sizeof s_ad), 0);
    cr_expect_eq (s_open (link.sink, &sealed[1976], s_ad, sizeof s_ad), 0, "%s",
                  seal_reason (link.sink));
    cr_expect_eq (s_open (link.sink, &sealed[1975], s_ad, sizeof s_ad), -DRV_E_DENIED);
    cr_expect (strstr (seal_reason (link.sink), "too old"));
    free (sealed);
    s_unlink (&link);
}

Test (seal, wrong_keys_fail)
{
    link_t link = s_link ();
    pair_t other = s_pair ();
    //  Sealed for another sink's key: our sink cannot open it.
    seal_t *misdirected = seal_new (link.agent_keys.secret, link.agent_keys.public_key,
                                    other.public_key, SEAL_CLIENT);
    cr_assert (misdirected);
    sealed_t sealed = s_seal (misdirected, s_plain, sizeof s_plain);
    cr_expect_eq (s_open (link.sink, &sealed, s_ad, sizeof s_ad), -DRV_E_DENIED);
    //  Sealed by another agent, opened with our agent's key.
    seal_t *impostor = seal_new (other.secret, other.public_key, link.sink_keys.public_key,
                                 SEAL_CLIENT);
    cr_assert (impostor);
    sealed = s_seal (impostor, s_plain, sizeof s_plain);
    cr_expect_eq (s_open (link.sink, &sealed, s_ad, sizeof s_ad), -DRV_E_DENIED);
    //  Both ends as client: the roles must differ for the keys to meet.
    seal_t *confused = seal_new (link.sink_keys.secret, link.sink_keys.public_key,
                                 link.agent_keys.public_key, SEAL_CLIENT);
    cr_assert (confused);
    sealed = s_seal (link.agent, s_plain, sizeof s_plain);
    cr_expect_eq (s_open (confused, &sealed, s_ad, sizeof s_ad), -DRV_E_DENIED);
    //  A degenerate peer key is refused up front.
    uint8_t zero[SEAL_KEY_SIZE] = { 0 };
    cr_expect_null (seal_new (link.sink_keys.secret, link.sink_keys.public_key, zero,
                              SEAL_SERVER));
    seal_destroy (&misdirected);
    seal_destroy (&impostor);
    seal_destroy (&confused);
    s_unlink (&link);
}

Test (seal, sink_can_seal_back)
{
    link_t link = s_link ();
    sealed_t sealed = s_seal (link.sink, s_plain, sizeof s_plain);
    cr_expect_eq (s_open (link.agent, &sealed, s_ad, sizeof s_ad), 0);
    s_unlink (&link);
}

Test (seal, agents_sharing_a_key_do_not_collide)
{
    //  Two replicas with one key: each seal picks its own stream, so both
    //  seq 1s pass, and each replay is still caught.
    link_t link = s_link ();
    seal_t *replica = seal_new (link.agent_keys.secret, link.agent_keys.public_key,
                                link.sink_keys.public_key, SEAL_CLIENT);
    cr_assert (replica);
    sealed_t a1 = s_seal (link.agent, s_plain, 8);
    sealed_t b1 = s_seal (replica, s_plain, 8);
    sealed_t b2 = s_seal (replica, s_plain, 8);
    sealed_t a2 = s_seal (link.agent, s_plain, 8);
    cr_assert_eq (a1.seq, 1);
    cr_assert_eq (b1.seq, 1);
    cr_expect_eq (s_open (link.sink, &b2, s_ad, sizeof s_ad), 0);
    cr_expect_eq (s_open (link.sink, &a1, s_ad, sizeof s_ad), 0);
    cr_expect_eq (s_open (link.sink, &b1, s_ad, sizeof s_ad), 0);
    cr_expect_eq (s_open (link.sink, &a2, s_ad, sizeof s_ad), 0);
    cr_expect_eq (s_open (link.sink, &b1, s_ad, sizeof s_ad), -DRV_E_DENIED);
    cr_expect_eq (s_open (link.sink, &a1, s_ad, sizeof s_ad), -DRV_E_DENIED);
    //  Many replicas: beyond SEAL_STREAMS_MAX the least recently used stream
    //  is forgotten, and everything keeps opening.
    for (int i = 0; i < SEAL_STREAMS_MAX + 10; i++) {
        seal_t *more = seal_new (link.agent_keys.secret, link.agent_keys.public_key,
                                 link.sink_keys.public_key, SEAL_CLIENT);
        sealed_t m = s_seal (more, s_plain, 8);
        cr_expect_eq (s_open (link.sink, &m, s_ad, sizeof s_ad), 0, "replica %d", i);
        seal_destroy (&more);
    }
    seal_destroy (&replica);
    s_unlink (&link);
}

Test (seal, buffers_too_small)
{
    link_t link = s_link ();
    uint8_t out[SEAL_OVERHEAD + 4];
    size_t size = 0;
    cr_expect_eq (seal_encrypt (link.agent, NULL, 0, s_plain, 5, out, sizeof out, &size,
                                NULL), -DRV_E_TOO_LARGE);
    cr_assert_eq (seal_encrypt (link.agent, NULL, 0, s_plain, 4, out, sizeof out, &size,
                                NULL), 0);
    uint8_t plain[3];
    cr_expect_eq (seal_decrypt (link.sink, NULL, 0, out, size, plain, sizeof plain, &size),
                  -DRV_E_TOO_LARGE);
    s_unlink (&link);
}

Test (seal, result_ad_layout)
{
    uint8_t key[SEAL_KEY_SIZE];
    for (int i = 0; i < SEAL_KEY_SIZE; i++)
        key[i] = (uint8_t) i;
    msg_run_t refs[] = { { 1, 1, 1 }, { 0x0102030405060708ULL, 1, 3 } };
    size_t size = seal_result_ad (NULL, 0, 1, key, "scan", "a1", refs, 2);
    cr_assert_eq (size, 8 + 32 + 4 + 4 + 4 + 2 + 4 + 2 * 12);
    uint8_t ad[128];
    cr_assert_eq (seal_result_ad (ad, size - 1, 1, key, "scan", "a1", refs, 2), size,
                  "too small: size reported, nothing written");
    cr_assert_eq (seal_result_ad (ad, sizeof ad, 1, key, "scan", "a1", refs, 2), size);
    static const uint8_t tail[] = {
        0, 0, 0, 4, 's', 'c', 'a', 'n',
        0, 0, 0, 2, 'a', '1',
        0, 0, 0, 2,
        0, 0, 0, 0, 0, 0, 0, 1,   0, 0, 0, 1,
        1, 2, 3, 4, 5, 6, 7, 8,   0, 0, 0, 3,
    };
    cr_expect_eq (memcmp (ad, "DRVSEAL1", 8), 0);
    cr_expect_eq (memcmp (ad + 8, key, 32), 0);
    cr_expect_eq (memcmp (ad + 40, tail, sizeof tail), 0);
}

Test (seal, result_ad_layout_version_2)
{
    uint8_t key[SEAL_KEY_SIZE];
    for (int i = 0; i < SEAL_KEY_SIZE; i++)
        key[i] = (uint8_t) i;
    msg_run_t runs[] = { { 1, 1024, 1 }, { 0x0102030405060708ULL, 2, 3 } };
    size_t size = seal_result_ad (NULL, 0, 2, key, "scan", "a1", runs, 2);
    cr_assert_eq (size, 8 + 32 + 4 + 4 + 4 + 2 + 4 + 2 * 16, "16 bytes a run, not a tuple");
    uint8_t ad[128];
    cr_assert_eq (seal_result_ad (ad, sizeof ad, 2, key, "scan", "a1", runs, 2), size);
    static const uint8_t tail[] = {
        0, 0, 0, 4, 's', 'c', 'a', 'n',
        0, 0, 0, 2, 'a', '1',
        0, 0, 0, 2,
        0, 0, 0, 0, 0, 0, 0, 1,   0, 0, 4, 0,   0, 0, 0, 1,
        1, 2, 3, 4, 5, 6, 7, 8,   0, 0, 0, 2,   0, 0, 0, 3,
    };
    cr_expect_eq (memcmp (ad, "DRVSEAL2", 8), 0);
    cr_expect_eq (memcmp (ad + 8, key, 32), 0);
    cr_expect_eq (memcmp (ad + 40, tail, sizeof tail), 0);
}

Test (seal, result_ad_version_2_binds_the_runs_as_sent)
{
    link_t link = s_link ();
    const uint8_t *agent_key = link.agent_keys.public_key;
    msg_run_t runs[] = { { 7, 2, 1 } };
    uint8_t ad[256];
    size_t ad_len = seal_result_ad (ad, sizeof ad, 2, agent_key, "scan", "a1", runs, 1);
    sealed_t sealed;
    cr_assert_eq (seal_encrypt (link.agent, ad, ad_len, s_plain, sizeof s_plain, sealed.data,
                                sizeof sealed.data, &sealed.size, NULL), 0);
    //  The same tuples as other runs, or in version 1, are another header.
    msg_run_t split[] = { { 7, 1, 1 }, { 8, 1, 1 } };
    uint8_t changed[256];
    size_t len = seal_result_ad (changed, sizeof changed, 2, agent_key, "scan", "a1", split, 2);
    cr_expect_eq (s_open (link.sink, &sealed, changed, len), -DRV_E_DENIED, "split run");
    len = seal_result_ad (changed, sizeof changed, 1, agent_key, "scan", "a1", runs, 1);
    cr_expect_eq (s_open (link.sink, &sealed, changed, len), -DRV_E_DENIED, "version 1");
    msg_run_t longer[] = { { 7, 3, 1 } };
    len = seal_result_ad (changed, sizeof changed, 2, agent_key, "scan", "a1", longer, 1);
    cr_expect_eq (s_open (link.sink, &sealed, changed, len), -DRV_E_DENIED, "count");
    cr_expect_eq (s_open (link.sink, &sealed, ad, ad_len), 0, "the real header");
    s_unlink (&link);
}

Test (seal, result_ad_binds_job_agent_and_refs)
{
    link_t link = s_link ();
    const uint8_t *agent_key = link.agent_keys.public_key;
    msg_run_t refs[] = { { 7, 1, 1 }, { 8, 1, 2 } };
    uint8_t ad[256];
    size_t ad_len = seal_result_ad (ad, sizeof ad, 1, agent_key, "scan", "a1", refs, 2);
    sealed_t sealed;
    cr_assert_eq (seal_encrypt (link.agent, ad, ad_len, s_plain, sizeof s_plain, sealed.data,
                                sizeof sealed.data, &sealed.size, NULL), 0);
    //  Each of these is what a relay changing the header would produce.
    msg_run_t other_id[] = { { 7, 1, 1 }, { 9, 1, 2 } };
    msg_run_t other_attempt[] = { { 7, 1, 1 }, { 8, 1, 3 } };
    msg_run_t swapped[] = { { 8, 1, 2 }, { 7, 1, 1 } };
    uint8_t other_key[SEAL_KEY_SIZE];
    memcpy (other_key, agent_key, sizeof other_key);
    other_key[31] ^= 1;
    uint8_t changed[256];
    size_t len;
    len = seal_result_ad (changed, sizeof changed, 1, agent_key, "scan2", "a1", refs, 2);
    cr_expect_eq (s_open (link.sink, &sealed, changed, len), -DRV_E_DENIED, "job");
    len = seal_result_ad (changed, sizeof changed, 1, agent_key, "scan", "a2", refs, 2);
    cr_expect_eq (s_open (link.sink, &sealed, changed, len), -DRV_E_DENIED, "agent");
    len = seal_result_ad (changed, sizeof changed, 1, agent_key, "scan", "a1", other_id, 2);
    cr_expect_eq (s_open (link.sink, &sealed, changed, len), -DRV_E_DENIED, "tuple id");
    len = seal_result_ad (changed, sizeof changed, 1, agent_key, "scan", "a1", other_attempt, 2);
    cr_expect_eq (s_open (link.sink, &sealed, changed, len), -DRV_E_DENIED, "attempt");
    len = seal_result_ad (changed, sizeof changed, 1, agent_key, "scan", "a1", swapped, 2);
    cr_expect_eq (s_open (link.sink, &sealed, changed, len), -DRV_E_DENIED, "order");
    len = seal_result_ad (changed, sizeof changed, 1, agent_key, "scan", "a1", refs, 1);
    cr_expect_eq (s_open (link.sink, &sealed, changed, len), -DRV_E_DENIED, "dropped ref");
    len = seal_result_ad (changed, sizeof changed, 1, other_key, "scan", "a1", refs, 2);
    cr_expect_eq (s_open (link.sink, &sealed, changed, len), -DRV_E_DENIED, "agent key");
    //  A job/agent boundary shift ("scan"+"a1" vs "sca"+"na1") is not the same AD.
    len = seal_result_ad (changed, sizeof changed, 1, agent_key, "sca", "na1", refs, 2);
    cr_expect_eq (s_open (link.sink, &sealed, changed, len), -DRV_E_DENIED, "boundary");
    cr_expect_eq (s_open (link.sink, &sealed, ad, ad_len), 0, "the real header");
    s_unlink (&link);
}

//  What the sink runs: one cache, agent keys taken from each RESULT.
Test (seal, cache_derives_once_per_agent)
{
    pair_t sink_keys = s_pair ();
    seal_cache_t *cache = seal_cache_new (sink_keys.secret, sink_keys.public_key, 2);
    cr_assert (cache);
    pair_t agents[3] = { s_pair (), s_pair (), s_pair () };
    seal_t *seals[3];
    for (int i = 0; i < 3; i++) {
        seals[i] = seal_new (agents[i].secret, agents[i].public_key, sink_keys.public_key,
                             SEAL_CLIENT);
        cr_assert (seals[i]);
    }
    uint8_t out[1024];
    size_t out_len;
    sealed_t m = s_seal (seals[0], s_plain, sizeof s_plain);
    cr_assert_eq (seal_cache_decrypt (cache, agents[0].public_key, s_ad, sizeof s_ad,
                                      m.data, m.size, out, sizeof out, &out_len), 0);
    cr_expect_eq (memcmp (out, s_plain, sizeof s_plain), 0);
    //  The cache kept the agent's windows: a replay is caught.
    cr_expect_eq (seal_cache_decrypt (cache, agents[0].public_key, s_ad, sizeof s_ad,
                                      m.data, m.size, out, sizeof out, &out_len),
                  -DRV_E_DENIED);
    cr_expect (strstr (seal_cache_reason (cache), "replayed"));
    //  Claiming another agent's key fails, and adds no peer.
    m = s_seal (seals[1], s_plain, sizeof s_plain);
    cr_expect_eq (seal_cache_decrypt (cache, agents[2].public_key, s_ad, sizeof s_ad,
                                      m.data, m.size, out, sizeof out, &out_len),
                  -DRV_E_DENIED);
    seal_stats_t stats;
    seal_cache_stats (cache, &stats);
    cr_expect_eq (stats.peers, 1);
    cr_expect_eq (stats.tampered, 1);
    cr_expect_eq (stats.replayed, 1);
    //  An unusable key is refused and counted.
    uint8_t zero[SEAL_KEY_SIZE] = { 0 };
    cr_expect_eq (seal_cache_decrypt (cache, zero, s_ad, sizeof s_ad, m.data, m.size, out,
                                      sizeof out, &out_len), -DRV_E_DENIED);
    cr_expect (strstr (seal_cache_reason (cache), "unusable"));
    //  Three agents, room for two: the least recently heard one goes.
    cr_expect_eq (seal_cache_decrypt (cache, agents[1].public_key, s_ad, sizeof s_ad,
                                      m.data, m.size, out, sizeof out, &out_len), 0);
    m = s_seal (seals[2], s_plain, sizeof s_plain);
    cr_expect_eq (seal_cache_decrypt (cache, agents[2].public_key, s_ad, sizeof s_ad,
                                      m.data, m.size, out, sizeof out, &out_len), 0);
    seal_cache_stats (cache, &stats);
    cr_expect_eq (stats.peers, 2);
    cr_expect_eq (stats.evicted, 1);
    cr_expect_eq (stats.opened, 3);
    cr_expect_eq (stats.tampered, 2);
    //  The forgotten agent comes back and is welcome.
    m = s_seal (seals[0], s_plain, sizeof s_plain);
    cr_expect_eq (seal_cache_decrypt (cache, agents[0].public_key, s_ad, sizeof s_ad,
                                      m.data, m.size, out, sizeof out, &out_len), 0);
    for (int i = 0; i < 3; i++)
        seal_destroy (&seals[i]);
    seal_cache_destroy (&cache);
    cr_expect_null (cache);
}
