//  support_exec.h -- what the test_exec*.c files share: the exec handler
//  called directly, as a handler thread would call it, with a scratch
//  directory as DROVER_WORK_DIR and the workdirs a worker process keeps.
#ifndef DROVER_TEST_SUPPORT_EXEC_H
#define DROVER_TEST_SUPPORT_EXEC_H

#include "agent/handler.h"
#include "agent/workdir.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  One exec run: its outcome, and the result map when it succeeded.
typedef struct {
    int rc;
    char error[HANDLER_ERROR_MAX];
    size_t outputs;
    bool final;
    msgpack_sbuffer output;
    msgpack_zone zone;
    msgpack_object result;
    int64_t elapsed_ms;
} exec_run_t;

//  The test's scratch dir (DROVER_WORK_DIR), and exec's state, as a worker
//  process keeps it; set by exec_test_setup, the suite's .init.
extern char *exec_test_scratch;
extern workdir_t *exec_test_workdirs;

void  exec_test_setup (void);
void  exec_test_teardown (void);

//  buf (initialised here) holds json as msgpack.
void  exec_test_pack_json (msgpack_sbuffer *buf, const char *json);
//  Run exec on a tuple (msgpack bytes) with options (JSON), a deadline
//  (ms from now, 0: none) and a cancel eventfd (or -1).  Free with
//  exec_test_done.
exec_run_t *exec_test_raw (const void *tuple, size_t tuple_size, const char *options_json,
                           int64_t deadline_ms, int cancel_fd);
//  Run exec on a tuple (JSON) with options (JSON).
exec_run_t *exec_test_run (const char *tuple_json, const char *options_json);
void  exec_test_done (exec_run_t **run_p);
//  A string field of the result, NUL-terminated in a static buffer (two
//  in turn, so two may be compared).
const char *exec_test_str (exec_run_t *run, const char *key);
int64_t exec_test_int (exec_run_t *run, const char *key);

#define cr_assert_ok(run) cr_assert_eq ((run)->rc, 0, "exec failed: %s", (run)->error)

#endif
