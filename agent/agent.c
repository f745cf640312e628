//  agent.c -- the agent's reactor; see agent.h.  It wires the parts and
//  keeps the slots: WORK comes in over the broker session (agent/uplink.h),
//  decoded once (agent/work.h), and becomes tasks (agent/task.h) that run on
//  the worker processes (agent/supervisor.h, listed in agent/running.h);
//  final results go to sinks (agent/outbox.h), and once stored they are
//  reported DONE (agent/reports.h), with leases renewed meanwhile
//  (agent/leases.h).  A task holds a slot from WORK until DONE or RETRY.
//  What a reconnect's HELLO names is agent/held.h; WORK it cannot seal,
//  agent/unsealable.h; signals, agent/interrupts.h.
#include "agent/agent.h"
#include "agent/credit.h"
#include "agent/exporter.h"
#include "agent/held.h"
#include "agent/interrupts.h"
#include "agent/leases.h"
#include "agent/outbox.h"
#include "agent/records.h"
#include "agent/reports.h"
#include "agent/running.h"
#include "agent/supervisor.h"
#include "agent/task.h"
#include "agent/tmpdir.h"
#include "agent/unsealable.h"
#include "agent/uplink.h"
#include "agent/work.h"
#include "common/log.h"
#include "common/peerlog.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

//  The error of a tuple stopped when its job was cancelled (PROTOCOL.md 12):
//  one that ran, and one that had not started (as the broker says it).
#define STOPPED_RUNNING "cancelled while running (drover cancel)"
#define STOPPED_WAITING "the job was cancelled (drover cancel)"

struct agent {
    char *name;
    keys_t *keys;               //  our keypair, borrowed (NULL: none)
    credit_t *credit;           //  our slots, and the broker's credit for us
    bool fixed_slots;           //  --slots: not adapting
    int grace_ms;
    zpoller_t *poller;
    uplink_t *uplink;           //  the broker session
    supervisor_t *workers;
    running_t *running;         //  tasks on the workers
    outbox_t *outbox;           //  results on their way to sinks
    task_jobs_t *jobs;          //  the latest record per job
    reports_t *reports;         //  DONE, RETRY, CREDIT for the end of the turn
    leases_t *leases;
    holdings_t *holdings;       //  scratch: what a new session's HELLO names
    task_t **batch;             //  scratch: one WORK's tasks
    size_t batch_cap;

    //  Slots: held counts the tasks until reported (a new session takes
    //  them over; HELLO offers the rest).
    size_t held;
    size_t storing;             //  this session's tasks waiting for STORED
    bool warned_over_credit;

    bool draining;
    int64_t drain_until;
    size_t not_started;         //  tuples a drain gave back unrun
    unsealable_t *unsealable;   //  WORK we cannot seal the results of
    agent_counters_t counters;
    agent_exporter_t *exporter; //  with --http: /metrics and health
};

void
agent_signals_install (void)
{
    interrupts_install ();
}

//  A slot is free again: the turn's end gives it back with CREDIT, if the
//  target still wants it (agent/credit.h).
static void
s_release (agent_t *self)
{
    self->held--;
}

//  ---------------------------------------------------------------------
//  WORK

//  WORK whose job wants sealed results that this agent cannot seal
//  (agent/unsealable.h): the slots come back with CREDIT.  True if the
//  WORK was handled so.
static bool
s_unsealable (agent_t *self, const work_t *work)
{
    if (!unsealable_refuse (self->unsealable, work, self->reports))
        return false;
    self->counters.unsealable += work->count;
    return true;
}

//  The tuples of work as tasks in self->batch.  0, or -1 if out of memory
//  (logged; the broker's lease brings the tuples back).
static int
s_make_tasks (agent_t *self, task_job_t *job, work_t *work)
{
    if (work->count > self->batch_cap) {
        task_t **more = realloc (self->batch, work->count * sizeof *more);
        if (!more) {
            log_error ("out of memory: cannot take %zu tuples of job %s", work->count,
                       peerlog_str (job->name).text);
            return -1;
        }
        self->batch = more;
        self->batch_cap = work->count;
    }
    if (task_new_all (job, work, uplink_session (self->uplink), self->batch) == 0)
        return 0;
    log_error ("out of memory: cannot take %zu tuples of job %s", work->count,
               peerlog_str (job->name).text);
    return -1;
}

//  WORK with dead_letter: the tuples' attempts are used up; they are not
//  run but stored at the sink as failed with that error, then reported dead.
//  With excluded or status too (the broker's exclusion list, a job cancelled
//  or aborted) they are stored so (excluded, ...), and reported done.
static void
s_store_dead_letters (agent_t *self, task_job_t *job, work_t *work)
{
    if (s_make_tasks (self, job, work))
        return;
    for (size_t i = 0; i < work->count; i++) {
        task_t *task = self->batch[i];
        if (task_dead_letter (task, work->dead_letter)) {
            //  The broker's lease brings it back.
            log_error ("out of memory: dead letter %llu of job %s not stored",
                       (unsigned long long) work->refs[i].id, peerlog_str (job->name).text);
            task_destroy (&task);
            continue;
        }
        task->stored_as = work->stored_as;
        if (outbox_add (self->outbox, task) != 0) {
            //  The broker's lease brings it back.
            log_error ("cannot send dead letter %llu of job %s to sink %s",
                       (unsigned long long) work->refs[i].id, peerlog_str (job->name).text,
                       peerlog_str (job->sink).text);
            task_destroy (&task);
            continue;
        }
        self->held++;
        self->storing++;
        self->counters.dead_letters += work->stored_as == 1;
        self->counters.failed += work->stored_as == 1;
    }
    const char *as = records_status_name (work->stored_as);
    log_info ("job %s: %zu tuples are %s (%s); storing them as %s", peerlog_str (job->name).text,
              work->count, work->stored_as == 1? "dead letters": as, work->dead_letter, as);
}

//  Run the tuples of work on the workers.
static void
s_run (agent_t *self, task_job_t *job, work_t *work, int64_t now)
{
    if (s_make_tasks (self, job, work))
        return;
    size_t count = work->count;
    for (size_t i = 0; i < count; i++) {
        self->batch[i]->lease_ms = work->lease_ms;
        leases_start (self->leases, self->batch[i], now);
    }
    if (running_start (self->running, self->workers, self->batch, count) != 0) {
        log_error ("out of memory: handing back %zu tuples of job %s", count, peerlog_str (job->name).text);
        for (size_t i = 0; i < count; i++) {
            reports_add (self->reports, job->name, self->batch[i]->ref, REPORT_RETRY,
                         "agent out of memory");
            task_destroy (&self->batch[i]);
        }
        return;
    }
    self->held += count;
}

//  The uplink's callback: WORK from the broker.
static void
s_on_work (void *arg, msg_t *msg, int64_t now)
{
    agent_t *self = arg;
    work_t work;
    work_decode (&work, msg);
    if (credit_spent (self->credit, work.count) && !self->warned_over_credit) {
        log_warn ("broker sent more tuples than our credit (%zu, %zu held, %zu slots); they wait",
                  work.count, self->held, credit_target (self->credit));
        self->warned_over_credit = true;
    }
    if (self->draining) {
        log_debug ("shutting down: not running %zu tuples of job %s", work.count, peerlog_str (work.job).text);
        return;
    }
    if (work.count == 0 || (work.sink_key && s_unsealable (self, &work)))
        return;
    task_job_t *job = task_jobs_get (self->jobs, &work);
    if (!job) {
        log_error ("out of memory: cannot run %zu tuples of job %s", work.count, peerlog_str (work.job).text);
        return;
    }
    //  Held while its tuples are handled: a task that fails and goes must
    //  not take the record with it.
    task_job_ref (job);
    if (work.dead_letter)
        s_store_dead_letters (self, job, &work);
    else
        s_run (self, job, &work, now);
    task_job_unref (&job);
}

//  The uplink's callback: STOP, the job was cancelled.  Its tuples on the
//  workers stop (exec's process group gets SIGTERM, then SIGKILL after its
//  kill_grace_ms; other handlers see their cancel flag), those not started
//  never run; each is stored as cancelled and reported in DONE as usual.
static void
s_on_stop (void *arg, const char *job)
{
    agent_t *self = arg;
    size_t count = running_stop_job (self->running, self->workers, job);
    log_info ("job %s was cancelled: stopping its %zu tuples here", peerlog_str (job).text,
              count);
}

//  A held task belongs to the next session from now on (its HELLO names
//  it); its lease there starts anew.
static void
s_adopt_task (void *arg, task_t *task)
{
    agent_t *self = arg;
    task->session = uplink_session (self->uplink);
    leases_start (self->leases, task, zclock_mono ());
}

//  The uplink's callback: the broker session ended.  What we hold stays
//  ours and joins the next session, whose HELLO names it (s_holdings);
//  what finishes meanwhile is reported once it is welcomed.  The broker's
//  credit for us went with the session.
static void
s_on_lost (void *arg)
{
    agent_t *self = arg;
    running_each (self->running, s_adopt_task, self);
    outbox_each (self->outbox, s_adopt_task, self);
    reports_forget (self->reports);
    credit_lost (self->credit);
}

//  ---------------------------------------------------------------------
//  Results from the workers and from the sinks

//  A task's final result goes to the sink; a failed attempt that is not
//  the last is handed back with RETRY.
static void
s_finish (agent_t *self, task_t *task)
{
    if (task_is_final (task) && outbox_add (self->outbox, task) == 0) {
        self->storing++;
        return;
    }
    char *reason = task_is_final (task)
                 ? zsys_sprintf ("agent cannot send results to sink %s", task->job->sink)
                 : strndup ((const char *) task->data, task->data_size);
    reports_add (self->reports, task->job->name, task->ref, REPORT_RETRY, reason);
    zstr_free (&reason);
    s_release (self);
    task_destroy (&task);
}

//  The supervisor's hint: this task's result comes a few results from now.
static void
s_on_ahead (void *arg, uint64_t id)
{
    agent_t *self = arg;
    if (self->outbox)
        outbox_prefetch (self->outbox, (const task_t *) (uintptr_t) id);
}

//  The supervisor's callback: one finished (or lost, or dropped) task, or
//  an output streamed before its end.
static void
s_on_result (void *arg, const pool_record_t *result, const void *data)
{
    agent_t *self = arg;
    task_t *task = (task_t *) (uintptr_t) result->id;
    if (result->status == POOL_PARTIAL) {
        if (task_add_partial (task, data, result->size))
            log_error ("out of memory: an output of tuple %llu of job %s is lost",
                       (unsigned long long) task->ref.id, task->job->name);
        return;
    }
    running_finish (self->running, task);
    task_take_result (task, result, data);
    if (task->stopping && task->status != POOL_OK && task->status != POOL_DROPPED)
        task_cancelled (task, result->started_us? STOPPED_RUNNING: STOPPED_WAITING);
    if (task->status == POOL_DROPPED) {
        self->held--;               //  BYE hands it back
        self->not_started++;
        task_destroy (&task);
        return;
    }
    credit_completed (self->credit, 1);
    metrics_histogram_observe (&self->counters.handler_seconds,
                               (double) result->duration_us / 1e6);
    if (task->status == POOL_OK)
        self->counters.ok++;
    else
    if (task->stored_as == WORK_STATUS_CANCELLED)
        self->counters.cancelled++;
    else
    if (task_is_final (task))
        self->counters.failed++;
    else
        self->counters.retried++;
    if (task->session == uplink_session (self->uplink)) {
        s_finish (self, task);
        return;
    }
    //  An earlier session's: its slot is ours to offer again, and a final
    //  result still goes to the sink (which removes duplicates).
    s_release (self);
    if (!task_is_final (task) || outbox_add (self->outbox, task) != 0)
        task_destroy (&task);
}

//  The sink stored task's tuple: report it as the sink holds it (dead),
//  not as this task ended, so STATUS counts what the output has.
static void
s_on_stored (void *arg, task_t *task, bool dead)
{
    agent_t *self = arg;
    if (task->session == uplink_session (self->uplink)) {
        self->storing--;
        s_release (self);
        if (dead != (task->status != POOL_OK && task->stored_as <= WORK_STATUS_FAILED))
            log_debug ("job %s: tuple %llu reported %s as the sink holds it", task->job->name,
                       (unsigned long long) task->ref.id, dead? "dead": "done");
        reports_add (self->reports, task->job->name, task->ref,
                     dead? REPORT_DEAD: REPORT_DONE, NULL);
    }
    task_destroy (&task);
}

//  ---------------------------------------------------------------------
//  Life cycle

//  The handler histogram, and with --http the exporter.
static int
s_open_exporter (agent_t *self, const agent_config_t *config)
{
    static const double seconds[] = { 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                      2.5, 5, 10, 30, 60, 300 };
    metrics_histogram_init (&self->counters.handler_seconds, seconds,
                            sizeof seconds / sizeof seconds[0]);
    if (!config->http)
        return 0;
    agent_parts_t parts = { config->http, self->uplink, self->workers, self->running,
                            self->outbox };
    self->exporter = agent_exporter_new (&parts);
    return self->exporter? 0: -1;
}

agent_t *
agent_new (const agent_config_t *config)
{
    agent_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->name = strdup (config->name? config->name: "agent");
    size_t threads = config->threads? config->threads: 1;
    size_t all = threads * (config->processes? config->processes: 1);
    self->credit = credit_new (all, config->slots);
    self->fixed_slots = config->slots > 0;
    self->grace_ms = config->grace_ms >= 0? config->grace_ms: AGENT_GRACE_MS_DEFAULT;
    self->keys = config->keys;
    supervisor_config_t workers = {
        .processes = config->processes, .threads = threads, .log_level = config->log_level,
        .on_result = s_on_result, .on_ahead = s_on_ahead, .arg = self };
    self->workers = supervisor_new (&workers);
    self->poller = self->workers? zpoller_new (supervisor_socket (self->workers), NULL): NULL;
    uplink_config_t uplink = {
        .endpoint = config->broker? config->broker: AGENT_BROKER_DEFAULT, .name = self->name,
        .keys = config->keys, .broker_key = config->broker_key,
        .labels = config->labels, .labels_size = config->labels_size,
        .on_work = s_on_work, .on_lost = s_on_lost, .on_stop = s_on_stop, .arg = self };
    self->uplink = self->poller && self->name? uplink_new (&uplink, self->poller): NULL;
    int result_timeout_ms = config->result_timeout_ms > 0? config->result_timeout_ms
                                                         : AGENT_RESULT_TIMEOUT_MS_DEFAULT;
    self->outbox = self->uplink? outbox_new (self->name, result_timeout_ms, self->poller,
                                             self->keys): NULL;
    if (self->outbox)
        outbox_set_labels (self->outbox, config->labels, config->labels_size);
    self->running = running_new ();
    self->jobs = task_jobs_new ();
    self->reports = reports_new ();
    self->leases = leases_new ();
    self->unsealable = unsealable_new (self->keys);
    if (!self->credit || !self->outbox || !self->running || !self->jobs || !self->reports || !self->leases
    ||  !self->unsealable) {
        agent_destroy (&self);
        return NULL;
    }
    if (s_open_exporter (self, config)) {
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
    agent_exporter_destroy (&self->exporter);
    supervisor_destroy (&self->workers);
    //  The workers are gone: what was on them is ours to free.
    running_destroy (&self->running);
    outbox_destroy (&self->outbox);
    //  Left are records no task uses any more.
    task_jobs_destroy (&self->jobs);
    reports_destroy (&self->reports);
    leases_destroy (&self->leases);
    unsealable_destroy (&self->unsealable);
    credit_destroy (&self->credit);
    uplink_destroy (&self->uplink);
    zpoller_destroy (&self->poller);
    free (self->batch);
    free (self->name);
    free (self);
    *self_p = NULL;
}

const agent_counters_t *
agent_counters (agent_t *self)
{
    self->counters.sessions = uplink_sessions (self->uplink);
    self->counters.bad_messages = uplink_bad_messages (self->uplink);
    self->counters.touched = leases_touched (self->leases);
    return &self->counters;
}

//  ---------------------------------------------------------------------
//  The reactor

//  What a new session's HELLO names (PROTOCOL.md 4.2 `held`), so that a
//  reconnect resumes rather than runs anything again: the tuples running,
//  waiting for STORED, or stored with their report not sent yet.  NULL on
//  the first session: we hold nothing, and the broker learns we started.
static holdings_t *
s_holdings (agent_t *self)
{
    if (uplink_sessions (self->uplink) == 0)
        return NULL;
    return self->holdings = held_collect (self->running, self->outbox, self->reports);
}

static int
s_connect (agent_t *self, int64_t now)
{
    holdings_t *held = s_holdings (self);
    int rc = uplink_connect (self->uplink, credit_hello (self->credit, self->held), held, now);
    holdings_destroy (&self->holdings);
    return rc;
}

//  How long the poll may wait: until the next timer of any part.
static int
s_timeout (agent_t *self, int64_t now)
{
    int64_t next = now + 1000;
    int64_t timers[] = {
        uplink_next_timer (self->uplink, !self->draining),
        outbox_next_resend (self->outbox),
        outbox_next_flush (self->outbox),
        self->draining? self->drain_until: INT64_MAX,
        supervisor_next_timer (self->workers),
        leases_next (self->leases),
        //  A signal that lands just before the poll does not wake it: look again soon.
        now + 200 };
    for (size_t i = 0; i < sizeof timers / sizeof timers[0]; i++)
        next = timers[i] < next? timers[i]: next;
    return next > now? (int) (next - now): 0;
}

//  With --http, publish the counters when due.
static void
s_export (agent_t *self, int64_t now)
{
    if (!self->exporter || !agent_exporter_due (self->exporter, now))
        return;
    agent_status_t status = { agent_counters (self), credit_target (self->credit), self->held,
                              self->draining };
    agent_exporter_publish (self->exporter, &status);
}

//  One turn: read everything, act on timers, then send what the turn made.
static void
s_turn (agent_t *self)
{
    zpoller_wait (self->poller, s_timeout (self, zclock_mono ()));
    int64_t now = zclock_mono ();
    uplink_recv (self->uplink, now);
    supervisor_work (self->workers, now);
    outbox_recv (self->outbox, s_on_stored, self);
    uplink_timers (self->uplink, now);
    if (!self->draining && uplink_reconnect_due (self->uplink, now))
        s_connect (self, now);
    outbox_resend (self->outbox, now);
    leases_touch (self->leases, now, self->uplink, self->running, self->outbox);
    outbox_flush (self->outbox, now, running_count (self->running));
    credit_tick (self->credit, running_count (self->running), zclock_usecs ());
    if (!self->draining && uplink_live (self->uplink))
        reports_credit (self->reports, credit_top_up (self->credit, self->held));
    reports_flush (self->reports, self->uplink, self->draining);
    s_export (self, now);
}

static void
s_drain_start (agent_t *self, int64_t now)
{
    self->draining = true;
    self->drain_until = now + self->grace_ms;
    size_t running = running_count (self->running);
    size_t dropped = supervisor_drop_waiting (self->workers);
    log_info ("interrupted: draining; taking no more work, finishing %zu started tuples and "
              "%zu results for the sink (grace %d ms); %zu not started go back to the broker "
              "(signal again to stop at once)",
              running - dropped, outbox_pending (self->outbox), self->grace_ms, dropped);
}

//  Turn until interrupted twice, drained, or out of grace.  True if
//  stopped by a second interrupt.
static bool
s_serve (agent_t *self)
{
    while (true) {
        int64_t now = zclock_mono ();
        int interrupts = interrupts_seen ();
        if (interrupts && !self->draining)
            s_drain_start (self, now);
        if (interrupts > 1) {
            log_info ("interrupted again: stopping now; %zu running tuples and %zu results "
                      "not stored go back to the broker", running_count (self->running),
                      outbox_pending (self->outbox));
            return true;
        }
        if (self->draining && running_count (self->running) == 0
        &&  outbox_pending (self->outbox) == 0) {
            log_info ("drained: every started tuple finished and its result stored; %zu not "
                      "started go back to the broker", self->not_started);
            return false;
        }
        if (self->draining && now >= self->drain_until)
            return false;
        s_turn (self);
    }
}

int
agent_run (agent_t *self)
{
    //  What agents killed before us left in our temporary directories.
    tmpdir_sweep (tmpdir_root ());
    if (strcmp (tmpdir_root (), tmpdir_work_root ()))
        tmpdir_sweep (tmpdir_work_root ());
    if (s_connect (self, zclock_mono ()) != 0) {
        log_error ("cannot connect to broker '%s'", uplink_endpoint (self->uplink));
        return 1;
    }
    size_t processes = 0;
    supervisor_pids (self->workers, &processes);
    log_info ("agent %s started: %zu worker processes x %zu handler threads, %zu slots%s, "
              "broker %s", self->name, processes,
              supervisor_threads (self->workers) / (processes? processes: 1),
              credit_target (self->credit), self->fixed_slots? "": " (adapting)",
              uplink_endpoint (self->uplink));
    bool stopped = s_serve (self);
    uplink_bye (self->uplink);
    size_t running = running_count (self->running), pending = outbox_pending (self->outbox);
    if (!stopped && (running || pending))
        log_warn ("grace period over: %zu tuples still running, %zu results not stored; "
                  "the broker queues them again", running, pending);
    const agent_counters_t *counters = agent_counters (self);
    log_info ("agent %s shut down: %llu ok, %llu failed, %llu retried, %llu sessions, "
              "%llu dead letters, %llu leases touched, %llu tuples of sealed jobs not run "
              "(no keypair)",
              self->name, (unsigned long long) counters->ok,
              (unsigned long long) counters->failed,
              (unsigned long long) counters->retried,
              (unsigned long long) counters->sessions,
              (unsigned long long) counters->dead_letters,
              (unsigned long long) counters->touched,
              (unsigned long long) counters->unsealable);
    return 0;
}
