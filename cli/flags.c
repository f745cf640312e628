//  flags.c -- see flags.h.
#include "cli/flags.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *
flags_env (const char *name)
{
    const char *value = getenv (name);
    return value && *value? value: NULL;
}

int
flags_bool (const char *text)
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
flags_number (const char *text, uint64_t min, uint64_t max, bool sizes,
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
flags_usage_error (const char *command, const char *what, const char *value)
{
    fprintf (stderr, "drover %s: %s%s%s\ntry 'drover %s --help'\n",
             command, what, value? ": ": "", value? value: "", command);
    return 2;
}
