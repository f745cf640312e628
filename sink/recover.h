//  recover.h -- at start, bring the durable dedupe index (sink/seen.h) up
//  to date with the output file.  The sink writes a batch's lines, then
//  commits the index; a sink killed between the two leaves lines the index
//  lacks, and a redelivered result would be written twice.  So the index
//  records where the file ended at each commit, and at start every line
//  after that point is read back and its (job, tuple) added.  A partial
//  last line (killed mid-write: never acknowledged) is cut off.
#ifndef DROVER_RECOVER_H
#define DROVER_RECOVER_H

#include <stddef.h>
#include <stdint.h>

#include "sink/output.h"
#include "sink/seen.h"

typedef struct {
    uint64_t from;          //  offset the scan started at
    uint64_t lines;         //  whole lines read after it
    uint64_t indexed;       //  of them, results the index did not hold
    uint64_t unreadable;    //  lines without a job and a tuple id (skipped)
    uint64_t cut;           //  bytes of a partial last line cut off
} recover_stats_t;

//  Scan from the index's mark when it names this file and the file is not
//  shorter than it; else (no mark, another file, a truncated file) scan the
//  whole file.  Nothing to do for stdout.  Returns 0, or -errno with a
//  reason in err.
int recover_output (output_t *output, seen_t *seen, recover_stats_t *stats,
                    char *err, size_t errlen);

#endif
