//  commands.h -- the subcommands of the `drover` binary.  Each takes the
//  argv after "drover" (argv[0] is the subcommand's name), reads its options
//  from flags, DROVER_* variables and a config file through its table
//  (cli/options.h), and returns the process exit code: 0 ok, 1 runtime
//  failure, 2 usage error.
#ifndef DROVER_COMMANDS_H
#define DROVER_COMMANDS_H

//  Every command's name, which is also its [section] in a config file.
#define COMMAND_NAMES "broker", "agent", "sink", "submit", "status", "results", "demo", \
                      "keygen", "jobs", "agents", "cancel", "schedule"

int cmd_broker (int argc, char **argv);
int cmd_agent (int argc, char **argv);
int cmd_sink (int argc, char **argv);
int cmd_submit (int argc, char **argv);
int cmd_status (int argc, char **argv);
int cmd_cancel (int argc, char **argv);
int cmd_schedule (int argc, char **argv);
int cmd_results (int argc, char **argv);
int cmd_demo (int argc, char **argv);
int cmd_keygen (int argc, char **argv);
int cmd_jobs (int argc, char **argv);       //  cmd_jobs.c
int cmd_agents (int argc, char **argv);     //  cmd_jobs.c

#endif
