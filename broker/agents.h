//  agents.h -- the agents the broker knows, by ROUTER routing id: name,
//  credit (free slots announced and not yet used), the tuples each holds,
//  and when we last heard from / sent to it (heartbeats).  Agents with
//  credit wait in a ring so dispatch serves them round robin.
#ifndef DROVER_BROKER_AGENTS_H
#define DROVER_BROKER_AGENTS_H

#include <czmq.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/held.h"

typedef struct agents agents_t;
typedef struct agent agent_t;       //  owned by agents_t

agents_t *agents_new (void);
//  Destroys every agent and the frames they hold.
void      agents_destroy (agents_t **self_p);

//  The agent behind a routing id, or NULL.
agent_t  *agents_lookup (agents_t *self, zframe_t *routing_id);
//  Register an agent (HELLO) with credit = slots; envelope (copied) is its
//  routing id frame and, if it sent one, an empty delimiter.  The routing id
//  must not be known yet.  Returns the agent, or NULL if out of memory.
agent_t  *agents_add (agents_t *self, zmsg_t *envelope, const char *name,
                      uint64_t slots, int64_t now);
//  Forget an agent and destroy what it still holds (drain it first).
void      agents_remove (agents_t *self, agent_t **agent_p);
size_t    agents_size (const agents_t *self);
//  Iterate over all agents (do not add or remove while iterating).
agent_t  *agents_first (agents_t *self);
agent_t  *agents_next (agents_t *self);

//  Add credit (CREDIT); the agent joins the ready ring if it was out.
void      agents_credit (agents_t *self, agent_t *agent, uint64_t credit);
//  The agent next in turn for work (has credit), or NULL.
agent_t  *agents_ready (agents_t *self);
//  It was sent count tuples: spend that much credit and move it to the back
//  of the ring (or out of it when no credit is left).
void      agents_spend (agents_t *self, agent_t *agent, uint64_t count);

const char *agent_name (const agent_t *self);
//  The agent's CURVE key (Z85) as its HELLO came, or "" (NULL mechanism).
void        agent_set_user_id (agent_t *self, const char *user_id);
const char *agent_user_id (const agent_t *self);
//  What to put before every message to the agent.
zmsg_t     *agent_envelope (agent_t *self);
uint64_t    agent_credit (const agent_t *self);
held_t     *agent_held (agent_t *self);
void        agent_heard (agent_t *self, int64_t now);
int64_t     agent_last_heard (const agent_t *self);
void        agent_sent (agent_t *self, int64_t now);
int64_t     agent_last_sent (const agent_t *self);

#endif
