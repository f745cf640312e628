//  uplink.c -- the broker session; see uplink.h.
#include "agent/uplink.h"
#include "agent/monitor.h"
#include "agent/peer.h"
#include "common/curve.h"
#include "common/log.h"
#include "common/peerlog.h"
#include "proto/wire.h"

#include <stdlib.h>
#include <string.h>

#define HEARTBEAT_DEFAULT_MS    1000    //  until WELCOME says otherwise
#define MAX_MESSAGE             (1024LL * 1024 * 1024)  //  bytes in a frame from the broker
#define BACKOFF_MIN_MS          MONITOR_RETRY_MIN_MS
#define BACKOFF_MAX_MS          MONITOR_RETRY_MAX_MS
#define SOCKET_BUDGET           1000    //  messages read per turn
#define BYE_LINGER_MS           1000    //  to let the last DONE and BYE out
#define LOG_PER_SEC             10      //  lines the broker can cause, per second

struct uplink {
    char *endpoint;
    char *name;
    keys_t *keys;               //  borrowed (NULL: none)
    const void *labels;         //  borrowed msgpack map for HELLO, or NULL
    size_t labels_size;
    uint8_t broker_key[KEYS_KEY_SIZE];
    bool curve;                 //  dial the broker as a CURVE client
    uplink_work_fn *on_work;
    uplink_lost_fn *on_lost;
    uplink_stop_fn *on_stop;
    void *arg;
    zpoller_t *poller;

    zsock_t *broker;            //  NULL between sessions
    monitor_t *monitor;         //  its connection, while it lives
    monitor_outage_t outage;    //  since when no session was welcomed
    const char *why;            //  what the last try ran into, for the outage lines
    bool said_refused;          //  this outage's refusal was logged
    int64_t retry_at;           //  libzmq's next try after a failed one
    uint32_t session;
    bool welcomed;
    size_t hello_slots;
    int64_t heartbeat_ms;
    int64_t last_heard, last_sent;
    int64_t backoff_ms;
    int64_t reconnect_at;
    uint64_t sessions;
    uint64_t bad_messages;
    peerlog_t *log;             //  lines the broker can cause, rate-limited
};

uplink_t *
uplink_new (const uplink_config_t *config, zpoller_t *poller)
{
    uplink_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->endpoint = strdup (config->endpoint);
    self->name = strdup (config->name);
    self->keys = config->keys;
    self->labels = config->labels;
    self->labels_size = config->labels_size;
    if (config->broker_key) {
        memcpy (self->broker_key, config->broker_key, KEYS_KEY_SIZE);
        self->curve = true;
    }
    self->on_work = config->on_work;
    self->on_lost = config->on_lost;
    self->on_stop = config->on_stop;
    self->arg = config->arg;
    self->poller = poller;
    self->heartbeat_ms = HEARTBEAT_DEFAULT_MS;
    self->backoff_ms = BACKOFF_MIN_MS;
    self->log = peerlog_new (LOG_PER_SEC);
    if (!self->endpoint || !self->name || !self->log)
        uplink_destroy (&self);
    return self;
}

//  Close the session's socket and its monitor, if any.
static void
s_close (uplink_t *self)
{
    if (self->monitor) {
        zpoller_remove (self->poller, monitor_socket (self->monitor));
        monitor_destroy (&self->monitor);
    }
    if (self->broker)
        zpoller_remove (self->poller, self->broker);
    zsock_destroy (&self->broker);
}

void
uplink_destroy (uplink_t **self_p)
{
    uplink_t *self = *self_p;
    if (!self)
        return;
    s_close (self);
    free (self->endpoint);
    free (self->name);
    peerlog_destroy (&self->log);
    free (self);
    *self_p = NULL;
}

void
uplink_send (uplink_t *self, msg_t **msg_p)
{
    msg_command_t command = msg_command (*msg_p);
    int rc = self->broker? wire_send (msg_p, self->broker, NULL): -ENOTCONN;
    msg_destroy (msg_p);
    if (rc)
        log_warn ("could not send %s to broker %s: %s", msg_command_name (command),
                  self->endpoint, rc == -EAGAIN? "send queue full"
                                : rc == -ENOTCONN? "no session": msg_error_name (rc));
    self->last_sent = zclock_mono ();
}

//  HELLO's `held`: what we still hold, for the broker to resume.  What
//  does not fit in a header (with room for the other fields) is left out.
static void
s_hello_held (msg_t *hello, holdings_t *held)
{
    void *data = NULL;
    size_t size = 0, named = 0;
    if (holdings_encode (held, MSG_MAX_HEADER - 1024, &data, &size, &named)
    ||  msg_set_raw (hello, MSG_F_HELD, data, size))
        log_error ("out of memory: HELLO does not name the %zu tuples we hold",
                   holdings_count (held));
    else
    if (named < holdings_count (held))
        log_warn ("HELLO names %zu of the %zu tuples we hold (a header's worth)", named,
                  holdings_count (held));
    free (data);
}

int
uplink_connect (uplink_t *self, size_t slots, holdings_t *held, int64_t now)
{
    self->broker = zsock_new (ZMQ_DEALER);
    if (!self->broker)
        return -1;
    zsock_set_sndtimeo (self->broker, 0);   //  never block the reactor
    zsock_set_linger (self->broker, 0);
    //  WORK is at most a few hundred tuples of at most the broker's tuple
    //  size (1 MiB by default; generous here, as a broker may allow more):
    //  anything bigger is not a broker speaking drover.
    zsock_set_maxmsgsize (self->broker, MAX_MESSAGE);
    //  Heartbeats are ours (HEARTBEAT), not ZMTP's.
    monitor_dial_options (self->broker, 0);
    int rc = self->curve? curve_client (self->broker, self->keys, self->broker_key): 0;
    if (rc)
        log_error ("cannot set up CURVE to broker %s: %s", self->endpoint, strerror (-rc));
    self->monitor = rc? NULL: monitor_new (self->broker);
    if (!self->monitor || zsock_connect (self->broker, "%s", self->endpoint) != 0) {
        s_close (self);
        return -1;
    }
    zpoller_add (self->poller, self->broker);
    zpoller_add (self->poller, monitor_socket (self->monitor));
    monitor_outage_begin (&self->outage, now);
    self->welcomed = false;
    self->hello_slots = slots;
    self->sessions++;
    self->last_heard = now;
    msg_t *msg = msg_new (MSG_HELLO);
    msg_set_str (msg, MSG_F_AGENT, self->name);
    msg_set_uint (msg, MSG_F_SLOTS, slots);
    if (held)
        s_hello_held (msg, held);
    if (self->labels)
        msg_set_raw (msg, MSG_F_LABELS, self->labels, self->labels_size);
    uplink_send (self, &msg);
    return 0;
}

//  End the session; a new one may start after delay_ms.
static void
s_end (uplink_t *self, int64_t now, int64_t delay_ms)
{
    s_close (self);
    monitor_outage_begin (&self->outage, now);
    self->session++;
    self->welcomed = false;
    self->reconnect_at = now + delay_ms;
    self->on_lost (self->arg);
}

//  End the session; a new one after the back-off.  Said at once when a
//  welcomed session ends; each failed try of an outage is only counted in
//  its lines (uplink_timers).
static void
s_lost (uplink_t *self, int64_t now, const char *why)
{
    log_write (self->welcomed? LOG_LEVEL_WARN: LOG_LEVEL_DEBUG,
               "%s: reconnecting to broker %s in %lld ms", why, self->endpoint,
               (long long) self->backoff_ms);
    s_end (self, now, self->backoff_ms);
    self->backoff_ms = self->backoff_ms * 2 < BACKOFF_MAX_MS? self->backoff_ms * 2: BACKOFF_MAX_MS;
}

static void
s_on_message (uplink_t *self, msg_t *msg, int64_t now)
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
            int64_t outage = monitor_outage_end (&self->outage, now);
            self->why = NULL;
            self->said_refused = false;
            char after[64] = "";
            if (outage)
                snprintf (after, sizeof after, ", after %.0f s out of reach",
                          (double) outage / 1000);
            log_info ("agent %s connected to broker %s (%zu slots%s)", self->name,
                      self->endpoint, self->hello_slots, after);
            break;
        case MSG_WORK:
            self->on_work (self->arg, msg, now);
            break;
        case MSG_STOP:
            if (self->on_stop)
                self->on_stop (self->arg, msg_str (msg, MSG_F_JOB));
            break;
        case MSG_HEARTBEAT:
            break;
        case MSG_ERROR: {
            int code = (int) msg_uint (msg, MSG_F_CODE);
            peerlog_write (self->log, "broker errors", LOG_LEVEL_WARN,
                           "broker %s answered ERROR %s: %s", self->endpoint,
                           msg_error_name (code), peerlog_str (msg_str (msg, MSG_F_REASON)).text);
            //  It does not know us (it restarted, or lost us): start over.
            if (code == DRV_E_UNEXPECTED) {
                s_end (self, now, 0);
                self->backoff_ms = BACKOFF_MIN_MS;
            }
            break;
        }
        default:
            peerlog_write (self->log, "broker errors", LOG_LEVEL_WARN,
                           "unexpected %s from broker %s", msg_command_name (msg_command (msg)),
                           self->endpoint);
            self->bad_messages++;
            wire_send_error (self->broker, NULL, msg_version (msg), DRV_E_UNEXPECTED,
                             "agents take WELCOME, WORK, STOP, HEARTBEAT");
            break;
    }
}

//  What the connection did.  libzmq dials again by itself after a failed
//  try or a lost connection; after a refused or failed handshake it would
//  not, or not with a back-off: the session ends, and a new one dials
//  after ours.
static void
s_on_event (uplink_t *self, monitor_event_t event, int value, int64_t now)
{
    switch (event) {
        case MONITOR_UP:
            self->last_heard = now;     //  HELLO's answer is due from now
            break;
        case MONITOR_DOWN:
            //  The broker restarted, or the connection broke: either way
            //  the next connection is a new session to it, which must
            //  start with HELLO, not with what this socket still queues.
            s_lost (self, now, "connection to broker closed");
            break;
        case MONITOR_RETRY:
        case MONITOR_UNRESOLVED:
            self->retry_at = now + value;
            self->why = event == MONITOR_RETRY? "connection refused or timed out"
                      : "its name does not resolve, or no route to it";
            break;
        case MONITOR_CLOSED:
            self->why = "it closes the connection during the handshake: wrong --broker-key?";
            s_lost (self, now, "handshake failed");
            break;
        case MONITOR_REFUSED:
            if (!self->said_refused)
                log_error ("broker %s refused our key %s (ZAP status %d): is it on the "
                           "broker's --allow-agents list?  Still trying", self->endpoint,
                           self->keys? keys_public_txt (self->keys): "(none)", value);
            self->why = "it refused our key: not on its --allow-agents list?";
            self->said_refused = true;
            s_lost (self, now, "key refused");
            break;
        case MONITOR_BROKEN:
            self->why = "the handshake failed on a protocol error: not a drover broker, "
                        "or the other mechanism (--insecure on one side only)?";
            s_lost (self, now, "handshake failed");
            break;
        default:
            break;
    }
}

void
uplink_recv (uplink_t *self, int64_t now)
{
    int value = 0;
    monitor_event_t event;
    while (self->monitor && (event = monitor_next (self->monitor, &value)))
        s_on_event (self, event, value, now);
    for (int budget = SOCKET_BUDGET; budget && self->broker
                                     && (zsock_events (self->broker) & ZMQ_POLLIN); budget--) {
        self->last_heard = now;
        msg_t *msg = peer_recv (self->broker, self->log, "broker", self->endpoint, &self->bad_messages);
        if (!msg)
            continue;
        s_on_message (self, msg, now);
        msg_destroy (&msg);
    }
}

//  Say once in a while that the broker is still out of reach.
static void
s_outage (uplink_t *self, int64_t now)
{
    if (!monitor_outage_due (&self->outage, now))
        return;
    int64_t next = (self->broker? self->retry_at: self->reconnect_at) - now;
    log_warn ("broker %s not reachable for %.0f s (%s); still trying, next in %.1f s",
              self->endpoint, (double) (now - self->outage.since) / 1000,
              self->why? self->why: "no answer yet", (double) (next > 0? next: 0) / 1000);
}

void
uplink_timers (uplink_t *self, int64_t now)
{
    s_outage (self, now);
    if (!self->broker)
        return;
    //  No answer to HELLO counts only once the connection is up: until
    //  then libzmq tries, backing off.
    if (!self->welcomed && !monitor_up (self->monitor))
        return;
    if (now - self->last_heard >= 3 * self->heartbeat_ms) {
        char why[128];
        snprintf (why, sizeof why, self->welcomed? "broker silent for %lld ms"
                                                 : "no answer to HELLO for %lld ms",
                  (long long) (now - self->last_heard));
        if (!self->welcomed)
            self->why = "it does not answer HELLO";
        s_lost (self, now, why);
    }
    else
    if (self->welcomed && now - self->last_sent >= self->heartbeat_ms) {
        msg_t *msg = msg_new (MSG_HEARTBEAT);
        uplink_send (self, &msg);
    }
}

int64_t
uplink_next_timer (uplink_t *self, bool reconnect)
{
    int64_t outage = monitor_outage_next (&self->outage);
    if (!self->broker) {
        int64_t at = reconnect? self->reconnect_at: INT64_MAX;
        return at < outage? at: outage;
    }
    int64_t next = self->welcomed || monitor_up (self->monitor)
                 ? self->last_heard + 3 * self->heartbeat_ms: INT64_MAX;
    int64_t beat = self->last_sent + self->heartbeat_ms;
    next = self->welcomed && beat < next? beat: next;
    return outage < next? outage: next;
}

bool
uplink_reconnect_due (uplink_t *self, int64_t now)
{
    return !self->broker && now >= self->reconnect_at;
}

bool
uplink_live (uplink_t *self)
{
    return self->broker && self->welcomed;
}

uint32_t
uplink_session (uplink_t *self)
{
    return self->session;
}

void
uplink_bye (uplink_t *self)
{
    if (!uplink_live (self))
        return;
    msg_t *msg = msg_new (MSG_BYE);
    uplink_send (self, &msg);
    zsock_set_linger (self->broker, BYE_LINGER_MS);
    log_info ("said BYE to broker %s", self->endpoint);
}

uint64_t
uplink_sessions (uplink_t *self)
{
    return self->sessions;
}

uint64_t
uplink_bad_messages (uplink_t *self)
{
    return self->bad_messages;
}

const char *
uplink_endpoint (uplink_t *self)
{
    return self->endpoint;
}
