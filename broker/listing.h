//  listing.h -- what the broker tells an operator about all its jobs and
//  agents (PROTOCOL.md 11): JOBS and AGENTS are answered with a page of
//  entries each (JOBLIST, AGENTLIST, one msgpack frame, at most
//  LISTING_MAX_PAGE entries), and each job's recent rate and ETA, from
//  samples of its finished count taken about once a second.  It reads the
//  jobs and the roster; it changes neither.
#ifndef DROVER_BROKER_LISTING_H
#define DROVER_BROKER_LISTING_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/each.h"
#include "broker/jobs.h"
#include "broker/roster.h"
#include "proto/msg.h"

//  Entries in one page, whatever `limit` asks: a JOBLIST of them stays
//  under about 400 KiB (a job name is at most 255 bytes).
#define LISTING_MAX_PAGE    1000
//  The window the rate is measured over, and how often it is sampled.
#define LISTING_WINDOW_MS   30000
#define LISTING_SAMPLE_MS   1000

typedef struct listing listing_t;

//  jobs and roster are borrowed.  NULL if out of memory.
listing_t *listing_new (jobs_t *jobs, roster_t *roster);
//  A job run with each (each.h, borrowed) is listed with its runs'
//  counters and state added up, and no rate of its own.
void       listing_set_each (listing_t *self, each_t *each);
void       listing_destroy (listing_t **self_p);

//  Sample every unfinished job's finished count, at most once per
//  LISTING_SAMPLE_MS (now: monotonic ms).
void       listing_tick (listing_t *self, int64_t now);

//  A job's rate over the last LISTING_WINDOW_MS in tuples per 1000 s, and
//  the ms until its tuples known now are finished at that rate: each
//  false when not known (too few samples yet; a rate of 0 has no ETA).  A
//  complete job has ETA 0 and no rate.
typedef struct {
    bool has_rate, has_eta;
    uint64_t rate_milli;
    uint64_t eta_ms;
} listing_rate_t;
listing_rate_t listing_rate (listing_t *self, job_t *job, int64_t now);

//  The answer to a JOBS / AGENTS request: JOBLIST / AGENTLIST in the
//  request's version, or NULL with *code_p (-DRV_E_BAD_TYPE: a limit of
//  0; -DRV_E_INTERNAL: out of memory) and a reason.
msg_t     *listing_jobs (listing_t *self, const msg_t *request, int64_t now, int *code_p,
                         char *reason, size_t size);
msg_t     *listing_agents (listing_t *self, const msg_t *request, int64_t now, int *code_p,
                           char *reason, size_t size);

#endif
