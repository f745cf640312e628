//  cmd_sink.c -- placeholder until the sink subcommand lands.
#include "cli/commands.h"
#include <stdio.h>

int
cmd_sink (int argc, char **argv)
{
    (void) argc;
    fprintf (stderr, "drover: %s is not built yet\n", argv[0]);
    return 1;
}
