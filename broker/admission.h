//  admission.h -- whether the broker lets a peer's message in, and the
//  record of those it does not: is the sender's CURVE key allowed now (asked
//  of auth_t once per key and allow-list generation), and the count and the
//  log line of every message refused, or reported by a peer as ERROR.
//  Below every part of the broker that reads a socket; calls nothing above.
//  Every log line a peer can trigger goes through here.
#ifndef DROVER_BROKER_ADMISSION_H
#define DROVER_BROKER_ADMISSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/counters.h"
#include "common/auth.h"
#include "common/peerlog.h"
#include "proto/msg.h"

typedef struct admission admission_t;

//  auth NULL: every key is allowed.  Both borrowed; refusals are counted in
//  counters->errors.  NULL if out of memory.
admission_t *admission_new (auth_t *auth, broker_counters_t *counters);
void         admission_destroy (admission_t **self_p);

//  Is a message from key (its msg_user_id, NULL for none) allowed in domain
//  (AUTH_DOMAIN_PRODUCERS or AUTH_DOMAIN_AGENTS) now?
bool         admission_allowed (admission_t *self, const char *domain, const char *key);
//  Moves each time an allow-list changes (0 without auth): peers let in
//  before may not be now.
uint64_t     admission_generation (const admission_t *self);

//  Count a message refused with ERROR code (DRV_E_*) and log why; where
//  names the socket and peer ("frontend", "backend: agent a1").  Lines are
//  rate-limited (AUTH_LOG_PER_SEC a second per socket and kind, then a
//  summary): a peer may keep sending.  where and reason may hold a peer's
//  strings: they are escaped (peerlog.h).
void         admission_refused (admission_t *self, const char *where, int code,
                                const char *reason);
//  Count a refusal on the frontend whose cause is logged elsewhere (a
//  failed commit).
void         admission_count (admission_t *self, int code);
//  A peer's ERROR is never answered (PROTOCOL.md 5): it is logged, the
//  same way.
void         admission_peer_error (admission_t *self, const char *where, msg_t *msg);
//  The rate limit every other line a peer can cause goes through
//  (peerlog_write), e.g. an agent joining or leaving.
peerlog_t   *admission_log (admission_t *self);
//  Log what the rate limit held back once its second is over: call it
//  each turn of the loop.
void         admission_tick (admission_t *self);

//  The reason given for DENIED, written into buffer.
const char  *admission_denied_reason (const char *key, char *buffer, size_t size);
//  The reason given for a message wire_recv could not decode (-code).
const char  *admission_decode_reason (int code);

#endif
