//  labels.h -- agent labels and the jobs that require them (PROTOCOL.md
//  10.3): an agent's HELLO may carry `labels` {"site": "dc1", ...}; a job's
//  options may carry `requires` {"site": "dc1"}, and then only agents with
//  every one of those labels get its tuples.  Labels are kept as text,
//  ",k=v,k=v," sorted by key, so a requirement is a few substring checks
//  and a person reads them as they are.
#ifndef DROVER_BROKER_LABELS_H
#define DROVER_BROKER_LABELS_H

#include <stdbool.h>
#include <stddef.h>

//  Longest labels text; a key or value is 1 to 63 bytes of [A-Za-z0-9_.-].
#define LABELS_TEXT_MAX 1024

//  Whether size bytes at word are a label's key or value.
bool labels_word_ok (const char *word, size_t size);
//  A HELLO's labels map (raw msgpack) as text into out (LABELS_TEXT_MAX),
//  "" for none.  0, or -1 with the reason in reason (not a map of str to
//  str, a bad key or value, too many).
int  labels_text (const void *map, size_t size, char *out, char *reason, size_t reason_size);
//  Whether an agent with labels (labels_text's form, or NULL: none) may
//  run tuples of a job with options (raw msgpack map, or NULL): every
//  key of its `requires` map has that value among the labels.  A job
//  without `requires` fits every agent.
bool labels_fit (const char *labels, const void *options, size_t options_size);

#endif
