//  exec.c -- the exec handler; see exec.h.  Reads the job's options, turns
//  the command template and the tuple into an argv (or one shell line with
//  quoted values) with agent/cmdline.h, runs it with agent/spawn.h in a
//  task directory from agent/workdir.h, and packs the result map.
#include "agent/exec.h"
#include "agent/cmdline.h"
#include "agent/spawn.h"
#include "agent/tmpdir.h"
#include "agent/workdir.h"
#include "common/json_write.h"
#include "common/log.h"

#include <czmq.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

#define DEFAULT_GRACE_MS        2000
#define DEFAULT_MAX_OUTPUT      (1024 * 1024)
#define DEFAULT_SETUP_MS        600000
#define LABEL_MAX               80
#define TAIL_MAX                200     //  bytes of stderr quoted in an error

typedef enum { INPUT_JSON, INPUT_MSGPACK, INPUT_NONE } input_t;

//  The job's options, checked.
typedef struct {
    const msgpack_object *command;
    bool shell;
    input_t input;
    const msgpack_object *env;
    int64_t timeout_ms;         //  0: none of its own
    int64_t kill_grace_ms;
    size_t max_output;
    const msgpack_object *ok_exit_codes;
    const msgpack_object *setup;
    const msgpack_object *template_dir;
    int64_t setup_timeout_ms;
    bool workdir;
    bool keep_workdir;
} options_t;

static bool
s_is_str (const msgpack_object *obj)
{
    return obj && obj->type == MSGPACK_OBJECT_STR;
}

static bool
s_str_eq (const msgpack_object *obj, const char *text)
{
    return s_is_str (obj) && obj->via.str.size == strlen (text)
        && memcmp (obj->via.str.ptr, text, obj->via.str.size) == 0;
}

//  A non-negative integer option, absent = fallback.  -1 if not one.
static int
s_integer (const msgpack_object *options, const char *key, int64_t fallback, int64_t *value)
{
    const msgpack_object *obj = handler_option (options, key);
    if (!obj) {
        *value = fallback;
        return 0;
    }
    if (obj->type != MSGPACK_OBJECT_POSITIVE_INTEGER || obj->via.u64 > INT64_MAX / 2)
        return -1;
    *value = (int64_t) obj->via.u64;
    return 0;
}

static int
s_bool (const msgpack_object *options, const char *key, bool *value)
{
    const msgpack_object *obj = handler_option (options, key);
    *value = false;
    if (!obj)
        return 0;
    if (obj->type != MSGPACK_OBJECT_BOOLEAN)
        return -1;
    *value = obj->via.boolean;
    return 0;
}

static bool
s_str_array (const msgpack_object *obj)
{
    if (!obj || obj->type != MSGPACK_OBJECT_ARRAY || obj->via.array.size == 0)
        return false;
    for (uint32_t i = 0; i < obj->via.array.size; i++)
        if (!s_is_str (&obj->via.array.ptr[i]))
            return false;
    return true;
}

static int
s_options (handler_call_t *call, options_t *opts)
{
    const msgpack_object *map = call->options;
    memset (opts, 0, sizeof *opts);
    if (s_bool (map, "shell", &opts->shell))
        return handler_fail (call, "exec: option shell must be true or false");
    opts->command = handler_option (map, "command");
    if (opts->shell && !s_is_str (opts->command))
        return handler_fail (call, "exec: with shell, option command must be a string");
    if (!opts->shell && !s_str_array (opts->command))
        return handler_fail (call, "exec: option command must be a non-empty array of strings");
    const msgpack_object *input = handler_option (map, "stdin");
    if (!input || s_str_eq (input, "json"))
        opts->input = INPUT_JSON;
    else
    if (s_str_eq (input, "msgpack"))
        opts->input = INPUT_MSGPACK;
    else
    if (s_str_eq (input, "none"))
        opts->input = INPUT_NONE;
    else
        return handler_fail (call, "exec: option stdin must be \"json\", \"msgpack\" or \"none\"");
    opts->env = handler_option (map, "env");
    if (opts->env && opts->env->type != MSGPACK_OBJECT_MAP)
        return handler_fail (call, "exec: option env must be a map");
    int64_t max_output;
    if (s_integer (map, "timeout_ms", 0, &opts->timeout_ms)
    ||  s_integer (map, "kill_grace_ms", DEFAULT_GRACE_MS, &opts->kill_grace_ms)
    ||  s_integer (map, "max_output", DEFAULT_MAX_OUTPUT, &max_output)
    ||  s_integer (map, "setup_timeout_ms", DEFAULT_SETUP_MS, &opts->setup_timeout_ms))
        return handler_fail (call, "exec: options timeout_ms, kill_grace_ms, max_output "
                                   "and setup_timeout_ms must be integers >= 0");
    opts->max_output = (size_t) max_output;
    opts->ok_exit_codes = handler_option (map, "ok_exit_codes");
    if (opts->ok_exit_codes && opts->ok_exit_codes->type != MSGPACK_OBJECT_ARRAY)
        return handler_fail (call, "exec: option ok_exit_codes must be an array of integers");
    opts->setup = handler_option (map, "setup");
    if (opts->setup && !s_str_array (opts->setup) && !s_is_str (opts->setup))
        return handler_fail (call, "exec: option setup must be an array of strings or a string");
    opts->template_dir = handler_option (map, "template");
    if (opts->template_dir && (!s_is_str (opts->template_dir) || !opts->template_dir->via.str.size
        || memchr (opts->template_dir->via.str.ptr, 0, opts->template_dir->via.str.size)))
        return handler_fail (call, "exec: option template must be a directory path");
    if (s_bool (map, "workdir", &opts->workdir) || s_bool (map, "keep_workdir", &opts->keep_workdir))
        return handler_fail (call, "exec: options workdir and keep_workdir must be true or false");
    if (opts->setup || opts->template_dir || opts->keep_workdir)
        opts->workdir = true;
    return 0;
}

//  argv from the command option and the tuple.
static int
s_argv (handler_call_t *call, const options_t *opts, cmdline_t *argv)
{
    char err[HANDLER_ERROR_MAX - 32] = "";
    int rc = 0;
    if (opts->shell) {
        const msgpack_object *line = opts->command;
        rc = cmdline_add (argv, "/bin/sh", 7, err, sizeof err)
          || cmdline_add (argv, "-c", 2, err, sizeof err)
          || cmdline_add_template (argv, call->tuple, line->via.str.ptr, line->via.str.size,
                                   true, err, sizeof err);
    }
    else {
        const msgpack_object_array *words = &opts->command->via.array;
        for (uint32_t i = 0; i < words->size && rc == 0; i++)
            rc = cmdline_add_template (argv, call->tuple, words->ptr[i].via.str.ptr,
                                       words->ptr[i].via.str.size, false, err, sizeof err);
    }
    return rc? handler_fail (call, "exec: %s", err): 0;
}

//  The environment: the env option's variables, then the agent's own but
//  for those the option replaces.
static int
s_env (handler_call_t *call, const options_t *opts, cmdline_t *env)
{
    char err[HANDLER_ERROR_MAX - 32] = "";
    uint32_t extra = opts->env? opts->env->via.map.size: 0;
    for (uint32_t i = 0; i < extra; i++) {
        const msgpack_object *key = &opts->env->via.map.ptr[i].key;
        if (!s_is_str (key))
            return handler_fail (call, "exec: option env: names must be strings");
        if (cmdline_add_var (env, key->via.str.ptr, key->via.str.size,
                             &opts->env->via.map.ptr[i].val, err, sizeof err))
            return handler_fail (call, "exec: option env: %s", err);
    }
    for (char **var = environ; var && *var; var++) {
        const char *eq = strchr (*var, '=');
        size_t name_len = eq? (size_t) (eq - *var): strlen (*var);
        bool replaced = false;
        for (uint32_t i = 0; i < extra && !replaced; i++) {
            const msgpack_object *key = &opts->env->via.map.ptr[i].key;
            replaced = key->via.str.size == name_len && !memcmp (key->via.str.ptr, *var, name_len);
        }
        if (!replaced && cmdline_add (env, *var, strlen (*var), err, sizeof err))
            return handler_fail (call, "exec: %s", err);
    }
    return 0;
}

static const char *
s_signal_name (int sig, char *buffer, size_t size)
{
    const char *abbrev = sigabbrev_np (sig);
    if (abbrev)
        snprintf (buffer, size, "SIG%s", abbrev);
    else
        snprintf (buffer, size, "signal %d", sig);
    return buffer;
}

static bool
s_exit_ok (const options_t *opts, int code)
{
    if (code == 0)
        return true;
    const msgpack_object_array *codes = opts->ok_exit_codes? &opts->ok_exit_codes->via.array: NULL;
    for (uint32_t i = 0; codes && i < codes->size; i++)
        if (codes->ptr[i].type == MSGPACK_OBJECT_POSITIVE_INTEGER && codes->ptr[i].via.u64 == (uint64_t) code)
            return true;
    return false;
}

//  "; stderr: <its last line(s)>" for error texts, or "".
static void
s_tail (const spawn_stream_t *err, char *buffer, size_t size)
{
    size_t len = err->size;
    while (len && (err->data[len - 1] == '\n' || err->data[len - 1] == '\r'
                || err->data[len - 1] == ' '))
        len--;
    if (!len) {
        buffer[0] = 0;
        return;
    }
    size_t from = len > TAIL_MAX? len - TAIL_MAX: 0;
    int n = snprintf (buffer, size, "; stderr: %.*s", (int) (len - from), err->data + from);
    for (int i = 0; i < n && (size_t) i < size; i++)
        if (buffer[i] == '\n' || buffer[i] == '\r')
            buffer[i] = ' ';
}

//  What the run's outcome means for the attempt.  0, or -1 after handler_fail.
static int
s_judge (handler_call_t *call, const options_t *opts, const spawn_result_t *run, const char *what)
{
    char tail[TAIL_MAX + 32], name[32];
    s_tail (&run->err, tail, sizeof tail);
    if (run->cancelled)
        return handler_fail (call, "exec: %s cancelled", what);
    if (run->timed_out)
        return handler_fail (call, "exec: %s timed out after %lld ms%s", what,
                             (long long) (run->duration_us / 1000), tail);
    if (run->signal)
        return handler_fail (call, "exec: %s killed by %s%s", what,
                             s_signal_name (run->signal, name, sizeof name), tail);
    if (!s_exit_ok (opts, run->exit_code))
        return handler_fail (call, "exec: %s exited with code %d%s", what, run->exit_code, tail);
    return 0;
}

static void
s_pack_str (msgpack_packer *pk, const char *text, size_t len)
{
    msgpack_pack_str (pk, len);
    msgpack_pack_str_body (pk, text, len);
}

#define s_pack_lit(pk, lit) s_pack_str ((pk), (lit), sizeof (lit) - 1)

//  A stream's text, with a note when it was cut.
static void
s_pack_stream (msgpack_packer *pk, const spawn_stream_t *stream)
{
    char note[64] = "";
    int len = 0;
    if (stream->dropped)
        len = snprintf (note, sizeof note, "%s[truncated %zu bytes]",
                        stream->size && stream->data[stream->size - 1] != '\n'? "\n": "",
                        stream->dropped);
    msgpack_pack_str (pk, stream->size + (size_t) len);
    msgpack_pack_str_body (pk, stream->data? stream->data: "", stream->size);
    msgpack_pack_str_body (pk, note, (size_t) len);
}

static int
s_emit_result (handler_call_t *call, const spawn_result_t *run, const char *kept)
{
    msgpack_packer *pk = &call->packer;
    char name[32];
    msgpack_pack_map (pk, kept? 7: 6);
    s_pack_lit (pk, "exit");
    if (run->signal)
        msgpack_pack_nil (pk);
    else
        msgpack_pack_int (pk, run->exit_code);
    s_pack_lit (pk, "signal");
    if (run->signal) {
        s_signal_name (run->signal, name, sizeof name);
        s_pack_str (pk, name, strlen (name));
    }
    else
        msgpack_pack_nil (pk);
    s_pack_lit (pk, "duration_ms");
    msgpack_pack_double (pk, (double) run->duration_us / 1000.0);
    s_pack_lit (pk, "stdout");
    s_pack_stream (pk, &run->out);
    s_pack_lit (pk, "stderr");
    s_pack_stream (pk, &run->err);
    s_pack_lit (pk, "truncated");
    if (run->out.dropped || run->err.dropped)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
    if (kept) {
        s_pack_lit (pk, "workdir");
        s_pack_str (pk, kept, strlen (kept));
    }
    return handler_emit (call, true);
}

//  What the setup's prepare needs (runs in a fresh template directory).
typedef struct {
    handler_call_t *call;
    const options_t *opts;
    char **envp;
} setup_t;

static int
s_prepare (void *arg, const char *dir, char *err, size_t errlen)
{
    setup_t *setup = arg;
    const options_t *opts = setup->opts;
    if (opts->template_dir) {
        char from[PATH_MAX];
        snprintf (from, sizeof from, "%.*s", (int) opts->template_dir->via.str.size,
                  opts->template_dir->via.str.ptr);
        int rc = workdir_copy_tree (from, dir);
        if (rc) {
            snprintf (err, errlen, "exec: template %s: %s", from, strerror (-rc));
            return -1;
        }
    }
    if (!opts->setup)
        return 0;
    cmdline_t *argv = cmdline_new ();
    if (!argv) {
        snprintf (err, errlen, "exec: setup: out of memory");
        return -1;
    }
    int rc = 0;
    if (s_is_str (opts->setup))
        rc = cmdline_add (argv, "/bin/sh", 7, err, errlen)
          || cmdline_add (argv, "-c", 2, err, errlen)
          || cmdline_add (argv, opts->setup->via.str.ptr, opts->setup->via.str.size, err, errlen);
    else
        for (uint32_t i = 0; i < opts->setup->via.array.size && rc == 0; i++)
            rc = cmdline_add (argv, opts->setup->via.array.ptr[i].via.str.ptr,
                              opts->setup->via.array.ptr[i].via.str.size, err, errlen);
    char **args = rc? NULL: cmdline_vector (argv);
    if (!args) {
        cmdline_destroy (&argv);
        if (!rc)
            snprintf (err, errlen, "exec: setup: out of memory");
        return -1;
    }
    spawn_opts_t run_opts = {
        .argv = args, .envp = setup->envp, .cwd = dir,
        .timeout_at = opts->setup_timeout_ms? zclock_mono () + opts->setup_timeout_ms: 0,
        .kill_grace_ms = opts->kill_grace_ms, .cancel_fd = setup->call->cancel_fd,
        .max_output = opts->max_output, .label = "[exec setup]"
    };
    spawn_result_t run;
    rc = spawn_run (&run_opts, &run);
    if (rc) {
        snprintf (err, errlen, "exec: setup %s: %s", args[0], strerror (-rc));
        cmdline_destroy (&argv);
        return -1;
    }
    log_info ("exec setup %s ran in %s: exit %d, %.1f ms", args[0], dir,
              run.exit_code, (double) run.duration_us / 1000.0);
    cmdline_destroy (&argv);
    handler_call_t *call = setup->call;
    rc = s_judge (call, opts, &run, "setup");
    if (rc)
        snprintf (err, errlen, "%s", call->error);
    spawn_result_free (&run);
    return rc;
}

//  The template a task directory is cloned from ("" for an empty one).
static int
s_template (workdir_t *workdirs, handler_call_t *call, const options_t *opts, char **envp,
            char *path, size_t size)
{
    path[0] = 0;
    if (!opts->setup) {
        if (opts->template_dir)
            snprintf (path, size, "%.*s", (int) opts->template_dir->via.str.size,
                      opts->template_dir->via.str.ptr);
        return 0;
    }
    //  One prepared template per distinct setup (with its inputs).
    msgpack_sbuffer key;
    msgpack_sbuffer_init (&key);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &key, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 3);
    msgpack_pack_object (&pk, *opts->setup);
    opts->template_dir? msgpack_pack_object (&pk, *opts->template_dir): msgpack_pack_nil (&pk);
    opts->env? msgpack_pack_object (&pk, *opts->env): msgpack_pack_nil (&pk);
    setup_t setup = { .call = call, .opts = opts, .envp = envp };
    char err[HANDLER_ERROR_MAX];
    int rc = workdir_template (workdirs, key.data, key.size, s_prepare, &setup, path, size,
                               err, sizeof err);
    msgpack_sbuffer_destroy (&key);
    return rc? handler_fail (call, "%s", err): 0;
}

//  The tuple as stdin bytes; *owned is what to free.
static int
s_input (handler_call_t *call, const options_t *opts, const void **input, size_t *size, char **owned)
{
    *owned = NULL;
    *input = NULL;
    *size = 0;
    if (opts->input == INPUT_NONE)
        return 0;
    if (opts->input == INPUT_MSGPACK) {
        *input = call->tuple_data;
        *size = call->tuple_size;
        return 0;
    }
    FILE *stream = open_memstream (owned, size);
    if (!stream || json_write (stream, call->tuple) || fputc ('\n', stream) == EOF) {
        if (stream)
            fclose (stream);
        free (*owned);
        *owned = NULL;
        return handler_fail (call, "exec: cannot write the tuple as JSON");
    }
    fclose (stream);
    *input = *owned;
    return 0;
}

//  Run the command once the argv, env and input are ready.
static int
s_run (workdir_t *workdirs, handler_call_t *call, const options_t *opts, char **argv,
       char **envp, const void *input, size_t input_size, const char *label)
{
    char template_dir[PATH_MAX], dir[PATH_MAX] = "";
    if (opts->workdir) {
        if (s_template (workdirs, call, opts, envp, template_dir, sizeof template_dir))
            return -1;
        int rc = workdir_task (workdirs, template_dir[0]? template_dir: NULL, dir, sizeof dir);
        if (rc)
            return handler_fail (call, "exec: cannot make a work directory from %s: %s",
                                 template_dir[0]? template_dir: "nothing", strerror (-rc));
    }
    int64_t now = zclock_mono ();
    int64_t timeout_at = opts->timeout_ms? now + opts->timeout_ms: 0;
    if (call->deadline && (!timeout_at || call->deadline < timeout_at))
        timeout_at = call->deadline;
    spawn_opts_t run_opts = {
        .argv = argv, .envp = envp, .cwd = dir[0]? dir: NULL,
        .input = input, .input_size = input_size,
        .timeout_at = timeout_at, .kill_grace_ms = opts->kill_grace_ms,
        .cancel_fd = call->cancel_fd, .max_output = opts->max_output, .label = label
    };
    spawn_result_t run;
    int rc = spawn_run (&run_opts, &run);
    if (rc)
        rc = handler_fail (call, "exec: cannot run %s: %s", argv[0], strerror (-rc));
    else
        rc = s_judge (call, opts, &run, argv[0]);
    if (rc == 0)
        rc = s_emit_result (call, &run, opts->keep_workdir? dir: NULL);
    spawn_result_free (&run);
    if (dir[0] && opts->keep_workdir)
        log_info ("%s kept work directory %s", label, dir);
    else
    if (dir[0])
        tmpdir_remove (dir);
    return rc;
}

//  "[<tuple as JSON, cut>]" to name the task in log lines (the call does
//  not carry the job name or tuple id).
static void
s_label (handler_call_t *call, const void *json, size_t json_size, char *label)
{
    char *owned = NULL;
    size_t size = 0;
    if (!json) {
        FILE *stream = open_memstream (&owned, &size);
        if (stream) {
            json_write (stream, call->tuple);
            fclose (stream);
        }
        json = owned;
        json_size = size;
    }
    while (json_size && ((const char *) json)[json_size - 1] == '\n')
        json_size--;
    int cut = json_size > LABEL_MAX - 8? LABEL_MAX - 8: (int) json_size;
    snprintf (label, LABEL_MAX, "[exec %.*s%s]", cut, json? (const char *) json: "",
              (size_t) cut < json_size? "...": "");
    free (owned);
}

int
exec_handler (void *self, handler_call_t *call)
{
    options_t opts;
    if (s_options (call, &opts))
        return -1;
    cmdline_t *argv = cmdline_new (), *env = cmdline_new ();
    const void *input = NULL;
    size_t input_size = 0;
    char *owned = NULL;
    char label[LABEL_MAX];
    int rc = argv && env? 0: handler_fail (call, "exec: out of memory");
    if (rc == 0)
        rc = s_argv (call, &opts, argv);
    if (rc == 0)
        rc = s_env (call, &opts, env);
    if (rc == 0)
        rc = s_input (call, &opts, &input, &input_size, &owned);
    if (rc == 0) {
        char **args = cmdline_vector (argv);
        char **envp = cmdline_vector (env);
        s_label (call, owned, input_size, label);
        rc = args && envp? s_run (self, call, &opts, args, envp, input, input_size, label)
                         : handler_fail (call, "exec: out of memory");
    }
    free (owned);
    cmdline_destroy (&argv);
    cmdline_destroy (&env);
    return rc;
}
