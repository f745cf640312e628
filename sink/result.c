//  result.c -- see result.h.  The batch is scanned once before unpacking:
//  msgpack-c allocates a container's element array from its declared count,
//  so a 6-byte frame declaring 2^32 elements would ask for 100 GB.  The scan
//  rejects any count that the bytes left could not possibly hold.
#include "sink/result.h"
#include "proto/validate.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct result {
    msgpack_unpacked unpacked;      //  the batch; records point into it
    result_record_t *records;
    size_t           count;
    size_t           capacity;
    char             reason[160];
};

result_t *
result_new (void)
{
    result_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    msgpack_unpacked_init (&self->unpacked);
    return self;
}

void
result_destroy (result_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    result_t *self = *self_p;
    msgpack_unpacked_destroy (&self->unpacked);
    free (self->records);
    free (self);
    *self_p = NULL;
}

static int
s_fail (result_t *self, int code, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

static int
s_fail (result_t *self, int code, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (self->reason, sizeof self->reason, fmt, ap);
    va_end (ap);
    self->count = 0;
    return -code;
}

static bool
s_key_is (const msgpack_object *key, const char *name)
{
    size_t len = strlen (name);
    return key->via.str.size == len && !memcmp (key->via.str.ptr, name, len);
}

//  Check one version 1 record, a map, and fill *record.  index is for the
//  reason text.
static int
s_record_map (result_t *self, size_t index, const msgpack_object *map,
              const msg_ref_t *ref, result_record_t *record)
{
    if (map->type != MSGPACK_OBJECT_MAP)
        return s_fail (self, DRV_E_BAD_HEADER, "record %zu is not a map", index);
    static const char *uints[] = { "tuple", "attempt", "started_us", "duration_us" };
    uint64_t *targets[] = { &record->tuple, &record->attempt,
                            &record->started_us, &record->duration_us };
    unsigned found = 0;                 //  bit i: uints[i]; bit 4: status
    const msgpack_object *status = NULL;
    memset (record, 0, sizeof *record);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *key = &map->via.map.ptr[i].key;
        const msgpack_object *val = &map->via.map.ptr[i].val;
        if (key->type != MSGPACK_OBJECT_STR)
            return s_fail (self, DRV_E_BAD_HEADER,
                           "record %zu has a key that is not a string", index);
        for (int f = 0; f < 4; f++)
            if (s_key_is (key, uints[f])) {
                if (val->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                    return s_fail (self, DRV_E_BAD_TYPE,
                                   "record %zu: '%s' is not a uint", index, uints[f]);
                *targets[f] = val->via.u64;
                found |= 1u << f;
            }
        if (s_key_is (key, "status")) {
            if (val->type != MSGPACK_OBJECT_STR)
                return s_fail (self, DRV_E_BAD_TYPE,
                               "record %zu: 'status' is not a str", index);
            status = val;
            found |= 1u << 4;
        }
        else
        if (s_key_is (key, "error")) {
            if (val->type != MSGPACK_OBJECT_STR)
                return s_fail (self, DRV_E_BAD_TYPE,
                               "record %zu: 'error' is not a str", index);
            record->error = val;
        }
        else
        if (s_key_is (key, "partial")) {
            if (val->type != MSGPACK_OBJECT_BOOLEAN)
                return s_fail (self, DRV_E_BAD_TYPE,
                               "record %zu: 'partial' is not a bool", index);
            record->partial = val->via.boolean;
        }
        else
        if (s_key_is (key, "input"))
            record->input = val;
        else
        if (s_key_is (key, "output"))
            record->output = val;
    }
    for (int f = 0; f < 4; f++)
        if (!(found & (1u << f)))
            return s_fail (self, DRV_E_MISSING_FIELD,
                           "record %zu has no '%s'", index, uints[f]);
    if (!status)
        return s_fail (self, DRV_E_MISSING_FIELD, "record %zu has no 'status'", index);
    if (s_key_is (status, "ok"))
        record->ok = true;
    else
    if (!s_key_is (status, "failed"))
        return s_fail (self, DRV_E_BAD_TYPE,
                       "record %zu: status is neither \"ok\" nor \"failed\"", index);
    if (record->tuple != ref->id || record->attempt != ref->attempt)
        return s_fail (self, DRV_E_BAD_HEADER,
                       "record %zu is tuple %" PRIu64 " attempt %" PRIu64
                       ", but tuples[%zu] is [%" PRIu64 ", %" PRIu32 "]",
                       index, record->tuple, record->attempt, index,
                       ref->id, ref->attempt);
    return 0;
}

//  Check one version 2 record, [status, started_us, duration_us, input,
//  output, error, partial], and fill *record; ref is its tuple's.  nil
//  stands for an absent value.
static int
s_record_array (result_t *self, size_t index, const msgpack_object *array,
                const msg_ref_t *ref, result_record_t *record)
{
    if (array->type != MSGPACK_OBJECT_ARRAY || array->via.array.size != 7)
        return s_fail (self, DRV_E_BAD_HEADER, "record %zu is not an array of 7", index);
    const msgpack_object *item = array->via.array.ptr;
    static const char *names[] = { "status", "started_us", "duration_us" };
    for (int i = 0; i < 3; i++)
        if (item[i].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return s_fail (self, DRV_E_BAD_TYPE, "record %zu: %s is not a uint", index,
                           names[i]);
    if (item[0].via.u64 > 1)
        return s_fail (self, DRV_E_BAD_TYPE, "record %zu: status is neither 0 (ok) nor "
                       "1 (failed)", index);
    if (item[5].type != MSGPACK_OBJECT_STR && item[5].type != MSGPACK_OBJECT_NIL)
        return s_fail (self, DRV_E_BAD_TYPE, "record %zu: error is neither a str nor nil",
                       index);
    if (item[6].type != MSGPACK_OBJECT_BOOLEAN)
        return s_fail (self, DRV_E_BAD_TYPE, "record %zu: partial is not a bool", index);
    *record = (result_record_t) {
        .tuple = ref->id, .attempt = ref->attempt, .ok = item[0].via.u64 == 0,
        .started_us = item[1].via.u64, .duration_us = item[2].via.u64,
        .input = item[3].type == MSGPACK_OBJECT_NIL? NULL: &item[3],
        .output = item[4].type == MSGPACK_OBJECT_NIL? NULL: &item[4],
        .error = item[5].type == MSGPACK_OBJECT_NIL? NULL: &item[5],
        .partial = item[6].via.boolean };
    return 0;
}

//  The batch's bytes into self->unpacked: one msgpack array of total
//  records.  0 or the error.
static int
s_unpack (result_t *self, const void *data, size_t size, uint64_t total)
{
    int valid = data? validate_msgpack (data, size): VALIDATE_MALFORMED;
    if (valid == VALIDATE_TOO_DEEP)
        return s_fail (self, DRV_E_BAD_HEADER, "batch: %s", validate_reason (valid));
    if (valid != VALIDATE_OK)
        return s_fail (self, DRV_E_BAD_HEADER, "batch is not one msgpack value");
    size_t offset = 0;
    msgpack_unpack_return rc = msgpack_unpack_next (&self->unpacked, (const char *) data,
                                                    size, &offset);
    if (rc == MSGPACK_UNPACK_NOMEM_ERROR)
        return s_fail (self, DRV_E_INTERNAL, "out of memory decoding batch");
    if (rc != MSGPACK_UNPACK_SUCCESS || offset != size)
        return s_fail (self, DRV_E_BAD_HEADER, "batch is not one msgpack value");
    const msgpack_object *batch = &self->unpacked.data;
    if (batch->type != MSGPACK_OBJECT_ARRAY)
        return s_fail (self, DRV_E_BAD_HEADER, "batch is not a msgpack array");
    if (batch->via.array.size != total)
        return s_fail (self, DRV_E_BAD_HEADER, "batch has %" PRIu32 " records for %" PRIu64
                       " tuples", batch->via.array.size, total);
    return 0;
}

int
result_decode (result_t *self, const void *data, size_t size, int version,
               const msg_run_t *runs, size_t count)
{
    assert (self);
    assert (runs || count == 0);
    self->count = 0;
    self->reason[0] = 0;
    uint64_t total = runs_total (runs, count);
    if (total > MSG_MAX_RUN_TUPLES)
        return s_fail (self, DRV_E_TOO_LARGE, "%" PRIu64 " records, limit %d", total,
                       MSG_MAX_RUN_TUPLES);
    int rc = s_unpack (self, data, size, total);
    if (rc)
        return rc;
    if (total > self->capacity) {
        result_record_t *records = realloc (self->records, total * sizeof *records);
        if (!records)
            return s_fail (self, DRV_E_INTERNAL, "out of memory for %" PRIu64 " records",
                           total);
        self->records = records;
        self->capacity = (size_t) total;
    }
    const msgpack_object *record = self->unpacked.data.via.array.ptr;
    size_t index = 0;
    for (size_t i = 0; i < count; i++)
        for (uint32_t k = 0; k < runs[i].count; k++, index++) {
            msg_ref_t ref = { runs[i].first + k, runs[i].attempt };
            rc = version == 1
               ? s_record_map (self, index, &record[index], &ref, &self->records[index])
               : s_record_array (self, index, &record[index], &ref, &self->records[index]);
            if (rc)
                return rc;
        }
    self->count = (size_t) total;
    return 0;
}

size_t
result_count (const result_t *self)
{
    assert (self);
    return self->count;
}

const result_record_t *
result_record (const result_t *self, size_t index)
{
    assert (self);
    return index < self->count? &self->records[index]: NULL;
}

const char *
result_reason (const result_t *self)
{
    assert (self);
    return self->reason;
}

double
result_latency (const result_record_t *record)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    int64_t us = (int64_t) now.tv_sec * 1000000 + now.tv_nsec / 1000
               - (int64_t) record->started_us;
    return us > 0? (double) us / 1e6: 0;
}
