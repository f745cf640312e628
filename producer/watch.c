//  watch.c -- see watch.h.  libzmq sends each event on an inproc PAIR as
//  two frames: 6 bytes (the event, 16 bits, and its value, 32 bits, in
//  host order) and the endpoint.  "Up" is the handshake done, not the TCP
//  connect: messages flow only then.
#include "producer/watch.h"

#include <stdlib.h>
#include <string.h>

//  ZMTP heartbeats: a broker gone without a word (its host cut off) is
//  noticed after HEARTBEAT_TIMEOUT_MS, and the connection made again; a
//  try lost to a partition is made again after CONNECT_TIMEOUT_MS.
#define HEARTBEAT_IVL_MS       1000
#define HEARTBEAT_TIMEOUT_MS   4000
#define CONNECT_TIMEOUT_MS     3000

struct watch {
    zsock_t *dealer;            //  watched, borrowed
    zsock_t *pair;              //  events arrive here
    bool lost;
};

watch_t *
watch_new (zsock_t *dealer, const char *name)
{
    watch_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->dealer = dealer;
    char endpoint[128];
    snprintf (endpoint, sizeof endpoint, "inproc://drover-producer-%s", name);
    self->pair = zsock_new (ZMQ_PAIR);
    if (!self->pair
    ||  zmq_socket_monitor (zsock_resolve (dealer), endpoint,
                            ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
    ||  zsock_connect (self->pair, "%s", endpoint)) {
        zsock_destroy (&self->pair);
        free (self);
        return NULL;
    }
    zsock_set_linger (self->pair, 0);
    zsock_set_heartbeat_ivl (dealer, HEARTBEAT_IVL_MS);
    zsock_set_heartbeat_timeout (dealer, HEARTBEAT_TIMEOUT_MS);
    zsock_set_connect_timeout (dealer, CONNECT_TIMEOUT_MS);
    return self;
}

void
watch_destroy (watch_t **self_p)
{
    watch_t *self = *self_p;
    if (!self)
        return;
    zmq_socket_monitor (zsock_resolve (self->dealer), NULL, 0);
    zsock_destroy (&self->pair);
    free (self);
    *self_p = NULL;
}

zsock_t *
watch_socket (watch_t *self)
{
    return self->pair;
}

bool
watch_lost (const watch_t *self)
{
    return self->lost;
}

watch_event_t
watch_next (watch_t *self)
{
    zmsg_t *event = zmsg_recv (self->pair);
    zframe_t *head = event? zmsg_first (event): NULL;
    uint16_t id = 0;
    if (head && zframe_size (head) >= sizeof id)
        memcpy (&id, zframe_data (head), sizeof id);
    zmsg_destroy (&event);
    if (id == ZMQ_EVENT_DISCONNECTED && !self->lost) {
        self->lost = true;
        return WATCH_LOST;
    }
    if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED && self->lost) {
        self->lost = false;
        return WATCH_BACK;
    }
    return WATCH_NOTHING;
}
