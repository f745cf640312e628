//  submit.c -- see submit.h.  A SUBMIT is checked whole before anything
//  changes (s_submit_check, with the rules of submit_check.h and prio.h),
//  then handed to jobs_accept_batch, each_accept or, with a spec, campaign.
#include "broker/submit.h"
#include "broker/prio.h"
#include "broker/submit_check.h"
#include "common/log.h"
#include "common/peerlog.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct submit {
    jobs_t *jobs;
    campaign_t *campaign;       //  spec jobs, or NULL
    each_t *each;               //  jobs run once per label value, or NULL
    broker_counters_t *counters;
    broker_config_t config;
};

submit_t *
submit_new (jobs_t *jobs, broker_counters_t *counters, const broker_config_t *config)
{
    submit_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->jobs = jobs;
    self->counters = counters;
    self->config = *config;
    return self;
}

void
submit_destroy (submit_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free (*self_p);
    *self_p = NULL;
}

void
submit_set_campaign (submit_t *self, campaign_t *campaign)
{
    self->campaign = campaign;
}

void
submit_set_each (submit_t *self, each_t *each)
{
    self->each = each;
}

//  A new job as its first SUBMIT describes it, registered.
static job_t *
s_job_create (submit_t *self, const char *name, msg_t *msg)
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

//  True if this (batch, tuples) was accepted before into job; then *record
//  (which holds the SUBMIT's digest on entry) says what it got.
static bool
s_is_retry (submit_t *self, job_t *job, size_t count, store_batch_t *record)
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
s_runs_with_each (submit_t *self, const job_t *job, const msg_t *msg)
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
s_submit_check (submit_t *self, msg_t *msg, job_t *job, store_batch_t *record,
                bool *retry_p, deps_batch_t **deps_p, char *reason, size_t size)
{
    uint64_t bytes = 0;
    int rc = submit_check_fields (msg, job, reason, size);
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
s_submit_spec (submit_t *self, msg_t *msg, job_t *job, uint64_t *first_p,
               uint64_t *count_p, char *reason, size_t size)
{
    int rc = submit_check_fields (msg, job, reason, size);
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

int
submit_accept (submit_t *self, msg_t *msg, uint64_t *first_p, uint64_t *count_p,
               char *reason, size_t size)
{
    const char *name = msg_str (msg, MSG_F_JOB);
    const char *batch = msg_str (msg, MSG_F_BATCH);
    job_t *job = jobs_lookup (self->jobs, name);
    if (msg_has (msg, MSG_F_SPEC))
        return s_submit_spec (self, msg, job, first_p, count_p, reason, size);
    store_batch_t record = { 0 };
    if (batch && jobs_batch_digest (self->jobs, batch, msg, &record)) {
        snprintf (reason, size, "out of memory");
        return -DRV_E_INTERNAL;
    }
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
