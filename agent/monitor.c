//  monitor.c -- see monitor.h.  libzmq sends each event on an inproc PAIR
//  as two frames: 6 bytes (the event, 16 bits, and its value, 32 bits, in
//  host order) and the endpoint.  The socket dials one endpoint, so one
//  connection at a time: its stage tells a close during the handshake
//  from the close of an up connection, and a close after a failed
//  handshake (already reported) from both.
#include "agent/monitor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONNECT_TIMEOUT_MS  3000    //  a try: SYN and one retransmission
#define HEARTBEAT_MISSES    4       //  heartbeats without an answer: gone
#define OUTAGE_FIRST_MS     5000
#define OUTAGE_MAX_MS       600000

#define EVENTS (ZMQ_EVENT_CONNECTED | ZMQ_EVENT_CONNECT_DELAYED | ZMQ_EVENT_CONNECT_RETRIED | ZMQ_EVENT_DISCONNECTED \
                | ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL \
                | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)

typedef enum { STAGE_NONE, STAGE_HANDSHAKE, STAGE_UP, STAGE_FAILED } stage_t;

struct monitor {
    zsock_t *sock;              //  watched, borrowed
    zsock_t *pair;              //  events arrive here
    stage_t stage;              //  of the current connection
    bool dialled;               //  the current try reached connect ()
};

monitor_t *
monitor_new (zsock_t *sock)
{
    monitor_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->sock = sock;
    //  Unique in the process while self lives.
    char endpoint[64];
    snprintf (endpoint, sizeof endpoint, "inproc://drover-monitor-%p", (void *) self);
    self->pair = zsock_new (ZMQ_PAIR);
    if (!self->pair
    ||  zmq_socket_monitor (zsock_resolve (sock), endpoint, EVENTS)
    ||  zsock_connect (self->pair, "%s", endpoint)) {
        zsock_destroy (&self->pair);
        free (self);
        return NULL;
    }
    zsock_set_linger (self->pair, 0);
    return self;
}

void
monitor_destroy (monitor_t **self_p)
{
    monitor_t *self = *self_p;
    if (!self)
        return;
    zmq_socket_monitor (zsock_resolve (self->sock), NULL, 0);
    zsock_destroy (&self->pair);
    free (self);
    *self_p = NULL;
}

zsock_t *
monitor_socket (monitor_t *self)
{
    return self->pair;
}

bool
monitor_up (const monitor_t *self)
{
    return self->stage == STAGE_UP;
}

//  What a raw event means, given the connection's stage (which it moves on).
static monitor_event_t
s_meaning (monitor_t *self, uint16_t event)
{
    stage_t stage = self->stage;
    switch (event) {
        case ZMQ_EVENT_CONNECTED:
            self->stage = STAGE_HANDSHAKE;
            self->dialled = false;
            return MONITOR_NOTHING;
        case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
            self->stage = STAGE_UP;
            return MONITOR_UP;
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
            self->stage = STAGE_FAILED;
            return MONITOR_REFUSED;
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
            self->stage = STAGE_FAILED;
            return MONITOR_BROKEN;
        case ZMQ_EVENT_DISCONNECTED:
            self->stage = STAGE_NONE;
            return stage == STAGE_UP? MONITOR_DOWN
                 : stage == STAGE_HANDSHAKE? MONITOR_CLOSED: MONITOR_NOTHING;
        case ZMQ_EVENT_CONNECT_DELAYED:
            self->dialled = true;
            return MONITOR_NOTHING;
        case ZMQ_EVENT_CONNECT_RETRIED: {
            bool dialled = self->dialled;
            self->dialled = false;
            return dialled? MONITOR_RETRY: MONITOR_UNRESOLVED;
        }
        default:
            return MONITOR_NOTHING;
    }
}

monitor_event_t
monitor_next (monitor_t *self, int *value_p)
{
    while (zsock_events (self->pair) & ZMQ_POLLIN) {
        zmsg_t *msg = zmsg_recv (self->pair);
        zframe_t *head = msg? zmsg_first (msg): NULL;
        if (!head || zframe_size (head) != 6) {
            zmsg_destroy (&msg);
            continue;
        }
        uint16_t event;
        uint32_t value;
        memcpy (&event, zframe_data (head), 2);
        memcpy (&value, zframe_data (head) + 2, 4);
        zmsg_destroy (&msg);
        monitor_event_t meaning = s_meaning (self, event);
        if (meaning == MONITOR_NOTHING)
            continue;
        if (value_p)
            *value_p = (int) value;
        return meaning;
    }
    return MONITOR_NOTHING;
}

void
monitor_dial_options (zsock_t *sock, int heartbeat_ms)
{
    zsock_set_reconnect_ivl (sock, MONITOR_RETRY_MIN_MS);
    zsock_set_reconnect_ivl_max (sock, MONITOR_RETRY_MAX_MS);
    zsock_set_connect_timeout (sock, CONNECT_TIMEOUT_MS);
    if (heartbeat_ms > 0) {
        zsock_set_heartbeat_ivl (sock, heartbeat_ms);
        zsock_set_heartbeat_timeout (sock, HEARTBEAT_MISSES * heartbeat_ms);
        //  And the peer drops us after as long without a word.
        zsock_set_heartbeat_ttl (sock, HEARTBEAT_MISSES * heartbeat_ms);
    }
}

//  ---------------------------------------------------------------------
//  Outages

void
monitor_outage_begin (monitor_outage_t *self, int64_t now)
{
    if (self->since)
        return;
    self->since = now;
    self->next = now + OUTAGE_FIRST_MS;
}

bool
monitor_outage_due (monitor_outage_t *self, int64_t now)
{
    if (!self->since || now < self->next)
        return false;
    int64_t lasted = now - self->since;
    self->next = now + (lasted < OUTAGE_MAX_MS? lasted: OUTAGE_MAX_MS);
    return true;
}

int64_t
monitor_outage_next (const monitor_outage_t *self)
{
    return self->since? self->next: INT64_MAX;
}

int64_t
monitor_outage_end (monitor_outage_t *self, int64_t now)
{
    bool said = self->since && self->next > self->since + OUTAGE_FIRST_MS;
    int64_t lasted = now - self->since;
    self->since = self->next = 0;
    return said? lasted: 0;
}
