//  credit.h -- how many tuples the agent asks the broker for (its slots):
//  its handler threads' worth plus about CREDIT_AHEAD_MS of work at the
//  completion rate it measures, at most CREDIT_MAX.  So `echo` keeps
//  thousands in flight (big WORK, RESULT and DONE batches, no stalls on
//  round trips) while a slow handler (sleep, exec) holds little more than
//  what its threads run: no tuple waits in a slow agent's prefetch while
//  other agents idle.  A fixed number (--slots) replaces the estimate.
//
//  It also keeps the broker's side of the count: the credit the broker
//  still holds for us (offered in HELLO and CREDIT, not yet spent on
//  WORK), so the agent tops up to its target once per turn, with one
//  CREDIT, and lets the target shrink by not giving freed slots back.
#ifndef DROVER_CREDIT_H
#define DROVER_CREDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CREDIT_AHEAD_MS     20          //  work held beyond the threads' own, in time
#define CREDIT_MAX          16384       //  slots at most (adaptive)
#define CREDIT_WINDOW_MS    50          //  the completion rate is measured over this
#define CREDIT_BUSY_MIN_US  1000        //  a window's work counts as at least this long

typedef struct credit credit_t;

//  threads: handler threads in all (at least 1).  fixed: the slots to
//  hold, or 0 to adapt.  NULL if out of memory.
credit_t *credit_new (size_t threads, size_t fixed);
void      credit_destroy (credit_t **self_p);

//  count handlers finished (any result but a drop).
void      credit_completed (credit_t *self, size_t count);
//  running: tasks on the handler threads or queued for them now; now_us
//  a monotonic clock.  Call once a turn: measures the rate over the time
//  the handlers had work, so a sink or broker that stalls the pipeline
//  does not read as slow handlers (and shrink the credit when the stall
//  ends).
void      credit_tick (credit_t *self, size_t running, int64_t now_us);
//  The slots we want now.
size_t    credit_target (credit_t *self);

//  A session starts: the slots to offer in HELLO (target minus held, or 0).
size_t    credit_hello (credit_t *self, size_t held);
//  WORK with count tuples arrived: that much of the broker's credit is spent.
//  True if it was more than the broker had for us.
bool      credit_spent (credit_t *self, size_t count);
//  The credit to send now to bring held plus the broker's to the target
//  (counted as the broker's from now on); 0 if none.
size_t    credit_top_up (credit_t *self, size_t held);
//  The session ended: the broker holds nothing for us any more.
void      credit_lost (credit_t *self);

#endif
