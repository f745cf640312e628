//  test_rate.c -- unit tests of spec/rate.c (GCRA) in simulated time:
//  the burst then one per period, when a denied key may go, a job-wide
//  rate over ten simulated seconds, limits of the config.
#include <criterion/criterion.h>

#include "spec/rate.h"

#define MS 1000000LL

Test (rate, burst_then_one_per_period)
{
    rate_t rate;
    cr_assert_eq (rate_init (&rate, 10, 5), 0);     //  10/s: a period of 100 ms
    int64_t tat = 0, ready_at = 0, now = 1000 * MS;
    for (int i = 0; i < 5; i++)
        cr_assert (rate_take (&rate, &tat, now, &ready_at), "burst %d", i);
    cr_expect_not (rate_take (&rate, &tat, now, &ready_at));
    cr_expect_eq (ready_at, now + 100 * MS);
    cr_expect_not (rate_take (&rate, &tat, now + 100 * MS - 1, NULL));
    cr_expect (rate_take (&rate, &tat, now + 100 * MS, NULL));
    cr_expect_not (rate_take (&rate, &tat, now + 150 * MS, &ready_at));
    cr_expect_eq (ready_at, now + 200 * MS);
    //  Rested for long: the full burst again, and no more.
    now += 10000 * MS;
    int went = 0;
    while (rate_take (&rate, &tat, now, NULL))
        went++;
    cr_expect_eq (went, 5);
}

Test (rate, a_job_wide_rate_over_ten_seconds)
{
    //  A dispatcher that wakes when told: exactly the rate.
    rate_t rate;
    cr_assert_eq (rate_init (&rate, 800, 1), 0);
    int64_t tat = 0, ready_at = 0;
    int went = 0;
    for (int64_t now = 0; now < 10000 * MS; )
        if (rate_take (&rate, &tat, now, &ready_at))
            went++;
        else
            now = ready_at;
    cr_expect (went >= 7999 && went <= 8001, "%d in 10 s at 800/s", went);
    //  One that looks every 0.1 ms: with burst 1 each late look loses its
    //  lateness (a period and a bit between tuples); a burst of 4 absorbs
    //  it.
    int late[2] = { 0, 0 };
    for (int i = 0; i < 2; i++) {
        cr_assert_eq (rate_init (&rate, 800, i? 4: 1), 0);
        tat = 0;
        for (int64_t now = 0; now < 10000 * MS; now += MS / 10)
            while (rate_take (&rate, &tat, now, NULL))
                late[i]++;
    }
    cr_expect (late[0] >= 7400 && late[0] < 7999, "%d in 10 s, burst 1", late[0]);
    cr_expect (late[1] >= 7999 && late[1] <= 8004, "%d in 10 s, burst 4", late[1]);
}

Test (rate, config_limits)
{
    rate_t rate;
    cr_expect_eq (rate_init (&rate, 0, 1), -1);
    cr_expect_eq (rate_init (&rate, -5, 1), -1);
    cr_expect_eq (rate_init (&rate, 2e9, 1), -1);
    cr_expect_eq (rate_init (&rate, 10, 0), -1);
    cr_expect_eq (rate_init (&rate, 1e-6, 4000000000u), -1);
    cr_expect_eq (rate_init (&rate, 3, 1), 0);
    cr_expect_eq (rate.period_ns, 333333333);
    cr_expect_eq (rate_init (&rate, 1e9, 1), 0);
    cr_expect_eq (rate.period_ns, 1);
}
