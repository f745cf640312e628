//  permutation.c -- a keyed permutation of [0, n) by a mixed-radix
//  Feistel network and cycle-walking (permutation.h).
#include "spec/permutation.h"

#include <assert.h>
#include <math.h>

uint64_t
permutation_mix (uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

//  ceil (sqrt (n)), exactly: the double is only a first guess.
static uint64_t
s_ceil_sqrt (uint64_t n)
{
    uint64_t root = (uint64_t) sqrt ((double) n);
    while (root > 0 && root * root >= n)
        root--;
    while (root * root < n)
        root++;
    return root;
}

void
permutation_init (permutation_t *self, uint64_t n, uint64_t key)
{
    assert (n >= 1 && n <= PERMUTATION_MAX);
    self->n = n;
    self->a = s_ceil_sqrt (n);
    self->b = (n + self->a - 1) / self->a;
    for (int i = 0; i < PERMUTATION_ROUNDS; i++)
        self->keys[i] = permutation_mix (key + 0x632be59bd9b4e019ull * (uint64_t) (i + 1));
}

//  A hash into [0, size) by a multiply, not a division (a 64-bit division
//  costs as much as the rest of a round).
static uint64_t
s_below (uint64_t hash, uint64_t size)
{
    return (uint64_t) (((unsigned __int128) hash * size) >> 64);
}

//  One pass of the network over [0, a*b).  Each round takes (left in
//  Z_p, right in Z_q) to (right, left + F(right) mod p), so the sides
//  swap sizes each round; after an even number of rounds left is in Z_a
//  again.
static uint64_t
s_encrypt (const permutation_t *self, uint64_t x)
{
    uint64_t right = x / self->a, left = x - right * self->a;
    uint64_t left_size = self->a, right_size = self->b;
    for (int i = 0; i < PERMUTATION_ROUNDS; i++) {
        uint64_t mixed = left + s_below (permutation_mix (right ^ self->keys[i]), left_size);
        mixed -= mixed >= left_size? left_size: 0;
        left = right;
        right = mixed;
        uint64_t size = left_size;
        left_size = right_size;
        right_size = size;
    }
    return left + self->a * right;
}

uint64_t
permutation_apply (const permutation_t *self, uint64_t x)
{
    assert (x < self->n);
    do
        x = s_encrypt (self, x);
    while (x >= self->n);
    return x;
}
