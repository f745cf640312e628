//  registry.h -- the handlers a process runs, found by name, and the state
//  they keep for the process: loaded plugins (agent/plugin.h) and work
//  directories (agent/workdir.h).  One per process that runs handlers (a
//  worker process, or the agent itself with P = 0), shared by its handler
//  threads (agent/pool.h), so it is thread-safe.  It sits above the
//  handlers (agent/builtin.h, exec.h, plugin.h) and below the pool.
#ifndef DROVER_REGISTRY_H
#define DROVER_REGISTRY_H

#include "agent/handler.h"

typedef struct registry registry_t;

//  NULL if out of memory.
registry_t *registry_new (void);
//  Unload plugins (their fini) and remove work directories.  No handler
//  may be running.
void        registry_destroy (registry_t **self_p);

//  Run handler name on a tuple given as raw bytes: decode the tuple and the
//  options (raw msgpack map or NULL) with zone, find the handler, run it.
//  Fails with "unknown handler 'x'" or "tuple is not valid msgpack".
//  call must be initialised; deadline, cancel_fd and emit are taken from it.
int         registry_run (registry_t *self, handler_call_t *call, const char *name,
                          const void *tuple, size_t tuple_size,
                          const void *options, size_t options_size, msgpack_zone *zone);

//  Names of the handlers, NULL-terminated (for help texts).
const char *const *registry_names (void);

#endif
