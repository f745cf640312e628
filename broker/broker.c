//  broker.c -- see broker.h.  Each turn of the loop reads what the sockets
//  hold (up to TURN_MESSAGES) inside one store transaction, dispatches
//  queued tuples to agents with credit, commits, only then answers
//  producers (group commit), and sends the WORK.  Here: sockets, the loop,
//  recovery at start, errors, counters; producers are in
//  broker_producers.c, agents in broker_agents.c, WORK in broker_dispatch.c.
#include "broker/broker_private.h"
#include "common/curve.h"

#include <errno.h>
#include <sodium.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define TURN_MESSAGES      1024     //  messages per turn before committing
#define STATS_INTERVAL_MS  10000
#define COMMIT_DELAY_MS    10       //  most a change that acknowledges nothing waits

void
broker_config_defaults (broker_config_t *config)
{
    *config = (broker_config_t) {
        .frontend = BROKER_FRONTEND_DEFAULT,
        .intake = BROKER_INTAKE_DEFAULT,
        .backend = BROKER_BACKEND_DEFAULT,
        .store = BROKER_STORE_DEFAULT,
        .data_dir = BROKER_DATA_DIR_DEFAULT,
        .map_size = BROKER_MAP_SIZE_DEFAULT,
        .heartbeat_ms = BROKER_HEARTBEAT_MS_DEFAULT,
        .max_batch = BROKER_MAX_BATCH_DEFAULT,
        .work_batch = BROKER_WORK_BATCH_DEFAULT,
        .max_tuple_size = BROKER_MAX_TUPLE_DEFAULT,
        .max_message_size = BROKER_MAX_MESSAGE_DEFAULT,
        .max_queued = BROKER_MAX_QUEUED_DEFAULT,
        .max_queued_bytes = BROKER_MAX_QUEUED_BYTES_DEFAULT,
        .max_job_queued = BROKER_MAX_QUEUED_DEFAULT,
        .max_job_queued_bytes = BROKER_MAX_QUEUED_BYTES_DEFAULT,
        .retry_ms = BROKER_RETRY_MS_DEFAULT,
        .lease_slack_ms = BROKER_LEASE_SLACK_MS_DEFAULT,
        .retry_backoff_ms = BROKER_RETRY_BACKOFF_MS_DEFAULT,
        .retry_backoff_max_ms = BROKER_RETRY_BACKOFF_MAX_DEFAULT,
        .intake_hwm = BROKER_INTAKE_HWM_DEFAULT,
        .batch_memory = BROKER_BATCH_MEMORY_DEFAULT,
    };
}

static int
s_config_check (const broker_config_t *config)
{
    const char *error = NULL;
    if (!config->frontend || !config->intake || !config->backend)
        error = "frontend, intake and backend endpoints are required";
    else
    if (!config->store
    ||  (strcmp (config->store, "memory") && strcmp (config->store, "lmdb")))
        error = "unknown store (known: lmdb, memory)";
    else
    if (!strcmp (config->store, "lmdb") && (!config->data_dir || !*config->data_dir))
        error = "the lmdb store needs a data directory";
    else
    if (config->heartbeat_ms == 0)
        error = "heartbeat_ms must be at least 1";
    else
    if (config->max_batch == 0 || config->max_batch > MSG_MAX_PAYLOADS)
        error = "max_batch must be between 1 and 100000";
    else
    if (config->work_batch == 0 || config->work_batch > MSG_MAX_REFS)
        error = "work_batch must be between 1 and 100000";
    else
    if (config->max_tuple_size == 0 || config->max_message_size <= 0
    ||  config->max_queued == 0 || config->max_queued_bytes == 0
    ||  config->max_job_queued == 0 || config->max_job_queued_bytes == 0
    ||  config->batch_memory == 0 || config->map_size == 0)
        error = "size and queue limits must be positive";
    if (error)
        log_error ("broker: %s", error);
    return error? -EINVAL: 0;
}

//  Bind sock to each endpoint of a comma-separated list.
static int
s_bind_all (zsock_t *sock, const char *name, const char *endpoints)
{
    char *list = strdup (endpoints);
    if (!list)
        return -ENOMEM;
    int rc = 0;
    char *saveptr = NULL;
    for (char *endpoint = strtok_r (list, ",", &saveptr); endpoint && rc == 0;
         endpoint = strtok_r (NULL, ",", &saveptr)) {
        if (zsock_bind (sock, "%s", endpoint) == -1) {
            log_error ("broker: cannot bind %s to %s: %s", name, endpoint,
                       zmq_strerror (zmq_errno ()));
            rc = -EADDRNOTAVAIL;
        }
    }
    free (list);
    return rc;
}

static zsock_t *
s_socket (int type, const char *name, const char *endpoints, const char *domain,
          const broker_config_t *config)
{
    zsock_t *sock = zsock_new (type);
    if (!sock)
        return NULL;
    //  Over this size libzmq drops the connection without a word; smaller
    //  limits (tuple size, batch) are ours and get an ERROR.
    zsock_set_maxmsgsize (sock, config->max_message_size);
    //  Without keys the NULL mechanism, as before; with an auth_t still
    //  through ZAP so connections are logged.
    int rc = config->keys? curve_server (sock, config->keys, domain)
           : config->auth? curve_insecure_server (sock, domain): 0;
    if (rc) {
        log_error ("broker: %s: cannot set up %s: %s", name,
                   config->keys? "CURVE": "ZAP", strerror (-rc));
        zsock_destroy (&sock);
        return NULL;
    }
    if (s_bind_all (sock, name, endpoints))
        zsock_destroy (&sock);
    return sock;
}

//  The queue's reader: a durable store keeps the payloads of fresh tuples.
static size_t
s_read_stored (void *arg, job_t *job, uint64_t from, size_t max, queue_tuple_t *out)
{
    broker_t *self = (broker_t *) arg;
    return store_read (self->store, job, from, max, out);
}

//  store_load callback: a job found in the store at start, with what of it
//  is still queued.  Leased tuples were already counted and made queued.
static void
s_recovered (job_t *job, uint64_t queued, uint64_t first_id, uint64_t bytes, void *arg)
{
    broker_t *self = (broker_t *) arg;
    job_counters_t counters = *job_counters (job);
    if (counters.submitted != counters.done + counters.failed + queued)
        log_warn ("job %s: store holds %" PRIu64 " tuples, counters say %" PRIu64
                  "; trusting the tuples", job_name (job), queued,
                  counters.submitted - counters.done - counters.failed);
    counters.queued = queued;
    counters.submitted = counters.done + counters.failed + queued;
    job_restore (job, job_next_id (job), job_closed (job), &counters, bytes);
    if (zhashx_insert (self->jobs, job_name (job), job)
    ||  queue_push_stored (self->queue, job, first_id, (size_t) queued)) {
        log_error ("job %s: out of memory recovering it", job_name (job));
        zhashx_delete (self->jobs, job_name (job));
        return;
    }
    if (job_number (job) >= self->next_job_number)
        self->next_job_number = job_number (job) + 1;
    self->counters.recovered += queued;
    log_info ("job %s recovered: %" PRIu64 " tuples queued, %" PRIu64 " done, %" PRIu64
              " failed, %s", job_name (job), queued, counters.done, counters.failed,
              job_state_name (job_state (job)));
}

broker_t *
broker_new (const broker_config_t *config)
{
    if (s_config_check (config))
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
    self->store = strcmp (config->store, "lmdb")? store_memory_new ()
                : store_lmdb_new (config->data_dir, config->map_size);
    self->queue = queue_new_reader (s_read_stored, self);
    self->delay = delay_new ();
    self->works = zlist_new ();
    self->next_job_number = 1;
    self->roster = roster_new ();
    self->jobs = zhashx_new ();
    self->replies = zlist_new ();
    self->frames_size = config->max_batch > config->work_batch?
        config->max_batch: config->work_batch;
    self->frames = calloc (self->frames_size, sizeof (zframe_t *));
    self->tuples = calloc (config->work_batch, sizeof (queue_tuple_t));
    self->dead = calloc (config->work_batch, sizeof (queue_tuple_t));
    if (!self->frontend_endpoints || !self->intake_endpoints
    ||  !self->backend_endpoints || !self->data_dir || !self->store || !self->queue
    ||  !self->delay || !self->works || !self->roster || !self->jobs
    ||  !self->replies || !self->frames || !self->tuples || !self->dead) {
        log_error (self->store? "broker: out of memory": "broker: cannot open the store");
        broker_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->jobs, (zhashx_destructor_fn *) job_destroy);
    if (store_load (self->store, s_recovered, self)) {
        log_error ("broker: cannot read the store in %s", self->data_dir);
        broker_destroy (&self);
        return NULL;
    }

    self->frontend = s_socket (ZMQ_ROUTER, "frontend", config->frontend,
                              AUTH_DOMAIN_PRODUCERS, config);
    self->intake = self->frontend?
        s_socket (ZMQ_PULL, "intake", config->intake, AUTH_DOMAIN_PRODUCERS, config): NULL;
    self->backend = self->intake?
        s_socket (ZMQ_ROUTER, "backend", config->backend, AUTH_DOMAIN_AGENTS, config): NULL;
    if (self->backend) {
        //  Credit bounds what we queue to an agent, not the high-water mark,
        //  and a ROUTER would silently drop WORK over it.
        zsock_set_sndhwm (self->backend, 0);
        //  The intake is bounded by its high-water mark: past it, producers'
        //  PUSH sockets block (back-pressure without a word).
        zsock_set_rcvhwm (self->intake, (int) config->intake_hwm);
        self->poller = zpoller_new (self->frontend, self->intake, self->backend, NULL);
    }
    if (!self->poller) {
        broker_destroy (&self);
        return NULL;
    }
    return self;
}

void
broker_destroy (broker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    broker_t *self = *self_p;
    zpoller_destroy (&self->poller);
    zsock_destroy (&self->frontend);
    zsock_destroy (&self->intake);
    zsock_destroy (&self->backend);
    if (self->replies) {
        broker_drop_replies (self);
        zlist_destroy (&self->replies);
    }
    if (self->works) {
        broker_drop_works (self);
        zlist_destroy (&self->works);
    }
    //  Agents and the queue hold frames and point at jobs: they go first.
    roster_destroy (&self->roster);
    queue_destroy (&self->queue);
    delay_destroy (&self->delay);
    zhashx_destroy (&self->jobs);
    store_destroy (&self->store);
    free (self->frames);
    free (self->tuples);
    free (self->dead);
    free (self->refs);
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

int
broker_refs_reserve (broker_t *self, size_t count)
{
    if (count <= self->refs_size)
        return 0;
    msg_ref_t *refs = realloc (self->refs, count * sizeof *refs);
    if (!refs)
        return -ENOMEM;
    self->refs = refs;
    self->refs_size = count;
    return 0;
}

//  ---------------------------------------------------------------------
//  Errors

const char *
broker_decode_reason (int code)
{
    switch (code) {
        case DRV_E_BAD_VERSION:     return "supported: 1";
        case DRV_E_BAD_FRAMES:      return "expected frames DRV1, command, header, payload";
        case DRV_E_BAD_HEADER:      return "header is not one msgpack map with string keys";
        case DRV_E_MISSING_FIELD:   return "a required header field is missing";
        case DRV_E_BAD_TYPE:        return "a header field has the wrong type";
        case DRV_E_UNKNOWN_COMMAND: return "no such command in version 1";
        case DRV_E_TOO_LARGE:       return "header or frame count over the limit";
        default:                    return "malformed message";
    }
}

void
broker_count_error (broker_t *self, const char *where, int code, const char *reason)
{
    if (code > 0 && code < DRV_E_MAX)
        self->counters.errors[code]++;
    log_warn ("%s: %s: %s", where, msg_error_name (code), reason);
}

bool
broker_allowed (broker_t *self, const char *domain, const char *key)
{
    auth_t *auth = self->config.auth;
    if (!auth)
        return true;
    if (!key)
        key = "";
    int index = strcmp (domain, AUTH_DOMAIN_PRODUCERS)? 1: 0;
    uint64_t generation = auth_generation (auth);
    if (self->allowed[index].generation == generation
    &&  !strcmp (self->allowed[index].key, key))
        return self->allowed[index].allowed;
    bool allowed = auth_allowed (auth, domain, key);
    //  A key too long to cache (never a Z85 key) is asked every time.
    if (strlen (key) < sizeof self->allowed[index].key) {
        strcpy (self->allowed[index].key, key);
        self->allowed[index].generation = generation;
        self->allowed[index].allowed = allowed;
    }
    return allowed;
}

const char *
broker_denied_reason (const char *key, char *buffer, size_t size)
{
    snprintf (buffer, size, "key %s is not allowed (revoked?)", key && *key? key: "(none)");
    return buffer;
}

void
broker_count_denied (broker_t *self, const char *where, const char *reason)
{
    self->counters.errors[DRV_E_DENIED]++;
    int64_t second = zclock_mono () / 1000;
    if (second != self->denied_second) {
        self->denied_second = second;
        self->denied_logged = 0;
    }
    if (self->denied_logged >= AUTH_LOG_PER_SEC) {
        self->denied_quiet++;
        return;
    }
    self->denied_logged++;
    char quiet[64] = "";
    if (self->denied_quiet)
        snprintf (quiet, sizeof quiet, " (and %" PRIu64 " more not logged)",
                  self->denied_quiet);
    self->denied_quiet = 0;
    log_warn ("%s: DENIED: %s; %" PRIu64 " messages denied%s", where, reason,
              self->counters.errors[DRV_E_DENIED], quiet);
}

//  A peer's ERROR is never answered (PROTOCOL.md 5): we log it.
void
broker_peer_error (broker_t *self, const char *where, msg_t *msg)
{
    (void) self;
    int code = (int) msg_uint (msg, MSG_F_CODE);
    log_warn ("%s: peer sent ERROR %s: %s", where,
              msg_error_name (code), msg_str (msg, MSG_F_REASON));
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
              PRIu64 " dead letters, %" PRIu64 " duplicate SUBMITs, %zu queued in %zu jobs, %zu "
              "backing off; agents %zu (%" PRIu64 " joined, %" PRIu64 " left, %" PRIu64 " lost)%s",
              when, c->accepted, c->dispatched, c->done, c->failed, c->requeued,
              c->expired, c->dead_letters, c->duplicates,
              queue_depth (self->queue), queue_jobs (self->queue), delay_size (self->delay),
              roster_size (self->roster), c->agents_joined, c->agents_left,
              c->agents_lost, errors);
    self->logged = self->counters;
}

//  Jobs whose counters changed this turn go into the same transaction.
static void
s_put_dirty_jobs (broker_t *self)
{
    for (job_t *job = (job_t *) zhashx_first (self->jobs); job;
         job = (job_t *) zhashx_next (self->jobs))
        if (job_dirty (job)) {
            if (store_put_job (self->store, job))
                log_error ("job %s: the store failed to record it", job_name (job));
            job_clean (job);
        }
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
    return zlist_size (self->replies) > 0
        || self->counters.accepted != self->txn_accepted
        || now - self->txn_started >= COMMIT_DELAY_MS
        || zsys_interrupted;
}

static int
s_commit (broker_t *self)
{
    if (!self->in_txn)
        return 0;
    s_put_dirty_jobs (self);
    self->in_txn = false;
    int rc = store_commit (self->store);
    if (rc)
        log_error ("broker: the store cannot commit: %s", strerror (-rc));
    return rc;
}

static void
s_turn (broker_t *self)
{
    int rc = s_begin (self, zclock_mono ());
    //  Without a transaction we still read: refusing producers (INTERNAL)
    //  and serving agents beats letting the sockets fill up.
    size_t handled = 0;
    bool more = true;
    while (more && handled < TURN_MESSAGES && !zsys_interrupted) {
        more = false;
        if (s_readable (self->frontend)) {
            broker_frontend_recv (self);
            more = true;
            handled++;
        }
        if (s_readable (self->intake)) {
            broker_intake_recv (self);
            more = true;
            handled++;
        }
        if (s_readable (self->backend)) {
            broker_backend_recv (self);
            more = true;
            handled++;
        }
    }
    int64_t now = zclock_mono ();
    if (now >= self->next_heartbeat) {
        broker_heartbeats (self, now);
        self->next_heartbeat = now + s_heartbeat_tick (self);
    }
    broker_delays_due (self, now);
    //  Dispatch inside the transaction: it reads payloads from the store
    //  and records the leases.
    broker_dispatch (self);
    if (rc == 0 && s_must_commit (self, now))
        rc = s_commit (self);
    //  Replies wait for the commit (s_must_commit saw to it); WORK goes
    //  now, its leases with the next commit at the latest.
    broker_flush_replies (self, rc);
    broker_send_works (self);
    if (now >= self->next_stats) {
        if (memcmp (&self->counters, &self->logged, sizeof self->counters))
            s_log_stats (self, "broker");
        self->next_stats = now + STATS_INTERVAL_MS;
    }
}

int
broker_run (broker_t *self)
{
    log_info ("broker ready: frontend %s, intake %s, backend %s (store %s%s%s, "
              "%" PRIu64 " tuples recovered, heartbeat %u ms, %s%s)",
              self->config.frontend, self->config.intake, self->config.backend,
              store_name (self->store), store_durable (self->store)? " in ": "",
              store_durable (self->store)? self->data_dir: "",
              self->counters.recovered, self->config.heartbeat_ms,
              self->config.keys? "CURVE key ": "no CURVE",
              self->config.keys? keys_public_txt (self->config.keys): "");
    int64_t now = zclock_mono ();
    self->next_heartbeat = now + s_heartbeat_tick (self);
    self->next_stats = now + STATS_INTERVAL_MS;
    while (!zsys_interrupted) {
        now = zclock_mono ();
        int64_t next = self->next_heartbeat < self->next_stats?
            self->next_heartbeat: self->next_stats;
        if (delay_next (self->delay) < next)
            next = delay_next (self->delay);
        if (self->in_txn && self->txn_started + COMMIT_DELAY_MS < next)
            next = self->txn_started + COMMIT_DELAY_MS;
        int timeout = next > now? (int) (next - now): 0;
        zpoller_wait (self->poller, timeout);
        if (zpoller_terminated (self->poller))
            break;
        s_turn (self);
    }
    s_commit (self);
    log_info ("broker interrupted, shutting down");
    s_log_stats (self, "broker at shutdown");
    return 0;
}
