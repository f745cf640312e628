//  seen.h -- the sink's dedupe index: which (job, tuple id) results are
//  already in the output.  Two stores behind one interface: in memory
//  (seen_new, for throwaway runs) or durable in LMDB (seen_open, the
//  default), so that a restarted sink still drops duplicates.
//
//  Changes come in batches: seen_begin, seen_insert for each result,
//  then seen_commit once the batch's lines are written (or seen_abort if
//  they could not be), so the index never holds a result the output lacks.
//  The LMDB store does one write transaction per batch.  With the commit it
//  records where the output file stood (seen_mark_t), so that at start the
//  sink can index lines written after the last commit (sink/recover.h).
//
//  Each (job, tuple id) holds the status of the result stored for it, ok or
//  failed, so a duplicate is acknowledged as what the output holds
//  (STORED's dead, PROTOCOL.md 4.3), not as what the duplicate says.
#ifndef DROVER_SEEN_H
#define DROVER_SEEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct seen seen_t;

//  Which output file (device and inode) and its size after a commit.
typedef struct {
    uint64_t dev;
    uint64_t ino;
    uint64_t size;
} seen_mark_t;

//  An index in memory; lost at exit.  NULL if out of memory.
seen_t *seen_new (void);
//  The durable index in directory dir (made with mode 0700 if missing; its
//  parent must exist).  Only one process may use a directory at a time.
//  With sync, each commit is flushed to disk (fdatasync); without, a commit
//  survives a crash of the process but not of the machine.  NULL with a
//  reason in err on failure.
seen_t *seen_open (const char *dir, bool sync, char *err, size_t errlen);
void    seen_destroy (seen_t **self_p);
bool    seen_durable (const seen_t *self);

//  Start a batch.  Returns 0 or -errno (LMDB: cannot begin a transaction).
int     seen_begin (seen_t *self);
//  Add (job, tuple) with its result's status (failed or ok) to the batch.
//  Returns 1 if it is new, 0 if it is held already (also when added earlier
//  in the same batch; the held status is kept), or -errno (the batch must
//  then be aborted).  Unless NULL, *held_failed gets the status now held:
//  failed for a new tuple, the first one's for a duplicate.  Outside a
//  batch, the insert is a batch of its own, committed at once.
int     seen_insert (seen_t *self, const char *job, uint64_t tuple, bool failed,
                     bool *held_failed);
//  Make the batch's inserts permanent, with mark (may be NULL: keep the
//  last one).  Returns the number of jobs that got their first tuple in the
//  batch (0 or more), or -errno; on failure the batch is dropped whole.
int     seen_commit (seen_t *self, const seen_mark_t *mark);
//  Drop the batch's inserts.
void    seen_abort (seen_t *self);
//  Jobs that got their first tuple in the open batch so far.
int     seen_batch_new_jobs (const seen_t *self);

bool    seen_contains (seen_t *self, const char *job, uint64_t tuple);
//  True if (job, tuple) is held, with its status in *failed (may be NULL).
bool    seen_lookup (seen_t *self, const char *job, uint64_t tuple, bool *failed);
//  The mark of the last commit that had one: 0, or -ENOENT if none.
int     seen_mark (seen_t *self, seen_mark_t *mark);
//  Forget every tuple of job (pruning a finished job): the number of tuples
//  forgotten, or -errno.  Not inside a batch.
int64_t seen_forget (seen_t *self, const char *job);
//  Number of (job, tuple) pairs held, over all jobs.
size_t  seen_size (seen_t *self);
//  Number of jobs with at least one tuple held.
size_t  seen_jobs (seen_t *self);

#endif
