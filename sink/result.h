//  result.h -- one RESULT batch payload, decoded and checked against the
//  header's tuples (PROTOCOL.md 4.3): a msgpack array with one record per
//  tuple, a map in version 1, a positional array in version 2 (9.1).
//  Records point into the decoded batch and into the bytes it was decoded
//  from: they are valid while those bytes are, until the next decode.
#ifndef DROVER_RESULT_H
#define DROVER_RESULT_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/msg.h"

//  One result record.  Optional values are NULL when absent.
typedef struct {
    uint64_t tuple;
    uint64_t attempt;
    bool     ok;                        //  status "ok"; false: "failed"
    uint64_t started_us;
    uint64_t duration_us;
    const msgpack_object *input;        //  any
    const msgpack_object *output;       //  any
    const msgpack_object *error;        //  str
    bool     partial;                   //  failed, output is what came before
} result_record_t;

typedef struct result result_t;

result_t *result_new (void);
void      result_destroy (result_t **self_p);

//  Decode a batch of size bytes in version, one record per tuple that
//  runs[0 .. count) name, in order: in version 1 a record's tuple and
//  attempt must match its tuple's, in version 2 they are its tuple's.
//  Returns 0, or -DRV_E_BAD_HEADER (not one msgpack array of records of the
//  version's shape, or not one per tuple, or not matching them),
//  -DRV_E_MISSING_FIELD, -DRV_E_BAD_TYPE (a field of the wrong type, or a
//  status other than ok and failed), -DRV_E_TOO_LARGE, or -DRV_E_INTERNAL
//  (out of memory).  On error, result_reason says what was wrong and where.
int       result_decode (result_t *self, const void *data, size_t size, int version,
                         const msg_run_t *runs, size_t count);
size_t    result_count (const result_t *self);
const result_record_t *result_record (const result_t *self, size_t index);
const char *result_reason (const result_t *self);
//  Seconds from record's handler start (started_us, the agent's clock) to
//  now by this host's clock; 0 if that is in the future.
double    result_latency (const result_record_t *record);

#endif
