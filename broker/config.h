//  config.h -- the broker's settings and their defaults (broker.h's
//  broker_config_t).  Plain data every part of the broker reads; each part
//  copies what it needs when it is created.  config.c fills in the
//  defaults and checks a config.
#ifndef DROVER_BROKER_CONFIG_H
#define DROVER_BROKER_CONFIG_H

#include <stdint.h>

#include "common/auth.h"
#include "common/http.h"
#include "common/keys.h"

#define BROKER_FRONTEND_DEFAULT     "tcp://127.0.0.1:5555"
#define BROKER_INTAKE_DEFAULT       "tcp://127.0.0.1:5556"
#define BROKER_BACKEND_DEFAULT      "tcp://127.0.0.1:5557"
#define BROKER_HEARTBEAT_MS_DEFAULT 1000
#define BROKER_MAX_BATCH_DEFAULT    10000
//  Tuples in one WORK at most (credit permitting), as many as a producer's
//  batch: each WORK costs a message's wake-ups and encryption on both sides.
#define BROKER_WORK_BATCH_DEFAULT   1024
#define BROKER_MAX_TUPLE_DEFAULT    (1024 * 1024)
#define BROKER_MAX_MESSAGE_DEFAULT  (64 * 1024 * 1024)
#define BROKER_MAX_QUEUED_DEFAULT   10000000
#define BROKER_RETRY_MS_DEFAULT     1000
#define BROKER_STORE_DEFAULT        "lmdb"
#define BROKER_DATA_DIR_DEFAULT     "./drover-data"
#define BROKER_MAP_SIZE_DEFAULT     (4ULL << 30)    //  address space, not disk
#define BROKER_LEASE_SLACK_MS_DEFAULT    5000
//  After a restart, recovered tuples wait this long for the agents that
//  held them to reconnect and resume them (PROTOCOL.md 4.2): drover's
//  agent redials a lost broker at least every 5 s.
#define BROKER_RECLAIM_MS_DEFAULT        6000
#define BROKER_RETRY_BACKOFF_MS_DEFAULT  500
#define BROKER_RETRY_BACKOFF_MAX_DEFAULT 30000
#define BROKER_MAX_QUEUED_BYTES_DEFAULT  (2ULL << 30)
#define BROKER_INTAKE_HWM_DEFAULT   1000
#define BROKER_REPLY_HWM            65536   //  replies queued to one producer connection
#define BROKER_BATCH_MEMORY_DEFAULT 100000
#define BROKER_MAX_JOB_NAME         255     //  bytes; longer: TOO_LARGE
#define BROKER_MAX_BATCH_ID         255     //  bytes; longer: TOO_LARGE
#define BROKER_MAX_JOB_FIELDS       60000   //  bytes of a job's fields, which every WORK carries
#define BROKER_WORK_REFS_SURE       256     //  refs a WORK of any job has room for

typedef struct {
    const char *frontend;       //  endpoints to bind, comma-separated
    const char *intake;
    const char *backend;
    const char *store;          //  "lmdb" (durable) or "memory"
    const char *data_dir;       //  the LMDB store's directory
    uint64_t map_size;          //  the LMDB map: most bytes the store may hold
    uint32_t heartbeat_ms;      //  agent heartbeat interval; lost after 3
    uint32_t max_batch;         //  most tuples in one SUBMIT
    uint32_t work_batch;        //  most tuples in one WORK (credit permitting)
    uint64_t max_tuple_size;    //  bytes in one tuple frame
    int64_t  max_message_size;  //  ZMQ_MAXMSGSIZE: bigger frames drop the peer
    uint64_t max_queued;        //  tuples waiting, beyond which QUEUE_FULL
    uint64_t max_queued_bytes;  //  bytes of tuples not finished, ditto
    uint64_t max_job_queued;    //  the same, per job
    uint64_t max_job_queued_bytes;
    uint32_t retry_ms;          //  told to producers with QUEUE_FULL
    uint32_t lease_slack_ms;    //  lease = job timeout_ms + this
    uint32_t reclaim_ms;        //  after a restart, no WORK for this long; 0: none
    uint32_t retry_backoff_ms;  //  wait before attempt 2; doubles; 0: none
    uint32_t retry_backoff_max_ms;
    uint32_t intake_hwm;        //  ZMQ_RCVHWM of the PULL intake
    uint64_t batch_memory;      //  SUBMIT batch ids remembered per job
    const char *exclude_file;   //  targets no job may touch (exclusions.h), or NULL
    //  Security (PROTOCOL.md 2.1), both borrowed.  With keys, the frontend
    //  and intake are CURVE servers in ZAP domain AUTH_DOMAIN_PRODUCERS and
    //  the backend in AUTH_DOMAIN_AGENTS; NULL: the NULL mechanism, as
    //  before.  With auth, each message's sender key (msg_user_id) is
    //  checked again, so a key revoked after it connected is refused.
    keys_t *keys;
    auth_t *auth;
    //  --http (common/http.h), borrowed: the broker publishes /metrics, the
    //  dashboard and /api/state to it (broker/exporter.h); NULL: none.
    http_t *http;
} broker_config_t;

//  Fill config with the defaults (BROKER_*_DEFAULT).
void broker_config_defaults (broker_config_t *config);
//  0 if config is one the broker can run with; else logs why and returns
//  -EINVAL.
int  broker_config_check (const broker_config_t *config);
//  How many refs a WORK has room for beside a job's fields of fields bytes
//  (job, handler, sink, sink_key, options) under MSG_MAX_HEADER, counting
//  every ref at its largest and the WORK's other fields at theirs.
size_t broker_work_refs_room (size_t fields);

#endif
