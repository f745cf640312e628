//  dispatch.h -- handing waiting tuples to agents by credit.  Each WORK
//  holds tuples of one job, leased to the agent; dead letters (attempts
//  used up) go in WORKs of their own.  dispatch_run runs inside the turn's
//  store transaction (it reads payloads; leases are kept in memory, in the
//  agents' held tables); the WORK it prepares goes out with dispatch_send,
//  after the commit.
#ifndef DROVER_BROKER_DISPATCH_H
#define DROVER_BROKER_DISPATCH_H

#include <czmq.h>

#include "broker/config.h"
#include "broker/counters.h"
#include "broker/dead_letters.h"
#include "broker/exclusions.h"
#include "broker/limits.h"
#include "broker/jobs.h"
#include "broker/roster.h"

typedef struct dispatch dispatch_t;

//  The backend socket, roster, jobs, counters and dead letters (where the
//  tuples sent as dead letters are remembered) are borrowed; config is
//  copied.  NULL if out of memory.
dispatch_t *dispatch_new (zsock_t *backend, roster_t *roster, jobs_t *jobs,
                          broker_counters_t *counters, dead_letters_t *dead_letters,
                          const broker_config_t *config);
//  Drops the WORK not sent (its tuples stay held: their leases bring them
//  back after a restart).
void        dispatch_destroy (dispatch_t **self_p);

//  Tuples of excluded targets are never run: they go in WORKs of their
//  own, marked excluded, for the agent to store as such (exclusions
//  borrowed; NULL: none).
void        dispatch_set_exclusions (dispatch_t *self, exclusions_t *exclusions);
//  Tuples over their key's limit are set aside (limits borrowed; NULL:
//  none).
void        dispatch_set_limits (dispatch_t *self, limits_t *limits);
//  Agents with credit take turns; each gets up to min(credit, work_batch)
//  tuples of one job per WORK, so no agent ever holds more than its credit.
void        dispatch_run (dispatch_t *self);
//  Send the WORK prepared, after the turn's commit.
void        dispatch_send (dispatch_t *self);

#endif
