//  main.c -- the `drover` binary: dispatches to a subcommand (cli/commands.h).
#include "cli/commands.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*run) (int argc, char **argv);
    const char *summary;
} s_commands[] = {
    { "broker", cmd_broker, "queue tuples from producers and dispatch them to agents" },
    { "agent",  cmd_agent,  "run tuples with handlers and send results to sinks" },
    { "sink",   cmd_sink,   "receive results and store them as JSON Lines" },
    { "submit", cmd_submit, "send tuples to a broker as a job" },
    { "status", cmd_status, "show a job's counters, rate and ETA" },
    { "cancel", cmd_cancel, "cancel a job: its queued tuples are stored as cancelled" },
    { "schedule", cmd_schedule, "recurring jobs: add, list or remove a schedule" },
    { "jobs",   cmd_jobs,   "list every job: state, counters, rate, ETA, age" },
    { "agents", cmd_agents, "list the agents connected: host, slots, in flight, done" },
    { "results", cmd_results, "print a scan job's open ports from a sink's output" },
    { "demo",   cmd_demo,   "run a local scan: broker, two agents, a sink" },
    { "keygen", cmd_keygen, "make a keypair (certificate files for CURVE and sealed results)" },
};
#define COMMAND_COUNT (sizeof s_commands / sizeof s_commands[0])

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: drover COMMAND [OPTIONS]\n\n"
        "drover is a distributed work queue: producers submit tuples to a broker,\n"
        "agents run them, sinks store the results.\n\ncommands:\n");
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        fprintf (out, "  %-8s %s\n", s_commands[i].name, s_commands[i].summary);
    fprintf (out,
        "\n`drover COMMAND --help` describes a command's options.\n"
        "  -h, --help     this help\n"
        "  -V, --version  print the version\n");
}

int
main (int argc, char **argv)
{
    if (argc < 2) {
        s_usage (stderr);
        return 2;
    }
    const char *name = argv[1];
    if (!strcmp (name, "-h") || !strcmp (name, "--help") || !strcmp (name, "help")) {
        s_usage (stdout);
        return 0;
    }
    if (!strcmp (name, "-V") || !strcmp (name, "--version")) {
        printf ("drover %s\n", DROVER_VERSION);
        return 0;
    }
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        if (!strcmp (name, s_commands[i].name))
            return s_commands[i].run (argc - 1, argv + 1);
    fprintf (stderr, "drover: unknown command '%s'\n\n", name);
    s_usage (stderr);
    return 2;
}
