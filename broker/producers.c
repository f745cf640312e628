//  producers.c -- see producers.h.  A SUBMIT is accepted or refused by
//  submit_t (submit.h); replies wait in a list until broker.c has
//  committed the turn (group commit).
#include "broker/producers.h"
#include "broker/submit.h"
#include "broker/submit_check.h"
#include "common/log.h"
#include "proto/wire.h"

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
    submit_t *submit;           //  SUBMIT's checks and acceptance
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
    self->submit = submit_new (jobs, counters, config);
    if (!self->replies || !self->submit) {
        producers_destroy (&self);
        return NULL;
    }
    return self;
}

void
producers_set_campaign (producers_t *self, campaign_t *campaign)
{
    self->campaign = campaign;
    submit_set_campaign (self->submit, campaign);
}

void
producers_set_each (producers_t *self, each_t *each)
{
    self->each = each;
    submit_set_each (self->submit, each);
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
    submit_destroy (&self->submit);
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
    int rc = submit_accept (self->submit, msg, &first, &count, reason, sizeof reason);
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
    return submit_accept (self->submit, msg, &first, &count, reason, size);
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
    int rc = submit_accept (self->submit, *msg_p, &first, &count, reason, sizeof reason);
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
    //  The room check first: the whole of submit_accept hashes and scans the
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
