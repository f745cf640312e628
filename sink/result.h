//  result.h -- one RESULT batch payload, checked against the header's
//  tuples (PROTOCOL.md 4.3, 9.1) and then read record by record: a msgpack
//  array with one record per tuple, a map in version 1, a positional array
//  in version 2.  Nothing is unpacked into objects: records point into the
//  bytes they were read from, valid while those bytes are, and are kept
//  from the check in an array that grows to the largest batch.
#ifndef DROVER_RESULT_H
#define DROVER_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/msg.h"

//  A record's status (PROTOCOL.md 9.1): a tuple with status 2 or more
//  never ran.
typedef enum {
    RESULT_OK = 0,
    RESULT_FAILED = 1,              //  a dead letter
    RESULT_EXCLUDED = 2,
    RESULT_CANCELLED = 3,
    RESULT_ABORTED = 4,
    RESULT_SKIPPED = 5,
    RESULT_STATUSES                 //  how many there are
} result_status_t;

//  The bytes of one msgpack value in the batch; size 0: absent (nil).
typedef struct {
    const uint8_t *data;
    size_t         size;
} result_value_t;

//  One result record.
typedef struct {
    uint64_t tuple;
    uint64_t attempt;
    uint8_t  status;                //  result_status_t
    uint64_t started_us;
    uint64_t duration_us;
    result_value_t input;           //  any
    result_value_t output;          //  any
    result_value_t error;           //  a msgpack str
    bool     partial;               //  failed, output is what came before
    //  Non-NULL: the sink cannot store the record as sent (a value nested
    //  too deep); it is a failed record with this as its error, and no
    //  input, output or partial.
    const char *problem;
} result_record_t;

typedef struct result result_t;

result_t *result_new (void);
void      result_destroy (result_t **self_p);

//  Check a batch of size bytes in version, one record per tuple that
//  runs[0 .. count) name, in order (data and runs must stay as they are
//  while the records are read): in version 1 a record's tuple and
//  attempt must match its tuple's, in version 2 they are its tuple's.
//  Counts are checked against the bytes before anything is walked.
//  Returns 0 (then read the records with result_next), or -DRV_E_BAD_HEADER
//  (not one msgpack array of records of the version's shape, or not one per
//  tuple, or not matching them), -DRV_E_MISSING_FIELD, -DRV_E_BAD_TYPE (a
//  field of the wrong type, or an unknown status), -DRV_E_TOO_LARGE,
//  -DRV_E_INTERNAL (out of memory for the records).  On error,
//  result_reason says what was wrong and where.
int       result_decode (result_t *self, const void *data, size_t size, int version,
                         const msg_run_t *runs, size_t count);
//  Records of the batch decoded last (0 after an error).
size_t    result_count (const result_t *self);
//  The next record into *record: true, or false past the last.  Starts
//  again at the first after result_decode or result_rewind.
bool      result_next (result_t *self, result_record_t *record);
void      result_rewind (result_t *self);
const char *result_reason (const result_t *self);
//  "ok", "failed", "excluded", "cancelled", "aborted", "skipped"; NULL for
//  any other status.
const char *result_status_name (int status);
//  Microseconds since the epoch by this host's clock: the now of
//  result_latency, read once for a batch (a clock read per record was a
//  measurable share of the sink's CPU).
uint64_t  result_now_us (void);
//  Seconds from record's handler start (started_us, the agent's clock) to
//  now_us (result_now_us); 0 if that is in the future, or if the tuple
//  never ran.
double    result_latency (const result_record_t *record, uint64_t now_us);

#endif
