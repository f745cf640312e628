//  test_listing.c -- `drover jobs`, `drover agents` and `drover status`
//  against a real broker, sink and agent (broker/listing.c, PROTOCOL.md
//  11): lists and their JSON parse and add up while a job runs, status
//  counts add up at every sampled moment, pages are bounded and chained,
//  and malformed listing requests get an ERROR.
#include "proto/msg.h"
#include "proto/wire.h"
#include "support.h"
#include "support_jobsite.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <string.h>

static jobsite_t s_site;

static void
s_fini (void)
{
    support_kill_started ();
}

//  submitted = queued + running + done + failed, in a job entry or status.
static void
s_expect_adds_up (const msgpack_object *job)
{
    uint64_t submitted = jobsite_uint (job, "submitted");
    uint64_t parts = jobsite_uint (job, "queued") + jobsite_uint (job, "running")
                   + jobsite_uint (job, "done") + jobsite_uint (job, "failed");
    cr_assert_eq (submitted, parts, "submitted %lu, queued + running + done + failed %lu",
                  (unsigned long) submitted, (unsigned long) parts);
}

//  `drover CMD --json ...` parsed; an array for jobs and agents.
static void
s_json (const char *cmd, const char *job, jobsite_json_t *json)
{
    jobsite_run_t run = job
        ? jobsite_run (&s_site, cmd, "--broker", s_site.frontend, "--json", job, NULL)
        : jobsite_run (&s_site, cmd, "--broker", s_site.frontend, "--json", NULL);
    cr_assert (jobsite_exited_with (&run, 0), "drover %s: %s", cmd, run.err);
    cr_assert (jobsite_parse_json (run.out, strlen (run.out), json), "%s: %s", cmd, run.out);
    jobsite_run_free (&run);
}

static const msgpack_object *
s_entry (const msgpack_object *list, const char *key, const char *value)
{
    cr_assert_eq (list->type, MSGPACK_OBJECT_ARRAY);
    for (uint32_t i = 0; i < list->via.array.size; i++)
        if (jobsite_str_is (&list->via.array.ptr[i], key, value))
            return &list->via.array.ptr[i];
    return NULL;
}

Test (listing, lists_and_status_add_up_while_a_job_runs, .fini = s_fini, .timeout = 180)
{
    jobsite_start (&s_site, true, 4, NULL);
    jobsite_submit (&s_site, "quick", "echo", 10, "1");
    //  600 tuples of 25 ms on 4 threads: nearly 4 s of running to sample,
    //  more than the second of samples a rate needs.
    jobsite_submit (&s_site, "slow", "sleep", 600, "25");
    int samples = 0, running_samples = 0, with_rate = 0;
    bool complete = false;
    while (!complete) {
        jobsite_json_t status;
        s_json ("status", "slow", &status);
        s_expect_adds_up (&status.unpacked.data);
        cr_assert_eq (jobsite_uint (&status.unpacked.data, "submitted"), 600);
        complete = jobsite_str_is (&status.unpacked.data, "state", "complete");
        running_samples += !complete;
        with_rate += jobsite_has (&status.unpacked.data, "rate_milli")
                  && jobsite_has (&status.unpacked.data, "eta_ms");
        jobsite_json_free (&status);
        jobsite_json_t jobs;
        s_json ("jobs", NULL, &jobs);
        const msgpack_object *slow = s_entry (&jobs.unpacked.data, "job", "slow");
        const msgpack_object *quick = s_entry (&jobs.unpacked.data, "job", "quick");
        cr_assert (slow && quick, "both jobs listed");
        s_expect_adds_up (slow);
        s_expect_adds_up (quick);
        cr_assert (jobsite_str_is (slow, "handler", "sleep"));
        cr_assert_lt (jobsite_uint (quick, "number"), jobsite_uint (slow, "number"));
        jobsite_json_free (&jobs);
        cr_assert_lt (++samples, 600, "the job completes");
    }
    cr_assert_geq (running_samples, 3, "sampled the job while it ran (%d)", running_samples);
    cr_assert_geq (with_rate, 1, "a running job got a rate and an ETA");
    //  Agents: the one agent, and its done adds up to every job's finished.
    jobsite_json_t agents;
    s_json ("agents", NULL, &agents);
    const msgpack_object *agent = s_entry (&agents.unpacked.data, "agent", "agent-1");
    cr_assert (agent, "agent-1 listed");
    cr_assert_eq (agents.unpacked.data.via.array.size, 1);
    cr_assert (jobsite_str_is (agent, "host", "127.0.0.1"));
    cr_assert_eq (jobsite_uint (agent, "version"), 2);
    cr_assert (jobsite_str_is (agent, "labels", "site=dc1,zone=dmz"), "labels sorted by key");
    cr_assert_gt (jobsite_uint (agent, "slots"), 0);
    cr_assert_eq (jobsite_uint (agent, "in_flight"), 0);
    cr_assert_eq (jobsite_uint (agent, "done"), 610);
    cr_assert (jobsite_has (agent, "heard_ms") && jobsite_has (agent, "age_ms"));
    jobsite_json_free (&agents);
    //  The tables, for a person.
    jobsite_run_t run = jobsite_run (&s_site, "jobs", "--broker", s_site.frontend, NULL);
    cr_assert (jobsite_exited_with (&run, 0));
    cr_assert (strstr (run.out, "JOB") && strstr (run.out, "slow") && strstr (run.out, "quick"));
    jobsite_run_free (&run);
    run = jobsite_run (&s_site, "agents", "--broker", s_site.frontend, NULL);
    cr_assert (jobsite_exited_with (&run, 0) && strstr (run.out, "agent-1")
               && strstr (run.out, "site=dc1,zone=dmz"), "%s", run.out);
    jobsite_run_free (&run);
    //  --watch on a pipe: one JSON array a line per view; status stops at complete.
    run = jobsite_run (&s_site, "jobs", "--broker", s_site.frontend, "--json", "--watch",
                    "--interval", "0.1", "--count", "3", NULL);
    cr_assert (jobsite_exited_with (&run, 0));
    int lines = 0;
    for (char *line = strtok (run.out, "\n"); line; line = strtok (NULL, "\n"), lines++) {
        jobsite_json_t view;
        cr_assert (jobsite_parse_json (line, strlen (line), &view), "%s", line);
        cr_assert_eq (view.unpacked.data.type, MSGPACK_OBJECT_ARRAY);
        jobsite_json_free (&view);
    }
    cr_assert_eq (lines, 3);
    jobsite_run_free (&run);
    run = jobsite_run (&s_site, "status", "--broker", s_site.frontend, "--watch", "slow", NULL);
    cr_assert (jobsite_exited_with (&run, 0) && strstr (run.out, "-- ")
               && strstr (run.out, "complete"), "%s", run.out);
    jobsite_run_free (&run);
    jobsite_stop (&s_site);
}

//  A request on the test's own DEALER, and the answer (NULL: none in 10 s).
static msg_t *
s_ask (zsock_t *dealer, msg_t **request_p)
{
    const char *name = msg_command_name (msg_command (*request_p));
    cr_assert_eq (wire_send (request_p, dealer, NULL), 0);
    zsock_set_rcvtimeo (dealer, 10000);
    msg_t *reply = NULL;
    int rc = wire_recv (dealer, NULL, &reply);
    if (rc) {
        char log[600];
        snprintf (log, sizeof log, "%s/broker.log", s_site.dir);
        char *text = support_slurp (log);
        fprintf (stderr, "%s\n", text? text: "");
        free (text);
    }
    cr_assert_eq (rc, 0, "an answer to %s", name);
    return reply;
}

static msg_t *
s_jobs (zsock_t *dealer, uint64_t after, uint64_t limit)
{
    msg_t *request = msg_new (MSG_JOBS);
    if (after)
        msg_set_uint (request, MSG_F_AFTER, after);
    if (limit)
        msg_set_uint (request, MSG_F_LIMIT, limit);
    return s_ask (dealer, &request);
}

Test (listing, pages_are_bounded_and_chained, .fini = s_fini, .timeout = 180)
{
    jobsite_start (&s_site, false, 0, NULL);
    zsock_t *dealer = zsock_new_dealer (s_site.frontend);
    cr_assert (dealer);
    //  1,001 jobs of one tuple each: more than a page.
    enum { JOBS = 1001 };
    for (int i = 1; i <= JOBS; i++) {
        msg_t *submit = msg_new (MSG_SUBMIT);
        char name[32];
        snprintf (name, sizeof name, "job-%04d", i);
        msg_set_str (submit, MSG_F_JOB, name);
        msg_set_str (submit, MSG_F_HANDLER, "echo");
        msg_set_str (submit, MSG_F_SINK, "tcp://127.0.0.1:9");
        msg_add_tuple (submit, "\x01", 1);
        cr_assert_eq (wire_send (&submit, dealer, NULL), 0);
    }
    zsock_set_rcvtimeo (dealer, 20000);
    for (int i = 1; i <= JOBS; i++) {
        msg_t *accepted = NULL;
        cr_assert_eq (wire_recv (dealer, NULL, &accepted), 0);
        cr_assert_eq (msg_command (accepted), MSG_ACCEPTED);
        msg_destroy (&accepted);
    }
    //  The default page is 1,000 jobs, then `next` leads to the last one.
    msg_t *page = s_jobs (dealer, 0, 0);
    cr_assert_eq (msg_command (page), MSG_JOB_LIST);
    cr_assert_eq (msg_uint (page, MSG_F_COUNT), 1000);
    cr_assert_eq (msg_uint (page, MSG_F_TOTAL), JOBS);
    cr_assert (msg_has (page, MSG_F_NEXT));
    uint64_t next = msg_uint (page, MSG_F_NEXT);
    cr_assert_lt (zframe_size (msg_payload (page, 0)), 400 * 1024);
    msg_destroy (&page);
    page = s_jobs (dealer, next, 5000);
    cr_assert_eq (msg_uint (page, MSG_F_COUNT), 1);
    cr_assert_not (msg_has (page, MSG_F_NEXT), "the last page");
    msg_destroy (&page);
    //  A small limit, and an `after` past every job.
    page = s_jobs (dealer, 0, 2);
    cr_assert_eq (msg_uint (page, MSG_F_COUNT), 2);
    cr_assert_eq (msg_uint (page, MSG_F_NEXT), 2);
    msg_destroy (&page);
    page = s_jobs (dealer, UINT64_MAX, 0);
    cr_assert_eq (msg_uint (page, MSG_F_COUNT), 0);
    cr_assert_not (msg_has (page, MSG_F_NEXT));
    msg_destroy (&page);
    //  The CLI pages through them all.
    jobsite_run_t run = jobsite_run (&s_site, "jobs", "--broker", s_site.frontend, "--json", NULL);
    jobsite_json_t jobs;
    cr_assert (jobsite_exited_with (&run, 0));
    cr_assert (jobsite_parse_json (run.out, strlen (run.out), &jobs));
    cr_assert_eq (jobs.unpacked.data.via.array.size, JOBS);
    cr_assert (jobsite_str_is (&jobs.unpacked.data.via.array.ptr[JOBS - 1], "job", "job-1001"));
    jobsite_json_free (&jobs);
    jobsite_run_free (&run);
    //  Malformed: a limit of 0, and `after` of the wrong type (a hand-made
    //  header), get ERROR; AGENTS with no agent, an empty page.
    msg_t *request = msg_new (MSG_JOBS);
    msg_set_uint (request, MSG_F_LIMIT, 0);
    msg_t *reply = s_ask (dealer, &request);
    cr_assert_eq (msg_command (reply), MSG_ERROR);
    cr_assert_eq (msg_uint (reply, MSG_F_CODE), DRV_E_BAD_TYPE);
    msg_destroy (&reply);
    zmsg_t *raw = zmsg_new ();
    zmsg_addstr (raw, "DRV2");
    zmsg_addstr (raw, "AGENTS");
    zmsg_addmem (raw, "\x81\xa5" "after" "\xa1" "x", 9);      //  {"after": "x"}
    cr_assert_eq (zmsg_send (&raw, dealer), 0);
    cr_assert_eq (wire_recv (dealer, NULL, &reply), 0);
    cr_assert_eq (msg_command (reply), MSG_ERROR);
    cr_assert_eq (msg_uint (reply, MSG_F_CODE), DRV_E_BAD_TYPE);
    msg_destroy (&reply);
    request = msg_new (MSG_AGENTS);
    reply = s_ask (dealer, &request);
    cr_assert_eq (msg_command (reply), MSG_AGENT_LIST);
    cr_assert_eq (msg_uint (reply, MSG_F_TOTAL), 0);
    msg_destroy (&reply);
    //  A reply command sent as a request is UNEXPECTED.
    request = msg_new (MSG_JOB_LIST);
    msg_set_uint (request, MSG_F_COUNT, 0);
    msg_set_uint (request, MSG_F_TOTAL, 0);
    zframe_t *empty = zframe_new ("\x90", 1);
    msg_payload_append (request, &empty);
    reply = s_ask (dealer, &request);
    cr_assert_eq (msg_uint (reply, MSG_F_CODE), DRV_E_UNEXPECTED);
    msg_destroy (&reply);
    zsock_destroy (&dealer);
    jobsite_stop (&s_site);
}
