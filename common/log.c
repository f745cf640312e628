//  log.c -- see log.h.  Lines go to stderr in one write each, so lines from
//  handler threads do not interleave mid-line; a control character never
//  reaches the write raw, so every line the log holds is one we wrote.
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

bool
log_enabled (log_level_t level)
{
    return level >= s_level && level <= LOG_LEVEL_ERROR;
}

//  body into line[n..size - 1), control characters as \n, \r, \t or \xNN;
//  returns the new n.
static size_t
s_append_escaped (char *line, size_t n, size_t size, const char *body)
{
    static const char hex[] = "0123456789abcdef";
    for (const unsigned char *c = (const unsigned char *) body; *c; c++) {
        char piece[4] = { (char) *c };
        size_t len = 1;
        if (*c < 0x20 || *c == 0x7f) {
            piece[0] = '\\';
            piece[1] = *c == '\n'? 'n': *c == '\r'? 'r': *c == '\t'? 't': 'x';
            len = 2;
            if (piece[1] == 'x') {
                piece[2] = hex[*c >> 4];
                piece[3] = hex[*c & 15];
                len = 4;
            }
        }
        if (n + len > size - 1)
            break;
        memcpy (line + n, piece, len);
        n += len;
    }
    return n;
}

void
log_write (log_level_t level, const char *fmt, ...)
{
    if (!log_enabled (level))
        return;
    struct timeval tv;
    gettimeofday (&tv, NULL);
    struct tm tm;
    gmtime_r (&tv.tv_sec, &tm);
    char line[LOG_LINE_MAX];
    size_t n = strftime (line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t) snprintf (line + n, sizeof line - n, ".%03dZ %s %s ",
                            (int) (tv.tv_usec / 1000), s_role, s_names[level]);
    char body[LOG_LINE_MAX];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (body, sizeof body, fmt, ap);
    va_end (ap);
    n = s_append_escaped (line, n, sizeof line, body);
    line[n++] = '\n';
    if (write (STDERR_FILENO, line, n) < 0) {
        //  Nowhere left to report it.
    }
}
