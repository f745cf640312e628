//  test_schedule.c -- recurring jobs (PROTOCOL.md 15) against real
//  processes: `drover schedule add` with --every, its jobs made tick after
//  tick and run to the sink; the schedule kept across a broker kill -9; a
//  tick missed while the broker was down run once at start; add, list and
//  rm, and what they refuse (duplicates, a bad cron with the parser's
//  message, an unknown name), on the LMDB and the memory store.
#include "support.h"
#include "support_durability.h"
#include "proto/wire.h"

#include <criterion/criterion.h>
#include <inttypes.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TUPLES 20

//  `drover schedule ARGS... --broker FRONTEND`, its output in c->dir/name;
//  the exit status.
static int
s_cli (cluster_t *c, const char *log_name, const char *const args[])
{
    char log[512];
    cluster_path (c, log_name, log, sizeof log);
    char *argv[40] = { "schedule" };
    size_t argc = 1;
    for (size_t i = 0; args[i]; i++)
        argv[argc++] = (char *) args[i];
    argv[argc++] = "--broker";
    argv[argc++] = c->frontend;
    argv[argc] = NULL;
    pid_t pid = support_spawnv (log, argv);
    cr_assert_gt (pid, 0);
    int status = -1;
    cr_assert (SUPPORT_WAIT (support_exited (pid, &status), 30000), "schedule did not finish");
    return WIFEXITED (status)? WEXITSTATUS (status): -1;
}

//  A request of one page (SCHEDULE or JOBS) answered; its entries unpacked
//  into *page, pointing into *reply_p (both the caller's to destroy), or
//  false.
static bool
s_page (cluster_t *c, msg_t *request, msgpack_unpacked *page, msg_t **reply_p)
{
    msg_t *reply = *reply_p = cluster_request (c->frontend, &request, 2000);
    bool ok = reply && msg_payload_count (reply) == 1;
    if (ok) {
        zframe_t *frame = msg_payload (reply, 0);
        msgpack_unpacked_init (page);
        ok = msgpack_unpack_next (page, (const char *) zframe_data (frame),
                                  zframe_size (frame), NULL) == MSGPACK_UNPACK_SUCCESS
          && page->data.type == MSGPACK_OBJECT_ARRAY;
        if (!ok)
            msgpack_unpacked_destroy (page);
    }
    if (!ok)
        msg_destroy (reply_p);
    return ok;
}

static uint64_t
s_uint (const msgpack_object *entry, const char *key)
{
    const msgpack_object *value = support_map_get (entry, key);
    return value && value->type == MSGPACK_OBJECT_POSITIVE_INTEGER? value->via.u64: 0;
}

static void
s_str (const msgpack_object *entry, const char *key, char *buf, size_t size)
{
    const msgpack_object *value = support_map_get (entry, key);
    if (value && value->type == MSGPACK_OBJECT_STR)
        snprintf (buf, size, "%.*s", (int) value->via.str.size, value->via.str.ptr);
    else
        snprintf (buf, size, "%s", "");
}

//  The entry of schedule name in SCHEDULE list: its last_run (0: never) and
//  every_ms; false if the broker does not answer or has no such schedule.
static bool
s_schedule (cluster_t *c, const char *name, uint64_t *last_run, uint64_t *every_ms)
{
    msg_t *request = msg_new (MSG_SCHEDULE);
    msg_set_str (request, MSG_F_OP, "list");
    msgpack_unpacked page;
    msg_t *reply = NULL;
    if (!s_page (c, request, &page, &reply))
        return false;
    bool found = false;
    for (uint32_t i = 0; i < page.data.via.array.size && !found; i++) {
        char entry_name[256];
        s_str (&page.data.via.array.ptr[i], "schedule", entry_name, sizeof entry_name);
        if ((found = !strcmp (entry_name, name))) {
            *last_run = s_uint (&page.data.via.array.ptr[i], "last_run");
            *every_ms = s_uint (&page.data.via.array.ptr[i], "every_ms");
        }
    }
    msgpack_unpacked_destroy (&page);
    msg_destroy (&reply);
    return found;
}

//  The ticks (from their names, NAME-YYYYMMDDTHHMMSSZ) of the jobs schedule
//  name made, ascending, into ticks; how many (0 if the broker does not
//  answer).
static size_t
s_ticks (cluster_t *c, const char *name, int64_t *ticks, size_t max)
{
    msg_t *request = msg_new (MSG_JOBS);
    msgpack_unpacked page;
    msg_t *reply = NULL;
    if (!s_page (c, request, &page, &reply))
        return 0;
    size_t count = 0;
    for (uint32_t i = 0; i < page.data.via.array.size && count < max; i++) {
        char job[256];
        s_str (&page.data.via.array.ptr[i], "job", job, sizeof job);
        struct tm tm = { 0 };
        size_t prefix = strlen (name);
        if (strncmp (job, name, prefix) || job[prefix] != '-'
        ||  !strptime (job + prefix + 1, "%Y%m%dT%H%M%SZ", &tm))
            continue;
        int64_t tick = (int64_t) timegm (&tm);
        size_t at = count++;
        while (at > 0 && ticks[at - 1] > tick) {
            ticks[at] = ticks[at - 1];
            at--;
        }
        ticks[at] = tick;
    }
    msgpack_unpacked_destroy (&page);
    msg_destroy (&reply);
    return count;
}

static void
s_job_name (const char *name, int64_t tick, char *job, size_t size)
{
    time_t when = (time_t) tick;
    struct tm tm;
    gmtime_r (&when, &tm);
    char stamp[32];
    strftime (stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    snprintf (job, size, "%s-%s", name, stamp);
}

//  Add schedule name, every `every`, of the tuples file, with the echo handler.
static void
s_add_every (cluster_t *c, const char *name, const char *every)
{
    char tuples[512];
    cluster_path (c, "tuples.jsonl", tuples, sizeof tuples);
    cluster_write_tuples (tuples, TUPLES, cluster_plain);
    const char *args[] = { "add", name, "--every", every, "--handler", "echo",
                           "--sink", c->sink, tuples, NULL };
    cr_assert_eq (s_cli (c, "add.log", args), 0, "schedule add failed (%s)", c->dir);
}

Test (schedule, makes_a_job_each_tick_and_they_run_to_the_sink, .timeout = 120)
{
    cluster_t c = { 0 };
    cluster_start (&c, 1);
    s_add_every (&c, "tick", "2s");
    int64_t ticks[64];
    cr_assert (SUPPORT_WAIT (s_ticks (&c, "tick", ticks, 64) >= 2, 30000),
               "two ticks made no two jobs (%s)", c.dir);
    size_t made = s_ticks (&c, "tick", ticks, 64);
    cr_assert_geq (ticks[1] - ticks[0], 2, "ticks 2 s apart at least");
    //  Each job holds the schedule's tuples, closed, and completes at the sink.
    for (size_t i = 0; i < 2; i++) {
        char job[256];
        s_job_name ("tick", ticks[i], job, sizeof job);
        counters_t counters;
        cr_assert (SUPPORT_WAIT (cluster_complete (&c, job, &counters), 30000),
                   "job %s did not complete (%s)", job, c.dir);
        cr_assert_eq (counters.submitted, TUPLES);
        cr_assert_eq (counters.done, TUPLES);
        tally_t tally;
        cr_assert (SUPPORT_WAIT ((tally = cluster_tally (c.results, job, TUPLES)).ok == TUPLES,
                                 10000), "job %s: %zu of %d ok at the sink", job, tally.ok,
                   TUPLES);
        cr_assert_eq (tally.missing, 0);
    }
    //  The listing says what ran last.
    uint64_t last_run = 0, every_ms = 0;
    cr_assert (s_schedule (&c, "tick", &last_run, &every_ms));
    cr_assert_eq (every_ms, 2000);
    cr_assert_geq ((int64_t) last_run, ticks[made - 1]);
    cluster_stop (&c);
}

//  A broker killed with SIGKILL keeps its schedules; ticks that passed while
//  it was down make one job at start, for the latest, not one each.
Test (schedule, survives_kill9_and_a_missed_tick_runs_once_at_start, .timeout = 120)
{
    cluster_t c = { 0 };
    cluster_init (&c);
    cluster_broker_start (&c);
    s_add_every (&c, "beat", "5s");
    uint64_t last = 0, every_ms = 0;
    cr_assert (SUPPORT_WAIT (s_schedule (&c, "beat", &last, &every_ms) && last > 0, 20000),
               "no tick ran (%s)", c.dir);
    cluster_kill9 (&c.broker);
    //  Two ticks (last + 5, last + 10) pass while it is down.
    cr_assert (SUPPORT_WAIT (time (NULL) >= (time_t) last + 11, 20000));
    cluster_broker_start (&c);
    cr_assert (SUPPORT_WAIT (s_schedule (&c, "beat", &last, &every_ms), 20000),
               "the schedule is gone after kill -9 (%s)", c.dir);
    int64_t answered = (int64_t) time (NULL);
    cr_assert_eq (every_ms, 5000);
    int64_t ticks[64];
    size_t count = 0;
    cr_assert (SUPPORT_WAIT ((count = s_ticks (&c, "beat", ticks, 64)) >= 2, 20000),
               "no job made after the restart (%s)", c.dir);
    //  ticks[0] is the job made before the kill; then one for the missed
    //  ticks, made at start (no later than the broker first answered),
    //  for the latest of them.
    size_t missed = 0;
    for (size_t i = 1; i < count; i++)
        missed += ticks[i] <= answered;
    cr_assert_eq (missed, 1, "%zu jobs for the ticks missed while down (%s)", missed, c.dir);
    cr_assert_geq (ticks[1], ticks[0] + 10, "the missed tick that ran is the latest");
    cluster_stop (&c);
}

//  Add, list, rm, and the refusals, through the CLI and the wire.
static void
s_add_list_rm (const char *store)
{
    cluster_t c = { 0 };
    cluster_init (&c);
    char log[512];
    cluster_path (&c, "broker.log", log, sizeof log);
    c.broker = support_spawn (log, "broker", "--frontend", c.frontend, "--intake", c.intake,
                              "--backend", c.backend, "--store", store, "--data-dir",
                              c.broker_data, NULL);
    cr_assert_gt (c.broker, 0);
    cr_assert (SUPPORT_WAIT (support_count_text (log, "broker ready") > 0, 20000));
    s_add_every (&c, "b-one", "1h");
    const char *spec[] = { "add", "a-scan", "--cron", "0 2 * * mon-fri", "-H", "tcp-probe",
                           "--targets", "10.0.0.0/30", "--ports", "80,443", NULL };
    cr_assert_eq (s_cli (&c, "spec.log", spec), 0);
    //  A spec schedule's tick makes a spec job: 4 hosts x 2 ports, closed.
    const char *beat[] = { "add", "spec-beat", "--every", "1s", "-H", "echo", "--targets",
                           "10.0.0.0/30", "--ports", "80,443", NULL };
    cr_assert_eq (s_cli (&c, "beat.log", beat), 0);
    int64_t ticks[64];
    cr_assert (SUPPORT_WAIT (s_ticks (&c, "spec-beat", ticks, 64) >= 1, 20000),
               "no spec job made (%s)", c.dir);
    char job[256];
    s_job_name ("spec-beat", ticks[0], job, sizeof job);
    counters_t counters;
    cr_assert_eq (cluster_status (&c, job, &counters), 0);
    cr_assert_eq (counters.submitted, 8, "%s: %" PRIu64 " tuples", job, counters.submitted);
    cr_assert_str_eq (counters.state, "closed");
    const char *beat_rm[] = { "rm", "spec-beat", NULL };
    cr_assert_eq (s_cli (&c, "beat-rm.log", beat_rm), 0);
    //  Refused: a name taken, a bad cron (with the parser's reason), both
    //  or neither of cron and every, a bad sink, an unknown name to rm.
    char out[512];
    cluster_path (&c, "dup.log", out, sizeof out);
    const char *dup[] = { "add", "b-one", "--every", "30s", "-H", "echo", "--targets",
                          "10.0.0.1", "--ports", "80", NULL };
    cr_assert_eq (s_cli (&c, "dup.log", dup), 1);
    cr_assert_gt (support_count_text (out, "CONFLICT: schedule b-one exists"), 0);
    const char *cron[] = { "add", "c", "--cron", "61 * * * *", "-H", "echo", "--targets",
                           "10.0.0.1", "--ports", "80", NULL };
    cr_assert_eq (s_cli (&c, "cron.log", cron), 1);
    cluster_path (&c, "cron.log", out, sizeof out);
    cr_assert_gt (support_count_text (out, "'61' is out of range for the minute"), 0);
    const char *neither[] = { "add", "c", "-H", "echo", "--targets", "10.0.0.1", "--ports",
                              "80", NULL };
    cr_assert_eq (s_cli (&c, "neither.log", neither), 2);
    const char *sink[] = { "add", "c", "--every", "1m", "-H", "echo", "--sink", "tcp://*:1",
                           "--targets", "10.0.0.1", "--ports", "80", NULL };
    cr_assert_eq (s_cli (&c, "sink.log", sink), 1);
    const char *rm_unknown[] = { "rm", "nope", NULL };
    cr_assert_eq (s_cli (&c, "rm-unknown.log", rm_unknown), 1);
    cluster_path (&c, "rm-unknown.log", out, sizeof out);
    cr_assert_gt (support_count_text (out, "no schedule nope"), 0);
    //  The wire refuses what the CLI would not send.
    msg_t *request = msg_new (MSG_SCHEDULE);
    msg_set_str (request, MSG_F_OP, "add");
    msg_set_str (request, MSG_F_CRON, "@daily");
    msg_t *reply = cluster_request (c.frontend, &request, 2000);
    cr_assert (reply && msg_command (reply) == MSG_ERROR);
    cr_assert_eq (msg_uint (reply, MSG_F_CODE), DRV_E_BAD_TYPE);
    msg_destroy (&reply);
    //  list, in name order, as a table and as JSON.
    const char *list[] = { "list", NULL };
    cr_assert_eq (s_cli (&c, "list.log", list), 0);
    cluster_path (&c, "list.log", out, sizeof out);
    char *text = support_slurp (out);
    cr_assert (text && strstr (text, "NEXT RUN (UTC)") && strstr (text, "0 2 * * mon-fri")
               && strstr (text, "every 3600s"), "%s", text);
    cr_assert_lt (strstr (text, "a-scan"), strstr (text, "b-one"));
    free (text);
    uint64_t last_run = 1, every_ms = 0;
    cr_assert (s_schedule (&c, "b-one", &last_run, &every_ms));
    cr_assert_eq (last_run, 0, "it never ran");
    cr_assert_eq (every_ms, 3600000);
    //  rm, then it is gone.
    const char *rm[] = { "rm", "b-one", NULL };
    cr_assert_eq (s_cli (&c, "rm.log", rm), 0);
    cr_assert_not (s_schedule (&c, "b-one", &last_run, &every_ms));
    cr_assert (s_schedule (&c, "a-scan", &last_run, &every_ms));
    cluster_stop (&c);
}

Test (schedule, add_list_rm_and_refusals_lmdb, .timeout = 120)
{
    s_add_list_rm ("lmdb");
}

Test (schedule, add_list_rm_and_refusals_memory, .timeout = 120)
{
    s_add_list_rm ("memory");
}
