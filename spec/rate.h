//  rate.h -- a rate with a burst, as the generic cell rate algorithm
//  (GCRA): a token bucket kept as one time per key, the "theoretical
//  arrival time" (tat).  A key may go at now if now >= tat - tolerance;
//  going moves tat one period on.  So `burst` may go at once, then one
//  per period; a key whose tat <= now has a full bucket and carries no
//  state (it may be forgotten).  Time is passed in (nanoseconds on any
//  clock that does not go back); nothing here reads a clock.
//
//  A value type, a few words: the limiter (spec/limiter.h) keeps one tat
//  per key and one rate_t for all; a job-wide rate is one rate_t and one
//  tat.
#ifndef DROVER_RATE_H
#define DROVER_RATE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    int64_t period_ns;          //  one token per period
    int64_t tolerance_ns;       //  (burst - 1) periods
} rate_t;

//  per_second from 1e-6 to 1e9, burst >= 1.  0, or -1 if out of range.
int  rate_init (rate_t *self, double per_second, uint32_t burst);
//  Whether a key with *tat (0 for a key never seen) may go at now; if so,
//  *tat moves on.  If not, *ready_at (when not NULL) is when it may.
bool rate_take (const rate_t *self, int64_t *tat, int64_t now, int64_t *ready_at);
//  When a key with tat may go next (<= now: at once).
int64_t rate_ready_at (const rate_t *self, int64_t tat);

#endif
