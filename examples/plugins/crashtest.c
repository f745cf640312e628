//  crashtest.c -- a plugin for drover's own tests, not an example to copy:
//  a tuple holding the string "crash" makes it segfault (crash isolation),
//  "fail" makes handle fail, ["many", N] emits N outputs none marked final,
//  ["final-twice"] emits after its final output, ["inits"] emits how many
//  times init ran in this process; ["wait-cancel", MS] waits up to MS ms
//  for the agent to cancel the tuple (drover_plugin_cancelled), failing
//  "saw the cancel flag" when it does, emitting "not cancelled" when not;
//  anything else is echoed back.  Config
//  {"fail_init": true} makes init fail.  Built with CRASHTEST_ABI set to
//  another number it becomes drover-badabi.so, for the ABI check.
#include <drover/plugin.h>

#include <msgpack.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#ifndef CRASHTEST_ABI
#define CRASHTEST_ABI DROVER_PLUGIN_ABI
#endif

static atomic_int s_inits;

//  Set by an agent that can tell a tuple to stop (include/drover/plugin.h).
drover_cancelled_fn drover_plugin_cancelled;

//  Poll the cancel flag every millisecond for up to ms.
static int
s_wait_cancel (uint64_t ms, drover_emit_fn emit, void *emit_ctx, char *err, size_t errlen)
{
    for (uint64_t waited = 0; waited < ms; waited++) {
        if (drover_plugin_cancelled && drover_plugin_cancelled (emit_ctx)) {
            snprintf (err, errlen, "saw the cancel flag after %llu ms", (unsigned long long) waited);
            return -1;
        }
        struct timespec one_ms = { 0, 1000000 };
        nanosleep (&one_ms, NULL);
    }
    static const uint8_t text[] = "\xad" "not cancelled";
    return emit (emit_ctx, text, sizeof text - 1, 1);
}

static int
s_init (const uint8_t *config, size_t size, void **state, char *err, size_t errlen)
{
    //  msgpack {"fail_init": true} is 0x81 0xa9 "fail_init" 0xc3.
    static const uint8_t fail[] = "\x81\xa9" "fail_init" "\xc3";
    if (size == sizeof fail - 1 && !memcmp (config, fail, size)) {
        snprintf (err, errlen, "asked to fail in init");
        return -1;
    }
    atomic_fetch_add (&s_inits, 1);
    *state = NULL;
    return 0;
}

static bool
s_is (const msgpack_object *obj, const char *text)
{
    return obj->type == MSGPACK_OBJECT_STR && obj->via.str.size == strlen (text)
        && !memcmp (obj->via.str.ptr, text, obj->via.str.size);
}

//  Die of SIGSEGV as a faulting plugin would.  Not a null store: under
//  the sanitizers that is reported and turned into an exit, not a signal.
static void
s_segfault (void)
{
    sigset_t set;
    sigemptyset (&set);
    sigaddset (&set, SIGSEGV);
    signal (SIGSEGV, SIG_DFL);
    pthread_sigmask (SIG_UNBLOCK, &set, NULL);
    raise (SIGSEGV);
}

static int
s_emit_int (drover_emit_fn emit, void *emit_ctx, int64_t value, int final)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_int64 (&pk, value);
    int rc = emit (emit_ctx, (const uint8_t *) buf.data, buf.size, final);
    msgpack_sbuffer_destroy (&buf);
    return rc;
}

static int
s_handle (void *state, const uint8_t *tuple, size_t size,
          drover_emit_fn emit, void *emit_ctx, char *err, size_t errlen)
{
    (void) state;
    msgpack_unpacked msg;
    msgpack_unpacked_init (&msg);
    if (msgpack_unpack_next (&msg, (const char *) tuple, size, NULL) != MSGPACK_UNPACK_SUCCESS) {
        msgpack_unpacked_destroy (&msg);
        snprintf (err, errlen, "tuple is not msgpack");
        return -1;
    }
    const msgpack_object *first = &msg.data;
    uint32_t count = 1;
    if (msg.data.type == MSGPACK_OBJECT_ARRAY) {
        first = msg.data.via.array.ptr;
        count = msg.data.via.array.size;
    }
    int rc = 0;
    for (uint32_t i = 0; i < count; i++)
        if (s_is (&first[i], "crash"))
            s_segfault ();
    if (count && s_is (first, "fail")) {
        snprintf (err, errlen, "tuple asked to fail");
        rc = -1;
    }
    else
    if (count == 2 && s_is (first, "many") && first[1].type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        for (uint64_t n = 0; n < first[1].via.u64 && rc == 0; n++)
            rc = s_emit_int (emit, emit_ctx, (int64_t) n, 0);
    }
    else
    if (count && s_is (first, "final-twice")) {
        s_emit_int (emit, emit_ctx, 1, 1);
        if (s_emit_int (emit, emit_ctx, 2, 1) != 0) {
            snprintf (err, errlen, "emit after final refused");
            rc = -1;
        }
    }
    else
    if (count == 2 && s_is (first, "wait-cancel")
    &&  first[1].type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        rc = s_wait_cancel (first[1].via.u64, emit, emit_ctx, err, errlen);
    else
    if (count && s_is (first, "inits"))
        rc = s_emit_int (emit, emit_ctx, atomic_load (&s_inits), 1);
    else
        rc = emit (emit_ctx, tuple, size, 1);
    if (rc && !err[0])
        snprintf (err, errlen, "emit refused");
    msgpack_unpacked_destroy (&msg);
    return rc;
}

const drover_plugin_t drover_plugin = {
    .abi = CRASHTEST_ABI,
    .name = "crashtest",
    .init = s_init,
    .handle = s_handle,
};
