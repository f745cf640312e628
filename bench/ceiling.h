//  ceiling.h -- the ceiling: drover's four hops (producer -> broker ->
//  agent -> sink, and the done path sink -> agent -> broker -> producer)
//  with drover's security and durability costs per batch and nothing else,
//  so that "what fraction of the limit" is measured in the same run.  The
//  producer runs in the bench (ceiling.c) and sees a result when it is in
//  the sink's file, as drover rows do; the broker, agent and sink are
//  `drover-bench ceiling-broker|ceiling-agent|ceiling-sink` processes
//  (ceiling_roles.c).  What each hop does is in bench/README.md.
//
//  The wire: one frame per message, a ceiling_head_t first, then
//    SUBMIT (producer -> broker) and WORK (broker -> agent): count tuples of
//      BENCH_TUPLE_SIZE bytes, packed;
//    RESULT (agent -> sink): count records of CEILING_RECORD bytes (the
//      tuple's input and its output, as drover's results carry both),
//      sealed: a nonce (a random stream, then a counter), the ciphertext
//      and its tag, with the head as associated data;
//    STORED (sink -> agent), DONE (agent -> broker, broker -> producer):
//      the head alone.
#ifndef DROVER_BENCH_CEILING_H
#define DROVER_BENCH_CEILING_H

#include <stdint.h>

#include "bench/bench.h"

//  Each role's CURVE secret key (Z85); absent: plain.
#define CEILING_ENV_SECRET  "CEILING_SECRET_KEY"
//  The agent's and the sink's XChaCha20-Poly1305 key, 64 hex digits;
//  absent: results unsealed.  One key per run, as drover's crypto_kx
//  exchange gives one per agent-sink pair; the exchange itself is once per
//  connection and left out.
#define CEILING_ENV_SEAL    "CEILING_SEAL_KEY"
#define CEILING_RECORD      (2 * BENCH_TUPLE_SIZE)
#define CEILING_NONCE       24
#define CEILING_TAG         16

typedef struct {
    uint64_t first;                 //  the batch's first tuple id
    uint32_t count;                 //  tuples first .. first + count - 1
    uint32_t reserved;              //  0
} ceiling_head_t;

#endif
