//  test_producer_lib.c -- libdrover as a user gets it: `cmake --install`
//  into a scratch prefix, a program (test_producer_lib/client.c) built with
//  nothing but `pkg-config --cflags --libs drover` from there, run against
//  a real broker; and the public API's own refusals, in-process.
#include <drover/drover.h>

#include "support.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *s_dir;
static pid_t s_broker;

static void
s_cleanup (void)
{
    if (s_broker > 0)
        cr_expect_eq (support_stop (s_broker, SIGTERM, 10000), 0, "broker exit");
    support_rmdir (&s_dir);
}

//  Run a shell command line, its output appended to DIR/steps.log.  Its
//  exit status.
static int
s_sh (const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start (ap, fmt);
    int len = vsnprintf (cmd, sizeof cmd, fmt, ap);
    va_end (ap);
    cr_assert (len > 0 && (size_t) len < sizeof cmd);
    char full[4608];
    snprintf (full, sizeof full, "(%s) >>%s/steps.log 2>&1", cmd, s_dir);
    int status = system (full);
    return WIFEXITED (status)? WEXITSTATUS (status): -1;
}

Test (libdrover, installed_library_submits_to_a_broker,
      .timeout = 300, .fini = s_cleanup) {
    s_dir = support_tmpdir ();
    cr_assert (s_dir);
    cr_assert_eq (s_sh ("'%s' --install '%s' --prefix '%s/prefix'", DROVER_CMAKE,
                        DROVER_BUILD_DIR, s_dir), 0, "cmake --install; see %s/steps.log", s_dir);
    //  Only the installed prefix: no include or library path into the tree.
    cr_assert_eq (s_sh ("export PKG_CONFIG_PATH='%s/prefix/lib/pkgconfig'; "
                        "'%s' %s -Wall -Wextra -Werror -o '%s/client' '%s' "
                        "$(pkg-config --cflags --libs drover)", s_dir, DROVER_CC,
                        DROVER_CLIENT_CFLAGS, s_dir,
                        DROVER_SOURCE_DIR "/tests/test_producer_lib/client.c"), 0,
                  "building the client with pkg-config; see %s/steps.log", s_dir);
    cr_assert_eq (s_sh ("readelf -d '%s/client' | grep -q 'NEEDED.*libdrover.so.0.2'", s_dir), 0,
                  "the client links the shared libdrover");

    char frontend[64], log[512], data[512];
    snprintf (frontend, sizeof frontend, "%s", support_endpoint ());
    snprintf (log, sizeof log, "%s/broker.log", s_dir);
    snprintf (data, sizeof data, "%s/data", s_dir);
    s_broker = support_spawn (log, "broker", "--frontend", frontend, "--intake",
                              support_endpoint (), "--backend", support_endpoint (),
                              "--data-dir", data, NULL);
    cr_assert_gt (s_broker, 0);
    cr_assert_eq (s_sh ("LD_LIBRARY_PATH='%s/prefix/lib' '%s/client' '%s' lib-1 1001 "
                        ">'%s/client.out'", s_dir, s_dir, frontend, s_dir), 0,
                  "client failed; see %s/steps.log", s_dir);
    char path[512];
    snprintf (path, sizeof path, "%s/client.out", s_dir);
    char *out = support_slurp (path);
    cr_assert (out);
    cr_expect_str_eq (out, "libdrover " DROVER_VERSION ": accepted 1001 (ids 1-1001); "
                      "job closed submitted 1001 queued 1000 waiting 1 skipped 0\n");
    free (out);
    //  And the broker says so to someone else.
    cr_assert_eq (s_sh ("'%s' status --broker '%s' --json lib-1 >'%s/status.out'",
                        DROVER_BIN, frontend, s_dir), 0);
    snprintf (path, sizeof path, "%s/status.out", s_dir);
    out = support_slurp (path);
    cr_assert (out);
    cr_expect (strstr (out, "\"state\":\"closed\",\"submitted\":1001,\"queued\":1000")
               && strstr (out, "\"waiting\":1,"),
               "status: %s", out);
    free (out);
}

//  Refusals before anything is sent: no broker needed.
Test (libdrover, refuses_bad_tuples_and_arguments) {
    cr_assert_null (drover_producer_new ("not an endpoint"));
    cr_assert_null (drover_producer_new_curve ("tcp://127.0.0.1:9", "short", "short"));
    drover_producer_t *producer = drover_producer_new ("tcp://127.0.0.1:9");
    cr_assert (producer);
    drover_producer_set_job (producer, "j");
    cr_expect_eq (drover_producer_set_window (producer, 0), -1);
    cr_expect_eq (drover_producer_set_window (producer, DROVER_WINDOW_MAX + 1), -1);
    cr_expect_eq (drover_producer_set_batch (producer, 0, 1), -1);
    cr_expect_eq (drover_producer_set_reply_timeout (producer, 0), -1);
    char err[256] = "";
    cr_expect_eq (drover_producer_set_options (producer, "[1]", err, sizeof err), -1);
    cr_expect (err[0], "a reason for options that are not an object");
    cr_expect_str_empty (drover_producer_error (producer));

    cr_expect_eq (drover_producer_add_json (producer, "[1,"), -1);
    cr_expect (strstr (drover_producer_error (producer), "tuple 1 is not JSON"),
               "error: %s", drover_producer_error (producer));
    unsigned char fine[] = { 0x91, 0x01 };
    cr_expect_eq (drover_producer_add (producer, fine, sizeof fine), -1, "a failure is final");
    cr_expect_eq (drover_producer_flush (producer), -1);
    cr_expect_eq (drover_producer_refused (producer), 0, "not the broker's refusal");
    drover_producer_destroy (&producer);
    cr_expect_null (producer);

    producer = drover_producer_new ("tcp://127.0.0.1:9");
    drover_producer_set_job (producer, "j");
    unsigned char cut[] = { 0x92, 0xa1 };
    cr_expect_eq (drover_producer_add (producer, cut, sizeof cut), -1);
    cr_expect (strstr (drover_producer_error (producer), "tuple 1 is not exactly one"),
               "error: %s", drover_producer_error (producer));
    drover_producer_destroy (&producer);
    drover_producer_destroy (&producer);    //  NULL: nothing to do
}
