//  limiter.h -- rate and concurrency limits per key, for a dispatcher that
//  must not let a key at its limit hold up the others (no head-of-line
//  blocking).  A key is a target host, its /24 (IPv4) or /64 (IPv6), or a
//  tuple element; each has a token bucket (spec/rate.h) and a count of
//  tuples running.  The table is bounded: a new key pushes out the key
//  idle longest (nothing running, nothing waiting; LRU), and every
//  operation is O(1).  Time is passed in (nanoseconds, never going back);
//  nothing here reads a clock.
//
//  How a dispatcher uses it: for each tuple, limiter_acquire.  0: send it,
//  and limiter_release when it finishes.  -EAGAIN: set it aside under its
//  key, limiter_wait (key), and go on with other tuples.  Whenever it can
//  send, it asks limiter_next for a key that may go now (its rate allows
//  and a tuple of it finished), takes that key's tuple set aside, and
//  waits again if the key has more; it sleeps no later than
//  limiter_next_at.  Tuples of a key that has some set aside should queue
//  behind them, so a key's tuples keep their order.
#ifndef DROVER_LIMITER_H
#define DROVER_LIMITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t bytes[16];
} limit_key_t;

//  The key of a host (an address in any spelling, or a name in any case).
//  With network, an IPv4 address's /24 or an IPv6 address's /64 (a name
//  stays itself).
void limit_key_host (limit_key_t *key, const char *host, size_t len, bool network);
//  The key of any bytes (a tuple element's msgpack): a 128-bit hash.
void limit_key_bytes (limit_key_t *key, const void *data, size_t len);

typedef struct {
    double rate;                //  tuples a second per key; 0: no rate limit
    uint32_t burst;             //  tuples at once from a rested key (>= 1)
    uint32_t concurrency;       //  tuples running at once per key; 0: any
    uint32_t max_keys;          //  keys remembered (1 to 2^24)
} limiter_config_t;

typedef struct limiter limiter_t;

//  NULL if the config is out of range, or out of memory.
limiter_t *limiter_new (const limiter_config_t *config);
void limiter_destroy (limiter_t **self_p);

//  May a tuple of key start at now?  0: yes (a token taken, one more
//  running: release it when it finishes).  -EAGAIN: the key is at its
//  limit; *ready_at is when its rate lets it go, or INT64_MAX when it
//  waits for one of its tuples to finish.  -ENOSPC: every key the table
//  holds is in use (running or waiting), so a new one cannot be tracked:
//  treat it as at its limit.
int  limiter_acquire (limiter_t *self, const limit_key_t *key, int64_t now, int64_t *ready_at);
//  One tuple of key finished (or was never sent after all).
void limiter_release (limiter_t *self, const limit_key_t *key, int64_t now);
//  The dispatcher has a tuple of key set aside: list key for limiter_next
//  once it may go.  Waiting again before then changes nothing.  0, or
//  -ENOSPC as for limiter_acquire.
int  limiter_wait (limiter_t *self, const limit_key_t *key, int64_t now);
//  A waiting key that may go at now, oldest first: true and *key, no
//  longer waiting.  false if none.
bool limiter_next (limiter_t *self, int64_t now, limit_key_t *key);
//  When limiter_next will have a key through the passing of time alone:
//  INT64_MIN if it has one now, INT64_MAX if no key waits on its rate.
//  At most 1/256 of a period late.
int64_t limiter_next_at (const limiter_t *self);
//  Keys the table holds.
size_t limiter_keys (const limiter_t *self);

#endif
