//  output.h -- the sink's JSON Lines file: one line per stored result.
//  Lines of a batch are collected in memory and written with one write(),
//  then flushed (fdatasync if asked), so a batch is in the file whole or,
//  if the write fails, not at all (regular files are cut back).
#ifndef DROVER_OUTPUT_H
#define DROVER_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sink/result.h"

typedef struct output output_t;

//  Open path for appending, creating it if needed; "-" is stdout.  With
//  fsync, each commit ends with fdatasync.  NULL on failure, errno set.
output_t   *output_new (const char *path, bool fsync);
void        output_destroy (output_t **self_p);

//  Start a batch of lines for one job and agent (both are copied).
//  Returns 0 or -ENOMEM.  Discards lines not yet committed.
int         output_begin (output_t *self, const char *job, const char *agent);
//  Add one result's line to the batch.  Returns 0, -ENOMEM, or -EINVAL if
//  a value could not be written as JSON.
int         output_add (output_t *self, const result_record_t *record);
//  Write the batch's lines, flush, and sync if asked.  Returns 0 or -errno;
//  on failure the batch is dropped and a regular file is cut back to where
//  the batch began.  A batch without lines costs no system call.
int         output_commit (output_t *self);
//  Drop the batch's lines without writing them.
void        output_discard (output_t *self);

//  Lines in the batch not yet committed.
size_t      output_pending (const output_t *self);
//  Lines and bytes written since output_new.
uint64_t    output_records (const output_t *self);
uint64_t    output_bytes (const output_t *self);
//  The path as given ("-" for stdout).
const char *output_path (const output_t *self);

#endif
