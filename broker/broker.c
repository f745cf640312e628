//  broker.c -- see broker.h.  The top of the broker: the parts opened
//  and wired (the settings checked by config.c, the sockets bound by
//  sockets.c), recovery at start, and the loop.  Each turn of the loop reads
//  what the sockets hold (up to TURN_MESSAGES) inside one store
//  transaction, hands queued tuples to agents with credit, commits, only
//  then answers producers (group commit), and sends the WORK.
//
//  Below it, each called from here and never calling up:
//    producers.c   the frontend and intake (SUBMIT, STATUS); a SUBMIT is
//                  accepted by submit.c, with the rules of submit_check.c
//    agents.c      the backend protocol, heartbeats, leases; what agents
//                  report of their tuples (DONE, RETRY, TOUCH) is
//                  agent_reports.c's
//    dispatch.c    WORK by credit
//    jobs.c        the jobs, the queue and the back-off (shared by the three)
//    roster.c      the agents' sessions (shared by agents and dispatch)
//    admission.c   keys allowed, refusals counted and logged (shared by all)
#include "broker/broker.h"
#include "broker/admission.h"
#include "broker/agents.h"
#include "broker/campaign.h"
#include "broker/dispatch.h"
#include "broker/each.h"
#include "broker/exclusions.h"
#include "broker/exporter.h"
#include "broker/jobs.h"
#include "broker/limits.h"
#include "broker/listing.h"
#include "broker/producers.h"
#include "broker/roster.h"
#include "broker/schedules.h"
#include "broker/sockets.h"
#include "broker/store.h"
#include "common/log.h"
#include "common/peerlog.h"

#include <errno.h>
#include <sodium.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#define TURN_MESSAGES      1024     //  messages per turn before committing
#define STATS_INTERVAL_MS  10000
#define COMMIT_DELAY_MS    10       //  most a change that acknowledges nothing waits

struct broker {
    broker_config_t config;     //  endpoint strings point at our copies
    char *frontend_endpoints;
    char *intake_endpoints;
    char *backend_endpoints;
    char *data_dir;
    broker_counters_t counters; //  lent to every part below
    broker_counters_t logged;   //  as of the last stats line
    store_t *store;
    admission_t *admission;
    jobs_t *jobs;
    campaign_t *campaign;       //  spec jobs' expansion
    each_t *each;               //  jobs run once per label value
    exclusions_t *exclusions;   //  --exclude-file, or NULL
    limits_t *limits;           //  jobs' rate and concurrency limits
    roster_t *roster;
    zsock_t *frontend;          //  ROUTER: producers, request/reply
    zsock_t *intake;            //  PULL: producers, fire-and-forget
    zsock_t *backend;           //  ROUTER: agents
    zpoller_t *poller;
    producers_t *producers;
    agents_t *agents;
    dispatch_t *dispatch;
    listing_t *listing;         //  JOBS, AGENTS and rates (PROTOCOL.md 11)
    schedules_t *schedules;     //  recurring jobs (PROTOCOL.md 15)
    bool intake_paused;         //  out of the poller (s_watch_intake)
    dead_letters_t *dead_letters;   //  the last few, for the dashboard
    broker_exporter_t *exporter;    //  with --http: /metrics and the dashboard
    bool in_txn;                //  a store transaction is open
    int64_t txn_started;
    uint64_t txn_accepted;      //  counters.accepted when it began
    int64_t next_heartbeat;
    int64_t next_stats;
    int64_t reclaim_until;      //  no WORK before then (0: none): s_reclaiming
};

//  store_load callback: a job found in the store at start, with what of it
//  is still queued.  Leased tuples were already counted and made queued.
static void
s_recovered (job_t *job, uint64_t queued, uint64_t first_id, uint64_t bytes, void *arg)
{
    broker_t *self = (broker_t *) arg;
    job_counters_t counters = *job_counters (job);
    if (counters.submitted != counters.done + counters.failed + queued)
        log_warn ("job %s: store holds %" PRIu64 " tuples, counters say %" PRIu64
                  "; trusting the tuples", peerlog_str (job_name (job)).text, queued,
                  counters.submitted - counters.done - counters.failed);
    counters.queued = queued;
    counters.submitted = counters.done + counters.failed + queued;
    job_restore (job, job_next_id (job), job_closed (job), &counters, bytes);
    job = jobs_adopt (self->jobs, &job, first_id, (size_t) queued);
    if (!job)
        return;
    campaign_adopt (self->campaign, job);
    self->counters.recovered += queued;
    log_info ("job %s recovered: %" PRIu64 " tuples queued, %" PRIu64 " done, %" PRIu64
              " failed, %s", peerlog_str (job_name (job)).text, queued, counters.done,
              counters.failed,
              job_state_name (job_state (job)));
}

//  The store, and what every part of the broker shares, filled from it.
static int
s_open_store (broker_t *self)
{
    const broker_config_t *config = &self->config;
    self->store = strcmp (config->store, "lmdb")? store_memory_new ()
                : store_lmdb_new (config->data_dir, config->map_size);
    if (!self->store) {
        log_error ("broker: cannot open the store");
        return -EIO;
    }
    self->admission = admission_new (config->auth, &self->counters);
    self->jobs = jobs_new (self->store, &self->counters, config);
    self->campaign = self->jobs? campaign_new (self->jobs): NULL;
    self->roster = roster_new ();
    self->each = self->jobs && self->roster? each_new (self->jobs, self->roster): NULL;
    self->dead_letters = dead_letters_new (DEAD_LETTERS_KEPT);
    if (!self->admission || !self->jobs || !self->campaign || !self->roster || !self->each
    ||  !self->dead_letters) {
        log_error ("broker: out of memory");
        return -ENOMEM;
    }
    if (store_load (self->store, s_recovered, self)) {
        log_error ("broker: cannot read the store in %s", self->data_dir);
        return -EIO;
    }
    jobs_recover_prio (self->jobs);
    //  Tuples that waited on dependencies wait again (PROTOCOL.md 14).
    int rc = store_begin (self->store);
    if (rc == 0)
        rc = jobs_recover_graph (self->jobs);
    int commit_rc = rc == 0? store_commit (self->store): 0;
    if (rc || commit_rc) {
        log_error ("broker: cannot rebuild the job graphs from the store in %s",
                   self->data_dir);
        return -EIO;
    }
    return 0;
}

//  jobs' callback: a tuple stopped running, and frees its limit's key.
static void
s_tuple_ended (void *arg, const job_t *job, uint64_t id)
{
    limits_ended ((limits_t *) arg, job, id);
}

//  schedules' callback: a tick's job goes in as a producer's SUBMIT would.
static int
s_schedule_submit (void *arg, msg_t *submit, char *reason, size_t size)
{
    return producers_submit ((producers_t *) arg, submit, reason, size);
}

//  The schedules, read from the store; a tick missed while the broker was
//  down is due at the first turn.
static int
s_open_schedules (broker_t *self)
{
    self->schedules = schedules_new (self->store, &self->config, s_schedule_submit,
                                     self->producers);
    if (!self->schedules) {
        log_error ("broker: out of memory");
        return -ENOMEM;
    }
    producers_set_schedules (self->producers, self->schedules);
    if (schedules_load (self->schedules)) {
        log_error ("broker: cannot read the schedules in %s", self->data_dir);
        return -EIO;
    }
    return 0;
}

//  jobs_t's hook: a job was cancelled; its agents stop what they run of it.
static void
s_job_cancelled (void *arg, const job_t *job)
{
    agents_stop_job ((agents_t *) arg, job);
}

//  The sockets, and the parts that serve them.
static int
s_open_sockets (broker_t *self)
{
    const broker_config_t *config = &self->config;
    //  Replies are one per request read, but a producer that pipelines
    //  more than libzmq's 1,000 before it reads lost the rest, silently
    //  (a ROUTER drops over the mark).  Bounded still: a producer that
    //  never reads costs at most this many replies (PROTOCOL.md 7).
    self->frontend = sockets_bind (ZMQ_ROUTER, "frontend", config->frontend,
                                   AUTH_DOMAIN_PRODUCERS, config, BROKER_REPLY_HWM, -1);
    //  The intake is bounded by its high-water mark: past it, producers'
    //  PUSH sockets block (back-pressure without a word).
    self->intake = self->frontend?
        sockets_bind (ZMQ_PULL, "intake", config->intake, AUTH_DOMAIN_PRODUCERS, config, -1,
                      (int) config->intake_hwm): NULL;
    //  Credit bounds what we queue to an agent, not the high-water mark,
    //  and a ROUTER would silently drop WORK over it.
    self->backend = self->intake?
        sockets_bind (ZMQ_ROUTER, "backend", config->backend, AUTH_DOMAIN_AGENTS, config, 0,
                      -1)
        : NULL;
    if (!self->backend)
        return -EADDRNOTAVAIL;
    self->poller = zpoller_new (self->frontend, self->intake, self->backend, NULL);
    self->producers = producers_new (self->frontend, self->intake, self->jobs,
                                     self->admission, &self->counters, config);
    self->agents = agents_new (self->backend, self->roster, self->jobs, self->admission,
                               &self->counters, self->dead_letters, config);
    self->dispatch = dispatch_new (self->backend, self->roster, self->jobs, &self->counters,
                                   self->dead_letters, config);
    self->listing = listing_new (self->jobs, self->roster);
    if (!self->poller || !self->producers || !self->agents || !self->dispatch
    ||  !self->listing) {
        log_error ("broker: out of memory");
        return -ENOMEM;
    }
    producers_set_campaign (self->producers, self->campaign);
    producers_set_each (self->producers, self->each);
    campaign_set_each (self->campaign, self->each);
    if (config->exclude_file && !(self->exclusions = exclusions_new (config->exclude_file)))
        return -EINVAL;
    dispatch_set_exclusions (self->dispatch, self->exclusions);
    if (!(self->limits = limits_new ()))
        return -ENOMEM;
    dispatch_set_limits (self->dispatch, self->limits);
    jobs_set_on_ended (self->jobs, s_tuple_ended, self->limits);
    jobs_set_on_cancelled (self->jobs, s_job_cancelled, self->agents);
    producers_set_listing (self->producers, self->listing);
    listing_set_each (self->listing, self->each);
    return s_open_schedules (self);
}

//  With --http: what the exporter reads, and the commits it times.
static int
s_open_exporter (broker_t *self)
{
    static const double seconds[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                      0.1, 0.25, 0.5, 1, 2.5 };
    metrics_histogram_init (&self->counters.commit_seconds, seconds,
                            sizeof seconds / sizeof seconds[0]);
    if (!self->config.http)
        return 0;
    broker_parts_t parts = {
        self->config.http, self->jobs, self->roster, &self->counters,
        self->dead_letters, self->config.auth, store_name (self->store), self->each };
    self->exporter = broker_exporter_new (&parts);
    return self->exporter? 0: -ENOMEM;
}

broker_t *
broker_new (const broker_config_t *config)
{
    if (broker_config_check (config))
        return NULL;
    //  Batch digests (idempotent SUBMIT) use libsodium's hash.
    if (sodium_init () < 0) {
        log_error ("broker: libsodium cannot start");
        return NULL;
    }
    broker_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    self->config.frontend = self->frontend_endpoints = strdup (config->frontend);
    self->config.intake = self->intake_endpoints = strdup (config->intake);
    self->config.backend = self->backend_endpoints = strdup (config->backend);
    self->config.store = strcmp (config->store, "lmdb")? "memory": "lmdb";
    self->config.data_dir = self->data_dir = strdup (config->data_dir? config->data_dir: "");
    if (!self->frontend_endpoints || !self->intake_endpoints
    ||  !self->backend_endpoints || !self->data_dir) {
        log_error ("broker: out of memory");
        broker_destroy (&self);
        return NULL;
    }
    if (s_open_store (self) || s_open_sockets (self) || s_open_exporter (self))
        broker_destroy (&self);
    else
    if (self->counters.recovered && config->reclaim_ms)
        self->reclaim_until = zclock_mono () + config->reclaim_ms;
    return self;
}

void
broker_destroy (broker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    broker_t *self = *self_p;
    //  The parts that borrow the sockets and the shared state go first.
    broker_exporter_destroy (&self->exporter);
    producers_destroy (&self->producers);
    schedules_destroy (&self->schedules);
    listing_destroy (&self->listing);
    dispatch_destroy (&self->dispatch);
    agents_destroy (&self->agents);
    zpoller_destroy (&self->poller);
    zsock_destroy (&self->frontend);
    zsock_destroy (&self->intake);
    zsock_destroy (&self->backend);
    //  Sessions hold frames and point at jobs: they go before the jobs.
    roster_destroy (&self->roster);
    if (self->jobs) {
        jobs_set_on_ended (self->jobs, NULL, NULL);
        jobs_set_on_cancelled (self->jobs, NULL, NULL);
    }
    limits_destroy (&self->limits);
    campaign_destroy (&self->campaign);
    each_destroy (&self->each);
    exclusions_destroy (&self->exclusions);
    jobs_destroy (&self->jobs);
    admission_destroy (&self->admission);
    dead_letters_destroy (&self->dead_letters);
    store_destroy (&self->store);
    free (self->data_dir);
    free (self->frontend_endpoints);
    free (self->intake_endpoints);
    free (self->backend_endpoints);
    free (self);
    *self_p = NULL;
}

const broker_counters_t *
broker_counters (const broker_t *self)
{
    return &self->counters;
}

//  ---------------------------------------------------------------------
//  The loop

static bool
s_readable (zsock_t *sock)
{
    return (zsock_events (sock) & ZMQ_POLLIN) != 0;
}

static int64_t
s_heartbeat_tick (const broker_t *self)
{
    //  Check a few times per interval so heartbeats go out near on time.
    int64_t tick = self->config.heartbeat_ms / 4;
    return tick > 0? tick: 1;
}

static void
s_log_stats (broker_t *self, const char *when)
{
    const broker_counters_t *c = &self->counters;
    char errors[512] = "";
    size_t n = 0;
    for (int code = 1; code < DRV_E_MAX && n < sizeof errors - 64; code++)
        if (c->errors[code])
            n += (size_t) snprintf (errors + n, sizeof errors - n, "%s%s %" PRIu64,
                                    n? ", ": "; errors: ", msg_error_name (code),
                                    c->errors[code]);
    log_info ("%s: tuples %" PRIu64 " accepted, %" PRIu64 " dispatched, %" PRIu64
              " done, %" PRIu64 " failed, %" PRIu64 " requeued, %" PRIu64 " leases expired, %"
              PRIu64 " dead letters, %" PRIu64 " excluded, %" PRIu64 " duplicate SUBMITs, %zu queued in %zu jobs, %zu "
              "backing off; agents %zu (%" PRIu64 " joined, %" PRIu64 " left, %" PRIu64 " lost)%s",
              when, c->accepted, c->dispatched, c->done, c->failed, c->requeued,
              c->expired, c->dead_letters, exclusions_excluded (self->exclusions), c->duplicates,
              jobs_waiting (self->jobs), jobs_waiting_jobs (self->jobs),
              jobs_backing_off (self->jobs), roster_size (self->roster), c->agents_joined, c->agents_left,
              c->agents_lost, errors);
    self->logged = self->counters;
}

//  Open the turn's transaction, unless one is open already (changes that
//  acknowledge nothing may ride several turns, see s_must_commit).
static int
s_begin (broker_t *self, int64_t now)
{
    if (self->in_txn)
        return 0;
    int rc = store_begin (self->store);
    if (rc) {
        log_error ("broker: the store cannot begin a transaction: %s", strerror (-rc));
        return rc;
    }
    self->in_txn = true;
    self->txn_started = now;
    self->txn_accepted = self->counters.accepted;
    return 0;
}

//  A transaction must commit now if a producer waits for its answer or
//  tuples were accepted.  What else it holds (DONE, leases, requeues) may
//  wait up to COMMIT_DELAY_MS for more, so that a busy broker syncs the
//  disk once for many agents' reports instead of once per message: losing
//  those in a crash only means tuples run again (the sink drops the
//  duplicates) or an attempt not counted.
static bool
s_must_commit (broker_t *self, int64_t now)
{
    return producers_replies (self->producers) > 0
        || self->counters.accepted != self->txn_accepted
        || now - self->txn_started >= COMMIT_DELAY_MS
        || zsys_interrupted;
}

static int
s_commit (broker_t *self)
{
    if (!self->in_txn)
        return 0;
    //  Jobs whose counters changed go into the same transaction.
    jobs_put_dirty (self->jobs);
    self->in_txn = false;
    bool timed = store_changed (self->store);
    int64_t started = zclock_usecs ();
    int rc = store_commit (self->store);
    if (timed)
        metrics_histogram_observe (&self->counters.commit_seconds,
                                   (double) (zclock_usecs () - started) / 1e6);
    if (rc)
        log_error ("broker: the store cannot commit: %s", strerror (-rc));
    return rc;
}

//  Poll the intake only while it is read: a SUBMIT from it that waits for
//  room leaves what follows it in the socket, and past the high-water
//  marks the producers' PUSH blocks (back-pressure, nothing dropped).
static void
s_watch_intake (broker_t *self)
{
    bool paused = producers_intake_paused (self->producers);
    if (paused == self->intake_paused)
        return;
    if (paused)
        zpoller_remove (self->poller, self->intake);
    else
        zpoller_add (self->poller, self->intake);
    self->intake_paused = paused;
}

//  After a restart that found unfinished tuples, an agent that held some
//  of them when the broker went may not have said HELLO again yet: until
//  the reclaim grace ends no WORK goes out, so that no tuple it holds (and
//  may have finished) is handed to another agent and run again.
static bool
s_reclaiming (broker_t *self, int64_t now)
{
    if (!self->reclaim_until)
        return false;
    if (now < self->reclaim_until)
        return true;
    self->reclaim_until = 0;
    log_info ("broker: reclaim grace over; tuples no agent resumed go out now");
    return false;
}

static void
s_turn (broker_t *self)
{
    int rc = s_begin (self, zclock_mono ());
    //  Without a transaction we still read: refusing producers (INTERNAL)
    //  and serving agents beats letting the sockets fill up.
    //  A socket found empty is not asked again this turn: each ask
    //  (ZMQ_EVENTS) costs a poll(2), and what arrives meanwhile is the next
    //  turn's, at once.
    size_t handled = 0;
    bool frontend = true, intake = true, backend = true;
    while ((frontend || intake || backend) && handled < TURN_MESSAGES && !zsys_interrupted) {
        if (frontend && (frontend = s_readable (self->frontend))) {
            producers_frontend_recv (self->producers);
            handled++;
        }
        intake = intake && !producers_intake_paused (self->producers);
        if (intake && (intake = s_readable (self->intake))) {
            producers_intake_recv (self->producers);
            handled++;
        }
        if (backend && (backend = s_readable (self->backend))) {
            agents_recv (self->agents);
            handled++;
        }
    }
    int64_t now = zclock_mono ();
    if (now >= self->next_heartbeat) {
        agents_heartbeats (self->agents, now);
        self->next_heartbeat = now + s_heartbeat_tick (self);
    }
    jobs_delays_due (self->jobs, now);
    listing_tick (self->listing, now);
    admission_tick (self->admission);
    exclusions_tick (self->exclusions, now);
    if (rc == 0) {
        schedules_tick (self->schedules, zclock_time () / 1000);
        campaign_refill (self->campaign);
    }
    //  Dispatch inside the transaction: it reads payloads from the store
    //  and records the leases.  What it took from the queue may make room
    //  for the intake's waiting SUBMIT, whose tuples then go out too.
    bool reclaiming = s_reclaiming (self, now);
    if (!reclaiming)
        dispatch_run (self->dispatch);
    if (producers_intake_retry (self->producers) && !reclaiming)
        dispatch_run (self->dispatch);
    //  Again after dispatch: what it took is replaced in the same turn, so
    //  a spec job's next window waits for the agents, not the agents for it.
    if (rc == 0)
        campaign_refill (self->campaign);
    s_watch_intake (self);
    if (rc == 0 && s_must_commit (self, now))
        rc = s_commit (self);
    //  Replies wait for the commit (s_must_commit saw to it); WORK goes
    //  now, its leases with the next commit at the latest.  WORK first: a
    //  tuple's path runs on through agent and sink while the producer
    //  reads its ACCEPTED, and does not queue behind that send.
    dispatch_send (self->dispatch);
    producers_flush (self->producers, rc);
    if (now >= self->next_stats) {
        limits_sweep (self->limits);
        if (memcmp (&self->counters, &self->logged, sizeof self->counters))
            s_log_stats (self, "broker");
        //  Memory freed when agents leave or a burst of SUBMITs is stored
        //  stays with malloc otherwise (1,000 agents gone left 90 MB).
        malloc_trim (0);
        self->next_stats = now + STATS_INTERVAL_MS;
    }
    broker_exporter_tick (self->exporter, now);
}

int
broker_poll (broker_t *self, int timeout_ms)
{
    if (zsys_interrupted)
        return -EINTR;
    int64_t now = zclock_mono ();
    int64_t next = self->next_heartbeat < self->next_stats?
        self->next_heartbeat: self->next_stats;
    if (jobs_next_due (self->jobs) < next)
        next = jobs_next_due (self->jobs);
    if (self->reclaim_until && self->reclaim_until < next)
        next = self->reclaim_until;
    if (self->in_txn && self->txn_started + COMMIT_DELAY_MS < next)
        next = self->txn_started + COMMIT_DELAY_MS;
    if (broker_exporter_next (self->exporter) < next)
        next = broker_exporter_next (self->exporter);
    int64_t scheduled = schedules_wait_ms (self->schedules, zclock_time ());
    if (scheduled < next - now)
        next = now + scheduled;
    int64_t limited = limits_wait_ms (self->limits);
    if (limited >= 0 && now + limited < next)
        next = now + limited;
    int timeout = next > now? (int) (next - now): 0;
    if (timeout_ms >= 0 && timeout_ms < timeout)
        timeout = timeout_ms;
    zpoller_wait (self->poller, timeout);
    if (zpoller_terminated (self->poller))
        return -EINTR;
    s_turn (self);
    return 0;
}

int
broker_run (broker_t *self)
{
    log_info ("broker ready: frontend %s, intake %s, backend %s (store %s%s%s, "
              "%" PRIu64 " tuples recovered, heartbeat %u ms, %s%s)%s",
              self->config.frontend, self->config.intake, self->config.backend,
              store_name (self->store), store_durable (self->store)? " in ": "",
              store_durable (self->store)? self->data_dir: "",
              self->counters.recovered, self->config.heartbeat_ms,
              self->config.keys? "CURVE key ": "no CURVE",
              self->config.keys? keys_public_txt (self->config.keys): "",
              self->reclaim_until? "; no WORK during the reclaim grace, while agents "
                                   "reconnect and resume what they hold": "");
    int64_t now = zclock_mono ();
    self->next_heartbeat = now + s_heartbeat_tick (self);
    self->next_stats = now + STATS_INTERVAL_MS;
    while (broker_poll (self, -1) == 0)
        ;
    s_commit (self);
    log_info ("broker interrupted, shutting down");
    s_log_stats (self, "broker at shutdown");
    return 0;
}
