//  submit_build.c -- see submit_build.h.  Pure: no socket, no state; the
//  producer (producer.c) names the batch and sends what comes out.
#include "producer/submit_build.h"

#include "proto/msg.h"
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

//  The tuples of *packed_p (taken) into msg: the frame is kept, not
//  copied, and one walk checks that it is exactly count msgpack values
//  (version 2 finds them by walking, so one that is not would shift the
//  others).  0, or the error with its reason in err.
static int
s_set_tuples (msg_t *msg, zframe_t **packed_p, size_t count, uint64_t batch,
              char *err, size_t errlen)
{
    if (!*packed_p && count == 0)
        return 0;
    int rc = msg_set_tuples (msg, packed_p, count);
    if (rc == -DRV_E_INTERNAL) {
        snprintf (err, errlen, "out of memory");
        return -ENOMEM;
    }
    if (rc)
        snprintf (err, errlen, "the tuples of batch %" PRIu64 " are not %zu well-formed "
                  "msgpack values, each exactly one (%s)", batch, count, msg_error_name (-rc));
    return rc == -DRV_E_BAD_FRAMES? -DRV_E_BAD_TUPLE: rc;
}

int
submit_build (const job_fields_t *fields, const submit_batch_t *batch,
              zframe_t **packed_p, size_t count, zmsg_t **submit_p,
              char *err, size_t errlen)
{
    *submit_p = NULL;
    if (count > MSG_MAX_TUPLES) {
        zframe_destroy (packed_p);
        snprintf (err, errlen, "a batch of %zu tuples is over the limit of %d", count,
                  MSG_MAX_TUPLES);
        return -DRV_E_TOO_LARGE;
    }
    msg_t *msg = s_new_submit (fields, batch);
    int rc = !msg || (batch->deps && msg_set_raw (msg, MSG_F_DEPS, batch->deps,
                                                  batch->deps_size))
                  || (batch->per_tuple && msg_set_raw (msg, MSG_F_PER_TUPLE, batch->per_tuple,
                                                       batch->per_tuple_size))? -ENOMEM: 0;
    if (rc)
        snprintf (err, errlen, "out of memory");
    else
        rc = s_set_tuples (msg, packed_p, count, batch->number, err, errlen);
    zframe_destroy (packed_p);
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
