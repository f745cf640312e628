//  agent.c -- the agent's reactor; see agent.h.  One broker session at a
//  time over a DEALER (HELLO, WORK, DONE / RETRY / CREDIT / TOUCH,
//  heartbeats, reconnect with back-off); tasks go to the worker processes
//  (agent/supervisor.h), finished ones to the outbox.  A task holds a slot
//  from WORK until DONE or RETRY; reports and freed slots go out once per
//  reactor turn, so they batch under load.
#include "agent/agent.h"
#include "agent/outbox.h"
#include "agent/supervisor.h"
#include "agent/task.h"
#include "common/curve.h"
#include "common/log.h"
#include "common/peerlog.h"
#include "proto/msg.h"
#include "proto/wire.h"

#include <czmq.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define HEARTBEAT_DEFAULT_MS    1000    //  until WELCOME says otherwise
#define AGENT_MAX_MESSAGE       (1024LL * 1024 * 1024)  //  bytes in a frame from the broker
#define BACKOFF_MIN_MS          100
#define BACKOFF_MAX_MS          5000
#define SOCKET_BUDGET           1000    //  messages read per socket per turn
#define BYE_LINGER_MS           1000    //  to let the last DONE and BYE out
#define TOUCH_CHECK_MS          250     //  how often running tasks' leases are looked at
#define UNSEALABLE_LOG_MS       10000   //  one "needs sealed results" line this often
#define AGENT_LOG_PER_SEC       10      //  lines the broker can cause, per second

//  What a tuple of a job whose WORK has sink_key fails with when this agent
//  has no keypair to seal its results.
#define UNSEALABLE_REASON "job needs sealed results: start the agent with --cert"

//  SIGINT and SIGTERM seen: the first drains, the second stops at once.
static volatile sig_atomic_t s_interrupts;

struct agent {
    char *broker_endpoint;
    char *name;
    keys_t *keys;               //  our keypair, borrowed (NULL: none)
    uint8_t broker_key[KEYS_KEY_SIZE];
    bool broker_curve;          //  dial the broker as a CURVE client
    int64_t unsealable_logged;  //  rate limit of UNSEALABLE_REASON lines
    uint64_t unsealable_unlogged;
    peerlog_t *log;             //  lines the broker can cause, rate-limited
    size_t slots;
    int grace_ms;
    supervisor_t *workers;
    zpoller_t *poller;
    outbox_t *outbox;
    zhashx_t *jobs;             //  name -> task_job_t, the latest record per job
    task_job_t *reports;        //  jobs with DONE / RETRY to send this turn
    task_t *running_head, *running_tail;    //  tasks on the workers
    pool_task_t *submit;        //  scratch for supervisor_submit
    size_t submit_cap;

    //  The broker session.  session counts sessions: a task remembers the
    //  one it came in, and only that session hears DONE or RETRY for it.
    zsock_t *broker;            //  NULL while waiting to reconnect
    uint32_t session;
    bool welcomed;
    uint64_t hello_slots;
    int64_t heartbeat_ms;
    int64_t last_heard, last_sent;
    int64_t backoff_ms;
    int64_t reconnect_at;

    //  Slots: held counts this session's tasks until reported, and earlier
    //  sessions' tasks until they leave the workers (HELLO offered the rest).
    size_t held;
    size_t storing;             //  this session's tasks waiting for STORED
    uint64_t credit;            //  slots freed, not yet returned with CREDIT
    size_t running;
    bool warned_over_credit;

    bool draining;
    int64_t drain_until;
    int64_t next_touch;         //  when held tasks' leases are next looked at
    int64_t touch_now;
    task_t **due;               //  scratch: tasks whose lease is due for TOUCH
    size_t due_count, due_cap;
    agent_counters_t counters;
};

static void
s_on_interrupt (int sig)
{
    (void) sig;
    s_interrupts++;
}

void
agent_signals_install (void)
{
    zsys_handler_set (NULL);
    struct sigaction action = { .sa_handler = s_on_interrupt };
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
}

//  ---------------------------------------------------------------------
//  Sending to the broker

static void
s_send (agent_t *self, msg_t **msg_p)
{
    msg_command_t command = msg_command (*msg_p);
    int rc = wire_send (msg_p, self->broker, NULL);
    msg_destroy (msg_p);
    if (rc)
        log_warn ("could not send %s to broker %s: %s", msg_command_name (command),
                  self->broker_endpoint, rc == -EAGAIN? "send queue full": msg_error_name (rc));
    self->last_sent = zclock_mono ();
}

static void
s_send_error (agent_t *self, zsock_t *sock, int code, const char *reason)
{
    self->counters.bad_messages++;
    wire_send_error (sock, NULL, code, reason);
}

//  ---------------------------------------------------------------------
//  Reports: DONE, RETRY and CREDIT, once per turn

static int
s_push_ref (msg_ref_t **refs, size_t *count, size_t *cap, msg_ref_t ref)
{
    if (*count == *cap) {
        size_t grown = *cap? *cap * 2: 16;
        msg_ref_t *more = realloc (*refs, grown * sizeof *more);
        if (!more)
            return -1;
        *refs = more;
        *cap = grown;
    }
    (*refs)[(*count)++] = ref;
    return 0;
}

typedef enum { REPORT_DONE, REPORT_DEAD, REPORT_RETRY } report_t;

static void
s_report (agent_t *self, task_job_t *job, msg_ref_t ref, report_t kind, const char *reason)
{
    if (!job->reporting) {
        job->reporting = true;
        task_job_ref (job);
        job->next_report = self->reports;
        self->reports = job;
    }
    int rc = kind == REPORT_DONE? s_push_ref (&job->done, &job->done_count, &job->done_cap, ref)
           : kind == REPORT_DEAD? s_push_ref (&job->dead, &job->dead_count, &job->dead_cap, ref)
           : s_push_ref (&job->retry, &job->retry_count, &job->retry_cap, ref);
    if (rc)
        log_error ("out of memory: tuple %llu of job %s is not reported",
                   (unsigned long long) ref.id, job->name);
    if (kind == REPORT_RETRY && !job->retry_reason && reason)
        job->retry_reason = strdup (reason);
}

static void
s_flush_reports (agent_t *self)
{
    bool live = self->broker && self->welcomed;
    while (self->reports) {
        task_job_t *job = self->reports;
        self->reports = job->next_report;
        if (live && (job->done_count || job->dead_count)) {
            msg_t *msg = msg_new (MSG_DONE);
            msg_set_str (msg, MSG_F_JOB, job->name);
            msg_set_refs (msg, MSG_F_TUPLES, job->done, job->done_count);
            if (job->dead_count)
                msg_set_refs (msg, MSG_F_DEAD, job->dead, job->dead_count);
            s_send (self, &msg);
        }
        if (live && job->retry_count) {
            msg_t *msg = msg_new (MSG_RETRY);
            msg_set_str (msg, MSG_F_JOB, job->name);
            msg_set_refs (msg, MSG_F_TUPLES, job->retry, job->retry_count);
            if (job->retry_reason)
                msg_set_str (msg, MSG_F_REASON, job->retry_reason);
            s_send (self, &msg);
        }
        job->done_count = job->dead_count = job->retry_count = 0;
        zstr_free (&job->retry_reason);
        job->reporting = false;
        job->next_report = NULL;
        task_job_unref (&job);
    }
    //  While draining, freed slots stay with us: new work would only be
    //  handed back at BYE.
    if (live && self->credit && !self->draining) {
        msg_t *msg = msg_new (MSG_CREDIT);
        msg_set_uint (msg, MSG_F_CREDIT, self->credit);
        s_send (self, &msg);
        self->credit = 0;
    }
}

//  ---------------------------------------------------------------------
//  The broker session

static int
s_connect (agent_t *self, int64_t now)
{
    self->broker = zsock_new (ZMQ_DEALER);
    if (!self->broker)
        return -1;
    zsock_set_sndtimeo (self->broker, 0);   //  never block the reactor
    zsock_set_linger (self->broker, 0);
    //  WORK is at most a few hundred tuples of at most the broker's tuple
    //  size (1 MiB by default; generous here, as a broker may allow more):
    //  anything bigger is not a broker speaking drover.
    zsock_set_maxmsgsize (self->broker, AGENT_MAX_MESSAGE);
    int rc = self->broker_curve? curve_client (self->broker, self->keys, self->broker_key): 0;
    if (rc)
        log_error ("cannot set up CURVE to broker %s: %s", self->broker_endpoint, strerror (-rc));
    if (rc || zsock_connect (self->broker, "%s", self->broker_endpoint) != 0) {
        zsock_destroy (&self->broker);
        return -1;
    }
    zpoller_add (self->poller, self->broker);
    self->welcomed = false;
    self->credit = 0;
    self->hello_slots = self->held < self->slots? self->slots - self->held: 0;
    self->counters.sessions++;
    self->last_heard = now;
    msg_t *msg = msg_new (MSG_HELLO);
    msg_set_str (msg, MSG_F_AGENT, self->name);
    msg_set_uint (msg, MSG_F_SLOTS, self->hello_slots);
    s_send (self, &msg);
    return 0;
}

//  End the session: the broker queues again what we held, so this
//  session's results still go to sinks but are no longer reported.
static void
s_disconnect (agent_t *self, int64_t now, int64_t delay_ms)
{
    zpoller_remove (self->poller, self->broker);
    zsock_destroy (&self->broker);
    self->session++;
    self->welcomed = false;
    self->held -= self->storing;
    self->storing = 0;
    self->credit = 0;
    for (task_job_t *job = self->reports; job; job = job->next_report)
        job->done_count = job->dead_count = job->retry_count = 0;
    self->reconnect_at = now + delay_ms;
}

static void
s_lost (agent_t *self, int64_t now, const char *why)
{
    log_warn ("%s: reconnecting to broker %s in %lld ms", why, self->broker_endpoint,
              (long long) self->backoff_ms);
    s_disconnect (self, now, self->backoff_ms);
    self->backoff_ms = self->backoff_ms * 2 < BACKOFF_MAX_MS? self->backoff_ms * 2: BACKOFF_MAX_MS;
}

//  The job record WORK describes: the listed one if it matches, else a new
//  one that replaces it in the table (tasks keep the record they came with).
static task_job_t *
s_job (agent_t *self, msg_t *msg)
{
    const char *name = msg_str (msg, MSG_F_JOB);
    const char *handler = msg_str (msg, MSG_F_HANDLER);
    //  A sealed sink travels with the job as "ENDPOINT KEY" (outbox.h).
    const char *sink_key = msg_str (msg, MSG_F_SINK_KEY);
    char *sealed_sink = sink_key? zsys_sprintf ("%s %s", msg_str (msg, MSG_F_SINK), sink_key): NULL;
    if (sink_key && !sealed_sink)
        return NULL;
    const char *sink = sealed_sink? sealed_sink: msg_str (msg, MSG_F_SINK);
    size_t options_size = 0;
    const void *options = msg_raw (msg, MSG_F_OPTIONS, &options_size);
    uint64_t max_attempts = msg_has (msg, MSG_F_MAX_ATTEMPTS)? msg_uint (msg, MSG_F_MAX_ATTEMPTS): 3;
    uint64_t timeout_ms = msg_has (msg, MSG_F_TIMEOUT_MS)? msg_uint (msg, MSG_F_TIMEOUT_MS): 30000;
    max_attempts = max_attempts < 1? 1: max_attempts > UINT32_MAX? UINT32_MAX: max_attempts;
    timeout_ms = timeout_ms > UINT32_MAX? UINT32_MAX: timeout_ms;

    task_job_t *job = zhashx_lookup (self->jobs, name);
    if (job && task_job_same (job, handler, sink, options, options_size,
                              (uint32_t) max_attempts, (uint32_t) timeout_ms)) {
        zstr_free (&sealed_sink);
        return job;
    }
    task_job_t *fresh = task_job_new (name, handler, sink, options, options_size,
                                      (uint32_t) max_attempts, (uint32_t) timeout_ms);
    zstr_free (&sealed_sink);
    if (!fresh)
        return NULL;
    if (job) {
        zhashx_delete (self->jobs, name);
        job->table = NULL;
        if (job->refs == 0)
            task_job_unref (&job);
    }
    if (zhashx_insert (self->jobs, name, fresh) == 0)
        fresh->table = self->jobs;
    return fresh;
}

//  WORK with dead_letter: the tuples' attempts are used up; they are not
//  run but stored at the sink as failed with that error, then reported dead.
static void
s_on_dead_letters (agent_t *self, task_job_t *job, msg_t *msg, const msg_ref_t *refs, size_t count)
{
    const char *error = msg_str (msg, MSG_F_DEAD_LETTER);
    uint64_t now_us = (uint64_t) zclock_time () * 1000;
    for (size_t i = 0; i < count; i++) {
        zframe_t *tuple = msg_payload_pop (msg);
        task_t *task = task_new (job, refs[i], self->session, &tuple);
        if (!task) {
            //  The broker's lease brings it back.
            zframe_destroy (&tuple);
            log_error ("out of memory: dead letter %llu of job %s not stored",
                       (unsigned long long) refs[i].id, job->name);
            continue;
        }
        task->dead = true;
        task->status = POOL_ERROR;
        task->started_us = now_us;
        task->data = zframe_new (error, strlen (error));
        self->held++;
        if (outbox_add (self->outbox, task) == 0) {
            self->storing++;
            self->counters.dead_letters++;
            self->counters.failed++;
        }
        else {
            //  The broker's lease brings it back.
            log_error ("cannot send dead letter %llu of job %s to sink %s",
                       (unsigned long long) refs[i].id, job->name, job->sink);
            self->held--;
            task_destroy (&task);
        }
    }
    log_info ("job %s: %zu tuples are dead letters (%s); storing them as failed", job->name,
              count, error);
}

//  WORK whose job wants sealed results (sink_key) but this agent has no
//  keypair, or the key is not one: the tuples are not run.  An attempt
//  that is not the last fails at once with a reason saying why (RETRY), so
//  the broker's back-off applies and an agent that has keys may take it.
//  A last attempt or a dead letter is not reported at all: RETRY on a last
//  attempt would make the broker count it failed with no dead letter at the
//  sink, and only an agent with keys can store that dead letter.  Its lease
//  runs out instead and the broker hands it on (as a dead letter).  Either
//  way the slots come back with CREDIT.  True if the WORK was handled so.
static bool
s_unsealable (agent_t *self, msg_t *msg, const msg_ref_t *refs, size_t count)
{
    uint8_t key[KEYS_KEY_SIZE];
    char err[160];
    const char *reason = NULL;
    if (!self->keys)
        reason = UNSEALABLE_REASON;
    else
    if (keys_z85_decode (msg_str (msg, MSG_F_SINK_KEY), key, "WORK sink_key", err, sizeof err))
        reason = err;
    if (!reason)
        return false;
    //  A record only for the reports (which hold it), not listed.
    const char *handler = msg_str (msg, MSG_F_HANDLER);
    task_job_t *job = task_job_new (msg_str (msg, MSG_F_JOB), handler? handler: "",
                                    msg_str (msg, MSG_F_SINK), NULL, 0, 1, 0);
    if (!job)
        return true;                //  out of memory: the leases bring them back
    uint64_t max_attempts = msg_has (msg, MSG_F_MAX_ATTEMPTS)? msg_uint (msg, MSG_F_MAX_ATTEMPTS): 3;
    bool dead_letters = msg_has (msg, MSG_F_DEAD_LETTER);
    size_t lapsed = 0;
    for (size_t i = 0; i < count; i++) {
        if (dead_letters || refs[i].attempt >= max_attempts)
            lapsed++;
        else
            s_report (self, job, refs[i], REPORT_RETRY, reason);
    }
    if (lapsed == count)
        task_job_unref (&job);      //  no report holds it
    self->credit += count;
    self->counters.unsealable += count;
    int64_t now = zclock_mono ();
    if (self->unsealable_logged && now - self->unsealable_logged < UNSEALABLE_LOG_MS) {
        self->unsealable_unlogged += count;
        return true;
    }
    log_error ("job %s: %s; %zu tuples handed back, %zu on their last attempt left to their "
               "lease (%llu more since the last such line)", msg_str (msg, MSG_F_JOB), reason,
               count - lapsed, lapsed, (unsigned long long) self->unsealable_unlogged);
    self->unsealable_logged = now;
    self->unsealable_unlogged = 0;
    return true;
}

static void
s_on_work (agent_t *self, msg_t *msg, int64_t now)
{
    size_t count = 0;
    const msg_ref_t *refs = msg_refs (msg, MSG_F_TUPLES, &count);
    if (self->draining) {
        log_debug ("shutting down: not running %zu tuples of job %s", count, msg_str (msg, MSG_F_JOB));
        return;
    }
    if (count == 0)
        return;
    if (msg_has (msg, MSG_F_SINK_KEY) && s_unsealable (self, msg, refs, count))
        return;
    task_job_t *job = s_job (self, msg);
    if (job && msg_has (msg, MSG_F_DEAD_LETTER)) {
        s_on_dead_letters (self, job, msg, refs, count);
        return;
    }
    if (job && count > self->submit_cap) {
        pool_task_t *more = realloc (self->submit, count * sizeof *more);
        if (more) {
            self->submit = more;
            self->submit_cap = count;
        }
    }
    if (!job || count > self->submit_cap) {
        //  The broker gets them back when we leave or are lost.
        log_error ("out of memory: cannot run %zu tuples of job %s", count, msg_str (msg, MSG_F_JOB));
        return;
    }
    uint64_t lease_ms = msg_uint (msg, MSG_F_LEASE_MS);
    lease_ms = lease_ms > UINT32_MAX? UINT32_MAX: lease_ms;
    size_t submitted = 0;
    for (size_t i = 0; i < count; i++) {
        zframe_t *tuple = msg_payload_pop (msg);
        task_t *task = task_new (job, refs[i], self->session, &tuple);
        if (!task) {
            zframe_destroy (&tuple);
            s_report (self, job, refs[i], REPORT_RETRY, "agent out of memory");
            self->credit++;
            continue;
        }
        task->state = TASK_RUNNING;
        task->lease_ms = (uint32_t) lease_ms;
        //  Ask for more time at 2/3 of the lease: a third of it is left
        //  for TOUCH to reach the broker.
        task->touch_at = lease_ms? now + (int64_t) lease_ms * 2 / 3: INT64_MAX;
        if (task->touch_at < self->next_touch)
            self->next_touch = task->touch_at;
        task->next = NULL;
        task->prev = self->running_tail;
        if (self->running_tail)
            self->running_tail->next = task;
        else
            self->running_head = task;
        self->running_tail = task;
        self->submit[submitted++] = (pool_task_t) {
            .id = (uint64_t) (uintptr_t) task, .handler = job->handler,
            .tuple = zframe_data (task->tuple), .tuple_size = zframe_size (task->tuple),
            .options = job->options, .options_size = job->options_size,
            .timeout_ms = job->timeout_ms };
    }
    self->held += submitted;
    self->running += submitted;
    if (supervisor_submit (self->workers, self->submit, submitted) != 0) {
        //  Hand them back; they come home to the list's tail.
        log_error ("out of memory: handing back %zu tuples of job %s", submitted, job->name);
        for (size_t i = 0; i < submitted; i++) {
            task_t *task = self->running_tail;
            self->running_tail = task->prev;
            if (self->running_tail)
                self->running_tail->next = NULL;
            else
                self->running_head = NULL;
            s_report (self, job, task->ref, REPORT_RETRY, "agent out of memory");
            task_destroy (&task);
        }
        self->held -= submitted;
        self->running -= submitted;
        self->credit += submitted;
        return;
    }
    if (self->held > self->slots && !self->warned_over_credit) {
        log_warn ("broker sent more tuples than our credit (%zu held, %zu slots); they wait",
                  self->held, self->slots);
        self->warned_over_credit = true;
    }
}

//  A task whose lease is due for TOUCH goes into self->due.
static void
s_touch_collect (void *arg, task_t *task)
{
    agent_t *self = arg;
    if (task->lease_ms == 0 || task->session != self->session)
        task->touch_at = INT64_MAX;         //  no lease, or that broker session is over
    if (task->touch_at > self->touch_now) {
        if (task->touch_at < self->next_touch)
            self->next_touch = task->touch_at;
        return;
    }
    if (self->due_count == self->due_cap) {
        size_t cap = self->due_cap? self->due_cap * 2: 64;
        task_t **more = realloc (self->due, cap * sizeof *more);
        if (!more)
            return;                         //  touched next time
        self->due = more;
        self->due_cap = cap;
    }
    self->due[self->due_count++] = task;
}

static int
s_touch_order (const void *a, const void *b)
{
    const task_t *x = *(task_t *const *) a, *y = *(task_t *const *) b;
    if (x->job != y->job)
        return (uintptr_t) x->job < (uintptr_t) y->job? -1: 1;
    return x->lease_ms < y->lease_ms? -1: x->lease_ms > y->lease_ms;
}

//  TOUCH at 2/3 of their lease for this session's tuples we still hold:
//  running, or waiting for the sink to store their results (a slow sink
//  is not a reason to run them again).  One message per job and lease.
static void
s_touch (agent_t *self, int64_t now)
{
    if (now < self->next_touch)
        return;
    self->next_touch = now + TOUCH_CHECK_MS;
    if (!self->broker || !self->welcomed)
        return;                 //  look again later: the session may come back
    self->touch_now = now;
    self->due_count = 0;
    for (task_t *task = self->running_head; task; task = task->next)
        s_touch_collect (self, task);
    outbox_each (self->outbox, s_touch_collect, self);
    qsort (self->due, self->due_count, sizeof *self->due, s_touch_order);
    msg_ref_t refs[256];
    for (size_t i = 0; i < self->due_count;) {
        task_t *first = self->due[i];
        size_t count = 0;
        for (; i < self->due_count && count < 256 && !s_touch_order (&first, &self->due[i]); i++) {
            refs[count++] = self->due[i]->ref;
            self->due[i]->touch_at = now + (int64_t) first->lease_ms * 2 / 3;
        }
        msg_t *msg = msg_new (MSG_TOUCH);
        msg_set_str (msg, MSG_F_JOB, first->job->name);
        msg_set_refs (msg, MSG_F_TUPLES, refs, count);
        msg_set_uint (msg, MSG_F_LEASE_MS, first->lease_ms);
        s_send (self, &msg);
        self->counters.touched += count;
        log_debug ("TOUCH %zu tuples of job %s (lease %u ms)", count, first->job->name,
                   first->lease_ms);
        if (first->touch_at < self->next_touch)
            self->next_touch = first->touch_at;
    }
}

static void
s_on_broker (agent_t *self, msg_t *msg, int64_t now)
{
    switch (msg_command (msg)) {
        case MSG_WELCOME:
            if (self->welcomed)
                break;
            self->welcomed = true;
            self->heartbeat_ms = (int64_t) msg_uint (msg, MSG_F_HEARTBEAT_MS);
            if (self->heartbeat_ms <= 0)
                self->heartbeat_ms = HEARTBEAT_DEFAULT_MS;
            self->backoff_ms = BACKOFF_MIN_MS;
            log_info ("agent %s connected to broker %s (%llu slots)", self->name,
                      self->broker_endpoint, (unsigned long long) self->hello_slots);
            break;
        case MSG_WORK:
            s_on_work (self, msg, now);
            break;
        case MSG_HEARTBEAT:
            break;
        case MSG_ERROR: {
            int code = (int) msg_uint (msg, MSG_F_CODE);
            peerlog_write (self->log, "broker errors", LOG_LEVEL_WARN,
                           "broker %s answered ERROR %s: %s", self->broker_endpoint,
                           msg_error_name (code), peerlog_str (msg_str (msg, MSG_F_REASON)).text);
            //  It does not know us (it restarted, or lost us): start over.
            if (code == DRV_E_UNEXPECTED) {
                s_disconnect (self, now, 0);
                self->backoff_ms = BACKOFF_MIN_MS;
            }
            break;
        }
        default:
            peerlog_write (self->log, "broker errors", LOG_LEVEL_WARN,
                           "unexpected %s from broker %s", msg_command_name (msg_command (msg)),
                           self->broker_endpoint);
            s_send_error (self, self->broker, DRV_E_UNEXPECTED, "agents take WELCOME, WORK, HEARTBEAT");
            break;
    }
}

static void
s_read_broker (agent_t *self, int64_t now)
{
    for (int budget = SOCKET_BUDGET; budget && self->broker
                                     && (zsock_events (self->broker) & ZMQ_POLLIN); budget--) {
        zmsg_t *zmsg = zmsg_recv (self->broker);
        if (!zmsg)
            return;
        self->last_heard = now;
        zmsg_first (zmsg);
        zframe_t *command = zmsg_next (zmsg);
        bool is_error = command && zframe_streq (command, "ERROR");
        msg_t *msg = NULL;
        int rc = wire_decode (&zmsg, &msg);
        if (rc) {
            peerlog_write (self->log, "broker errors", LOG_LEVEL_WARN,
                           "bad message from broker %s: %s", self->broker_endpoint,
                           msg_error_name (rc));
            if (!is_error)
                s_send_error (self, self->broker, rc, "agent could not decode the message");
            else
                self->counters.bad_messages++;
            continue;
        }
        s_on_broker (self, msg, now);
        msg_destroy (&msg);
    }
}

static void
s_timers (agent_t *self, int64_t now)
{
    if (self->broker) {
        if (now - self->last_heard >= 3 * self->heartbeat_ms) {
            char why[128];
            snprintf (why, sizeof why, self->welcomed? "broker silent for %lld ms"
                                                     : "no answer to HELLO for %lld ms",
                      (long long) (now - self->last_heard));
            s_lost (self, now, why);
        }
        else
        if (self->welcomed && now - self->last_sent >= self->heartbeat_ms) {
            msg_t *msg = msg_new (MSG_HEARTBEAT);
            s_send (self, &msg);
        }
    }
    else
    if (now >= self->reconnect_at && !self->draining)
        s_connect (self, now);
    outbox_resend (self->outbox, now);
}

static int
s_timeout (agent_t *self, int64_t now)
{
    int64_t next = now + 1000;
    if (self->broker) {
        int64_t silent = self->last_heard + 3 * self->heartbeat_ms;
        next = silent < next? silent: next;
        int64_t beat = self->last_sent + self->heartbeat_ms;
        if (self->welcomed && beat < next)
            next = beat;
    }
    else
    if (!self->draining && self->reconnect_at < next)
        next = self->reconnect_at;
    int64_t resend = outbox_next_resend (self->outbox);
    next = resend < next? resend: next;
    if (self->draining && self->drain_until < next)
        next = self->drain_until;
    int64_t workers = supervisor_next_timer (self->workers);
    next = workers < next? workers: next;
    next = self->next_touch < next? self->next_touch: next;
    //  A signal that lands just before the poll does not wake it: look again soon.
    next = now + 200 < next? now + 200: next;
    return next > now? (int) (next - now): 0;
}

//  ---------------------------------------------------------------------
//  Results from the workers and from the sinks

static void
s_on_result (agent_t *self, pool_result_t *result)
{
    task_t *task = (task_t *) (uintptr_t) result->id;
    if (result->status == POOL_PARTIAL) {
        if (task_add_partial (task, zframe_data (result->data), zframe_size (result->data)))
            log_error ("out of memory: an output of tuple %llu of job %s is lost",
                       (unsigned long long) task->ref.id, task->job->name);
        return;
    }
    if (task->prev)
        task->prev->next = task->next;
    else
        self->running_head = task->next;
    if (task->next)
        task->next->prev = task->prev;
    else
        self->running_tail = task->prev;
    task->prev = task->next = NULL;
    self->running--;
    task->status = result->status;
    task->outputs = result->outputs;
    task->started_us = result->started_us;
    task->duration_us = result->duration_us;
    task->data = result->data;
    result->data = NULL;
    if (task->status == POOL_OK && task->partial_outputs) {
        //  The outputs streamed before the last, then the rest, in order.
        zframe_t *all = zframe_new (NULL, task->partial_size + zframe_size (task->data));
        if (all) {
            memcpy (zframe_data (all), task->partial, task->partial_size);
            memcpy (zframe_data (all) + task->partial_size, zframe_data (task->data),
                    zframe_size (task->data));
            zframe_destroy (&task->data);
            task->data = all;
            task->outputs += task->partial_outputs;
        }
        else {
            task->status = POOL_ERROR;
            zframe_destroy (&task->data);
            task->data = zframe_new ("agent out of memory", 19);
        }
        free (task->partial);
        task->partial = NULL;
        task->partial_size = task->partial_cap = task->partial_outputs = 0;
    }

    bool current = task->session == self->session;
    if (task->status == POOL_DROPPED) {
        self->held--;               //  BYE hands it back
        task_destroy (&task);
        return;
    }
    if (task->status == POOL_OK)
        self->counters.ok++;
    else
    if (task_is_final (task))
        self->counters.failed++;
    else
        self->counters.retried++;
    if (!current) {
        //  An earlier session's: its slot is ours to offer again, and a
        //  final result still goes to the sink (which removes duplicates).
        self->held--;
        self->credit++;
        if (!task_is_final (task) || outbox_add (self->outbox, task) != 0)
            task_destroy (&task);
        return;
    }
    if (task_is_final (task) && outbox_add (self->outbox, task) == 0) {
        self->storing++;
        return;
    }
    char *reason = task_is_final (task)
                 ? zsys_sprintf ("agent cannot send results to sink %s", task->job->sink)
                 : zframe_strdup (task->data);
    s_report (self, task->job, task->ref, REPORT_RETRY, reason);
    zstr_free (&reason);
    self->held--;
    self->credit++;
    task_destroy (&task);
}

//  The supervisor's callback: one finished (or lost, or dropped) task.
static void
s_on_worker_result (void *arg, pool_result_t *result)
{
    s_on_result ((agent_t *) arg, result);
}

//  The sink stored task's tuple: report it as the sink holds it (dead),
//  not as this task ended, so STATUS counts what the output has.
static void
s_on_stored (void *arg, task_t *task, bool dead)
{
    agent_t *self = arg;
    if (task->session == self->session) {
        self->storing--;
        self->held--;
        self->credit++;
        if (dead != (task->status != POOL_OK))
            log_debug ("job %s: tuple %llu reported %s as the sink holds it", task->job->name,
                       (unsigned long long) task->ref.id, dead? "dead": "done");
        s_report (self, task->job, task->ref, dead? REPORT_DEAD: REPORT_DONE, NULL);
    }
    task_destroy (&task);
}

//  ---------------------------------------------------------------------
//  Life cycle

agent_t *
agent_new (const agent_config_t *config)
{
    agent_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->broker_endpoint = strdup (config->broker? config->broker: AGENT_BROKER_DEFAULT);
    self->name = strdup (config->name? config->name: "agent");
    size_t threads = config->threads? config->threads: 1;
    size_t all = threads * (config->processes? config->processes: 1);
    self->slots = config->slots? config->slots: AGENT_SLOTS_PER_THREAD * all;
    self->grace_ms = config->grace_ms >= 0? config->grace_ms: AGENT_GRACE_MS_DEFAULT;
    self->keys = config->keys;
    if (config->broker_key) {
        memcpy (self->broker_key, config->broker_key, KEYS_KEY_SIZE);
        self->broker_curve = true;
    }
    self->heartbeat_ms = HEARTBEAT_DEFAULT_MS;
    self->backoff_ms = BACKOFF_MIN_MS;
    self->next_touch = INT64_MAX;
    supervisor_config_t workers = {
        .processes = config->processes, .threads = threads, .log_level = config->log_level,
        .on_result = s_on_worker_result, .arg = self };
    self->workers = supervisor_new (&workers);
    self->poller = self->workers? zpoller_new (supervisor_socket (self->workers), NULL): NULL;
    self->outbox = self->poller? outbox_new (self->name, config->result_timeout_ms > 0
                                             ? config->result_timeout_ms
                                             : AGENT_RESULT_TIMEOUT_MS_DEFAULT, self->poller,
                                             self->keys): NULL;
    self->jobs = zhashx_new ();
    self->log = peerlog_new (AGENT_LOG_PER_SEC);
    if (!self->broker_endpoint || !self->name || !self->outbox || !self->jobs || !self->log) {
        agent_destroy (&self);
        return NULL;
    }
    //  Polling goes on after an interrupt: we still drain.
    zpoller_set_nonstop (self->poller, true);
    return self;
}

void
agent_destroy (agent_t **self_p)
{
    agent_t *self = *self_p;
    if (!self)
        return;
    supervisor_destroy (&self->workers);
    //  The workers are gone: what was on them is ours to free.
    while (self->running_head) {
        task_t *task = self->running_head;
        self->running_head = task->next;
        task_destroy (&task);
    }
    outbox_destroy (&self->outbox);
    while (self->reports) {
        task_job_t *job = self->reports;
        self->reports = job->next_report;
        task_job_unref (&job);
    }
    if (self->jobs) {
        //  Left are records no task uses any more.
        for (task_job_t *job = zhashx_first (self->jobs); job; job = zhashx_next (self->jobs))
            job->table = NULL;
        for (task_job_t *job = zhashx_first (self->jobs); job; job = zhashx_next (self->jobs))
            task_job_unref (&job);
        zhashx_destroy (&self->jobs);
    }
    zsock_destroy (&self->broker);
    zpoller_destroy (&self->poller);
    free (self->submit);
    free (self->due);
    free (self->broker_endpoint);
    free (self->name);
    peerlog_destroy (&self->log);
    free (self);
    *self_p = NULL;
}

const agent_counters_t *
agent_counters (agent_t *self)
{
    return &self->counters;
}

static void
s_drain_start (agent_t *self, int64_t now)
{
    self->draining = true;
    self->drain_until = now + self->grace_ms;
    size_t running = self->running;
    size_t dropped = supervisor_drop_queued (self->workers);
    log_info ("interrupted: draining; taking no more work, finishing %zu started tuples and "
              "%zu results for the sink (grace %d ms); %zu not started go back to the broker "
              "(signal again to stop at once)",
              running - dropped, outbox_pending (self->outbox), self->grace_ms, dropped);
}

static int
s_interrupts_seen (void)
{
    int count = s_interrupts;
    return count? count: zsys_interrupted? 1: 0;
}

int
agent_run (agent_t *self)
{
    int64_t now = zclock_mono ();
    if (s_connect (self, now) != 0) {
        log_error ("cannot connect to broker '%s'", self->broker_endpoint);
        return 1;
    }
    size_t processes = 0;
    supervisor_pids (self->workers, &processes);
    log_info ("agent %s started: %zu worker processes x %zu handler threads, %zu slots, broker %s",
              self->name, processes, supervisor_threads (self->workers) / (processes? processes: 1),
              self->slots, self->broker_endpoint);
    bool stopped = false;
    while (true) {
        now = zclock_mono ();
        int interrupts = s_interrupts_seen ();
        if (interrupts && !self->draining)
            s_drain_start (self, now);
        if (interrupts > 1) {
            log_info ("interrupted again: stopping now; %zu running tuples and %zu results "
                      "not stored go back to the broker", self->running,
                      outbox_pending (self->outbox));
            stopped = true;
            break;
        }
        if (self->draining && self->running == 0 && outbox_pending (self->outbox) == 0) {
            log_info ("drained: every tuple finished and its result stored");
            break;
        }
        if (self->draining && now >= self->drain_until)
            break;
        zpoller_wait (self->poller, s_timeout (self, now));
        now = zclock_mono ();
        s_read_broker (self, now);
        supervisor_work (self->workers, now);
        outbox_recv (self->outbox, s_on_stored, self);
        s_timers (self, now);
        s_touch (self, now);
        outbox_flush (self->outbox, now);
        s_flush_reports (self);
    }
    if (self->broker && self->welcomed) {
        msg_t *msg = msg_new (MSG_BYE);
        s_send (self, &msg);
        zsock_set_linger (self->broker, BYE_LINGER_MS);
        log_info ("said BYE to broker %s", self->broker_endpoint);
    }
    if (!stopped && (self->running || outbox_pending (self->outbox)))
        log_warn ("grace period over: %zu tuples still running, %zu results not stored; "
                  "the broker queues them again", self->running, outbox_pending (self->outbox));
    log_info ("agent %s shut down: %llu ok, %llu failed, %llu retried, %llu sessions, "
              "%llu dead letters, %llu leases touched, %llu tuples of sealed jobs not run "
              "(no keypair)",
              self->name, (unsigned long long) self->counters.ok,
              (unsigned long long) self->counters.failed,
              (unsigned long long) self->counters.retried,
              (unsigned long long) self->counters.sessions,
              (unsigned long long) self->counters.dead_letters,
              (unsigned long long) self->counters.touched,
              (unsigned long long) self->counters.unsealable);
    return 0;
}
