//  broker.h -- the broker server (`drover broker`): takes tuples from
//  producers (ROUTER frontend, PULL intake), queues them per job, and hands
//  them to agents (ROUTER backend) by credit.  One thread, one poll loop.
#ifndef DROVER_BROKER_H
#define DROVER_BROKER_H

#include <stdint.h>

#include "proto/msg.h"

#define BROKER_FRONTEND_DEFAULT     "tcp://127.0.0.1:5555"
#define BROKER_INTAKE_DEFAULT       "tcp://127.0.0.1:5556"
#define BROKER_BACKEND_DEFAULT      "tcp://127.0.0.1:5557"
#define BROKER_HEARTBEAT_MS_DEFAULT 1000
#define BROKER_MAX_BATCH_DEFAULT    10000
#define BROKER_WORK_BATCH_DEFAULT   256
#define BROKER_MAX_TUPLE_DEFAULT    (1024 * 1024)
#define BROKER_MAX_MESSAGE_DEFAULT  (64 * 1024 * 1024)
#define BROKER_MAX_QUEUED_DEFAULT   10000000
#define BROKER_RETRY_MS_DEFAULT     1000

typedef struct {
    const char *frontend;       //  endpoints to bind, comma-separated
    const char *intake;
    const char *backend;
    const char *store;          //  "memory"
    uint32_t heartbeat_ms;      //  agent heartbeat interval; lost after 3
    uint32_t max_batch;         //  most tuples in one SUBMIT
    uint32_t work_batch;        //  most tuples in one WORK (credit permitting)
    uint64_t max_tuple_size;    //  bytes in one tuple frame
    int64_t  max_message_size;  //  ZMQ_MAXMSGSIZE: bigger frames drop the peer
    uint64_t max_queued;        //  tuples waiting, beyond which QUEUE_FULL
    uint32_t retry_ms;          //  told to producers with QUEUE_FULL
} broker_config_t;

//  What the broker has done since it started.
typedef struct {
    uint64_t accepted;          //  tuples accepted from producers
    uint64_t dispatched;        //  tuples sent to agents (every attempt)
    uint64_t done;
    uint64_t failed;
    uint64_t requeued;          //  tuples queued again (RETRY, agent gone)
    uint64_t agents_joined;
    uint64_t agents_left;       //  with BYE
    uint64_t agents_lost;       //  silent for 3 heartbeats
    uint64_t errors[DRV_E_MAX]; //  bad or refused messages by error code
} broker_counters_t;

typedef struct broker broker_t;

//  Fill config with the defaults above.
void broker_config_defaults (broker_config_t *config);

//  Create the broker and bind its sockets.  Returns NULL (and logs why) if
//  the config is invalid or an endpoint cannot be bound.
broker_t *broker_new (const broker_config_t *config);
//  Serve until interrupted (SIGINT, SIGTERM); logs the counters at the end.
//  Returns 0.
int       broker_run (broker_t *self);
void      broker_destroy (broker_t **self_p);

const broker_counters_t *broker_counters (const broker_t *self);

#endif
