//  producers.h -- the broker's producer side: SUBMIT and STATUS on the
//  frontend (ROUTER, answered after the turn's store transaction commits)
//  and SUBMIT on the intake (PULL, never answered).  A SUBMIT is accepted
//  whole or refused whole; its tuple frames move into jobs_t uncopied.
#ifndef DROVER_BROKER_PRODUCERS_H
#define DROVER_BROKER_PRODUCERS_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>

#include "broker/admission.h"
#include "broker/campaign.h"
#include "broker/config.h"
#include "broker/counters.h"
#include "broker/each.h"
#include "broker/jobs.h"
#include "broker/listing.h"
#include "broker/schedules.h"

typedef struct producers producers_t;

//  The sockets, jobs, admission and counters are borrowed; config is
//  copied.  NULL if out of memory.
producers_t *producers_new (zsock_t *frontend, zsock_t *intake, jobs_t *jobs,
                            admission_t *admission, broker_counters_t *counters,
                            const broker_config_t *config);
//  Spec jobs (SUBMITs with a spec) go to campaign (borrowed); without
//  one they are refused.
void         producers_set_campaign (producers_t *self, campaign_t *campaign);
//  Jobs with "each" run once per label value (each.h, borrowed); without
//  it, "each" on a job of tuples is ignored.
void         producers_set_each (producers_t *self, each_t *each);
//  Drops the replies not sent.
void         producers_destroy (producers_t **self_p);
//  Serve JOBS and AGENTS, and rates in JOB, from listing (borrowed).
void         producers_set_listing (producers_t *self, listing_t *listing);
//  Serve SCHEDULE (PROTOCOL.md 15) from schedules (borrowed; may be NULL).
void         producers_set_schedules (producers_t *self, schedules_t *schedules);
//  A SUBMIT the broker makes itself (a schedule's tick), through the same
//  rules and path as a producer's, unanswered.  0, or -DRV_E_* with the
//  reason.
int          producers_submit (producers_t *self, msg_t *msg, char *reason, size_t size);

//  Read and handle one message from the frontend / the intake.
void         producers_frontend_recv (producers_t *self);
void         producers_intake_recv (producers_t *self);
//  A SUBMIT from the intake met QUEUE_FULL and waits for room: the broker
//  reads no more of the intake meanwhile, so the producers' PUSH sockets
//  block once the high-water marks fill (PROTOCOL.md 7), and nothing
//  pushed is dropped for want of room.
bool         producers_intake_paused (const producers_t *self);
//  Try the waiting SUBMIT again if the queue has room for it now.  True if
//  it went (accepted, or refused for another reason): the intake may be
//  read again.
bool         producers_intake_retry (producers_t *self);
//  Replies waiting for the turn's commit.
size_t       producers_replies (const producers_t *self);
//  Send them; if the commit failed (commit_rc), nothing was accepted, and
//  ACCEPTED becomes ERROR INTERNAL.
void         producers_flush (producers_t *self, int commit_rc);

#endif
