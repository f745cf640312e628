//  done.c -- the pool's finished results and their flush policy; see
//  done.h.  Due when half or more of what the pool holds is done (so the
//  next tasks can come while the threads work on the rest), something must
//  go at once, or the oldest has waited POOL_FLUSH_MS (a slow tuple holds
//  up the rest).
#include "agent/done.h"

#include <stdio.h>
#include <stdlib.h>

struct done {
    pool_results_t results;     //  not yet taken
    size_t count;               //  records in results
    uint64_t first_us;          //  when results became non-empty (monotonic)
    bool urgent;                //  results hold a record that must go at once
    bool woken;                 //  a wake-up is on its way or waiting
};

done_t *
done_new (void)
{
    return calloc (1, sizeof (done_t));
}

void
done_destroy (done_t **self_p)
{
    done_t *self = *self_p;
    if (!self)
        return;
    pool_results_free (&self->results);
    free (self);
    *self_p = NULL;
}

static bool
s_due (done_t *self, size_t held, uint64_t now_us)
{
    return self->count
        && (self->urgent || self->count >= held
            || now_us - self->first_us >= POOL_FLUSH_MS * 1000);
}

bool
done_post (done_t *self, const pool_record_t *head, const void *data, size_t size,
           bool urgent, size_t held, uint64_t now_us)
{
    bool was_empty = self->count == 0;
    if (pool_results_add (&self->results, head, data, size)) {
        //  The task's slot stays taken until the broker's lease ends.
        fprintf (stderr, "drover: out of memory: the result of a task is lost\n");
        return false;
    }
    self->count++;
    if (was_empty)
        self->first_us = now_us;
    self->urgent |= urgent;
    bool wake = !self->woken && (was_empty || s_due (self, held, now_us));
    self->woken |= wake;
    return wake;
}

size_t
done_take (done_t *self, pool_results_t *results, bool all, size_t held, uint64_t now_us,
           int64_t *next_ms)
{
    self->woken = false;
    *next_ms = INT64_MAX;
    size_t count = self->count;
    if (!all && count && !s_due (self, held, now_us)) {
        *next_ms = (int64_t) ((self->first_us + POOL_FLUSH_MS * 1000) / 1000) + 1;
        count = 0;
    }
    else
    if (count && results->size == 0) {
        pool_results_t swap = *results;
        *results = self->results;
        self->results = swap;
        self->results.size = 0;
    }
    else
    if (count && pool_results_add (results, NULL, self->results.data, self->results.size) == 0)
        self->results.size = 0;
    else
        count = 0;
    if (count) {
        self->count = 0;
        self->urgent = false;
    }
    return count;
}
