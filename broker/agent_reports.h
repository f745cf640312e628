//  agent_reports.h -- what agents report of the tuples they hold
//  (PROTOCOL.md 4.2): DONE (finished, or failed on their last attempt),
//  RETRY (queued again after a back-off) and TOUCH (leases extended).  Refs
//  an agent does not hold are ignored: late duplicates of tuples already
//  taken back.
//  agents.c hands it the reports of agents that said HELLO.
#ifndef DROVER_BROKER_AGENT_REPORTS_H
#define DROVER_BROKER_AGENT_REPORTS_H

#include "broker/admission.h"
#include "broker/dead_letters.h"
#include "broker/jobs.h"
#include "broker/roster.h"
#include "proto/msg.h"

typedef struct agent_reports agent_reports_t;

//  jobs, admission (its peer log) and dead letters are borrowed.  NULL if
//  out of memory.
agent_reports_t *agent_reports_new (jobs_t *jobs, admission_t *admission,
                                    dead_letters_t *dead_letters);
void             agent_reports_destroy (agent_reports_t **self_p);
//  Apply msg (DONE, RETRY or TOUCH, of job) from the agent of session.
void             agent_reports_apply (agent_reports_t *self, session_t *session, job_t *job,
                                      msg_t *msg);

#endif
