//  test_plugin.c -- the plugin handler with real shared objects built from
//  examples/plugins/: loading, the ABI check, init with the job's config
//  (once per path and config), many outputs per tuple streamed in order
//  with the last final, and errors from init and handle.
#include <criterion/criterion.h>

#include "agent/plugin.h"
#include "agent/pool.h"
#include "common/json_read.h"
#include "common/json_write.h"
#include "support.h"

#include <libgen.h>
#include <sys/wait.h>
#include <unistd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  The plugin handler's state, as a worker process keeps it.
static plugin_t *s_plugins;

static void
s_setup (void)
{
    s_plugins = plugin_new ();
    cr_assert (s_plugins);
}

static void
s_teardown (void)
{
    plugin_destroy (&s_plugins);
}

TestSuite (plugin, .timeout = 30, .init = s_setup, .fini = s_teardown);

static bool
s_any (void *arg, uint64_t id)
{
    (void) arg;
    (void) id;
    return true;
}

//  Plugins are built next to the drover binary's examples/ directory.
static const char *
s_plugin (const char *name)
{
    static char path[2][1024];
    static int which;
    char bin[1024];
    snprintf (bin, sizeof bin, "%s", DROVER_BIN);
    char *into = path[which++ % 2];
    snprintf (into, sizeof path[0], "%s/examples/plugins/drover-%s.so", dirname (bin), name);
    return into;
}

typedef struct {
    int rc;
    char error[HANDLER_ERROR_MAX];
    size_t outputs;
    char json[4096];            //  each emitted output as JSON, one a line
    char finals[64];            //  'f' or 'T' per emit call
    size_t emits;
} run_t;

static int
s_on_emit (void *arg, const void *data, size_t size, bool final)
{
    run_t *run = arg;
    msgpack_zone zone;
    msgpack_zone_init (&zone, 256);
    msgpack_object obj;
    size_t offset = 0;
    cr_assert_eq (msgpack_unpack (data, size, &offset, &zone, &obj), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq (offset, size, "one output is exactly one value");
    size_t used = strlen (run->json);
    FILE *out = fmemopen (run->json + used, sizeof run->json - used, "w");
    json_write (out, &obj);
    fputc ('\n', out);
    fclose (out);
    msgpack_zone_destroy (&zone);
    if (run->emits < sizeof run->finals - 1)
        run->finals[run->emits] = final? 'T': 'f';
    run->emits++;
    return 0;
}

static run_t
s_run (const char *plugin, const char *config_json, const char *tuple_json)
{
    run_t run;
    memset (&run, 0, sizeof run);
    char options_json[2048], err[128];
    snprintf (options_json, sizeof options_json, "{\"path\": \"%s\"%s%s}", plugin,
              config_json? ", \"config\": ": "", config_json? config_json: "");
    msgpack_sbuffer tuple, options, output;
    msgpack_sbuffer_init (&tuple);
    msgpack_sbuffer_init (&options);
    msgpack_sbuffer_init (&output);
    cr_assert_eq (json_to_msgpack (tuple_json, strlen (tuple_json), &tuple, err, sizeof err), 0);
    cr_assert_eq (json_to_msgpack (options_json, strlen (options_json), &options, err, sizeof err), 0);
    msgpack_zone zone;
    msgpack_zone_init (&zone, 1024);
    handler_call_t call;
    handler_call_init (&call, &output);
    call.emit = s_on_emit;
    call.emit_arg = &run;
    msgpack_object tuple_obj, options_obj;
    size_t offset = 0;
    msgpack_unpack (tuple.data, tuple.size, &offset, &zone, &tuple_obj);
    offset = 0;
    msgpack_unpack (options.data, options.size, &offset, &zone, &options_obj);
    call.tuple = &tuple_obj;
    call.tuple_data = tuple.data;
    call.tuple_size = tuple.size;
    call.options = &options_obj;
    run.rc = plugin_handler (s_plugins, &call);
    run.outputs = call.outputs;
    snprintf (run.error, sizeof run.error, "%s", call.error);
    msgpack_zone_destroy (&zone);
    msgpack_sbuffer_destroy (&tuple);
    msgpack_sbuffer_destroy (&options);
    msgpack_sbuffer_destroy (&output);
    return run;
}

Test (plugin, split_emits_one_output_per_word_in_order)
{
    run_t run = s_run (s_plugin ("split"), NULL, "[\"hello big  world\", 7, \"again\"]");
    cr_assert_eq (run.rc, 0, "%s", run.error);
    cr_assert_str_eq (run.json,
        "{\"word\":\"hello\",\"index\":0}\n{\"word\":\"big\",\"index\":1}\n"
        "{\"word\":\"world\",\"index\":2}\n{\"word\":\"again\",\"index\":3}\n");
    cr_assert_eq (run.outputs, 4);
    cr_assert_str_eq (run.finals, "fffT", "streamed as emitted, the last final");
}

Test (plugin, init_gets_the_jobs_config)
{
    run_t run = s_run (s_plugin ("split"), "{\"separators\": \",\", \"min_length\": 2}",
                       "[\"ab,c d,e,fgh\"]");
    cr_assert_eq (run.rc, 0, "%s", run.error);
    cr_assert_str_eq (run.json, "{\"word\":\"ab\",\"index\":0}\n{\"word\":\"c d\",\"index\":1}\n"
                                "{\"word\":\"fgh\",\"index\":2}\n");
    run = s_run (s_plugin ("split"), "{\"separators\": 5}", "[\"a b\"]");
    cr_assert_eq (run.rc, -1);
    cr_assert (strstr (run.error, "plugin split: init failed: separators must be a string"),
               "%s", run.error);
    cr_assert_eq (run.emits, 0);
}

Test (plugin, init_runs_once_per_path_and_config)
{
    const char *path = s_plugin ("crashtest");
    run_t run = s_run (path, NULL, "[\"inits\"]");
    cr_assert_eq (run.rc, 0, "%s", run.error);
    cr_assert_str_eq (run.json, "1\n");
    run = s_run (path, NULL, "[\"inits\"]");
    cr_assert_str_eq (run.json, "1\n", "same config: same instance");
    run = s_run (path, "{\"other\": 1}", "[\"inits\"]");
    cr_assert_str_eq (run.json, "2\n", "another config: another init");
    run = s_run (path, NULL, "[\"inits\"]");
    cr_assert_str_eq (run.json, "2\n");
}

Test (plugin, a_failed_init_fails_the_tuple_and_is_tried_again)
{
    const char *path = s_plugin ("crashtest");
    for (int i = 0; i < 2; i++) {
        run_t run = s_run (path, "{\"fail_init\": true}", "[1]");
        cr_assert_eq (run.rc, -1);
        cr_assert_str_eq (run.error, "plugin crashtest: init failed: asked to fail in init");
    }
    run_t run = s_run (path, NULL, "[\"inits\"]");
    cr_assert_str_eq (run.json, "1\n", "failed inits are not counted or kept");
}

Test (plugin, another_abi_version_is_rejected)
{
    run_t run = s_run (s_plugin ("badabi"), NULL, "[1]");
    cr_assert_eq (run.rc, -1);
    cr_assert (strstr (run.error, "has ABI version 99, this agent loads version 1 only"),
               "%s", run.error);
    cr_assert_eq (run.emits, 0);
}

Test (plugin, what_is_not_a_plugin_is_rejected)
{
    run_t run = s_run ("/no/such/plugin.so", NULL, "[1]");
    cr_assert_eq (run.rc, -1);
    cr_assert (strstr (run.error, "plugin: cannot load /no/such/plugin.so"), "%s", run.error);
    run = s_run ("libm.so.6", NULL, "[1]");
    cr_assert_eq (run.rc, -1);
    cr_assert (strstr (run.error, "exports no 'drover_plugin' symbol"), "%s", run.error);
    run = s_run ("", NULL, "[1]");
    cr_assert (strstr (run.error, "option path must name"), "%s", run.error);
}

Test (plugin, many_outputs_without_final_get_the_last_marked)
{
    run_t run = s_run (s_plugin ("crashtest"), NULL, "[\"many\", 5]");
    cr_assert_eq (run.rc, 0, "%s", run.error);
    cr_assert_str_eq (run.json, "0\n1\n2\n3\n4\n");
    cr_assert_str_eq (run.finals, "ffffT");
    run = s_run (s_plugin ("crashtest"), NULL, "[\"many\", 0]");
    cr_assert_eq (run.rc, 0, "%s", run.error);
    cr_assert_eq (run.outputs, 0, "no outputs is allowed");
    run = s_run (s_plugin ("crashtest"), NULL, "{\"echo\": [1, 2]}");
    cr_assert_str_eq (run.json, "{\"echo\":[1,2]}\n");
    cr_assert_str_eq (run.finals, "T");
}

Test (plugin, an_error_from_handle_fails_the_tuple)
{
    run_t run = s_run (s_plugin ("crashtest"), NULL, "[\"fail\"]");
    cr_assert_eq (run.rc, -1);
    cr_assert_str_eq (run.error, "plugin crashtest: tuple asked to fail");
    run = s_run (s_plugin ("crashtest"), NULL, "[\"final-twice\"]");
    cr_assert_eq (run.rc, -1);
    cr_assert_str_eq (run.error, "plugin crashtest: emit after final refused");
    cr_assert_str_eq (run.finals, "T", "the emit after final went nowhere");
}

static void *
s_split_many (void *arg)
{
    (void) arg;
    for (int i = 0; i < 200; i++) {
        run_t run = s_run (s_plugin ("split"), NULL, "[\"a b c\"]");
        if (run.rc || run.outputs != 3 || strcmp (run.finals, "ffT"))
            return "wrong";
    }
    return NULL;
}

Test (plugin, handler_threads_share_one_instance)
{
    pthread_t threads[4];
    for (int i = 0; i < 4; i++)
        pthread_create (&threads[i], NULL, s_split_many, NULL);
    for (int i = 0; i < 4; i++) {
        void *result;
        pthread_join (threads[i], &result);
        cr_assert_null (result);
    }
}

//  The cancel flag (include/drover/plugin.h, drover_plugin_cancelled): a
//  plugin that polls it sees a tuple cancelled while it runs, and stops.
Test (plugin, a_plugin_sees_its_tuple_cancelled)
{
    run_t run = s_run (s_plugin ("crashtest"), NULL, "[\"wait-cancel\", 5]");
    cr_assert_eq (run.rc, 0, "not cancelled: %s", run.error);
    cr_assert_str_eq (run.json, "\"not cancelled\"\n");

    registry_t *registry = registry_new ();
    pool_t *pool = registry? pool_new (1, registry): NULL;
    cr_assert_not_null (pool);
    char options_json[1200], err[128];
    snprintf (options_json, sizeof options_json, "{\"path\": \"%s\"}", s_plugin ("crashtest"));
    msgpack_sbuffer tuple, options;
    msgpack_sbuffer_init (&tuple);
    msgpack_sbuffer_init (&options);
    const char *tuple_json = "[\"wait-cancel\", 60000]";
    cr_assert_eq (json_to_msgpack (tuple_json, strlen (tuple_json), &tuple, err, sizeof err), 0);
    cr_assert_eq (json_to_msgpack (options_json, strlen (options_json), &options, err,
                                   sizeof err), 0);
    pool_task_t task = { .id = 7, .handler = "plugin", .tuple = tuple.data,
                         .tuple_size = tuple.size, .options = options.data,
                         .options_size = options.size };
    cr_assert_eq (pool_submit (pool, &task, 1), 0);
    cr_assert (SUPPORT_WAIT (pool_running (pool) == 1, 5000));
    int64_t start = support_now_ms ();
    cr_assert_eq (pool_cancel_where (pool, s_any, NULL), 1);
    pool_result_t result;
    cr_assert_eq (pool_recv (pool, &result, 10000), 0, "the plugin did not stop");
    cr_expect_lt (support_now_ms () - start, 5000);
    cr_expect_eq (result.status, POOL_CANCELLED);
    char text[256];
    snprintf (text, sizeof text, "%.*s", (int) zframe_size (result.data),
              (const char *) zframe_data (result.data));
    cr_expect (strstr (text, "saw the cancel flag"), "error: %s", text);
    zframe_destroy (&result.data);
    pool_destroy (&pool);
    registry_destroy (&registry);
    msgpack_sbuffer_destroy (&tuple);
    msgpack_sbuffer_destroy (&options);
}

Test (plugin, a_segfaulting_plugin_kills_its_process, .signal = SIGSEGV)
{
    //  What the agent's worker processes are for: nothing in-process can
    //  survive this, so it must happen in a worker the supervisor restarts.
    s_run (s_plugin ("crashtest"), NULL, "[\"crash\"]");
}

//  ---------------------------------------------------------------------
//  Black-box: a real broker, sink and agent.  The crash test needs the
//  agent's worker processes (a segfault must cost one worker, not the
//  agent); without them, it is skipped rather than failed.

typedef struct {
    char *dir;
    char frontend[64], intake[64], backend[64], sink[64];
    char results[512];
    pid_t broker, sink_pid, agent;
} cluster_t;

//  True if `drover agent --help` mentions every word.
static bool
s_agent_knows (const char *const *words)
{
    char *dir = support_tmpdir ();
    char log[512];
    snprintf (log, sizeof log, "%s/help.txt", dir);
    pid_t pid = support_spawn (log, "agent", "--help", NULL);
    int status = -1;
    SUPPORT_WAIT (support_exited (pid, &status), 10000);
    char *help = support_slurp (log);
    bool known = help != NULL;
    for (size_t i = 0; known && words[i]; i++)
        known = strstr (help, words[i]) != NULL;
    free (help);
    support_rmdir (&dir);
    return known;
}

static void
s_cluster_start (cluster_t *c, const char *processes, const char *threads, const char *slots)
{
    c->dir = support_tmpdir ();
    cr_assert_not_null (c->dir);
    snprintf (c->frontend, sizeof c->frontend, "%s", support_endpoint ());
    snprintf (c->intake, sizeof c->intake, "%s", support_endpoint ());
    snprintf (c->backend, sizeof c->backend, "%s", support_endpoint ());
    snprintf (c->sink, sizeof c->sink, "%s", support_endpoint ());
    snprintf (c->results, sizeof c->results, "%s/results.jsonl", c->dir);
    char log[512];
    snprintf (log, sizeof log, "%s/broker.log", c->dir);
    c->broker = support_spawn (log, "broker", "--frontend", c->frontend, "--intake", c->intake,
                               "--backend", c->backend, "--store", "memory", NULL);
    snprintf (log, sizeof log, "%s/sink.log", c->dir);
    c->sink_pid = support_spawn (log, "sink", "--bind", c->sink, "--output", c->results, NULL);
    snprintf (log, sizeof log, "%s/agent.log", c->dir);
    c->agent = support_spawn (log, "agent", "--broker", c->backend, "--name", "agent-1",
                              "--processes", processes, "--threads", threads,
                              "--slots", slots, NULL);
    cr_assert (c->broker > 0 && c->sink_pid > 0 && c->agent > 0);
}

static cluster_t s_cluster;     //  stopped by the test's fini, even after a failed assert

static void
s_cluster_stop (cluster_t *c)
{
    if (!c->dir)
        return;
    cr_expect_eq (support_stop (c->agent, SIGTERM, 30000), 0, "agent did not exit 0 on SIGTERM");
    cr_expect_eq (support_stop (c->sink_pid, SIGTERM, 10000), 0, "sink did not exit 0");
    cr_expect_eq (support_stop (c->broker, SIGTERM, 10000), 0, "broker did not exit 0");
    support_rmdir (&c->dir);
}

static void
s_cluster_fini (void)
{
    s_cluster_stop (&s_cluster);
    s_teardown ();
}

//  `drover submit --wait` of the tuples in file; its exit status.
static int
s_submit_attempts (cluster_t *c, const char *job, const char *options, const char *file,
                   const char *max_attempts)
{
    char log[512];
    snprintf (log, sizeof log, "%s/submit.log", c->dir);
    pid_t pid = support_spawn (log, "submit", "--broker", c->frontend, "--job", job,
                               "--handler", "plugin", "--options", options,
                               "--max-attempts", max_attempts, "--timeout-ms", "10000",
                               "--sink", c->sink, "--wait", "--quiet", file, NULL);
    cr_assert_gt (pid, 0);
    int status = -1;
    cr_assert (SUPPORT_WAIT (support_exited (pid, &status), 120000), "submit did not finish");
    return status;
}

static int
s_submit (cluster_t *c, const char *job, const char *options, const char *file)
{
    return s_submit_attempts (c, job, options, file, "3");
}

//  Lines of the sink's output for job with "status":"<status>", and how
//  many of those hold text.
static size_t
s_count (const char *path, const char *job, const char *status, const char *text)
{
    char *all = support_slurp (path);
    size_t count = 0;
    char want_job[128], want_status[64];
    snprintf (want_job, sizeof want_job, "{\"job\":\"%s\",", job);
    snprintf (want_status, sizeof want_status, "\"status\":\"%s\"", status);
    for (char *line = all, *next; line && *line; line = next) {
        next = strchr (line, '\n');
        if (next)
            *next++ = 0;
        if (!strncmp (line, want_job, strlen (want_job)) && strstr (line, want_status)
        &&  (!text || strstr (line, text)))
            count++;
        if (!next)
            break;
    }
    free (all);
    return count;
}

Test (plugin, a_segfault_fails_one_tuple_and_the_agent_keeps_serving, .timeout = 300,
      .fini = s_cluster_fini)
{
    const char *const needs[] = { "--processes", NULL };
    if (!s_agent_knows (needs))
        cr_skip_test ("`drover agent` has no worker processes or no plugin handler yet");
    //  One slot: a worker that dies holds only the tuple that killed it.
    //  (With more, the agent may give the same worker the tuples next to it;
    //  they fail that attempt too and, unlucky thrice, end as dead letters.)
    cluster_t *c = &s_cluster;
    s_cluster_start (c, "2", "1", "1");
    char tuples[600], options[1200];
    snprintf (tuples, sizeof tuples, "%s/tuples.jsonl", c->dir);
    FILE *file = fopen (tuples, "w");
    for (int i = 1; i <= 20; i++)
        fprintf (file, i == 7? "[\"crash\", %d]\n": "[\"word\", %d]\n", i);
    fclose (file);
    snprintf (options, sizeof options, "{\"path\": \"%s\"}", s_plugin ("crashtest"));
    int status = s_submit (c, "crashy", options, tuples);
    cr_assert (WIFEXITED (status), "submit status %d; see %s", status, c->dir);
    SUPPORT_WAIT (s_count (c->results, "crashy", "ok", NULL)
                + s_count (c->results, "crashy", "failed", NULL) >= 20, 30000);
    cr_expect_eq (s_count (c->results, "crashy", "ok", "\"word\""), 19, "see %s", c->dir);
    cr_expect_eq (s_count (c->results, "crashy", "failed", "\"crash\""), 1,
                  "the crashing tuple is a dead letter; see %s", c->dir);
    cr_expect_eq (s_count (c->results, "crashy", "ok", "\"crash\""), 0);
    cr_assert_not (support_exited (c->agent, NULL), "the agent died with its worker");

    //  And it serves the next job.
    file = fopen (tuples, "w");
    for (int i = 1; i <= 5; i++)
        fprintf (file, "[\"after\", %d]\n", i);
    fclose (file);
    status = s_submit (c, "after", options, tuples);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "status %d; see %s", status, c->dir);
    cr_assert (SUPPORT_WAIT (s_count (c->results, "after", "ok", NULL) == 5, 30000),
               "see %s", c->dir);
}

Test (plugin, tuples_queued_behind_a_crash_cost_no_attempt, .timeout = 300,
      .fini = s_cluster_fini)
{
    const char *const needs[] = { "--processes", NULL };
    if (!s_agent_knows (needs))
        cr_skip_test ("`drover agent` has no worker processes or no plugin handler yet");
    //  One worker, one thread, many slots: the tuples after the crashing
    //  one wait in that worker's queue when it dies.  They never started,
    //  so with a single attempt allowed they must still all succeed.
    cluster_t *c = &s_cluster;
    s_cluster_start (c, "1", "1", "16");
    char tuples[600], options[1200];
    snprintf (tuples, sizeof tuples, "%s/tuples.jsonl", c->dir);
    FILE *file = fopen (tuples, "w");
    cr_assert_not_null (file);
    fprintf (file, "[\"crash\", 1]\n");
    for (int i = 2; i <= 12; i++)
        fprintf (file, "[\"word\", %d]\n", i);
    fclose (file);
    snprintf (options, sizeof options, "{\"path\": \"%s\"}", s_plugin ("crashtest"));
    int status = s_submit_attempts (c, "queued", options, tuples, "1");
    cr_assert (WIFEXITED (status), "submit status %d; see %s", status, c->dir);
    cr_assert (SUPPORT_WAIT (s_count (c->results, "queued", "ok", NULL)
                           + s_count (c->results, "queued", "failed", NULL) >= 12, 30000),
               "see %s", c->dir);
    cr_expect_eq (s_count (c->results, "queued", "failed", "\"crash\""), 1, "see %s", c->dir);
    cr_expect_eq (s_count (c->results, "queued", "ok", "\"word\""), 11,
                  "tuples that never started were charged an attempt; see %s", c->dir);
    char log[600];
    snprintf (log, sizeof log, "%s/agent.log", c->dir);
    char *text = support_slurp (log);
    cr_expect (text && strstr (text, "had not started"), "no log line for the moved tuples");
    free (text);
}
