//  test_examples.c -- the example producers, which know only PROTOCOL.md,
//  against a real `drover broker` with CURVE (and agent and sink for
//  --wait): what examples/producer.py, push_producer.py and the Node
//  producer.mjs and status.mjs print and exit with, what the broker
//  counted (asked over the test's own CURVE REQ socket with STATUS), and
//  what the sink stored.  Needs /usr/bin/python3 with zmq and msgpack
//  (scripts/deps.sh), and node and npm: examples/node's packages are
//  installed from the registry at test time (npm ci, gitignored).
#include "support.h"
#include "support_examples.h"
#include "common/keys.h"
#include "proto/msg.h"
#include "proto/wire.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

Test (examples, python_has_zmq_and_msgpack)
{
    char *dir = support_tmpdir ();
    examples_require_python_modules (dir);
    support_rmdir (&dir);
}

//  --help must be true and complete even where pyzmq is missing.
Test (examples, help_and_usage_errors)
{
    char *dir = support_tmpdir ();
    run_t run = examples_run (dir, NULL, PYTHON, PRODUCER, "--help", NULL);
    cr_expect (examples_exited_with (&run, 0), "producer.py --help: status %d", run.status);
    const char *flags[] = { "usage: producer.py", "--broker", "--job", "--handler", "--sink",
                            "--batch-size", "--wait", "--wait-timeout", "--timeout",
                            "--cert", "--broker-key", "--sink-key", "--insecure", NULL };
    for (int i = 0; flags[i]; i++)
        cr_expect_not_null (strstr (run.out, flags[i]), "no %s in:\n%s", flags[i], run.out);
    examples_run_free (&run);

    run = examples_run (dir, NULL, PYTHON, PUSH_PRODUCER, "--help", NULL);
    cr_expect (examples_exited_with (&run, 0), "push_producer.py --help: status %d", run.status);
    const char *push_flags[] = { "usage: push_producer.py", "--intake", "--frontend",
                                 "--cert", "--broker-key", "--sink-key", "--insecure", NULL };
    for (int i = 0; push_flags[i]; i++)
        cr_expect_not_null (strstr (run.out, push_flags[i]), "no %s in:\n%s", push_flags[i], run.out);
    examples_run_free (&run);

    //  Usage errors: exit 2 and say what is wrong, on stderr.
    run = examples_run (dir, NULL, PYTHON, PRODUCER, "--handler", "echo", NULL);
    cr_expect (examples_exited_with (&run, 2), "missing --job: status %d", run.status);
    cr_expect_not_null (strstr (run.err, "--job and --handler are required"), "%s", run.err);
    examples_run_free (&run);
    run = examples_run (dir, NULL, PYTHON, PRODUCER, "--job", "j", "--handler", "echo",
                 "--batch-size", "0", NULL);
    cr_expect (examples_exited_with (&run, 2), "--batch-size 0: status %d", run.status);
    examples_run_free (&run);
    run = examples_run (dir, NULL, PYTHON, PRODUCER, "--job", "j", "--handler", "echo", "--wait",
                 "--no-close", NULL);
    cr_expect (examples_exited_with (&run, 2), "--wait --no-close: status %d", run.status);
    examples_run_free (&run);
    run = examples_run (dir, NULL, PYTHON, PUSH_PRODUCER, "--job", "j", NULL);
    cr_expect (examples_exited_with (&run, 2), "push without --handler: status %d", run.status);
    examples_run_free (&run);
    //  Secure by default: plain text only with --insecure, keys in pairs.
    const char *scripts[] = { PRODUCER, PUSH_PRODUCER, NULL };
    for (int i = 0; scripts[i]; i++) {
        run = examples_run (dir, NULL, PYTHON, scripts[i], "--job", "j", "--handler", "echo", NULL);
        cr_expect (examples_exited_with (&run, 2), "%s without keys: status %d", scripts[i], run.status);
        cr_expect_not_null (strstr (run.err, "--insecure"), "%s", run.err);
        examples_run_free (&run);
        run = examples_run (dir, NULL, PYTHON, scripts[i], "--job", "j", "--handler", "echo",
                     "--broker-key", "0123456789012345678901234567890123456789", NULL);
        cr_expect (examples_exited_with (&run, 2), "%s --broker-key alone: status %d",
                   scripts[i], run.status);
        examples_run_free (&run);
    }
    support_rmdir (&dir);
}

//  Bad JSON is reported with its line number, before anything is sent.
Test (examples, producer_rejects_bad_json)
{
    char *dir = support_tmpdir ();
    examples_require_python_modules (dir);
    char input[512];
    snprintf (input, sizeof input, "%s/bad.jsonl", dir);
    examples_write_file (input, "[\"ok\", 1]\n{not json\n");
    run_t run = examples_run (dir, input, PYTHON, PRODUCER, "--broker", support_endpoint (),
                       "--job", "bad", "--handler", "echo", "--timeout", "1", "--insecure", NULL);
    cr_expect (examples_exited_with (&run, 1), "status %d", run.status);
    cr_expect_not_null (strstr (run.err, "line 2"), "%s", run.err);
    cr_expect_null (strstr (run.out, "ACCEPTED"), "%s", run.out);
    examples_run_free (&run);
    support_rmdir (&dir);
}

//  No broker behind the endpoint: the REQ times out and the producer exits
//  1 instead of hanging.
Test (examples, producer_times_out_without_broker)
{
    char *dir = support_tmpdir ();
    examples_require_python_modules (dir);
    char input[512];
    snprintf (input, sizeof input, "%s/one.jsonl", dir);
    examples_write_file (input, "[1]\n");
    int64_t started = support_now_ms ();
    run_t run = examples_run (dir, input, PYTHON, PRODUCER, "--broker", support_endpoint (),
                       "--job", "lost", "--handler", "echo", "--timeout", "0.3", "--insecure", NULL);
    cr_expect (examples_exited_with (&run, 1), "status %d", run.status);
    cr_expect_not_null (strstr (run.err, "no reply"), "%s", run.err);
    cr_expect_lt (support_now_ms () - started, 20000);
    examples_run_free (&run);
    support_rmdir (&dir);
}

Test (examples, producer_submits_batches, .timeout = 120)
{
    site_t site = { 0 };
    examples_site_start (&site, false);
    char input[512];
    snprintf (input, sizeof input, "%s/five.jsonl", site.dir);
    examples_write_file (input, "[\"a\", 1]\n[\"b\", 2]\n\n[\"c\", 3]\n[\"d\", 4]\n[\"e\", 5]\n");

    //  Five tuples in batches of two: ids 1-2, 3-4, 5, the last closing the job.
    run_t run = examples_run (site.dir, input, PYTHON, PRODUCER, "--broker", site.frontend,
                       "--job", "five", "--handler", "echo", "--sink", site.sink,
                       "--batch-size", "2", CURVE_ARGS (site), NULL);
    cr_expect (examples_exited_with (&run, 0), "status %d, stderr:\n%s", run.status, run.err);
    cr_expect_not_null (strstr (run.out, "ACCEPTED job=five batch=1 first=1 count=2 ids=1..2\n"),
                        "%s", run.out);
    cr_expect_not_null (strstr (run.out, "ACCEPTED job=five batch=2 first=3 count=2 ids=3..4\n"),
                        "%s", run.out);
    cr_expect_not_null (strstr (run.out, "ACCEPTED job=five batch=3 first=5 count=1 ids=5..5\n"),
                        "%s", run.out);
    cr_expect_eq (examples_count_lines (run.out), 3, "not three lines:\n%s", run.out);
    examples_run_free (&run);
    //  No agent: the job is closed, not complete, with all five queued.
    cr_expect (examples_job_is (&site, "five", 5, "closed"), "broker did not count 5 tuples");

    //  The job is closed: another SUBMIT gets ERROR JOB_CLOSED, exit 1.
    run = examples_run (site.dir, input, PYTHON, PRODUCER, "--broker", site.frontend,
                 "--job", "five", "--handler", "echo", "--sink", site.sink, CURVE_ARGS (site), NULL);
    cr_expect (examples_exited_with (&run, 1), "status %d", run.status);
    cr_expect_not_null (strstr (run.err, "JOB_CLOSED"), "%s", run.err);
    examples_run_free (&run);

    //  --wait with no agent cannot complete: it gives up after --wait-timeout.
    run = examples_run (site.dir, input, PYTHON, PRODUCER, "--broker", site.frontend,
                 "--job", "stuck", "--handler", "echo", "--sink", site.sink,
                 "--wait", "--wait-timeout", "1", "--quiet", CURVE_ARGS (site), NULL);
    cr_expect (examples_exited_with (&run, 1), "status %d", run.status);
    cr_expect_not_null (strstr (run.err, "not complete"), "%s", run.err);
    cr_expect_not_null (strstr (run.err, "state=closed submitted=5"), "%s", run.err);
    cr_expect_eq (strlen (run.out), 0, "--quiet printed:\n%s", run.out);
    examples_run_free (&run);
    examples_site_stop (&site);
}

Test (examples, push_producer_tuples_are_counted, .timeout = 120)
{
    site_t site = { 0 };
    examples_site_start (&site, false);
    char input[512];
    snprintf (input, sizeof input, "%s/seven.jsonl", site.dir);
    examples_write_file (input, "[1]\n[2]\n[3]\n[4]\n[5]\n[6]\n[7]\n");

    run_t run = examples_run (site.dir, input, PYTHON, PUSH_PRODUCER, "--intake", site.intake,
                       "--job", "pushed", "--handler", "echo", "--sink", site.sink,
                       "--batch-size", "3", CURVE_ARGS (site), NULL);
    cr_expect (examples_exited_with (&run, 0), "status %d, stderr:\n%s", run.status, run.err);
    cr_expect_not_null (strstr (run.out, "PUSHED job=pushed tuples=7"), "%s", run.out);
    examples_run_free (&run);
    //  No reply on the intake: the broker's STATUS is the only witness.
    cr_expect (SUPPORT_WAIT (examples_job_is (&site, "pushed", 7, "closed"), 10000),
               "broker did not count 7 pushed tuples in a closed job");

    //  With --frontend the script confirms by itself.
    run = examples_run (site.dir, input, PYTHON, PUSH_PRODUCER, "--intake", site.intake,
                 "--frontend", site.frontend, "--job", "confirmed", "--handler", "echo",
                 "--sink", site.sink, "--batch-size", "4", CURVE_ARGS (site), NULL);
    cr_expect (examples_exited_with (&run, 0), "status %d, stderr:\n%s", run.status, run.err);
    cr_expect_not_null (strstr (run.out, "JOB job=confirmed state=closed submitted=7"),
                        "%s", run.out);
    examples_run_free (&run);
    cr_expect (examples_job_is (&site, "confirmed", 7, "closed"));
    examples_site_stop (&site);
}

//  The whole path: producer.py --wait returns when the agent has run every
//  tuple and the sink has stored its sealed result.
Test (examples, producer_waits_until_complete, .timeout = 180)
{
    site_t site = { 0 };
    examples_site_start (&site, true);
    char input[512];
    snprintf (input, sizeof input, "%s/ten.jsonl", site.dir);
    examples_write_file (input, "[0]\n[1]\n[2]\n[3]\n[4]\n[5]\n[6]\n[7]\n[8]\n[9]\n");
    run_t run = examples_run (site.dir, input, PYTHON, PRODUCER, "--broker", site.frontend,
                       "--job", "ten", "--handler", "echo", "--sink", site.sink,
                       "--batch-size", "4", "--wait", "--wait-timeout", "50",
                       CURVE_ARGS (site), NULL);
    cr_expect (examples_exited_with (&run, 0), "status %d, stderr:\n%s", run.status, run.err);
    cr_expect_not_null (strstr (run.out, "JOB job=ten state=complete submitted=10 queued=0 "
                                         "running=0 done=10 failed=0"), "%s", run.out);
    examples_run_free (&run);
    examples_expect_stored_once (&site, "ten", 10);
    examples_site_stop (&site);
}

//  A key not on the broker's --allow-producers list (here the agent's)
//  never completes the handshake: no reply, exit 1 with a hint, and
//  nothing reached the broker.
Test (examples, producer_key_not_allowed, .timeout = 120)
{
    site_t site = { 0 };
    examples_site_start (&site, false);
    char input[512];
    snprintf (input, sizeof input, "%s/one.jsonl", site.dir);
    examples_write_file (input, "[1]\n");
    run_t run = examples_run (site.dir, input, PYTHON, PRODUCER, "--broker", site.frontend,
                       "--job", "refused", "--handler", "echo", "--timeout", "1",
                       "--cert", site.agent_cert, "--broker-key", site.broker_cert, NULL);
    cr_expect (examples_exited_with (&run, 1), "status %d", run.status);
    cr_expect_not_null (strstr (run.err, "--allow-producers"), "%s", run.err);
    examples_run_free (&run);
    msg_t *reply = examples_status (&site, "refused", 2000);
    cr_expect (reply && msg_command (reply) == MSG_ERROR, "the broker knows job refused");
    msg_destroy (&reply);
    examples_site_stop (&site);
}
