//  admission.c -- see admission.h.  The key check runs for every message, so
//  the last answer per domain is kept: a busy peer costs one strcmp.  Log
//  lines are rate-limited per socket and kind: a refusal's line names the
//  socket first ("frontend", "backend: agent a1"), and that word is the
//  category, so one flooding peer quiets its socket's lines, not others'.
#include "broker/admission.h"
#include "common/keys.h"
#include "common/log.h"
#include "common/peerlog.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct admission {
    auth_t *auth;               //  borrowed; NULL: no allow-lists
    broker_counters_t *counters;
    //  The last auth_allowed answer per domain (0 producers, 1 agents),
    //  asked again when the key or auth_generation changes.
    struct {
        char key[KEYS_Z85_SIZE + 1];
        uint64_t generation;
        bool allowed;
    } last[2];
    peerlog_t *log;             //  the lines peers cause, rate-limited
};

admission_t *
admission_new (auth_t *auth, broker_counters_t *counters)
{
    admission_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->auth = auth;
    self->counters = counters;
    self->log = peerlog_new (AUTH_LOG_PER_SEC);
    if (!self->log)
        admission_destroy (&self);
    return self;
}

void
admission_destroy (admission_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    peerlog_destroy (&(*self_p)->log);
    free (*self_p);
    *self_p = NULL;
}

bool
admission_allowed (admission_t *self, const char *domain, const char *key)
{
    if (!self->auth)
        return true;
    if (!key)
        key = "";
    int index = strcmp (domain, AUTH_DOMAIN_PRODUCERS)? 1: 0;
    uint64_t generation = auth_generation (self->auth);
    if (self->last[index].generation == generation
    &&  !strcmp (self->last[index].key, key))
        return self->last[index].allowed;
    bool allowed = auth_allowed (self->auth, domain, key);
    //  A key too long to cache (never a Z85 key) is asked every time.
    if (strlen (key) < sizeof self->last[index].key) {
        strcpy (self->last[index].key, key);
        self->last[index].generation = generation;
        self->last[index].allowed = allowed;
    }
    return allowed;
}

uint64_t
admission_generation (const admission_t *self)
{
    return self->auth? auth_generation (self->auth): 0;
}

//  The category of a line about where: its first word ("frontend",
//  "intake", "backend") and what kind of line.
static const char *
s_category (const char *where, const char *kind, char *buffer, size_t size)
{
    snprintf (buffer, size, "%.*s %s", (int) strcspn (where, ": "), where, kind);
    return buffer;
}

//  The socket a refusal came in on, from where's first word.
static broker_socket_t
s_socket (const char *where)
{
    if (!strncmp (where, "intake", 6))
        return BROKER_INTAKE;
    if (!strncmp (where, "backend", 7))
        return BROKER_BACKEND;
    return BROKER_FRONTEND;
}

void
admission_refused (admission_t *self, const char *where, int code, const char *reason)
{
    if (code > 0 && code < DRV_E_MAX) {
        self->counters->errors[code]++;
        self->counters->refused[s_socket (where)][code]++;
    }
    char category[48];
    if (code == DRV_E_DENIED)
        peerlog_write (self->log, s_category (where, "DENIED", category, sizeof category),
                       LOG_LEVEL_WARN, "%s: DENIED: %s; %" PRIu64 " messages denied",
                       peerlog_str (where).text, peerlog_str (reason).text,
                       self->counters->errors[DRV_E_DENIED]);
    else
        peerlog_write (self->log, s_category (where, "refused", category, sizeof category),
                       LOG_LEVEL_WARN, "%s: %s: %s", peerlog_str (where).text,
                       msg_error_name (code), peerlog_str (reason).text);
}

void
admission_count (admission_t *self, int code)
{
    if (code > 0 && code < DRV_E_MAX) {
        self->counters->errors[code]++;
        self->counters->refused[BROKER_FRONTEND][code]++;
    }
}

void
admission_peer_error (admission_t *self, const char *where, msg_t *msg)
{
    int code = (int) msg_uint (msg, MSG_F_CODE);
    char category[48];
    peerlog_write (self->log, s_category (where, "ERROR", category, sizeof category),
                   LOG_LEVEL_WARN, "%s: peer sent ERROR %s: %s", peerlog_str (where).text,
                   msg_error_name (code), peerlog_str (msg_str (msg, MSG_F_REASON)).text);
}

peerlog_t *
admission_log (admission_t *self)
{
    return self->log;
}

void
admission_tick (admission_t *self)
{
    peerlog_flush (self->log);
}

const char *
admission_denied_reason (const char *key, char *buffer, size_t size)
{
    snprintf (buffer, size, "key %s is not allowed (revoked?)", key && *key? key: "(none)");
    return buffer;
}

const char *
admission_decode_reason (int code)
{
    switch (code) {
        case DRV_E_BAD_VERSION:     return MSG_VERSIONS_SPOKEN;
        case DRV_E_BAD_FRAMES:      return "expected frames DRV1 or DRV2, command, header, "
                                           "payload (version 2: one packed frame holding "
                                           "`count` tuples)";
        case DRV_E_BAD_HEADER:      return "header is not one msgpack map with string keys";
        case DRV_E_MISSING_FIELD:   return "a required header field is missing";
        case DRV_E_BAD_TYPE:        return "a header field has the wrong type";
        case DRV_E_UNKNOWN_COMMAND: return "no such command";
        case DRV_E_TOO_LARGE:       return "header, frame count, tuples or envelope over the limit";
        case DRV_E_BAD_TUPLE:       return "a tuple of the packed frame is not one well-formed "
                                           "msgpack value";
        default:                    return "malformed message";
    }
}
