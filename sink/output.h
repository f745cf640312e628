//  output.h -- the sink's JSON Lines file: one line per stored result.
//  Lines of a batch are collected in memory and written together (64 KiB
//  a write(), common/writeback.h), then flushed (fdatasync if asked), so a
//  batch is in the file whole or, if a write fails, not at all (regular
//  files are cut back).
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
//  The job and agent of the lines added next (both are copied); lines
//  already in the batch stay.  Returns 0 or -ENOMEM.
int         output_source (output_t *self, const char *job, const char *agent);
//  The agent's labels (a msgpack map, from RESULT) written with the lines
//  added next, as "labels"; NULL: none.  output_source forgets them.
//  Returns 0, or -1 if they are over OUTPUT_LABELS_MAX bytes, not one
//  msgpack value, or out of memory (then none).
#define OUTPUT_LABELS_MAX 2048
int         output_labels (output_t *self, const void *labels, size_t size);
//  Add one result's line to the batch, its "status" the status's name.
//  Returns 0 or -ENOMEM.  A record whose values cannot be written as JSON
//  is written as a failed result whose error says so.
int         output_add (output_t *self, const result_record_t *record);
//  Write the batch's lines, flush, and sync if asked.  Returns 0 or -errno;
//  on failure the batch is dropped and a regular file is cut back to where
//  the batch began.  A batch without lines costs no system call.
int         output_commit (output_t *self);
//  Drop the batch's lines without writing them.
void        output_discard (output_t *self);

//  The file (device and inode) and its size now.  Returns 0, or -ENOTSUP
//  for stdout (even redirected to a file) and what is not a regular file.
int         output_stat (output_t *self, uint64_t *dev, uint64_t *ino,
                         uint64_t *size);
//  Where the lines of the last commit end in a regular file, or -1.
int64_t     output_end (const output_t *self);
//  Cut the last commit's lines back out of a regular file, when what had
//  to follow the write failed (the dedupe index could not record them).
//  Returns 0 or -errno (-ENOTSUP if it cannot be done).
int         output_rollback (output_t *self);
//  Cut a regular file to size bytes (recovery drops a partial last line).
int         output_truncate (output_t *self, uint64_t size);

//  Lines in the batch not yet committed.
size_t      output_pending (const output_t *self);
//  Lines and bytes written since output_new.
uint64_t    output_records (const output_t *self);
uint64_t    output_bytes (const output_t *self);
//  Commits that failed since output_new; the last commit's result (0 or
//  -errno): a sink whose writes fail is not ready.
uint64_t    output_failures (const output_t *self);
int         output_error (const output_t *self);
//  The path as given ("-" for stdout).
const char *output_path (const output_t *self);

#endif
