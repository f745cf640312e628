//  seal.h -- RESULT batches sealed end to end, from an agent to its sink:
//  the broker, relays and anyone holding only the transport never read or
//  change them.  One X25519 exchange per agent-sink pair (crypto_kx), then
//  one XChaCha20-Poly1305 AEAD per message, and a replay window at the sink.
//
//  What the lead copies into PROTOCOL.md ("4.4 Sealed results"):
//
//  Keys.  The agent and the sink each have a long-term X25519 keypair (the
//  same keypair as their CURVE certificate).  The agent learns the sink's
//  public key from its job or its configuration.  Both sides derive a pair
//  of session keys with libsodium's crypto_kx, the agent as client
//  (crypto_kx_client_session_keys) and the sink as server
//  (crypto_kx_server_session_keys): the agent seals with its tx key, which
//  is the sink's rx key.  Each side does this once per peer, never per
//  message.
//
//  Header.  A sealed RESULT carries `key` (str): the agent's public key as
//  40 Z85 characters.  Its presence says that the payload frame is sealed.
//  A sink that has a keypair MUST reject a RESULT without `key` (DENIED); a
//  sink without one MUST reject a RESULT with `key` (DENIED).
//
//  Payload.  The one payload frame is
//
//      offset  size    field
//      0       16      stream: random, chosen once by the sealing side
//      16      8       seq: uint64, big-endian, 1 for the first message of
//                      the stream, +1 for each message after it
//      24      n + 16  XChaCha20-Poly1305-IETF ciphertext and tag of the
//                      n-byte batch (PROTOCOL.md 4.3)
//
//  The first 24 bytes are the AEAD nonce.  Deriving it from a stream and a
//  counter makes it unique without a random draw per message (a getrandom
//  call costs about 0.3 us here, half the cost of sealing 100 bytes), and
//  gives the replay window its sequence number with no extra bytes: the
//  nonce is authenticated, so a changed stream or seq fails like a changed
//  ciphertext.  Overhead: 40 bytes per message.
//
//  Associated data.  The AEAD authenticates, besides the ciphertext, these
//  bytes built from the header (integers big-endian, no padding):
//
//      "DRVSEAL1"                          8 ASCII bytes: domain and version
//      agent public key                    32 bytes, raw (the `key` decoded)
//      len(job)       uint32, job          the `job` string's bytes
//      len(agent)     uint32, agent        the `agent` string's bytes
//      count          uint32               number of refs in `tuples`
//      count x (id uint64, attempt uint32) `tuples`, in header order
//
//  So a sink accepts a batch only with the job, agent name, tuple ids and
//  attempts it was sealed with; moving a batch to another job or relabelling
//  its tuples fails authentication.  The sink's key is bound through the
//  session keys.  The canonical form, not the header's msgpack bytes, is
//  authenticated: msgpack allows several encodings of one integer, and a
//  peer in another language must be able to rebuild the bytes exactly.
//
//  Replays.  The sink keeps, per agent key and stream, the highest seq seen
//  and a window of the 1024 seqs below it.  It accepts a seq above the
//  highest, or inside the window and not seen yet (batches may be
//  reordered); it rejects a seq seen before (replayed) or below the window
//  (stale).  Checks run after authentication, so forged messages cannot
//  move a window.  An agent sends a timed-out RESULT again as a new message
//  with a new seq.  Windows live in memory: after a sink restart, or once
//  an idle stream has been forgotten (SEAL_STREAMS_MAX per agent key,
//  SEAL_PEERS_MAX agent keys, least recently used first), an old message
//  can pass the seal again; the sink's dedupe by (job, tuple id) still
//  keeps it out of the output.  Several agents may share one key (container
//  replicas): each picks its own stream, so their seqs never collide.
//
//  Failures.  A message that fails authentication (tampered, truncated,
//  wrong key), is replayed or stale gets ERROR DENIED and is counted.
#ifndef DROVER_SEAL_H
#define DROVER_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/msg.h"              //  msg_ref_t, DRV_E_*

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

//  The canonical associated data of a RESULT (see above).  Writes it to
//  buf if it fits in cap and returns its size either way, like snprintf:
//  call with cap 0 to learn the size.
size_t  seal_result_ad (uint8_t *buf, size_t cap, const uint8_t *agent_public,
                        const char *job, const char *agent,
                        const msg_ref_t *refs, size_t count);

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
