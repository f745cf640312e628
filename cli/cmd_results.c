//  cmd_results.c -- `drover results JOB`: read a sink's JSON Lines output
//  and print the job's ports per host, as `drover demo` does, or as JSON
//  (cli/port_table.h).  Options: the table below.
#include "cli/commands.h"
#include "cli/options.h"
#include "cli/port_table.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *job;
    const char *output;
    bool json;
    bool all;
    const char *log_level;
} results_args_t;

#define AT(field) OPTION_AT (results_args_t, field)

static const option_t s_options[] = {
    { "output", 'o', OPTION_STRING, AT (output), "FILE",
      .help = "the sink's output file (its --output); '-' reads standard input, "
              "where `drover sink | drover results JOB` sends it" },
    { "json", 0, OPTION_BOOL, AT (json),
      .help = "one JSON object instead of a table: {\"job\",\"results\",\"open\",\"closed\","
              "\"filtered\",\"failed\",\"stateless\",\"hosts\":[{\"host\",\"ports\":[{\"port\","
              "\"protocol\",\"state\",\"ms\"}]}]}" },
    { "all", 0, OPTION_BOOL, AT (all), .help = "list closed and filtered ports too" },
    OPTION_LOG_LEVEL (results_args_t, log_level),
    { "job", 0, OPTION_STRING, AT (job), "JOB", .flags = OPTION_POSITIONAL,
      .help = "the job" },
};

static const options_spec_t s_spec = {
    .command = "results",
    .usage = "[OPTIONS] JOB",
    .about =
        "Print the ports a scan job found open, per host (sorted by address, then\n"
        "port), from the JSON Lines a sink wrote: each result's output\n"
        "{\"host\",\"port\",\"state\",\"ms\"} (tcp-probe's), or its input [host, port,\n"
        "protocol] when the output has no host or port.  Then the counts: results,\n"
        "open, closed, filtered, failed (dead letters), and results without a\n"
        "state (a handler that is not a probe).\n",
    .notes =
        "exit status: 0 if the file has results of the job, 1 if it has none or\n"
        "cannot be read, 2 on a usage error.\n",
    OPTIONS_TABLE (s_options),
};

static int
s_run (void *args_v, const options_t *options)
{
    const results_args_t *args = args_v;
    if (!args->job)
        return options_usage_error (options, "which job? name it: drover results JOB", NULL);
    bool from_stdin = !strcmp (args->output, "-");
    FILE *file = from_stdin? stdin: fopen (args->output, "r");
    if (!file) {
        fprintf (stderr, "drover results: cannot read %s: %s\n", args->output, strerror (errno));
        return 1;
    }
    port_table_t *table = port_table_new (args->job, args->all);
    int rc = table? port_table_read (table, file): -1;
    if (!from_stdin)
        fclose (file);
    if (rc) {
        fprintf (stderr, "drover results: cannot read %s: %s\n",
                 from_stdin? "standard input": args->output, strerror (errno));
        port_table_destroy (&table);
        return 1;
    }
    port_table_counts_t counts;
    port_table_counts (table, &counts);
    if (args->json)
        port_table_print_json (table, stdout);
    else {
        port_table_print (table, stdout, NULL, NULL, NULL);
        printf ("%sjob %s: %zu results: %zu open, %zu closed, %zu filtered, %zu failed, "
                "%zu without a state\n", counts.open || (args->all && counts.results)? "\n": "",
                args->job, counts.results, counts.open, counts.closed, counts.filtered,
                counts.failed, counts.stateless);
    }
    port_table_destroy (&table);
    if (counts.results == 0) {
        fprintf (stderr, "drover results: no results of job '%s' in %s\n", args->job,
                 from_stdin? "standard input": args->output);
        return 1;
    }
    return 0;
}

int
cmd_results (int argc, char **argv)
{
    results_args_t args = { .output = "-", .log_level = "warn" };
    return options_main (&s_spec, &args, argc, argv, s_run);
}
