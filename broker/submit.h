//  submit.h -- accepting a SUBMIT (PROTOCOL.md 4.1, 10, 13, 14): checked
//  whole, then its tuples get ids and go into the queue (or its spec
//  becomes a campaign), or it is refused whole and nothing changes.
//  producers.c calls it for producers' SUBMITs and schedules' ticks; the
//  answer, and when it is sent, are producers.c's.
#ifndef DROVER_BROKER_SUBMIT_H
#define DROVER_BROKER_SUBMIT_H

#include <stddef.h>
#include <stdint.h>

#include "broker/campaign.h"
#include "broker/config.h"
#include "broker/counters.h"
#include "broker/each.h"
#include "broker/jobs.h"
#include "proto/msg.h"

typedef struct submit submit_t;

//  jobs and counters are borrowed; config is copied.  NULL if out of memory.
submit_t *submit_new (jobs_t *jobs, broker_counters_t *counters,
                      const broker_config_t *config);
void      submit_destroy (submit_t **self_p);
//  Spec jobs go to campaign (borrowed); without one they are refused.
void      submit_set_campaign (submit_t *self, campaign_t *campaign);
//  Jobs with "each" run once per label value (borrowed; may be NULL).
void      submit_set_each (submit_t *self, each_t *each);
//  Accept msg (a SUBMIT, borrowed): 0 with the ids its tuples got in
//  *first_p, *count_p (a retried batch: the ids the first try got), or
//  -DRV_E_* with the reason written into reason.
int       submit_accept (submit_t *self, msg_t *msg, uint64_t *first_p, uint64_t *count_p,
                         char *reason, size_t size);

#endif
