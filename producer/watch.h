//  watch.h -- the producer's view of its connection to the broker, read
//  from libzmq's socket monitor: when it drops, and when a new one is up
//  after a drop (the broker restarted, its host came back), so that what
//  the broker never answered can go again.  Also the dial options that
//  make a broker gone without a word show as a drop.
#ifndef DROVER_WATCH_H
#define DROVER_WATCH_H

#include <czmq.h>
#include <stdbool.h>

typedef enum {
    WATCH_NOTHING = 0,          //  nothing that matters to the producer
    WATCH_LOST,                 //  the connection dropped (said once per drop)
    WATCH_BACK                  //  a new connection is up after a drop
} watch_event_t;

typedef struct watch watch_t;

//  Watch dealer (borrowed; destroy the watch first) before it connects.
//  name (the producer's run id) makes the monitor's inproc endpoint
//  unique: a destroyed watch's endpoint may linger in libzmq a while.
//  NULL if out of memory or sockets.
watch_t *watch_new (zsock_t *dealer, const char *name);
void     watch_destroy (watch_t **self_p);
//  Readable when an event waits: for a poller.
zsock_t *watch_socket (watch_t *self);
//  Read the event that waits.
watch_event_t watch_next (watch_t *self);
//  True from a drop until the connection is back.
bool     watch_lost (const watch_t *self);

#endif
