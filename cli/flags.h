//  flags.h -- what every subcommand's option parsing shares: defaults from
//  DROVER_* environment variables, numbers with limits and size suffixes,
//  booleans, and the usage error that ends in "try --help".
#ifndef DROVER_FLAGS_H
#define DROVER_FLAGS_H

#include <stdbool.h>
#include <stdint.h>

//  The variable's value, or NULL if it is unset or empty.
const char *flags_env (const char *name);
//  "1", "true", "yes", "on" -> 1; "0", "false", "no", "off" -> 0; else -1.
int flags_bool (const char *text);
//  A decimal number in [min, max] into *value_p; with sizes, a K/M/G suffix
//  (powers of 1024, optionally followed by "B" or "iB").  0 or -1.
int flags_number (const char *text, uint64_t min, uint64_t max, bool sizes,
                  uint64_t *value_p);
//  Print "drover COMMAND: WHAT[: VALUE]" and the --help hint; returns 2,
//  the exit status of a usage error.
int flags_usage_error (const char *command, const char *what, const char *value);

#endif
