//  holdings.h -- HELLO's `held` (PROTOCOL.md 4.2): the tuples an agent
//  holds when it says HELLO again (running, waiting for STORED, or stored
//  with DONE not yet sent), so that the broker resumes them as leases of
//  the new session.  On the wire one msgpack map, job name -> array of
//  runs [first, count, attempt], in both versions.  The agent builds it
//  (holdings_add, holdings_encode); the broker reads it (holdings_each).
#ifndef DROVER_HOLDINGS_H
#define DROVER_HOLDINGS_H

#include "proto/runs.h"

#include <stddef.h>

typedef struct holdings holdings_t;

//  NULL if out of memory.
holdings_t *holdings_new (void);
void        holdings_destroy (holdings_t **self_p);

//  Add tuple ref of job.  The name is borrowed: it must live until
//  holdings_encode.  0 or -ENOMEM.
int         holdings_add (holdings_t *self, const char *job, msg_ref_t ref);
size_t      holdings_count (const holdings_t *self);
//  The map, at most max bytes: jobs and runs past that are left out (the
//  broker does not resume them; their reports are then ignored).  Into
//  *data_p (malloc'd, the caller's) and *size_p; how many tuples it names
//  in *named_p.  0, or -ENOMEM.
int         holdings_encode (holdings_t *self, size_t max, void **data_p, size_t *size_p,
                             size_t *named_p);

//  Call fn for each job of a `held` map: its name (NUL-terminated) and its
//  runs.  0, or -DRV_E_BAD_TYPE if data is not such a map (fn may have been
//  called for the jobs before the fault; -DRV_E_TOO_LARGE for a run over
//  the limits of section 7), or -ENOMEM.
typedef void (holdings_fn) (void *arg, const char *job, const msg_run_t *runs, size_t count);
int         holdings_each (const void *data, size_t size, holdings_fn *fn, void *arg);

#endif
