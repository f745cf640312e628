//  submit_build.c -- see submit_build.h.  Pure: no socket, no state; the
//  producer (producer.c) names the batch and sends what comes out.
#include "producer/submit_build.h"

#include "proto/msg.h"
#include "proto/validate.h"
#include "proto/wire.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

static msg_t *
s_new_submit (const job_fields_t *fields, const submit_batch_t *batch)
{
    msg_t *msg = msg_new (MSG_SUBMIT);
    if (!msg)
        return NULL;
    job_fields_apply (fields, msg);
    msg_set_str (msg, MSG_F_BATCH, batch->id);
    msg_set_version (msg, batch->version);
    if (batch->close)
        msg_set_bool (msg, MSG_F_CLOSE, true);
    return msg;
}

//  The tuples of *tuples_p (destroyed) into msg, in one buffer.  Each must
//  be one msgpack value: version 2 finds them by walking the packed frame,
//  so one that is not would shift the others.  0, or the error.
static int
s_add_tuples (msg_t *msg, zmsg_t **tuples_p, uint64_t batch, char *err, size_t errlen)
{
    size_t count = *tuples_p? zmsg_size (*tuples_p): 0, bytes = 0, index = 0;
    for (zframe_t *f = *tuples_p? zmsg_first (*tuples_p): NULL; f; f = zmsg_next (*tuples_p))
        bytes += zframe_size (f);
    int rc = count && msg_tuples_reserve (msg, count, bytes)? -ENOMEM: 0;
    for (zframe_t *f = *tuples_p? zmsg_first (*tuples_p): NULL; f && rc == 0;
         f = zmsg_next (*tuples_p), index++)
        if (validate_msgpack (zframe_data (f), zframe_size (f)) != VALIDATE_OK) {
            snprintf (err, errlen, "tuple %zu of batch %" PRIu64 " is not exactly one "
                      "well-formed msgpack value", index + 1, batch);
            rc = -DRV_E_BAD_TUPLE;
        }
        else
            msg_add_tuple (msg, zframe_data (f), zframe_size (f));  //  reserved
    zmsg_destroy (tuples_p);
    if (rc == -ENOMEM)
        snprintf (err, errlen, "out of memory");
    return rc;
}

int
submit_build (const job_fields_t *fields, const submit_batch_t *batch, zmsg_t **tuples_p,
              zmsg_t **submit_p, char *err, size_t errlen)
{
    *submit_p = NULL;
    size_t count = *tuples_p? zmsg_size (*tuples_p): 0;
    if (count > MSG_MAX_TUPLES) {
        zmsg_destroy (tuples_p);
        snprintf (err, errlen, "a batch of %zu tuples is over the limit of %d", count,
                  MSG_MAX_TUPLES);
        return -DRV_E_TOO_LARGE;
    }
    msg_t *msg = s_new_submit (fields, batch);
    int rc = !msg || (batch->deps && msg_set_raw (msg, MSG_F_DEPS, batch->deps,
                                                  batch->deps_size))? -ENOMEM: 0;
    if (rc)
        snprintf (err, errlen, "out of memory");
    else
        rc = s_add_tuples (msg, tuples_p, batch->number, err, errlen);
    zmsg_destroy (tuples_p);
    if (rc) {
        msg_destroy (&msg);
        return rc;
    }
    *submit_p = wire_encode (&msg);
    if (*submit_p)
        return 0;
    snprintf (err, errlen, "out of memory");
    return -ENOMEM;
}
