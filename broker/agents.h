//  agents.h -- the broker's agent side: the backend protocol (HELLO,
//  CREDIT, DONE, RETRY, TOUCH, HEARTBEAT, BYE), heartbeats to quiet agents,
//  agents lost (silent for 3 heartbeats) or whose key was revoked, and
//  leases that ran out, and STOP for the tuples of cancelled jobs.  What an
//  agent held when it went is queued again.
//  The sessions themselves are in roster_t; WORK is dispatch's.
#ifndef DROVER_BROKER_AGENTS_H
#define DROVER_BROKER_AGENTS_H

#include <czmq.h>
#include <stdint.h>

#include "broker/admission.h"
#include "broker/config.h"
#include "broker/counters.h"
#include "broker/dead_letters.h"
#include "broker/jobs.h"
#include "broker/roster.h"

typedef struct agents agents_t;

//  The backend socket, roster, jobs, admission, counters and dead letters
//  (where tuples that failed their last attempt are remembered) are
//  borrowed; config is copied.  NULL if out of memory.
agents_t *agents_new (zsock_t *backend, roster_t *roster, jobs_t *jobs,
                      admission_t *admission, broker_counters_t *counters,
                      dead_letters_t *dead_letters, const broker_config_t *config);
void      agents_destroy (agents_t **self_p);

//  A job was cancelled: STOP to every agent holding tuples of it, so that
//  they stop running them (PROTOCOL.md 12).  An agent that says HELLO
//  later, resuming tuples of a cancelled job, is told at its WELCOME.
void      agents_stop_job (agents_t *self, const job_t *job);
//  Read and handle one message from the backend.
void      agents_recv (agents_t *self);
//  A few times per heartbeat interval: drop agents whose key is no longer
//  allowed, and those lost; take back tuples whose lease ran out; send
//  HEARTBEAT to agents we have not sent anything for an interval.
void      agents_heartbeats (agents_t *self, int64_t now);

#endif
