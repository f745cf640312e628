//  connection.c -- see connection.h.  One DEALER, its watch, and a poller
//  on both.
#include "producer/connection.h"

#include "common/curve.h"
#include "proto/wire.h"

#include <errno.h>

struct connection {
    zsock_t *dealer;
    watch_t *watch;                 //  the DEALER's connection
    zpoller_t *poller;
};

connection_t *
connection_new (const char *endpoint, keys_t *keys, const uint8_t *broker_key,
                const char *name, int send_timeout)
{
    assert (endpoint && name);
    assert (!keys == !broker_key);
    connection_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->dealer = zsock_new (ZMQ_DEALER);
    if (!self->dealer
    ||  (keys && curve_client (self->dealer, keys, broker_key))
    ||  !(self->watch = watch_new (self->dealer, name))
    ||  zsock_connect (self->dealer, "%s", endpoint) != 0
    ||  !(self->poller = zpoller_new (self->dealer, watch_socket (self->watch), NULL))) {
        connection_destroy (&self);
        return NULL;
    }
    //  Queued requests to a broker that never came are dropped, not waited on.
    zsock_set_linger (self->dealer, 0);
    zsock_set_sndtimeo (self->dealer, send_timeout);
    return self;
}

void
connection_destroy (connection_t **self_p)
{
    assert (self_p);
    connection_t *self = *self_p;
    if (!self)
        return;
    zpoller_destroy (&self->poller);
    watch_destroy (&self->watch);
    zsock_destroy (&self->dealer);
    free (self);
    *self_p = NULL;
}

void
connection_set_send_timeout (connection_t *self, int timeout_ms)
{
    zsock_set_sndtimeo (self->dealer, timeout_ms);
}

int
connection_send_frames (connection_t *self, zmsg_t *request)
{
    void *handle = zsock_resolve (self->dealer);
    size_t left = zmsg_size (request);
    for (zframe_t *frame = zmsg_first (request); frame; frame = zmsg_next (request)) {
        int flags = ZFRAME_REUSE | (--left? ZFRAME_MORE: 0);
        if (zframe_send (&frame, handle, flags) != 0)
            return -errno;
    }
    return 0;
}

int
connection_send (connection_t *self, msg_t **msg_p)
{
    return wire_send (msg_p, self->dealer, NULL);
}

int
connection_recv (connection_t *self, int64_t deadline, msg_t **msg_p,
                 watch_event_t *event_p)
{
    *msg_p = NULL;
    *event_p = WATCH_NOTHING;
    int64_t wait = deadline - zclock_mono ();
    if (wait > 3600 * 1000)
        wait = 3600 * 1000;
    void *which = zpoller_wait (self->poller, wait > 0? (int) wait: 0);
    if (which == NULL)
        return zpoller_terminated (self->poller)? CONNECTION_INTERRUPTED: -ETIMEDOUT;
    if (which == watch_socket (self->watch)) {
        *event_p = watch_next (self->watch);
        return 0;
    }
    int rc = wire_recv (self->dealer, NULL, msg_p);
    if (rc == -DRV_E_NOTHING && zsys_interrupted)
        return CONNECTION_INTERRUPTED;
    return rc;
}

bool
connection_lost (const connection_t *self)
{
    return watch_lost (self->watch);
}
