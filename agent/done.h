//  done.h -- results of finished tasks waiting for the pool's reactor to
//  take them (agent/pool.h), packed in one buffer, and when they are due:
//  taken in batches, one wake-up per batch, not one per result.  Not
//  thread-safe: the pool calls it under its lock.
#ifndef DROVER_DONE_H
#define DROVER_DONE_H

#include "agent/pool.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct done done_t;

//  NULL if out of memory.
done_t *done_new (void);
void    done_destroy (done_t **self_p);

//  Add one result at now_us (monotonic); urgent: it goes at once.  held:
//  the tasks the pool still holds (queued and running).  True if the
//  caller must wake the reactor once it has let go of its lock: when the
//  results become non-empty (the reactor arms the POOL_FLUSH_MS timer) and
//  when they become due, once before the reactor looks.
bool    done_post (done_t *self, const pool_record_t *head, const void *data, size_t size,
                   bool urgent, size_t held, uint64_t now_us);
//  The reactor looks (so the next post wakes it again): move the results
//  into results (all, or only if due) and say how many;
//  if none, when to look again in *next_ms (zclock_mono; INT64_MAX: when
//  woken).
size_t  done_take (done_t *self, pool_results_t *results, bool all, size_t held,
                   uint64_t now_us, int64_t *next_ms);

#endif
