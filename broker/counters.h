//  counters.h -- what the broker has done since it started (broker.h's
//  broker_counters_t).  One struct, owned by the broker and lent to its
//  parts; each part counts only the fields named beside it here.
#ifndef DROVER_BROKER_COUNTERS_H
#define DROVER_BROKER_COUNTERS_H

#include <stdint.h>

#include "common/metrics.h"
#include "proto/msg.h"

//  The sockets refusals are counted by (the socket label of /metrics).
typedef enum {
    BROKER_FRONTEND,
    BROKER_INTAKE,
    BROKER_BACKEND,
    BROKER_SOCKETS
} broker_socket_t;

#define BROKER_REQUEUE_REASONS 5    //  QUEUE_WHY_* of broker/queue.h

typedef struct {
    uint64_t accepted;          //  jobs: tuples accepted from producers
    uint64_t dispatched;        //  dispatch: tuples sent to agents (every attempt)
    uint64_t done;              //  jobs
    uint64_t failed;            //  jobs
    uint64_t requeued;          //  jobs: tuples queued again (RETRY, agent gone)
    uint64_t requeued_why[BROKER_REQUEUE_REASONS];  //  jobs: the same by QUEUE_WHY_*
    uint64_t expired;           //  agents: leases that ran out
    uint64_t dead_letters;      //  dispatch: tuples sent as WORK dead_letter
    uint64_t duplicates;        //  producers: SUBMITs answered from a remembered batch
    uint64_t recovered;         //  broker: tuples found in the store at start
    uint64_t agents_joined;     //  agents
    uint64_t agents_left;       //  agents: with BYE
    uint64_t agents_lost;       //  agents: silent for 3 heartbeats, or denied
    uint64_t errors[DRV_E_MAX]; //  admission: bad or refused messages by error code
    uint64_t refused[BROKER_SOCKETS][DRV_E_MAX];    //  admission: the same by socket
    metrics_histogram_t commit_seconds;     //  broker: store commits that held changes
} broker_counters_t;

#endif
