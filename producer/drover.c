//  drover.c -- libdrover's public API (include/drover/drover.h) over the
//  producer (producer.h): plain C types at the boundary (Z85 keys, tuple
//  bytes, JSON text), and the batch being filled, so a caller adds tuples
//  one at a time and the producer sees whole batches.  The batch is built
//  in one buffer, kept from batch to batch: no allocation per tuple.
#include "producer/per_tuple.h"
#include "producer/producer.h"

#include <czmq.h>
#include "common/json_read.h"
#include "common/keys.h"
#include "proto/msg.h"
#include "proto/validate.h"

#include <errno.h>
#include <inttypes.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

//  The public codes are the wire's: a change to either shows here.
_Static_assert ((int) DROVER_E_BAD_VERSION == (int) DRV_E_BAD_VERSION
             && (int) DROVER_E_UNKNOWN_JOB == (int) DRV_E_UNKNOWN_JOB
             && (int) DROVER_E_QUEUE_FULL == (int) DRV_E_QUEUE_FULL
             && (int) DROVER_E_BAD_TUPLE == (int) DRV_E_BAD_TUPLE, "DROVER_E_* are the wire's codes");
_Static_assert (DROVER_WINDOW_MAX == PRODUCER_WINDOW_MAX
             && DROVER_WINDOW_DEFAULT == PRODUCER_WINDOW
             && DROVER_REPLY_TIMEOUT_DEFAULT == PRODUCER_REPLY_TIMEOUT
             && DROVER_BATCH_TUPLES_MAX == MSG_MAX_TUPLES, "drover.h's limits are producer.h's");

struct drover_producer {
    producer_t *producer;
    msgpack_sbuffer batch;          //  tuples added and not yet sent, packed
    size_t batch_tuples;
    size_t max_tuples;
    size_t max_bytes;
    uint64_t added;                 //  tuples added so far, for errors
    msgpack_sbuffer json;           //  add_json's conversion buffer
    msgpack_sbuffer deps;           //  the batch's deps map entries (position, array)
    uint32_t deps_entries;
    msgpack_sbuffer deps_map;       //  the whole map, as sent
    per_tuple_t *per_tuple;         //  the batch's tuples' own priority, not_before
    msgpack_sbuffer per_tuple_map;  //  its map, as sent
};

//  A batch's `deps` map goes in the SUBMIT's header, which must stay
//  under 64 KiB (PROTOCOL.md 7): a batch is sent once its map is this big.
#define DEPS_BYTES_MAX (40 * 1024)

static drover_producer_t *
s_wrap (producer_t *producer)
{
    if (!producer)
        return NULL;
    drover_producer_t *self = calloc (1, sizeof *self);
    per_tuple_t *per_tuple = self? per_tuple_new (): NULL;
    if (!per_tuple) {
        free (self);
        producer_destroy (&producer);
        return NULL;
    }
    self->per_tuple = per_tuple;
    self->producer = producer;
    self->max_tuples = DROVER_BATCH_TUPLES_DEFAULT;
    self->max_bytes = DROVER_BATCH_BYTES_DEFAULT;
    msgpack_sbuffer_init (&self->batch);
    msgpack_sbuffer_init (&self->json);
    msgpack_sbuffer_init (&self->deps);
    msgpack_sbuffer_init (&self->deps_map);
    msgpack_sbuffer_init (&self->per_tuple_map);
    return self;
}

drover_producer_t *
drover_producer_new (const char *endpoint)
{
    return endpoint? s_wrap (producer_new (endpoint)): NULL;
}

drover_producer_t *
drover_producer_new_curve (const char *endpoint, const char *secret_key,
                           const char *broker_key)
{
    if (!endpoint || !secret_key || !broker_key)
        return NULL;
    char err[256];
    uint8_t broker[KEYS_KEY_SIZE];
    if (keys_z85_decode (broker_key, broker, "broker key", err, sizeof err))
        return NULL;
    keys_t *keys = keys_from_z85 (secret_key, NULL, err, sizeof err);
    if (!keys)
        return NULL;
    //  The socket holds what it needs of the keys.
    producer_t *producer = producer_new_curve (endpoint, keys, broker);
    keys_destroy (&keys);
    return s_wrap (producer);
}

void
drover_producer_destroy (drover_producer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    drover_producer_t *self = *self_p;
    producer_destroy (&self->producer);
    msgpack_sbuffer_destroy (&self->batch);
    msgpack_sbuffer_destroy (&self->json);
    msgpack_sbuffer_destroy (&self->deps);
    msgpack_sbuffer_destroy (&self->deps_map);
    per_tuple_destroy (&self->per_tuple);
    msgpack_sbuffer_destroy (&self->per_tuple_map);
    free (self);
    *self_p = NULL;
}

void
drover_producer_set_job (drover_producer_t *self, const char *job)
{
    producer_set_job (self->producer, job);
}

void
drover_producer_set_handler (drover_producer_t *self, const char *handler)
{
    producer_set_handler (self->producer, handler);
}

void
drover_producer_set_sink (drover_producer_t *self, const char *sink)
{
    producer_set_sink (self->producer, sink);
}

void
drover_producer_set_sink_key (drover_producer_t *self, const char *sink_key)
{
    producer_set_sink_key (self->producer, sink_key);
}

int
drover_producer_set_options (drover_producer_t *self, const char *json, char *err,
                             size_t errlen)
{
    return producer_set_options (self->producer, json, err, errlen)? -1: 0;
}

int
drover_producer_set_spec (drover_producer_t *self, const void *map, size_t size)
{
    return producer_set_spec (self->producer, map, size)? -1: 0;
}

void
drover_producer_set_max_attempts (drover_producer_t *self, uint64_t attempts)
{
    producer_set_max_attempts (self->producer, attempts);
}

void
drover_producer_set_timeout_ms (drover_producer_t *self, uint64_t timeout_ms)
{
    producer_set_timeout_ms (self->producer, timeout_ms);
}

int
drover_producer_set_window (drover_producer_t *self, size_t window)
{
    if (window < 1 || window > DROVER_WINDOW_MAX)
        return -1;
    producer_set_window (self->producer, window);
    return 0;
}

int
drover_producer_set_reply_timeout (drover_producer_t *self, int timeout_ms)
{
    if (timeout_ms <= 0)
        return -1;
    producer_set_reply_timeout (self->producer, timeout_ms);
    return 0;
}

int
drover_producer_set_batch (drover_producer_t *self, size_t tuples, size_t bytes)
{
    if (tuples < 1 || tuples > DROVER_BATCH_TUPLES_MAX || bytes == 0)
        return -1;
    self->max_tuples = tuples;
    self->max_bytes = bytes;
    return 0;
}

int
drover_producer_send (drover_producer_t *self)
{
    if (self->batch_tuples == 0)
        return producer_failed (self->producer)? -1: 0;
    //  One copy into the frame the producer keeps for resends; the buffer
    //  stays for the next batch.
    zframe_t *packed = zframe_new (self->batch.data, self->batch.size);
    size_t count = self->batch_tuples;
    msgpack_sbuffer_clear (&self->batch);
    self->batch_tuples = 0;
    if (!packed) {
        producer_fail (self->producer, -ENOMEM, "out of memory");
        return -1;
    }
    //  A batch holds dependencies or tuples' own settings, never both
    //  (PROTOCOL.md 13.3): the add functions see to it.
    if (per_tuple_runs (self->per_tuple)) {
        if (per_tuple_take (self->per_tuple, &self->per_tuple_map)) {
            zframe_destroy (&packed);
            producer_fail (self->producer, -ENOMEM, "out of memory");
            return -1;
        }
        return producer_submit_maps (self->producer, &packed, count, NULL, 0,
                                     self->per_tuple_map.data, self->per_tuple_map.size)? -1: 0;
    }
    if (self->deps_entries == 0)
        return producer_submit (self->producer, &packed, count)? -1: 0;
    msgpack_sbuffer_clear (&self->deps_map);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &self->deps_map, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, self->deps_entries);
    msgpack_sbuffer_write (&self->deps_map, self->deps.data, self->deps.size);
    msgpack_sbuffer_clear (&self->deps);
    self->deps_entries = 0;
    return producer_submit_maps (self->producer, &packed, count, self->deps_map.data,
                                 self->deps_map.size, NULL, 0)? -1: 0;
}

int
drover_producer_add_with (drover_producer_t *self, const void *tuple, size_t size,
                          int priority, uint64_t not_before_ms)
{
    if (producer_failed (self->producer))
        return -1;
    if (priority < -1 || priority > 9) {
        producer_fail (self->producer, -DRV_E_BAD_TYPE, "tuple %" PRIu64 ": priority %d is "
                       "not 0 to 9 (or -1, the job's)", self->added + 1, priority);
        return -1;
    }
    if (priority < 0 && not_before_ms == 0)
        return drover_producer_add (self, tuple, size);
    //  Not in a batch with dependencies: that one goes first.
    if (self->deps_entries && drover_producer_send (self))
        return -1;
    //  Its position in the batch: the tuple goes in next (a tuple refused
    //  fails the producer for good, so its run is never sent).
    if (per_tuple_add (self->per_tuple, self->batch_tuples + 1, priority, not_before_ms)) {
        producer_fail (self->producer, -ENOMEM, "out of memory");
        return -1;
    }
    int rc = drover_producer_add (self, tuple, size);
    if (rc == 0 && per_tuple_runs (self->per_tuple) >= PER_TUPLE_RUNS_MAX)
        rc = drover_producer_send (self);
    return rc;
}

int
drover_producer_add_after (drover_producer_t *self, const void *tuple, size_t size,
                           const void *after, size_t after_size)
{
    if (!after || after_size == 0)
        return drover_producer_add (self, tuple, size);
    if (producer_failed (self->producer))
        return -1;
    const uint8_t first = *(const uint8_t *) after;
    bool array = (first & 0xf0) == 0x90 || first == 0xdc || first == 0xdd;
    if (!array || validate_msgpack (after, after_size) != VALIDATE_OK) {
        producer_fail (self->producer, -DRV_E_BAD_TYPE, "tuple %" PRIu64 ": its dependencies "
                       "are not one msgpack array", self->added + 1);
        return -1;
    }
    //  Not in a batch with tuples' own settings: that one goes first.
    if (per_tuple_runs (self->per_tuple) && drover_producer_send (self))
        return -1;
    //  Its position in the batch: the tuple goes in next.
    size_t position = self->batch_tuples + 1;
    msgpack_packer pk;
    msgpack_packer_init (&pk, &self->deps, msgpack_sbuffer_write);
    if (msgpack_pack_uint64 (&pk, position)
    ||  msgpack_sbuffer_write (&self->deps, after, after_size)) {
        producer_fail (self->producer, -ENOMEM, "out of memory");
        return -1;
    }
    self->deps_entries++;
    int rc = drover_producer_add (self, tuple, size);
    if (rc == 0 && self->deps_entries && self->deps.size >= DEPS_BYTES_MAX)
        rc = drover_producer_send (self);
    return rc;
}

int
drover_producer_add (drover_producer_t *self, const void *tuple, size_t size)
{
    if (producer_failed (self->producer))
        return -1;
    //  Refused here, so the error names this tuple, not a batch later.
    if (validate_msgpack (tuple, size) != VALIDATE_OK) {
        producer_fail (self->producer, -DRV_E_BAD_TUPLE, "tuple %" PRIu64 " is not exactly "
                       "one well-formed msgpack value", self->added + 1);
        return -1;
    }
    if (msgpack_sbuffer_write (&self->batch, tuple, size) != 0) {
        producer_fail (self->producer, -ENOMEM, "out of memory");
        return -1;
    }
    self->batch_tuples++;
    self->added++;
    if (self->batch_tuples >= self->max_tuples || self->batch.size >= self->max_bytes)
        return drover_producer_send (self);
    return 0;
}

int
drover_producer_add_json (drover_producer_t *self, const char *json)
{
    if (producer_failed (self->producer))
        return -1;
    char err[256];
    msgpack_sbuffer_clear (&self->json);
    if (json_to_msgpack (json, strlen (json), &self->json, err, sizeof err)) {
        producer_fail (self->producer, -DRV_E_BAD_TUPLE, "tuple %" PRIu64 " is not JSON: %s",
                       self->added + 1, err);
        return -1;
    }
    return drover_producer_add (self, self->json.data, self->json.size);
}

int
drover_producer_flush (drover_producer_t *self)
{
    if (drover_producer_send (self))
        return -1;
    return producer_flush (self->producer)? -1: 0;
}

int
drover_producer_close (drover_producer_t *self)
{
    if (drover_producer_send (self))
        return -1;
    return producer_close (self->producer)? -1: 0;
}

uint64_t
drover_producer_accepted (const drover_producer_t *self, uint64_t *first_p, uint64_t *last_p)
{
    return producer_accepted (self->producer, first_p, last_p);
}

int
drover_producer_status (drover_producer_t *self, const char *job, drover_status_t *status)
{
    if (!job || !status || drover_producer_send (self))
        return -1;
    return producer_status (self->producer, job, status)? -1: 0;
}

int
drover_producer_refused (const drover_producer_t *self)
{
    return producer_refused (self->producer);
}

const char *
drover_producer_error (const drover_producer_t *self)
{
    return producer_error (self->producer);
}

const char *
drover_version (void)
{
    return DROVER_VERSION;
}
