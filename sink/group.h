//  group.h -- the RESULTs a sink drains in one turn, stored together: each
//  RESULT's new records rendered into one output batch and inserted into
//  one index batch as it comes, then one write of the lines and one index
//  commit for all of them, and only then their STOREDs.  Per-batch costs
//  (the write, the LMDB commit, its page writes) are paid once per turn,
//  not once per RESULT, however small the agents' batches are.
//
//  Exactly once as before: lines first, index second (sink.c explains).
#ifndef DROVER_GROUP_H
#define DROVER_GROUP_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/metrics.h"
#include "proto/msg.h"
#include "sink/output.h"
#include "sink/result.h"
#include "sink/seen.h"

typedef struct sink_group group_t;    //  struct group is <grp.h>'s

//  One RESULT of the group, as stored (or not).
typedef struct {
    zmsg_t   *envelope;         //  to answer through
    msg_t    *msg;              //  the RESULT (its job and tuples)
    const msg_ref_t *dead;      //  STORED's dead: tuples held as failed
    size_t    dead_count;
    size_t    fresh;            //  results written
    size_t    failed;           //  of them, dead letters
    size_t    duplicates;       //  results dropped as held already
    bool      new_job;          //  its job got its first results
} group_result_t;

//  Output and index are borrowed.  With mark, each commit records where
//  the output file (dev, ino) ends.  NULL if out of memory.
group_t *group_new (output_t *output, seen_t *seen, bool mark, uint64_t dev, uint64_t ino);
void     group_destroy (group_t **self_p);

//  Add the RESULT msg, whose batch result has decoded, taking envelope and
//  msg (both set NULL).  latency gets each new result's.  0, or -errno
//  (the index failed, out of memory): then the whole group must be
//  committed to fail it.
int      group_add (group_t *self, zmsg_t **envelope_p, msg_t **msg_p, result_t *result,
                    metrics_histogram_t *latency);
//  RESULTs and records in the group.
size_t   group_results (const group_t *self);
size_t   group_records (const group_t *self);
//  Write and record what was added: 0, or a DRV_E_* code for every RESULT
//  of the group (logged; nothing of the group is then in the index, and
//  nothing in the output unless it cannot be cut back).
int      group_commit (group_t *self);
//  RESULT index of the group, committed or not.
const group_result_t *group_result (group_t *self, size_t index);
//  Forget the group's RESULTs (destroying their messages) for the next.
void     group_clear (group_t *self);

#endif
