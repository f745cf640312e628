//  cron.h -- when a recurring job runs: a 5-field cron expression (minute,
//  hour, day of month, month, day of week), in UTC:
//
//      */15 * * * *     0 2 * * mon-fri     30 4 1,15 * *     @daily
//
//  A field is * or a list of values, ranges a-b and steps (*/n, a-b/n,
//  a/n meaning a to the field's end); months and days of the week may be
//  names (jan, mon; any case), Sunday is 0 or 7.  As in Vixie cron, when
//  both the day of month and the day of week are restricted (neither field
//  starts with '*'), a day matches if either does; otherwise both must.
//  @yearly (@annually), @monthly, @weekly, @daily (@midnight) and @hourly
//  stand for their usual expressions.  Times are seconds since the epoch;
//  nothing here reads the clock.
#ifndef DROVER_CRON_H
#define DROVER_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cron cron_t;

//  NULL with the reason in err: a syntax error (naming the field and the
//  word), or an expression that never matches (31 February).
cron_t *cron_new (const char *expression, char *err, size_t errlen);
void cron_destroy (cron_t **self_p);

//  The first tick after t (a minute's start, > t), or -1 if none within
//  ten years (only for t near the end of time).
int64_t cron_next_after (const cron_t *self, int64_t t);
//  The last tick at or before t, or -1 if none within ten years.
int64_t cron_last_at (const cron_t *self, int64_t t);
//  Whether a schedule last run at last (or made at last, never run) is
//  due at now: a tick fell in (last, now].  However many ticks were
//  missed (the broker was down), that is one run, for the latest tick:
//  *tick, which the caller records as its new last.
bool cron_due (const cron_t *self, int64_t last, int64_t now, int64_t *tick);

#endif
