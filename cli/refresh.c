//  refresh.c -- see refresh.h.  A view is written to memory first and then
//  to stdout at once, so that a terminal never shows half a table.
#include "cli/refresh.h"

#include <czmq.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

//  One view to stdout: in place on a terminal, else after a time line
//  (tables only).
static int
s_show (const refresh_options_t *options, refresh_view_fn *view, void *arg, bool tty)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    if (!out)
        return 1;
    int rc = view (arg, out);
    fclose (out);
    if (options->watch && tty)
        fputs ("\033[H\033[J", stdout);     //  home, clear to the end
    else
    if (options->watch && !options->json) {
        char stamp[32];
        time_t now = time (NULL);
        strftime (stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", gmtime (&now));
        printf ("-- %s\n", stamp);
    }
    fwrite (text, 1, size, stdout);
    fflush (stdout);
    free (text);
    return rc;
}

int
refresh_run (const refresh_options_t *options, refresh_view_fn *view, void *arg)
{
    bool tty = isatty (STDOUT_FILENO);
    for (uint32_t shown = 0; ; ) {
        int rc = s_show (options, view, arg, tty);
        if (rc == REFRESH_DONE)
            return 0;
        if (rc != REFRESH_MORE || !options->watch)
            return rc;
        if (options->count && ++shown >= options->count)
            return 0;
        //  zclock_sleep returns early at SIGINT (CZMQ's handler).
        int64_t until = zclock_mono () + options->interval_ms;
        while (!zsys_interrupted && zclock_mono () < until)
            zclock_sleep ((int) (until - zclock_mono () < 100? until - zclock_mono (): 100));
        if (zsys_interrupted)
            return 0;
    }
}
