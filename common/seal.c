//  seal.c -- see seal.h; the format is PROTOCOL.md section 4.4.  A seal_t
//  holds the session keys of one agent-sink pair, the sealing side's stream
//  and seq, and the opening side's replay windows; seal_cache_t maps agent
//  keys to seals at the sink.
#include "common/seal.h"

#include <czmq.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define SEAL_AD_LABEL_V1    "DRVSEAL1"     //  then a ref per tuple
#define SEAL_AD_LABEL_V2    "DRVSEAL2"     //  then the runs
#define SEAL_AD_LABEL_SIZE  8

//  The replay window of one stream of a peer: seq s is bit s % SEAL_WINDOW,
//  valid for highest - SEAL_WINDOW < s <= highest.
typedef struct {
    uint8_t  id[SEAL_STREAM_SIZE];
    uint64_t highest;
    uint64_t used;                      //  tick of its last accepted message
    uint64_t bits[SEAL_WINDOW / 64];
} stream_t;

typedef enum { V_OK, V_TAMPERED, V_REPLAYED, V_STALE } verdict_t;

struct seal {
    uint8_t   tx[SEAL_KEY_SIZE];        //  we seal with this
    uint8_t   rx[SEAL_KEY_SIZE];        //  we open with this
    uint8_t   peer[SEAL_KEY_SIZE];
    uint8_t   nonce[SEAL_NONCE_SIZE];   //  our stream, then the last seq sealed
    uint64_t  seq;
    stream_t *streams;                  //  the peer's streams we opened
    size_t    stream_count;
    size_t    stream_capacity;
    size_t    last_stream;              //  index of the last one used: usually next
    uint64_t  tick;                     //  LRU clock of the streams
    uint64_t  used;                     //  seal_cache's LRU clock
    verdict_t verdict;                  //  of the last seal_decrypt
    seal_stats_t stats;
};

static const char *s_reasons[] = {
    [V_OK] = "",
    [V_TAMPERED] = "result failed authentication: changed, truncated, or sealed for another key",
    [V_REPLAYED] = "result replayed: this sequence number was accepted before",
    [V_STALE] = "result too old: its sequence number is below the replay window",
};

static void
s_put32 (uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) (v >> 24), p[1] = (uint8_t) (v >> 16);
    p[2] = (uint8_t) (v >> 8), p[3] = (uint8_t) v;
}

static void
s_put64 (uint8_t *p, uint64_t v)
{
    s_put32 (p, (uint32_t) (v >> 32));
    s_put32 (p + 4, (uint32_t) v);
}

static uint64_t
s_get64 (const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

seal_t *
seal_new (const uint8_t *own_secret, const uint8_t *own_public,
          const uint8_t *peer_public, seal_role_t role)
{
    assert (own_secret && own_public && peer_public);
    if (sodium_init () < 0)
        return NULL;
    seal_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    //  Both fail only when the shared point is degenerate (a low-order
    //  peer key): nothing secret could come of it.
    int rc = role == SEAL_CLIENT
        ? crypto_kx_client_session_keys (self->rx, self->tx, own_public, own_secret,
                                         peer_public)
        : crypto_kx_server_session_keys (self->rx, self->tx, own_public, own_secret,
                                         peer_public);
    if (rc != 0) {
        seal_destroy (&self);
        return NULL;
    }
    memcpy (self->peer, peer_public, SEAL_KEY_SIZE);
    randombytes_buf (self->nonce, SEAL_STREAM_SIZE);
    return self;
}

void
seal_destroy (seal_t **self_p)
{
    assert (self_p);
    seal_t *self = *self_p;
    if (!self)
        return;
    free (self->streams);
    sodium_memzero (self, sizeof *self);
    free (self);
    *self_p = NULL;
}

int
seal_encrypt (seal_t *self, const uint8_t *ad, size_t ad_len,
              const uint8_t *plain, size_t len,
              uint8_t *out, size_t out_cap, size_t *out_len, uint64_t *seq_p)
{
    assert (self && out && out_len && (plain || len == 0));
    if (out_cap < SEAL_OVERHEAD || out_cap - SEAL_OVERHEAD < len)
        return -DRV_E_TOO_LARGE;
    //  2^64 messages would take longer than anyone runs an agent; still,
    //  a wrapped counter would reuse nonces, so refuse rather than wrap.
    if (self->seq == UINT64_MAX)
        return -DRV_E_INTERNAL;
    s_put64 (self->nonce + SEAL_STREAM_SIZE, ++self->seq);
    memcpy (out, self->nonce, SEAL_NONCE_SIZE);
    unsigned long long sealed_len = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt (out + SEAL_NONCE_SIZE, &sealed_len,
                                                plain, len, ad, ad_len, NULL,
                                                self->nonce, self->tx);
    *out_len = SEAL_NONCE_SIZE + (size_t) sealed_len;
    if (seq_p)
        *seq_p = self->seq;
    self->stats.sealed++;
    return 0;
}

//  The window of a stream, or NULL if we have not seen it.
static stream_t *
s_stream_find (seal_t *self, const uint8_t *id)
{
    if (self->last_stream < self->stream_count
    &&  memcmp (self->streams[self->last_stream].id, id, SEAL_STREAM_SIZE) == 0)
        return &self->streams[self->last_stream];
    for (size_t i = 0; i < self->stream_count; i++)
        if (memcmp (self->streams[i].id, id, SEAL_STREAM_SIZE) == 0) {
            self->last_stream = i;
            return &self->streams[i];
        }
    return NULL;
}

//  A fresh window for a stream we have not seen: a new slot, or the least
//  recently used one once SEAL_STREAMS_MAX are held.  NULL if out of memory.
static stream_t *
s_stream_add (seal_t *self, const uint8_t *id)
{
    size_t index = self->stream_count;
    if (index == SEAL_STREAMS_MAX) {
        index = 0;
        for (size_t i = 1; i < self->stream_count; i++)
            if (self->streams[i].used < self->streams[index].used)
                index = i;
    }
    else {
        if (index == self->stream_capacity) {
            size_t capacity = self->stream_capacity? self->stream_capacity * 2: 1;
            if (capacity > SEAL_STREAMS_MAX)
                capacity = SEAL_STREAMS_MAX;
            stream_t *grown = realloc (self->streams, capacity * sizeof *grown);
            if (!grown)
                return NULL;
            self->streams = grown;
            self->stream_capacity = capacity;
        }
        self->stream_count++;
    }
    stream_t *stream = &self->streams[index];
    memset (stream, 0, sizeof *stream);
    memcpy (stream->id, id, SEAL_STREAM_SIZE);
    self->last_stream = index;
    return stream;
}

static bool
s_bit (const stream_t *stream, uint64_t seq)
{
    uint64_t bit = seq % SEAL_WINDOW;
    return stream->bits[bit / 64] >> (bit % 64) & 1;
}

static void
s_bit_set (stream_t *stream, uint64_t seq, bool on)
{
    uint64_t bit = seq % SEAL_WINDOW;
    uint64_t mask = (uint64_t) 1 << (bit % 64);
    stream->bits[bit / 64] = on? stream->bits[bit / 64] | mask: stream->bits[bit / 64] & ~mask;
}

static verdict_t
s_window_check (const stream_t *stream, uint64_t seq)
{
    if (seq == 0)                       //  seqs start at 1: never sealed
        return V_STALE;
    if (seq > stream->highest)
        return V_OK;
    if (stream->highest - seq >= SEAL_WINDOW)
        return V_STALE;
    return s_bit (stream, seq)? V_REPLAYED: V_OK;
}

static void
s_window_accept (stream_t *stream, uint64_t seq)
{
    if (seq > stream->highest) {
        //  Slide: seqs between the old highest and this one are unseen.
        if (seq - stream->highest >= SEAL_WINDOW)
            memset (stream->bits, 0, sizeof stream->bits);
        else
            for (uint64_t s = stream->highest + 1; s < seq; s++)
                s_bit_set (stream, s, false);
        stream->highest = seq;
    }
    s_bit_set (stream, seq, true);
}

static int
s_deny (seal_t *self, verdict_t verdict)
{
    self->verdict = verdict;
    if (verdict == V_TAMPERED)
        self->stats.tampered++;
    else
    if (verdict == V_REPLAYED)
        self->stats.replayed++;
    else
        self->stats.stale++;
    return -DRV_E_DENIED;
}

int
seal_decrypt (seal_t *self, const uint8_t *ad, size_t ad_len,
              const uint8_t *sealed, size_t len,
              uint8_t *out, size_t out_cap, size_t *out_len)
{
    assert (self && sealed && out && out_len);
    if (len < SEAL_OVERHEAD)
        return s_deny (self, V_TAMPERED);
    self->verdict = V_OK;
    if (out_cap < len - SEAL_OVERHEAD)
        return -DRV_E_TOO_LARGE;
    //  Authenticate first: only an authentic message may touch a window.
    //  A copy of the nonce: libsodium wipes out on failure, and out may
    //  share the caller's buffer with sealed.
    uint8_t nonce[SEAL_NONCE_SIZE];
    memcpy (nonce, sealed, SEAL_NONCE_SIZE);
    unsigned long long plain_len = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt (out, &plain_len, NULL,
                                                    sealed + SEAL_NONCE_SIZE,
                                                    len - SEAL_NONCE_SIZE,
                                                    ad, ad_len, nonce, self->rx) != 0)
        return s_deny (self, V_TAMPERED);
    uint64_t seq = s_get64 (nonce + SEAL_STREAM_SIZE);
    stream_t *stream = s_stream_find (self, nonce);
    verdict_t verdict = stream? s_window_check (stream, seq): seq? V_OK: V_STALE;
    if (verdict != V_OK)
        return s_deny (self, verdict);
    if (!stream && !(stream = s_stream_add (self, nonce)))
        return -DRV_E_INTERNAL;
    s_window_accept (stream, seq);
    stream->used = ++self->tick;
    *out_len = (size_t) plain_len;
    self->verdict = V_OK;
    self->stats.opened++;
    return 0;
}

const char *
seal_reason (const seal_t *self)
{
    assert (self);
    return s_reasons[self->verdict];
}

const uint8_t *
seal_peer (const seal_t *self)
{
    assert (self);
    return self->peer;
}

void
seal_stats (const seal_t *self, seal_stats_t *stats)
{
    assert (self && stats);
    *stats = self->stats;
}

size_t
seal_result_ad (uint8_t *buf, size_t cap, int version, const uint8_t *agent_public,
                const char *job, const char *agent, const msg_run_t *runs, size_t count)
{
    assert (agent_public && job && agent && (runs || count == 0));
    size_t job_len = strlen (job);
    size_t agent_len = strlen (agent);
    //  Version 1 binds a ref per tuple, version 2 the runs as they are.
    uint64_t items = version == 1? runs_total (runs, count): count;
    size_t item_size = version == 1? 12: 16;
    size_t size = SEAL_AD_LABEL_SIZE + SEAL_KEY_SIZE + 4 + job_len + 4 + agent_len
                + 4 + (size_t) items * item_size;
    if (!buf || cap < size)
        return size;
    //  The header decoder caps strings and references far below 4 GiB, so
    //  the uint32 lengths cannot wrap for anything a peer sent us.
    assert (job_len <= UINT32_MAX && agent_len <= UINT32_MAX && items <= UINT32_MAX);
    uint8_t *p = buf;
    memcpy (p, version == 1? SEAL_AD_LABEL_V1: SEAL_AD_LABEL_V2, SEAL_AD_LABEL_SIZE);
    p += SEAL_AD_LABEL_SIZE;
    memcpy (p, agent_public, SEAL_KEY_SIZE), p += SEAL_KEY_SIZE;
    s_put32 (p, (uint32_t) job_len), p += 4;
    memcpy (p, job, job_len), p += job_len;
    s_put32 (p, (uint32_t) agent_len), p += 4;
    memcpy (p, agent, agent_len), p += agent_len;
    s_put32 (p, (uint32_t) items), p += 4;
    for (size_t i = 0; i < count; i++) {
        if (version != 1) {
            s_put64 (p, runs[i].first);
            s_put32 (p + 8, runs[i].count);
            s_put32 (p + 12, runs[i].attempt);
            p += 16;
            continue;
        }
        for (uint32_t k = 0; k < runs[i].count; k++, p += 12) {
            s_put64 (p, runs[i].first + k);
            s_put32 (p + 8, runs[i].attempt);
        }
    }
    return size;
}

//  --------------------------------------------------------------------------
//  The sink's cache of seals, keyed by the agent's raw public key

struct seal_cache {
    uint8_t      secret[SEAL_KEY_SIZE];
    uint8_t      public_key[SEAL_KEY_SIZE];
    zhashx_t    *peers;                 //  public key (32 bytes) -> seal_t
    size_t       max_peers;
    uint64_t     tick;
    seal_stats_t stats;                 //  opened..stale over all peers, ever
    const char  *reason;
};

//  Keys are X25519 public keys: uniformly spread bytes, and only peers
//  whose messages authenticated get in, so the first bytes are the hash.
static size_t
s_key_hash (const void *key)
{
    size_t hash;
    memcpy (&hash, key, sizeof hash);
    return hash;
}

static int
s_key_compare (const void *a, const void *b)
{
    return memcmp (a, b, SEAL_KEY_SIZE);
}

static void *
s_key_dup (const void *key)
{
    void *copy = malloc (SEAL_KEY_SIZE);
    if (copy)
        memcpy (copy, key, SEAL_KEY_SIZE);
    return copy;
}

static void
s_key_free (void **key_p)
{
    free (*key_p);
    *key_p = NULL;
}

static void
s_seal_free (void **item_p)
{
    seal_destroy ((seal_t **) item_p);
}

seal_cache_t *
seal_cache_new (const uint8_t *own_secret, const uint8_t *own_public, size_t max_peers)
{
    assert (own_secret && own_public);
    seal_cache_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->peers = zhashx_new ();
    if (!self->peers) {
        free (self);
        return NULL;
    }
    zhashx_set_key_hasher (self->peers, s_key_hash);
    zhashx_set_key_comparator (self->peers, s_key_compare);
    zhashx_set_key_duplicator (self->peers, s_key_dup);
    zhashx_set_key_destructor (self->peers, s_key_free);
    zhashx_set_destructor (self->peers, s_seal_free);
    memcpy (self->secret, own_secret, SEAL_KEY_SIZE);
    memcpy (self->public_key, own_public, SEAL_KEY_SIZE);
    self->max_peers = max_peers? max_peers: SEAL_PEERS_MAX;
    self->reason = "";
    return self;
}

void
seal_cache_destroy (seal_cache_t **self_p)
{
    assert (self_p);
    seal_cache_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->peers);
    sodium_memzero (self, sizeof *self);
    free (self);
    *self_p = NULL;
}

//  Forget the peer heard from least recently: its windows go with it.
static void
s_evict (seal_cache_t *self)
{
    const void *oldest = NULL;
    uint64_t oldest_used = UINT64_MAX;
    for (seal_t *seal = zhashx_first (self->peers); seal; seal = zhashx_next (self->peers))
        if (seal->used < oldest_used) {
            oldest_used = seal->used;
            oldest = zhashx_cursor (self->peers);
        }
    if (oldest) {
        uint8_t key[SEAL_KEY_SIZE];
        memcpy (key, oldest, sizeof key);
        zhashx_delete (self->peers, key);
        self->stats.evicted++;
    }
}

static void
s_count (seal_cache_t *self, const seal_t *seal, int rc)
{
    self->reason = s_reasons[seal->verdict];
    if (rc == 0)
        self->stats.opened++;
    else
    if (rc == -DRV_E_DENIED)
        *(seal->verdict == V_TAMPERED? &self->stats.tampered
        : seal->verdict == V_REPLAYED? &self->stats.replayed: &self->stats.stale) += 1;
}

int
seal_cache_decrypt (seal_cache_t *self, const uint8_t *peer_public,
                    const uint8_t *ad, size_t ad_len,
                    const uint8_t *sealed, size_t len,
                    uint8_t *out, size_t out_cap, size_t *out_len)
{
    assert (self && peer_public);
    seal_t *seal = zhashx_lookup (self->peers, peer_public);
    if (seal) {
        int rc = seal_decrypt (seal, ad, ad_len, sealed, len, out, out_cap, out_len);
        seal->used = ++self->tick;
        s_count (self, seal, rc);
        return rc;
    }
    //  A key we do not hold yet: one X25519, kept only if the message opens,
    //  so keys in forged messages never fill the cache or evict real peers.
    seal = seal_new (self->secret, self->public_key, peer_public, SEAL_SERVER);
    if (!seal) {
        self->stats.tampered++;
        self->reason = "result sealed with an unusable agent key";
        return -DRV_E_DENIED;
    }
    int rc = seal_decrypt (seal, ad, ad_len, sealed, len, out, out_cap, out_len);
    s_count (self, seal, rc);
    if (rc == 0) {
        if (zhashx_size (self->peers) >= self->max_peers)
            s_evict (self);
        seal->used = ++self->tick;
        if (zhashx_insert (self->peers, peer_public, seal) == 0)
            seal = NULL;                //  the cache owns it now
    }
    seal_destroy (&seal);
    return rc;
}

const char *
seal_cache_reason (const seal_cache_t *self)
{
    assert (self);
    return self->reason;
}

void
seal_cache_stats (const seal_cache_t *self, seal_stats_t *stats)
{
    assert (self && stats);
    *stats = self->stats;
    stats->peers = zhashx_size (self->peers);
}
