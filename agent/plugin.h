//  plugin.h -- the "plugin" handler: run each tuple through a shared object
//  that implements include/drover/plugin.h (the public plugin ABI).  The
//  job's options: "path" (the .so) and "config" (any msgpack value, handed
//  to the plugin's init).  Every output the plugin emits is streamed on
//  with handler_emit, in order, the last one final.
//
//  A plugin_t holds what a process loaded: each plugin is dlopened once per
//  path and initialised once per (path, config), however many handler
//  threads run it, so it is shared by them behind a mutex.  One per
//  process that runs handlers (agent/registry.h owns it).
#ifndef DROVER_PLUGIN_H
#define DROVER_PLUGIN_H

#include "agent/handler.h"

typedef struct plugin plugin_t;

//  NULL if out of memory.  Loads nothing yet.
plugin_t *plugin_new (void);
//  Call every initialised plugin's fini and dlclose them.  No handler
//  thread may be running a plugin meanwhile.
void      plugin_destroy (plugin_t **self_p);

//  A handler_fn (agent/handler.h); self is a plugin_t.  Fails on bad
//  options, a plugin that does not load, has another ABI version or whose
//  init fails, and when the plugin's handle fails or emits something that
//  is not one msgpack value.
int       plugin_handler (void *self, handler_call_t *call);

#endif
