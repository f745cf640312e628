//  producers.c -- see producers.h.  A SUBMIT is checked whole before
//  anything changes (s_submit_check), then handed to jobs_accept; replies
//  wait in a list until broker.c has committed the turn (group commit).
#include "broker/producers.h"
#include "broker/prio.h"
#include "broker/submit_check.h"
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
    campaign_t *campaign;       //  spec jobs, or NULL
    each_t *each;               //  jobs run once per label value, or NULL
    admission_t *admission;
    broker_counters_t *counters;
    broker_config_t config;
    listing_t *listing;         //  JOBS, AGENTS, rates (borrowed; may be NULL)
    schedules_t *schedules;     //  SCHEDULE (borrowed; may be NULL)
    zlist_t *replies;           //  reply_t, sent after the turn commits
    //  The intake's SUBMIT that met QUEUE_FULL, and its tuples' bytes: the
    //  intake is not read until it fits, so that ZeroMQ's high-water marks
    //  make the producers' PUSH block instead of their tuples being dropped.
    msg_t *held;
    uint64_t held_bytes;
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
    if (!self->replies) {
        producers_destroy (&self);
        return NULL;
    }
    return self;
}

void
producers_set_campaign (producers_t *self, campaign_t *campaign)
{
    self->campaign = campaign;
}

void
producers_set_each (producers_t *self, each_t *each)
{
    self->each = each;
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
    if (self->held)
        log_info ("intake: a SUBMIT of %zu tuples that waited for room is dropped at "
                  "shutdown (as are those the intake held unread)",
                  msg_tuple_count (self->held));
    msg_destroy (&self->held);
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

//  Answer a producer with ERROR (counted and logged), in the version of its
//  request.  envelope may be NULL when the message was too short to have
//  one: then we only count it.
static void
s_refuse (producers_t *self, zmsg_t **envelope_p, int version, int code, const char *batch,
          const char *fmt, ...) __attribute__ ((format (printf, 6, 7)));

static void
s_refuse (producers_t *self, zmsg_t **envelope_p, int version, int code, const char *batch,
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
    msg_set_version (msg, version);
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
    //  Both in 32 bits: submit_check_fields saw to it.
    if (msg_has (msg, MSG_F_MAX_ATTEMPTS))
        job_set_max_attempts (job, (uint32_t) msg_uint (msg, MSG_F_MAX_ATTEMPTS));
    if (msg_has (msg, MSG_F_TIMEOUT_MS))
        job_set_timeout_ms (job, (uint32_t) msg_uint (msg, MSG_F_TIMEOUT_MS));
    return jobs_add (self->jobs, &job);
}

//  A digest of a SUBMIT's batch id and tuples (sizes and bytes), taken only
//  for SUBMITs with a batch id: hashing is not decoding.  Batches are
//  remembered by it, so a batch id reused for other tuples is a batch of
//  its own, and a retry of either finds what it got.
static void
s_digest (msg_t *msg, const char *batch, unsigned char *digest)
{
    crypto_generichash_state state;
    crypto_generichash_init (&state, NULL, 0, STORE_DIGEST_SIZE);
    uint64_t size = strlen (batch);
    crypto_generichash_update (&state, (const unsigned char *) &size, sizeof size);
    crypto_generichash_update (&state, (const unsigned char *) batch, size);
    size_t count = msg_tuple_count (msg);
    for (size_t i = 0; i < count; i++) {
        size_t tuple_size;
        const void *tuple = msg_tuple (msg, i, &tuple_size);
        size = tuple_size;
        crypto_generichash_update (&state, (const unsigned char *) &size, sizeof size);
        crypto_generichash_update (&state, tuple, tuple_size);
    }
    crypto_generichash_final (&state, digest, STORE_DIGEST_SIZE);
}

//  True if this (batch, tuples) was accepted before into job; then *record
//  (which holds the SUBMIT's digest on entry) says what it got.
static bool
s_is_retry (producers_t *self, job_t *job, size_t count, store_batch_t *record)
{
    store_batch_t known = *record;
    if (!job || jobs_batch (self->jobs, job, &known) || known.count != count)
        return false;
    *record = known;
    return true;
}

//  Whether job (or, NULL, the new job msg makes) is run with each: its
//  tuples are copied into runs, and a copy's dependencies would have to
//  name the copies of its run, which PROTOCOL.md 14 does not do.
static bool
s_runs_with_each (producers_t *self, const job_t *job, const msg_t *msg)
{
    if (!self->each)
        return false;
    size_t size = 0;
    const void *options = job? job_options (job, &size): msg_raw (msg, MSG_F_OPTIONS, &size);
    char label[256];
    return each_label (options, size, label, sizeof label);
}

//  Everything that can refuse a SUBMIT, checked before anything changes,
//  so that a batch is accepted whole or not at all (submit_check.h).  What
//  no retry can fix is checked before what may pass later (QUEUE_FULL).
//  record (NULL if the SUBMIT has no batch id) holds its digest; *retry_p
//  tells if it is a retry of an accepted batch, whose ids are then in it.
//  The tuples' dependencies (PROTOCOL.md 14), if any, into *deps_p.
static int
s_submit_check (producers_t *self, msg_t *msg, job_t *job, store_batch_t *record,
                bool *retry_p, deps_batch_t **deps_p, char *reason, size_t size)
{
    uint64_t bytes = 0;
    int rc = submit_check_fields (msg, job, &self->config, reason, size);
    if (rc == 0)
        rc = prio_check (msg, (uint64_t) zclock_time (), reason, size);
    if (rc == 0)
        rc = submit_check_tuples (msg, &self->config, &bytes, reason, size);
    if (rc)
        return rc;
    //  A retry is answered even if the job has closed or the queue filled
    //  since the first try: it asks for nothing new.
    size_t count = msg_tuple_count (msg);
    *retry_p = record && s_is_retry (self, job, count, record);
    if (*retry_p)
        return 0;
    size_t spec_size;
    if (job && job_spec (job, &spec_size)) {
        snprintf (reason, size, "job %.64s takes its tuples from its spec", job_name (job));
        return -DRV_E_CONFLICT;
    }
    //  Closing a job that has ended asks for nothing: a producer's last,
    //  tuple-less SUBMIT (close) after its job aborted is no failure.
    if (job && job_ended (job) != JOB_OPEN && count == 0 && msg_bool (msg, MSG_F_CLOSE))
        return 0;
    if (job && job_ended (job) != JOB_OPEN) {
        snprintf (reason, size, "job %.64s was %s: it takes no more tuples", job_name (job),
                  job_state_name (job_ended (job)));
        return -DRV_E_JOB_CLOSED;
    }
    if (job && job_closed (job)) {
        snprintf (reason, size, "job %.64s is closed", job_name (job));
        return -DRV_E_JOB_CLOSED;
    }
    //  A tuple's own priority or delay is placed where the queue holds it;
    //  a tuple waiting on dependencies, or copied into runs, is not there.
    if (msg_has (msg, MSG_F_PER_TUPLE)
    &&  (msg_has (msg, MSG_F_DEPS) || s_runs_with_each (self, job, msg))) {
        snprintf (reason, size, "per_tuple goes with neither deps nor a job run with each");
        return -DRV_E_BAD_TYPE;
    }
    size_t deps_size = 0;
    const void *deps = msg_raw (msg, MSG_F_DEPS, &deps_size);
    if (deps && count > 0
    &&  !(*deps_p = jobs_deps_check (self->jobs, msg_str (msg, MSG_F_JOB), job, deps,
                                     deps_size, count, reason, size)))
        return -DRV_E_BAD_TYPE;
    uint64_t queued, held;
    jobs_totals (self->jobs, &queued, &held);
    if (deps && *deps_p && s_runs_with_each (self, job, msg)) {
        deps_batch_destroy (deps_p);
        snprintf (reason, size, "a job run with each takes no deps");
        return -DRV_E_BAD_TYPE;
    }
    if (self->each)             //  a job run with each takes a copy per run
        rc = each_room (self->each, job, msg, count, bytes, queued, held, &self->config,
                        reason, size);
    else
        rc = submit_check_room (job, count, bytes, queued, held, &self->config, reason, size);
    if (rc)
        deps_batch_destroy (deps_p);
    return rc;
}

//  The SUBMIT's tuples copied into one chunk (jobs_accept's input), or NULL
//  if out of memory.
static chunk_t *
s_tuple_chunk (msg_t *msg, size_t count)
{
    size_t bytes;
    msg_tuples_packed (msg, &bytes);
    chunk_t *chunk = chunk_new (count, bytes);
    for (size_t i = 0; chunk && i < count; i++) {
        size_t size;
        const void *tuple = msg_tuple (msg, i, &size);
        if (chunk_append (chunk, tuple, size))
            chunk_destroy (&chunk);
    }
    return chunk;
}

//  A SUBMIT with a spec (PROTOCOL.md 10): a new job whose tuples the
//  broker expands (campaign.h); the same SUBMIT again is answered as the
//  first, whether or not it has a batch id.  ACCEPTED says 1 .. the
//  spec's tuples.
static int
s_submit_spec (producers_t *self, msg_t *msg, job_t *job, uint64_t *first_p,
               uint64_t *count_p, char *reason, size_t size)
{
    int rc = submit_check_fields (msg, job, &self->config, reason, size);
    if (rc == 0)
        rc = prio_check (msg, (uint64_t) zclock_time (), reason, size);
    if (rc)
        return rc;
    if (msg_tuple_count (msg) > 0) {
        snprintf (reason, size, "a SUBMIT with a spec carries no tuples");
        return -DRV_E_BAD_TUPLE;
    }
    if (!self->campaign) {
        snprintf (reason, size, "this broker takes no specs");
        return -DRV_E_UNEXPECTED;
    }
    size_t map_size;
    const void *map = msg_raw (msg, MSG_F_SPEC, &map_size);
    campaign_spec_t *spec = campaign_spec_new (map, map_size, msg_str (msg, MSG_F_JOB),
                                               reason, size);
    if (!spec)
        return -DRV_E_BAD_TYPE;
    *first_p = 1;
    *count_p = campaign_spec_count (spec);
    size_t runs;
    int refused = !job && self->each? each_check_new (self->each, msg, &runs, reason, size): 0;
    if (job && campaign_spec_same (spec, job))
        self->counters->duplicates++;
    else
    if (refused)                //  "each" names no label agents have, ...
        rc = refused;
    else
    if (job) {
        snprintf (reason, size, "job %.64s exists%s", job_name (job),
                  job_spec (job, &map_size)? " with another spec": "");
        rc = -DRV_E_CONFLICT;
    }
    else
    if (!(job = s_job_create (self, msg_str (msg, MSG_F_JOB), msg))) {
        snprintf (reason, size, "out of memory");
        rc = -DRV_E_INTERNAL;
    }
    else {
        rc = campaign_start (self->campaign, job, spec, &runs);
        if (rc)
            snprintf (reason, size, "out of memory, or the store failed");
        rc = rc? -DRV_E_INTERNAL: 0;
    }
    campaign_spec_destroy (&spec);
    return rc;
}

//  Accept a SUBMIT: tuples get ids and go into the queue.
//  Returns 0 with the ids in *first_p, *count_p, or -DRV_E_* and a reason.
static int
s_submit (producers_t *self, msg_t *msg, uint64_t *first_p, uint64_t *count_p,
          char *reason, size_t size)
{
    const char *name = msg_str (msg, MSG_F_JOB);
    const char *batch = msg_str (msg, MSG_F_BATCH);
    job_t *job = jobs_lookup (self->jobs, name);
    if (msg_has (msg, MSG_F_SPEC))
        return s_submit_spec (self, msg, job, first_p, count_p, reason, size);
    store_batch_t record = { 0 };
    if (batch)
        s_digest (msg, batch, record.digest);
    bool retry = false;
    deps_batch_t *deps = NULL;
    int rc = s_submit_check (self, msg, job, batch? &record: NULL, &retry, &deps, reason, size);
    if (rc)
        return rc;
    if (retry) {
        //  A retried SUBMIT: answer what the first one got, change nothing.
        log_debug ("job %s: batch %s already accepted as ids %" PRIu64 " .. +%" PRIu64,
                   peerlog_str (name).text, peerlog_str (batch).text, record.first,
                   record.count);
        self->counters->duplicates++;
        *first_p = record.first;
        *count_p = record.count;
        return 0;
    }
    size_t count = msg_tuple_count (msg);
    if (!job && (job = s_job_create (self, name, msg)) && self->each
    &&  each_start (self->each, job)) {
        deps_batch_destroy (&deps);
        snprintf (reason, size, "out of memory making the runs of job %.64s", name);
        return -DRV_E_INTERNAL;
    }
    if (!job) {
        deps_batch_destroy (&deps);
        snprintf (reason, size, "out of memory");
        return -DRV_E_INTERNAL;
    }
    chunk_t *chunk = s_tuple_chunk (msg, count);
    bool failed = false;
    prio_tuples_t *tuned = prio_tuples_new (msg, &failed);
    uint64_t first;
    store_batch_t *remember = batch? &record: NULL;
    rc = !chunk || failed? -ENOMEM
       : self->each && !deps && !tuned? each_accept (self->each, job, &chunk, remember, &first)
       : jobs_accept_batch (self->jobs, job, &chunk, remember, tuned, deps, &first);
    chunk_destroy (&chunk);
    deps_batch_destroy (&deps);
    prio_tuples_destroy (&tuned);
    if (rc) {
        if (rc == -ENOMEM)
            snprintf (reason, size, "out of memory");
        else
            snprintf (reason, size, "the store failed: %s", strerror (-rc));
        return -DRV_E_INTERNAL;
    }
    if (msg_bool (msg, MSG_F_CLOSE) && self->each)
        each_close (self->each, job);
    else
    if (msg_bool (msg, MSG_F_CLOSE) && !job_closed (job))
        job_close (job);
    *first_p = first;
    *count_p = count;
    return 0;
}

//  The batch id an ERROR echoes (PROTOCOL.md 5): the request's, if it
//  keeps the rules of one (1 to BROKER_MAX_BATCH_ID bytes).
static const char *
s_echo_batch (msg_t *msg)
{
    const char *batch = msg_str (msg, MSG_F_BATCH);
    return batch && *batch && strlen (batch) <= BROKER_MAX_BATCH_ID? batch: NULL;
}

static void
s_frontend_submit (producers_t *self, zmsg_t **envelope_p, msg_t *msg)
{
    char reason[256];
    uint64_t first = 0;
    uint64_t count = 0;
    const char *batch = msg_str (msg, MSG_F_BATCH);
    int rc = s_submit (self, msg, &first, &count, reason, sizeof reason);
    if (rc) {
        s_refuse (self, envelope_p, msg_version (msg), -rc, s_echo_batch (msg), "%s", reason);
        return;
    }
    msg_t *reply = msg_new (MSG_ACCEPTED);
    if (!reply)
        return;
    msg_set_version (reply, msg_version (msg));
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
        s_refuse (self, envelope_p, msg_version (msg), DRV_E_UNKNOWN_JOB, NULL, "no job %s",
                  name);
        return;
    }
    const job_counters_t *counters = job_counters (job);
    //  A job run once per label value: its runs' counters.
    job_counters_t runs;
    job_state_t state = job_state (job);
    if (self->each && each_status (self->each, job, &runs, &state))
        counters = &runs;
    msg_t *reply = msg_new (MSG_JOB);
    if (!reply)
        return;
    msg_set_version (reply, msg_version (msg));
    msg_set_str (reply, MSG_F_JOB, name);
    msg_set_str (reply, MSG_F_STATE, job_state_name (state));
    msg_set_uint (reply, MSG_F_SUBMITTED, counters->submitted);
    msg_set_uint (reply, MSG_F_QUEUED, counters->queued);
    msg_set_uint (reply, MSG_F_RUNNING, counters->running);
    msg_set_uint (reply, MSG_F_DONE, counters->done);
    msg_set_uint (reply, MSG_F_FAILED, counters->failed);
    msg_set_uint (reply, MSG_F_WAITING, counters->waiting);
    msg_set_uint (reply, MSG_F_SKIPPED, counters->skipped);
    uint64_t total = self->campaign? campaign_total (self->campaign, job): 0;
    if (total)
        msg_set_uint (reply, MSG_F_TOTAL, total);
    msg_set_uint (reply, MSG_F_MAX_ATTEMPTS, job_max_attempts (job));
    msg_set_uint (reply, MSG_F_TIMEOUT_MS, job_timeout_ms (job));
    msg_set_uint (reply, MSG_F_PRIORITY, job_priority (job));
    msg_set_uint (reply, MSG_F_DELAYED, jobs_delayed (self->jobs, job));
    if (job_not_before (job))
        msg_set_uint (reply, MSG_F_NOT_BEFORE, job_not_before (job));
    if (self->listing && counters != &runs) {     //  runs have their own rates
        listing_rate_t rate = listing_rate (self->listing, job, zclock_mono ());
        if (rate.has_rate)
            msg_set_uint (reply, MSG_F_RATE_MILLI, rate.rate_milli);
        if (rate.has_eta)
            msg_set_uint (reply, MSG_F_ETA_MS, rate.eta_ms);
    }
    s_reply (self, envelope_p, &reply);
}

//  CANCEL: end the job (its waiting tuples are stored as cancelled as
//  agents take them, dispatch.h; its running ones are stopped, agents.h),
//  then answer as STATUS (PROTOCOL.md 12).
static void
s_frontend_cancel (producers_t *self, zmsg_t **envelope_p, msg_t *msg)
{
    job_t *job = jobs_lookup (self->jobs, msg_str (msg, MSG_F_JOB));
    if (job && self->each)
        each_cancel (self->each, job);      //  and its runs, if any
    else
    if (job)
        jobs_cancel (self->jobs, job);
    s_frontend_status (self, envelope_p, msg);
}

//  JOBS and AGENTS: a page of the listing (PROTOCOL.md 11).
static void
s_frontend_list (producers_t *self, zmsg_t **envelope_p, msg_t *msg)
{
    char reason[128] = "";
    int code = -DRV_E_INTERNAL;
    msg_t *reply = NULL;
    if (self->listing)
        reply = msg_command (msg) == MSG_JOBS
              ? listing_jobs (self->listing, msg, zclock_mono (), &code, reason, sizeof reason)
              : listing_agents (self->listing, msg, zclock_mono (), &code, reason, sizeof reason);
    if (!reply) {
        s_refuse (self, envelope_p, msg_version (msg), -code, NULL, "%s",
                  *reason? reason: "no listing");
        return;
    }
    s_reply (self, envelope_p, &reply);
}

void
producers_set_listing (producers_t *self, listing_t *listing)
{
    self->listing = listing;
}

//  SCHEDULE: add, list or remove recurring jobs (PROTOCOL.md 15).
static void
s_frontend_schedule (producers_t *self, zmsg_t **envelope_p, msg_t *msg)
{
    char reason[256] = "this broker keeps no schedules";
    int code = DRV_E_UNEXPECTED;
    msg_t *reply = self->schedules?
        schedules_request (self->schedules, msg, zclock_time () / 1000, &code, reason,
                           sizeof reason): NULL;
    if (!reply) {
        s_refuse (self, envelope_p, msg_version (msg), code, NULL, "%s", reason);
        return;
    }
    msg_set_version (reply, msg_version (msg));
    s_reply (self, envelope_p, &reply);
}

void
producers_set_schedules (producers_t *self, schedules_t *schedules)
{
    self->schedules = schedules;
}

int
producers_submit (producers_t *self, msg_t *msg, char *reason, size_t size)
{
    uint64_t first, count;
    return s_submit (self, msg, &first, &count, reason, size);
}


void
producers_frontend_recv (producers_t *self)
{
    zmsg_t *envelope = NULL;
    msg_t *msg = NULL;
    char reason[128];
    char batch[BROKER_MAX_BATCH_ID + 1];
    int version = MSG_VERSION_MIN;
    int rc = wire_recv_request (self->frontend, &envelope, &msg, &version, batch, sizeof batch);
    if (rc == -DRV_E_NOTHING)
        return;
    if (rc)
        s_refuse (self, &envelope, version, -rc, *batch? batch: NULL, "%s",
                  admission_decode_reason (-rc));
    else
    if (!admission_allowed (self->admission, AUTH_DOMAIN_PRODUCERS, msg_user_id (msg))) {
        //  Its key was revoked after it connected: libzmq keeps the
        //  connection, so each message is checked.
        if (msg_command (msg) != MSG_ERROR)
            s_refuse (self, &envelope, version, DRV_E_DENIED, s_echo_batch (msg), "%s",
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
        case MSG_CANCEL:
            s_frontend_cancel (self, &envelope, msg);
            break;
        case MSG_JOBS:
        case MSG_AGENTS:
            s_frontend_list (self, &envelope, msg);
            break;
        case MSG_SCHEDULE:
            s_frontend_schedule (self, &envelope, msg);
            break;
        case MSG_ERROR:
            admission_peer_error (self->admission, "frontend", msg);
            break;
        default:
            s_refuse (self, &envelope, version, DRV_E_UNEXPECTED, s_echo_batch (msg),
                      "%s is not a producer command", msg_command_name (msg_command (msg)));
    }
    msg_destroy (&msg);
    zmsg_destroy (&envelope);
}

//  A SUBMIT from the intake: accepted, refused (logged and counted), or,
//  when it meets QUEUE_FULL, held (*msg_p taken) until it fits.
static void
s_intake_submit (producers_t *self, msg_t **msg_p)
{
    char reason[256];
    uint64_t first, count;
    int rc = s_submit (self, *msg_p, &first, &count, reason, sizeof reason);
    if (rc == -DRV_E_QUEUE_FULL) {
        log_debug ("intake: queue full: not read until a SUBMIT of %zu tuples fits",
                   msg_tuple_count (*msg_p));
        self->held = *msg_p;
        *msg_p = NULL;
        size_t bytes = 0;
        msg_tuples_packed (self->held, &bytes);
        self->held_bytes = bytes;
    }
    else
    if (rc)
        admission_refused (self->admission, "intake", -rc, reason);
}

//  The intake is fire-and-forget: refusals are logged and counted only.
void
producers_intake_recv (producers_t *self)
{
    if (self->held)
        return;                 //  paused: broker.c does not read it now
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
    if (msg_command (msg) == MSG_SUBMIT)
        s_intake_submit (self, &msg);
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

bool
producers_intake_paused (const producers_t *self)
{
    return self->held != NULL;
}

bool
producers_intake_retry (producers_t *self)
{
    if (!self->held)
        return false;
    //  The room check first: the whole of s_submit hashes and scans the
    //  tuples, too much to repeat each turn while agents drain.
    char reason[256];
    uint64_t queued, held;
    jobs_totals (self->jobs, &queued, &held);
    job_t *job = jobs_lookup (self->jobs, msg_str (self->held, MSG_F_JOB));
    if (submit_check_room (job, msg_tuple_count (self->held), self->held_bytes,
                           queued, held, &self->config, reason, sizeof reason))
        return false;
    msg_t *msg = self->held;
    self->held = NULL;
    s_intake_submit (self, &msg);
    msg_destroy (&msg);
    return self->held == NULL;
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
                msg_set_version (error, msg_version (reply->msg));
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
