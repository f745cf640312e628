//  cmd_status.c -- placeholder until the status subcommand lands.
#include "cli/commands.h"
#include <stdio.h>

int
cmd_status (int argc, char **argv)
{
    (void) argc;
    fprintf (stderr, "drover: %s is not built yet\n", argv[0]);
    return 1;
}
