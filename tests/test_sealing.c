//  test_sealing.c -- black-box tests of sealed results (issue 5, the agent's
//  side): a real broker (memory store), a real sink with a keypair and a
//  real agent.  With --cert, the agent seals each RESULT for the sink key
//  the job was submitted with and the sink's output holds every result
//  decrypted, exactly once; without a keypair the agent hands such tuples
//  back with a clear error, and nothing reaches the sink.
#include <criterion/criterion.h>

#include "common/json_read.h"
#include "support.h"

#include <msgpack.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TUPLES 200

typedef struct {
    char *dir;
    char path[8][512];          //  scratch file names, see s_file
    char frontend[64], backend[64], sink[64];
    pid_t broker, sinkd, agent, other;  //  other: a second agent
} cluster_t;

enum { F_BROKER_LOG, F_SINK_LOG, F_AGENT_LOG, F_RESULTS, F_TUPLES, F_SUBMIT_LOG,
       F_SINK_CERT, F_AGENT_CERT };

static cluster_t c;

static const char *
s_file (int which)
{
    return c.path[which];
}

static bool
s_log_has (int which, const char *text)
{
    char *log = support_slurp (s_file (which));
    bool found = log && strstr (log, text);
    free (log);
    return found;
}

static int
s_run (const char *log, char *const argv[])
{
    pid_t pid = support_spawnv (log, argv);
    cr_assert_gt (pid, 0);
    int status = 0;
    cr_assert (SUPPORT_WAIT (support_exited (pid, &status), 30000), "%s did not finish", argv[0]);
    return status;
}

static void
setup (void)
{
    memset (&c, 0, sizeof c);
    c.broker = c.sinkd = c.agent = c.other = -1;
    c.dir = support_tmpdir ();
    cr_assert_not_null (c.dir);
    const char *names[] = { "broker.log", "sink.log", "agent.log", "results.jsonl",
                            "tuples.jsonl", "submit.log", "sink", "agent" };
    for (int i = 0; i < 8; i++)
        snprintf (c.path[i], sizeof c.path[i], "%s/%s", c.dir, names[i]);
    //  Keypairs for the sink and the agent.
    for (int i = 0; i < 2; i++) {
        char *argv[] = { "keygen", "--dir", c.dir, i? "agent": "sink", NULL };
        int status = s_run (s_file (F_SUBMIT_LOG), argv);
        cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "keygen failed");
    }
    FILE *file = fopen (s_file (F_TUPLES), "w");
    cr_assert_not_null (file);
    for (int i = 1; i <= TUPLES; i++)
        fprintf (file, "[%d, \"secret-%d\"]\n", i, i);
    fclose (file);

    snprintf (c.frontend, sizeof c.frontend, "%s", support_endpoint ());
    snprintf (c.backend, sizeof c.backend, "%s", support_endpoint ());
    snprintf (c.sink, sizeof c.sink, "%s", support_endpoint ());
    const char *intake = support_endpoint ();
    c.broker = support_spawn (s_file (F_BROKER_LOG), "broker", "--frontend", c.frontend,
                              "--intake", intake, "--backend", c.backend, "--store", "memory",
                              "--log-level", "debug", NULL);
    cr_assert_gt (c.broker, 0);
    c.sinkd = support_spawn (s_file (F_SINK_LOG), "sink", "--bind", c.sink, "--output",
                             s_file (F_RESULTS), "--store", "memory", "--cert",
                             s_file (F_SINK_CERT), "--log-level", "debug", NULL);
    cr_assert_gt (c.sinkd, 0);
    cr_assert (SUPPORT_WAIT (s_log_has (F_SINK_LOG, "sink ready"), 10000), "sink did not start");
}

static void
teardown (void)
{
    pid_t *pids[] = { &c.agent, &c.other, &c.sinkd, &c.broker };
    for (int i = 0; i < 4; i++)
        if (*pids[i] > 0) {
            support_stop (*pids[i], SIGTERM, 10000);
            *pids[i] = -1;
        }
    if (getenv ("SEALING_TEST_LOG"))        //  debugging aid: show where the logs are
        fprintf (stderr, "logs in %s\n", c.dir);
    else
        support_rmdir (&c.dir);
}

TestSuite (sealing, .init = setup, .fini = teardown, .timeout = 90);

static void
s_start_agent (bool with_cert)
{
    char *argv[16];
    int n = 0;
    argv[n++] = "agent";
    argv[n++] = "--broker";
    argv[n++] = c.backend;
    argv[n++] = "--processes";
    argv[n++] = "0";
    argv[n++] = "--threads";
    argv[n++] = "2";
    argv[n++] = "--result-timeout-ms";
    argv[n++] = "500";
    if (with_cert) {
        argv[n++] = "--cert";
        argv[n++] = (char *) s_file (F_AGENT_CERT);
    }
    argv[n++] = "--log-level";
    argv[n++] = "debug";
    argv[n] = NULL;
    c.agent = support_spawnv (s_file (F_AGENT_LOG), argv);
    cr_assert_gt (c.agent, 0);
}

//  Submit the tuples as job, its results sealed for the sink's key.
static void
s_submit (const char *job, const char *max_attempts)
{
    char *argv[] = { "submit", "--broker", c.frontend, "--job", (char *) job,
                     "--handler", "echo", "--sink", c.sink,
                     "--sink-key", (char *) s_file (F_SINK_CERT),
                     "--max-attempts", (char *) max_attempts,
                     (char *) s_file (F_TUPLES), NULL };
    int status = s_run (s_file (F_SUBMIT_LOG), argv);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "submit failed: see %s",
               s_file (F_SUBMIT_LOG));
}

static const msgpack_object *
s_get (const msgpack_object *map, const char *key)
{
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen (key)
        &&  !memcmp (k->via.str.ptr, key, k->via.str.size))
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

//  Every tuple's result once, ok, its output the tuple in clear text.
static void
s_expect_results_once (const char *job)
{
    char *text = support_slurp (s_file (F_RESULTS));
    cr_assert_not_null (text);
    static int seen[TUPLES + 1];
    memset (seen, 0, sizeof seen);
    size_t lines = 0;
    char *save = NULL;
    for (char *line = strtok_r (text, "\n", &save); line; line = strtok_r (NULL, "\n", &save)) {
        lines++;
        msgpack_sbuffer buffer;
        msgpack_sbuffer_init (&buffer);
        char err[128];
        cr_assert_eq (json_to_msgpack (line, strlen (line), &buffer, err, sizeof err), 0,
                      "not JSON (%s): %s", err, line);
        msgpack_unpacked unpacked;
        msgpack_unpacked_init (&unpacked);
        size_t offset = 0;
        cr_assert_eq (msgpack_unpack_next (&unpacked, buffer.data, buffer.size, &offset),
                      MSGPACK_UNPACK_SUCCESS);
        const msgpack_object *map = &unpacked.data;
        const msgpack_object *name = s_get (map, "job");
        const msgpack_object *status = s_get (map, "status");
        const msgpack_object *output = s_get (map, "output");
        cr_assert (name && name->type == MSGPACK_OBJECT_STR
                   && name->via.str.size == strlen (job)
                   && !memcmp (name->via.str.ptr, job, strlen (job)), "%s", line);
        cr_assert (status && status->type == MSGPACK_OBJECT_STR && status->via.str.size == 2
                   && !memcmp (status->via.str.ptr, "ok", 2), "%s", line);
        //  echo: the output is the tuple [i, "secret-i"], readable.
        cr_assert (output && output->type == MSGPACK_OBJECT_ARRAY
                   && output->via.array.size == 2
                   && output->via.array.ptr[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER,
                   "%s", line);
        uint64_t value = output->via.array.ptr[0].via.u64;
        cr_assert (value >= 1 && value <= TUPLES, "%s", line);
        char secret[32];
        snprintf (secret, sizeof secret, "secret-%d", (int) value);
        const msgpack_object *word = &output->via.array.ptr[1];
        cr_assert (word->type == MSGPACK_OBJECT_STR && word->via.str.size == strlen (secret)
                   && !memcmp (word->via.str.ptr, secret, strlen (secret)), "%s", line);
        seen[value]++;
        msgpack_unpacked_destroy (&unpacked);
        msgpack_sbuffer_destroy (&buffer);
    }
    free (text);
    cr_expect_eq (lines, TUPLES, "%zu lines for %d tuples", lines, TUPLES);
    for (int i = 1; i <= TUPLES; i++)
        cr_expect_eq (seen[i], 1, "tuple value %d is in the output %d times", i, seen[i]);
}

//  The sink's shutdown line: "sealed batches: N opened".
static unsigned long
s_sealed_opened (void)
{
    char *log = support_slurp (s_file (F_SINK_LOG));
    const char *at = log? strstr (log, "sealed batches: "): NULL;
    unsigned long opened = at? strtoul (at + strlen ("sealed batches: "), NULL, 10): 0;
    free (log);
    return opened;
}

Test (sealing, sealed_results_arrive_decrypted_exactly_once)
{
    s_start_agent (true);
    s_submit ("sealed", "3");
    cr_assert (SUPPORT_WAIT (support_count_lines (s_file (F_RESULTS)) >= TUPLES, 30000),
               "%zu of %d results stored (logs in %s)",
               support_count_lines (s_file (F_RESULTS)), TUPLES, c.dir);
    //  Every STORED reached the agent and its DONE the broker: the agent
    //  holds nothing, so no resend can add a line after this.
    cr_assert_eq (support_stop (c.agent, SIGTERM, 20000), 0);
    c.agent = -1;
    cr_assert (s_log_has (F_AGENT_LOG, "results sealed"), "the agent did not seal");
    cr_assert_eq (support_stop (c.sinkd, SIGTERM, 10000), 0);
    c.sinkd = -1;
    s_expect_results_once ("sealed");
    cr_expect_gt (s_sealed_opened (), 0, "the sink opened no sealed batch");
    cr_expect (s_log_has (F_SINK_LOG, "0 bad messages"), "the sink refused something");
    //  The output is in clear text; the wire was not: no result travelled
    //  unsealed (the sink takes sealed results only and refused none).
    cr_expect_not (s_log_has (F_SINK_LOG, "bad message from"));
}

Test (sealing, agent_without_cert_hands_sealed_jobs_back)
{
    s_start_agent (false);
    s_submit ("needs-keys", "10");      //  the keyless agent only RETRYs
    cr_assert (SUPPORT_WAIT (s_log_has (F_AGENT_LOG, "job needs sealed results: start the "
                                        "agent with --cert"), 20000),
               "no clear error in the agent's log (%s)", c.dir);
    //  The broker hears why: the tuples' attempts failed with that reason.
    cr_assert (SUPPORT_WAIT (s_log_has (F_BROKER_LOG, "job needs sealed results"), 20000),
               "the broker did not get the reason (%s)", c.dir);
    cr_assert_eq (support_stop (c.agent, SIGTERM, 20000), 0);
    c.agent = -1;
    cr_expect_eq (support_count_lines (s_file (F_RESULTS)), 0,
                  "an agent without keys stored results for a sealed job");
    //  An agent with keys takes them over.
    s_start_agent (true);
    cr_assert (SUPPORT_WAIT (support_count_lines (s_file (F_RESULTS)) >= TUPLES, 30000),
               "%zu of %d results stored after an agent with keys came (%s)",
               support_count_lines (s_file (F_RESULTS)), TUPLES, c.dir);
}

//  A RESULT not stored in time goes again sealed anew (a new seq): while
//  the sink is stopped the agent resends (both wait in its socket), and
//  when it resumes the sink sees duplicates (dropped) but no replay.
Test (sealing, resends_are_sealed_anew)
{
    s_start_agent (true);
    kill (c.sinkd, SIGSTOP);
    s_submit ("resent", "3");
    bool resent = SUPPORT_WAIT (s_log_has (F_AGENT_LOG, "results again"), 20000);
    kill (c.sinkd, SIGCONT);
    cr_assert (resent, "the agent did not resend (%s)", c.dir);
    cr_assert (SUPPORT_WAIT (support_count_lines (s_file (F_RESULTS)) >= TUPLES, 30000),
               "%zu of %d results stored (%s)", support_count_lines (s_file (F_RESULTS)),
               TUPLES, c.dir);
    cr_assert_eq (support_stop (c.agent, SIGTERM, 20000), 0);
    c.agent = -1;
    cr_assert_eq (support_stop (c.sinkd, SIGTERM, 10000), 0);
    c.sinkd = -1;
    s_expect_results_once ("resent");
    cr_expect (s_log_has (F_SINK_LOG, " 0 tampered, 0 replayed"), "a resend was a replay");
    cr_expect_not (s_log_has (F_SINK_LOG, ", 0 duplicates dropped, "),
                   "no resend reached the sink");
}

//  Everything keyed: the agent also reaches the broker with CURVE
//  (--broker-key), and an agent without the broker's key gets no work.
Test (sealing, curve_to_the_broker_and_sealed_to_the_sink)
{
    char broker_cert[600];
    snprintf (broker_cert, sizeof broker_cert, "%s/broker", c.dir);
    char *keygen[] = { "keygen", "--dir", c.dir, "broker", NULL };
    int status = s_run (s_file (F_SUBMIT_LOG), keygen);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "keygen failed");
    cr_assert_eq (support_stop (c.broker, SIGTERM, 10000), 0);
    unlink (s_file (F_BROKER_LOG));
    snprintf (c.frontend, sizeof c.frontend, "%s", support_endpoint ());
    snprintf (c.backend, sizeof c.backend, "%s", support_endpoint ());
    const char *intake = support_endpoint ();
    c.broker = support_spawn (s_file (F_BROKER_LOG), "broker", "--frontend", c.frontend,
                              "--intake", intake, "--backend", c.backend, "--store", "memory",
                              "--cert", broker_cert, "--allow-producers", "any",
                              "--allow-agents", "any", "--log-level", "debug", NULL);
    cr_assert_gt (c.broker, 0);
    cr_assert (SUPPORT_WAIT (s_log_has (F_BROKER_LOG, "broker ready"), 10000),
               "keyed broker did not start (%s)", c.dir);

    //  An agent that does not know the broker's key never joins.
    s_start_agent (true);
    c.other = c.agent;
    c.agent = support_spawn (s_file (F_AGENT_LOG), "agent", "--broker", c.backend,
                             "--processes", "0", "--threads", "2", "--name", "keyed-agent",
                             "--cert", s_file (F_AGENT_CERT), "--broker-key", broker_cert,
                             "--log-level", "debug", NULL);
    cr_assert_gt (c.agent, 0);
    cr_assert (SUPPORT_WAIT (s_log_has (F_BROKER_LOG, "agent keyed-agent joined"), 10000),
               "the agent with the broker's key did not join (%s)", c.dir);

    char *submit[] = { "submit", "--broker", c.frontend, "--job", "all-keyed",
                       "--handler", "echo", "--sink", c.sink,
                       "--sink-key", (char *) s_file (F_SINK_CERT),
                       "--cert", (char *) s_file (F_AGENT_CERT), "--broker-key", broker_cert,
                       (char *) s_file (F_TUPLES), NULL };
    status = s_run (s_file (F_SUBMIT_LOG), submit);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "submit failed: see %s",
               s_file (F_SUBMIT_LOG));
    cr_assert (SUPPORT_WAIT (support_count_lines (s_file (F_RESULTS)) >= TUPLES, 30000),
               "%zu of %d results stored (%s)", support_count_lines (s_file (F_RESULTS)),
               TUPLES, c.dir);
    cr_assert_eq (support_stop (c.agent, SIGTERM, 20000), 0);
    c.agent = -1;
    cr_expect_eq (support_stop (c.other, SIGTERM, 20000), 0);
    c.other = -1;
    cr_assert_eq (support_stop (c.sinkd, SIGTERM, 10000), 0);
    c.sinkd = -1;
    s_expect_results_once ("all-keyed");
    cr_expect_gt (s_sealed_opened (), 0);
    char *log = support_slurp (s_file (F_BROKER_LOG));
    int joined = 0;
    for (const char *at = log; at && (at = strstr (at, " joined (")); at++)
        joined++;
    cr_expect_eq (joined, 1, "only the keyed agent joined:\n%s", log? log: "");
    free (log);
}

//  A last attempt the agent cannot seal is not RETRYed (the broker would
//  count it failed with no dead letter at the sink): it stays leased until
//  an agent with keys can store it.
Test (sealing, last_attempt_without_cert_is_not_lost)
{
    s_start_agent (false);
    s_submit ("last-try", "1");
    cr_assert (SUPPORT_WAIT (s_log_has (F_AGENT_LOG, "on their last attempt left to their "
                                        "lease"), 20000),
               "the keyless agent did not leave the last attempts alone (%s)", c.dir);
    cr_assert_eq (support_stop (c.agent, SIGTERM, 20000), 0);
    c.agent = -1;
    cr_expect_eq (support_count_lines (s_file (F_RESULTS)), 0);
    s_start_agent (true);
    cr_assert (SUPPORT_WAIT (support_count_lines (s_file (F_RESULTS)) >= TUPLES, 30000),
               "%zu of %d results stored (%s)", support_count_lines (s_file (F_RESULTS)),
               TUPLES, c.dir);
    cr_assert_eq (support_stop (c.agent, SIGTERM, 20000), 0);
    c.agent = -1;
    cr_expect_eq (support_count_lines (s_file (F_RESULTS)), TUPLES);
    cr_expect_not (s_log_has (F_BROKER_LOG, "the sink has no dead letter"));
}
