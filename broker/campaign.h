//  campaign.h -- spec jobs (PROTOCOL.md section 10): a SUBMIT that carries
//  a spec (targets x ports minus exclusions, spec/spec.h) instead of
//  tuples.  The broker stores the spec with the job and never the whole
//  expansion: whenever fewer than CAMPAIGN_LOW_WATER of a spec job's tuples
//  wait, the next window of its walk (spec/walk.h) goes in through
//  jobs_accept, so tuple id = walk position + 1 and the job's next id is
//  the cursor, stored in the same transaction as the window.  When the
//  walk is used up the job is closed, and completes as any other.
#ifndef DROVER_BROKER_CAMPAIGN_H
#define DROVER_BROKER_CAMPAIGN_H

#include <stddef.h>
#include <stdint.h>

#include "broker/jobs.h"
#include "broker/each.h"

//  A spec job keeps at least this many tuples waiting while its walk lasts
//  (fewer: the next window is expanded), and at most twice as many.
#define CAMPAIGN_LOW_WATER 4096

typedef struct campaign campaign_t;

//  The spec a SUBMIT carries, checked and in its stored form: made by
//  campaign_spec_new, given to campaign_start.
typedef struct campaign_spec campaign_spec_t;

//  jobs is borrowed.  NULL if out of memory.
campaign_t *campaign_new (jobs_t *jobs);
void        campaign_destroy (campaign_t **self_p);
//  The runs of jobs with "each" (borrowed; set before the first SUBMIT).
void        campaign_set_each (campaign_t *self, each_t *each);

//  A SUBMIT's `spec` map (raw msgpack) parsed, with the seed of job name
//  when it gives none.  NULL with the reason in reason (a syntax error,
//  an unknown key, nothing left after the exclusions, too many tuples).
campaign_spec_t *campaign_spec_new (const void *map, size_t size, const char *name,
                                    char *reason, size_t reason_size);
void        campaign_spec_destroy (campaign_spec_t **self_p);
//  Its tuples in all.
uint64_t    campaign_spec_count (const campaign_spec_t *spec);
//  True if job is a spec job of this very spec and seed (a SUBMIT sent
//  again); false for another spec, or an ordinary job.
bool        campaign_spec_same (const campaign_spec_t *spec, const job_t *job);

//  Make job (new, no tuples yet) a spec job and expand its first window,
//  in the open store transaction.  0, or -ENOMEM or the store's error.
//  With "each": LABEL in its options, the job runs once per value of
//  LABEL among the agents connected now (each.h): as jobs
//  NAME@LABEL=VALUE, each the whole spec, while job itself gets no
//  tuples and is closed; *runs_p is how many (1 without each).  -ENOENT
//  with no agent labelled so, -EEXIST if a run's name is taken.
int         campaign_start (campaign_t *self, job_t *job, const campaign_spec_t *spec,
                            size_t *runs_p);
//  The tuples a spec job has in all, queued yet or not (a parent of
//  "each" runs: all its runs' together); 0 for a job of tuples.
uint64_t    campaign_total (campaign_t *self, const job_t *job);
//  A job found in the store at start: if it is a spec job whose walk is
//  not used up, expansion goes on from its next id.  0, or -1 (logged) if
//  its stored spec cannot be read.
int         campaign_adopt (campaign_t *self, job_t *job);
//  Once a turn, in the store transaction: expand a window of each spec
//  job that has fewer than CAMPAIGN_LOW_WATER tuples waiting.
void        campaign_refill (campaign_t *self);
//  Spec jobs still expanding.
size_t      campaign_active (const campaign_t *self);

#endif
