//  test_examples_node.c -- the Node producer.mjs and status.mjs in
//  examples/node, which know only PROTOCOL.md, against a real `drover
//  broker` with CURVE (and agent and sink): what they print and exit with,
//  what the broker counted, what the sink stored.  examples/node's packages
//  are installed from the registry at test time (npm ci, gitignored).
#include "support.h"
#include "support_examples.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Test (examples, node_help_and_usage_errors, .timeout = 360)
{
    char *dir = support_tmpdir ();
    examples_require_node_modules (dir);
    run_t run = examples_run (dir, NULL, "node", NODE_PRODUCER, "--help", NULL);
    cr_expect (examples_exited_with (&run, 0), "producer.mjs --help: status %d\n%s", run.status, run.err);
    const char *flags[] = { "usage: producer.mjs", "--broker", "--job", "--handler", "--sink",
                            "--sink-key", "--batch-size", "--wait", "--cert", "--broker-key",
                            "--insecure", NULL };
    for (int i = 0; flags[i]; i++)
        cr_expect_not_null (strstr (run.out, flags[i]), "no %s in:\n%s", flags[i], run.out);
    examples_run_free (&run);
    run = examples_run (dir, NULL, "node", NODE_STATUS, "--help", NULL);
    cr_expect (examples_exited_with (&run, 0), "status.mjs --help: status %d", run.status);
    cr_expect_not_null (strstr (run.out, "usage: status.mjs"), "%s", run.out);
    cr_expect_not_null (strstr (run.out, "--json"), "%s", run.out);
    examples_run_free (&run);

    run = examples_run (dir, NULL, "node", NODE_PRODUCER, "--handler", "echo", "--insecure", NULL);
    cr_expect (examples_exited_with (&run, 2), "missing --job: status %d", run.status);
    cr_expect_not_null (strstr (run.err, "--job and --handler are required"), "%s", run.err);
    examples_run_free (&run);
    run = examples_run (dir, NULL, "node", NODE_PRODUCER, "--job", "j", "--handler", "echo", NULL);
    cr_expect (examples_exited_with (&run, 2), "no keys: status %d", run.status);
    cr_expect_not_null (strstr (run.err, "--insecure"), "%s", run.err);
    examples_run_free (&run);
    run = examples_run (dir, NULL, "node", NODE_STATUS, "j", "--broker-key",
                 "0123456789012345678901234567890123456789", NULL);
    cr_expect (examples_exited_with (&run, 2), "--broker-key alone: status %d", run.status);
    examples_run_free (&run);
    run = examples_run (dir, NULL, "node", NODE_STATUS, "--insecure", NULL);
    cr_expect (examples_exited_with (&run, 2), "no JOB: status %d", run.status);
    examples_run_free (&run);
    support_rmdir (&dir);
}

//  The Node producer over CURVE, results sealed for the sink: every tuple
//  stored once, and status.mjs reports what the broker counted, with the
//  keypair from a certificate file or from DROVER_SECRET_KEY.
Test (examples, node_producer_and_status_with_curve, .timeout = 360)
{
    site_t site = { 0 };
    examples_site_start (&site, true);
    examples_require_node_modules (site.dir);
    char input[512];
    snprintf (input, sizeof input, "%s/tuples.jsonl", site.dir);
    FILE *file = fopen (input, "w");
    cr_assert_not_null (file);
    for (int i = 1; i <= 25; i++)
        fprintf (file, "[\"node\", %d]\n", i);
    fclose (file);

    run_t run = examples_run (site.dir, input, "node", NODE_PRODUCER, "--broker", site.frontend,
                       "--job", "node", "--handler", "echo", "--sink", site.sink,
                       "--batch-size", "10", "--wait", "--wait-timeout", "60",
                       CURVE_ARGS (site), NULL);
    cr_expect (examples_exited_with (&run, 0), "status %d, stderr:\n%s", run.status, run.err);
    cr_expect_not_null (strstr (run.out, "ACCEPTED job=node batch=3 first=21 count=5 ids=21..25\n"),
                        "%s", run.out);
    cr_expect_not_null (strstr (run.out, "JOB job=node state=complete submitted=25 queued=0 "
                                         "running=0 done=25 failed=0"), "%s", run.out);
    examples_run_free (&run);
    examples_expect_stored_once (&site, "node", 25);
    cr_expect (examples_job_is (&site, "node", 25, "complete"));

    setenv ("DROVER_SECRET_KEY", zcert_secret_txt (keys_cert (site.producer_keys)), 1);
    //  --broker-key=KEY: a Z85 key may start with '-', which node's
    //  parseArgs takes for an option when it comes as its own argument
    //  (1 run in 85 failed so).
    char broker_key[64];
    snprintf (broker_key, sizeof broker_key, "--broker-key=%s", keys_public_txt (site.broker_keys));
    run = examples_run (site.dir, NULL, "node", NODE_STATUS, "--broker", site.frontend,
                 broker_key, "--json", "node", NULL);
    unsetenv ("DROVER_SECRET_KEY");
    cr_expect (examples_exited_with (&run, 0), "status %d, stderr:\n%s", run.status, run.err);
    //  JOB's fields in the broker's order (max_attempts and timeout_ms, of
    //  PROTOCOL.md 13, come before state).
    cr_expect (strstr (run.out, "{\"job\":\"node\",")
               && strstr (run.out, "\"state\":\"complete\",")
               && strstr (run.out, "\"submitted\":25,"), "%s", run.out);
    examples_run_free (&run);
    run = examples_run (site.dir, NULL, "node", NODE_STATUS, "--broker", site.frontend,
                 "--cert", site.producer_cert, "--broker-key", site.broker_cert, "nope", NULL);
    cr_expect (examples_exited_with (&run, 1), "unknown job: status %d", run.status);
    cr_expect_not_null (strstr (run.err, "UNKNOWN_JOB"), "%s", run.err);
    examples_run_free (&run);
    examples_site_stop (&site);
}

//  Refused by CURVE: a key not on the allow-list, or the wrong broker key.
//  No reply, exit 1 with a hint, nothing queued.
Test (examples, node_key_not_allowed, .timeout = 360)
{
    site_t site = { 0 };
    examples_site_start (&site, false);
    examples_require_node_modules (site.dir);
    run_t run = examples_run (site.dir, NULL, "node", NODE_STATUS, "--broker", site.frontend,
                       "--cert", site.agent_cert, "--broker-key", site.broker_cert,
                       "--timeout", "1", "any", NULL);
    cr_expect (examples_exited_with (&run, 1), "status %d", run.status);
    cr_expect_not_null (strstr (run.err, "--allow-producers"), "%s", run.err);
    examples_run_free (&run);
    char input[512];
    snprintf (input, sizeof input, "%s/one.jsonl", site.dir);
    examples_write_file (input, "[1]\n");
    run = examples_run (site.dir, input, "node", NODE_PRODUCER, "--broker", site.frontend,
                 "--job", "refused", "--handler", "echo", "--timeout", "1",
                 "--cert", site.producer_cert, "--broker-key", site.producer_cert, NULL);
    cr_expect (examples_exited_with (&run, 1), "status %d", run.status);
    cr_expect_not_null (strstr (run.err, "no reply"), "%s", run.err);
    examples_run_free (&run);
    msg_t *reply = examples_status (&site, "refused", 2000);
    cr_expect (reply && msg_command (reply) == MSG_ERROR, "the broker knows job refused");
    msg_destroy (&reply);
    examples_site_stop (&site);
}
