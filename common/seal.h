//  seal.h -- RESULT batches sealed end to end, from an agent to its sink:
//  the broker, relays and anyone holding only the transport never read or
//  change them.  One X25519 exchange per agent-sink pair (crypto_kx), then
//  one XChaCha20-Poly1305 AEAD per message, and a replay window at the sink.
//
//  The format (keys, header, payload layout, associated data, replay
//  window, failures) is specified in proto/PROTOCOL.md section 4.4, and only
//  there; this header is its implementation.  Why the nonce is a stream and
//  a counter rather than random: a getrandom call costs about 0.3 us here,
//  half the cost of sealing 100 bytes, and the counter doubles as the
//  replay window's sequence number.  SEAL_STREAMS_MAX and SEAL_PEERS_MAX
//  are the "256 streams per agent key, 4096 agent keys" of the spec.
#ifndef DROVER_SEAL_H
#define DROVER_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/msg.h"              //  msg_run_t, DRV_E_*

#define SEAL_KEY_SIZE       32      //  X25519 public or secret key
#define SEAL_STREAM_SIZE    16
#define SEAL_NONCE_SIZE     24      //  stream + seq
#define SEAL_TAG_SIZE       16
#define SEAL_OVERHEAD       (SEAL_NONCE_SIZE + SEAL_TAG_SIZE)
#define SEAL_WINDOW         1024    //  seqs below the highest still accepted
#define SEAL_STREAMS_MAX    256     //  replay windows kept per peer
#define SEAL_PEERS_MAX      4096    //  seal_cache default

//  Which side of the key exchange we are: the agent is the client.
typedef enum { SEAL_CLIENT, SEAL_SERVER } seal_role_t;

typedef struct {
    uint64_t sealed;        //  messages encrypted
    uint64_t opened;        //  messages decrypted and accepted
    uint64_t tampered;      //  failed authentication: changed, truncated, wrong key
    uint64_t replayed;      //  authentic, but this seq was accepted before
    uint64_t stale;         //  authentic, but below the replay window
    uint64_t peers;         //  seal_cache: peers held now
    uint64_t evicted;       //  seal_cache: peers forgotten to make room
} seal_stats_t;

typedef struct seal seal_t;

//  Session keys between us and one peer.  Keys are raw 32-byte X25519 keys
//  (keys_public / keys_secret in common/keys.h).  own_public must be the
//  public key of own_secret (keys.c checks pairs it loads).  NULL if the
//  peer's key is unusable (a low-order point) or out of memory.
seal_t *seal_new (const uint8_t *own_secret, const uint8_t *own_public,
                  const uint8_t *peer_public, seal_role_t role);
//  Wipes the session keys.
void    seal_destroy (seal_t **self_p);

//  Seal len bytes of plain into out[0 .. len + SEAL_OVERHEAD): nonce, then
//  ciphertext and tag.  plain may be out + SEAL_NONCE_SIZE (in place) or
//  not overlap out.  *seq_p (may be NULL) gets the message's seq.  Returns
//  0, or -DRV_E_TOO_LARGE if out_cap is too small.
int     seal_encrypt (seal_t *self, const uint8_t *ad, size_t ad_len,
                      const uint8_t *plain, size_t len,
                      uint8_t *out, size_t out_cap, size_t *out_len,
                      uint64_t *seq_p);
//  Open a sealed message of len bytes into out (len - SEAL_OVERHEAD bytes).
//  out may be sealed + SEAL_NONCE_SIZE (in place) or not overlap sealed.
//  Returns 0, -DRV_E_DENIED if the message is not authentic, replayed or
//  stale (seal_reason says which; out holds nothing useful then), or
//  -DRV_E_TOO_LARGE if out_cap is too small.
int     seal_decrypt (seal_t *self, const uint8_t *ad, size_t ad_len,
                      const uint8_t *sealed, size_t len,
                      uint8_t *out, size_t out_cap, size_t *out_len);
//  Why the last seal_decrypt failed, for the ERROR reason and the log.
const char    *seal_reason (const seal_t *self);
const uint8_t *seal_peer (const seal_t *self);
void           seal_stats (const seal_t *self, seal_stats_t *stats);

//  The canonical associated data of a RESULT (PROTOCOL.md 4.4) in version
//  (9.1 for version 2), its `tuples` given as runs[0 .. count).  Writes it
//  to buf if it fits in cap and returns its size either way, like
//  snprintf: call with cap 0 to learn the size.
size_t  seal_result_ad (uint8_t *buf, size_t cap, int version,
                        const uint8_t *agent_public, const char *job,
                        const char *agent, const msg_run_t *runs, size_t count);

//  The sink's side: its keypair and one server seal_t per agent key, made
//  on an agent's first authentic message and kept (least recently used
//  forgotten beyond max_peers), so the X25519 work happens once per agent.
typedef struct seal_cache seal_cache_t;

//  max_peers 0: SEAL_PEERS_MAX.
seal_cache_t *seal_cache_new (const uint8_t *own_secret, const uint8_t *own_public,
                              size_t max_peers);
void          seal_cache_destroy (seal_cache_t **self_p);
//  seal_decrypt with the seal of peer_public, made if needed; a peer is
//  kept only once one of its messages opened.  Same returns.
int           seal_cache_decrypt (seal_cache_t *self, const uint8_t *peer_public,
                                  const uint8_t *ad, size_t ad_len,
                                  const uint8_t *sealed, size_t len,
                                  uint8_t *out, size_t out_cap, size_t *out_len);
const char   *seal_cache_reason (const seal_cache_t *self);
//  Totals over every peer, including forgotten ones.
void          seal_cache_stats (const seal_cache_t *self, seal_stats_t *stats);

#endif
