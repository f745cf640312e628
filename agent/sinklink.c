//  sinklink.c -- one sink's connection; see sinklink.h.  The DEALER and its
//  monitor live and die together: a refusal or a failed handshake closes
//  both, and the next dial makes both anew (CURVE again, same seal).
#include "agent/sinklink.h"
#include "agent/monitor.h"
#include "agent/peer.h"
#include "common/curve.h"
#include "common/log.h"
#include "common/peerlog.h"
#include "proto/wire.h"

#include <stdlib.h>
#include <string.h>

#define LOG_PER_SEC     10          //  other lines a sink can cause, per second
#define DENIED_LOG_MS   10000       //  one DENIED line per sink this often
#define HEARTBEAT_MS    2000        //  ZMTP PINGs: a silent sink is gone after 4
#define BUDGET          1000        //  messages read per turn

struct sinklink {
    char *spec;                 //  the job's sink: "ENDPOINT" or "ENDPOINT KEY"
    char *endpoint;
    keys_t *keys;               //  ours, borrowed (NULL: none)
    uint8_t sink_key[KEYS_KEY_SIZE];
    seal_t *seal;               //  sealed sink: session keys, stream and seq
    zpoller_t *poller;

    zsock_t *dealer;            //  NULL until the next dial
    monitor_t *monitor;
    int64_t dial_at;            //  with no dealer: when to dial again
    int64_t backoff_ms;         //  before the next dial after a refusal
    bool lost;                  //  RESULTs may be lost since the last up
    monitor_outage_t outage;    //  since when it is not up
    const char *why;            //  what the last try ran into
    bool said_refused;          //  this outage's refusal was logged

    int64_t denied_logged;      //  when a DENIED was last logged
    uint64_t denied_unlogged;   //  DENIED since then, not logged
    peerlog_t *log;             //  other lines the sink can cause, rate-limited
};

//  ---------------------------------------------------------------------
//  Dialling

static void
s_close (sinklink_t *self)
{
    if (self->monitor) {
        zpoller_remove (self->poller, monitor_socket (self->monitor));
        monitor_destroy (&self->monitor);
    }
    if (self->dealer)
        zpoller_remove (self->poller, self->dealer);
    zsock_destroy (&self->dealer);
}

//  A new DEALER to the sink, watched.  0, or -1 (logged).
static int
s_dial (sinklink_t *self)
{
    self->dealer = zsock_new (ZMQ_DEALER);
    if (!self->dealer)
        return -1;
    //  Never block the reactor on a slow sink: a RESULT that does not fit
    //  is sent again after the result timeout.
    zsock_set_sndtimeo (self->dealer, 0);
    zsock_set_linger (self->dealer, 0);
    monitor_dial_options (self->dealer, HEARTBEAT_MS);
    int rc = self->seal? curve_client (self->dealer, self->keys, self->sink_key): 0;
    if (rc)
        log_error ("sink %s: cannot set up CURVE: %s", peerlog_str (self->endpoint).text,
                   strerror (-rc));
    self->monitor = rc? NULL: monitor_new (self->dealer);
    if (!self->monitor || zsock_connect (self->dealer, "%s", self->endpoint) != 0) {
        if (self->monitor)
            log_error ("cannot connect to sink '%s'", peerlog_str (self->endpoint).text);
        s_close (self);
        return -1;
    }
    zpoller_add (self->poller, self->dealer);
    zpoller_add (self->poller, monitor_socket (self->monitor));
    return 0;
}

//  A sink with a key: our keypair, and a seal for its key.  0, or -1 with
//  the reason logged.
static int
s_secure (sinklink_t *self, const char *key_txt)
{
    char err[160];
    if (!self->keys) {
        log_error ("sink %s takes sealed results only: start the agent with --cert",
                   peerlog_str (self->endpoint).text);
        return -1;
    }
    if (keys_z85_decode (key_txt, self->sink_key, "sink_key", err, sizeof err)) {
        log_error ("sink %s: %s", peerlog_str (self->endpoint).text, err);
        return -1;
    }
    self->seal = seal_new (keys_secret (self->keys), keys_public (self->keys), self->sink_key,
                           SEAL_CLIENT);
    if (!self->seal) {
        log_error ("sink %s: unusable sink_key %s", peerlog_str (self->endpoint).text, key_txt);
        return -1;
    }
    return 0;
}

sinklink_t *
sinklink_new (const char *spec, keys_t *keys, zpoller_t *poller)
{
    sinklink_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->keys = keys;
    self->poller = poller;
    self->backoff_ms = MONITOR_RETRY_MIN_MS;
    self->spec = strdup (spec);
    const char *space = strchr (spec, ' ');
    self->endpoint = space? strndup (spec, (size_t) (space - spec)): strdup (spec);
    self->log = peerlog_new (LOG_PER_SEC);
    if (!self->spec || !self->endpoint || !self->log
    ||  (space && s_secure (self, space + 1)) || s_dial (self)) {
        sinklink_destroy (&self);
        return NULL;
    }
    monitor_outage_begin (&self->outage, zclock_mono ());
    log_info ("connecting to sink %s%s", peerlog_str (self->endpoint).text,
              self->seal? " (CURVE, results sealed)": "");
    return self;
}

void
sinklink_destroy (sinklink_t **self_p)
{
    sinklink_t *self = *self_p;
    if (!self)
        return;
    s_close (self);
    seal_destroy (&self->seal);
    free (self->endpoint);
    free (self->spec);
    peerlog_destroy (&self->log);
    free (self);
    *self_p = NULL;
}

const char *
sinklink_spec (const sinklink_t *self)
{
    return self->spec;
}

const char *
sinklink_endpoint (const sinklink_t *self)
{
    return self->endpoint;
}

seal_t *
sinklink_seal (sinklink_t *self)
{
    return self->seal;
}

int
sinklink_send (sinklink_t *self, msg_t **msg_p)
{
    int rc = self->dealer? wire_send (msg_p, self->dealer, NULL): -ENOTCONN;
    msg_destroy (msg_p);
    return rc;
}

void
sinklink_linger (sinklink_t *self, int linger_ms)
{
    if (self->dealer)
        zsock_set_linger (self->dealer, linger_ms);
}

//  ---------------------------------------------------------------------
//  Events

//  The sink will not have us on this socket: close it, dial again later.
static void
s_redial (sinklink_t *self, int64_t now, const char *why)
{
    self->why = why;
    self->lost = true;          //  what waited in the socket goes with it
    monitor_outage_begin (&self->outage, now);
    s_close (self);
    self->dial_at = now + self->backoff_ms;
    self->backoff_ms = self->backoff_ms * 2 < MONITOR_RETRY_MAX_MS
                     ? self->backoff_ms * 2: MONITOR_RETRY_MAX_MS;
}

//  Up: if RESULTs may have been lost, true (send them again).
static bool
s_up (sinklink_t *self, int64_t now)
{
    self->backoff_ms = MONITOR_RETRY_MIN_MS;
    self->why = NULL;
    self->said_refused = false;
    int64_t outage = monitor_outage_end (&self->outage, now);
    bool lost = self->lost;
    self->lost = false;
    if (outage)
        log_info ("sink %s is reachable again, after %.0f s", peerlog_str (self->endpoint).text,
                  (double) outage / 1000);
    return lost;
}

static void
s_refused (sinklink_t *self, int64_t now, int status)
{
    if (!self->said_refused)
        log_error ("sink %s refused our key %s (ZAP status %d): is it on the sink's "
                   "--allow-agents list?  Still trying", peerlog_str (self->endpoint).text,
                   self->keys? keys_public_txt (self->keys): "(none)", status);
    self->said_refused = true;
    s_redial (self, now, "it refused our key: not on its --allow-agents list?");
}

//  Act on one event; true if RESULTs must go again.
static bool
s_on_event (sinklink_t *self, monitor_event_t event, int value, int64_t now)
{
    switch (event) {
        case MONITOR_UP:
            return s_up (self, now);
        case MONITOR_DOWN:
            self->lost = true;
            monitor_outage_begin (&self->outage, now);
            peerlog_write (self->log, "sink connection", LOG_LEVEL_INFO,
                           "lost the connection to sink %s: dialling again",
                           peerlog_str (self->endpoint).text);
            break;
        case MONITOR_RETRY:
            self->why = "connection refused or timed out";
            break;
        case MONITOR_UNRESOLVED:
            self->why = "its name does not resolve, or no route to it";
            break;
        case MONITOR_CLOSED:
            s_redial (self, now, "it closes the connection during the handshake: wrong "
                                 "sink key?");
            break;
        case MONITOR_REFUSED:
            s_refused (self, now, value);
            break;
        case MONITOR_BROKEN:
            s_redial (self, now, "the handshake failed: not a drover sink, or the job's "
                                 "sink key and the sink's keypair do not match up?");
            break;
        default:
            break;
    }
    return false;
}

void
sinklink_timers (sinklink_t *self, int64_t now)
{
    if (monitor_outage_due (&self->outage, now))
        log_warn ("sink %s not reachable for %.0f s (%s); still trying",
                  peerlog_str (self->endpoint).text, (double) (now - self->outage.since) / 1000,
                  self->why? self->why: "no answer yet");
    if (!self->dealer && now >= self->dial_at && s_dial (self))
        self->dial_at = now + MONITOR_RETRY_MAX_MS;     //  out of sockets: later
}

int64_t
sinklink_next_timer (const sinklink_t *self)
{
    int64_t outage = monitor_outage_next (&self->outage);
    return !self->dealer && self->dial_at < outage? self->dial_at: outage;
}

//  ---------------------------------------------------------------------
//  Messages

//  An ERROR from a sink.  The results it refused wait for the result
//  timeout and go again, resealed.  DENIED (a sealed sink refusing plain
//  results, a key it does not take, a seal it cannot open) repeats with
//  every resend, so it is logged once per DENIED_LOG_MS per sink.
static void
s_on_error (sinklink_t *self, msg_t *msg)
{
    int code = (int) msg_uint (msg, MSG_F_CODE);
    const char *reason = msg_str (msg, MSG_F_REASON);
    if (code != DRV_E_DENIED) {
        peerlog_write (self->log, "sink errors", LOG_LEVEL_WARN, "sink %s answered ERROR %s: %s",
                       peerlog_str (self->endpoint).text, msg_error_name (code),
                       peerlog_str (reason).text);
        return;
    }
    int64_t now = zclock_mono ();
    if (self->denied_logged && now - self->denied_logged < DENIED_LOG_MS) {
        self->denied_unlogged++;
        return;
    }
    log_error ("sink %s refused results (DENIED): %s%s; they are sent again later "
               "(%llu more DENIED not logged)", peerlog_str (self->endpoint).text,
               peerlog_str (reason).text,
               self->seal? "": " (this agent sends them unsealed: start it with --cert "
               "and submit the job with the sink's key)",
               (unsigned long long) self->denied_unlogged);
    self->denied_logged = now;
    self->denied_unlogged = 0;
}

bool
sinklink_recv (sinklink_t *self, int64_t now, sinklink_stored_fn *stored, void *arg)
{
    bool resend = false;
    int value = 0;
    monitor_event_t event;
    while (self->monitor && (event = monitor_next (self->monitor, &value)))
        resend |= s_on_event (self, event, value, now);
    for (int budget = BUDGET; budget && self->dealer
                              && (zsock_events (self->dealer) & ZMQ_POLLIN); budget--) {
        msg_t *msg = peer_recv (self->dealer, self->log, "sink", self->endpoint, NULL);
        if (!msg)
            continue;
        if (msg_command (msg) == MSG_STORED)
            stored (arg, self, msg);
        else
        if (msg_command (msg) == MSG_ERROR)
            s_on_error (self, msg);
        else {
            peerlog_write (self->log, "sink errors", LOG_LEVEL_WARN, "unexpected %s from sink %s",
                           msg_command_name (msg_command (msg)),
                           peerlog_str (self->endpoint).text);
            wire_send_error (self->dealer, NULL, msg_version (msg), DRV_E_UNEXPECTED,
                             "agents take only STORED from sinks");
        }
        msg_destroy (&msg);
    }
    return resend;
}
