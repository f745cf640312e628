//  unsealable.c -- WORK the agent cannot seal the results of; see
//  unsealable.h.  Moved out of agent.c with its rate limit.
#include "agent/unsealable.h"
#include "common/log.h"
#include "common/peerlog.h"

#include <czmq.h>
#include <stdlib.h>

#define UNSEALABLE_LOG_MS       10000   //  one "needs sealed results" line this often

//  What a tuple of a job whose WORK has sink_key fails with when this agent
//  has no keypair to seal its results.
#define UNSEALABLE_REASON "job needs sealed results: start the agent with --cert"

struct unsealable {
    keys_t *keys;               //  borrowed (NULL: none)
    int64_t logged;             //  rate limit of UNSEALABLE_REASON lines
    uint64_t unlogged;
};

unsealable_t *
unsealable_new (keys_t *keys)
{
    unsealable_t *self = calloc (1, sizeof *self);
    if (self)
        self->keys = keys;
    return self;
}

void
unsealable_destroy (unsealable_t **self_p)
{
    free (*self_p);
    *self_p = NULL;
}

bool
unsealable_refuse (unsealable_t *self, const work_t *work, reports_t *reports)
{
    uint8_t key[KEYS_KEY_SIZE];
    char err[160];
    const char *reason = NULL;
    if (!self->keys)
        reason = UNSEALABLE_REASON;
    else
    if (keys_z85_decode (work->sink_key, key, "WORK sink_key", err, sizeof err))
        reason = err;
    if (!reason)
        return false;
    size_t lapsed = 0;
    for (size_t i = 0; i < work->count; i++) {
        if (work->dead_letter || work->refs[i].attempt >= work->max_attempts)
            lapsed++;
        else
            reports_add (reports, work->job, work->refs[i], REPORT_RETRY, reason);
    }
    int64_t now = zclock_mono ();
    if (self->logged && now - self->logged < UNSEALABLE_LOG_MS) {
        self->unlogged += work->count;
        return true;
    }
    log_error ("job %s: %s; %zu tuples handed back, %zu on their last attempt left to their "
               "lease (%llu more since the last such line)", peerlog_str (work->job).text, reason,
               work->count - lapsed, lapsed, (unsigned long long) self->unlogged);
    self->logged = now;
    self->unlogged = 0;
    return true;
}
