//  peerlog.h -- log lines a peer can cause.  Every string a peer sent is
//  escaped before it reaches a line (peerlog_str), so a newline or a
//  terminal control in an agent name, a job name or a reason can neither
//  forge a line nor hide one; and lines a peer can trigger at will are
//  rate-limited per category (peerlog_t), so a flood of bad messages costs
//  a few lines a second and a summary, never the disk.  Over common/log.h.
#ifndef DROVER_PEERLOG_H
#define DROVER_PEERLOG_H

#include <stddef.h>
#include <stdint.h>

#include "common/log.h"

//  ---------------------------------------------------------------------
//  Escaping

//  Bytes of escaped text kept; longer text is cut and ends in "...".
#define PEERLOG_STR_MAX 256

//  A peer's string made safe for a log line: printable ASCII and valid
//  UTF-8 as they are, but a backslash doubled; \n, \r and \t as those two
//  characters; other control bytes and bytes that are not UTF-8 as \xNN;
//  C1 controls and the invisible or direction-changing code points (bidi
//  overrides, zero-width spaces, line separators) as \uNNNN.
typedef struct {
    char text[PEERLOG_STR_MAX + 4];
} peerlog_str_t;

//  s escaped ("(none)" for NULL).  Returned by value, so a call can sit in
//  a log call's arguments: the text lives until the end of that statement.
//      log_info ("agent %s joined", peerlog_str (name).text);
peerlog_str_t peerlog_str (const char *s);
//  size bytes at data escaped; they need no NUL and may hold one.
peerlog_str_t peerlog_mem (const void *data, size_t size);

//  ---------------------------------------------------------------------
//  Rate limit

//  Distinct categories one limiter keeps apart; more share the last one.
#define PEERLOG_CATEGORIES 16

typedef struct peerlog peerlog_t;

//  Log at most per_second lines a second in each category.  NULL if out
//  of memory.
peerlog_t *peerlog_new (uint32_t per_second);
void       peerlog_destroy (peerlog_t **self_p);

//  Log a line in category (a short name for the kind of line, also shown
//  in the summary, e.g. "frontend"), unless per_second lines of that
//  category went out in the last second: then only count it.  A category's
//  next line after a quiet second starts with the summary
//  "<category>: N more lines not logged".  Strings from the peer in the
//  line still go through peerlog_str.
void       peerlog_write (peerlog_t *self, const char *category, log_level_t level,
                          const char *fmt, ...) __attribute__ ((format (printf, 4, 5)));
//  Log the summaries of categories whose second is over: call it now and
//  then (a daemon's loop), so a flood that stopped is still accounted for.
void       peerlog_flush (peerlog_t *self);

#endif
