//  manifest.h -- a job's manifest: what a sink's results file holds of one
//  job, for an audit (docs/operations.md, "Manifests"): results by status,
//  first start and last finish, duration percentiles, the failures with
//  their error (the first MANIFEST_FAILURES), the agents that ran it, and
//  SHA-256 digests of the job's lines (all of them, and each run of
//  MANIFEST_CHUNK_LINES, so that a check can say where lines differ).
//  Built from the lines themselves, by the sink (manifest_writer.h) and by
//  `drover results JOB --verify` alike, so that both say the same thing of
//  the same lines.
#ifndef DROVER_MANIFEST_H
#define DROVER_MANIFEST_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/json_write.h"

#define MANIFEST_CHUNK_LINES   256
#define MANIFEST_FAILURES      100      //  listed with their errors; all are counted
#define MANIFEST_ERROR_BYTES   256      //  of each error kept
#define MANIFEST_AGENTS        1000     //  listed; all are counted

//  One line of a results file, parsed (reused line after line).
typedef struct {
    msgpack_sbuffer buffer;
    msgpack_unpacked unpacked;
} manifest_line_t;

void manifest_line_init (manifest_line_t *self);
void manifest_line_destroy (manifest_line_t *self);
//  Parse text[0..size) (a line without its newline): 0 and the job it is a
//  result of (its name, NUL-free, into job, up to size bytes), or -1 if it
//  is not a sink's result line.
int  manifest_line_parse (manifest_line_t *self, const char *text, size_t size, char *job,
                          size_t job_size);

typedef struct manifest manifest_t;

manifest_t *manifest_new (const char *job);
void        manifest_destroy (manifest_t **self_p);
//  Add the job's next line: text[0..size) without its newline, as
//  manifest_line_parse parsed it.  0 or -ENOMEM.
int         manifest_add (manifest_t *self, const char *text, size_t size,
                          const manifest_line_t *line);
//  The job's lines so far.
uint64_t    manifest_lines (const manifest_t *self);
//  The manifest as one JSON object and a newline, appended to out: 0 or -1.
int         manifest_render (manifest_t *self, json_buffer_t *out);
//  Compare with a manifest's JSON text (as a file holds it): 0 if they say
//  the same, else 1 with the first difference in report (a key, or for
//  the digests of runs of lines the index of the first run that differs,
//  in *chunk_p), -1 if text is not a manifest.
int         manifest_compare (manifest_t *self, const char *text, size_t size,
                              int64_t *chunk_p, char *report, size_t report_size);

//  Where a job's manifest lives beside the results file results:
//  "RESULTS.JOB.manifest.json", JOB with bytes other than letters, digits,
//  '.', '_' and '-' as %XX, or "sha256-" and 32 hex digits of the name's
//  SHA-256 if that would be over 128 bytes.  malloc'd, NULL if out of memory.
char       *manifest_path (const char *results, const char *job);

#endif
