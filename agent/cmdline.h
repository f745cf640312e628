//  cmdline.h -- an argv or environment under construction for the exec
//  handler: words appended as they are, or filled in from a command
//  template and a tuple ("{0}", "{name}", "{{"), shell-quoted on request;
//  then one NULL-terminated vector for posix_spawn.  All words live in one
//  growing buffer, so a command costs a few allocations, not one per word.
#ifndef DROVER_CMDLINE_H
#define DROVER_CMDLINE_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct cmdline cmdline_t;

//  NULL if out of memory.
cmdline_t *cmdline_new (void);
void       cmdline_destroy (cmdline_t **self_p);

//  Append one word as it is.  0, or -1 (out of memory, or a NUL in text)
//  with a message in err.
int     cmdline_add (cmdline_t *self, const char *text, size_t len, char *err, size_t errlen);
//  Append one word: the template tpl[0..len) with each placeholder
//  replaced by the tuple's value as text (see cmdline_value_text), quoted
//  for /bin/sh if quote.  {N} (digits) is element N of an array tuple (a
//  tuple that is neither array nor map is {0}); {name} a field of a map
//  tuple; {{ and }} are literal braces.  0, or -1 with a message in err
//  ("placeholder {3}: the tuple has no element 3").
int     cmdline_add_template (cmdline_t *self, const msgpack_object *tuple,
                              const char *tpl, size_t len, bool quote,
                              char *err, size_t errlen);
//  Append "name=value", the value as text.  0, or -1 with a message in err.
int     cmdline_add_var (cmdline_t *self, const char *name, size_t name_len,
                         const msgpack_object *value, char *err, size_t errlen);
size_t  cmdline_count (const cmdline_t *self);
//  The words, NULL-terminated; valid until the next add or destroy.
//  NULL if out of memory.
char  **cmdline_vector (cmdline_t *self);

//  Append a value as text to out: a string as it is, a number in decimal
//  (floats: the shortest form that reads back the same), true/false, nil
//  as nothing, anything else as JSON.  0, or -1 if out of memory.
int     cmdline_value_text (msgpack_sbuffer *out, const msgpack_object *value);

#endif
