//  job_flags.c -- see job_flags.h.  The flags become `"key":V,` pairs put
//  first in --options' object; the rest of the object follows unchanged.
#include "cli/job_flags.h"

#include <czmq.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t
job_flags_time (const char *text)
{
    char *end;
    unsigned long long seconds = strtoull (text, &end, 10);
    if (end != text && !*end)
        return seconds * 1000;
    struct tm tm = { 0 };
    end = strptime (text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    time_t t = end && !*end? timegm (&tm): (time_t) -1;
    return t > 0? (uint64_t) t * 1000: 0;
}

//  The job's options that are flags of their own (--abort-after, --each,
//  --priority, --delay, --not-before), as `"key":V,` pairs into buf.  The
//  label was checked (s_label_ok): it needs no escaping.
static void
s_option_pairs (const job_flags_t *self, uint64_t not_before, char *buf, size_t size)
{
    int n = 0;
    *buf = 0;
    if (self->abort_after)
        n += snprintf (buf + n, size - (size_t) n, "\"abort_after\":%" PRIu64 ",",
                       self->abort_after);
    if (self->each)
        n += snprintf (buf + n, size - (size_t) n, "\"each\":\"%s\",", self->each);
    if (self->priority >= 0)
        n += snprintf (buf + n, size - (size_t) n, "\"priority\":%d,", self->priority);
    if (not_before)
        snprintf (buf + n, size - (size_t) n, "\"not_before\":%" PRIu64 ",", not_before);
}

//  The handler options with those of the flags added, into buf: `{` the
//  flags' pairs, then the rest of --options' object.  NULL if they are no
//  object (set_options then says why) or do not fit.
static const char *
s_options_json (const job_flags_t *self, uint64_t not_before, char *buf, size_t size)
{
    char pairs[256];
    s_option_pairs (self, not_before, pairs, sizeof pairs);
    if (!*pairs)
        return self->options;
    const char *rest = self->options? self->options: "{}";
    rest += strspn (rest, " \t\r\n");
    if (*rest != '{')
        return self->options;
    rest++;
    bool empty = rest[strspn (rest, " \t\r\n")] == '}';
    if (empty)
        pairs[strlen (pairs) - 1] = 0;      //  no comma before the closing brace
    int n = snprintf (buf, size, "{%s%s", pairs, rest);
    return n >= 0 && (size_t) n < size? buf: NULL;
}

//  A label's rules (PROTOCOL.md 10.3): 1 to 63 of A-Z a-z 0-9 _ . -
static bool
s_label_ok (const char *label)
{
    size_t len = strspn (label, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                "0123456789_.-");
    return len > 0 && len <= 63 && label[len] == 0;
}

int
job_flags_options (const job_flags_t *self, char *buf, size_t size, const char **json_p,
                   const char **flag_p, const char **problem_p)
{
    uint64_t not_before = self->not_before? job_flags_time (self->not_before): 0;
    if (self->delay_ms)
        not_before = (uint64_t) zclock_time () + self->delay_ms;
    *json_p = s_options_json (self, not_before, buf, size);
    *flag_p = *problem_p = NULL;
    if (self->each && !s_label_ok (self->each)) {
        *flag_p = "--each: a label is 1 to 63 of A-Z a-z 0-9 _ . -";
        *problem_p = self->each;
    }
    else
    if (self->not_before && !not_before) {
        *flag_p = "--not-before";
        *problem_p = "not seconds since the epoch or YYYY-MM-DDTHH:MM:SSZ";
    }
    else
    if (self->not_before && self->delay_ms) {
        *flag_p = "--delay";
        *problem_p = "and --not-before: one or the other";
    }
    else
    if (!*json_p && (self->abort_after || self->each || self->priority >= 0 || not_before)) {
        *flag_p = "--options";
        *problem_p = "too long with the flags that add options (--abort-after, --each, "
                     "--priority, --delay, --not-before)";
    }
    return *flag_p? -1: 0;
}
