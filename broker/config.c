//  config.c -- see config.h: the broker's settings' defaults, and the
//  check broker_new makes of the settings it is given.
#include "broker/config.h"
#include "common/log.h"
#include "proto/msg.h"

#include <errno.h>
#include <string.h>

void
broker_config_defaults (broker_config_t *config)
{
    *config = (broker_config_t) {
        .frontend = BROKER_FRONTEND_DEFAULT,
        .intake = BROKER_INTAKE_DEFAULT,
        .backend = BROKER_BACKEND_DEFAULT,
        .store = BROKER_STORE_DEFAULT,
        .data_dir = BROKER_DATA_DIR_DEFAULT,
        .map_size = BROKER_MAP_SIZE_DEFAULT,
        .heartbeat_ms = BROKER_HEARTBEAT_MS_DEFAULT,
        .max_batch = BROKER_MAX_BATCH_DEFAULT,
        .work_batch = BROKER_WORK_BATCH_DEFAULT,
        .max_tuple_size = BROKER_MAX_TUPLE_DEFAULT,
        .max_message_size = BROKER_MAX_MESSAGE_DEFAULT,
        .max_queued = BROKER_MAX_QUEUED_DEFAULT,
        .max_queued_bytes = BROKER_MAX_QUEUED_BYTES_DEFAULT,
        .max_job_queued = BROKER_MAX_QUEUED_DEFAULT,
        .max_job_queued_bytes = BROKER_MAX_QUEUED_BYTES_DEFAULT,
        .retry_ms = BROKER_RETRY_MS_DEFAULT,
        .lease_slack_ms = BROKER_LEASE_SLACK_MS_DEFAULT,
        .reclaim_ms = BROKER_RECLAIM_MS_DEFAULT,
        .retry_backoff_ms = BROKER_RETRY_BACKOFF_MS_DEFAULT,
        .retry_backoff_max_ms = BROKER_RETRY_BACKOFF_MAX_DEFAULT,
        .intake_hwm = BROKER_INTAKE_HWM_DEFAULT,
        .batch_memory = BROKER_BATCH_MEMORY_DEFAULT,
    };
}

int
broker_config_check (const broker_config_t *config)
{
    const char *error = NULL;
    if (!config->frontend || !config->intake || !config->backend)
        error = "frontend, intake and backend endpoints are required";
    else
    if (!config->store
    ||  (strcmp (config->store, "memory") && strcmp (config->store, "lmdb")))
        error = "unknown store (known: lmdb, memory)";
    else
    if (!strcmp (config->store, "lmdb") && (!config->data_dir || !*config->data_dir))
        error = "the lmdb store needs a data directory";
    else
    if (config->heartbeat_ms == 0)
        error = "heartbeat_ms must be at least 1";
    else
    if (config->max_batch == 0 || config->max_batch > MSG_MAX_PAYLOADS)
        error = "max_batch must be between 1 and 100000";
    else
    if (config->work_batch == 0 || config->work_batch > MSG_MAX_REFS)
        error = "work_batch must be between 1 and 8192";
    else
    if (config->max_tuple_size == 0 || config->max_message_size <= 0
    ||  config->max_queued == 0 || config->max_queued_bytes == 0
    ||  config->max_job_queued == 0 || config->max_job_queued_bytes == 0
    ||  config->batch_memory == 0 || config->map_size == 0)
        error = "size and queue limits must be positive";
    if (error)
        log_error ("broker: %s", error);
    return error? -EINVAL: 0;
}

//  A ref takes at most 15 bytes (PROTOCOL.md 7); a WORK's other fields
//  (keys, numbers, the longest dead_letter) stay under 512.
_Static_assert (512 + BROKER_MAX_JOB_FIELDS + BROKER_WORK_REFS_SURE * 15 <= MSG_MAX_HEADER,
                "the largest job's fields leave room for BROKER_WORK_REFS_SURE refs");

size_t
broker_work_refs_room (size_t fields)
{
    size_t used = 512 + fields;
    return used < MSG_MAX_HEADER? (MSG_MAX_HEADER - used) / 15: 0;
}
