//  sink.c -- see sink.h.  One thread, one ROUTER: a RESULT batch is opened
//  if sealed (seal.h) and checked (result.c); the RESULTs drained in one
//  turn are deduped (seen.c) and written as one write (output.c), recorded
//  in the index in one commit (group.c), and only then answered with
//  STORED, so a STORED agent may tell the broker DONE.
//  Anything else gets an ERROR with a code, a counter and a log line.
//
//  Exactly once: lines first, index second.  A crash after the write and
//  before the index commit leaves lines the index lacks; recover.c indexes
//  them at the next start, so a redelivered batch is not written again.
//  The other order could lose results: indexed, acknowledged never, and
//  dropped as duplicates when the agent sends them again.
#include "sink/sink.h"

//  czmq.h pulls in <syslog.h>, whose LOG_LEVEL_DEBUG and LOG_LEVEL_INFO macros would
//  shadow common/log.h's levels; drop them (nothing here uses syslog).
#include <czmq.h>
#include "common/curve.h"
#include "common/log.h"
#include "common/peerlog.h"
#include "common/seal.h"
#include "sink/exporter.h"
#include "sink/group.h"
#include "sink/output.h"
#include "sink/manifest_writer.h"
#include "sink/recover.h"
#include "sink/result.h"
#include "sink/seen.h"
#include "proto/wire.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SINK_LINGER_MS      1000    //  let the last STOREDs out at shutdown
#define SINK_MAX_MESSAGE    (256LL * 1024 * 1024)   //  bytes in one frame (PROTOCOL.md 7)
#define SINK_DRAIN_MAX      256     //  messages handled per poll turn
#define SINK_GROUP_RECORDS  16384   //  records stored together, at most (a few MiB of lines)
#define SINK_LOG_PER_SEC    10      //  lines an agent can cause, per second and kind
#define SINK_TICK_MS        500     //  sink_run re-checks the interrupt flag
#define SINK_HEARTBEAT_MS   2000    //  ZMTP PINGs to agents: a silent one is gone after 4

struct sink {
    zsock_t      *router;
    zpoller_t    *poller;
    output_t     *output;
    seen_t       *seen;
    result_t     *result;
    seal_cache_t *seals;            //  with keys: one seal per agent key
    bool          allow_plain;
    auth_t       *auth;             //  the allow-list of agents (borrowed), or NULL
    uint8_t      *ad;               //  associated data of a sealed batch
    size_t        ad_capacity;
    group_t      *group;            //  RESULTs of this turn, stored together
    metrics_histogram_t latency;    //  of the group's results, counted once stored
    char         *endpoints;
    sink_exporter_t *exporter;      //  with --http: /metrics and health
    manifest_writer_t *manifests;   //  with manifests and a regular output file
    sink_stats_t  stats;
    peerlog_t    *log;              //  lines an agent can cause, rate-limited
};

//  Bind each comma-separated endpoint; collect the resolved ones.
static int
s_bind (sink_t *self, const char *list)
{
    char *copy = strdup (list);
    if (!copy)
        return -1;
    int bound = 0;
    char *save = NULL;
    for (char *ep = strtok_r (copy, ", ", &save); ep; ep = strtok_r (NULL, ", ", &save)) {
        if (zsock_bind (self->router, "%s", ep) == -1) {
            log_error ("cannot bind %s: %s", ep, zmq_strerror (zmq_errno ()));
            free (copy);
            return -1;
        }
        const char *real = zsock_endpoint (self->router);
        char *joined = self->endpoints
            ? zsys_sprintf ("%s,%s", self->endpoints, real? real: ep)
            : strdup (real? real: ep);
        if (!joined) {
            free (copy);
            return -1;
        }
        zstr_free (&self->endpoints);
        self->endpoints = joined;
        bound++;
    }
    free (copy);
    if (bound == 0)
        log_error ("no endpoint to bind in '%s'", list);
    return bound? 0: -1;
}

//  The dedupe index, and for a durable one, lines written after its last
//  commit (recover.h).
static int
s_open_index (sink_t *self, const sink_config_t *config)
{
    if (!config->data_dir) {
        self->seen = seen_new ();
        return self->seen? 0: -1;
    }
    char err[512];
    self->seen = seen_open (config->data_dir, config->fsync, err, sizeof err);
    if (!self->seen) {
        log_error ("%s", err);
        return -1;
    }
    recover_stats_t recovered;
    if (recover_output (self->output, self->seen, &recovered, err, sizeof err)) {
        log_error ("%s", err);
        return -1;
    }
    self->stats.recovered = recovered.indexed;
    if (recovered.indexed || recovered.unreadable || recovered.cut)
        log_warn ("recovered the index from %s: %" PRIu64 " lines after offset %" PRIu64
                  ", %" PRIu64 " results indexed, %" PRIu64 " unreadable lines skipped, %"
                  PRIu64 " bytes of a partial line cut", output_path (self->output),
                  recovered.lines, recovered.from, recovered.indexed,
                  recovered.unreadable, recovered.cut);
    log_info ("dedupe index in %s: %zu results of %zu jobs", config->data_dir,
              seen_size (self->seen), seen_jobs (self->seen));
    return 0;
}

//  The keypair: sealed results, and CURVE on the ROUTER (with a ZAP
//  allow-list if asked), before it binds.
static int
s_secure (sink_t *self, const sink_config_t *config)
{
    keys_t *keys = config->keys;
    if (!keys)
        return 0;
    if (!keys_has_secret (keys)) {
        log_error ("the sink's certificate has no secret key");
        return -1;
    }
    self->seals = seal_cache_new (keys_secret (keys), keys_public (keys), 0);
    if (!self->seals)
        return -1;
    self->allow_plain = config->allow_plain;
    //  Agents' keys are checked as the broker's backend checks them.
    self->auth = config->auth;
    int rc = self->auth? curve_server (self->router, keys, AUTH_DOMAIN_AGENTS): -EINVAL;
    if (rc)
        log_error ("cannot set up CURVE: %s", self->auth? strerror (-rc)
                                                        : "no ZAP handler (auth_t) given");
    return rc? -1: 0;
}

//  The group of RESULTs stored together, marking the output file in the
//  index if it is a regular one.
static int
s_open_group (sink_t *self)
{
    uint64_t dev = 0, ino = 0, size;
    bool mark = output_stat (self->output, &dev, &ino, &size) == 0;
    self->group = group_new (self->output, self->seen, mark, dev, ino);
    return self->group? 0: -1;
}

//  The latency histogram, and with --http the exporter.
static int
s_open_exporter (sink_t *self, const sink_config_t *config)
{
    static const double seconds[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
                                      5, 10, 30, 60, 300 };
    metrics_histogram_init (&self->stats.latency, seconds, sizeof seconds / sizeof seconds[0]);
    metrics_histogram_init (&self->latency, seconds, sizeof seconds / sizeof seconds[0]);
    if (config->http)
        self->exporter = sink_exporter_new (config->http, self->output, self->seen);
    return config->http && !self->exporter? -1: 0;
}

//  With manifests, and an output file they can be written beside.
static int
s_open_manifests (sink_t *self, const sink_config_t *config)
{
    uint64_t dev, ino, size;
    if (!config->manifests || output_stat (self->output, &dev, &ino, &size))
        return 0;
    self->manifests = manifest_writer_new (output_path (self->output),
                                           config->manifest_delay_ms);
    return self->manifests? 0: -1;
}

sink_t *
sink_new (const sink_config_t *config)
{
    assert (config);
    const char *bind = config->bind? config->bind: SINK_DEFAULT_BIND;
    const char *path = config->output? config->output: "-";
    sink_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->result = result_new ();
    self->router = zsock_new (ZMQ_ROUTER);
    self->log = peerlog_new (SINK_LOG_PER_SEC);
    if (!self->result || !self->router || !self->log) {
        log_error ("cannot create the sink: out of memory or sockets");
        sink_destroy (&self);
        return NULL;
    }
    zsock_set_linger (self->router, SINK_LINGER_MS);
    //  Nothing a RESULT makes the sink allocate grows with what it claims,
    //  only with its bytes (result.c checks counts first), so this bounds
    //  a message's cost: the frame, and its lines (a few times its size).
    //  An agent splits bigger batches; libzmq drops a peer that sends a
    //  bigger frame before it reads the frame.
    zsock_set_maxmsgsize (self->router, SINK_MAX_MESSAGE);
    //  Report unroutable replies instead of dropping them silently, and
    //  never block on a slow agent: it gets its batch redelivered instead.
    zsock_set_router_mandatory (self->router, 1);
    zsock_set_sndtimeo (self->router, 0);
    //  An agent gone without a word (its host, a partition) is dropped.
    zsock_set_heartbeat_ivl (self->router, SINK_HEARTBEAT_MS);
    zsock_set_heartbeat_timeout (self->router, 4 * SINK_HEARTBEAT_MS);
    self->output = output_new (path, config->fsync);
    if (!self->output) {
        log_error ("cannot open output %s: %s", path, strerror (errno));
        sink_destroy (&self);
        return NULL;
    }
    if (s_open_index (self, config) || s_secure (self, config) || s_bind (self, bind)
    ||  s_open_group (self)) {
        sink_destroy (&self);
        return NULL;
    }
    self->poller = zpoller_new (self->router, NULL);
    if (!self->poller || s_open_exporter (self, config) || s_open_manifests (self, config)) {
        sink_destroy (&self);
        return NULL;
    }
    return self;
}

void
sink_destroy (sink_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sink_t *self = *self_p;
    manifest_writer_destroy (&self->manifests);     //  writes those not written yet
    sink_exporter_destroy (&self->exporter);
    zpoller_destroy (&self->poller);
    zsock_destroy (&self->router);
    output_destroy (&self->output);
    seen_destroy (&self->seen);
    result_destroy (&self->result);
    seal_cache_destroy (&self->seals);
    free (self->ad);
    group_destroy (&self->group);
    zstr_free (&self->endpoints);
    peerlog_destroy (&self->log);
    free (self);
    *self_p = NULL;
}

//  Count a bad message, log it, and answer ERROR if there is a peer to
//  answer (envelope) and it did not send an ERROR itself.
static void
s_reject (sink_t *self, zmsg_t *envelope, int version, int code, const char *agent,
          const char *reason, bool answer)
{
    if (code <= 0 || code >= DRV_E_MAX)
        code = DRV_E_INTERNAL;
    self->stats.bad++;
    self->stats.errors[code]++;
    peerlog_write (self->log, "bad messages", LOG_LEVEL_WARN, "bad message from %s: %s: %s",
                   agent? peerlog_str (agent).text: "a peer", msg_error_name (code),
                   peerlog_str (reason).text);
    if (answer && envelope && wire_send_error (self->router, envelope, version, code, reason))
        peerlog_write (self->log, "answers", LOG_LEVEL_WARN, "cannot answer ERROR %s to %s: %s",
                       msg_error_name (code), agent? peerlog_str (agent).text: "a peer",
                       zmq_strerror (zmq_errno ()));
}

//  Store the group: one write, one index commit; then answer each of its
//  RESULTs, STORED (in the RESULT's version, its tuples as they came, runs
//  and all) or ERROR.
static void
s_flush (sink_t *self)
{
    size_t count = group_results (self->group);
    if (count == 0)
        return;
    int rc = group_commit (self->group);
    if (rc == 0)
        metrics_histogram_add (&self->stats.latency, &self->latency);
    metrics_histogram_init (&self->latency, self->stats.latency.bounds,
                            self->stats.latency.bound_count);
    for (size_t i = 0; i < count; i++) {
        const group_result_t *stored = group_result (self->group, i);
        msg_t *msg = stored->msg;
        const char *job = msg_str (msg, MSG_F_JOB);
        const char *agent = msg_str (msg, MSG_F_AGENT);
        int version = msg_version (msg);
        if (rc) {
            s_reject (self, stored->envelope, version, rc, agent,
                      "cannot store results, retry later", true);
            continue;
        }
        if (stored->new_job)
            peerlog_write (self->log, "new jobs", LOG_LEVEL_INFO,
                           "job %s: first results, from agent %s", peerlog_str (job).text,
                           peerlog_str (agent).text);
        self->stats.batches++;
        self->stats.stored += stored->fresh;
        self->stats.failed += stored->failed;
        self->stats.duplicates += stored->duplicates;
        log_debug ("job %s: stored %zu results from agent %s, %zu duplicates dropped",
                   peerlog_str (job).text, stored->fresh, peerlog_str (agent).text,
                   stored->duplicates);
        size_t runs_count = 0;
        const msg_run_t *runs = msg_runs (msg, MSG_F_TUPLES, &runs_count);
        msg_t *reply = msg_new (MSG_STORED);
        if (!reply
        ||  msg_set_version (reply, version)
        ||  msg_set_str (reply, MSG_F_JOB, job)
        ||  msg_set_runs (reply, MSG_F_TUPLES, runs, runs_count)
        ||  (stored->dead_count
             && msg_set_refs (reply, MSG_F_DEAD, stored->dead, stored->dead_count))
        ||  wire_send (&reply, self->router, stored->envelope))
            peerlog_write (self->log, "answers", LOG_LEVEL_WARN,
                           "cannot send STORED for job %s to agent %s: %s",
                           peerlog_str (job).text, peerlog_str (agent).text,
                           zmq_strerror (zmq_errno ()));
        msg_destroy (&reply);
    }
    group_clear (self->group);
}

//  Open a sealed batch in place (seal.h): data and size become the plain
//  batch.  0, or a DRV_E_* code with a reason.
static int
s_open_sealed (sink_t *self, msg_t *msg, uint8_t **data_p, size_t *size_p,
               char *reason, size_t reason_len)
{
    const char *job = msg_str (msg, MSG_F_JOB);
    const char *agent = msg_str (msg, MSG_F_AGENT);
    size_t count = 0;
    const msg_run_t *runs = msg_runs (msg, MSG_F_TUPLES, &count);
    int version = msg_version (msg);
    if (!self->seals) {
        snprintf (reason, reason_len, "sealed result (key), but this sink has no "
                  "keypair to open it (start it with --cert)");
        return DRV_E_DENIED;
    }
    uint8_t peer[KEYS_KEY_SIZE];
    if (keys_z85_decode (msg_str (msg, MSG_F_KEY), peer, "key", reason, reason_len))
        return DRV_E_BAD_TYPE;
    size_t ad_len = seal_result_ad (NULL, 0, version, peer, job, agent, runs, count);
    if (ad_len > self->ad_capacity) {
        uint8_t *ad = realloc (self->ad, ad_len);
        if (!ad) {
            snprintf (reason, reason_len, "out of memory");
            return DRV_E_INTERNAL;
        }
        self->ad = ad;
        self->ad_capacity = ad_len;
    }
    seal_result_ad (self->ad, self->ad_capacity, version, peer, job, agent, runs, count);
    uint8_t *data = *data_p;
    size_t size = *size_p, plain = 0;
    //  In place: the frame is ours, and opening it costs no copy.
    int rc = seal_cache_decrypt (self->seals, peer, self->ad, ad_len, data, size,
                                 data + SEAL_NONCE_SIZE,
                                 size > SEAL_NONCE_SIZE? size - SEAL_NONCE_SIZE: 0, &plain);
    if (rc) {
        snprintf (reason, reason_len, "sealed result rejected: %s",
                  seal_cache_reason (self->seals));
        return -rc;
    }
    *data_p = data + SEAL_NONCE_SIZE;
    *size_p = plain;
    self->stats.sealed++;
    return 0;
}

static void
s_on_result (sink_t *self, zmsg_t **envelope_p, msg_t **msg_p)
{
    zmsg_t *envelope = *envelope_p;
    msg_t *msg = *msg_p;
    const char *job = msg_str (msg, MSG_F_JOB);
    const char *agent = msg_str (msg, MSG_F_AGENT);
    int version = msg_version (msg);
    size_t runs_count = 0;
    const msg_run_t *runs = msg_runs (msg, MSG_F_TUPLES, &runs_count);
    if (!job || !agent || !msg_has (msg, MSG_F_TUPLES)) {
        s_reject (self, envelope, version, DRV_E_MISSING_FIELD, agent,
                  "RESULT needs job, agent and tuples", true);
        return;
    }
    if (msg_payload_count (msg) != 1) {
        char reason[96];
        snprintf (reason, sizeof reason, "RESULT has %zu payload frames, not 1",
                  msg_payload_count (msg));
        s_reject (self, envelope, version, DRV_E_BAD_FRAMES, agent, reason, true);
        return;
    }
    zframe_t *batch = msg_payload (msg, 0);
    uint8_t *data = zframe_data (batch);
    size_t size = zframe_size (batch);
    char reason[256];
    int rc = 0;
    if (msg_has (msg, MSG_F_KEY))
        rc = s_open_sealed (self, msg, &data, &size, reason, sizeof reason);
    else
    if (self->seals && !self->allow_plain) {
        snprintf (reason, sizeof reason, "this sink takes sealed results only: "
                  "RESULT needs key (or start the sink with --allow-plain)");
        rc = DRV_E_DENIED;
    }
    if (rc) {
        s_reject (self, envelope, version, rc, agent, reason, true);
        return;
    }
    rc = result_decode (self->result, data, size, version, runs, runs_count);
    if (rc) {
        s_reject (self, *envelope_p, version, -rc, agent, result_reason (self->result), true);
        return;
    }
    //  The group keeps the message: its records and header point into it.
    group_add (self->group, envelope_p, msg_p, self->result, &self->latency);
    if (group_records (self->group) >= SINK_GROUP_RECORDS)
        s_flush (self);
}

static void
s_handle (sink_t *self)
{
    zmsg_t *envelope = NULL;
    msg_t *msg = NULL;
    int version = MSG_VERSION_MIN;
    int rc = wire_recv_request (self->router, &envelope, &msg, &version, NULL, 0);
    if (rc == -DRV_E_NOTHING)
        return;
    self->stats.messages++;
    if (rc < 0) {
        char reason[64];
        if (!envelope && rc == -DRV_E_TOO_LARGE)
            snprintf (reason, sizeof reason, "routing envelope over %d frames, message dropped",
                      MSG_MAX_ENVELOPE);
        else
        if (!envelope)
            snprintf (reason, sizeof reason, "no routing envelope, message dropped");
        else
        if (rc == -DRV_E_BAD_VERSION)       //  PROTOCOL.md 6: name what we speak
            snprintf (reason, sizeof reason, "%s", MSG_VERSIONS_SPOKEN);
        else
            snprintf (reason, sizeof reason, "cannot decode message: %s",
                      msg_error_name (-rc));
        s_reject (self, envelope, version, -rc, NULL, reason, true);
    }
    else
    if (self->auth && !auth_allowed (self->auth, AUTH_DOMAIN_AGENTS, msg_user_id (msg))) {
        //  Let in before its key was taken off the list: libzmq keeps the
        //  connection, we refuse what comes on it.  Never answer an ERROR.
        char reason[96];
        snprintf (reason, sizeof reason, "key %s is not allowed (revoked?)",
                  *msg_user_id (msg)? msg_user_id (msg): "(none)");
        s_reject (self, envelope, msg_version (msg), DRV_E_DENIED, msg_str (msg, MSG_F_AGENT), reason,
                  msg_command (msg) != MSG_ERROR);
    }
    else {
        msg_command_t command = msg_command (msg);
        if (command == MSG_RESULT)
            s_on_result (self, &envelope, &msg);
        else {
            char reason[64];
            snprintf (reason, sizeof reason, "%s is not for the sink",
                      msg_command_name (command));
            //  Never answer an ERROR with an ERROR (PROTOCOL.md 5).
            s_reject (self, envelope, version, DRV_E_UNEXPECTED, msg_str (msg, MSG_F_AGENT),
                      reason, command != MSG_ERROR);
        }
    }
    msg_destroy (&msg);
    zmsg_destroy (&envelope);
}

//  With --http, publish the counters when due.
static void
s_export (sink_t *self)
{
    if (!self->exporter || !sink_exporter_due (self->exporter, zclock_mono ()))
        return;
    sink_stats_t stats;
    sink_stats (self, &stats);
    sink_exporter_publish (self->exporter, &stats);
}

int
sink_poll (sink_t *self, int timeout_ms)
{
    assert (self);
    s_export (self);
    if (self->manifests)
        manifest_writer_tick (self->manifests, zclock_mono ());
    if (zsys_interrupted)
        return -EINTR;
    peerlog_flush (self->log);
    if (!zpoller_wait (self->poller, timeout_ms))
        return zpoller_terminated (self->poller) || zsys_interrupted? -EINTR: 0;
    //  Drain what is ready, but come back to the poller now and then so
    //  an interrupt is noticed under constant load.
    for (int i = 0; i < SINK_DRAIN_MAX && !zsys_interrupted; i++) {
        if (i > 0 && !(zsock_events (self->router) & ZMQ_POLLIN))
            break;
        s_handle (self);
    }
    s_flush (self);
    return zsys_interrupted? -EINTR: 0;
}

int
sink_run (sink_t *self)
{
    assert (self);
    while (sink_poll (self, SINK_TICK_MS) == 0)
        ;
    return 0;
}

void
sink_stats (const sink_t *self, sink_stats_t *stats)
{
    assert (self && stats);
    *stats = self->stats;
    stats->write_errors = output_failures (self->output);
    if (self->seals) {
        seal_stats_t seals;
        seal_cache_stats (self->seals, &seals);
        stats->tampered = seals.tampered;
        stats->replayed = seals.replayed + seals.stale;
    }
}

const char *
sink_endpoints (const sink_t *self)
{
    assert (self);
    return self->endpoints;
}

const char *
sink_output_path (const sink_t *self)
{
    assert (self);
    return output_path (self->output);
}
