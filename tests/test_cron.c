//  test_cron.c -- unit tests of spec/cron.c: known ticks, the day of
//  month / day of week rule, names and macros, errors, next and last tick
//  against a minute-by-minute scan with predicates written here, and one
//  run for any number of missed ticks.
#include <criterion/criterion.h>

#include "spec/cron.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t
s_utc (int year, int month, int day, int hour, int minute)
{
    struct tm tm = { .tm_year = year - 1900, .tm_mon = month - 1, .tm_mday = day,
                     .tm_hour = hour, .tm_min = minute };
    return (int64_t) timegm (&tm);
}

static cron_t *
s_cron (const char *expression)
{
    char err[256] = "";
    cron_t *cron = cron_new (expression, err, sizeof err);
    cr_assert_not_null (cron, "'%s': %s", expression, err);
    return cron;
}

static void
s_expect_next (const char *expression, int64_t after, int64_t want)
{
    cron_t *cron = s_cron (expression);
    int64_t have = cron_next_after (cron, after);
    cr_expect_eq (have, want, "'%s': next %lld, wanted %lld", expression, (long long) have,
                  (long long) want);
    cron_destroy (&cron);
    cr_expect_null (cron);
}

Test (cron, known_ticks)
{
    //  2026-01-02 is a Friday.
    s_expect_next ("*/15 * * * *", s_utc (2026, 1, 1, 0, 7), s_utc (2026, 1, 1, 0, 15));
    s_expect_next ("*/15 * * * *", s_utc (2026, 1, 1, 0, 15), s_utc (2026, 1, 1, 0, 30));
    s_expect_next ("*/15 * * * *", s_utc (2026, 1, 1, 0, 15) + 59, s_utc (2026, 1, 1, 0, 30));
    s_expect_next ("*/15 * * * *", s_utc (2026, 12, 31, 23, 50), s_utc (2027, 1, 1, 0, 0));
    s_expect_next ("0 2 * * mon-fri", s_utc (2026, 1, 2, 3, 0), s_utc (2026, 1, 5, 2, 0));
    s_expect_next ("30 4 1,15 * *", s_utc (2026, 1, 1, 4, 30), s_utc (2026, 1, 15, 4, 30));
    s_expect_next ("0 0 29 2 *", s_utc (2025, 3, 1, 0, 0), s_utc (2028, 2, 29, 0, 0));
    s_expect_next ("0 0 29 FEB *", s_utc (2096, 3, 1, 0, 0), s_utc (2104, 2, 29, 0, 0));
    s_expect_next ("@hourly", s_utc (2026, 5, 5, 5, 5), s_utc (2026, 5, 5, 6, 0));
    s_expect_next ("@daily", s_utc (2026, 5, 5, 5, 5), s_utc (2026, 5, 6, 0, 0));
    s_expect_next ("@weekly", s_utc (2026, 1, 2, 0, 0), s_utc (2026, 1, 4, 0, 0));
    s_expect_next ("@monthly", s_utc (2026, 1, 2, 0, 0), s_utc (2026, 2, 1, 0, 0));
    s_expect_next ("@YEARLY", s_utc (2026, 1, 2, 0, 0), s_utc (2027, 1, 1, 0, 0));
    s_expect_next ("0 12 * * 7", s_utc (2026, 1, 2, 0, 0), s_utc (2026, 1, 4, 12, 0));
    s_expect_next ("0 12 * * sun", s_utc (2026, 1, 2, 0, 0), s_utc (2026, 1, 4, 12, 0));
    s_expect_next ("59 23 31 dec *", s_utc (2026, 1, 1, 0, 0), s_utc (2026, 12, 31, 23, 59));
    s_expect_next ("0 0 1/10 * *", s_utc (2026, 1, 1, 0, 0), s_utc (2026, 1, 11, 0, 0));
    s_expect_next ("  0\t0  1  *  *  ", s_utc (2026, 1, 1, 0, 0), s_utc (2026, 2, 1, 0, 0));
}

Test (cron, day_of_month_or_day_of_week)
{
    //  Both restricted: the 13th OR a Friday.  2026-01-02 is a Friday,
    //  2026-01-13 a Tuesday.
    s_expect_next ("0 0 13 * fri", s_utc (2026, 1, 1, 0, 0), s_utc (2026, 1, 2, 0, 0));
    s_expect_next ("0 0 13 * fri", s_utc (2026, 1, 9, 0, 0), s_utc (2026, 1, 13, 0, 0));
    //  One starting with '*' (even */2): both must match, odd days that
    //  are Mondays: 2026-01-05 and 19, not the 12th.
    s_expect_next ("0 0 */2 * mon", s_utc (2026, 1, 1, 0, 0), s_utc (2026, 1, 5, 0, 0));
    s_expect_next ("0 0 */2 * mon", s_utc (2026, 1, 5, 0, 0), s_utc (2026, 1, 19, 0, 0));
}

Test (cron, errors_name_the_field_and_the_word)
{
    const struct { const char *expression, *says; } bad[] = {
        { "61 * * * *", "'61' is out of range for the minute (0-59" },
        { "* 24 * * *", "out of range for the hour" },
        { "* * 0 * *", "out of range for the day of month" },
        { "* * * 13 *", "out of range for the month" },
        { "* * * * 8", "out of range for the day of week" },
        { "*/0 * * * *", "out of range" },
        { "5-1 * * * *", "out of range" },
        { "x * * * *", "'x' is not a minute" },
        { "1,,2 * * * *", "'' is not a minute" },
        { "* * * * mon-", "is not a day of week" },
        { "* * * *", "has 4 fields, not 5" },
        { "", "has 0 fields" },
        { "* * * * * *", "more than 5 fields" },
        { "0 0 31 2 *", "never matches" },
        { "0 0 30,31 feb *", "never matches" },
        { "@reboot", "is not one of @yearly" },
        { "99999999 * * * *", "is not a minute" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        cron_t *cron = cron_new (bad[i].expression, err, sizeof err);
        cr_expect_null (cron, "'%s' accepted", bad[i].expression);
        cr_expect (strstr (err, bad[i].says), "'%s': '%s', wanted '%s'", bad[i].expression,
                   err, bad[i].says);
        cron_destroy (&cron);
    }
    //  31 in a list with days other months have is fine.
    cron_t *cron = s_cron ("0 0 31 feb,mar *");
    cron_destroy (&cron);
}

//  The same schedules as predicates over a broken-down UTC time.
static bool every_quarter (const struct tm *t) { return t->tm_min % 15 == 0; }
static bool weekdays_at_2 (const struct tm *t)
{ return t->tm_min == 0 && t->tm_hour == 2 && t->tm_wday >= 1 && t->tm_wday <= 5; }
static bool thirteenth_or_friday (const struct tm *t)
{ return t->tm_min == 0 && t->tm_hour == 0 && (t->tm_mday == 13 || t->tm_wday == 5); }
static bool odd_mondays (const struct tm *t)
{ return t->tm_min == 7 && t->tm_hour == 23 && t->tm_mday % 2 == 1 && t->tm_wday == 1; }
static bool mixed (const struct tm *t)
{
    return (t->tm_min == 5 || (t->tm_min >= 10 && t->tm_min <= 20 && t->tm_min % 5 == 0))
        && t->tm_hour % 6 == 0 && (t->tm_mon == 0 || t->tm_mon == 6);
}

Test (cron, next_and_last_agree_with_a_minute_by_minute_scan)
{
    const struct { const char *expression; bool (*matches) (const struct tm *); } cases[] = {
        { "*/15 * * * *", every_quarter }, { "0 2 * * 1-5", weekdays_at_2 },
        { "0 0 13 * 5", thirteenth_or_friday }, { "7 23 */2 * mon", odd_mondays },
        { "5,10-20/5 */6 * jan,jul *", mixed },
    };
    srand (3);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        cron_t *cron = s_cron (cases[c].expression);
        for (int round = 0; round < 20; round++) {
            int64_t t = s_utc (2024, 1, 1, 0, 0) + (int64_t) (rand () % (3 * 365)) * 86400
                      + rand () % 86400;
            int64_t want = (t / 60 + 1) * 60;
            for (struct tm tm; ; want += 60) {
                time_t at = (time_t) want;
                if (cases[c].matches (gmtime_r (&at, &tm)))
                    break;
            }
            cr_assert_eq (cron_next_after (cron, t), want, "'%s' after %lld",
                          cases[c].expression, (long long) t);
            int64_t last = t / 60 * 60;
            for (struct tm tm; ; last -= 60) {
                time_t at = (time_t) last;
                if (cases[c].matches (gmtime_r (&at, &tm)))
                    break;
            }
            cr_assert_eq (cron_last_at (cron, t), last, "'%s' last at %lld",
                          cases[c].expression, (long long) t);
        }
        cron_destroy (&cron);
    }
}

Test (cron, missed_ticks_make_one_run)
{
    cron_t *cron = s_cron ("*/15 * * * *");
    int64_t last = s_utc (2026, 3, 1, 10, 0), tick = 0;
    //  Down from 10:00 to 13:07: twelve ticks missed, one run, for 13:00.
    cr_assert (cron_due (cron, last, s_utc (2026, 3, 1, 13, 7), &tick));
    cr_expect_eq (tick, s_utc (2026, 3, 1, 13, 0));
    last = tick;
    cr_expect_not (cron_due (cron, last, s_utc (2026, 3, 1, 13, 7), &tick));
    cr_expect_not (cron_due (cron, last, s_utc (2026, 3, 1, 13, 14) + 59, &tick));
    cr_assert (cron_due (cron, last, s_utc (2026, 3, 1, 13, 15), &tick));
    cr_expect_eq (tick, s_utc (2026, 3, 1, 13, 15));
    //  A schedule made at 13:20 (its last) is not due before 13:30.
    cr_expect_not (cron_due (cron, s_utc (2026, 3, 1, 13, 20), s_utc (2026, 3, 1, 13, 29),
                             &tick));
    cron_destroy (&cron);
    //  Rare schedules too: a year down, one run.
    cron = s_cron ("0 0 29 2 *");
    cr_assert (cron_due (cron, s_utc (2020, 3, 1, 0, 0), s_utc (2029, 1, 1, 0, 0), &tick));
    cr_expect_eq (tick, s_utc (2028, 2, 29, 0, 0));
    cron_destroy (&cron);
}
