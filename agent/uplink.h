//  uplink.h -- the agent's session with its broker (PROTOCOL.md 4.2): one
//  DEALER that dials the broker's backend, HELLO offering our free slots,
//  WELCOME, heartbeats both ways, and a new session after a silence or an
//  ERROR UNEXPECTED or a closed connection, with a back-off that doubles
//  up to 5 s.  A new session's HELLO names what we still hold, and every
//  report waits for WELCOME: a reconnect is a re-handshake.  It answers
//  what needs no decision (HEARTBEAT, bad or unexpected messages) itself
//  and hands WORK and STOP up; the agent (agent/agent.c) decides when to
//  connect.
//
//  A broker that is not up, or whose name does not resolve yet, is dialled
//  by libzmq with a back-off to 5 s, HELLO waiting meanwhile (its answer is
//  due only once the connection is up, agent/monitor.h); a handshake the
//  broker refuses (our key) or that fails ends the session, and the next
//  dials after the back-off.  An outage is logged at 5 s, 10 s, 20 s ...,
//  not per try.
//
//  Sessions are numbered: a task remembers the session it belongs to, and
//  only that session hears DONE or RETRY for it.  The agent moves what it
//  holds into each new session whose HELLO names it.
#ifndef DROVER_UPLINK_H
#define DROVER_UPLINK_H

#include "common/keys.h"
#include "proto/holdings.h"
#include "proto/msg.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct uplink uplink_t;

//  WORK arrived (msg is borrowed: valid during the call).
typedef void (uplink_work_fn) (void *arg, msg_t *msg, int64_t now);
//  The session ended: the broker queues again what it gave us.
typedef void (uplink_lost_fn) (void *arg);
//  STOP: the job was cancelled; stop its tuples we run (PROTOCOL.md 12).
typedef void (uplink_stop_fn) (void *arg, const char *job);

typedef struct {
    const char *endpoint;       //  the broker's backend
    const char *name;           //  ours, in HELLO
    const void *labels;         //  msgpack map for HELLO, borrowed; NULL: none
    size_t labels_size;
    //  Security, opt-in: with broker_key (32 bytes, copied) the broker is
    //  dialled as a CURVE client with keys (borrowed; must outlive us).
    keys_t *keys;
    const uint8_t *broker_key;
    uplink_work_fn *on_work;
    uplink_lost_fn *on_lost;
    uplink_stop_fn *on_stop;
    void *arg;
} uplink_config_t;

//  Copies config; the session's socket is added to poller while connected.
//  NULL if out of memory.
uplink_t *uplink_new (const uplink_config_t *config, zpoller_t *poller);
void      uplink_destroy (uplink_t **self_p);

//  Start a session: dial the broker and say HELLO offering slots.  held:
//  the tuples we still hold from earlier sessions, named in HELLO so the
//  broker resumes them as leases of this one (PROTOCOL.md 4.2); NULL on
//  the first session (the broker then knows we started afresh).  0, or -1
//  if the endpoint is unusable.
int       uplink_connect (uplink_t *self, size_t slots, holdings_t *held, int64_t now);
//  Read what the broker sent, without blocking.
void      uplink_recv (uplink_t *self, int64_t now);
//  Heartbeats, and ending a session whose broker fell silent.
void      uplink_timers (uplink_t *self, int64_t now);
//  When uplink_timers next has something to do (zclock_mono ms); with
//  reconnect, also when a new session is due.
int64_t   uplink_next_timer (uplink_t *self, bool reconnect);
//  True when no session runs and the back-off is over.
bool      uplink_reconnect_due (uplink_t *self, int64_t now);

//  True while a session runs and the broker has welcomed us: what we send
//  then reaches the broker that gave us the work.
bool      uplink_live (uplink_t *self);
//  The current session's number.
uint32_t  uplink_session (uplink_t *self);
//  Send msg in this session (taken and destroyed; a failure is logged).
void      uplink_send (uplink_t *self, msg_t **msg_p);
//  Say BYE if live, and let it and what went before out on destroy.
void      uplink_bye (uplink_t *self);

//  Sessions started (HELLO sent), and undecodable or unexpected messages.
uint64_t  uplink_sessions (uplink_t *self);
uint64_t  uplink_bad_messages (uplink_t *self);
const char *uplink_endpoint (uplink_t *self);

#endif
