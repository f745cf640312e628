//  test_credit.c -- the agent's adaptive credit (agent/credit.h) on a clock
//  the test drives: windows shaped like those real agents produced.
#include "agent/credit.h"

#include <criterion/criterion.h>

#define THREADS     8
#define WINDOW_US   (CREDIT_WINDOW_MS * 1000)

//  One window of the clock at *now: the handlers have work for busy_us of
//  it (in one stretch from its start) and finish completed tuples.
static void
s_window (credit_t *credit, int64_t *now, int64_t busy_us, size_t completed)
{
    credit_tick (credit, 1, *now);
    credit_completed (credit, completed);
    credit_tick (credit, 0, *now + busy_us);
    *now += WINDOW_US;
    credit_tick (credit, 0, *now);
}

Test (credit, starts_at_the_threads)
{
    credit_t *credit = credit_new (THREADS, 0);
    cr_assert_eq (credit_target (credit), THREADS);
    cr_assert_eq (credit_hello (credit, 0), THREADS);
    credit_destroy (&credit);
}

//  The stall `--processes 0` echo showed: 8 slots, each round trip through
//  sink and broker far longer than the handler, so the handlers have work
//  2-7 ms of each 50 ms window while finishing ~700 tuples in it.  Those
//  windows must count, or the credit stays at the threads for ever.
Test (credit, a_fast_handler_held_by_its_credit_grows_it)
{
    credit_t *credit = credit_new (THREADS, 0);
    int64_t now = 1000000;
    credit_tick (credit, 0, now);
    for (int i = 0; i < 4; i++)
        s_window (credit, &now, 2000 + 1000 * i, 700);
    //  ~700 per 5 ms of work: 140,000/s, 20 ms of it ahead is ~2,800.
    cr_assert_gt (credit_target (credit), 100 * THREADS, "target %zu after 4 windows",
                  credit_target (credit));
    credit_destroy (&credit);
}

Test (credit, idle_or_stalled_windows_keep_the_rate)
{
    credit_t *credit = credit_new (THREADS, 0);
    int64_t now = 1000000;
    credit_tick (credit, 0, now);
    s_window (credit, &now, WINDOW_US, 1000);        //  20,000/s: 400 ahead
    size_t target = credit_target (credit);
    cr_assert_gt (target, THREADS);
    //  Nothing on the handlers (a sink or broker stalled): no sample.
    for (int i = 0; i < 10; i++)
        s_window (credit, &now, 0, 0);
    cr_assert_eq (credit_target (credit), target);
    //  A few tuples on a moment's work say nothing either.
    s_window (credit, &now, 100, THREADS / 2);
    cr_assert_eq (credit_target (credit), target);
    credit_destroy (&credit);
}

Test (credit, slow_handlers_shrink_it_to_the_threads)
{
    credit_t *credit = credit_new (THREADS, 0);
    int64_t now = 1000000;
    credit_tick (credit, 0, now);
    s_window (credit, &now, WINDOW_US, 5000);
    cr_assert_gt (credit_target (credit), 1000);
    //  Busy all the time, nothing finishes: half a step down per window.
    for (int i = 0; i < 40; i++)
        s_window (credit, &now, WINDOW_US, 0);
    cr_assert_eq (credit_target (credit), THREADS);
    credit_destroy (&credit);
}

Test (credit, fixed_slots_do_not_move)
{
    credit_t *credit = credit_new (THREADS, 3);
    int64_t now = 1000000;
    credit_tick (credit, 0, now);
    s_window (credit, &now, 3000, 5000);
    cr_assert_eq (credit_target (credit), 3);
    cr_assert_eq (credit_top_up (credit, 0), 3);
    cr_assert_eq (credit_top_up (credit, 0), 0, "the broker holds it already");
    credit_destroy (&credit);
}

