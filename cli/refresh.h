//  refresh.h -- `--watch` for the commands that look at a broker (`drover
//  jobs`, `drover status`): show a view, then again every interval.  On a
//  terminal each view replaces the last in place; otherwise (a pipe, a
//  file) views follow each other, each table after a line with the time,
//  each JSON view one line, so a script can read them as they come.
#ifndef DROVER_REFRESH_H
#define DROVER_REFRESH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
    bool watch;                 //  else one view
    bool json;                  //  views are JSON lines: no time line
    uint32_t interval_ms;
    uint32_t count;             //  views, 0: until interrupted
} refresh_options_t;

//  The option table's entries for a refresh_options_t field `refresh` of
//  type (cli/options.h); what_ends says when --watch stops by itself.
#define REFRESH_OPTIONS(type, what_ends) \
    { "json", 0, OPTION_BOOL, OPTION_AT (type, refresh.json), \
      .help = "JSON instead of a table (its form: above or below)" }, \
    { "watch", 'w', OPTION_BOOL, OPTION_AT (type, refresh.watch), \
      .help = "show it again every --interval " what_ends ": in place on a " \
              "terminal; otherwise each table after a line \"-- TIME\", each JSON " \
              "view on a line of its own" }, \
    { "interval", 0, OPTION_DURATION, OPTION_AT (type, refresh.interval_ms), "DURATION", \
      100, 3600000, .help = "how often --watch asks" }, \
    { "count", 0, OPTION_NUMBER, OPTION_AT (type, refresh.count), "N", 0, 1000000000, \
      .help = "with --watch: stop after N views (0: no limit)" }
#define REFRESH_INTERVAL_DEFAULT  2000

//  Write one view to out.  Returns REFRESH_MORE, REFRESH_DONE (nothing
//  more will change: a job complete; stop watching), or an exit status
//  above 0 (it failed: stop).
#define REFRESH_MORE    0
#define REFRESH_DONE    (-1)
typedef int (refresh_view_fn) (void *arg, FILE *out);

//  Show views as the options say.  Returns the exit status: 0 after the
//  last view, at REFRESH_DONE or at SIGINT; a failing view's status.
int refresh_run (const refresh_options_t *options, refresh_view_fn *view, void *arg);

#endif
