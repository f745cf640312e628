//  seen.h -- the sink's dedupe index: which (job, tuple id) results are
//  already in the output.  In memory for now (a hash set per job); the
//  interface is small so a store that survives restarts can replace it.
#ifndef DROVER_SEEN_H
#define DROVER_SEEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct seen seen_t;

seen_t *seen_new (void);
void    seen_destroy (seen_t **self_p);

//  Add (job, tuple).  Returns 1 if it was new, 0 if it was already there,
//  -ENOMEM if it could not be added (the index is unchanged then).
int     seen_insert (seen_t *self, const char *job, uint64_t tuple);
//  Take (job, tuple) out again, e.g. when writing its result failed.
//  Returns 1 if it was there, 0 if not.
int     seen_remove (seen_t *self, const char *job, uint64_t tuple);
bool    seen_contains (seen_t *self, const char *job, uint64_t tuple);
//  Number of (job, tuple) pairs held, over all jobs.
size_t  seen_size (const seen_t *self);
//  Number of jobs with at least one pair held at some point.
size_t  seen_jobs (const seen_t *self);

#endif
