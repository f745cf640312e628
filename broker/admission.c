//  admission.c -- see admission.h.  The key check runs for every message, so
//  the last answer per domain is kept: a busy peer costs one strcmp.
#include "broker/admission.h"
#include "common/keys.h"
#include "common/log.h"

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
    int64_t denied_second;      //  rate limit of the DENIED log lines
    uint32_t denied_logged;     //  lines in that second
    uint64_t denied_quiet;      //  not logged since the last line
};

admission_t *
admission_new (auth_t *auth, broker_counters_t *counters)
{
    admission_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->auth = auth;
    self->counters = counters;
    return self;
}

void
admission_destroy (admission_t **self_p)
{
    if (!self_p || !*self_p)
        return;
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

static void
s_denied (admission_t *self, const char *where, const char *reason)
{
    self->counters->errors[DRV_E_DENIED]++;
    self->counters->refused[s_socket (where)][DRV_E_DENIED]++;
    int64_t second = zclock_mono () / 1000;
    if (second != self->denied_second) {
        self->denied_second = second;
        self->denied_logged = 0;
    }
    if (self->denied_logged >= AUTH_LOG_PER_SEC) {
        self->denied_quiet++;
        return;
    }
    self->denied_logged++;
    char quiet[64] = "";
    if (self->denied_quiet)
        snprintf (quiet, sizeof quiet, " (and %" PRIu64 " more not logged)",
                  self->denied_quiet);
    self->denied_quiet = 0;
    log_warn ("%s: DENIED: %s; %" PRIu64 " messages denied%s", where, reason,
              self->counters->errors[DRV_E_DENIED], quiet);
}

void
admission_refused (admission_t *self, const char *where, int code, const char *reason)
{
    if (code == DRV_E_DENIED) {
        s_denied (self, where, reason);
        return;
    }
    if (code > 0 && code < DRV_E_MAX) {
        self->counters->errors[code]++;
        self->counters->refused[s_socket (where)][code]++;
    }
    log_warn ("%s: %s: %s", where, msg_error_name (code), reason);
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
    (void) self;
    int code = (int) msg_uint (msg, MSG_F_CODE);
    log_warn ("%s: peer sent ERROR %s: %s", where,
              msg_error_name (code), msg_str (msg, MSG_F_REASON));
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
        case DRV_E_BAD_VERSION:     return "supported: 1";
        case DRV_E_BAD_FRAMES:      return "expected frames DRV1, command, header, payload";
        case DRV_E_BAD_HEADER:      return "header is not one msgpack map with string keys";
        case DRV_E_MISSING_FIELD:   return "a required header field is missing";
        case DRV_E_BAD_TYPE:        return "a header field has the wrong type";
        case DRV_E_UNKNOWN_COMMAND: return "no such command in version 1";
        case DRV_E_TOO_LARGE:       return "header or frame count over the limit";
        default:                    return "malformed message";
    }
}
