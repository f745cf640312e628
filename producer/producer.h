//  producer.h -- a client of the broker frontend (PROTOCOL.md 4.1) for
//  `drover submit` and `drover status`: submits batches of tuples to a job
//  over one DEALER, several SUBMITs in flight at once, and asks for counters.
//  Every call gives up when the broker has not answered for the reply
//  timeout, so the CLI never hangs on a broker that is not there.
#ifndef DROVER_PRODUCER_H
#define DROVER_PRODUCER_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/keys.h"
#include <drover/drover.h>

#define PRODUCER_WINDOW          8          //  SUBMITs in flight, by default
#define PRODUCER_WINDOW_MAX      64
#define PRODUCER_REPLY_TIMEOUT   10000      //  ms without an answer, by default

typedef struct producer producer_t;

//  A job's counters, as the broker's JOB reply gives them: libdrover's
//  public struct (drover/drover.h), filled here.
typedef drover_status_t producer_status_t;

//  Connect a DEALER to the broker frontend.  NULL if the endpoint is
//  malformed (nothing is known about the broker until the first answer).
producer_t *producer_new (const char *endpoint);
//  The same as a CURVE client (PROTOCOL.md 2.1) with our keypair (secret
//  key needed) of the broker whose public key is broker_key
//  (KEYS_KEY_SIZE bytes).  A wrong broker key or a key not on the broker's
//  allow-list shows as no answer (-ETIMEDOUT): CURVE refuses silently.
producer_t *producer_new_curve (const char *endpoint, keys_t *keys,
                                const uint8_t *broker_key);
void        producer_destroy (producer_t **self_p);

//  The job's fields, sent on every SUBMIT (the broker takes handler, sink,
//  options, max_attempts and timeout_ms from the first one and checks
//  handler and sink on the others).  NULL or 0 leaves a field out: a SUBMIT
//  without handler and sink only adds to a job that exists.  The job name
//  is required; setters copy their arguments.
void producer_set_job (producer_t *self, const char *job);
void producer_set_handler (producer_t *self, const char *handler);
void producer_set_sink (producer_t *self, const char *sink);
//  The sink's public key (Z85) agents seal results for and reach it with.
void producer_set_sink_key (producer_t *self, const char *sink_key);
//  Options as JSON text, which must be an object.  Returns 0, or -1 with
//  the reason in err.
int  producer_set_options (producer_t *self, const char *json, char *err, size_t errlen);
//  A spec instead of tuples (PROTOCOL.md 10): one msgpack map, sent with
//  every SUBMIT; submit no tuples then, just producer_close.  0, or -1 if
//  it is not one map.
int  producer_set_spec (producer_t *self, const void *map, size_t size);
void producer_set_max_attempts (producer_t *self, uint64_t max_attempts);
void producer_set_timeout_ms (producer_t *self, uint64_t timeout_ms);
//  SUBMITs in flight at once, 1..PRODUCER_WINDOW_MAX.
void producer_set_window (producer_t *self, size_t window);
//  Give up when the broker has not answered for this long (ms, > 0).
void producer_set_reply_timeout (producer_t *self, int timeout_ms);

//  Send one batch of count tuples packed in *packed_p: their msgpack
//  values back to back, as protocol version 2 carries them (built in one
//  buffer, sent without a copy; checked to be exactly count values).
//  Takes ownership and sets *packed_p NULL.  Returns once the batch is sent
//  and fewer than window batches wait for an answer; a batch the broker
//  answers QUEUE_FULL is sent again after its retry_ms.  Returns 0, or a
//  negative code with the reason in producer_error(): -DRV_E_* when the
//  batch is refused (here or by the broker), -ETIMEDOUT when the broker
//  did not answer, -EINTR on SIGINT/SIGTERM, another -errno if sending
//  failed.  DRV_E_* and errno numbers overlap: producer_refused() tells a
//  broker's refusal apart.  After an error the producer sends nothing more
//  and returns the same code.
int producer_submit (producer_t *self, zframe_t **packed_p, size_t count);
//  The same with the batch's header maps (msgpack, copied), each NULL for
//  none: `deps` (PROTOCOL.md 14: position -> dependencies) and
//  `per_tuple` (13.3: runs of priority and not_before).
int producer_submit_maps (producer_t *self, zframe_t **packed_p, size_t count,
                          const void *deps, size_t deps_size,
                          const void *per_tuple, size_t per_tuple_size);
//  Wait until every batch sent is accepted.  Returns as producer_submit.
int producer_flush (producer_t *self);
//  Flush, then close the job (no more tuples).  Returns as producer_submit.
int producer_close (producer_t *self);

//  Tuples the broker accepted so far; the lowest and highest tuple ids it
//  gave them in *first_p and *last_p (0 if none).  Either may be NULL.
uint64_t producer_accepted (const producer_t *self, uint64_t *first_p, uint64_t *last_p);

//  Ask for a job's counters (after a flush).  Returns 0, or a negative code
//  as producer_submit (-DRV_E_UNKNOWN_JOB for no such job).
int producer_status (producer_t *self, const char *job, producer_status_t *status);

//  The ERROR code (DRV_E_*) with which the broker refused a request, or 0
//  if nothing failed or the failure was not a refusal.
int producer_refused (const producer_t *self);

//  Record a failure found outside (a tuple refused before it was sent):
//  the first failure is final, as the producer's own.  Returns the first
//  failure's code.
int producer_fail (producer_t *self, int code, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
//  The first failure's code, or 0 while nothing failed.
int producer_failed (const producer_t *self);

//  What went wrong last, for a person: "no answer from broker at
//  tcp://127.0.0.1:5555 after 10 s", "broker refused batch 3: CONFLICT:
//  ...".  Empty if nothing did.
const char *producer_error (const producer_t *self);

#endif
