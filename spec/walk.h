//  walk.h -- the order in which a spec's tuples are handed out: a keyed
//  pseudo-random permutation of the positions 0 .. hosts x ports - 1
//  (a tuple's id is its position + 1), shaped so that consecutive
//  positions hit different hosts and every host is visited at an even
//  pace:
//
//  position p is in round r = p / hosts, at k = p % hosts.  Each round
//  visits every host once, in an order of its own (a permutation of the
//  hosts keyed by the seed and r); host h takes its ports in an order of
//  its own too (one shuffle of the ports, started at an offset per host),
//  one port a round.  So within any window of W positions a host appears
//  at most ceil (W / hosts) + 1 times: the spread per-host rate limits
//  want, and what a scanned network sees.  Nothing is stored per tuple.
//
//  Deterministic from (hosts, ports, seed): the broker stores the seed
//  with the job and makes the same walk after a restart.
#ifndef DROVER_WALK_H
#define DROVER_WALK_H

#include <stdint.h>

typedef struct walk walk_t;

//  The walk of hosts x ports (each >= 1, product <= 2^62).  NULL if out of
//  memory.
walk_t  *walk_new (uint64_t hosts, uint32_t ports, uint64_t seed);
void     walk_destroy (walk_t **self_p);
uint64_t walk_count (const walk_t *self);
//  The host and port (indices into the spec) at position (< walk_count).
void     walk_at (const walk_t *self, uint64_t position, uint64_t *host, uint32_t *port);

#endif
