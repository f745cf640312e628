//  roster.h -- the agents connected to the broker now, one session each,
//  by ROUTER routing id.  A session lasts from an agent's HELLO to its BYE,
//  its loss (silent for 3 heartbeats) or its key's revocation; it holds the
//  agent's name, its credit (free slots announced and not yet used), the
//  tuples it holds, and when we last heard from / sent to it.  Sessions
//  with credit wait in a ring so dispatch serves them round robin.
#ifndef DROVER_BROKER_ROSTER_H
#define DROVER_BROKER_ROSTER_H

#include <czmq.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/held.h"

typedef struct roster roster_t;
typedef struct session session_t;   //  owned by roster_t

roster_t  *roster_new (void);
//  Ends every session and destroys the frames they hold.
void       roster_destroy (roster_t **self_p);

//  The session behind a routing id, or NULL.
session_t *roster_lookup (roster_t *self, zframe_t *routing_id);
//  Start a session (HELLO) with credit = slots; envelope (copied) is the
//  agent's routing id frame and, if it sent one, an empty delimiter.  The
//  routing id must not be known yet.  Returns it, or NULL if out of memory.
session_t *roster_add (roster_t *self, zmsg_t *envelope, const char *name,
                       uint64_t slots, int64_t now);
//  End a session and destroy what it still holds (drain it first).  Its
//  routing id is remembered (the last ROSTER_ENDED_MAX).
void       roster_remove (roster_t *self, session_t **session_p);
//  The name of the agent whose session on this routing id ended, or NULL:
//  a message on that connection is late (sent before the agent noticed,
//  or held up by a partition), not a stranger's.
#define ROSTER_ENDED_MAX 1024
const char *roster_ended (roster_t *self, zframe_t *routing_id);
size_t     roster_size (const roster_t *self);
//  Iterate over all sessions (do not add or remove while iterating).
session_t *roster_first (roster_t *self);
session_t *roster_next (roster_t *self);

//  Add credit (CREDIT); the session joins the ready ring if it was out.
void       roster_credit (roster_t *self, session_t *session, uint64_t credit);
//  The session next in turn for work (has credit), or NULL.
session_t *roster_ready (roster_t *self);
//  It was sent count tuples: spend that much credit and move it to the back
//  of the ring (or out of it when no credit is left).
void       roster_spend (roster_t *self, session_t *session, uint64_t count);

//  The agent's name, as its HELLO said.
const char *session_name (const session_t *self);
//  The agent's labels (broker/labels.h's text; NULL: none).  0 or -1.
int         session_set_labels (session_t *self, const char *labels);
const char *session_labels (const session_t *self);
//  The agent's CURVE key (Z85) as its HELLO came, or "" (NULL mechanism).
void        session_set_user_id (session_t *self, const char *user_id);
const char *session_user_id (const session_t *self);
//  The protocol version of its HELLO, which every message to it uses.
void        session_set_version (session_t *self, int version);
int         session_version (const session_t *self);
//  What to put before every message to the agent.
zmsg_t     *session_envelope (session_t *self);
uint64_t    session_credit (const session_t *self);
//  The tuples sent to the agent and not yet reported, with their leases.
held_t     *session_held (session_t *self);
void        session_heard (session_t *self, int64_t now);
int64_t     session_last_heard (const session_t *self);
void        session_sent (session_t *self, int64_t now);
int64_t     session_last_sent (const session_t *self);
//  For `drover agents` (PROTOCOL.md 11): the session's number (sessions
//  are numbered from 1 as they start), the slots its HELLO offered, when
//  it started, the peer's address ("" if unknown) and the tuples it
//  reported finished (DONE: done and dead letters).
uint64_t    session_number (const session_t *self);
uint64_t    session_slots (const session_t *self);
int64_t     session_started (const session_t *self);
void        session_set_host (session_t *self, const char *host);
const char *session_host (const session_t *self);
void        session_finished (session_t *self, uint64_t count);
uint64_t    session_done (const session_t *self);

#endif
