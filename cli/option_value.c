//  option_value.c -- see option_value.h.  Numbers are unsigned: every
//  limit drover has is a count, a size or a time that cannot be negative.
#include "cli/option_value.h"

#include <ctype.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int
option_value_bool (const char *text)
{
    const char *yes[] = { "1", "true", "yes", "on" };
    const char *no[] = { "0", "false", "no", "off" };
    for (int i = 0; text && i < 4; i++) {
        if (!strcasecmp (text, yes[i]))
            return 1;
        if (!strcasecmp (text, no[i]))
            return 0;
    }
    return -1;
}

int
option_value_number (const char *text, uint64_t min, uint64_t max, bool sizes,
                uint64_t *value_p)
{
    if (!text || !isdigit ((unsigned char) *text))
        return -1;
    errno = 0;
    char *end;
    unsigned long long value = strtoull (text, &end, 10);
    if (errno)
        return -1;
    unsigned shift = 0;
    if (sizes && *end) {
        const char *suffix = strchr ("KMG", toupper ((unsigned char) *end));
        if (!suffix)
            return -1;
        shift = 10 * (unsigned) (suffix - "KMG" + 1);
        end++;
        if (!strcasecmp (end, "iB") || !strcasecmp (end, "B"))
            end += strlen (end);
    }
    if (*end || value > (max >> shift))
        return -1;
    uint64_t result = (uint64_t) value << shift;
    if (result < min)
        return -1;
    *value_p = result;
    return 0;
}

int
option_value_duration (const char *text, uint64_t min_ms, uint64_t max_ms, uint64_t *ms_p)
{
    if (!text || !(isdigit ((unsigned char) *text) || *text == '.'))
        return -1;
    char *end;
    errno = 0;
    double value = strtod (text, &end);
    if (errno || end == text)
        return -1;
    static const struct { const char *unit; double ms; } units[] = {
        { "", 1000 }, { "s", 1000 }, { "ms", 1 }, { "m", 60e3 }, { "h", 3600e3 },
        { "d", 86400e3 }
    };
    size_t u = 0;
    while (u < sizeof units / sizeof units[0] && strcmp (end, units[u].unit))
        u++;
    if (u == sizeof units / sizeof units[0])
        return -1;
    value *= units[u].ms;
    if (!(value >= (double) min_ms && value <= (double) max_ms))
        return -1;
    *ms_p = (uint64_t) (value + 0.5);
    return 0;
}

//  Milliseconds as --help and errors write them: "30s", "1500ms".
static void
s_print_ms (char *buf, size_t size, uint64_t ms)
{
    if (ms % 1000 == 0)
        snprintf (buf, size, "%llus", (unsigned long long) (ms / 1000));
    else
        snprintf (buf, size, "%llums", (unsigned long long) ms);
}

//  What a value of this option must be, after "must be ".  A limit from
//  INT32_MAX up is no limit anyone means to reach: only the lower one is said.
static void
s_expected (const option_t *option, char *buf, size_t size)
{
    char low[32], high[32], range[80];
    if (option->type == OPTION_DURATION) {
        s_print_ms (low, sizeof low, option->min);
        s_print_ms (high, sizeof high, option->max);
    }
    else {
        snprintf (low, sizeof low, "%llu", (unsigned long long) option->min);
        snprintf (high, sizeof high, "%llu", (unsigned long long) option->max);
    }
    if (option->max >= INT32_MAX)
        snprintf (range, sizeof range, ", at least %s", low);
    else
        snprintf (range, sizeof range, " from %s to %s", low, high);
    if (option->type == OPTION_CHOICE) {
        size_t used = 0;
        for (size_t i = 0; option->choices[i] && used < size; i++)
            used += snprintf (buf + used, size - used, "%s%s",
                              i == 0? "": option->choices[i + 1]? ", ": " or ",
                              option->choices[i]);
    }
    else
    if (option->type == OPTION_BOOL)
        snprintf (buf, size, "1 or 0 (or true/false, yes/no, on/off)");
    else
    if (option->type == OPTION_DURATION)
        snprintf (buf, size, "a duration (seconds, or a number followed by ms, s, m, h or d)%s", range);
    else
    if (option->type == OPTION_SIZE)
        snprintf (buf, size, "a size (bytes, or a number followed by K, M or G)%s", range);
    else
        snprintf (buf, size, "a whole number%s", range);
}

int
option_value_parse (const option_t *option, const char *text, void *dest,
                    char *err, size_t errlen)
{
    if (!*text && option->type != OPTION_BOOL) {
        snprintf (err, errlen, "needs a value");
        return -1;
    }
    char expected[160];
    uint64_t number = 0;
    int rc = 0;
    switch (option->type) {
        case OPTION_STRING:
            memcpy (dest, &text, sizeof text);
            return 0;
        case OPTION_CHOICE:
            for (size_t i = 0; option->choices[i]; i++)
                if (!strcasecmp (text, option->choices[i])) {
                    memcpy (dest, &option->choices[i], sizeof text);
                    return 0;
                }
            rc = -1;
            break;
        case OPTION_BOOL:
            rc = option_value_bool (text);
            if (rc >= 0)
                *(bool *) dest = rc == 1;
            break;
        case OPTION_DURATION:
            rc = option_value_duration (text, option->min, option->max, &number);
            break;
        default:
            rc = option_value_number (text, option->min, option->max,
                                 option->type == OPTION_SIZE, &number);
    }
    if (rc < 0) {
        s_expected (option, expected, sizeof expected);
        snprintf (err, errlen, "must be %s", expected);
        return -1;
    }
    if (option->type == OPTION_BOOL)
        return 0;
    if (option->at.size == 4) {
        uint32_t narrow = (uint32_t) number;
        memcpy (dest, &narrow, sizeof narrow);
    }
    else
        memcpy (dest, &number, sizeof number);
    return 0;
}


void
option_value_print (const option_t *option, const void *src, char *buf, size_t size)
{
    const char *field = src;
    uint64_t number = 0;
    const char *text = NULL;
    *buf = 0;
    if (option->default_text) {
        snprintf (buf, size, "%s", option->default_text);
        return;
    }
    if (option->type == OPTION_STRING || option->type == OPTION_CHOICE) {
        memcpy (&text, field, sizeof text);
        if (text)
            snprintf (buf, size, "%s", text);
        return;
    }
    if (option->type == OPTION_BOOL) {
        if (*(const bool *) field)
            snprintf (buf, size, "on");
        return;
    }
    if (option->at.size == 4) {
        uint32_t narrow;
        memcpy (&narrow, field, sizeof narrow);
        number = narrow;
    }
    else
        memcpy (&number, field, sizeof number);
    unsigned shift = 0;
    while (option->type == OPTION_SIZE && number && shift < 30
       &&  (number >> shift) % 1024 == 0)
        shift += 10;
    if (option->type == OPTION_DURATION)
        s_print_ms (buf, size, number);
    else
        snprintf (buf, size, "%llu%s", (unsigned long long) (number >> shift),
                  shift == 30? "G": shift == 20? "M": shift == 10? "K": "");
}
