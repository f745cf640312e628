//  runs.h -- tuple references of one job, two ways: refs, one (id, attempt)
//  per tuple (version 1's wire form), and runs, consecutive ids at one
//  attempt (version 2's wire form, and how msg.h holds every such field).
//  Plain arrays the caller owns: nothing here allocates.
#ifndef DROVER_RUNS_H
#define DROVER_RUNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  A tuple reference: which tuple of the message's job, and which attempt.
typedef struct {
    uint64_t id;
    uint32_t attempt;
} msg_ref_t;

//  Tuples first .. first + count - 1, all at attempt.
typedef struct {
    uint64_t first;
    uint32_t count;
    uint32_t attempt;
} msg_run_t;

//  True if every run names at least one tuple and its last id fits in 64
//  bits; then *total_p (may be NULL) is how many tuples they name.
bool   runs_valid (const msg_run_t *runs, size_t count, uint64_t *total_p);
//  Tuples the runs name (runs_valid ones).
uint64_t runs_total (const msg_run_t *runs, size_t count);
//  Add tuple (id, attempt) after runs[0 .. *count_p): the last run grows
//  when the tuple follows on from it at the same attempt, else a run starts
//  (runs must have room for one more).
void   runs_append (msg_run_t *runs, size_t *count_p, uint64_t id, uint32_t attempt);
//  How many runs refs[0 .. count) make with runs_append.
size_t runs_needed (const msg_ref_t *refs, size_t count);
//  The runs as refs, in order; refs has room for runs_total.
void   runs_expand (const msg_run_t *runs, size_t count, msg_ref_t *refs);

#endif
