//  cmd_submit.c -- placeholder until the submit subcommand lands.
#include "cli/commands.h"
#include <stdio.h>

int
cmd_submit (int argc, char **argv)
{
    (void) argc;
    fprintf (stderr, "drover: %s is not built yet\n", argv[0]);
    return 1;
}
