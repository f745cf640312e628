//  plugin.h -- the "plugin" handler: run each tuple through a shared object
//  that implements include/drover/plugin.h (the public plugin ABI).  The
//  job's options: "path" (the .so) and "config" (any msgpack value, handed
//  to the plugin's init).  Every output the plugin emits is streamed on
//  with handler_emit, in order, the last one final.
//
//  Loaded plugins and their initialised states are process-wide, behind a
//  mutex: handler_fn gets no context pointer, and a plugin is dlopened once
//  per path and initialised once per (path, config) per process, however
//  many handler threads run it.
#ifndef DROVER_PLUGIN_H
#define DROVER_PLUGIN_H

#include "agent/handler.h"

//  A handler_fn (agent/handler.h).  Fails on bad options, a plugin that does
//  not load, has another ABI version or whose init fails, and when the
//  plugin's handle fails or emits something that is not one msgpack value.
int  plugin_handler (handler_call_t *call);

//  Call every plugin's fini and dlclose them.  Also run at exit; safe to
//  call again (plugins load anew on the next plugin_handler call).  No
//  handler thread may be running a plugin meanwhile.
void plugin_unload_all (void);

#endif
