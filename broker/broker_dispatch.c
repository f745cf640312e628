//  broker_dispatch.c -- handing queued tuples to agents by credit: each
//  WORK holds tuples of one job, leased to the agent; dead letters (attempts
//  used up) go in WORKs of their own.  Dispatch runs inside the turn's store
//  transaction (it reads payloads and records leases); the WORK goes out
//  after the commit (broker_send_works).
#include "broker/broker_private.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

//  A WORK prepared in the turn, sent after the commit.  The frames are the
//  ones the agent's held table keeps (sent with ZFRAME_REUSE); nothing can
//  take them from it between dispatch and send, as both end the turn.
typedef struct {
    session_t *agent;
    zmsg_t *head;               //  signature, command, header
    zframe_t **frames;
    size_t count;
} work_t;

static void
s_work_destroy (work_t **work_p)
{
    work_t *work = *work_p;
    if (!work)
        return;
    zmsg_destroy (&work->head);
    free (work->frames);
    free (work);
    *work_p = NULL;
}

//  Send one message: envelope, WORK's signature/command/header, then the
//  tuple frames.  Tuple frames go with ZFRAME_REUSE: libzmq shares their
//  data by reference count instead of copying, and the agent's held table
//  keeps ours for a requeue.
static int
s_send_work_frames (zsock_t *sock, zmsg_t *envelope, zmsg_t **head_p,
                    zframe_t **frames, size_t count)
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
    for (size_t i = 0; i < count && rc == 0; i++)
        rc = zframe_send (&frames[i], sock,
                          ZFRAME_REUSE | (i + 1 < count? ZFRAME_MORE: 0));
    zmsg_destroy (head_p);
    return rc;
}

void
broker_send_works (broker_t *self)
{
    work_t *work;
    while ((work = (work_t *) zlist_pop (self->works))) {
        //  If this fails the tuples stay held, and come back when their
        //  lease expires or the agent is lost: at-least-once, never dropped.
        if (s_send_work_frames (self->backend, session_envelope (work->agent), &work->head,
                                work->frames, work->count))
            log_warn ("backend: cannot send WORK to agent %s: %s", session_name (work->agent),
                      zmq_strerror (zmq_errno ()));
        session_sent (work->agent, zclock_mono ());
        s_work_destroy (&work);
    }
}

void
broker_drop_works (broker_t *self)
{
    work_t *work;
    while ((work = (work_t *) zlist_pop (self->works)))
        s_work_destroy (&work);
}

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

//  The WORK message head for count tuples of job (refs in self->refs).
static zmsg_t *
s_work_head (broker_t *self, job_t *job, size_t count, uint64_t lease_ms,
             const char *dead_letter)
{
    msg_t *msg = msg_new (MSG_WORK);
    if (!msg)
        return NULL;
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
    msg_set_refs (msg, MSG_F_TUPLES, self->refs, count);
    return wire_encode (&msg);
}

//  Hand count tuples of one job to an agent: hold them under a lease,
//  record the leases, and prepare the WORK.  Returns how many it got.
static size_t
s_send_work (broker_t *self, session_t *agent, job_t *job, queue_tuple_t *tuples,
             size_t count, const char *dead_letter)
{
    work_t *work = calloc (1, sizeof *work);
    if (work)
        work->frames = calloc (count, sizeof (zframe_t *));
    if (!work || !work->frames || broker_refs_reserve (self, count)) {
        if (work)
            free (work->frames);
        free (work);
        for (size_t i = count; i-- > 0;)
            if (queue_return (self->queue, job, &tuples[i]))
                zframe_destroy (&tuples[i].frame);
        return 0;
    }
    uint64_t lease_ms = (uint64_t) job_timeout_ms (job) + self->config.lease_slack_ms;
    int64_t deadline = zclock_mono () + (int64_t) lease_ms;
    held_t *held = session_held (agent);
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        zframe_t *frame = tuples[i].frame;
        uint64_t id = tuples[i].id;
        if (held_put (held, job, id, tuples[i].attempt, &tuples[i].frame)) {
            //  Out of memory: leave it for the next turn.
            if (queue_return (self->queue, job, &tuples[i])) {
                job_dispatched (job, 1);
                broker_count_failed (self, job, &tuples[i]);
            }
            continue;
        }
        held_touch (held, job, id, deadline);
        work->frames[n] = frame;
        //  A dead letter carries the last attempt that ran.
        uint32_t attempt = tuples[i].attempt;
        if (dead_letter && attempt > job_max_attempts (job))
            attempt = job_max_attempts (job);
        self->refs[n++] = (msg_ref_t) { id, attempt };
    }
    if (n == 0) {
        s_work_destroy (&work);
        return 0;
    }
    job_dispatched (job, n);
    self->counters.dispatched += n;
    if (dead_letter)
        self->counters.dead_letters += n;
    if (store_lease (self->store, job, self->refs, n))
        log_error ("job %s: the store failed to record %zu leases", job_name (job), n);
    work->agent = agent;
    work->count = n;
    work->head = s_work_head (self, job, n, lease_ms, dead_letter);
    if (!work->head || zlist_append (self->works, work)) {
        //  The tuples stay held: their leases bring them back.
        log_error ("backend: out of memory preparing WORK for agent %s", session_name (agent));
        s_work_destroy (&work);
    }
    return n;
}

//  Split what was taken into tuples to run (left in tuples, *count_p) and
//  dead letters, attempts used up (in self->dead).  Returns the dead count.
static size_t
s_split_dead (broker_t *self, job_t *job, queue_tuple_t *tuples, size_t *count_p)
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
s_send_dead (broker_t *self, session_t *agent, job_t *job, size_t dead)
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
        sent += s_send_work (self, agent, job, self->dead, same, s_dead_letter_reason (why));
        memcpy (self->dead, others, rest * sizeof *others);
        dead = rest;
    }
    return sent;
}

//  Agents with credit take turns; each gets up to min(credit, work_batch)
//  tuples of one job per WORK, so no agent ever holds more than its credit.
void
broker_dispatch (broker_t *self)
{
    while (queue_depth (self->queue) > 0) {
        session_t *agent = roster_ready (self->roster);
        if (!agent)
            break;
        uint64_t credit = session_credit (agent);
        size_t max = credit < self->config.work_batch? (size_t) credit: self->config.work_batch;
        job_t *job;
        size_t taken = queue_take (self->queue, max, self->tuples, &job);
        if (taken == 0) {
            if (job)
                continue;       //  a lane the store had less for: next job
            break;
        }
        size_t dead = s_split_dead (self, job, self->tuples, &taken);
        size_t sent = taken? s_send_work (self, agent, job, self->tuples, taken, NULL): 0;
        if (dead)
            sent += s_send_dead (self, agent, job, dead);
        if (sent == 0)
            break;              //  out of memory: try again next turn
        roster_spend (self->roster, agent, sent);
    }
}
