//  cmd_agent.c -- placeholder until the agent subcommand lands.
#include "cli/commands.h"
#include <stdio.h>

int
cmd_agent (int argc, char **argv)
{
    (void) argc;
    fprintf (stderr, "drover: %s is not built yet\n", argv[0]);
    return 1;
}
