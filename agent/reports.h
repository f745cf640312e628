//  reports.h -- what the agent tells the broker about tuples it held:
//  DONE (with dead), RETRY (with the first reason) and CREDIT for freed
//  slots.  Collected during a reactor turn and sent at its end, so they
//  batch under load: one DONE and one RETRY per job and turn.
#ifndef DROVER_REPORTS_H
#define DROVER_REPORTS_H

#include "agent/uplink.h"
#include "proto/msg.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    REPORT_DONE,                //  the sink stored it as ok
    REPORT_DEAD,                //  the sink stored it as failed (DONE's dead)
    REPORT_RETRY,               //  the attempt failed and another may follow
} report_t;

typedef struct reports reports_t;

//  NULL if out of memory.
reports_t *reports_new (void);
void       reports_destroy (reports_t **self_p);

//  Report ref of job.  reason: why, for RETRY (the first per job and turn
//  is sent; may be NULL).
void       reports_add (reports_t *self, const char *job, msg_ref_t ref, report_t kind,
                        const char *reason);
//  Slots freed, to return with CREDIT.
void       reports_credit (reports_t *self, size_t slots);
//  Send what was collected through uplink, if live; else keep it for the
//  next session, whose HELLO names its tuples (reports_each).  With
//  hold_credit (draining: new work would only be handed back at BYE)
//  freed slots stay with us.
void       reports_flush (reports_t *self, uplink_t *uplink, bool hold_credit);
//  The session ended: forget the credit (the next HELLO offers our free
//  slots); DONE and RETRY wait for the next session.
void       reports_forget (reports_t *self);
//  Call fn for each tuple with a report waiting (the job name lives until
//  the next flush).
typedef void (reports_fn) (void *arg, const char *job, msg_ref_t ref);
void       reports_each (reports_t *self, reports_fn *fn, void *arg);

#endif
