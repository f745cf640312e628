//  log.h -- leveled log lines on stderr: "2026-11-21T23:40:01.123Z broker INFO msg".
//  One process-wide sink (like Redis's serverLog): the role name and level
//  are set once at start by the subcommand; modules just call log_*().
#ifndef DROVER_LOG_H
#define DROVER_LOG_H

#include <stdarg.h>
#include <stdbool.h>

//  Not LOG_DEBUG and friends: czmq.h includes <syslog.h>, which defines those.
typedef enum {
    LOG_LEVEL_DEBUG = 0, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR
} log_level_t;

//  Set the role shown in each line ("broker", "agent", ...) and the least
//  level printed.  Safe to call again; defaults are "drover" and LOG_LEVEL_INFO.
void log_init (const char *role, log_level_t level);
//  Parse "debug", "info", "warn", "error"; -1 if none of them.
int  log_level_parse (const char *name);
//  Bytes of one line at most; a longer one is cut.
#define LOG_LINE_MAX 2048

//  Would a line of that level be printed?
bool log_enabled (log_level_t level);
//  One line.  Control characters in it (a newline from a peer's string
//  that was not escaped with peerlog_str) are written escaped, so a line
//  is always one line.
void log_write (log_level_t level, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

#define log_debug(...) log_write (LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...)  log_write (LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...)  log_write (LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_write (LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
