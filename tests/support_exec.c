//  support_exec.c -- the exec handler called directly, as a handler
//  thread would call it, for the test_exec*.c files (support_exec.h).
#include "support_exec.h"
#include "support.h"
#include "agent/exec.h"
#include "common/json_read.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *exec_test_scratch;
workdir_t *exec_test_workdirs;

void
exec_test_setup (void)
{
    exec_test_scratch = support_tmpdir ();
    cr_assert (exec_test_scratch);
    setenv ("DROVER_WORK_DIR", exec_test_scratch, 1);
    exec_test_workdirs = workdir_new ();
    cr_assert (exec_test_workdirs);
}

void
exec_test_teardown (void)
{
    workdir_destroy (&exec_test_workdirs);
    support_rmdir (&exec_test_scratch);
}

static int
s_on_emit (void *arg, const void *data, size_t size, bool final)
{
    exec_run_t *run = arg;
    run->final = final;
    (void) data, (void) size;
    return 0;
}

void
exec_test_pack_json (msgpack_sbuffer *buf, const char *json)
{
    char err[128];
    msgpack_sbuffer_init (buf);
    cr_assert_eq (json_to_msgpack (json, strlen (json), buf, err, sizeof err), 0,
                  "bad test JSON %s: %s", json, err);
}

//  Run exec on a tuple (JSON) with options (JSON).  Free with exec_test_done.
exec_run_t *
exec_test_raw (const void *tuple, size_t tuple_size, const char *options_json,
            int64_t deadline_ms, int cancel_fd)
{
    exec_run_t *run = calloc (1, sizeof *run);
    msgpack_sbuffer_init (&run->output);
    msgpack_zone_init (&run->zone, 4096);
    msgpack_sbuffer options;
    exec_test_pack_json (&options, options_json);
    handler_call_t call;
    handler_call_init (&call, &run->output);
    call.emit = s_on_emit;
    call.emit_arg = run;
    call.cancel_fd = cancel_fd;
    msgpack_object tuple_obj, options_obj;
    size_t offset = 0;
    cr_assert_eq (msgpack_unpack (tuple, tuple_size, &offset, &run->zone, &tuple_obj),
                  MSGPACK_UNPACK_SUCCESS);
    offset = 0;
    cr_assert_eq (msgpack_unpack (options.data, options.size, &offset, &run->zone, &options_obj),
                  MSGPACK_UNPACK_SUCCESS);
    call.tuple = &tuple_obj;
    call.tuple_data = tuple;
    call.tuple_size = tuple_size;
    call.options = &options_obj;
    int64_t start = zclock_mono ();
    if (deadline_ms)
        call.deadline = start + deadline_ms;
    run->rc = exec_handler (exec_test_workdirs, &call);
    run->elapsed_ms = zclock_mono () - start;
    run->outputs = call.outputs;
    snprintf (run->error, sizeof run->error, "%s", call.error);
    if (run->rc == 0) {
        offset = 0;
        cr_assert_eq (msgpack_unpack (run->output.data, call.mark, &offset, &run->zone, &run->result),
                      MSGPACK_UNPACK_SUCCESS);
        cr_assert_eq (run->result.type, MSGPACK_OBJECT_MAP);
    }
    msgpack_sbuffer_destroy (&options);
    return run;
}

exec_run_t *
exec_test_run (const char *tuple_json, const char *options_json)
{
    msgpack_sbuffer tuple;
    exec_test_pack_json (&tuple, tuple_json);
    exec_run_t *run = exec_test_raw (tuple.data, tuple.size, options_json, 0, -1);
    msgpack_sbuffer_destroy (&tuple);
    return run;
}

void
exec_test_done (exec_run_t **run_p)
{
    exec_run_t *run = *run_p;
    msgpack_sbuffer_destroy (&run->output);
    msgpack_zone_destroy (&run->zone);
    free (run);
    *run_p = NULL;
}

//  A string field of the result, NUL-terminated in a static buffer.
const char *
exec_test_str (exec_run_t *run, const char *key)
{
    static char text[2][65536];
    static int which;
    const msgpack_object *value = handler_option (&run->result, key);
    cr_assert (value && value->type == MSGPACK_OBJECT_STR, "result has no string %s", key);
    char *into = text[which++ % 2];
    cr_assert_lt (value->via.str.size, sizeof text[0]);
    memcpy (into, value->via.str.ptr, value->via.str.size);
    into[value->via.str.size] = 0;
    return into;
}

int64_t
exec_test_int (exec_run_t *run, const char *key)
{
    const msgpack_object *value = handler_option (&run->result, key);
    cr_assert (value && (value->type == MSGPACK_OBJECT_POSITIVE_INTEGER
                      || value->type == MSGPACK_OBJECT_NEGATIVE_INTEGER), "no integer %s", key);
    return value->via.i64;
}
