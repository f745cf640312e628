//  log.c -- see log.h.  Lines go to stderr in one write each, so lines from
//  handler threads do not interleave mid-line.
#include "common/log.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static char s_role[32] = "drover";
static log_level_t s_level = LOG_LEVEL_INFO;
static const char *s_names[] = { "DEBUG", "INFO", "WARN", "ERROR" };

void
log_init (const char *role, log_level_t level)
{
    snprintf (s_role, sizeof s_role, "%s", role? role: "drover");
    s_level = level;
}

int
log_level_parse (const char *name)
{
    const char *names[] = { "debug", "info", "warn", "error" };
    for (int i = 0; name && i < 4; i++)
        if (!strcasecmp (name, names[i]))
            return i;
    return -1;
}

void
log_write (log_level_t level, const char *fmt, ...)
{
    if (level < s_level || level > LOG_LEVEL_ERROR)
        return;
    struct timeval tv;
    gettimeofday (&tv, NULL);
    struct tm tm;
    gmtime_r (&tv.tv_sec, &tm);
    char line[2048];
    int n = (int) strftime (line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n += snprintf (line + n, sizeof line - (size_t) n, ".%03dZ %s %s ",
                   (int) (tv.tv_usec / 1000), s_role, s_names[level]);
    va_list ap;
    va_start (ap, fmt);
    int body = vsnprintf (line + n, sizeof line - (size_t) n, fmt, ap);
    va_end (ap);
    n = body < 0? n: n + body;
    if (n > (int) sizeof line - 2)
        n = (int) sizeof line - 2;
    line[n++] = '\n';
    if (write (STDERR_FILENO, line, (size_t) n) < 0) {
        //  Nowhere left to report it.
    }
}
