//  cmd_broker.c -- placeholder until the broker subcommand lands.
#include "cli/commands.h"
#include <stdio.h>

int
cmd_broker (int argc, char **argv)
{
    (void) argc;
    fprintf (stderr, "drover: %s is not built yet\n", argv[0]);
    return 1;
}
