//  credit.c -- the agent's slots, measured or fixed; see credit.h.  The
//  rate rises at once to what a window measured and falls by half a step
//  per window, so a burst of slow tuples shrinks the credit within a few
//  windows, while idle time (no tasks on the handlers) is left out.
#include "agent/credit.h"

#include <stdbool.h>
#include <stdlib.h>

struct credit {
    size_t threads;
    size_t fixed;               //  --slots, or 0
    double rate;                //  tuples finished per second of work (estimate)
    size_t target;
    size_t broker;              //  credit the broker holds for us
    uint64_t completed;         //  in the current window
    int64_t busy_us;            //  of the window, with tasks on the handlers
    int64_t window_start;       //  microseconds; 0: not started
    int64_t last_tick;
    bool running;               //  tasks on the handlers at the last tick
};

static void
s_set_target (credit_t *self)
{
    if (self->fixed) {
        self->target = self->fixed;
        return;
    }
    double ahead = self->rate * CREDIT_AHEAD_MS / 1000.0;
    size_t target = self->threads + (ahead < CREDIT_MAX? (size_t) ahead: CREDIT_MAX);
    self->target = target < CREDIT_MAX? target: CREDIT_MAX;
    if (self->target < self->threads)
        self->target = self->threads;
}

credit_t *
credit_new (size_t threads, size_t fixed)
{
    credit_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->threads = threads? threads: 1;
    self->fixed = fixed;
    s_set_target (self);
    return self;
}

void
credit_destroy (credit_t **self_p)
{
    free (*self_p);
    *self_p = NULL;
}

void
credit_completed (credit_t *self, size_t count)
{
    self->completed += count;
}

void
credit_tick (credit_t *self, size_t running, int64_t now_us)
{
    if (!self->window_start)
        self->window_start = self->last_tick = now_us;
    if (self->running)
        self->busy_us += now_us - self->last_tick;
    self->running = running > 0;
    self->last_tick = now_us;
    if (now_us - self->window_start < CREDIT_WINDOW_MS * 1000)
        return;
    //  A window says something of the rate if the handlers had work for a
    //  good part of it, or finished a round of the threads' worth: a fast
    //  handler held to a small credit (at the start) has work only moments
    //  of each window, and must still read as fast, or its credit never
    //  grows past the threads (`--processes 0` echo stalled so).
    if (self->busy_us >= CREDIT_WINDOW_MS * 1000 / 5 || self->completed >= self->threads) {
        int64_t busy = self->busy_us > CREDIT_BUSY_MIN_US? self->busy_us: CREDIT_BUSY_MIN_US;
        double sample = (double) self->completed * 1e6 / (double) busy;
        self->rate = sample >= self->rate? sample: (self->rate + sample) / 2;
    }
    self->completed = 0;
    self->busy_us = 0;
    self->window_start = now_us;
    s_set_target (self);
}

size_t
credit_target (credit_t *self)
{
    return self->target;
}

size_t
credit_hello (credit_t *self, size_t held)
{
    self->broker = held < self->target? self->target - held: 0;
    return self->broker;
}

bool
credit_spent (credit_t *self, size_t count)
{
    bool over = count > self->broker;
    self->broker = over? 0: self->broker - count;
    return over;
}

size_t
credit_top_up (credit_t *self, size_t held)
{
    size_t have = held + self->broker;
    if (have >= self->target)
        return 0;
    size_t more = self->target - have;
    self->broker += more;
    return more;
}

void
credit_lost (credit_t *self)
{
    self->broker = 0;
}
