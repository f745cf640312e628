//  submit_check.h -- the rules a SUBMIT must pass before the broker changes
//  anything (PROTOCOL.md 4.1, 7), as pure functions of the message, the
//  job it names (NULL: a new one) and the broker's settings.  What no wait
//  can fix (TOO_LARGE, BAD_TUPLE, BAD_TYPE, ...) is apart from the room in
//  the queue, which comes back as agents drain it (QUEUE_FULL).  Each
//  returns 0, or -DRV_E_* with the reason written into reason.
#ifndef DROVER_BROKER_SUBMIT_CHECK_H
#define DROVER_BROKER_SUBMIT_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "broker/config.h"
#include "broker/job.h"
#include "proto/msg.h"

//  The header: a job name and a batch id of 1 to 255 bytes, a new job's
//  handler and sink, and fields that fit in a WORK header, the same
//  handler and sink as the job's on later SUBMITs, the sink an endpoint
//  an agent can connect to, the sink key a key, max_attempts and
//  timeout_ms in their ranges.
int submit_check_fields (const msg_t *msg, const job_t *job, char *reason, size_t size);

//  The tuples: how many and how big, whether the queue limits could ever
//  take them (even with nothing queued), and each one exactly one
//  well-formed msgpack value (scanned, never decoded).  Their bytes in all
//  in *bytes_p.
int submit_check_tuples (const msg_t *msg, const broker_config_t *config,
                         uint64_t *bytes_p, char *reason, size_t size);

//  Room for count tuples of bytes in job (NULL: new) now, with queued
//  tuples waiting and held bytes not finished in all.
int submit_check_room (const job_t *job, size_t count, uint64_t bytes,
                       uint64_t queued, uint64_t held, const broker_config_t *config,
                       char *reason, size_t size);

#endif
