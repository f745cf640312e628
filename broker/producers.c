//  producers.c -- see producers.h.  A SUBMIT is checked whole before
//  anything changes (s_submit_check), then handed to jobs_accept; replies
//  wait in a list until broker.c has committed the turn (group commit).
#include "broker/producers.h"
#include "common/log.h"
#include "common/peerlog.h"
#include "proto/wire.h"

#include <errno.h>
#include <sodium.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct producers {
    zsock_t *frontend;          //  ROUTER: request/reply (borrowed)
    zsock_t *intake;            //  PULL: fire-and-forget (borrowed)
    jobs_t *jobs;
    admission_t *admission;
    broker_counters_t *counters;
    broker_config_t config;
    zlist_t *replies;           //  reply_t, sent after the turn commits
    zframe_t **frames;          //  scratch: one SUBMIT's tuples
};

//  A reply to a producer, held until the turn's transaction commits.
typedef struct {
    zmsg_t *envelope;
    msg_t *msg;
} reply_t;

producers_t *
producers_new (zsock_t *frontend, zsock_t *intake, jobs_t *jobs,
               admission_t *admission, broker_counters_t *counters,
               const broker_config_t *config)
{
    producers_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->frontend = frontend;
    self->intake = intake;
    self->jobs = jobs;
    self->admission = admission;
    self->counters = counters;
    self->config = *config;
    self->replies = zlist_new ();
    self->frames = calloc (config->max_batch, sizeof (zframe_t *));
    if (!self->replies || !self->frames) {
        producers_destroy (&self);
        return NULL;
    }
    return self;
}

void
producers_destroy (producers_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    producers_t *self = *self_p;
    reply_t *reply;
    while (self->replies && (reply = (reply_t *) zlist_pop (self->replies))) {
        zmsg_destroy (&reply->envelope);
        msg_destroy (&reply->msg);
        free (reply);
    }
    zlist_destroy (&self->replies);
    free (self->frames);
    free (self);
    *self_p = NULL;
}

//  Queue an answer for the producer behind *envelope_p (both taken).
static void
s_reply (producers_t *self, zmsg_t **envelope_p, msg_t **msg_p)
{
    reply_t *reply = malloc (sizeof *reply);
    if (!reply || !*msg_p || zlist_append (self->replies, reply)) {
        log_error ("broker: out of memory queueing a reply");
        free (reply);
        msg_destroy (msg_p);
        zmsg_destroy (envelope_p);
        return;
    }
    reply->envelope = *envelope_p;
    reply->msg = *msg_p;
    *envelope_p = NULL;
    *msg_p = NULL;
}

//  Answer a producer with ERROR (counted and logged).  envelope may be NULL
//  when the message was too short to have one: then we only count it.
static void
s_refuse (producers_t *self, zmsg_t **envelope_p, int code, const char *batch,
          const char *fmt, ...) __attribute__ ((format (printf, 5, 6)));

static void
s_refuse (producers_t *self, zmsg_t **envelope_p, int code, const char *batch,
          const char *fmt, ...)
{
    char reason[256];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (reason, sizeof reason, fmt, ap);
    va_end (ap);
    admission_refused (self->admission, "frontend", code, reason);
    if (!*envelope_p)
        return;
    msg_t *msg = msg_new (MSG_ERROR);
    if (!msg)
        return;
    msg_set_uint (msg, MSG_F_CODE, (uint64_t) code);
    msg_set_str (msg, MSG_F_REASON, reason);
    if (batch)
        msg_set_str (msg, MSG_F_BATCH, batch);
    if (code == DRV_E_QUEUE_FULL)
        msg_set_uint (msg, MSG_F_RETRY_MS, self->config.retry_ms);
    s_reply (self, envelope_p, &msg);
}

//  ---------------------------------------------------------------------
//  SUBMIT and STATUS

//  A new job as its first SUBMIT describes it, registered.
static job_t *
s_job_create (producers_t *self, const char *name, msg_t *msg)
{
    job_t *job = job_new (name, msg_str (msg, MSG_F_HANDLER), msg_str (msg, MSG_F_SINK));
    if (!job)
        return NULL;
    size_t size = 0;
    const void *options = msg_raw (msg, MSG_F_OPTIONS, &size);
    if (job_set_options (job, options, size)
    ||  job_set_sink_key (job, msg_str (msg, MSG_F_SINK_KEY))) {
        job_destroy (&job);
        return NULL;
    }
    if (msg_has (msg, MSG_F_MAX_ATTEMPTS)) {
        uint64_t max = msg_uint (msg, MSG_F_MAX_ATTEMPTS);
        job_set_max_attempts (job, max > UINT32_MAX? UINT32_MAX: (uint32_t) max);
    }
    if (msg_has (msg, MSG_F_TIMEOUT_MS)) {
        uint64_t timeout = msg_uint (msg, MSG_F_TIMEOUT_MS);
        job_set_timeout_ms (job, timeout > UINT32_MAX? UINT32_MAX: (uint32_t) timeout);
    }
    return jobs_add (self->jobs, &job);
}

//  Back-pressure: tuples queued (waiting, or backing off) and bytes not
//  finished, per job and in all.  QUEUE_FULL passes once agents drain.
static int
s_limits_check (producers_t *self, job_t *job, size_t count, uint64_t bytes,
                char *reason, size_t size)
{
    const broker_config_t *c = &self->config;
    uint64_t queued, held;
    jobs_totals (self->jobs, &queued, &held);
    uint64_t job_queued = job? job_counters (job)->queued: 0;
    uint64_t job_held = job? job_bytes (job): 0;
    const char *name = job? job_name (job): "(new)";
    if (job_queued + count > c->max_job_queued)
        snprintf (reason, size, "job %s: %" PRIu64 " tuples queued, limit %" PRIu64,
                  name, job_queued, c->max_job_queued);
    else
    if (job_held + bytes > c->max_job_queued_bytes)
        snprintf (reason, size, "job %s: %" PRIu64 " bytes queued, limit %" PRIu64,
                  name, job_held, c->max_job_queued_bytes);
    else
    if (queued + count > c->max_queued)
        snprintf (reason, size, "%" PRIu64 " tuples queued, limit %" PRIu64,
                  queued, c->max_queued);
    else
    if (held + bytes > c->max_queued_bytes)
        snprintf (reason, size, "%" PRIu64 " bytes queued, limit %" PRIu64,
                  held, c->max_queued_bytes);
    else
        return 0;
    return -DRV_E_QUEUE_FULL;
}

//  A digest of a SUBMIT's tuples (sizes and bytes), taken only for SUBMITs
//  with a batch id: hashing is not decoding, and it tells a retry from a
//  batch id that a producer reused for other tuples.
static void
s_digest (msg_t *msg, unsigned char *digest)
{
    crypto_generichash_state state;
    crypto_generichash_init (&state, NULL, 0, STORE_DIGEST_SIZE);
    size_t count = msg_payload_count (msg);
    for (size_t i = 0; i < count; i++) {
        zframe_t *frame = msg_payload (msg, i);
        uint64_t frame_size = zframe_size (frame);
        crypto_generichash_update (&state, (const unsigned char *) &frame_size,
                                   sizeof frame_size);
        crypto_generichash_update (&state, zframe_data (frame), zframe_size (frame));
    }
    crypto_generichash_final (&state, digest, STORE_DIGEST_SIZE);
}

//  True if (job, batch) was accepted before with the same tuples; then
//  *record (which holds this SUBMIT's digest on entry) says what it got.
static bool
s_is_retry (producers_t *self, job_t *job, const char *batch, store_batch_t *record)
{
    store_batch_t known;
    if (!job || jobs_batch (self->jobs, job, batch, &known))
        return false;
    if (known.count != record->count
    ||  memcmp (known.digest, record->digest, STORE_DIGEST_SIZE)) {
        log_debug ("job %s: batch %s reused for other tuples; accepted as new",
                   peerlog_str (job_name (job)).text, peerlog_str (batch).text);
        return false;
    }
    *record = known;
    return true;
}

//  Everything that can refuse a SUBMIT, checked before anything changes,
//  so that a batch is accepted whole or not at all.  What no retry can fix
//  (TOO_LARGE) is checked before what may pass later (QUEUE_FULL).
//  retry (NULL if the SUBMIT has no batch id) holds the SUBMIT's count and
//  digest; if it is a retry of an accepted batch, returns 0 with retry
//  holding what that batch got, else sets retry->count to UINT64_MAX.
static int
s_submit_check (producers_t *self, msg_t *msg, job_t *job, store_batch_t *retry,
                char *reason, size_t size)
{
    const char *name = msg_str (msg, MSG_F_JOB);
    const char *handler = msg_str (msg, MSG_F_HANDLER);
    const char *sink = msg_str (msg, MSG_F_SINK);
    size_t count = msg_payload_count (msg);
    if (count > self->config.max_batch) {
        snprintf (reason, size, "job %s: %zu tuples in one SUBMIT, over the limit of %u",
                  name, count, self->config.max_batch);
        return -DRV_E_TOO_LARGE;
    }
    uint64_t bytes = 0;
    for (size_t i = 0; i < count; i++) {
        size_t frame_size = zframe_size (msg_payload (msg, i));
        bytes += frame_size;
        if (frame_size > self->config.max_tuple_size) {
            snprintf (reason, size, "job %s: tuple %zu is %zu bytes, over the limit of %" PRIu64,
                      name, i + 1, frame_size, self->config.max_tuple_size);
            return -DRV_E_TOO_LARGE;
        }
    }
    //  The name is the job's key in the store (LMDB keys are short).
    if (!job && strlen (name) > BROKER_MAX_JOB_NAME) {
        snprintf (reason, size, "job name of %zu bytes, over the limit of %d",
                  strlen (name), BROKER_MAX_JOB_NAME);
        return -DRV_E_TOO_LARGE;
    }
    if (!job && (!handler || !sink)) {
        snprintf (reason, size, "no job %.100s (a new job needs handler and sink)", name);
        return -DRV_E_UNKNOWN_JOB;
    }
    if (job && ((handler && strcmp (handler, job_handler (job)))
             || (sink && strcmp (sink, job_sink (job))))) {
        snprintf (reason, size, "job %s has handler %s and sink %s", name,
                  job_handler (job), job_sink (job));
        return -DRV_E_CONFLICT;
    }
    if (!job && msg_has (msg, MSG_F_MAX_ATTEMPTS) && msg_uint (msg, MSG_F_MAX_ATTEMPTS) == 0) {
        snprintf (reason, size, "job %s: max_attempts must be at least 1", name);
        return -DRV_E_BAD_TYPE;
    }
    //  A retry is answered even if the job has closed or the queue filled
    //  since the first try: it asks for nothing new.
    if (retry && s_is_retry (self, job, msg_str (msg, MSG_F_BATCH), retry)) {
        snprintf (reason, size, "a retry");
        return 0;
    }
    if (retry)
        retry->count = UINT64_MAX;      //  not a retry
    if (job && job_closed (job)) {
        snprintf (reason, size, "job %s is closed", name);
        return -DRV_E_JOB_CLOSED;
    }
    return s_limits_check (self, job, count, bytes, reason, size);
}

//  Accept a SUBMIT: tuples get ids and move (not copied) into the queue.
//  Returns 0 with the ids in *first_p, *count_p, or -DRV_E_* and a reason.
static int
s_submit (producers_t *self, msg_t *msg, uint64_t *first_p, size_t *count_p,
          char *reason, size_t size)
{
    const char *name = msg_str (msg, MSG_F_JOB);
    const char *batch = msg_str (msg, MSG_F_BATCH);
    job_t *job = jobs_lookup (self->jobs, name);
    store_batch_t record = { .count = msg_payload_count (msg) };
    if (batch)
        s_digest (msg, record.digest);
    int rc = s_submit_check (self, msg, job, batch? &record: NULL, reason, size);
    if (rc)
        return rc;
    if (batch && record.count != UINT64_MAX) {
        //  A retried SUBMIT: answer what the first one got, change nothing.
        log_debug ("job %s: batch %s already accepted as ids %" PRIu64 " .. +%" PRIu64,
                   peerlog_str (name).text, peerlog_str (batch).text, record.first,
                   record.count);
        self->counters->duplicates++;
        *first_p = record.first;
        *count_p = (size_t) record.count;
        return 0;
    }
    if (!job)
        job = s_job_create (self, name, msg);
    if (!job) {
        snprintf (reason, size, "out of memory");
        return -DRV_E_INTERNAL;
    }
    size_t count = msg_payload_count (msg);
    for (size_t i = 0; i < count; i++)
        self->frames[i] = msg_payload_pop (msg);
    uint64_t first;
    rc = jobs_accept (self->jobs, job, self->frames, count, batch, &record, &first);
    if (rc) {
        if (rc == -ENOMEM)
            snprintf (reason, size, "out of memory");
        else
            snprintf (reason, size, "the store failed: %s", strerror (-rc));
        return -DRV_E_INTERNAL;
    }
    if (msg_bool (msg, MSG_F_CLOSE) && !job_closed (job))
        job_close (job);
    *first_p = first;
    *count_p = count;
    return 0;
}

static void
s_frontend_submit (producers_t *self, zmsg_t **envelope_p, msg_t *msg)
{
    char reason[256];
    uint64_t first = 0;
    size_t count = 0;
    const char *batch = msg_str (msg, MSG_F_BATCH);
    int rc = s_submit (self, msg, &first, &count, reason, sizeof reason);
    if (rc) {
        s_refuse (self, envelope_p, -rc, batch, "%s", reason);
        return;
    }
    msg_t *reply = msg_new (MSG_ACCEPTED);
    if (!reply)
        return;
    msg_set_str (reply, MSG_F_JOB, msg_str (msg, MSG_F_JOB));
    msg_set_uint (reply, MSG_F_FIRST, first);
    msg_set_uint (reply, MSG_F_COUNT, count);
    if (batch)
        msg_set_str (reply, MSG_F_BATCH, batch);
    s_reply (self, envelope_p, &reply);
}

static void
s_frontend_status (producers_t *self, zmsg_t **envelope_p, msg_t *msg)
{
    const char *name = msg_str (msg, MSG_F_JOB);
    job_t *job = jobs_lookup (self->jobs, name);
    if (!job) {
        s_refuse (self, envelope_p, DRV_E_UNKNOWN_JOB, NULL, "no job %s", name);
        return;
    }
    const job_counters_t *counters = job_counters (job);
    msg_t *reply = msg_new (MSG_JOB);
    if (!reply)
        return;
    msg_set_str (reply, MSG_F_JOB, name);
    msg_set_str (reply, MSG_F_STATE, job_state_name (job_state (job)));
    msg_set_uint (reply, MSG_F_SUBMITTED, counters->submitted);
    msg_set_uint (reply, MSG_F_QUEUED, counters->queued);
    msg_set_uint (reply, MSG_F_RUNNING, counters->running);
    msg_set_uint (reply, MSG_F_DONE, counters->done);
    msg_set_uint (reply, MSG_F_FAILED, counters->failed);
    s_reply (self, envelope_p, &reply);
}


void
producers_frontend_recv (producers_t *self)
{
    zmsg_t *envelope = NULL;
    msg_t *msg = NULL;
    char reason[128];
    int rc = wire_recv (self->frontend, &envelope, &msg);
    if (rc == -DRV_E_NOTHING)
        return;
    if (rc)
        s_refuse (self, &envelope, -rc, NULL, "%s", admission_decode_reason (-rc));
    else
    if (!admission_allowed (self->admission, AUTH_DOMAIN_PRODUCERS, msg_user_id (msg))) {
        //  Its key was revoked after it connected: libzmq keeps the
        //  connection, so each message is checked.
        if (msg_command (msg) != MSG_ERROR)
            s_refuse (self, &envelope, DRV_E_DENIED,
                      msg_has (msg, MSG_F_BATCH)? msg_str (msg, MSG_F_BATCH): NULL, "%s",
                      admission_denied_reason (msg_user_id (msg), reason, sizeof reason));
    }
    else
    switch (msg_command (msg)) {
        case MSG_SUBMIT:
            s_frontend_submit (self, &envelope, msg);
            break;
        case MSG_STATUS:
            s_frontend_status (self, &envelope, msg);
            break;
        case MSG_ERROR:
            admission_peer_error (self->admission, "frontend", msg);
            break;
        default:
            s_refuse (self, &envelope, DRV_E_UNEXPECTED, NULL,
                      "%s is not a producer command", msg_command_name (msg_command (msg)));
    }
    msg_destroy (&msg);
    zmsg_destroy (&envelope);
}

//  The intake is fire-and-forget: refusals are logged and counted only.
void
producers_intake_recv (producers_t *self)
{
    msg_t *msg = NULL;
    int rc = wire_recv (self->intake, NULL, &msg);
    if (rc == -DRV_E_NOTHING)
        return;
    char reason[256];
    if (rc)
        admission_refused (self->admission, "intake", -rc, admission_decode_reason (-rc));
    else
    if (!admission_allowed (self->admission, AUTH_DOMAIN_PRODUCERS, msg_user_id (msg)))
        admission_refused (self->admission, "intake", DRV_E_DENIED,
                           admission_denied_reason (msg_user_id (msg), reason, sizeof reason));
    else
    if (msg_command (msg) == MSG_SUBMIT) {
        uint64_t first;
        size_t count;
        rc = s_submit (self, msg, &first, &count, reason, sizeof reason);
        if (rc)
            admission_refused (self->admission, "intake", -rc, reason);
    }
    else
    if (msg_command (msg) == MSG_ERROR)
        admission_peer_error (self->admission, "intake", msg);
    else {
        snprintf (reason, sizeof reason, "%s on the intake, which takes SUBMIT only",
                  msg_command_name (msg_command (msg)));
        admission_refused (self->admission, "intake", DRV_E_UNEXPECTED, reason);
    }
    msg_destroy (&msg);
}

size_t
producers_replies (const producers_t *self)
{
    return zlist_size (self->replies);
}

void
producers_flush (producers_t *self, int commit_rc)
{
    reply_t *reply;
    while ((reply = (reply_t *) zlist_pop (self->replies))) {
        if (commit_rc && msg_command (reply->msg) == MSG_ACCEPTED) {
            msg_t *error = msg_new (MSG_ERROR);
            if (error) {
                msg_set_uint (error, MSG_F_CODE, DRV_E_INTERNAL);
                msg_set_str (error, MSG_F_REASON, "the store failed to commit; retry");
                if (msg_has (reply->msg, MSG_F_BATCH))
                    msg_set_str (error, MSG_F_BATCH, msg_str (reply->msg, MSG_F_BATCH));
            }
            msg_destroy (&reply->msg);
            reply->msg = error;
            //  broker.c logged the failed commit.
            admission_count (self->admission, DRV_E_INTERNAL);
        }
        if (reply->msg)
            wire_send (&reply->msg, self->frontend, reply->envelope);
        zmsg_destroy (&reply->envelope);
        free (reply);
    }
}
