//  manifest_writer.h -- the sink's side of manifests (manifest.h): it
//  follows its own results file, reading the lines it has written since it
//  last looked, and writes a job's manifest beside the file once the job
//  has had no new line for a while (the delay), again whenever more come.
//
//  Why this trigger: the sink does not know how many tuples a job has (no
//  RESULT says; only the broker knows when a job is complete), and telling
//  it would take a new message between broker, agents and sink.  A
//  manifest that always describes exactly the lines the file holds of the
//  job needs none of that: once the job's last result is stored and the
//  delay has passed, it is the job's final manifest, and its `lines` can
//  be checked against `drover status` (done + failed).  Following the file
//  rather than hooking the write path keeps the store's hot path as it
//  was, and makes the sink and `drover results --verify` read the same
//  bytes; at start the whole file is read again, so a restart loses nothing.
#ifndef DROVER_MANIFEST_WRITER_H
#define DROVER_MANIFEST_WRITER_H

#include <stdbool.h>
#include <stdint.h>

typedef struct manifest_writer manifest_writer_t;

//  For the results file at path (a regular file the sink appends to).
//  NULL if out of memory.
manifest_writer_t *manifest_writer_new (const char *path, uint32_t delay_ms);
//  Reads the file to its end and writes every manifest not yet written.
void               manifest_writer_destroy (manifest_writer_t **self_p);

//  Read a bounded share of the lines the file gained, and write the
//  manifests due (now: monotonic ms).  Cheap when nothing changed.
void               manifest_writer_tick (manifest_writer_t *self, int64_t now);
//  Manifests written since the start (each rewrite counts).
uint64_t           manifest_writer_written (const manifest_writer_t *self);

#endif
