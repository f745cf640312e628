//  exclusions.h -- the broker-wide exclusion list (`drover broker
//  --exclude-file F`, PROTOCOL.md 10.2): targets no job may touch, whatever
//  its spec or tuples say.  Tuples are checked as dispatch takes them from
//  the queue (a list changed since they were queued still holds): the host
//  is read from the tuple's bytes (spec/tuple_peek.h), never decoding the
//  rest, and matched in any spelling.  An excluded tuple is never run: it
//  goes to an agent in a WORK marked excluded, which stores it at the sink
//  as status excluded (PROTOCOL.md 10.2), and it is counted here.
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

//  Move the excluded tuples of tuples[0..*count_p) (just taken from job's
//  queue, payloads held) to excluded[] (room for *count_p), keeping the
//  others in order in tuples and their number in *count_p; count them.
//  Returns how many were excluded.
size_t        exclusions_split (exclusions_t *self, const job_t *job, queue_tuple_t *tuples,
                                size_t *count_p, queue_tuple_t *excluded);
//  Tuples excluded since the broker started.
uint64_t      exclusions_excluded (const exclusions_t *self);

#endif
