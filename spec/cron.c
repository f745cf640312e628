//  cron.c -- cron expressions as bitmasks, and the search for ticks
//  (cron.h): step a field at a time (a month, a day, an hour, a minute)
//  until every field matches, forward for the next tick or backward for
//  the last one.
#include "spec/cron.h"
#include "spec/wordlist.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct cron {
    uint64_t minutes;           //  bit n: minute n matches
    uint32_t hours, days;       //  days: bits 1-31
    uint16_t months;            //  bits 1-12
    uint8_t weekdays;           //  bits 0-6, Sunday 0
    bool days_star, weekdays_star;
};

typedef struct {
    const char *name;
    int min, max;
    const char *const *names;   //  names for min, min+1, ...; or NULL
} field_t;

static const char *const s_months[] = { "jan", "feb", "mar", "apr", "may", "jun", "jul",
                                        "aug", "sep", "oct", "nov", "dec", NULL };
static const char *const s_weekdays[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat",
                                          NULL };
static const field_t s_fields[] = {
    { "minute", 0, 59, NULL }, { "hour", 0, 23, NULL }, { "day of month", 1, 31, NULL },
    { "month", 1, 12, s_months }, { "day of week", 0, 7, s_weekdays },
};

static const struct {
    const char *macro, *expression;
} s_macros[] = {
    { "@yearly", "0 0 1 1 *" }, { "@annually", "0 0 1 1 *" }, { "@monthly", "0 0 1 * *" },
    { "@weekly", "0 0 * * 0" }, { "@daily", "0 0 * * *" }, { "@midnight", "0 0 * * *" },
    { "@hourly", "0 * * * *" },
};

//  A number or a name of field at text (moving past it).  -1 if neither.
static int
s_value (const field_t *field, const char **text, const char *end)
{
    if (*text < end && isdigit ((unsigned char) **text)) {
        int value = 0;
        while (*text < end && isdigit ((unsigned char) **text) && value < 1000)
            value = value * 10 + (*(*text)++ - '0');
        return value;
    }
    for (int i = 0; field->names && field->names[i]; i++)
        if (end - *text >= 3 && !strncasecmp (*text, field->names[i], 3)) {
            *text += 3;
            return field->min + i;
        }
    return -1;
}

//  One item of a list: *, a, a-b, each with an optional /step.  Sets its
//  bits in mask.  0, or -1 with err.
static int
s_item (const field_t *field, const char *text, size_t len, uint64_t *mask, char *err,
        size_t errlen)
{
    const char *at = text, *end = text + len;
    int first = field->min, last = field->max, step = 1;
    if (at < end && *at == '*')
        at++;
    else {
        first = s_value (field, &at, end);
        last = first;
        if (at < end && *at == '-') {
            at++;
            last = s_value (field, &at, end);
        }
        else if (at < end && *at == '/')
            last = field->max;
    }
    if (at < end && *at == '/') {
        at++;
        step = s_value (&(field_t) { 0 }, &at, end);
    }
    if (at != end || first < 0 || last < 0 || step < 0)
        return wordlist_error (err, errlen, text, len, "is not a %s (a number, a range "
                               "a-b, * or a step /n)", field->name);
    if (first < field->min || last > field->max || first > last || step == 0)
        return wordlist_error (err, errlen, text, len, "is out of range for the %s "
                               "(%d-%d, a-b with a <= b, steps from 1)", field->name,
                               field->min, field->max);
    for (int value = first; value <= last; value += step)
        *mask |= 1ull << value;
    return 0;
}

//  A field: items separated by commas.
static int
s_field (const field_t *field, const char *text, size_t len, uint64_t *mask, char *err,
         size_t errlen)
{
    *mask = 0;
    const char *end = text + len;
    while (text <= end) {
        const char *comma = memchr (text, ',', (size_t) (end - text));
        const char *stop = comma? comma: end;
        if (s_item (field, text, (size_t) (stop - text), mask, err, errlen))
            return -1;
        text = stop + 1;
    }
    return 0;
}

static int
s_parse (cron_t *self, const char *expression, char *err, size_t errlen)
{
    const char *at = expression;
    uint64_t masks[5];
    for (int i = 0; i < 5; i++) {
        while (*at == ' ' || *at == '\t')
            at++;
        size_t len = strcspn (at, " \t");
        if (len == 0)
            return wordlist_error (err, errlen, expression, strlen (expression),
                                   "has %d fields, not 5 (minute hour day-of-month month "
                                   "day-of-week)", i);
        if (i == 2)
            self->days_star = *at == '*';
        if (i == 4)
            self->weekdays_star = *at == '*';
        if (s_field (&s_fields[i], at, len, &masks[i], err, errlen))
            return -1;
        at += len;
    }
    while (*at == ' ' || *at == '\t' || *at == '\n')
        at++;
    if (*at)
        return wordlist_error (err, errlen, expression, strlen (expression),
                               "has more than 5 fields");
    self->minutes = masks[0];
    self->hours = (uint32_t) masks[1];
    self->days = (uint32_t) masks[2];
    self->months = (uint16_t) masks[3];
    self->weekdays = (uint8_t) ((masks[4] | masks[4] >> 7) & 0x7f);     //  7 is Sunday
    return 0;
}

cron_t *
cron_new (const char *expression, char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof s_macros / sizeof s_macros[0]; i++)
        if (!strcasecmp (expression, s_macros[i].macro))
            expression = s_macros[i].expression;
    if (expression[0] == '@') {
        wordlist_error (err, errlen, expression, strlen (expression), "is not one of "
                        "@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly");
        return NULL;
    }
    cron_t *self = calloc (1, sizeof *self);
    if (!self) {
        wordlist_error (err, errlen, NULL, 0, "out of memory");
        return NULL;
    }
    if (s_parse (self, expression, err, errlen))
        cron_destroy (&self);
    //  Every day of some month exists at least once in any 8 years
    //  (29 February included), so an expression with no tick in ten years
    //  from 2000 has none ever.
    else if (cron_next_after (self, 946684800) < 0) {
        wordlist_error (err, errlen, expression, strlen (expression),
                        "never matches (a day no month it names has)");
        cron_destroy (&self);
    }
    return self;
}

void
cron_destroy (cron_t **self_p)
{
    free (*self_p);
    *self_p = NULL;
}

//  The search ------------------------------------------------------------

#define CRON_HORIZON ((int64_t) 10 * 366 * 86400)

static bool
s_day_matches (const cron_t *self, const struct tm *tm)
{
    bool day = self->days >> tm->tm_mday & 1, weekday = self->weekdays >> tm->tm_wday & 1;
    return self->days_star || self->weekdays_star? day && weekday: day || weekday;
}

//  Which field of tm does not match: 3 month, 2 day, 1 hour, 0 minute;
//  -1 if all do.
static int
s_mismatch (const cron_t *self, const struct tm *tm)
{
    if (!(self->months >> (tm->tm_mon + 1) & 1))
        return 3;
    if (!s_day_matches (self, tm))
        return 2;
    if (!(self->hours >> tm->tm_hour & 1))
        return 1;
    if (!(self->minutes >> tm->tm_min & 1))
        return 0;
    return -1;
}

static int64_t
s_minute_start (int64_t t)
{
    return t - ((t % 60) + 60) % 60;
}

int64_t
cron_next_after (const cron_t *self, int64_t t)
{
    int64_t limit = t + CRON_HORIZON;
    for (t = s_minute_start (t) + 60; t <= limit; ) {
        struct tm tm;
        time_t now = (time_t) t;
        gmtime_r (&now, &tm);
        int field = s_mismatch (self, &tm);
        if (field < 0)
            return t;
        //  On to the start of the next month, day, hour or minute.
        tm.tm_sec = 0;
        tm.tm_min = field > 0? 0: tm.tm_min + 1;
        tm.tm_hour = field > 1? 0: tm.tm_hour + (field == 1);
        tm.tm_mday = field > 2? 1: tm.tm_mday + (field == 2);
        tm.tm_mon += field == 3;
        t = (int64_t) timegm (&tm);
    }
    return -1;
}

int64_t
cron_last_at (const cron_t *self, int64_t t)
{
    int64_t limit = t - CRON_HORIZON;
    for (t = s_minute_start (t); t >= limit; ) {
        struct tm tm;
        time_t now = (time_t) t;
        gmtime_r (&now, &tm);
        int field = s_mismatch (self, &tm);
        if (field < 0)
            return t;
        //  Back to the last minute before this month, day, hour or minute.
        tm.tm_sec = 0;
        if (field >= 1)
            tm.tm_min = 0;
        if (field >= 2)
            tm.tm_hour = 0;
        if (field >= 3)
            tm.tm_mday = 1;
        t = (int64_t) timegm (&tm) - 60;
    }
    return -1;
}

bool
cron_due (const cron_t *self, int64_t last, int64_t now, int64_t *tick)
{
    int64_t latest = cron_last_at (self, now);
    if (latest < 0 || latest <= last)
        return false;
    if (tick)
        *tick = latest;
    return true;
}
