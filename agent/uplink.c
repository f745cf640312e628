//  uplink.c -- the broker session; see uplink.h.
#include "agent/uplink.h"
#include "agent/peer.h"
#include "common/curve.h"
#include "common/log.h"
#include "common/peerlog.h"
#include "proto/wire.h"

#include <stdlib.h>
#include <string.h>

#define HEARTBEAT_DEFAULT_MS    1000    //  until WELCOME says otherwise
#define MAX_MESSAGE             (1024LL * 1024 * 1024)  //  bytes in a frame from the broker
#define BACKOFF_MIN_MS          100
#define BACKOFF_MAX_MS          5000
#define SOCKET_BUDGET           1000    //  messages read per turn
#define BYE_LINGER_MS           1000    //  to let the last DONE and BYE out
#define LOG_PER_SEC             10      //  lines the broker can cause, per second

struct uplink {
    char *endpoint;
    char *name;
    keys_t *keys;               //  borrowed (NULL: none)
    uint8_t broker_key[KEYS_KEY_SIZE];
    bool curve;                 //  dial the broker as a CURVE client
    uplink_work_fn *on_work;
    uplink_lost_fn *on_lost;
    void *arg;
    zpoller_t *poller;

    zsock_t *broker;            //  NULL between sessions
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
    if (config->broker_key) {
        memcpy (self->broker_key, config->broker_key, KEYS_KEY_SIZE);
        self->curve = true;
    }
    self->on_work = config->on_work;
    self->on_lost = config->on_lost;
    self->arg = config->arg;
    self->poller = poller;
    self->heartbeat_ms = HEARTBEAT_DEFAULT_MS;
    self->backoff_ms = BACKOFF_MIN_MS;
    self->log = peerlog_new (LOG_PER_SEC);
    if (!self->endpoint || !self->name || !self->log)
        uplink_destroy (&self);
    return self;
}

void
uplink_destroy (uplink_t **self_p)
{
    uplink_t *self = *self_p;
    if (!self)
        return;
    if (self->broker)
        zpoller_remove (self->poller, self->broker);
    zsock_destroy (&self->broker);
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

int
uplink_connect (uplink_t *self, size_t slots, int64_t now)
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
    int rc = self->curve? curve_client (self->broker, self->keys, self->broker_key): 0;
    if (rc)
        log_error ("cannot set up CURVE to broker %s: %s", self->endpoint, strerror (-rc));
    if (rc || zsock_connect (self->broker, "%s", self->endpoint) != 0) {
        zsock_destroy (&self->broker);
        return -1;
    }
    zpoller_add (self->poller, self->broker);
    self->welcomed = false;
    self->hello_slots = slots;
    self->sessions++;
    self->last_heard = now;
    msg_t *msg = msg_new (MSG_HELLO);
    msg_set_str (msg, MSG_F_AGENT, self->name);
    msg_set_uint (msg, MSG_F_SLOTS, slots);
    uplink_send (self, &msg);
    return 0;
}

//  End the session; a new one may start after delay_ms.
static void
s_end (uplink_t *self, int64_t now, int64_t delay_ms)
{
    zpoller_remove (self->poller, self->broker);
    zsock_destroy (&self->broker);
    self->session++;
    self->welcomed = false;
    self->reconnect_at = now + delay_ms;
    self->on_lost (self->arg);
}

static void
s_lost (uplink_t *self, int64_t now, const char *why)
{
    log_warn ("%s: reconnecting to broker %s in %lld ms", why, self->endpoint,
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
            log_info ("agent %s connected to broker %s (%zu slots)", self->name,
                      self->endpoint, self->hello_slots);
            break;
        case MSG_WORK:
            self->on_work (self->arg, msg, now);
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
                             "agents take WELCOME, WORK, HEARTBEAT");
            break;
    }
}

void
uplink_recv (uplink_t *self, int64_t now)
{
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

void
uplink_timers (uplink_t *self, int64_t now)
{
    if (!self->broker)
        return;
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
        uplink_send (self, &msg);
    }
}

int64_t
uplink_next_timer (uplink_t *self, bool reconnect)
{
    if (!self->broker)
        return reconnect? self->reconnect_at: INT64_MAX;
    int64_t next = self->last_heard + 3 * self->heartbeat_ms;
    int64_t beat = self->last_sent + self->heartbeat_ms;
    return self->welcomed && beat < next? beat: next;
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
