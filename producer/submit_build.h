//  submit_build.h -- one batch's SUBMIT as the producer sends it, built and
//  encoded: the job's fields (job_fields.h), the batch id, the protocol
//  version, close, the batch's `deps` (PROTOCOL.md 14) and `per_tuple`
//  (13.3) maps and its tuples,
//  which come packed in one frame (version 2's payload) and go out in it
//  without a copy, checked by one walk.  The producer keeps what this
//  returns in its window, for resends.
#ifndef DROVER_SUBMIT_BUILD_H
#define DROVER_SUBMIT_BUILD_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "producer/job_fields.h"

//  What a SUBMIT says of its batch besides the job and the tuples.
typedef struct {
    uint64_t number;                //  the batch number, for error messages
    const char *id;                 //  the batch id, "RUN-N" (window.h)
    int version;                    //  the protocol version to encode in
    bool close;                     //  close the job with this batch
    const void *deps;               //  the `deps` map (msgpack), or NULL
    size_t deps_size;
    const void *per_tuple;          //  the `per_tuple` map (msgpack), or NULL
    size_t per_tuple_size;
} submit_batch_t;

//  The encoded SUBMIT of batch with the count tuples packed in *packed_p
//  (msgpack values back to back; taken, NULL after; NULL for none) into
//  *submit_p.  0, or -DRV_E_TOO_LARGE, -DRV_E_BAD_TUPLE (a value not
//  well-formed, or not count of them) or -ENOMEM with the reason in err.
int submit_build (const job_fields_t *fields, const submit_batch_t *batch,
                  zframe_t **packed_p, size_t count, zmsg_t **submit_p,
                  char *err, size_t errlen);

#endif
