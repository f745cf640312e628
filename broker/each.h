//  each.h -- a job run once per value of an agent label (job option
//  "each": LABEL, PROTOCOL.md 10.3).  The runs are jobs of their own,
//  named PARENT@LABEL=VALUE, made when the parent is created, one per
//  value among the agents connected then that fit its `requires`; a
//  run's options are the parent's without "each" and with {LABEL: VALUE}
//  added to "requires", so dispatch sends its tuples only to agents of
//  that value.  The parent holds no tuples: a spec parent's runs expand
//  the spec each (campaign.c); every SUBMIT of tuples to a plain parent
//  goes, whole, into every run, so tuple id N of the parent is tuple id N
//  of each run, and the sink's dedupe by (job, id) tells the copies apart.
//  The parent remembers the SUBMIT's batch; STATUS adds its runs up.
//  Runs are found again after a restart by name: PARENT@LABEL=... with a
//  job number above the parent's (they are created right after it).
#ifndef DROVER_BROKER_EACH_H
#define DROVER_BROKER_EACH_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/config.h"
#include "broker/jobs.h"
#include "broker/roster.h"
#include "proto/msg.h"

typedef struct each each_t;

//  jobs and roster are borrowed.  NULL if out of memory.
each_t   *each_new (jobs_t *jobs, roster_t *roster);
void      each_destroy (each_t **self_p);

//  The label of the "each" of options (a msgpack map, or NULL) into
//  label, or false if it has none.
bool      each_label (const void *options, size_t options_size, char *label, size_t size);
//  How many runs a new job with these options would have now: the
//  distinct values of its each label among the agents connected whose
//  labels fit its `requires` (1 without each; 0: none fits).
size_t    each_values_count (each_t *self, const void *options, size_t options_size);

//  Make the runs of parent, a job just created whose options have each:
//  one per value each_values_count counts, in the open store
//  transaction.  0 (also without each: nothing to make), -ENOENT with no
//  agent labelled so, -EEXIST if a run's name is taken or too long,
//  -ENOMEM.
int       each_start (each_t *self, job_t *parent);
//  The runs of parent (job_t *, the jobs table's, in the order they were
//  made), in a new list the caller destroys; empty for any other job.
//  NULL if out of memory.
zlistx_t *each_runs (each_t *self, const job_t *parent);

//  Before a new job is created as the SUBMIT msg asks: 0, with in
//  *runs_p the runs it will have (1 without each); or -DRV_E_* with a
//  reason: BAD_TYPE if its each is no label's name, UNEXPECTED if no
//  agent connected that fits it has the label, CONFLICT if a run's name
//  is taken or too long, or if the job's name is that of a run of an
//  existing job.
int       each_check_new (each_t *self, const msg_t *msg, size_t *runs_p, char *reason,
                          size_t size);
//  Room for a SUBMIT of count tuples of bytes into job (NULL: a new one,
//  with the SUBMIT msg's name and options), queued tuples waiting and
//  held bytes not finished in all: submit_check_room's rules, for every
//  copy when the job is run with each (every run takes count tuples),
//  and TOO_LARGE if the copies could never fit.  Also each_check_new's
//  checks for a new job, and CONFLICT for a SUBMIT to a run itself.  0,
//  or -DRV_E_* with a reason.
int       each_room (each_t *self, const job_t *job, const msg_t *msg, size_t count,
                     uint64_t bytes, uint64_t queued, uint64_t held,
                     const broker_config_t *config, char *reason, size_t size);
//  Accept *chunk_p (taken) into job as jobs_accept does; into each of its
//  runs if it has any, all in the open store transaction, and then the
//  batch record (if any) is remembered by job itself.  0 with the first
//  id in *first_p (the same in every run), or jobs_accept's error.
int       each_accept (each_t *self, job_t *job, chunk_t **chunk_p,
                       store_batch_t *record, uint64_t *first_p);
//  Close job, and its runs if it has any (a spec parent's runs close
//  themselves when their walk is used up: not those).
void      each_close (each_t *self, job_t *job);
//  Cancel job and its runs, if any, as jobs_cancel does each (their
//  agents told to stop, their tuples waiting on dependencies released).
void      each_cancel (each_t *self, job_t *job);
//  If job has runs: true, with their counters added up into *counters
//  and the state they make together (the parent's if it was ended; else
//  open while any is open, complete when all are, cancelled or aborted
//  when one was, closed otherwise).
bool      each_status (each_t *self, const job_t *job, job_counters_t *counters,
                       job_state_t *state);

#endif
