//  handler.h -- what a handler is: the interface between a handler thread
//  (agent/pool.h) and the code that runs one tuple.  A handler reads the
//  call's inputs and reports each output through an emit callback, so one
//  tuple may yield many outputs.  The handlers are the built-ins
//  (agent/builtin.h), exec (agent/exec.h) and plugin (agent/plugin.h);
//  agent/registry.h finds them by name and runs them.
#ifndef DROVER_HANDLER_H
#define DROVER_HANDLER_H

#include <msgpack.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HANDLER_ERROR_MAX 256

typedef struct handler_call handler_call_t;

//  Told about each output: data/size is one msgpack value.  final is true on
//  a handler's last output.  Returns 0, or -1 to make the handler stop.
typedef int (handler_emit_fn) (void *arg, const void *data, size_t size, bool final);

//  One run of a handler on one tuple.  The caller fills the inputs and the
//  output buffer; a handler reads the inputs, packs an output with
//  call->packer and then calls handler_emit, or fails with handler_fail.
struct handler_call {
    const msgpack_object *tuple;        //  the decoded tuple (NULL for handlers
                                        //  that read only the bytes: registry.h)
    const void *tuple_data;             //  the tuple's raw msgpack bytes
    size_t tuple_size;
    const msgpack_object *options;      //  the job's options map, or NULL
    int64_t deadline;                   //  zclock_mono () ms to finish by; 0 = none
    int cancel_fd;                      //  readable once the run should stop; -1 = none
    const atomic_bool *cancelled;       //  true once the run should stop; NULL = never
    msgpack_sbuffer *output;            //  outputs accumulate here
    msgpack_packer packer;              //  packs into output
    handler_emit_fn *emit;              //  may be NULL
    void *emit_arg;
    size_t mark;                        //  where the current output starts in output
    size_t outputs;                     //  outputs emitted so far
    char error[HANDLER_ERROR_MAX];      //  set by handler_fail
};

//  A handler returns 0 on success, -1 after handler_fail.  self is what the
//  handler keeps for the whole process (loaded plugins, prepared work
//  directories), shared by every handler thread; NULL for handlers that
//  keep nothing.  Handlers with such state say in their header what self is.
typedef int (handler_fn) (void *self, handler_call_t *call);

//  Prepare a call that packs into output (which the caller owns and may
//  reuse across calls: outputs are appended).
void handler_call_init (handler_call_t *call, msgpack_sbuffer *output);
//  Everything packed since the last emit is one output; hand it on.
int  handler_emit (handler_call_t *call, bool final);
//  Record the error text; returns -1 so a handler can `return handler_fail`.
int  handler_fail (handler_call_t *call, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

//  True once the run should stop (its job was cancelled, or the agent shuts
//  down): what cancel_fd says, without a system call, for handlers that
//  check between steps rather than poll.
bool handler_cancelled (const handler_call_t *call);

//  Value of a key in a msgpack map (str keys), or NULL.
const msgpack_object *handler_option (const msgpack_object *map, const char *key);

#endif
