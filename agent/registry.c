//  registry.c -- handlers by name; see registry.h.  exec and plugin get
//  their per-process state as self; the built-ins keep none.
#include "agent/registry.h"
#include "agent/builtin.h"
#include "agent/exec.h"
#include "agent/plugin.h"
#include "agent/workdir.h"
#include "proto/validate.h"

#include <stdlib.h>
#include <string.h>

struct registry {
    plugin_t *plugins;
    workdir_t *workdirs;
};

registry_t *
registry_new (void)
{
    registry_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->plugins = plugin_new ();
    self->workdirs = workdir_new ();
    if (!self->plugins || !self->workdirs)
        registry_destroy (&self);
    return self;
}

void
registry_destroy (registry_t **self_p)
{
    registry_t *self = *self_p;
    if (!self)
        return;
    plugin_destroy (&self->plugins);
    workdir_destroy (&self->workdirs);
    free (self);
    *self_p = NULL;
}

//  The handler called name and its self, or NULL; *bytes_only as
//  builtin_lookup's (a plugin is handed the bytes alone).
static handler_fn *
s_lookup (registry_t *self, const char *name, void **state, bool *bytes_only)
{
    *state = NULL;
    *bytes_only = false;
    if (name && !strcmp (name, "exec")) {
        *state = self->workdirs;
        return exec_handler;
    }
    if (name && !strcmp (name, "plugin")) {
        *state = self->plugins;
        *bytes_only = true;
        return plugin_handler;
    }
    return builtin_lookup (name, bytes_only);
}

int
registry_run (registry_t *self, handler_call_t *call, const char *name,
              const void *tuple, size_t tuple_size,
              const void *options, size_t options_size, msgpack_zone *zone)
{
    void *state;
    bool bytes_only;
    handler_fn *fn = s_lookup (self, name, &state, &bytes_only);
    if (!fn)
        return handler_fail (call, "unknown handler '%s'", name? name: "");
    msgpack_object tuple_obj, options_obj;
    size_t offset = 0;
    //  Scanned first: msgpack-c would preallocate whatever a container
    //  claims, and a tuple is untrusted input.
    if (!tuple || validate_msgpack (tuple, tuple_size) != 0
    ||  (!bytes_only && msgpack_unpack (tuple, tuple_size, &offset, zone, &tuple_obj)
                        != MSGPACK_UNPACK_SUCCESS))
        return handler_fail (call, "tuple is not valid msgpack");
    call->tuple = bytes_only? NULL: &tuple_obj;
    call->tuple_data = tuple;
    call->tuple_size = tuple_size;
    call->options = NULL;
    offset = 0;
    if (options && options_size && validate_msgpack (options, options_size) == 0
    &&  msgpack_unpack (options, options_size, &offset, zone, &options_obj) == MSGPACK_UNPACK_SUCCESS
    &&  options_obj.type == MSGPACK_OBJECT_MAP)
        call->options = &options_obj;
    int rc = fn (state, call);
    call->tuple = NULL;         //  pointed into this stack frame
    call->options = NULL;
    return rc;
}

const char *const *
registry_names (void)
{
    static const char *const names[] = { "echo", "sleep", "sha256", "tcp-probe", "fail",
                                         "exec", "plugin", NULL };
    return names;
}
