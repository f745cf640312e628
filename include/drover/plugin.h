//  drover/plugin.h -- the whole ABI between a drover agent and a handler
//  plugin: a shared object that exports one constant struct named
//  `drover_plugin`.  Plain C types only, so a plugin needs no drover headers
//  or libraries beyond this file (and a msgpack library of its choice).
//
//      #include <drover/plugin.h>
//      static int my_handle (void *state, const uint8_t *tuple, size_t size,
//                            drover_emit_fn emit, void *emit_ctx,
//                            char *err, size_t errlen) { ... }
//      const drover_plugin_t drover_plugin = {
//          .abi = DROVER_PLUGIN_ABI, .name = "mine", .handle = my_handle };
//
//  The agent dlopens the object once per path in each worker process
//  (RTLD_NOW | RTLD_LOCAL), checks .abi, calls init once per distinct
//  (path, config), then handle for each tuple, from many handler threads at
//  once with the same state, and fini once when the process exits.
#ifndef DROVER_PLUGIN_ABI_H
#define DROVER_PLUGIN_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Bumped on any incompatible change to the struct or the callbacks below.
//  An agent loads only plugins whose .abi equals its own.
#define DROVER_PLUGIN_ABI 1

//  The symbol the agent looks up.
#define DROVER_PLUGIN_SYMBOL "drover_plugin"

//  Hand one output to the agent: msgpack/size is exactly one msgpack value
//  (copied before emit returns).  final is non-zero on the tuple's last
//  output; later emits fail.  Outputs are streamed to the job's sink in the
//  order emitted.  If handle returns 0 without a final emit, the agent marks
//  the last output final itself.  Returns 0, or -1 when the plugin should
//  stop handling this tuple (bad msgpack, emit after final, the tuple
//  cancelled, shutting down): then return non-zero from handle.
typedef int (*drover_emit_fn) (void *emit_ctx, const uint8_t *msgpack, size_t size,
                               int final);

//  Optional, within ABI 1: is the tuple being handled asked to stop?  (Its
//  job was cancelled with `drover cancel`, or the agent shuts down after
//  its grace.)  A plugin that wants to know defines, visible as
//  drover_plugin is, the variable
//
//      drover_cancelled_fn drover_plugin_cancelled;
//
//  which an agent that knows it sets when it loads the plugin; an older
//  agent leaves it NULL, and then no tuple is ever cancelled.  Call it
//  from handle only, with handle's emit_ctx: non-zero once the tuple
//  should stop, then handle should return non-zero soon (the agent
//  stores the tuple as cancelled).  Cheap (no system call): call it between
//  steps of a long handle.
typedef int (*drover_cancelled_fn) (void *emit_ctx);
#define DROVER_PLUGIN_CANCELLED_SYMBOL "drover_plugin_cancelled"

typedef struct {
    //  DROVER_PLUGIN_ABI as the plugin was built.  Always the first member,
    //  in every ABI version, so the agent can check it before anything else.
    uint32_t abi;
    //  Short name for logs and errors ("split").
    const char *name;
    //  Optional (may be NULL).  config_msgpack/size: the job's "config"
    //  option as one msgpack value (an empty map if none).  Sets *state (passed
    //  to handle and fini) and returns 0; on failure writes a NUL-terminated
    //  message to err (errlen bytes) and returns non-zero: then every tuple of
    //  the job fails with that message, and init is tried again on the next.
    int  (*init) (const uint8_t *config_msgpack, size_t size, void **state,
                  char *err, size_t errlen);
    //  Required.  Handle one tuple (tuple_msgpack/size: one msgpack value,
    //  usually an array), emitting zero or more outputs through emit.
    //  Returns 0 on success; non-zero with a message in err on failure (the
    //  attempt fails; outputs already emitted are not taken back).  Called
    //  concurrently from several threads with the same state: it must be
    //  thread-safe.  It must not call exit.  Nothing interrupts it: it
    //  should finish within the job's timeout_ms, or the tuple's lease may
    //  run out and the tuple be run again elsewhere; and it should stop
    //  when cancelled (drover_plugin_cancelled above).  A crash kills only the
    //  worker process it runs in (the agent restarts it; the tuple counts a
    //  failed attempt).
    int  (*handle) (void *state, const uint8_t *tuple_msgpack, size_t size,
                    drover_emit_fn emit, void *emit_ctx, char *err, size_t errlen);
    //  Optional.  Called once for each successful init, when the worker
    //  process exits normally.
    void (*fini) (void *state);
} drover_plugin_t;

#ifdef __cplusplus
}
#endif

#endif
