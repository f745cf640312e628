//  permutation.h -- a keyed pseudo-random permutation of [0, n), computed
//  one value at a time with no memory: position -> index, so a spec's
//  tuples can be handed out in an order that looks random (the walk,
//  spec/walk.h) without ever listing them.
//
//  A Feistel network over the mixed-radix domain Z_a x Z_b, a*b >= n with
//  a = ceil(sqrt n), each round adding a keyed hash of one side to the
//  other modulo its size (Black and Rogaway's generalised Feistel cipher);
//  four rounds (Luby and Rackoff: enough for a pseudo-random permutation);
//  values that land at n or beyond are encrypted again until they fall in
//  [0, n) (cycle-walking), which keeps it a permutation of [0, n).  As
//  a*b - n < a, that is rare once n is large.  Not a cipher for secrets:
//  the order must only look shuffled and be the same for the same key.
//  About 40 ns a value: no division in a round.
//
//  A value type (a few words, no allocation) so a walk can make one per
//  round of its host order.
#ifndef DROVER_PERMUTATION_H
#define DROVER_PERMUTATION_H

#include <stdint.h>

#define PERMUTATION_ROUNDS 4
//  The largest n (a*b must fit 64 bits with room).
#define PERMUTATION_MAX ((uint64_t) 1 << 62)

typedef struct {
    uint64_t n, a, b;
    uint64_t keys[PERMUTATION_ROUNDS];
} permutation_t;

//  The permutation of [0, n) for key; 1 <= n <= PERMUTATION_MAX.
void permutation_init (permutation_t *self, uint64_t n, uint64_t key);
//  Where x goes (x < n).
uint64_t permutation_apply (const permutation_t *self, uint64_t x);
//  A 64-bit mix (splitmix64's finaliser): keys and hashes of the walk.
uint64_t permutation_mix (uint64_t x);

#endif
