//  roster.c -- see roster.h.  Sessions are keyed by the routing id in hex
//  (ROUTER ids are binary, usually 5 bytes); the ready ring is a zlistx
//  whose handle each session keeps, so leaving the ring is O(1).
#include "broker/roster.h"
#include "proto/schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  ZeroMQ routing ids are at most 255 bytes.
#define KEY_MAX (2 * 255 + 1)

struct session {
    char *key;                  //  routing id in hex, registry key
    zmsg_t *envelope;           //  routing id, and a delimiter if it sent one
    char *name;
    uint64_t credit;
    held_t *held;
    int64_t last_heard;
    int64_t last_sent;
    void *ready_handle;         //  in self->ready, or NULL
    char user_id[41];           //  its CURVE key, or ""
    int version;                //  of its HELLO: what we send it in
    char *labels;               //  broker/labels.h's text, or NULL
    uint64_t number;            //  the listing's (PROTOCOL.md 11)
    uint64_t slots;
    int64_t started;
    uint64_t done;
    char host[64];              //  its Peer-Address, or ""
};

struct roster {
    zhashx_t *sessions;         //  key -> session_t
    zlistx_t *ready;            //  sessions with credit, next in turn first
    zhashx_t *ended;            //  key -> agent name, of sessions that ended
    zlistx_t *ended_order;      //  their keys, oldest first (owned by ended)
    uint64_t sessions_started;  //  numbers them
};

static void
s_session_destroy (session_t **self_p)
{
    session_t *self = *self_p;
    if (!self)
        return;
    free (self->key);
    free (self->labels);
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

static session_t *
s_session_new (zmsg_t *envelope, const char *name, uint64_t slots, int64_t now)
{
    session_t *self = calloc (1, sizeof *self);
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
        s_session_destroy (&self);
        return NULL;
    }
    self->credit = self->slots = slots;
    self->started = self->last_heard = self->last_sent = now;
    self->version = MSG_VERSION;
    return self;
}

roster_t *
roster_new (void)
{
    roster_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->sessions = zhashx_new ();
    self->ready = zlistx_new ();
    self->ended = zhashx_new ();
    self->ended_order = zlistx_new ();
    if (!self->sessions || !self->ready || !self->ended || !self->ended_order) {
        roster_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->ended, (zhashx_destructor_fn *) zstr_free);
    zlistx_set_destructor (self->ended_order, (zlistx_destructor_fn *) zstr_free);
    zhashx_set_destructor (self->sessions, (zhashx_destructor_fn *) s_session_destroy);
    return self;
}

void
roster_destroy (roster_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    roster_t *self = *self_p;
    zlistx_destroy (&self->ready);      //  holds no ownership
    zlistx_destroy (&self->ended_order);
    zhashx_destroy (&self->ended);
    zhashx_destroy (&self->sessions);
    free (self);
    *self_p = NULL;
}

session_t *
roster_lookup (roster_t *self, zframe_t *routing_id)
{
    char key[KEY_MAX];
    s_key (routing_id, key);
    return (session_t *) zhashx_lookup (self->sessions, key);
}

static void
s_ready_join (roster_t *self, session_t *session)
{
    if (!session->ready_handle && session->credit > 0)
        session->ready_handle = zlistx_add_end (self->ready, session);
}

static void
s_ready_leave (roster_t *self, session_t *session)
{
    if (session->ready_handle) {
        zlistx_delete (self->ready, session->ready_handle);
        session->ready_handle = NULL;
    }
}

session_t *
roster_add (roster_t *self, zmsg_t *envelope, const char *name,
            uint64_t slots, int64_t now)
{
    session_t *session = s_session_new (envelope, name, slots, now);
    if (!session)
        return NULL;
    if (zhashx_insert (self->sessions, session->key, session)) {
        s_session_destroy (&session);       //  programmer error: already known
        return NULL;
    }
    session->number = ++self->sessions_started;
    s_ready_join (self, session);
    return session;
}

//  Remember the session's routing id, forgetting the oldest past
//  ROSTER_ENDED_MAX.  Out of memory it is not remembered: its late
//  messages are then refused as a stranger's.
static void
s_ended_add (roster_t *self, session_t *session)
{
    char *name = strdup (session->name);
    char *key = strdup (session->key);
    if (!name || !key || zhashx_insert (self->ended, session->key, name)) {
        free (name);
        free (key);
        return;
    }
    if (!zlistx_add_end (self->ended_order, key)) {
        free (key);
        zhashx_delete (self->ended, session->key);
        return;
    }
    if (zhashx_size (self->ended) > ROSTER_ENDED_MAX) {
        zhashx_delete (self->ended, (const char *) zlistx_first (self->ended_order));
        zlistx_delete (self->ended_order, zlistx_cursor (self->ended_order));
    }
}

const char *
roster_ended (roster_t *self, zframe_t *routing_id)
{
    char key[KEY_MAX];
    s_key (routing_id, key);
    return (const char *) zhashx_lookup (self->ended, key);
}

void
roster_remove (roster_t *self, session_t **session_p)
{
    session_t *session = *session_p;
    if (!session)
        return;
    s_ended_add (self, session);
    s_ready_leave (self, session);
    zhashx_delete (self->sessions, session->key);   //  destructor frees it
    *session_p = NULL;
}

size_t
roster_size (const roster_t *self)
{
    return zhashx_size (self->sessions);
}

session_t *
roster_first (roster_t *self)
{
    return (session_t *) zhashx_first (self->sessions);
}

session_t *
roster_next (roster_t *self)
{
    return (session_t *) zhashx_next (self->sessions);
}

void
roster_credit (roster_t *self, session_t *session, uint64_t credit)
{
    //  Saturate: an absurd CREDIT must not wrap to a small number.
    session->credit = session->credit + credit < session->credit?
        UINT64_MAX: session->credit + credit;
    s_ready_join (self, session);
}

session_t *
roster_ready (roster_t *self)
{
    return (session_t *) zlistx_first (self->ready);
}

void
roster_spend (roster_t *self, session_t *session, uint64_t count)
{
    session->credit = count < session->credit? session->credit - count: 0;
    if (session->credit == 0)
        s_ready_leave (self, session);
    else
    if (session->ready_handle)
        zlistx_move_end (self->ready, session->ready_handle);
}

int
session_set_labels (session_t *self, const char *labels)
{
    char *copy = labels && *labels? strdup (labels): NULL;
    if (labels && *labels && !copy)
        return -1;
    free (self->labels);
    self->labels = copy;
    return 0;
}

const char *
session_labels (const session_t *self)
{
    return self->labels;
}

const char *
session_name (const session_t *self)
{
    return self->name;
}

void
session_set_user_id (session_t *self, const char *user_id)
{
    snprintf (self->user_id, sizeof self->user_id, "%s", user_id? user_id: "");
}

const char *
session_user_id (const session_t *self)
{
    return self->user_id;
}

void
session_set_version (session_t *self, int version)
{
    self->version = version;
}

int
session_version (const session_t *self)
{
    return self->version;
}

zmsg_t *
session_envelope (session_t *self)
{
    return self->envelope;
}

uint64_t
session_credit (const session_t *self)
{
    return self->credit;
}

held_t *
session_held (session_t *self)
{
    return self->held;
}

void
session_heard (session_t *self, int64_t now)
{
    self->last_heard = now;
}

int64_t
session_last_heard (const session_t *self)
{
    return self->last_heard;
}

void
session_sent (session_t *self, int64_t now)
{
    self->last_sent = now;
}

int64_t
session_last_sent (const session_t *self)
{
    return self->last_sent;
}

uint64_t
session_number (const session_t *self)
{
    return self->number;
}

uint64_t
session_slots (const session_t *self)
{
    return self->slots;
}

int64_t
session_started (const session_t *self)
{
    return self->started;
}

void
session_set_host (session_t *self, const char *host)
{
    snprintf (self->host, sizeof self->host, "%s", host? host: "");
}

const char *
session_host (const session_t *self)
{
    return self->host;
}

void
session_finished (session_t *self, uint64_t count)
{
    self->done += count;
}

uint64_t
session_done (const session_t *self)
{
    return self->done;
}
