//  commands.h -- the subcommands of the `drover` binary.  Each takes the
//  argv after "drover" (argv[0] is the subcommand's name), parses its own
//  flags (environment DROVER_* first, flags override), and returns the
//  process exit code: 0 ok, 1 runtime failure, 2 usage error.
#ifndef DROVER_COMMANDS_H
#define DROVER_COMMANDS_H

int cmd_broker (int argc, char **argv);
int cmd_agent (int argc, char **argv);
int cmd_sink (int argc, char **argv);
int cmd_submit (int argc, char **argv);
int cmd_status (int argc, char **argv);
int cmd_demo (int argc, char **argv);
int cmd_keygen (int argc, char **argv);

#endif
