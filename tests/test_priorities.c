//  test_priorities.c -- priorities and delays (PROTOCOL.md 13), black-box on
//  the cluster of support_durability.h with one agent of one slot, so that
//  the order tuples start in (the sink's started_us) is the order the
//  broker handed them out: a higher priority submitted later goes first,
//  a lower one still gets its turns, a job or tuple delayed never starts
//  before its not_before, also across a broker SIGKILL.
#include "support.h"
#include "support_durability.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define RESULTS_MAX 1000

//  A result of the sink's output: its job, tuple id and start time.
typedef struct {
    char job[32];
    uint64_t tuple;
    uint64_t started_us;
} started_t;

static uint64_t
s_number_after (const char *line, const char *key)
{
    const char *at = strstr (line, key);
    return at? strtoull (at + strlen (key) + strspn (at + strlen (key), " "), NULL, 10): 0;
}

//  The results in the output, in start order.  Returns how many.
static int
s_by_start (const void *a, const void *b)
{
    uint64_t x = ((const started_t *) a)->started_us, y = ((const started_t *) b)->started_us;
    return x < y? -1: x > y;
}

static size_t
s_started (const char *results, started_t *out, size_t max)
{
    char *text = support_slurp (results);
    cr_assert_not_null (text);
    size_t n = 0;
    char *save = NULL;
    for (char *line = strtok_r (text, "\n", &save); line && n < max;
         line = strtok_r (NULL, "\n", &save)) {
        const char *job = strstr (line, "\"job\":");
        if (!job || sscanf (job + 6, " \"%31[^\"]\"", out[n].job) != 1)
            continue;
        out[n].tuple = s_number_after (line, "\"tuple\":");
        out[n].started_us = s_number_after (line, "\"started_us\":");
        n++;
    }
    free (text);
    qsort (out, n, sizeof *out, s_by_start);
    return n;
}

//  Wait until job is complete; its results (every job's) in start order
//  into started.  Returns how many.
static size_t
s_complete_started (cluster_t *c, const char *job, started_t *started)
{
    counters_t counters;
    cr_assert (SUPPORT_WAIT (cluster_complete (c, job, &counters), 60000),
               "job %s never completed (%s)", job, c->dir);
    return s_started (c->results, started, RESULTS_MAX);
}

//  `drover submit` of count tuples [ms] to a new closed job, with extra
//  flags (NULL-terminated); all ACCEPTED once this returns.
static void
s_submit (cluster_t *c, const char *job, int count, const char *ms, const char *flag,
          const char *value)
{
    char tuples[512], log[512], line[64];
    cluster_path (c, job, tuples, sizeof tuples);
    FILE *file = fopen (tuples, "w");
    cr_assert_not_null (file);
    snprintf (line, sizeof line, "[%s]\n", ms);
    for (int i = 0; i < count; i++)
        fputs (line, file);
    fclose (file);
    snprintf (log, sizeof log, "%s/submit-%s.log", c->dir, job);
    pid_t pid = flag
              ? support_spawn (log, "submit", "--broker", c->frontend, "--job", job,
                               "--handler", "sleep", "--sink", c->sink, "--quiet", flag, value,
                               tuples, NULL)
              : support_spawn (log, "submit", "--broker", c->frontend, "--job", job,
                               "--handler", "sleep", "--sink", c->sink, "--quiet", tuples, NULL);
    int status = -1;
    cr_assert (SUPPORT_WAIT (support_exited (pid, &status), 60000), "submit hung");
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "submit failed: %s", log);
}

//  A cluster whose one agent runs one tuple at a time.
static void
s_start_one_slot (cluster_t *c)
{
    *c = (cluster_t) { .agent_slots = "1" };
    cluster_start (c, 1);
}

Test (priorities, later_higher_priority_runs_before_queued_lower, .timeout = 120)
{
    cluster_t c;
    s_start_one_slot (&c);
    s_submit (&c, "low", 30, "300", "--priority", "1");
    //  The agent is busy with low's tuples; most of 30 wait, for 9 s.
    cr_assert (SUPPORT_WAIT (support_count_lines (c.results) >= 1, 30000), "no result");
    s_submit (&c, "high", 5, "200", "--priority", "8");
    counters_t counters;
    cr_assert (SUPPORT_WAIT (cluster_complete (&c, "low", &counters), 60000), "low stuck");
    cr_assert (SUPPORT_WAIT (cluster_complete (&c, "high", &counters), 60000), "high stuck");

    started_t started[RESULTS_MAX];
    size_t n = s_started (c.results, started, RESULTS_MAX);
    cr_assert_eq (n, 35);
    //  The five high ones start one after the other, with no low between,
    //  and most of low's waited for them.
    size_t first_high = n, high = 0, low_after = 0;
    for (size_t i = 0; i < n; i++) {
        bool is_high = !strcmp (started[i].job, "high");
        if (is_high && first_high == n)
            first_high = i;
        if (is_high)
            high++;
        else
        if (first_high < n)
            low_after++;
        if (first_high < n && high < 5)
            cr_expect (is_high, "low tuple %" PRIu64 " started between high ones (%s)",
                       started[i].tuple, c.dir);
    }
    cr_expect_eq (high, 5);
    cr_expect_geq (low_after, 10, "only %zu low tuples started after the high ones (%s)",
                   low_after, c.dir);
    cluster_stop (&c);
}

Test (priorities, lower_level_progresses_under_sustained_load, .timeout = 180)
{
    cluster_t c;
    s_start_one_slot (&c);
    s_submit (&c, "flood", 600, "10", "--priority", "9");
    cr_assert (SUPPORT_WAIT (support_count_lines (c.results) >= 1, 30000), "no result");
    s_submit (&c, "trickle", 3, "10", "--priority", "0");
    counters_t counters;
    cr_assert (SUPPORT_WAIT (cluster_complete (&c, "trickle", &counters), 60000),
               "the low-priority job starved (%s)", c.dir);
    cr_assert (SUPPORT_WAIT (cluster_complete (&c, "flood", &counters), 60000), "flood stuck");

    started_t started[RESULTS_MAX];
    size_t n = s_started (c.results, started, RESULTS_MAX);
    cr_assert_eq (n, 603);
    //  1 tuple in 16 goes to the lower level while the flood waits: the
    //  trickle's 3 are done long before the flood's 600 (in about 48 of
    //  them, whenever the trickle came).
    size_t last_low = 0;
    for (size_t i = 0; i < n; i++)
        if (!strcmp (started[i].job, "trickle"))
            last_low = i;
    cr_expect_geq (n - 1 - last_low, 100, "only %zu flood tuples started after the last low "
                   "one (%s)", n - 1 - last_low, c.dir);
    cluster_stop (&c);
}

//  A STATUS answer's field, or UINT64_MAX if the broker did not answer.
static uint64_t
s_status_field (const cluster_t *c, const char *job, msg_field_t field)
{
    msg_t *request = msg_new (MSG_STATUS);
    msg_set_str (request, MSG_F_JOB, job);
    msg_t *reply = cluster_request (c->frontend, &request, 2000);
    uint64_t value = reply && msg_command (reply) == MSG_JOB && msg_has (reply, field)
                   ? msg_uint (reply, field): UINT64_MAX;
    msg_destroy (&reply);
    return value;
}

Test (priorities, delayed_job_waits_across_a_kill9, .timeout = 120)
{
    cluster_t c;
    s_start_one_slot (&c);
    uint64_t submitted_ms = (uint64_t) zclock_time ();
    s_submit (&c, "later", 3, "0", "--delay", "10");
    cr_expect_eq (s_status_field (&c, "later", MSG_F_DELAYED), 3);
    cr_expect_eq (s_status_field (&c, "later", MSG_F_PRIORITY), 5);
    cr_expect_eq (s_status_field (&c, "later", MSG_F_MAX_ATTEMPTS), 3);
    uint64_t not_before = s_status_field (&c, "later", MSG_F_NOT_BEFORE);
    cr_expect (not_before >= submitted_ms + 10000 && not_before < submitted_ms + 60000,
               "not_before %" PRIu64 ", submitted at %" PRIu64, not_before, submitted_ms);
    //  `drover status --json` says so too.
    char log[512];
    cluster_path (&c, "status.log", log, sizeof log);
    pid_t pid = support_spawn (log, "status", "--broker", c.frontend, "--json", "later", NULL);
    int status = -1;
    cr_assert (SUPPORT_WAIT (support_exited (pid, &status), 30000));
    cr_expect_eq (support_count_text (log, "\"delayed\":3"), 1, "see %s", log);

    cluster_kill9 (&c.broker);
    cluster_broker_start (&c);
    started_t started[RESULTS_MAX];
    size_t n = s_complete_started (&c, "later", started);
    cr_assert_eq (n, 3);
    for (size_t i = 0; i < n; i++)
        cr_expect_geq (started[i].started_us, not_before * 1000,
                       "tuple %" PRIu64 " started %" PRIu64 " us before its not_before",
                       started[i].tuple, not_before * 1000 - started[i].started_us);
    cr_expect_eq (s_status_field (&c, "later", MSG_F_DELAYED), 0);
    cluster_stop (&c);
}

//  A SUBMIT of count tuples [ms] to a new job at priority 2, closed, with
//  per_tuple (raw msgpack, or NULL); the reply.
static msg_t *
s_submit_wire (const cluster_t *c, const char *job, int count, int ms,
               const void *per_tuple, size_t size)
{
    msg_t *submit = msg_new (MSG_SUBMIT);
    msg_set_str (submit, MSG_F_JOB, job);
    msg_set_str (submit, MSG_F_HANDLER, "sleep");
    msg_set_str (submit, MSG_F_SINK, c->sink);
    const unsigned char options[] = { 0x81, 0xa8, 'p', 'r', 'i', 'o', 'r', 'i', 't', 'y', 2 };
    msg_set_raw (submit, MSG_F_OPTIONS, options, sizeof options);
    msg_set_bool (submit, MSG_F_CLOSE, true);
    for (int i = 0; i < count; i++) {
        unsigned char tuple[] = { 0x91, 0xcd, (unsigned char) (ms >> 8), (unsigned char) ms };
        cr_assert_eq (msg_add_tuple (submit, tuple, sizeof tuple), 0);
    }
    if (per_tuple)
        msg_set_raw (submit, MSG_F_PER_TUPLE, per_tuple, size);
    return cluster_request (c->frontend, &submit, 5000);
}

//  per_tuple {"priority": [[p, n, level]], "not_before": [[d, 1, at]]}.
static size_t
s_per_tuple (unsigned char *out, int p, int n, int level, int d, uint64_t at)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 2);
    msgpack_pack_str_with_body (&pk, "priority", 8);
    msgpack_pack_array (&pk, 1);
    msgpack_pack_array (&pk, 3);
    msgpack_pack_int (&pk, p);
    msgpack_pack_int (&pk, n);
    msgpack_pack_int (&pk, level);
    msgpack_pack_str_with_body (&pk, "not_before", 10);
    msgpack_pack_array (&pk, 1);
    msgpack_pack_array (&pk, 3);
    msgpack_pack_int (&pk, d);
    msgpack_pack_int (&pk, 1);
    msgpack_pack_uint64 (&pk, at);
    size_t size = buffer.size;
    memcpy (out, buffer.data, size);
    msgpack_sbuffer_destroy (&buffer);
    return size;
}

Test (priorities, tuple_priority_and_delay_across_a_kill9, .timeout = 120)
{
    cluster_t c;
    s_start_one_slot (&c);
    //  Tuples 1-10 of 200 ms at priority 2; tuple 10 at 9 goes first (or
    //  second, if the agent took tuple 1 in between); tuple 3 waits 10 s,
    //  and for a broker killed and restarted meanwhile.
    uint64_t at = (uint64_t) zclock_time () + 10000;
    unsigned char per_tuple[128];
    size_t size = s_per_tuple (per_tuple, 10, 1, 9, 3, at);
    msg_t *reply = s_submit_wire (&c, "mixed", 10, 200, per_tuple, size);
    cr_assert (reply && msg_command (reply) == MSG_ACCEPTED, "%s",
               reply? msg_str (reply, MSG_F_REASON): "no answer");
    msg_destroy (&reply);
    cr_assert (SUPPORT_WAIT (support_count_lines (c.results) >= 3, 30000), "no results");
    cr_expect_eq (s_status_field (&c, "mixed", MSG_F_DELAYED), 1);
    cluster_kill9 (&c.broker);
    cluster_broker_start (&c);
    started_t started[RESULTS_MAX];
    size_t n = s_complete_started (&c, "mixed", started);
    cr_assert_geq (n, 10);
    cr_expect (started[0].tuple == 10 || started[1].tuple == 10, "tuples %" PRIu64 " and %"
               PRIu64 " started first, not 10 (%s)", started[0].tuple, started[1].tuple, c.dir);
    for (size_t i = 0; i < n; i++)
        if (started[i].tuple == 3)
            cr_expect_geq (started[i].started_us, at * 1000, "tuple 3 started early");
    cluster_stop (&c);
}

//  The same through `drover submit --per-tuple`: lines carry a tuple's
//  own priority and time, which libdrover turns into per_tuple runs.
Test (priorities, submit_per_tuple_lines, .timeout = 120)
{
    cluster_t c;
    s_start_one_slot (&c);
    //  Eight tuples of 200 ms at the job's level (5): 6 and 7 at 9 go
    //  first (the SUBMIT is one batch, so they wait beside 1-5 and 8
    //  when the agent asks); 3 waits 8 s from the submit.
    char path[512], log[512];
    cluster_path (&c, "lines.jsonl", path, sizeof path);
    FILE *file = fopen (path, "w");
    cr_assert_not_null (file);
    for (int i = 1; i <= 8; i++)
        fprintf (file, "{\"tuple\": [200]%s}\n", i == 6 || i == 7? ", \"priority\": 9"
                                              : i == 3? ", \"delay_ms\": 8000": "");
    fclose (file);
    uint64_t submitted = (uint64_t) zclock_time ();
    cluster_path (&c, "submit.log", log, sizeof log);
    pid_t pid = support_spawn (log, "submit", "--broker", c.frontend, "--job", "lines",
                               "--handler", "sleep", "--sink", c.sink, "--per-tuple", path, NULL);
    int status = -1;
    cr_assert (SUPPORT_WAIT (support_exited (pid, &status), 60000), "submit hung");
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "submit failed: %s", log);
    cr_expect_eq (support_count_text (log, "job lines: 8 tuples accepted (ids 1-8)"), 1);
    cr_expect_eq (s_status_field (&c, "lines", MSG_F_DELAYED), 1, "tuple 3 delayed (%s)", c.dir);
    started_t started[RESULTS_MAX];
    size_t n = s_complete_started (&c, "lines", started);
    cr_assert_eq (n, 8);
    size_t early = 0;
    for (size_t i = 0; i < 3; i++)
        early += started[i].tuple == 6 || started[i].tuple == 7;
    cr_expect_eq (early, 2, "tuples %" PRIu64 ", %" PRIu64 ", %" PRIu64 " started first, "
                  "not 6 and 7 (%s)", started[0].tuple, started[1].tuple, started[2].tuple,
                  c.dir);
    for (size_t i = 0; i < n; i++)
        if (started[i].tuple == 3)
            cr_expect_geq (started[i].started_us, (submitted + 8000) * 1000,
                           "tuple 3 started %" PRIu64 " us before its delay (%s)",
                           (submitted + 8000) * 1000 - started[i].started_us, c.dir);
    cluster_stop (&c);
}

Test (priorities, out_of_range_refused, .timeout = 60)
{
    cluster_t c = { 0 };
    cluster_start (&c, 0);
    unsigned char per_tuple[128];
    struct {
        int p, n, level, d;
        uint64_t at;
        const char *reason;
    } bad[] = {
        { 1, 1, 10, 1, 0, "priority must be 0 to 9" },
        { 3, 1, 9, 1, 0, "not 1 to 2" },
        { 1, 1, 9, 5, 0, "not 1 to 2" },
        { 1, 1, 9, 1, (uint64_t) zclock_time () + 400ULL * 86400000, "366 days" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t size = s_per_tuple (per_tuple, bad[i].p, bad[i].n, bad[i].level, bad[i].d,
                                   bad[i].at);
        msg_t *reply = s_submit_wire (&c, "bad", 2, 0, per_tuple, size);
        cr_assert (reply && msg_command (reply) == MSG_ERROR, "case %zu accepted", i);
        cr_expect_eq (msg_uint (reply, MSG_F_CODE), DRV_E_BAD_TYPE, "case %zu", i);
        cr_expect (strstr (msg_str (reply, MSG_F_REASON), bad[i].reason), "case %zu: %s", i,
                   msg_str (reply, MSG_F_REASON));
        msg_destroy (&reply);
    }
    //  The option, through drover submit.
    char log[512];
    cluster_path (&c, "submit.log", log, sizeof log);
    pid_t pid = support_spawn (log, "submit", "--broker", c.frontend, "--job", "opt",
                               "--handler", "echo", "--sink", c.sink,
                               "--options", "{\"priority\": 12}", "/dev/null", NULL);
    int status = -1;
    cr_assert (SUPPORT_WAIT (support_exited (pid, &status), 30000));
    cr_expect (WIFEXITED (status) && WEXITSTATUS (status) == 1);
    cr_expect_eq (support_count_text (log, "priority must be 0 to 9"), 1, "see %s", log);
    cluster_stop (&c);
}

Test (priorities, delayed_job_cancelled_reports_at_once, .timeout = 60)
{
    cluster_t c;
    s_start_one_slot (&c);
    s_submit (&c, "never", 4, "0", "--delay", "3600");
    cr_expect_eq (s_status_field (&c, "never", MSG_F_DELAYED), 4);
    char log[512];
    cluster_path (&c, "cancel.log", log, sizeof log);
    pid_t pid = support_spawn (log, "cancel", "--broker", c.frontend, "never", NULL);
    int status = -1;
    cr_assert (SUPPORT_WAIT (support_exited (pid, &status), 30000));
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "see %s", log);
    //  Not an hour later: the tuples are stored as cancelled now.
    cr_assert (SUPPORT_WAIT (support_count_text (c.results, "\"status\":\"cancelled\"") == 4,
                             20000), "the cancelled job's tuples were not stored (%s)", c.dir);
    cr_expect_eq (s_status_field (&c, "never", MSG_F_DELAYED), 0);
    cr_expect_eq (s_status_field (&c, "never", MSG_F_QUEUED), 0);
    cluster_stop (&c);
}
