//  peerlog.c -- see peerlog.h.  A category's window is one second from its
//  first line; lines over the limit in that window are counted, and the
//  count is logged when the window is over (at the category's next line,
//  or at peerlog_flush), so every line is either written or accounted for.
#include "common/peerlog.h"
#include "common/utf8.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WINDOW_MS    1000
#define NAME_SIZE    32

//  ---------------------------------------------------------------------
//  Escaping

//  Code points that a terminal or an editor shows as nothing, or that
//  move what follows: C1 controls, zero-width and direction marks, line
//  and paragraph separators, bidi embeddings and isolates, the BOM.
static bool
s_hidden (uint32_t cp)
{
    return (cp >= 0x80 && cp <= 0x9f)
        || (cp >= 0x200b && cp <= 0x200f)
        || (cp >= 0x2028 && cp <= 0x202e)
        || (cp >= 0x2060 && cp <= 0x2069)
        || cp == 0xfeff;
}

static uint32_t
s_code_point (const unsigned char *s, size_t len)
{
    uint32_t cp = s[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++)
        cp = (cp << 6) | (s[i] & 0x3f);
    return cp;
}

//  The escaped form of the character at s[0..avail) into piece (room for
//  12 bytes); its length, and the bytes it used in *used.
static size_t
s_escape_one (const unsigned char *s, size_t avail, char *piece, size_t *used)
{
    unsigned char c = s[0];
    *used = 1;
    if (c == '\\')
        return (size_t) snprintf (piece, 12, "\\\\");
    if (c >= 0x20 && c < 0x7f) {
        piece[0] = (char) c;
        return 1;
    }
    if (c == '\n')
        return (size_t) snprintf (piece, 12, "\\n");
    if (c == '\r')
        return (size_t) snprintf (piece, 12, "\\r");
    if (c == '\t')
        return (size_t) snprintf (piece, 12, "\\t");
    size_t len = c >= 0x80? utf8_len (s, avail): 0;
    if (len == 0)
        return (size_t) snprintf (piece, 12, "\\x%02x", c);
    *used = len;
    uint32_t cp = s_code_point (s, len);
    if (s_hidden (cp))
        return (size_t) snprintf (piece, 12, "\\u%04" PRIx32, cp);
    memcpy (piece, s, len);
    return len;
}

peerlog_str_t
peerlog_mem (const void *data, size_t size)
{
    peerlog_str_t out;
    const unsigned char *s = data;
    size_t n = 0;
    for (size_t i = 0; i < size;) {
        char piece[12];
        size_t used;
        size_t len = s_escape_one (s + i, size - i, piece, &used);
        if (n + len > PEERLOG_STR_MAX) {
            memcpy (out.text + n, "...", 3);
            n += 3;
            break;
        }
        memcpy (out.text + n, piece, len);
        n += len;
        i += used;
    }
    out.text[n] = 0;
    return out;
}

peerlog_str_t
peerlog_str (const char *s)
{
    return s? peerlog_mem (s, strlen (s)): peerlog_mem ("(none)", 6);
}

//  ---------------------------------------------------------------------
//  Rate limit

typedef struct {
    char     name[NAME_SIZE];
    int64_t  start;             //  of the current window, ms
    uint32_t lines;             //  logged in it
    uint64_t quiet;             //  counted, not logged, in it
} category_t;

struct peerlog {
    uint32_t   per_second;
    size_t     count;
    category_t categories[PEERLOG_CATEGORIES];
};

static void s_summary (peerlog_t *self, category_t *category);

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

peerlog_t *
peerlog_new (uint32_t per_second)
{
    peerlog_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->per_second = per_second;
    return self;
}

void
peerlog_destroy (peerlog_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    peerlog_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++)
        s_summary (self, &self->categories[i]);
    free (self);
    *self_p = NULL;
}

//  The category of that name; the last one when all are taken.
static category_t *
s_category (peerlog_t *self, const char *name)
{
    for (size_t i = 0; i < self->count; i++)
        if (!strncmp (self->categories[i].name, name, NAME_SIZE - 1))
            return &self->categories[i];
    if (self->count == PEERLOG_CATEGORIES)
        return &self->categories[PEERLOG_CATEGORIES - 1];
    category_t *category = &self->categories[self->count++];
    snprintf (category->name, sizeof category->name, "%s", name);
    category->start = s_now_ms ();
    return category;
}

static void
s_summary (peerlog_t *self, category_t *category)
{
    if (category->quiet)
        log_warn ("%s: %" PRIu64 " more lines not logged (at most %" PRIu32 " a second)",
                  category->name, category->quiet, self->per_second);
    category->quiet = 0;
}

//  Start a new window if the last one is over, accounting for its quiet
//  lines first.
static void
s_roll (peerlog_t *self, category_t *category, int64_t now)
{
    if (now - category->start < WINDOW_MS)
        return;
    s_summary (self, category);
    category->start = now;
    category->lines = 0;
}

void
peerlog_write (peerlog_t *self, const char *category_name, log_level_t level,
               const char *fmt, ...)
{
    if (!log_enabled (level))
        return;
    category_t *category = s_category (self, category_name);
    s_roll (self, category, s_now_ms ());
    if (category->lines >= self->per_second) {
        category->quiet++;
        return;
    }
    category->lines++;
    char line[LOG_LINE_MAX];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (line, sizeof line, fmt, ap);
    va_end (ap);
    log_write (level, "%s", line);
}

void
peerlog_flush (peerlog_t *self)
{
    if (!self)
        return;
    int64_t now = s_now_ms ();
    for (size_t i = 0; i < self->count; i++)
        s_roll (self, &self->categories[i], now);
}
