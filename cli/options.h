//  options.h -- one table per subcommand: each option's flag, environment
//  variable, config file key, type, limits, default and help line.  From
//  the table, options_parse fills the command's own struct from the command
//  line, the environment and a config file (in that order of precedence,
//  then the defaults already in the struct) and options_help prints a
//  --help that says where each value may come from.
//
//  Names: an option "heartbeat-ms" is the flag --heartbeat-ms, the variable
//  DROVER_HEARTBEAT_MS and the key heartbeat-ms in the config file, which
//  is --config FILE or DROVER_CONFIG:
//
//      # a comment: a line that starts with #
//      log-level = info
//      [broker]
//      heartbeat-ms = 500
//
//  A [section] is a command's name: its lines are for that command only,
//  and win over the lines before the first section, which are for every
//  command that reads the file (so each must be an option of each).
#ifndef DROVER_OPTIONS_H
#define DROVER_OPTIONS_H

#include "common/sched_policy.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    OPTION_STRING,      //  const char *; not empty unless OPTION_EMPTY_UNSET
    OPTION_CHOICE,      //  const char *, one of choices (any case; stored
                        //  as the choice's own spelling)
    OPTION_BOOL,        //  bool; the flag takes no value and sets it true;
                        //  elsewhere 1/0, true/false, yes/no, on/off
    OPTION_NUMBER,      //  uint32_t, int, uint64_t, int64_t or size_t in [min, max]
    OPTION_SIZE,        //  the same, with an optional K, M or G (powers of 1024)
    OPTION_DURATION,    //  milliseconds in [min, max], written as seconds
                        //  (fractions allowed) or a number with s or ms
} option_type_t;

//  Option flags.
#define OPTION_EMPTY_UNSET  1   //  an empty value counts as not given
#define OPTION_POSITIONAL   2   //  an argument, not a flag: the next word
                                //  that is not an option (environment and
                                //  config file still apply)
#define OPTION_ARGV_ONLY    4   //  neither environment nor config file

//  Where an option's value goes: OPTION_AT (broker_args_t, config.map_size).
typedef struct {
    size_t offset, size;
} option_at_t;
#define OPTION_AT(type, field) { offsetof (type, field), sizeof (((type *) 0)->field) }

typedef struct {
    const char *name;           //  long flag without "--"; variable; key
    char short_name;            //  'b' for -b, or 0
    option_type_t type;
    option_at_t at;
    const char *arg;            //  the value in --help: "N", "ENDPOINT"
    uint64_t min, max;          //  numbers, sizes, durations (ms)
    const char *const *choices; //  OPTION_CHOICE, NULL-terminated
    const char *help;           //  one sentence or two, wrapped by --help
    const char *default_text;   //  the default in --help when the value in
                                //  the struct does not say it ("" for none)
    unsigned flags;
} option_t;

//  The --log-level entry every command has; field is a const char *.
extern const char *const options_log_levels[];
#define OPTION_LOG_LEVEL(type, field) \
    { "log-level", 0, OPTION_CHOICE, OPTION_AT (type, field), "LEVEL", \
      .choices = options_log_levels, .help = "debug, info, warn or error" }

//  --scheduling, for the daemons (common/sched_policy.h).
#define OPTION_SCHEDULING(type, field) \
    { "scheduling", 0, OPTION_CHOICE, OPTION_AT (type, field), "POLICY", \
      .choices = sched_policy_names, .default_text = SCHED_POLICY_DEFAULT, \
      .help = "the Linux scheduling policy of the process, its threads and what it " \
              "starts: batch (SCHED_BATCH: a woken thread waits for the running one " \
              "instead of preempting it, fewer context switches on busy cores) or " \
              "normal (SCHED_OTHER)" }

typedef struct {
    const char *command;        //  "broker": drover broker, section [broker]
    const char *usage;          //  after "usage: drover broker ": "[OPTIONS]"
    const char *about;          //  --help's text before the options, as is
    const char *notes;          //  and after them
    const option_t *options;
    size_t count;
    bool no_config;             //  flags only: no environment, no --config
} options_spec_t;

//  .options and .count of an options_spec_t from a table (an array).
#define OPTIONS_TABLE(table) .options = (table), .count = sizeof (table) / sizeof (table)[0]

//  Where a value came from, lowest precedence first.
typedef enum {
    OPTION_FROM_DEFAULT,
    OPTION_FROM_FILE,
    OPTION_FROM_ENV,
    OPTION_FROM_FLAG,
} option_source_t;

typedef struct options options_t;

//  The parser of one command's table.  NULL if out of memory, or if the
//  table is wrong (a type that does not fit its field's size, a name twice:
//  a programmer's error, said on stderr).
options_t *options_new (const options_spec_t *spec);
//  Strings parsed into args point into self: destroy it after the last use.
void       options_destroy (options_t **self_p);

//  Fill args (the struct the table's OPTION_AT offsets point into, holding
//  the defaults) from argv (argv[0] is the command's name), the environment
//  and the config file.  Returns -1 to go on, 0 after printing --help, or
//  2 after printing a usage error (a bad flag, variable or config line).
int options_parse (options_t *self, void *args, int argc, char **argv);
//  What every command does: parse spec's options into args (holding the
//  defaults), then return run (args, options); or the exit status of --help
//  or a usage error.  The options live until run returns.
typedef int (options_run_fn) (void *args, const options_t *options);
int options_main (const options_spec_t *spec, void *args, int argc, char **argv,
                  options_run_fn *run);
//  Where the named option's value came from, after options_parse.
option_source_t options_source (const options_t *self, const char *name);
//  Print --help to stdout; args supplies the defaults shown.
void options_help (const options_t *self, const void *args);
//  Print "drover COMMAND: WHAT[: VALUE]" and "try 'drover COMMAND --help'"
//  on stderr; returns 2, the exit status of a usage error.
int options_usage_error (const options_t *self, const char *what, const char *value);

#endif
