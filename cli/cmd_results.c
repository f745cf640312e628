//  cmd_results.c -- `drover results JOB`: read a sink's JSON Lines output
//  and print the job's ports per host, as `drover demo` does, or as JSON
//  (cli/port_table.h); with --verify, check the job's lines against the
//  manifest the sink wrote beside the file (sink/manifest.h).  Options: the
//  table below.
#include "cli/commands.h"
#include "cli/options.h"
#include "cli/port_table.h"
#include "sink/manifest.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *job;
    const char *output;
    bool json;
    bool all;
    bool verify;
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
    { "verify", 0, OPTION_BOOL, AT (verify),
      .help = "instead, check the job's lines in --output against the manifest the sink "
              "wrote beside it (FILE.JOB.manifest.json): exit 0 if they match, else 1 "
              "naming the first difference" },
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
        "state (a handler that is not a probe).\n\n"
        "With --verify, check a finished job's results against the manifest the sink\n"
        "wrote (its counts, times, durations, failures, agents, and the SHA-256 of its\n"
        "lines and of each run of 256 of them):\n\n"
        "  drover results scan-1 -o results.jsonl --verify\n",
    .notes =
        "exit status: 0 if the file has results of the job (with --verify: and they\n"
        "match its manifest), 1 if it has none or cannot be read (or do not match, or\n"
        "there is no manifest), 2 on a usage error.\n",
    OPTIONS_TABLE (s_options),
};

//  The job's lines of file into manifest; in *starts_p (malloc'd) the line
//  of the file each run of MANIFEST_CHUNK_LINES of them starts at.
static int
s_read_job (FILE *file, const char *job, manifest_t *manifest, uint64_t **starts_p)
{
    manifest_line_t parsed;
    manifest_line_init (&parsed);
    char *text = NULL, name[256];
    size_t size = 0, runs = 0;
    ssize_t len;
    int rc = 0;
    for (uint64_t number = 1; rc == 0 && (len = getline (&text, &size, file)) > 0; number++) {
        if (text[len - 1] != '\n'
        ||  manifest_line_parse (&parsed, text, (size_t) len - 1, name, sizeof name)
        ||  strcmp (name, job))
            continue;
        if (manifest_lines (manifest) % MANIFEST_CHUNK_LINES == 0) {
            uint64_t *starts = realloc (*starts_p, (runs + 1) * sizeof *starts);
            if (!starts) {
                rc = -1;
                break;
            }
            (*starts_p = starts)[runs++] = number;
        }
        rc = manifest_add (manifest, text, (size_t) len - 1, &parsed);
    }
    free (text);
    manifest_line_destroy (&parsed);
    return rc || ferror (file)? -1: 0;
}

static int
s_verify (const results_args_t *args, FILE *file)
{
    char *path = manifest_path (args->output, args->job);
    char *expected = NULL;
    size_t expected_size = 0;
    FILE *in = path? fopen (path, "r"): NULL;
    if (!in || getdelim (&expected, &expected_size, 0, in) < 0) {
        fprintf (stderr, "drover results: no manifest of job '%s' at %s: %s\n", args->job,
                 path? path: "?", strerror (errno));
        if (in)
            fclose (in);
        free (path);
        return 1;
    }
    fclose (in);
    manifest_t *manifest = manifest_new (args->job);
    uint64_t *starts = NULL;
    int rc = manifest? s_read_job (file, args->job, manifest, &starts): -1;
    char report[256];
    int64_t run = -1;
    if (rc == 0)
        rc = manifest_compare (manifest, expected, strlen (expected), &run, report,
                               sizeof report);
    if (rc < 0)
        fprintf (stderr, "drover results: cannot check job '%s': %s\n", args->job,
                 manifest? "cannot read the file or the manifest": "out of memory");
    else
    if (rc > 0 && run >= 0 && (uint64_t) run * MANIFEST_CHUNK_LINES < manifest_lines (manifest))
        printf ("job %s: MISMATCH: %s differs from %s; the run starts at line %" PRIu64
                " of %s\n", args->job, report, path, starts[run], args->output);
    else
    if (rc > 0)
        printf ("job %s: MISMATCH: %s differs from %s\n", args->job, report, path);
    else
        printf ("job %s: %" PRIu64 " lines match %s\n", args->job, manifest_lines (manifest),
                path);
    free (starts);
    free (expected);
    free (path);
    manifest_destroy (&manifest);
    return rc? 1: 0;
}

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
    if (args->verify) {
        if (from_stdin)
            return options_usage_error (options, "--verify needs the file: --output FILE",
                                        NULL);
        int rc = s_verify (args, file);
        fclose (file);
        return rc;
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
