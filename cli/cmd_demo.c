//  cmd_demo.c -- placeholder until the demo subcommand lands.
#include "cli/commands.h"
#include <stdio.h>

int
cmd_demo (int argc, char **argv)
{
    (void) argc;
    fprintf (stderr, "drover: %s is not built yet\n", argv[0]);
    return 1;
}
