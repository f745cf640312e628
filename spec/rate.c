//  rate.c -- GCRA (rate.h).
#include "spec/rate.h"

#include <math.h>

int
rate_init (rate_t *self, double per_second, uint32_t burst)
{
    if (!(per_second >= 1e-6 && per_second <= 1e9) || burst < 1)
        return -1;
    self->period_ns = (int64_t) llround (1e9 / per_second);
    if ((int64_t) (burst - 1) > INT64_MAX / 4 / self->period_ns)
        return -1;                  //  a burst of centuries
    self->tolerance_ns = self->period_ns * (int64_t) (burst - 1);
    return 0;
}

int64_t
rate_ready_at (const rate_t *self, int64_t tat)
{
    return tat - self->tolerance_ns;
}

bool
rate_take (const rate_t *self, int64_t *tat, int64_t now, int64_t *ready_at)
{
    int64_t ready = rate_ready_at (self, *tat);
    if (now < ready) {
        if (ready_at)
            *ready_at = ready;
        return false;
    }
    *tat = (*tat > now? *tat: now) + self->period_ns;
    return true;
}
