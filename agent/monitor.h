//  monitor.h -- what happens to the connection of a socket that dials one
//  peer (the broker, a sink), read from libzmq's socket monitor: up (the
//  handshake completed), down (an established connection closed), a try
//  that failed (refused, a name that does not resolve, a timeout), a
//  connection closed during the handshake (a wrong server key), or a
//  handshake the peer refused (our key is not on its allow-list).  The
//  agent's broker session (agent/uplink.h) and its sink links
//  (agent/outbox.h) act on these; libzmq alone would retry a refused peer
//  never and the others at a fixed pace.
//
//  Also the dial options both use, and when to say a peer is still out of
//  reach: once in a while, not per try.
#ifndef DROVER_MONITOR_H
#define DROVER_MONITOR_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

//  libzmq's own retries of a peer that does not answer: 100 ms, doubling
//  to this (with up to 100 ms of jitter), and the back-off the agent adds
//  on top where libzmq would not back off (MONITOR_CLOSED, a refusal).
#define MONITOR_RETRY_MIN_MS    100
#define MONITOR_RETRY_MAX_MS    5000

typedef enum {
    MONITOR_NOTHING = 0,        //  no event waits
    MONITOR_UP,                 //  handshake done: messages flow
    MONITOR_DOWN,               //  an up connection closed (messages in flight may be
                                //  lost); libzmq dials again
    MONITOR_RETRY,              //  a try was refused or timed out; libzmq tries again
                                //  after value ms
    MONITOR_UNRESOLVED,         //  a try never reached the wire: the name does not
                                //  resolve, or no route; as MONITOR_RETRY
    MONITOR_CLOSED,             //  closed during the handshake (wrong server key, not
                                //  a drover peer); libzmq would redial at once, forever
    MONITOR_REFUSED,            //  the peer refused our key (ZAP status in value);
                                //  libzmq gives the endpoint up
    MONITOR_BROKEN,             //  the handshake failed on a protocol error (value:
                                //  libzmq's code); libzmq gives the endpoint up
} monitor_event_t;

typedef struct monitor monitor_t;

//  Watch sock (borrowed): set before it connects.  NULL if out of memory
//  or sockets.  Destroy the monitor before the socket.
monitor_t *monitor_new (zsock_t *sock);
void       monitor_destroy (monitor_t **self_p);
//  Readable when an event waits: for a poller.
zsock_t   *monitor_socket (monitor_t *self);
//  The next event, without blocking (MONITOR_NOTHING if none); its value
//  in *value_p if given.
monitor_event_t monitor_next (monitor_t *self, int *value_p);
//  Whether the handshake completed and the connection has not closed since.
bool       monitor_up (const monitor_t *self);

//  Dial options for a socket that dials one peer: libzmq's reconnect
//  back-off (MONITOR_RETRY_MIN_MS to MONITOR_RETRY_MAX_MS), a connect
//  timeout, so a try lost to a partition is made again rather than left
//  to the kernel's SYN back-off; and with heartbeat_ms > 0, ZMTP
//  heartbeats: a PING every heartbeat_ms, the connection closed when
//  nothing came back for 4 of them (a peer gone without a word).
void       monitor_dial_options (zsock_t *sock, int heartbeat_ms);

//  An outage: a peer out of reach since some time, said so at 5 s, 10 s,
//  20 s ... then every 10 minutes.
typedef struct {
    int64_t since;              //  0: reachable
    int64_t next;               //  when the next line is due
} monitor_outage_t;

//  The peer is out of reach from now, unless it already was.
void       monitor_outage_begin (monitor_outage_t *self, int64_t now);
//  True when a line is due (the next one is then moved on).
bool       monitor_outage_due (monitor_outage_t *self, int64_t now);
//  When monitor_outage_due is next true (INT64_MAX: reachable).
int64_t    monitor_outage_next (const monitor_outage_t *self);
//  The peer is back: how long the outage lasted if it was said (a line
//  went out), else 0.
int64_t    monitor_outage_end (monitor_outage_t *self, int64_t now);

#endif
