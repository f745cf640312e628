//  plugin.c -- the plugin handler; see plugin.h and include/drover/plugin.h.
//  A plugin's outputs go into the call's buffer as the plugin emits them,
//  each handed on one emit late, so that the last one can be marked final
//  even when the plugin did not say so.
#include "agent/plugin.h"
#include "common/log.h"
#include "drover/plugin.h"
#include "proto/validate.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PLUGIN_ERROR_MAX 200

typedef struct library {
    struct library *next;
    char *path;
    void *dl;
    const drover_plugin_t *plugin;
} library_t;

typedef struct instance {
    struct instance *next;
    library_t *library;
    void *config;               //  msgpack bytes init saw
    size_t config_size;
    void *state;
} instance_t;

struct plugin {
    pthread_mutex_t lock;
    library_t *libraries;
    instance_t *instances;
    pid_t owner;                //  the process that loads them (fini there only)
};

plugin_t *
plugin_new (void)
{
    plugin_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init (&self->lock, NULL);
    self->owner = getpid ();
    return self;
}

void
plugin_destroy (plugin_t **self_p)
{
    plugin_t *self = *self_p;
    if (!self)
        return;
    //  A forked child holds copies of its parent's states: not its to fini.
    bool owner = self->owner == getpid ();
    while (self->instances) {
        instance_t *instance = self->instances;
        self->instances = instance->next;
        if (owner && instance->library->plugin->fini)
            instance->library->plugin->fini (instance->state);
        free (instance->config);
        free (instance);
    }
    while (self->libraries) {
        library_t *library = self->libraries;
        self->libraries = library->next;
        if (owner)
            dlclose (library->dl);
        free (library->path);
        free (library);
    }
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}

//  What emit works on, for one tuple.
typedef struct {
    handler_call_t *call;
    bool pending;               //  an output in the buffer not yet handed on
    bool finished;              //  final was emitted
    bool refused;               //  an emit was refused: the tuple fails
    char why[80];
} emit_ctx_t;

//  The plugin's drover_plugin_cancelled (include/drover/plugin.h).
static int
s_cancelled (void *emit_ctx)
{
    emit_ctx_t *ctx = emit_ctx;
    return ctx && handler_cancelled (ctx->call);
}

//  With the lock held: the library at path, loaded and checked.
static library_t *
s_library (plugin_t *self, handler_call_t *call, const char *path)
{
    for (library_t *library = self->libraries; library; library = library->next)
        if (!strcmp (library->path, path))
            return library;
    void *dl = dlopen (path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        handler_fail (call, "plugin: cannot load %s: %s", path, dlerror ());
        return NULL;
    }
    const drover_plugin_t *plugin = dlsym (dl, DROVER_PLUGIN_SYMBOL);
    const char *problem = NULL;
    if (!plugin)
        problem = "exports no '" DROVER_PLUGIN_SYMBOL "' symbol";
    else
    if (plugin->abi != DROVER_PLUGIN_ABI) {
        handler_fail (call, "plugin: %s has ABI version %u, this agent loads version %u only",
                      path, (unsigned) plugin->abi, (unsigned) DROVER_PLUGIN_ABI);
        dlclose (dl);
        return NULL;
    }
    else
    if (!plugin->handle || !plugin->name)
        problem = "has no name or no handle function";
    library_t *library = problem? NULL: calloc (1, sizeof *library);
    if (library && !(library->path = strdup (path))) {
        free (library);
        library = NULL;
    }
    if (!library) {
        handler_fail (call, "plugin: %s %s", path, problem? problem: "(out of memory)");
        dlclose (dl);
        return NULL;
    }
    //  A plugin that wants to see cancels says so with this variable.
    drover_cancelled_fn *cancelled = (drover_cancelled_fn *) dlsym (dl, DROVER_PLUGIN_CANCELLED_SYMBOL);
    if (cancelled)
        *cancelled = s_cancelled;
    library->dl = dl;
    library->plugin = plugin;
    library->next = self->libraries;
    self->libraries = library;
    log_info ("plugin %s loaded from %s", plugin->name, path);
    return library;
}

//  The initialised instance for (path, config), made on first use.  init
//  runs under the lock: once per process, and a plugin's init need not be
//  reentrant.
static instance_t *
s_instance (plugin_t *self, handler_call_t *call, const char *path,
            const void *config, size_t config_size)
{
    pthread_mutex_lock (&self->lock);
    instance_t *instance = self->instances;
    while (instance && (strcmp (instance->library->path, path)
           || instance->config_size != config_size
           || memcmp (instance->config, config, config_size)))
        instance = instance->next;
    library_t *library = instance? NULL: s_library (self, call, path);
    if (library) {
        const drover_plugin_t *plugin = library->plugin;
        instance = calloc (1, sizeof *instance);
        if (!instance || !(instance->config = malloc (config_size))) {
            free (instance);
            instance = NULL;
            handler_fail (call, "plugin: out of memory");
        }
        char err[PLUGIN_ERROR_MAX] = "";
        if (instance && plugin->init
        &&  plugin->init (config, config_size, &instance->state, err, sizeof err)) {
            err[sizeof err - 1] = 0;
            handler_fail (call, "plugin %s: init failed: %s", plugin->name,
                          err[0]? err: "(no reason given)");
            free (instance->config);
            free (instance);
            instance = NULL;
        }
        if (instance) {
            memcpy (instance->config, config, config_size);
            instance->config_size = config_size;
            instance->library = library;
            instance->next = self->instances;
            self->instances = instance;
        }
    }
    pthread_mutex_unlock (&self->lock);
    return instance;
}

static int
s_refuse (emit_ctx_t *ctx, const char *why)
{
    if (!ctx->refused)
        snprintf (ctx->why, sizeof ctx->why, "%s", why);
    ctx->refused = true;
    return -1;
}

static int
s_emit (void *arg, const uint8_t *data, size_t size, int final)
{
    emit_ctx_t *ctx = arg;
    handler_call_t *call = ctx->call;
    if (ctx->finished)
        return s_refuse (ctx, "emitted after its final output");
    if (handler_cancelled (call))
        return s_refuse (ctx, "cancelled");
    if (!data || validate_msgpack (data, size) != 0)
        return s_refuse (ctx, "emitted something that is not exactly one msgpack value");
    if (ctx->pending && handler_emit (call, false))
        return s_refuse (ctx, "output refused by the agent");
    msgpack_sbuffer_write (call->output, (const char *) data, size);
    ctx->pending = !final;
    if (final) {
        ctx->finished = true;
        if (handler_emit (call, true))
            return s_refuse (ctx, "output refused by the agent");
    }
    return 0;
}

int
plugin_handler (void *self, handler_call_t *call)
{
    const msgpack_object *path_obj = handler_option (call->options, "path");
    char path[4096];
    if (!path_obj || path_obj->type != MSGPACK_OBJECT_STR || path_obj->via.str.size == 0
    ||  path_obj->via.str.size >= sizeof path
    ||  memchr (path_obj->via.str.ptr, 0, path_obj->via.str.size))
        return handler_fail (call, "plugin: option path must name the plugin's shared object");
    memcpy (path, path_obj->via.str.ptr, path_obj->via.str.size);
    path[path_obj->via.str.size] = 0;

    //  The config as bytes: what init sees and what tells instances apart.
    msgpack_sbuffer config;
    msgpack_sbuffer_init (&config);
    const msgpack_object *config_obj = handler_option (call->options, "config");
    msgpack_packer pk;
    msgpack_packer_init (&pk, &config, msgpack_sbuffer_write);
    if (config_obj)
        msgpack_pack_object (&pk, *config_obj);
    else
        msgpack_pack_map (&pk, 0);
    instance_t *instance = s_instance (self, call, path, config.data, config.size);
    msgpack_sbuffer_destroy (&config);
    if (!instance)
        return -1;

    const drover_plugin_t *plugin = instance->library->plugin;
    emit_ctx_t ctx = { .call = call };
    char err[PLUGIN_ERROR_MAX] = "";
    int rc = plugin->handle (instance->state, call->tuple_data, call->tuple_size,
                             s_emit, &ctx, err, sizeof err);
    err[sizeof err - 1] = 0;
    if (rc)
        return handler_fail (call, "plugin %s: %s", plugin->name, err[0]? err: "handle failed");
    if (ctx.refused)
        return handler_fail (call, "plugin %s: %s", plugin->name, ctx.why);
    if (ctx.pending && handler_emit (call, true))
        return handler_fail (call, "plugin %s: output refused by the agent", plugin->name);
    return 0;
}
