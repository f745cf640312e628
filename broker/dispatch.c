//  dispatch.c -- see dispatch.h.  A WORK's tuples are copied, once, from
//  their chunks into one packed frame (version 2) as they are handed to
//  the agent's held table, which keeps their payloads for a requeue; an
//  agent of version 1 gets a frame per tuple.
#include "broker/dispatch.h"
#include "broker/labels.h"
#include "broker/limits.h"
#include "common/log.h"
#include "common/peerlog.h"
#include "proto/wire.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct dispatch {
    zsock_t *backend;           //  ROUTER (borrowed)
    roster_t *roster;
    jobs_t *jobs;
    broker_counters_t *counters;
    broker_config_t config;
    zlist_t *works;             //  work_t, sent after the turn commits
    queue_tuple_t *tuples;      //  scratch: one WORK's tuples
    queue_tuple_t *dead;        //  scratch: the dead letters among them
    queue_tuple_t *excluded;    //  scratch: those the exclusion list holds back
    queue_tuple_t *skipped;     //  scratch: those whose dependencies failed
    deps_ref_t *causes;         //  scratch: the dependency that failed, for each
    deps_ref_t *causes_rest;    //  scratch: of those not in this WORK
    msg_ref_t *refs;            //  scratch: one WORK's refs
    dead_letters_t *dead_letters;   //  the last ones, for the dashboard
    exclusions_t *exclusions;   //  or NULL
    limits_t *limits;           //  or NULL
};

//  A WORK prepared in the turn, sent after the commit.
typedef struct {
    session_t *session;
    zmsg_t *head;               //  signature, command, header
    zframe_t **frames;          //  version 1: a frame per tuple
    size_t count;
    zframe_t *packed;           //  version 2: the tuples' bytes in one frame
    size_t used;                //  bytes of it filled
} work_t;

static void
s_work_destroy (work_t **work_p)
{
    work_t *work = *work_p;
    if (!work)
        return;
    zmsg_destroy (&work->head);
    zframe_destroy (&work->packed);
    for (size_t i = 0; work->frames && i < work->count; i++)
        zframe_destroy (&work->frames[i]);
    free (work->frames);
    free (work);
    *work_p = NULL;
}

dispatch_t *
dispatch_new (zsock_t *backend, roster_t *roster, jobs_t *jobs,
              broker_counters_t *counters, dead_letters_t *dead_letters,
              const broker_config_t *config)
{
    dispatch_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->backend = backend;
    self->roster = roster;
    self->jobs = jobs;
    self->counters = counters;
    self->dead_letters = dead_letters;
    self->config = *config;
    self->works = zlist_new ();
    self->tuples = calloc (config->work_batch, sizeof (queue_tuple_t));
    self->dead = calloc (config->work_batch, sizeof (queue_tuple_t));
    self->excluded = calloc (config->work_batch, sizeof (queue_tuple_t));
    self->refs = calloc (config->work_batch, sizeof (msg_ref_t));
    self->skipped = calloc (config->work_batch, sizeof (queue_tuple_t));
    self->causes = calloc (config->work_batch, sizeof (deps_ref_t));
    self->causes_rest = calloc (config->work_batch, sizeof (deps_ref_t));
    if (!self->works || !self->tuples || !self->dead || !self->excluded || !self->refs
    ||  !self->skipped || !self->causes || !self->causes_rest) {
        dispatch_destroy (&self);
        return NULL;
    }
    return self;
}

void
dispatch_set_exclusions (dispatch_t *self, exclusions_t *exclusions)
{
    self->exclusions = exclusions;
}

void
dispatch_set_limits (dispatch_t *self, limits_t *limits)
{
    self->limits = limits;
}

void
dispatch_destroy (dispatch_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    dispatch_t *self = *self_p;
    work_t *work;
    while (self->works && (work = (work_t *) zlist_pop (self->works)))
        s_work_destroy (&work);
    zlist_destroy (&self->works);
    free (self->tuples);
    free (self->dead);
    free (self->excluded);
    free (self->skipped);
    free (self->causes);
    free (self->causes_rest);
    free (self->refs);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  Sending

//  Send one message: envelope, WORK's signature/command/header, then the
//  packed frame (version 2) or the tuple frames (version 1).
static int
s_send_work_frames (zsock_t *sock, zmsg_t *envelope, zmsg_t **head_p,
                    zframe_t **frames, size_t count, zframe_t **packed_p)
{
    int rc = 0;
    for (zframe_t *frame = zmsg_first (envelope); frame && rc == 0;
         frame = zmsg_next (envelope))
        rc = zframe_send (&frame, sock, ZFRAME_MORE | ZFRAME_REUSE);
    zframe_t *frame;
    while (rc == 0 && (frame = zmsg_pop (*head_p))) {
        rc = zframe_send (&frame, sock, ZFRAME_MORE);
        zframe_destroy (&frame);            //  left by a failed send
    }
    zmsg_destroy (head_p);
    if (*packed_p)
        return rc? rc: zframe_send (packed_p, sock, 0);
    for (size_t i = 0; i < count && rc == 0; i++)
        rc = zframe_send (&frames[i], sock, i + 1 < count? ZFRAME_MORE: 0);
    return rc;
}

void
dispatch_send (dispatch_t *self)
{
    work_t *work;
    while ((work = (work_t *) zlist_pop (self->works))) {
        //  If this fails the tuples stay held, and come back when their
        //  lease expires or the agent is lost: at-least-once, never dropped.
        if (s_send_work_frames (self->backend, session_envelope (work->session), &work->head,
                                work->frames, work->count, &work->packed))
            log_warn ("backend: cannot send WORK to agent %s: %s",
                      peerlog_str (session_name (work->session)).text, zmq_strerror (zmq_errno ()));
        session_sent (work->session, zclock_mono ());
        s_work_destroy (&work);
    }
}

//  ---------------------------------------------------------------------
//  Preparing WORK

static const char *
s_dead_letter_reason (uint32_t why)
{
    switch (why) {
        case QUEUE_WHY_LOST:    return "attempts exhausted: agent lost while running it";
        case QUEUE_WHY_EXPIRED: return "attempts exhausted: lease expired";
        case QUEUE_WHY_RETRY:   return "attempts exhausted: handler failed";
        case QUEUE_WHY_LEFT:    return "attempts exhausted: agent left";
        default:                return "attempts exhausted: no result from the last attempt "
                                       "(agent lost, lease expired or broker restarted)";
    }
}

//  Why tuples of an excluded target, or of a job cancelled or aborted, are
//  not run, as their result's error.
#define EXCLUDED_REASON "excluded by the broker's --exclude-file"
#define CANCELLED_REASON "the job was cancelled (drover cancel)"
#define ABORTED_REASON "the job was aborted: abort_after tuples failed"

//  What a WORK of dead letters asks the agent to store them as (the
//  result's status, PROTOCOL.md 9.1): failed (1), or never run: excluded
//  (2), cancelled (3), aborted (4), skipped (5: a dependency failed, 14).
typedef enum {
    STORE_AS_RUN = 0, STORE_AS_FAILED, STORE_AS_EXCLUDED, STORE_AS_CANCELLED, STORE_AS_ABORTED,
    STORE_AS_SKIPPED
} store_as_t;

//  The WORK message head for count tuples of job (refs in self->refs), in
//  version.  Tuples never run carry dead_letter, so that an agent that does
//  not know `excluded` still does not run them (PROTOCOL.md 10.2), and
//  excluded, so that one that does not know `status` stores cancelled and
//  aborted ones as excluded (12).
static zmsg_t *
s_work_head (dispatch_t *self, job_t *job, size_t count, uint64_t lease_ms,
             const char *dead_letter, store_as_t as, int version)
{
    msg_t *msg = msg_new (MSG_WORK);
    if (!msg)
        return NULL;
    msg_set_version (msg, version);
    size_t options_size;
    const void *options = job_options (job, &options_size);
    msg_set_str (msg, MSG_F_JOB, job_name (job));
    msg_set_str (msg, MSG_F_HANDLER, job_handler (job));
    msg_set_str (msg, MSG_F_SINK, job_sink (job));
    msg_set_raw (msg, MSG_F_OPTIONS, options, options_size);
    msg_set_uint (msg, MSG_F_MAX_ATTEMPTS, job_max_attempts (job));
    msg_set_uint (msg, MSG_F_TIMEOUT_MS, job_timeout_ms (job));
    msg_set_uint (msg, MSG_F_LEASE_MS, lease_ms);
    if (job_sink_key (job))
        msg_set_str (msg, MSG_F_SINK_KEY, job_sink_key (job));
    if (dead_letter)
        msg_set_str (msg, MSG_F_DEAD_LETTER, dead_letter);
    if (as >= STORE_AS_EXCLUDED)
        msg_set_bool (msg, MSG_F_EXCLUDED, true);
    if (as > STORE_AS_EXCLUDED)
        msg_set_uint (msg, MSG_F_STATUS, as);
    msg_set_refs (msg, MSG_F_TUPLES, self->refs, count);
    return wire_encode (&msg);
}

//  Copy a tuple's bytes into the WORK: at the end of the packed frame
//  (version 2), or as frame n.  0 or -ENOMEM.
static int
s_copy (work_t *work, size_t n, payload_t payload)
{
    size_t size;
    const void *data = payload_data (payload, &size);
    if (work->packed) {
        memcpy ((uint8_t *) zframe_data (work->packed) + work->used, data, size);
        work->used += size;
        return 0;
    }
    work->frames[n] = zframe_new (data, size);
    return work->frames[n]? 0: -ENOMEM;
}

//  Hold count tuples of job in the agent's session, under a lease until
//  deadline, their bytes copied into the WORK, their refs to self->refs.
//  A tuple the session cannot hold (out of memory) is given back.  Returns
//  how many it holds.
static size_t
s_hold (dispatch_t *self, session_t *session, job_t *job, queue_tuple_t *tuples,
        size_t count, int64_t deadline, bool dead_letter, work_t *work)
{
    held_t *held = session_held (session);
    size_t n = 0;
    for (size_t i = 0; i < count && i < HELD_AHEAD; i++)
        held_prefetch (held, job, tuples[i].id);
    for (size_t i = 0; i < count; i++) {
        uint64_t id = tuples[i].id;
        if (i + HELD_AHEAD < count)
            held_prefetch (held, job, tuples[i + HELD_AHEAD].id);
        size_t used = work->used;
        int rc = s_copy (work, n, tuples[i].payload);
        if (rc == 0)
            rc = held_put (held, job, id, tuples[i].attempt, &tuples[i].payload);
        if (rc) {
            work->used = used;
            if (work->frames)
                zframe_destroy (&work->frames[n]);
            jobs_untake (self->jobs, job, &tuples[i]);      //  the next turn, then
            continue;
        }
        held_touch (held, job, id, deadline);
        //  A dead letter carries the last attempt that ran.
        uint32_t attempt = tuples[i].attempt;
        if (dead_letter && attempt > job_max_attempts (job))
            attempt = job_max_attempts (job);
        self->refs[n++] = (msg_ref_t) { id, attempt };
    }
    return n;
}

//  A WORK for count tuples: version 2 with the packed frame sized for them.
static work_t *
s_work_new (queue_tuple_t *tuples, size_t count, int version)
{
    work_t *work = calloc (1, sizeof *work);
    if (!work)
        return NULL;
    size_t size = 0;
    for (size_t i = 0; i < count; i++)
        size += payload_size (tuples[i].payload);
    if (version >= 2)
        work->packed = zframe_new (NULL, size);
    else
        work->frames = calloc (count, sizeof (zframe_t *));
    work->count = count;
    if (!work->packed && !work->frames)
        s_work_destroy (&work);
    return work;
}

//  Hand count tuples of one job to an agent: hold them under a lease,
//  record the leases, and prepare the WORK; with dead_letter the agent
//  stores them as `as` (failed, excluded, ...), running none.  Returns how
//  many it got.
static size_t
s_prepare (dispatch_t *self, session_t *session, job_t *job, queue_tuple_t *tuples,
           size_t count, const char *dead_letter, store_as_t as)
{
    int version = session_version (session);
    work_t *work = s_work_new (tuples, count, version);
    if (!work) {
        for (size_t i = count; i-- > 0;)        //  last first: they keep their order
            jobs_untake (self->jobs, job, &tuples[i]);
        return 0;
    }
    uint64_t lease_ms = (uint64_t) job_timeout_ms (job) + self->config.lease_slack_ms;
    if (lease_ms > MSG_LEASE_MS_MAX)
        lease_ms = MSG_LEASE_MS_MAX;
    int64_t deadline = zclock_mono () + (int64_t) lease_ms;
    size_t n = s_hold (self, session, job, tuples, count, deadline, dead_letter != NULL, work);
    if (n == 0) {
        s_work_destroy (&work);
        return 0;
    }
    self->counters->dispatched += n;
    bool failed = dead_letter && as == STORE_AS_FAILED;
    if (failed)
        self->counters->dead_letters += n;
    for (size_t i = 0; failed && i < n; i++)
        dead_letters_add (self->dead_letters, job_name (job), self->refs[i].id,
                          self->refs[i].attempt, dead_letter);
    jobs_leased (self->jobs, job, self->refs, n);
    work->session = session;
    work->count = n;
    if (work->packed && work->used < zframe_size (work->packed)) {
        //  Some were given back: the frame holds only the tuples sent.
        zframe_t *packed = zframe_new (zframe_data (work->packed), work->used);
        zframe_destroy (&work->packed);
        work->packed = packed;
    }
    work->head = s_work_head (self, job, n, lease_ms, dead_letter, as, version);
    if (!work->head || zlist_append (self->works, work)) {
        //  The tuples stay held: their leases bring them back.
        log_error ("backend: out of memory preparing WORK for agent %s",
                   peerlog_str (session_name (session)).text);
        s_work_destroy (&work);
    }
    return n;
}

//  Split what was taken into tuples to run (left in tuples, *count_p) and
//  dead letters, attempts used up (in self->dead).  Returns the dead count.
static size_t
s_split_dead (dispatch_t *self, job_t *job, queue_tuple_t *tuples, size_t *count_p)
{
    size_t live = 0, dead = 0;
    for (size_t i = 0; i < *count_p; i++)
        if (tuples[i].attempt > job_max_attempts (job))
            self->dead[dead++] = tuples[i];
        else
            tuples[live++] = tuples[i];
    *count_p = live;
    return dead;
}

//  Dead letters go in WORKs of their own, one per reason.
static size_t
s_prepare_dead (dispatch_t *self, session_t *session, job_t *job, size_t dead)
{
    size_t sent = 0;
    while (dead > 0) {
        uint32_t why = self->dead[0].why;
        size_t same = 0, rest = 0;
        //  Those with the first one's reason to the front, in order.
        queue_tuple_t *others = self->tuples;   //  free here: live sent already
        for (size_t i = 0; i < dead; i++)
            if (self->dead[i].why == why)
                self->dead[same++] = self->dead[i];
            else
                others[rest++] = self->dead[i];
        sent += s_prepare (self, session, job, self->dead, same, s_dead_letter_reason (why),
                           STORE_AS_FAILED);
        memcpy (self->dead, others, rest * sizeof *others);
        dead = rest;
    }
    return sent;
}

//  The tuples in self->excluded, never to run: of an ended job (cancelled
//  or aborted) or excluded by the list.  Tuples waiting on them are then
//  skipped (PROTOCOL.md 14).
static size_t
s_prepare_stopped (dispatch_t *self, session_t *session, job_t *job, size_t count)
{
    size_t sent;
    switch (job_ended (job)) {
        case JOB_CANCELLED:
            sent = s_prepare (self, session, job, self->excluded, count, CANCELLED_REASON,
                              STORE_AS_CANCELLED);
            break;
        case JOB_ABORTED:
            sent = s_prepare (self, session, job, self->excluded, count, ABORTED_REASON,
                              STORE_AS_ABORTED);
            break;
        default:
            sent = s_prepare (self, session, job, self->excluded, count, EXCLUDED_REASON,
                              STORE_AS_EXCLUDED);
    }
    jobs_not_run (self->jobs, job, self->refs, sent);
    return sent;
}

//  Split what was taken into tuples to run (left in tuples, *count_p) and
//  tuples whose dependencies failed (self->skipped, with self->causes).
//  Returns the skipped count.
static size_t
s_split_skipped (dispatch_t *self, job_t *job, queue_tuple_t *tuples, size_t *count_p)
{
    size_t live = 0, skipped = 0;
    for (size_t i = 0; i < *count_p; i++)
        if (jobs_skipped (self->jobs, job, tuples[i].id, &self->causes[skipped], NULL, 0))
            self->skipped[skipped++] = tuples[i];
        else
            tuples[live++] = tuples[i];
    *count_p = live;
    return skipped;
}

//  Skipped tuples go in WORKs of their own, one per failed dependency,
//  which their error names.
static size_t
s_prepare_skipped (dispatch_t *self, session_t *session, job_t *job, size_t skipped)
{
    size_t sent = 0;
    while (skipped > 0) {
        deps_ref_t cause = self->causes[0];
        char reason[320];
        jobs_skipped (self->jobs, job, self->skipped[0].id, &cause, reason, sizeof reason);
        size_t same = 0, rest = 0;
        queue_tuple_t *others = self->tuples;   //  free here: live sent already
        deps_ref_t *other_causes = self->causes_rest;
        for (size_t i = 0; i < skipped; i++)
            if (self->causes[i].job == cause.job && self->causes[i].id == cause.id)
                self->skipped[same++] = self->skipped[i];
            else {
                other_causes[rest] = self->causes[i];
                others[rest++] = self->skipped[i];
            }
        sent += s_prepare (self, session, job, self->skipped, same, reason, STORE_AS_SKIPPED);
        memcpy (self->skipped, others, rest * sizeof *others);
        memcpy (self->causes, other_causes, rest * sizeof *other_causes);
        skipped = rest;
    }
    return sent;
}

//  queue_fits_fn: a job fits an agent if its `requires` the session's
//  labels meet (labels.h) and its key limits leave room; an ended job's
//  tuples go to any agent, to be stored as such.
typedef struct {
    dispatch_t *self;
    session_t *session;
} fit_t;

static bool
s_fits (void *arg, job_t *job)
{
    fit_t *fit = (fit_t *) arg;
    size_t size;
    const void *options = job_options (job, &size);
    return job_ended (job) != JOB_OPEN
        || ((!fit->self->limits || !limits_full (fit->self->limits, job))
            && labels_fit (session_labels (fit->session), options, size));
}

//  Take up to max waiting tuples of the next job in turn (the level whose
//  turn it is first, PROTOCOL.md 13) that fits the session, into
//  self->tuples; jobs that do not fit keep their tuples and their place.
//  The job in *job_p; NULL with *none_fit when no waiting job fits.
static size_t
s_take_fitting (dispatch_t *self, session_t *session, size_t max, job_t **job_p,
                bool *none_fit)
{
    fit_t fit = { self, session };
    size_t taken = jobs_take_fit (self->jobs, max, self->tuples, job_p, s_fits, &fit);
    *none_fit = !*job_p;
    return taken;
}

//  The taken tuples of a job cancelled or aborted run no more: all go to
//  self->excluded (their number in *excluded_p).  Returns those left to run.
static size_t
s_stop_ended (dispatch_t *self, job_t *job, size_t taken, size_t *excluded_p)
{
    if (job_ended (job) == JOB_OPEN)
        return taken;
    memcpy (self->excluded, self->tuples, taken * sizeof *self->tuples);
    *excluded_p = taken;
    return 0;
}

//  Up to max tuples for session, into self->tuples: set-aside tuples whose
//  key may go now first, else the next fitting job's from the queue, less
//  those excluded (to self->excluded, their number in *excluded_p) or set
//  aside.  The job in *job_p.  0 with *job_p NULL when nothing waits that
//  this agent may run or store now.
static size_t
s_take (dispatch_t *self, session_t *session, size_t max, job_t **job_p,
        size_t *excluded_p)
{
    *job_p = NULL;
    *excluded_p = 0;
    size_t taken = self->limits? limits_ready (self->limits, session_labels (session), max,
                                               self->tuples, job_p): 0;
    if (taken)
        return s_stop_ended (self, *job_p, taken, excluded_p);
    while (jobs_waiting (self->jobs) > 0) {
        bool none_fit = false;
        taken = s_take_fitting (self, session, max, job_p, &none_fit);
        if (none_fit || (taken == 0 && !*job_p))
            break;
        if (taken && job_ended (*job_p) != JOB_OPEN)
            return s_stop_ended (self, *job_p, taken, excluded_p);
        if (taken && self->exclusions)
            *excluded_p = exclusions_split (self->exclusions, *job_p, self->tuples, &taken,
                                            self->excluded);
        if (taken && self->limits)
            taken = limits_admit (self->limits, *job_p, self->tuples, taken);
        if (taken || *excluded_p)
            return taken;
        //  A lane the store had less for, or all excluded or set aside.
    }
    *job_p = NULL;
    return 0;
}

//  Tuples for the next WORK at most: the agent's credit, work_batch, and
//  what a WORK of any job has room for (broker_work_refs_room).
static size_t
s_work_max (dispatch_t *self, uint64_t credit)
{
    size_t room = broker_work_refs_room (jobs_largest_fields (self->jobs));
    size_t max = room > BROKER_WORK_REFS_SURE? room: BROKER_WORK_REFS_SURE;
    if (max > self->config.work_batch)
        max = self->config.work_batch;
    return credit < max? (size_t) credit: max;
}

void
dispatch_run (dispatch_t *self)
{
    session_t *idle = NULL;     //  the first agent nothing fitted, this run
    while (true) {
        session_t *session = roster_ready (self->roster);
        if (!session || session == idle)
            break;
        size_t max = s_work_max (self, session_credit (session));
        job_t *job;
        size_t excluded;
        size_t taken = s_take (self, session, max, &job, &excluded);
        if (taken == 0 && excluded == 0) {
            if (jobs_waiting (self->jobs) == 0
            &&  (!self->limits || limits_aside (self->limits) == 0))
                break;
            idle = idle? idle: session;
            roster_spend (self->roster, session, 0);    //  to the back of the ring
            continue;
        }
        size_t skipped = taken? s_split_skipped (self, job, self->tuples, &taken): 0;
        size_t dead = s_split_dead (self, job, self->tuples, &taken);
        size_t sent = taken? s_prepare (self, session, job, self->tuples, taken, NULL,
                                        STORE_AS_RUN): 0;
        if (dead)
            sent += s_prepare_dead (self, session, job, dead);
        if (excluded)
            sent += s_prepare_stopped (self, session, job, excluded);
        if (skipped)
            sent += s_prepare_skipped (self, session, job, skipped);
        if (sent == 0)
            break;              //  out of memory: try again next turn
        roster_spend (self->roster, session, sent);
        idle = NULL;
    }
}
