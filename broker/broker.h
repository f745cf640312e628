//  broker.h -- the broker server (`drover broker`): takes tuples from
//  producers (ROUTER frontend, PULL intake), queues them per job, and hands
//  them to agents (ROUTER backend) by credit.  One thread, one poll loop.
//  Its settings (broker_config_t, the BROKER_*_DEFAULT values) are in
//  broker/config.h, its counters (broker_counters_t) in broker/counters.h.
#ifndef DROVER_BROKER_H
#define DROVER_BROKER_H

#include "broker/config.h"
#include "broker/counters.h"

typedef struct broker broker_t;

//  broker_config_defaults (config.h) fills a config with the defaults.

//  Create the broker and bind its sockets.  Returns NULL (and logs why) if
//  the config is invalid or an endpoint cannot be bound.
broker_t *broker_new (const broker_config_t *config);
//  Serve until interrupted (SIGINT, SIGTERM); logs the counters at the end.
//  Returns 0.
int       broker_run (broker_t *self);
//  One turn of broker_run's loop: wait up to timeout_ms (-1: until the
//  next timer) for messages, then handle what came and what is due.  For
//  a caller that drives the broker itself (the stateful fuzzer).  0, or
//  -EINTR once the process was interrupted.
int       broker_poll (broker_t *self, int timeout_ms);
void      broker_destroy (broker_t **self_p);

const broker_counters_t *broker_counters (const broker_t *self);

#endif
