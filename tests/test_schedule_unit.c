//  test_schedule_unit.c -- broker/schedule.c on its own: what a SCHEDULE
//  add makes, when a schedule is due (one run for many missed ticks), the
//  job a tick makes, and its store record read back (or refused damaged).
#include "broker/schedule.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#define T0 1796310245       //  2026-12-03 15:04:05 UTC

static msg_t *
s_add (const char *name, const char *cron, uint64_t every_ms)
{
    msg_t *msg = msg_new (MSG_SCHEDULE);
    msg_set_str (msg, MSG_F_OP, "add");
    if (name)
        msg_set_str (msg, MSG_F_SCHEDULE, name);
    if (cron)
        msg_set_str (msg, MSG_F_CRON, cron);
    if (every_ms)
        msg_set_uint (msg, MSG_F_EVERY_MS, every_ms);
    msg_set_str (msg, MSG_F_HANDLER, "echo");
    msg_set_str (msg, MSG_F_SINK, "tcp://127.0.0.1:5558");
    msg_set_uint (msg, MSG_F_MAX_ATTEMPTS, 2);
    const unsigned char tuples[][3] = { { 0x91, 0x01 }, { 0x91, 0x02 } };  //  [1], [2]
    for (size_t i = 0; i < 2; i++)
        cr_assert_eq (msg_add_tuple (msg, tuples[i], 2), 0);
    return msg;
}

static schedule_t *
s_new (const char *name, const char *cron, uint64_t every_ms)
{
    msg_t *msg = s_add (name, cron, every_ms);
    int code = 0;
    char reason[256] = "";
    schedule_t *schedule = schedule_new (msg, T0, &code, reason, sizeof reason);
    cr_assert_not_null (schedule, "%s", reason);
    msg_destroy (&msg);
    return schedule;
}

Test (schedule_unit, every_ticks_at_its_multiples_and_names_jobs_in_seconds)
{
    schedule_t *schedule = s_new ("beat", NULL, 30000);
    int64_t tick = 0;
    cr_assert_not (schedule_due (schedule, T0, &tick), "not at its making");
    cr_assert_eq (schedule_next_after (schedule, T0), T0 + 25);             //  15:04:30
    cr_assert_not (schedule_due (schedule, T0 + 24, &tick));
    cr_assert (schedule_due (schedule, T0 + 25, &tick));
    cr_assert_eq (tick, T0 + 25);
    const char *job = NULL;
    msg_t *submit = schedule_submit (schedule, tick, &job);
    cr_assert_not_null (submit);
    cr_assert_str_eq (job, "beat-20261203T150430Z");
    cr_assert_eq (msg_command (submit), MSG_SUBMIT);
    cr_assert_str_eq (msg_str (submit, MSG_F_JOB), job);
    cr_assert (msg_bool (submit, MSG_F_CLOSE));
    cr_assert_str_eq (msg_str (submit, MSG_F_HANDLER), "echo");
    cr_assert_eq (msg_uint (submit, MSG_F_MAX_ATTEMPTS), 2);
    cr_assert_eq (msg_tuple_count (submit), 2);
    cr_assert_eq (schedule_ran (schedule, tick, job), 0);
    msg_destroy (&submit);
    cr_assert_not (schedule_due (schedule, T0 + 54, &tick), "ran for that tick");
    //  Down for ten minutes: one run, for the latest tick.
    cr_assert (schedule_due (schedule, T0 + 625, &tick));
    cr_assert_eq (tick, T0 + 625);                                          //  15:14:30
    schedule_destroy (&schedule);
    cr_assert_null (schedule);
}

Test (schedule_unit, cron_runs_once_for_the_ticks_it_missed_and_names_jobs_in_minutes)
{
    schedule_t *schedule = s_new ("q", "*/15 * * * *", 0);
    int64_t tick = 0;
    cr_assert_eq (schedule_next_after (schedule, T0), T0 - 245 + 900);     //  15:15:00
    cr_assert_not (schedule_due (schedule, T0 + 600, &tick));
    //  15:15, 15:30, 15:45 and 16:00 passed: one run, for 16:00.
    cr_assert (schedule_due (schedule, T0 + 3600, &tick));
    cr_assert_eq (tick, T0 - 245 + 3600);
    const char *job = NULL;
    msg_t *submit = schedule_submit (schedule, tick, &job);
    cr_assert_str_eq (job, "q-20261203T1600Z");
    msg_destroy (&submit);
    schedule_destroy (&schedule);
}

Test (schedule_unit, its_record_reads_back_and_a_damaged_one_is_refused)
{
    schedule_t *schedule = s_new ("rec", "0 2 * * mon-fri", 0);
    cr_assert_eq (schedule_ran (schedule, T0 - 245, "rec-20261203T1500Z"), 0);
    unsigned char *record;
    size_t size;
    cr_assert_eq (schedule_encode (schedule, &record, &size), 0);
    schedule_t *back = schedule_decode ("rec", 3, record, size);
    cr_assert_not_null (back);
    cr_assert_str_eq (schedule_name (back), "rec");
    int64_t tick;
    cr_assert_eq (schedule_next_after (back, T0), schedule_next_after (schedule, T0));
    cr_assert_not (schedule_due (back, T0, &tick), "its last run came back");
    const char *job = NULL;
    msg_t *submit = schedule_submit (back, T0, &job);
    cr_assert_eq (msg_tuple_count (submit), 2);
    size_t tuple_size;
    const unsigned char *tuple = msg_tuple (submit, 1, &tuple_size);
    cr_assert (tuple_size == 2 && tuple[0] == 0x91 && tuple[1] == 0x02);
    cr_assert_str_eq (msg_str (submit, MSG_F_SINK), "tcp://127.0.0.1:5558");
    msg_destroy (&submit);
    for (size_t cut = 0; cut < size; cut += 7)
        cr_assert_null (schedule_decode ("rec", 3, record, cut), "cut at %zu", cut);
    record[7] = 9;                          //  another version
    cr_assert_null (schedule_decode ("rec", 3, record, size));
    free (record);
    schedule_destroy (&back);
    schedule_destroy (&schedule);
}

static int
s_refused (const char *name, const char *cron, uint64_t every_ms, char *reason, size_t size)
{
    msg_t *msg = s_add (name, cron, every_ms);
    int code = 0;
    schedule_t *schedule = schedule_new (msg, T0, &code, reason, size);
    cr_assert_null (schedule);
    msg_destroy (&msg);
    return code;
}

Test (schedule_unit, refusals_say_why)
{
    char reason[256], long_name[SCHEDULE_MAX_NAME + 2];
    cr_assert_eq (s_refused ("c", "61 * * * *", 0, reason, sizeof reason), DRV_E_BAD_TYPE);
    cr_assert (strstr (reason, "cron: '61' is out of range for the minute"), "%s", reason);
    cr_assert_eq (s_refused ("c", "0 0 31 2 *", 0, reason, sizeof reason), DRV_E_BAD_TYPE);
    cr_assert (strstr (reason, "never matches"), "%s", reason);
    cr_assert_eq (s_refused ("c", "@daily", 60000, reason, sizeof reason), DRV_E_BAD_TYPE);
    cr_assert_eq (s_refused ("c", NULL, 0, reason, sizeof reason), DRV_E_BAD_TYPE);
    cr_assert_eq (s_refused ("c", NULL, 1500, reason, sizeof reason), DRV_E_BAD_TYPE);
    cr_assert_eq (s_refused (NULL, "@daily", 0, reason, sizeof reason), DRV_E_BAD_TYPE);
    memset (long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = 0;
    cr_assert_eq (s_refused (long_name, "@daily", 0, reason, sizeof reason), DRV_E_TOO_LARGE);
}
