//  stats.h -- what the sink has done since it started: kept by its loop
//  (sink.h), read by its exporter for /metrics and logged at shutdown.  A
//  header of its own so the exporter needs no more of the sink.
#ifndef DROVER_SINK_STATS_H
#define DROVER_SINK_STATS_H

#include <stdint.h>

#include "common/metrics.h"
#include "proto/msg.h"

typedef struct {
    uint64_t messages;          //  messages received, good or bad
    uint64_t batches;           //  RESULT batches acknowledged with STORED
    uint64_t stored;            //  results written to the output
    uint64_t duplicates;        //  results dropped as already stored
    uint64_t failed;            //  of stored, dead letters (status "failed")
    uint64_t bad;               //  messages answered with ERROR, or dropped
    uint64_t sealed;            //  sealed batches opened
    uint64_t tampered;          //  sealed batches failing authentication
    uint64_t replayed;          //  sealed batches seen before (or too old)
    uint64_t recovered;         //  results indexed at start from the output
    uint64_t write_errors;      //  batches the output could not take
    uint64_t errors[DRV_E_MAX]; //  bad messages by error code
    metrics_histogram_t latency;    //  of stored results: handler start to stored
} sink_stats_t;

#endif
