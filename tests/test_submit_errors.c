//  test_submit_errors.c -- black-box tests of how `drover submit` and
//  `drover status` fail: a job that does not exist, no broker (within the
//  reply timeout), usage errors (exit 2) and --help.
#include "support.h"
#include "support_producer.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Test (producer, status_unknown_job,
     .timeout = 60, .init = site_with_broker, .fini = site_cleanup) {
    site_t *site = &producer_site;
    run_t run = site_run (site, NULL, (char *[]) { "status", "--broker", site->frontend,
                                                 "no-such-job", NULL });
    cr_expect (run_exited_with (&run, 1), "status %d", run.status);
    char expected[512];
    snprintf (expected, sizeof expected, "drover status: no job 'no-such-job' at the"
              " broker at %s\n", site->frontend);
    cr_expect_str_eq (run.err, expected);
    cr_expect_str_eq (run.out, "");
    run_free (&run);

    //  Adding to a job that does not exist, without --handler.
    char *path = site_write_file (site, "one.jsonl", "[1]\n");
    run = site_run (site, NULL, (char *[]) { "submit", "--broker", site->frontend,
                                           "--job", "nothing-here", path, NULL });
    cr_expect (run_exited_with (&run, 1), "status %d", run.status);
    cr_expect (strstr (run.err, "UNKNOWN_JOB")
               && strstr (run.err, "job nothing-here does not exist; a new job needs --handler"),
               "stderr: %s", run.err);
    run_free (&run);
    free (path);
}

Test (producer, no_broker_fails_within_timeout,
     .timeout = 60, .init = site_with_dir, .fini = site_cleanup) {
    //  A fresh free port where nothing listens.
    site_t *site = &producer_site;
    const char *nowhere = support_endpoint ();
    char *path = site_write_file (site, "one.jsonl", "[1]\n");
    run_t run = site_run (site, NULL, (char *[]) { "submit", "--broker", (char *) nowhere,
        "--job", "j", "--handler", "echo", "--reply-timeout", "0.5", path, NULL });
    cr_expect (run_exited_with (&run, 1), "status %d", run.status);
    char expected[512];
    snprintf (expected, sizeof expected, "no answer from broker at %s after 0.5 s", nowhere);
    cr_expect (strstr (run.err, expected), "stderr: %s", run.err);
    cr_expect_lt (run.ms, 5000, "gave up after %lld ms", (long long) run.ms);
    run_free (&run);

    run = site_run (site, NULL, (char *[]) { "status", "--broker", (char *) nowhere,
        "--reply-timeout", "0.3", "j", NULL });
    cr_expect (run_exited_with (&run, 1), "status %d", run.status);
    snprintf (expected, sizeof expected, "drover status: no answer from broker at %s"
              " after 0.3 s\n", nowhere);
    cr_expect_str_eq (run.err, expected);
    cr_expect_lt (run.ms, 5000);
    run_free (&run);
    free (path);
}

Test (producer, usage_errors, .init = site_with_dir, .fini = site_cleanup) {
    site_t *site = &producer_site;
    run_t run = site_run (site, NULL, (char *[]) { "submit", "--help", NULL });
    cr_expect (run_exited_with (&run, 0));
    cr_expect (strstr (run.out, "usage: drover submit") && strstr (run.out, "--reply-timeout"));
    run_free (&run);
    run = site_run (site, NULL, (char *[]) { "status", "--help", NULL });
    cr_expect (run_exited_with (&run, 0));
    cr_expect (strstr (run.out, "usage: drover status"));
    run_free (&run);
    struct { char *argv[8]; const char *says; } cases[] = {
        { { "submit", NULL }, "a new job needs --handler" },
        { { "submit", "--handler", "echo", "--batch-size", "0", NULL }, "--batch-size" },
        { { "submit", "--handler", "echo", "--format", "xml", NULL }, "--format" },
        { { "submit", "--handler", "echo", "--options", "[1]", NULL }, "must be a JSON object" },
        { { "submit", "--handler", "echo", "--options", "{\"a\":", NULL }, "line 1, column 6" },
        { { "submit", "--handler", "echo", "--bogus", NULL }, "unknown option" },
        { { "submit", "--handler", "echo", "a", "b", NULL }, "unexpected argument" },
        { { "status", NULL }, "which job?" },
        { { "status", "--reply-timeout", "x", "j", NULL }, "--reply-timeout" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run = site_run (site, NULL, cases[i].argv);
        cr_expect (run_exited_with (&run, 2), "case %zu: status %d", i, run.status);
        cr_expect (strstr (run.err, cases[i].says) && strstr (run.err, "try 'drover"),
                   "case %zu: stderr: %s", i, run.err);
        run_free (&run);
    }
    //  An input file that is not there is a runtime failure, not usage.
    run = site_run (site, NULL, (char *[]) { "submit", "--handler", "echo",
                                           "/nonexistent/tuples.jsonl", NULL });
    cr_expect (run_exited_with (&run, 1));
    cr_expect (strstr (run.err, "cannot open /nonexistent/tuples.jsonl"), "%s", run.err);
    run_free (&run);
}
