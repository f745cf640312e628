//  unsealable.h -- WORK whose job wants sealed results (sink_key) that this
//  agent cannot seal: it has no keypair, or the key is not one.  The agent
//  asks here before it runs a WORK; the lines it logs are rate-limited.
#ifndef DROVER_UNSEALABLE_H
#define DROVER_UNSEALABLE_H

#include "agent/reports.h"
#include "agent/work.h"
#include "common/keys.h"

#include <stdbool.h>

typedef struct unsealable unsealable_t;

//  keys: our keypair, borrowed (NULL: none).  NULL if out of memory.
unsealable_t *unsealable_new (keys_t *keys);
void          unsealable_destroy (unsealable_t **self_p);

//  True if work's tuples cannot be sealed here: they are then not run.
//  An attempt that is not the last fails at once with a reason saying why
//  (RETRY in reports), so the broker's back-off applies and an agent that
//  has keys may take it.  A last attempt or a dead letter is not reported
//  at all: RETRY on a last attempt would make the broker count it failed
//  with no dead letter at the sink, and only an agent with keys can store
//  that dead letter.  Its lease runs out instead and the broker hands it
//  on (as a dead letter).
bool          unsealable_refuse (unsealable_t *self, const work_t *work, reports_t *reports);

#endif
