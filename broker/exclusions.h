//  exclusions.h -- the broker-wide exclusion list (`drover broker
//  --exclude-file F`, PROTOCOL.md 10.2): targets no job may touch, whatever
//  its spec or tuples say.  Tuples are checked as dispatch takes them from
//  the queue (a list changed since they were queued still holds): the host
//  is read from the tuple's bytes (spec/tuple_peek.h), never decoding the
//  rest, and matched in any spelling.  An excluded tuple is never sent to
//  an agent; it is finished (counted done in its job) and counted here.
//  The file is read again when it changes, as the allow-lists are.
#ifndef DROVER_BROKER_EXCLUSIONS_H
#define DROVER_BROKER_EXCLUSIONS_H

#include <stddef.h>
#include <stdint.h>

#include "broker/jobs.h"

//  Check the file for a change at most this often.
#define EXCLUSIONS_CHECK_MS 1000

typedef struct exclusions exclusions_t;

//  The list in path (the targets syntax of spec/targets.h, '#' comments).
//  NULL (logged) if it cannot be read or has a syntax error.
exclusions_t *exclusions_new (const char *path);
void          exclusions_destroy (exclusions_t **self_p);

//  Read the file again if it changed since it was read (at most every
//  EXCLUSIONS_CHECK_MS).  A file that cannot be read or parsed now keeps
//  the list as it was (logged once per change).
void          exclusions_tick (exclusions_t *self, int64_t now);

//  Take the excluded tuples out of tuples[0..count) (just taken from job's
//  queue, frames held), keeping the others in order; the excluded ones are
//  finished through jobs and their frames dropped.  Returns how many are
//  left.
size_t        exclusions_filter (exclusions_t *self, jobs_t *jobs, job_t *job,
                                 queue_tuple_t *tuples, size_t count);
//  Tuples excluded since the broker started.
uint64_t      exclusions_excluded (const exclusions_t *self);

#endif
