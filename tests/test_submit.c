//  test_submit.c -- black-box tests of `drover submit` and `drover status`
//  against a real `drover broker` (and, for --wait, a real agent and
//  sink): jobs made and added to, JSON Lines and msgpack input, bad
//  lines, --wait until complete.
#include "producer/producer.h"
#include "proto/msg.h"
#include "support.h"
#include "support_producer.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

Test (producer, submit_creates_job,
     .timeout = 60, .init = site_with_broker, .fini = site_cleanup) {
    site_t *site = &producer_site;
    char *tuples = site_tuples_file (site, "tuples.jsonl", 2500);
    run_t run = site_run (site, NULL, (char *[]) { "submit", "--broker", site->frontend,
        "--job", "scan-1", "--handler", "echo", "--sink", site->sink,
        "--batch-size", "300", tuples, NULL });
    cr_assert (run_exited_with (&run, 0), "status %d, stderr:\n%s", run.status, run.err);
    cr_expect_str_eq (run.out, "job scan-1: 2500 tuples accepted (ids 1-2500)\n");
    run_free (&run);

    producer_status_t status;
    cr_assert_eq (site_status (site, "scan-1", &status), 0);
    cr_expect_str_eq (status.state, "closed");
    cr_expect_eq (status.submitted, 2500);
    cr_expect_eq (status.queued, 2500, "no agent runs, so all are queued");
    cr_expect_eq (status.running + status.done + status.failed, 0);

    run = site_run (site, NULL, (char *[]) { "status", "--broker", site->frontend,
                                           "--json", "scan-1", NULL });
    cr_assert (run_exited_with (&run, 0), "status %d, stderr:\n%s", run.status, run.err);
    cr_expect_str_eq (run.out, "{\"job\":\"scan-1\",\"state\":\"closed\",\"submitted\":2500,"
                      "\"queued\":2500,\"running\":0,\"done\":0,\"failed\":0,\"waiting\":0,"
                      "\"skipped\":0,\"delayed\":0,\"priority\":5,\"max_attempts\":3,"
                      "\"timeout_ms\":30000}\n");
    run_free (&run);
    run = site_run (site, NULL, (char *[]) { "status", "--broker", site->frontend, "scan-1", NULL });
    cr_assert (run_exited_with (&run, 0));
    cr_expect (strstr (run.out, "job scan-1: closed") && strstr (run.out, "submitted  2500")
               && strstr (run.out, "queued     2500"), "table:\n%s", run.out);
    run_free (&run);
    free (tuples);
}

Test (producer, stdin_generated_name_and_no_close,
     .timeout = 60, .init = site_with_broker, .fini = site_cleanup) {
    site_t *site = &producer_site;
    char *tuples = site_tuples_file (site, "tuples.jsonl", 10);
    run_t run = site_run (site, tuples, (char *[]) { "submit", "--broker", site->frontend,
        "--handler", "echo", "--no-close", "-", NULL });
    cr_assert (run_exited_with (&run, 0), "status %d, stderr:\n%s", run.status, run.err);
    char job[64] = "";
    cr_assert_eq (sscanf (run.out, "job %63[^:]:", job), 1, "stdout: %s", run.out);
    cr_expect (!strncmp (job, "job-", 4) && strlen (job) == strlen ("job-1700000000-abcd"),
               "generated name %s", job);
    cr_expect (strstr (run.out, ": 10 tuples accepted (ids 1-10); the job stays open\n"),
               "stdout: %s", run.out);
    run_free (&run);
    producer_status_t status;
    cr_assert_eq (site_status (site, job, &status), 0);
    cr_expect_str_eq (status.state, "open");

    //  Add to it without --handler (no sink either), then it closes.
    run = site_run (site, tuples, (char *[]) { "submit", "--broker", site->frontend,
        "--job", job, NULL });
    cr_assert (run_exited_with (&run, 0), "status %d, stderr:\n%s", run.status, run.err);
    cr_expect (strstr (run.out, ": 10 tuples accepted (ids 11-20)\n"), "stdout: %s", run.out);
    run_free (&run);
    cr_assert_eq (site_status (site, job, &status), 0);
    cr_expect_str_eq (status.state, "closed");
    cr_expect_eq (status.submitted, 20);

    //  A closed job takes no more: a clear refusal, exit 1.
    run = site_run (site, tuples, (char *[]) { "submit", "--broker", site->frontend,
        "--job", job, NULL });
    cr_expect (run_exited_with (&run, 1), "status %d", run.status);
    cr_expect (strstr (run.err, "JOB_CLOSED"), "stderr: %s", run.err);
    run_free (&run);
    free (tuples);
}

Test (producer, bad_json_line, .timeout = 60, .init = site_with_broker, .fini = site_cleanup) {
    site_t *site = &producer_site;
    char *path = site_write_file (site, "bad.jsonl",
        "[\"a\", 1]\n\n[\"b\", 2]\n[\"c\", 3]\n[\"d\" 4]\n[\"e\", 5]\n");
    run_t run = site_run (site, NULL, (char *[]) { "submit", "--broker", site->frontend,
        "--job", "bad", "--handler", "echo", path, NULL });
    cr_expect (run_exited_with (&run, 1), "status %d", run.status);
    cr_expect (strstr (run.err, "bad.jsonl line 5, column 6: expected ',' or ']', got '4'"),
               "stderr: %s", run.err);
    cr_expect (strstr (run.err, "job bad: 3 tuples accepted (ids 1-3); the job is left open"),
               "stderr: %s", run.err);
    cr_expect_str_eq (run.out, "", "nothing on stdout for a failed submit");
    run_free (&run);
    producer_status_t status;
    cr_assert_eq (site_status (site, "bad", &status), 0);
    cr_expect_eq (status.submitted, 3, "the lines before the bad one only");
    cr_expect_str_eq (status.state, "open");

    //  A bad first line: nothing is sent, no job is created.
    char *first = site_write_file (site, "first.jsonl", "[1, 2,]\n[3]\n");
    run = site_run (site, NULL, (char *[]) { "submit", "--broker", site->frontend,
        "--job", "bad-first", "--handler", "echo", first, NULL });
    cr_expect (run_exited_with (&run, 1), "status %d", run.status);
    cr_expect (strstr (run.err, "first.jsonl line 1, column 7: expected a value, got ']'"),
               "stderr: %s", run.err);
    cr_expect (strstr (run.err, "job bad-first: 0 tuples accepted"), "stderr: %s", run.err);
    run_free (&run);
    cr_expect_eq (site_status (site, "bad-first", &status), -DRV_E_UNKNOWN_JOB);
    free (path);
    free (first);
}

Test (producer, msgpack_stream, .timeout = 60, .init = site_with_broker, .fini = site_cleanup) {
    site_t *site = &producer_site;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    for (int i = 0; i < 5000; i++) {
        msgpack_pack_array (&pk, 2);
        msgpack_pack_str_with_body (&pk, "x", 1);
        //  A few big values, so some cross the reader's 64 KiB chunks.
        if (i % 1000 == 7) {
            char blob[100000];
            memset (blob, 'z', sizeof blob);
            msgpack_pack_bin_with_body (&pk, blob, sizeof blob);
        }
        else
            msgpack_pack_int (&pk, i);
    }
    char path[512];
    snprintf (path, sizeof path, "%s/tuples.msgpack", site->dir);
    FILE *file = fopen (path, "w");
    fwrite (buf.data, 1, buf.size, file);
    fclose (file);
    run_t run = site_run (site, NULL, (char *[]) { "submit", "--broker", site->frontend,
        "--job", "mp", "--handler", "echo", "--format", "msgpack", path, NULL });
    cr_assert (run_exited_with (&run, 0), "status %d, stderr:\n%s", run.status, run.err);
    cr_expect_str_eq (run.out, "job mp: 5000 tuples accepted (ids 1-5000)\n");
    run_free (&run);

    //  Cut short: the last value is incomplete.
    file = fopen (path, "w");
    fwrite (buf.data, 1, 22, file);                 //  5 values of 4 bytes, and half
    fclose (file);
    run = site_run (site, NULL, (char *[]) { "submit", "--broker", site->frontend,
        "--job", "mp-cut", "--handler", "echo", "--format", "msgpack", path, NULL });
    cr_expect (run_exited_with (&run, 1), "status %d", run.status);
    cr_expect (strstr (run.err, "tuples.msgpack byte 20 (tuple 6): msgpack value cut short")
               && strstr (run.err, "job mp-cut: 5 tuples accepted (ids 1-5)"),
               "stderr: %s", run.err);
    run_free (&run);
    msgpack_sbuffer_destroy (&buf);
}

Test (producer, wait_until_complete,
     .timeout = 120, .init = site_with_broker, .fini = site_cleanup) {
    site_t *site = &producer_site;
    site_start_workers (site);
    char *tuples = site_tuples_file (site, "tuples.jsonl", 300);
    run_t run = site_run (site, NULL, (char *[]) { "submit", "--broker", site->frontend,
        "--job", "waited", "--handler", "echo", "--sink", site->sink, "--wait", tuples, NULL });
    cr_assert (run_exited_with (&run, 0), "status %d, stderr:\n%s", run.status, run.err);
    cr_expect (strstr (run.out, "job waited: 300 tuples accepted (ids 1-300)\n"
                                "job waited complete: 300 done, 0 failed in "),
               "stdout: %s", run.out);
    cr_expect (strstr (run.err, "job waited: 300/300 finished (300 done, 0 failed), 100.0%"),
               "not a terminal: plain progress lines; stderr: %s", run.err);
    run_free (&run);
    char results[512];
    snprintf (results, sizeof results, "%s/results.jsonl", site->dir);
    cr_expect_eq (support_count_lines (results), 300);

    //  Dead letters do not fail the submit; they are counted.
    run = site_run (site, NULL, (char *[]) { "submit", "--broker", site->frontend,
        "--job", "doomed", "--handler", "fail", "--sink", site->sink, "--max-attempts", "1",
        "--wait", "--batch-size", "7", tuples, NULL });
    cr_assert (run_exited_with (&run, 0), "status %d, stderr:\n%s", run.status, run.err);
    cr_expect (strstr (run.out, "job doomed complete: 0 done, 300 failed in "),
               "stdout: %s", run.out);
    run_free (&run);
    free (tuples);
}

//  `drover submit --per-tuple` of text as job exits 1, its stderr holding
//  where and what.
static void
s_expect_line_refused (site_t *site, const char *job, const char *text, const char *where,
                       const char *what)
{
    char name[64];
    snprintf (name, sizeof name, "%s.jsonl", job);
    char *lines = site_write_file (site, name, text);
    run_t run = site_run (site, NULL, (char *[]) { "submit", "--broker", site->frontend,
        "--job", (char *) job, "--handler", "echo", "--per-tuple", lines, NULL });
    cr_expect (run_exited_with (&run, 1), "%s: status %d", job, run.status);
    cr_expect (strstr (run.err, where) && strstr (run.err, what), "%s: stderr: %s", job,
               run.err);
    run_free (&run);
    free (lines);
}

//  --per-tuple: each line's own priority and time go in the SUBMIT (the
//  broker counts the timed one delayed); a line of another shape stops the
//  submit naming it; and it goes with neither --deps nor a spec.
Test (producer, per_tuple_lines, .timeout = 60, .init = site_with_broker, .fini = site_cleanup) {
    site_t *site = &producer_site;
    //  A TIME an hour ahead, as ISO 8601 UTC.
    char when[32], text[256];
    time_t later = time (NULL) + 3600;
    strftime (when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime (&later));
    snprintf (text, sizeof text, "{\"tuple\": [1]}\n{\"tuple\": [2], \"priority\": 8}\n"
              "{\"tuple\": [3], \"not_before\": \"%s\", \"priority\": 0}\n", when);
    char *lines = site_write_file (site, "lines.jsonl", text);
    run_t run = site_run (site, NULL, (char *[]) { "submit", "--broker", site->frontend,
        "--job", "own", "--handler", "echo", "--per-tuple", lines, NULL });
    cr_assert (run_exited_with (&run, 0), "status %d, stderr:\n%s", run.status, run.err);
    cr_expect_str_eq (run.out, "job own: 3 tuples accepted (ids 1-3)\n");
    run_free (&run);
    producer_status_t status;
    cr_assert_eq (site_status (site, "own", &status), 0);
    cr_expect_eq (status.queued, 3);
    cr_expect_eq (status.delayed, 1, "the tuple with a not_before of its own");
    free (lines);

    s_expect_line_refused (site, "bad", "{\"tuple\": [1]}\n{\"tuple\": [2], \"priority\": 10}\n",
                           "tuple 2: with --per-tuple", "\"priority\" is not 0 to 9");
    s_expect_line_refused (site, "typo", "{\"tuple\": [1], \"priorty\": 9}\n",
                           "tuple 1: with --per-tuple", "unknown key \"priorty\"");
    s_expect_line_refused (site, "plain", "[1]\n", "tuple 1: with --per-tuple",
                           "not an object with \"tuple\"");

    lines = site_write_file (site, "plain.jsonl", "[1]\n");
    run = site_run (site, NULL, (char *[]) { "submit", "--broker", site->frontend,
        "--job", "graph", "--handler", "echo", "--per-tuple", "--deps", lines, NULL });
    cr_expect (run_exited_with (&run, 2), "status %d", run.status);
    cr_expect (strstr (run.err, "--per-tuple: not with --deps"), "stderr: %s", run.err);
    run_free (&run);
    free (lines);
}
