//  records.h -- the payload of one RESULT (PROTOCOL.md 4.3, and 9.1 for
//  version 2): finished tasks packed as the records a sink stores, one
//  array, with their refs in the same order for the header.  A record is a
//  map in version 1, a positional array in version 2.  The outbox
//  (agent/outbox.h) keeps one per batch and reuses it from send to send.
#ifndef DROVER_RECORDS_H
#define DROVER_RECORDS_H

#include "agent/task.h"
#include "proto/msg.h"

#include <stddef.h>
#include <stdint.h>

typedef struct records records_t;

//  Records for a RESULT in version (1 or 2); NULL if out of memory.
//  A result status's name (PROTOCOL.md 9.1): 0 ok, 1 failed, 2 excluded,
//  3 cancelled, 4 aborted; "failed" for any other.
const char *records_status_name (unsigned status);
records_t *records_new (int version);
int        records_version (const records_t *self);
void       records_destroy (records_t **self_p);

//  Pack task's record (its tuple, status, timings, outputs or error, and
//  the outputs of a failed last attempt marked partial).  0, or -ENOMEM
//  with nothing added.
int        records_add (records_t *self, const task_t *task);
//  Records packed since the last clear, and their refs.
size_t     records_count (const records_t *self);
const msg_ref_t *records_refs (const records_t *self);
//  The payload's size: the array's head and the records.
size_t     records_size (const records_t *self);
//  Write the payload (records_size bytes) to out.
void       records_write (const records_t *self, uint8_t *out);
//  Forget the records, keeping the buffers.
void       records_clear (records_t *self);

#endif
