//  agents.c -- see agents.h.  Registry keyed by the routing id in hex (ROUTER
//  ids are binary, usually 5 bytes); the ready ring is a zlistx whose handle
//  each agent keeps, so leaving the ring is O(1).
#include "broker/agents.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  ZeroMQ routing ids are at most 255 bytes.
#define KEY_MAX (2 * 255 + 1)

struct agent {
    char *key;                  //  routing id in hex, registry key
    zmsg_t *envelope;           //  routing id, and a delimiter if it sent one
    char *name;
    uint64_t credit;
    held_t *held;
    int64_t last_heard;
    int64_t last_sent;
    void *ready_handle;         //  in self->ready, or NULL
    char user_id[41];           //  its CURVE key, or ""
};

struct agents {
    zhashx_t *agents;           //  key -> agent_t
    zlistx_t *ready;            //  agents with credit, next in turn first
};

static void
s_agent_destroy (agent_t **self_p)
{
    agent_t *self = *self_p;
    if (!self)
        return;
    free (self->key);
    zmsg_destroy (&self->envelope);
    free (self->name);
    held_destroy (&self->held);
    free (self);
    *self_p = NULL;
}

//  A routing id in hex, as zframe_strhex writes it, without allocating:
//  the lookup runs for every message on the backend.
static void
s_key (zframe_t *routing_id, char key[KEY_MAX])
{
    static const char hex[] = "0123456789ABCDEF";
    const uint8_t *data = zframe_data (routing_id);
    size_t size = zframe_size (routing_id);
    if (size > (KEY_MAX - 1) / 2)
        size = (KEY_MAX - 1) / 2;
    for (size_t i = 0; i < size; i++) {
        key[2 * i] = hex[data[i] >> 4];
        key[2 * i + 1] = hex[data[i] & 15];
    }
    key[2 * size] = 0;
}

static agent_t *
s_agent_new (zmsg_t *envelope, const char *name, uint64_t slots, int64_t now)
{
    agent_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->envelope = zmsg_dup (envelope);
    if (self->envelope) {
        char key[KEY_MAX];
        s_key (zmsg_first (self->envelope), key);
        self->key = strdup (key);
    }
    self->name = strdup (name);
    self->held = held_new ();
    if (!self->key || !self->name || !self->held) {
        s_agent_destroy (&self);
        return NULL;
    }
    self->credit = slots;
    self->last_heard = self->last_sent = now;
    return self;
}

agents_t *
agents_new (void)
{
    agents_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->agents = zhashx_new ();
    self->ready = zlistx_new ();
    if (!self->agents || !self->ready) {
        agents_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->agents, (zhashx_destructor_fn *) s_agent_destroy);
    return self;
}

void
agents_destroy (agents_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    agents_t *self = *self_p;
    zlistx_destroy (&self->ready);      //  holds no ownership
    zhashx_destroy (&self->agents);
    free (self);
    *self_p = NULL;
}

agent_t *
agents_lookup (agents_t *self, zframe_t *routing_id)
{
    char key[KEY_MAX];
    s_key (routing_id, key);
    return (agent_t *) zhashx_lookup (self->agents, key);
}

static void
s_ready_join (agents_t *self, agent_t *agent)
{
    if (!agent->ready_handle && agent->credit > 0)
        agent->ready_handle = zlistx_add_end (self->ready, agent);
}

static void
s_ready_leave (agents_t *self, agent_t *agent)
{
    if (agent->ready_handle) {
        zlistx_delete (self->ready, agent->ready_handle);
        agent->ready_handle = NULL;
    }
}

agent_t *
agents_add (agents_t *self, zmsg_t *envelope, const char *name,
            uint64_t slots, int64_t now)
{
    agent_t *agent = s_agent_new (envelope, name, slots, now);
    if (!agent)
        return NULL;
    if (zhashx_insert (self->agents, agent->key, agent)) {
        s_agent_destroy (&agent);       //  programmer error: already known
        return NULL;
    }
    s_ready_join (self, agent);
    return agent;
}

void
agents_remove (agents_t *self, agent_t **agent_p)
{
    agent_t *agent = *agent_p;
    if (!agent)
        return;
    s_ready_leave (self, agent);
    zhashx_delete (self->agents, agent->key);   //  destructor frees it
    *agent_p = NULL;
}

size_t
agents_size (const agents_t *self)
{
    return zhashx_size (self->agents);
}

agent_t *
agents_first (agents_t *self)
{
    return (agent_t *) zhashx_first (self->agents);
}

agent_t *
agents_next (agents_t *self)
{
    return (agent_t *) zhashx_next (self->agents);
}

void
agents_credit (agents_t *self, agent_t *agent, uint64_t credit)
{
    //  Saturate: an absurd CREDIT must not wrap to a small number.
    agent->credit = agent->credit + credit < agent->credit?
        UINT64_MAX: agent->credit + credit;
    s_ready_join (self, agent);
}

agent_t *
agents_ready (agents_t *self)
{
    return (agent_t *) zlistx_first (self->ready);
}

void
agents_spend (agents_t *self, agent_t *agent, uint64_t count)
{
    agent->credit = count < agent->credit? agent->credit - count: 0;
    if (agent->credit == 0)
        s_ready_leave (self, agent);
    else
    if (agent->ready_handle)
        zlistx_move_end (self->ready, agent->ready_handle);
}

const char *
agent_name (const agent_t *self)
{
    return self->name;
}

void
agent_set_user_id (agent_t *self, const char *user_id)
{
    snprintf (self->user_id, sizeof self->user_id, "%s", user_id? user_id: "");
}

const char *
agent_user_id (const agent_t *self)
{
    return self->user_id;
}

zmsg_t *
agent_envelope (agent_t *self)
{
    return self->envelope;
}

uint64_t
agent_credit (const agent_t *self)
{
    return self->credit;
}

held_t *
agent_held (agent_t *self)
{
    return self->held;
}

void
agent_heard (agent_t *self, int64_t now)
{
    self->last_heard = now;
}

int64_t
agent_last_heard (const agent_t *self)
{
    return self->last_heard;
}

void
agent_sent (agent_t *self, int64_t now)
{
    self->last_sent = now;
}

int64_t
agent_last_sent (const agent_t *self)
{
    return self->last_sent;
}
