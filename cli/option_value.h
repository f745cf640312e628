//  option_value.h -- one option's value: text from a flag, a variable or a
//  config file turned into the typed field its table entry names (within
//  its limits), and a field turned back into text for --help.  The table
//  itself and where values come from: options.h.
#ifndef DROVER_OPTION_VALUE_H
#define DROVER_OPTION_VALUE_H

#include "cli/options.h"

//  Convert text into the field at dest, as option's type and limits say.
//  0, or -1 with the reason in err ("must be a whole number from 1 to 64").
int  option_value_parse (const option_t *option, const char *text, void *dest,
                         char *err, size_t errlen);
//  The field at src as --help shows a default ("1M", "30s", "lmdb"); ""
//  when there is nothing to show (no string, a bool that is off).
void option_value_print (const option_t *option, const void *src, char *buf, size_t size);

//  The conversions, for values that are not in a table.
//  "1", "true", "yes", "on" -> 1; "0", "false", "no", "off" -> 0; else -1.
int  option_value_bool (const char *text);
//  A decimal number in [min, max] into *value_p; with sizes, a K/M/G suffix
//  (powers of 1024, optionally followed by "B" or "iB").  0 or -1.
int  option_value_number (const char *text, uint64_t min, uint64_t max, bool sizes,
                          uint64_t *value_p);
//  Seconds (fractions allowed), or a number followed by ms, s, m, h or d,
//  into milliseconds in [min_ms, max_ms].  0 or -1.
int  option_value_duration (const char *text, uint64_t min_ms, uint64_t max_ms,
                            uint64_t *ms_p);

#endif
