//  producer.c -- see producer.h.  The window (window.h) holds the SUBMITs
//  that wait for an answer; each keeps its encoded message, so a batch
//  answered QUEUE_FULL goes out again unchanged (no copy of tuples).
//  Requests go in protocol version 2 (a batch's tuples packed in one
//  frame) until the broker answers BAD_VERSION naming only older versions:
//  then each SUBMIT it refused goes again in the version it named, and so
//  does everything after (PROTOCOL.md 6).  When the connection is up
//  again after a drop (watch.h: a broker restarted), every SUBMIT not
//  answered goes again, as SUBMIT is idempotent per batch id and tuples
//  (PROTOCOL.md 4.1).  connection.h is the DEALER under it; submit_build.h
//  builds each SUBMIT.
#include "producer/producer.h"
#include "producer/connection.h"
#include "producer/job_fields.h"
#include "producer/submit_build.h"
#include "producer/window.h"

#include <czmq.h>
#include "common/log.h"
#include "proto/msg.h"
#include "proto/wire.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define RETRY_MS_DEFAULT   100      //  QUEUE_FULL without retry_ms
#define RETRY_MS_MAX       10000
#define EVENT_HANDLED      1        //  s_recv: a connection event, no message

typedef window_slot_t slot_t;
_Static_assert (PRODUCER_WINDOW_MAX <= WINDOW_MAX, "the window holds PRODUCER_WINDOW_MAX");

struct producer {
    char *endpoint;
    connection_t *connection;
    job_fields_t *fields;           //  what every SUBMIT says of the job
    bool curve;                     //  the DEALER is a CURVE client
    bool spec;                      //  a spec job: ACCEPTED counts the spec's tuples
    int reply_timeout;
    int version;                    //  what we speak to the broker: 2, or 1 after it said so
    window_t *window;               //  the SUBMITs in flight
    uint64_t next_batch;
    int64_t waiting_since;          //  last answer, or first send after none
    uint64_t reconnects;            //  connections up again after one dropped
    uint64_t accepted;
    uint64_t first_id;
    uint64_t last_id;
    uint64_t queue_full;            //  QUEUE_FULL answers so far
    int failed;                     //  sticky: the first error's code
    int refused;                    //  DRV_E_* of the broker's ERROR, if that
    char error[512];
};

producer_t *
producer_new (const char *endpoint)
{
    return producer_new_curve (endpoint, NULL, NULL);
}

producer_t *
producer_new_curve (const char *endpoint, keys_t *keys, const uint8_t *broker_key)
{
    assert (endpoint);
    assert (!keys == !broker_key);
    //  The broker takes a SUBMIT with a batch id and tuples it has seen for
    //  a retry: ids must not repeat across runs that add the same tuples.
    if (sodium_init () < 0)
        return NULL;
    unsigned char random[8];
    char run[17];                   //  random hex: batch ids "RUN-N" unique per run
    randombytes_buf (random, sizeof random);
    sodium_bin2hex (run, sizeof run, random, sizeof random);
    producer_t *self = calloc (1, sizeof (producer_t));
    if (!self)
        return NULL;
    self->endpoint = strdup (endpoint);
    self->fields = job_fields_new ();
    self->window = window_new (run);
    self->reply_timeout = PRODUCER_REPLY_TIMEOUT;
    self->next_batch = 1;
    self->version = MSG_VERSION;
    self->curve = keys != NULL;
    if (!self->endpoint || !self->fields || !self->window
    ||  !(self->connection = connection_new (endpoint, keys, broker_key, run,
                                             self->reply_timeout))) {
        producer_destroy (&self);
        return NULL;
    }
    window_set_size (self->window, PRODUCER_WINDOW);
    return self;
}

void
producer_destroy (producer_t **self_p)
{
    assert (self_p);
    producer_t *self = *self_p;
    if (!self)
        return;
    window_destroy (&self->window);
    connection_destroy (&self->connection);
    free (self->endpoint);
    job_fields_destroy (&self->fields);
    free (self);
    *self_p = NULL;
}

void
producer_set_job (producer_t *self, const char *job)
{
    job_fields_set_str (self->fields, MSG_F_JOB, job);
}

void
producer_set_handler (producer_t *self, const char *handler)
{
    job_fields_set_str (self->fields, MSG_F_HANDLER, handler);
}

void
producer_set_sink (producer_t *self, const char *sink)
{
    job_fields_set_str (self->fields, MSG_F_SINK, sink);
}

void
producer_set_sink_key (producer_t *self, const char *sink_key)
{
    job_fields_set_str (self->fields, MSG_F_SINK_KEY, sink_key);
}

int
producer_set_options (producer_t *self, const char *json, char *err, size_t errlen)
{
    return job_fields_set_options (self->fields, json, err, errlen);
}

int
producer_set_spec (producer_t *self, const void *map, size_t size)
{
    self->spec = true;
    return job_fields_set_map (self->fields, MSG_F_SPEC, map, size);
}

void
producer_set_max_attempts (producer_t *self, uint64_t max_attempts)
{
    job_fields_set_uint (self->fields, MSG_F_MAX_ATTEMPTS, max_attempts);
}

void
producer_set_timeout_ms (producer_t *self, uint64_t timeout_ms)
{
    job_fields_set_uint (self->fields, MSG_F_TIMEOUT_MS, timeout_ms);
}

void
producer_set_window (producer_t *self, size_t window)
{
    assert (window >= 1 && window <= PRODUCER_WINDOW_MAX);
    window_set_size (self->window, window);
}

void
producer_set_reply_timeout (producer_t *self, int timeout_ms)
{
    assert (timeout_ms > 0);
    self->reply_timeout = timeout_ms;
    connection_set_send_timeout (self->connection, timeout_ms);
}

uint64_t
producer_accepted (const producer_t *self, uint64_t *first_p, uint64_t *last_p)
{
    if (first_p)
        *first_p = self->first_id;
    if (last_p)
        *last_p = self->last_id;
    return self->accepted;
}

int
producer_refused (const producer_t *self)
{
    return self->refused;
}

const char *
producer_error (const producer_t *self)
{
    return self->error;
}

int
producer_failed (const producer_t *self)
{
    return self->failed;
}

//  The first error is kept; every later call returns it again.
int
producer_fail (producer_t *self, int code, const char *fmt, ...)
{
    if (self->failed)
        return self->failed;
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (self->error, sizeof self->error, fmt, ap);
    va_end (ap);
    self->failed = code;
    return code;
}

static int
s_fail_timeout (producer_t *self)
{
    if (connection_lost (self->connection))
        return producer_fail (self, -ETIMEDOUT, "broker at %s out of reach: connection "
                              "lost, and not back after %g s", self->endpoint,
                              self->reply_timeout / 1000.0);
    return producer_fail (self, -ETIMEDOUT, "no answer from broker at %s after %g s%s",
                   self->endpoint, self->reply_timeout / 1000.0,
                   self->curve? " (wrong --broker-key, or our key is not on the "
                                "broker's --allow-producers list?)": "");
}

static int
s_fail_interrupted (producer_t *self)
{
    return producer_fail (self, -EINTR, "interrupted");
}

//  Send a slot's SUBMIT, keeping the frames for a possible resend.  The
//  reply clock starts with the first request that has nothing before it.
static int
s_send_slot (producer_t *self, slot_t *slot)
{
    if (!window_awaiting (self->window, slot))
        self->waiting_since = zclock_mono ();
    window_sending (self->window, slot);
    int rc = connection_send_frames (self->connection, slot->submit);
    if (rc == 0)
        return 0;
    if (zsys_interrupted)
        return s_fail_interrupted (self);
    if (rc == -EAGAIN)
        return s_fail_timeout (self);
    return producer_fail (self, rc, "cannot send to broker at %s: %s",
                          self->endpoint, strerror (-rc));
}

//  BAD_VERSION for a slot's SUBMIT from a broker that speaks an older
//  version: from now on we speak that, and the slot goes again in it.
//  Every SUBMIT sent before gets its own BAD_VERSION, and is sent again
//  when that comes.  Returns 1 if handled so, 0 if not a case for it.
static int
s_on_bad_version (producer_t *self, slot_t *slot, const char *reason)
{
    int version = slot? wire_fallback_version (reason, slot->version): 0;
    if (!version)
        return 0;
    if (version < self->version) {
        log_info ("broker at %s speaks protocol version %d (%s): using it",
                  self->endpoint, version, reason);
        self->version = version;
    }
    if (wire_reencode (&slot->submit, version))
        return producer_fail (self, -ENOMEM, "out of memory");
    slot->version = version;
    int rc = s_send_slot (self, slot);
    return rc? rc: 1;
}

static int
s_on_accepted (producer_t *self, slot_t *slot, msg_t *msg)
{
    uint64_t first = msg_uint (msg, MSG_F_FIRST);
    uint64_t count = msg_uint (msg, MSG_F_COUNT);
    if (count != slot->count && !self->spec)
        return producer_fail (self, -DRV_E_INTERNAL, "broker accepted %" PRIu64
                       " tuples of batch %" PRIu64 ", which has %zu",
                       count, slot->batch, slot->count);
    if (count) {
        if (!self->first_id || first < self->first_id)
            self->first_id = first;
        if (first + count - 1 > self->last_id)
            self->last_id = first + count - 1;
        self->accepted += count;
    }
    log_debug ("batch %" PRIu64 ": %" PRIu64 " tuples accepted (ids %" PRIu64 "-%" PRIu64 ")",
               slot->batch, count, first, first + count - 1);
    window_remove (self->window, slot);
    return 0;
}

static int
s_on_error (producer_t *self, slot_t *slot, msg_t *msg)
{
    uint64_t code = msg_uint (msg, MSG_F_CODE);
    const char *reason = msg_str (msg, MSG_F_REASON);
    if (code == DRV_E_BAD_VERSION) {
        //  Without a batch id, it answers the oldest request (PROTOCOL.md 5).
        if (!slot && !msg_has (msg, MSG_F_BATCH))
            slot = window_oldest_awaiting (self->window);
        int rc = s_on_bad_version (self, slot, reason);
        if (rc)
            return rc > 0? 0: rc;
    }
    if (code == DRV_E_QUEUE_FULL && slot) {
        uint64_t retry_ms = msg_has (msg, MSG_F_RETRY_MS)
                          ? msg_uint (msg, MSG_F_RETRY_MS): RETRY_MS_DEFAULT;
        if (retry_ms > RETRY_MS_MAX)
            retry_ms = RETRY_MS_MAX;
        slot->resend_at = zclock_mono () + (int64_t) (retry_ms? retry_ms: 1);
        //  Once at warn: a submit that waits for room should say why.
        if (self->queue_full++ == 0)
            log_warn ("broker queue full (%s); sending batches again after %" PRIu64
                      " ms until there is room", reason, retry_ms);
        else
            log_debug ("batch %" PRIu64 ": broker queue full, sending again in %" PRIu64
                       " ms", slot->batch, retry_ms);
        return 0;
    }
    int rc = code > 0 && code < DRV_E_MAX? -(int) code: -DRV_E_INTERNAL;
    if (!self->failed)
        self->refused = -rc;
    if (slot)
        return producer_fail (self, rc, "broker refused batch %" PRIu64 ": %s: %s",
                       slot->batch, msg_error_name ((int) code), reason);
    return producer_fail (self, rc, "broker answered %s: %s", msg_error_name ((int) code), reason);
}

//  The connection is up again after it dropped (a broker restarted, or
//  its host came back): what it may never have seen goes again.  A batch
//  it had stored is answered as before (idempotent SUBMIT).
static int
s_on_reconnect (producer_t *self)
{
    self->reconnects++;
    size_t count = 0;
    for (slot_t *slot = window_next_awaiting (self->window, NULL); slot;
         slot = window_next_awaiting (self->window, slot)) {
        int rc = s_send_slot (self, slot);
        if (rc)
            return rc;
        count++;
    }
    self->waiting_since = zclock_mono ();
    log_info ("connected to broker at %s again: %zu unanswered batches sent again",
              self->endpoint, count);
    return EVENT_HANDLED;
}

//  One event of the DEALER's connection.  EVENT_HANDLED, or an error.
static int
s_on_event (producer_t *self, watch_event_t event)
{
    if (event == WATCH_LOST)
        log_warn ("lost the connection to broker at %s; unanswered batches go again "
                  "once it is back", self->endpoint);
    if (event == WATCH_BACK)
        return s_on_reconnect (self);
    return EVENT_HANDLED;
}

//  Wait until deadline (monotonic ms) for one message from the broker.
//  0 with *msg_p, -ETIMEDOUT, EVENT_HANDLED (a connection event came
//  first), or the error.
static int
s_recv (producer_t *self, int64_t deadline, msg_t **msg_p)
{
    watch_event_t event;
    int rc = connection_recv (self->connection, deadline, msg_p, &event);
    if (rc == CONNECTION_INTERRUPTED)
        return s_fail_interrupted (self);
    if (rc == -ETIMEDOUT)
        return rc;
    if (rc == 0 && !*msg_p)
        return s_on_event (self, event);
    if (rc == -DRV_E_NOTHING)
        return producer_fail (self, -ETIMEDOUT, "no answer from broker at %s", self->endpoint);
    if (rc)
        return producer_fail (self, rc, "broker at %s sent a malformed message: %s",
                       self->endpoint, msg_error_name (rc));
    self->waiting_since = zclock_mono ();
    return 0;
}

//  One turn: resend what is due, or wait for one answer and handle it.
static int
s_turn (producer_t *self)
{
    int64_t deadline = INT64_MAX;
    slot_t *due = window_due (self->window, zclock_mono (), &deadline);
    if (due)
        return s_send_slot (self, due);
    bool awaiting = window_awaiting (self->window, NULL);
    if (awaiting && self->waiting_since + self->reply_timeout < deadline)
        deadline = self->waiting_since + self->reply_timeout;
    msg_t *msg = NULL;
    int rc = s_recv (self, deadline, &msg);
    if (rc == -ETIMEDOUT)
        return awaiting && zclock_mono () >= self->waiting_since + self->reply_timeout
             ? s_fail_timeout (self): 0;
    if (rc)
        return rc == EVENT_HANDLED? 0: rc;
    slot_t *slot = window_find (self->window, msg_str (msg, MSG_F_BATCH));
    msg_command_t command = msg_command (msg);
    if (command == MSG_ACCEPTED && slot)
        rc = s_on_accepted (self, slot, msg);
    else
    if (command == MSG_ACCEPTED && window_ours (self->window, msg_str (msg, MSG_F_BATCH)))
        log_debug ("batch %s answered again (it went twice after a reconnect)",
                   msg_str (msg, MSG_F_BATCH));
    else
    if (command == MSG_ERROR)
        rc = s_on_error (self, slot, msg);
    else
        log_warn ("ignored %s from broker (batch %s)", msg_command_name (command),
                  msg_has (msg, MSG_F_BATCH)? msg_str (msg, MSG_F_BATCH): "none");
    msg_destroy (&msg);
    return rc;
}

//  Put a SUBMIT in a free slot (the caller made room) and send it;
//  batch_maps holds the header maps (deps, per_tuple), the rest is ours.
static int
s_submit (producer_t *self, zframe_t **packed_p, size_t count, bool close,
          const submit_batch_t *batch_maps)
{
    char id[48];
    window_batch_id (self->window, self->next_batch, id, sizeof id);
    submit_batch_t batch = *batch_maps;
    batch.number = self->next_batch;
    batch.id = id;
    batch.version = self->version;
    batch.close = close;
    char err[256];
    zmsg_t *submit = NULL;
    int rc = submit_build (self->fields, &batch, packed_p, count, &submit, err, sizeof err);
    if (rc)
        return producer_fail (self, rc, "%s", err);
    slot_t *slot = window_add (self->window, self->next_batch++, &submit, self->version, count);
    return s_send_slot (self, slot);
}

int
producer_submit (producer_t *self, zframe_t **packed_p, size_t count)
{
    return producer_submit_maps (self, packed_p, count, NULL, 0, NULL, 0);
}

int
producer_submit_maps (producer_t *self, zframe_t **packed_p, size_t count,
                      const void *deps, size_t deps_size,
                      const void *per_tuple, size_t per_tuple_size)
{
    assert (self && job_fields_job (self->fields) && packed_p);
    if (self->failed) {
        zframe_destroy (packed_p);
        return self->failed;
    }
    while (window_full (self->window)) {
        int rc = s_turn (self);
        if (rc) {
            zframe_destroy (packed_p);
            return rc;
        }
    }
    submit_batch_t maps = { .deps = deps, .deps_size = deps_size,
                            .per_tuple = per_tuple, .per_tuple_size = per_tuple_size };
    return s_submit (self, packed_p, count, false, &maps);
}

int
producer_flush (producer_t *self)
{
    assert (self);
    while (window_used (self->window) > 0 && !self->failed)
        s_turn (self);
    return self->failed;
}

int
producer_close (producer_t *self)
{
    assert (self && job_fields_job (self->fields));
    //  Only after every batch is in: a batch sent again after QUEUE_FULL
    //  must not find the job closed.
    if (producer_flush (self))
        return self->failed;
    zframe_t *none = NULL;
    submit_batch_t no_maps = { 0 };
    int rc = s_submit (self, &none, 0, true, &no_maps);
    return rc? rc: producer_flush (self);
}

static void
s_copy_status (msg_t *msg, producer_status_t *status)
{
    snprintf (status->state, sizeof status->state, "%s", msg_str (msg, MSG_F_STATE));
    status->submitted = msg_uint (msg, MSG_F_SUBMITTED);
    status->queued = msg_uint (msg, MSG_F_QUEUED);
    status->running = msg_uint (msg, MSG_F_RUNNING);
    status->done = msg_uint (msg, MSG_F_DONE);
    status->failed = msg_uint (msg, MSG_F_FAILED);
    status->total = msg_has (msg, MSG_F_TOTAL)? msg_uint (msg, MSG_F_TOTAL): 0;
    //  Optional: a broker without job graphs or not_before sends none.
    status->waiting = msg_has (msg, MSG_F_WAITING)? msg_uint (msg, MSG_F_WAITING): 0;
    status->skipped = msg_has (msg, MSG_F_SKIPPED)? msg_uint (msg, MSG_F_SKIPPED): 0;
    status->delayed = msg_has (msg, MSG_F_DELAYED)? msg_uint (msg, MSG_F_DELAYED): 0;
}

//  STATUS for job, in the version we speak.
static int
s_send_status (producer_t *self, const char *job)
{
    msg_t *msg = msg_new (MSG_STATUS);
    if (!msg)
        return producer_fail (self, -ENOMEM, "out of memory");
    msg_set_version (msg, self->version);
    msg_set_str (msg, MSG_F_JOB, job);
    self->waiting_since = zclock_mono ();
    int rc = connection_send (self->connection, &msg);
    if (rc == -EAGAIN)
        return s_fail_timeout (self);
    if (rc)
        return producer_fail (self, rc, "cannot send to broker at %s: %s", self->endpoint,
                       strerror (-rc));
    return 0;
}

int
producer_status (producer_t *self, const char *job, producer_status_t *status)
{
    assert (self && job && status);
    if (producer_flush (self))
        return self->failed;
    if (strlen (job) > 1024)            //  so the header fits, whatever it is
        return producer_fail (self, -EINVAL, "job name over 1024 bytes");
    int rc = s_send_status (self, job);
    if (rc)
        return rc;
    int64_t deadline = self->waiting_since + self->reply_timeout;
    uint64_t reconnects = self->reconnects;
    while (true) {
        msg_t *msg = NULL;
        rc = s_recv (self, deadline, &msg);
        if (rc == -ETIMEDOUT)
            return s_fail_timeout (self);
        if (rc == EVENT_HANDLED && reconnects != self->reconnects) {
            //  The question may be lost with the connection: ask again.
            reconnects = self->reconnects;
            if ((rc = s_send_status (self, job)) != 0)
                return rc;
            deadline = self->waiting_since + self->reply_timeout;
            continue;
        }
        if (rc == EVENT_HANDLED)
            continue;
        if (rc)
            return rc;
        msg_command_t command = msg_command (msg);
        if (command == MSG_JOB && !strcmp (msg_str (msg, MSG_F_JOB), job)) {
            s_copy_status (msg, status);
            msg_destroy (&msg);
            return 0;
        }
        int version = command == MSG_ERROR && msg_uint (msg, MSG_F_CODE) == DRV_E_BAD_VERSION
                    ? wire_fallback_version (msg_str (msg, MSG_F_REASON), self->version): 0;
        if (version && !msg_has (msg, MSG_F_BATCH)) {
            //  A broker that speaks an older version: ask again in it.
            self->version = version;
            msg_destroy (&msg);
            if ((rc = s_send_status (self, job)) != 0)
                return rc;
            continue;
        }
        if (command == MSG_ERROR && !msg_has (msg, MSG_F_BATCH)) {
            rc = s_on_error (self, NULL, msg);
            msg_destroy (&msg);
            return rc;
        }
        log_warn ("ignored %s from broker while waiting for job %s",
                  msg_command_name (command), job);
        msg_destroy (&msg);
    }
}
