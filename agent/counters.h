//  counters.h -- what the agent has done since it started: kept by the
//  agent's loop (agent.h), read by its exporter for /metrics and logged at
//  shutdown.  A header of its own so the exporter needs no more of the agent.
#ifndef DROVER_AGENT_COUNTERS_H
#define DROVER_AGENT_COUNTERS_H

#include <stdint.h>

#include "common/metrics.h"

//  What the agent has done since it started.
typedef struct {
    uint64_t ok;                //  tuples whose handler succeeded
    uint64_t failed;            //  last attempts that failed (dead letters)
    uint64_t retried;           //  failed attempts handed back with RETRY
    uint64_t sessions;          //  broker sessions started (HELLO sent)
    uint64_t bad_messages;      //  undecodable or unexpected messages received
    uint64_t dead_letters;      //  WORK dead_letter tuples stored as failed, not run
    uint64_t touched;           //  lease extensions asked for (tuples in TOUCH)
    uint64_t unsealable;        //  tuples handed back: job needs sealed results, no keys
    uint64_t cancelled;         //  tuples stopped on STOP (their job cancelled), stored so
    metrics_histogram_t handler_seconds;    //  how long each attempt's handler ran
} agent_counters_t;

#endif
