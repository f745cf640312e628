//  test_each.c -- unit tests of broker/each.c: which label values a job
//  with "each" gets runs for, what a run is (name, options), how a plain
//  job's tuples map to its runs' ids (tuple N of the parent is tuple N of
//  every run), the parent's batch memory, room, status, close and cancel,
//  and which jobs are found again as runs.  Real jobs_t on the memory
//  store, a real roster with sessions that never saw a socket.
#include <criterion/criterion.h>
#include <czmq.h>
#include <msgpack.h>
#include "broker/broker.h"
#include "broker/each.h"
#include "common/log.h"

#include <string.h>

typedef struct {
    store_t *store;
    broker_counters_t counters;
    broker_config_t config;
    jobs_t *jobs;
    roster_t *roster;
    each_t *each;
} fixture_t;

static void
s_quiet (void)
{
    log_init ("test", LOG_LEVEL_WARN);
}

TestSuite (each, .init = s_quiet);

//  An agent named name with labels (labels.h's text, or NULL).
static void
s_agent (fixture_t *f, const char *name, const char *labels)
{
    zmsg_t *envelope = zmsg_new ();
    zmsg_addstr (envelope, name);
    session_t *session = roster_add (f->roster, envelope, name, 8, 0);
    zmsg_destroy (&envelope);
    cr_assert_not_null (session);
    if (labels)
        cr_assert_eq (session_set_labels (session, labels), 0);
}

static void
s_setup (fixture_t *f)
{
    memset (f, 0, sizeof *f);
    broker_config_defaults (&f->config);
    f->store = store_memory_new ();
    f->jobs = jobs_new (f->store, &f->counters, &f->config);
    f->roster = roster_new ();
    f->each = each_new (f->jobs, f->roster);
    cr_assert (f->store && f->jobs && f->roster && f->each);
    s_agent (f, "a1", ",site=a,zone=dmz,");
    s_agent (f, "a2", ",site=a,");
    s_agent (f, "b1", ",site=b,");
    s_agent (f, "c1", ",site=c,zone=dmz,");
    s_agent (f, "plain", NULL);
}

static void
s_teardown (fixture_t *f)
{
    each_destroy (&f->each);
    roster_destroy (&f->roster);
    jobs_destroy (&f->jobs);
    store_destroy (&f->store);
}

//  options from JSON-ish pairs: a msgpack map into buf.
static void
s_options (msgpack_sbuffer *buf, const char *each, const char *req_key, const char *req_value)
{
    msgpack_sbuffer_init (buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1 + (each != NULL) + (req_key != NULL));
    msgpack_pack_str_with_body (&pk, "command", 7);
    msgpack_pack_str_with_body (&pk, "x", 1);
    if (each) {
        msgpack_pack_str_with_body (&pk, "each", 4);
        msgpack_pack_str_with_body (&pk, each, strlen (each));
    }
    if (req_key) {
        msgpack_pack_str_with_body (&pk, "requires", 8);
        msgpack_pack_map (&pk, 1);
        msgpack_pack_str_with_body (&pk, req_key, strlen (req_key));
        msgpack_pack_str_with_body (&pk, req_value, strlen (req_value));
    }
}

//  A new job as producers.c makes one, with its runs.
static job_t *
s_parent (fixture_t *f, const char *name, const char *each, const char *req_key,
          const char *req_value)
{
    job_t *job = job_new (name, "echo", "tcp://127.0.0.1:9");
    msgpack_sbuffer buf;
    s_options (&buf, each, req_key, req_value);
    cr_assert_eq (job_set_options (job, buf.data, buf.size), 0);
    msgpack_sbuffer_destroy (&buf);
    job_set_max_attempts (job, 7);
    job = jobs_add (f->jobs, &job);
    cr_assert_not_null (job);
    cr_assert_eq (each_start (f->each, job), 0);
    return job;
}

static chunk_t *
s_chunk (size_t count)
{
    chunk_t *chunk = chunk_new (count, count * 4);
    for (size_t i = 0; i < count; i++) {
        unsigned char tuple[] = { 0x91, (unsigned char) i };    //  [i]
        cr_assert_eq (chunk_append (chunk, tuple, sizeof tuple), 0);
    }
    return chunk;
}

static bool
s_has_pair (const void *options, size_t size, const char *key, const char *value)
{
    char want[64];
    snprintf (want, sizeof want, "%c%s%c%s", (char) (0xa0 + strlen (key)), key,
              (char) (0xa0 + strlen (value)), value);
    return memmem (options, size, want, strlen (want)) != NULL;
}

Test (each, label_of_options)
{
    char label[64];
    msgpack_sbuffer buf;
    s_options (&buf, "site", NULL, NULL);
    cr_assert (each_label (buf.data, buf.size, label, sizeof label));
    cr_assert_str_eq (label, "site");
    msgpack_sbuffer_destroy (&buf);
    s_options (&buf, NULL, "site", "a");
    cr_assert_not (each_label (buf.data, buf.size, label, sizeof label));
    msgpack_sbuffer_destroy (&buf);
    //  Not a label: no each (each_room refuses it, below).
    s_options (&buf, "si,te", NULL, NULL);
    cr_assert_not (each_label (buf.data, buf.size, label, sizeof label));
    msgpack_sbuffer_destroy (&buf);
    cr_assert_not (each_label (NULL, 0, label, sizeof label));
}

Test (each, values_of_connected_agents_that_fit_requires)
{
    fixture_t f;
    s_setup (&f);
    msgpack_sbuffer buf;
    s_options (&buf, "site", NULL, NULL);
    cr_assert_eq (each_values_count (f.each, buf.data, buf.size), 3);      //  a, b, c
    msgpack_sbuffer_destroy (&buf);
    s_options (&buf, "site", "zone", "dmz");
    cr_assert_eq (each_values_count (f.each, buf.data, buf.size), 2);      //  a, c
    msgpack_sbuffer_destroy (&buf);
    s_options (&buf, "rack", NULL, NULL);
    cr_assert_eq (each_values_count (f.each, buf.data, buf.size), 0);
    msgpack_sbuffer_destroy (&buf);
    s_options (&buf, NULL, NULL, NULL);
    cr_assert_eq (each_values_count (f.each, buf.data, buf.size), 1);      //  no each
    msgpack_sbuffer_destroy (&buf);
    s_teardown (&f);
}

Test (each, runs_are_jobs_requiring_their_value)
{
    fixture_t f;
    s_setup (&f);
    job_t *parent = s_parent (&f, "scan", "site", "zone", "dmz");
    zlistx_t *runs = each_runs (f.each, parent);
    cr_assert_eq (zlistx_size (runs), 2);
    const char *want[] = { "scan@site=a", "scan@site=c" };
    const char *value[] = { "a", "c" };
    size_t i = 0;
    for (job_t *run = zlistx_first (runs); run; run = zlistx_next (runs), i++) {
        cr_assert_str_eq (job_name (run), want[i]);
        cr_assert_str_eq (job_handler (run), "echo");
        cr_assert_eq (job_max_attempts (run), 7);
        size_t size;
        const void *options = job_options (run, &size);
        cr_assert (s_has_pair (options, size, "site", value[i]));
        cr_assert (s_has_pair (options, size, "zone", "dmz"), "the parent's requires kept");
        cr_assert (s_has_pair (options, size, "command", "x"), "other options kept");
        cr_assert_null (memmem (options, size, "\xa4" "each", 5), "no each in a run");
    }
    zlistx_destroy (&runs);
    //  An ordinary job has no runs.
    job_t *plain = s_parent (&f, "plain", NULL, NULL, NULL);
    runs = each_runs (f.each, plain);
    cr_assert_eq (zlistx_size (runs), 0);
    zlistx_destroy (&runs);
    s_teardown (&f);
}

Test (each, tuple_n_of_the_parent_is_tuple_n_of_every_run)
{
    fixture_t f;
    s_setup (&f);
    job_t *parent = s_parent (&f, "copies", "site", NULL, NULL);
    chunk_t *chunk = s_chunk (5);
    store_batch_t record = { .digest = { 1, 2, 3 } };
    uint64_t first = 0;
    cr_assert_eq (each_accept (f.each, parent, &chunk, &record, &first), 0);
    cr_assert_null (chunk);
    cr_assert_eq (first, 1);
    chunk = s_chunk (3);
    cr_assert_eq (each_accept (f.each, parent, &chunk, NULL, &first), 0);
    cr_assert_eq (first, 6);
    //  Each run holds all 8, ids 1 .. 8; the parent none.
    zlistx_t *runs = each_runs (f.each, parent);
    cr_assert_eq (zlistx_size (runs), 3);
    for (job_t *run = zlistx_first (runs); run; run = zlistx_next (runs)) {
        cr_assert_eq (job_counters (run)->submitted, 8);
        cr_assert_eq (job_next_id (run), 9);
    }
    zlistx_destroy (&runs);
    cr_assert_eq (job_counters (parent)->submitted, 0);
    queue_tuple_t tuples[32];
    job_t *job;
    size_t taken = 0, got;
    while ((got = jobs_take (f.jobs, 32, tuples, &job)) > 0) {
        cr_assert_neq (job, parent);
        for (size_t i = 0; i < got; i++) {
            size_t size;
            const unsigned char *data = payload_data (tuples[i].payload, &size);
            //  Ids 1 .. 5: the first SUBMIT's [0] .. [4]; 6 .. 8: the second's.
            uint64_t id = tuples[i].id;
            cr_assert_eq (size, 2);
            cr_assert_eq (data[1], id <= 5? id - 1: id - 6, "tuple %lu", (unsigned long) id);
            payload_drop (&tuples[i].payload);
        }
        taken += got;
    }
    cr_assert_eq (taken, 24);
    //  The parent remembers the batch, with the runs' ids.
    store_batch_t known = { .digest = { 1, 2, 3 } };
    cr_assert_eq (jobs_batch (f.jobs, parent, &known), 0);
    cr_assert_eq (known.first, 1);
    cr_assert_eq (known.count, 5);
    s_teardown (&f);
}

Test (each, status_adds_up_close_and_cancel_reach_the_runs)
{
    fixture_t f;
    s_setup (&f);
    job_t *parent = s_parent (&f, "st", "site", NULL, NULL);
    chunk_t *chunk = s_chunk (4);
    uint64_t first;
    cr_assert_eq (each_accept (f.each, parent, &chunk, NULL, &first), 0);
    job_counters_t counters;
    job_state_t state;
    cr_assert (each_status (f.each, parent, &counters, &state));
    cr_assert_eq (counters.submitted, 12);
    cr_assert_eq (counters.queued, 12);
    cr_assert_eq (state, JOB_OPEN);
    each_close (f.each, parent);
    cr_assert (each_status (f.each, parent, &counters, &state));
    cr_assert_eq (state, JOB_CLOSED);
    zlistx_t *runs = each_runs (f.each, parent);
    for (job_t *run = zlistx_first (runs); run; run = zlistx_next (runs))
        cr_assert (job_closed (run));
    each_cancel (f.each, parent);
    for (job_t *run = zlistx_first (runs); run; run = zlistx_next (runs))
        cr_assert_eq (job_ended (run), JOB_CANCELLED);
    zlistx_destroy (&runs);
    cr_assert (each_status (f.each, parent, &counters, &state));
    cr_assert_eq (state, JOB_CANCELLED);
    //  A job without runs: none of this.
    job_t *plain = s_parent (&f, "plain", NULL, NULL, NULL);
    cr_assert_not (each_status (f.each, plain, &counters, &state));
    s_teardown (&f);
}

//  A SUBMIT creating job name with options (each, requires): each_room's
//  answer.
static int
s_room (fixture_t *f, const job_t *job, const char *name, const char *each, size_t count,
        char *reason)
{
    msg_t *msg = msg_new (MSG_SUBMIT);
    msg_set_str (msg, MSG_F_JOB, name);
    msgpack_sbuffer buf;
    s_options (&buf, each, NULL, NULL);
    msg_set_raw (msg, MSG_F_OPTIONS, buf.data, buf.size);
    msgpack_sbuffer_destroy (&buf);
    int rc = each_room (f->each, job, msg, count, count * 2, 0, 0, &f->config, reason, 256);
    msg_destroy (&msg);
    return rc;
}

Test (each, room_counts_every_copy_and_names_are_checked)
{
    fixture_t f;
    s_setup (&f);
    char reason[256];
    f.config.max_queued = 100;
    f.config.max_job_queued = 100;
    cr_assert_eq (s_room (&f, NULL, "fits", "site", 33, reason), 0);
    cr_assert_eq (s_room (&f, NULL, "never", "site", 34, reason), -DRV_E_TOO_LARGE, "%s",
                  reason);
    cr_assert_eq (s_room (&f, NULL, "nobody", "rack", 1, reason), -DRV_E_UNEXPECTED);
    cr_assert_eq (s_room (&f, NULL, "bad", "si,te", 1, reason), -DRV_E_BAD_TYPE);
    //  An existing parent: its 3 runs, each with 30 queued.
    job_t *parent = s_parent (&f, "p", "site", NULL, NULL);
    chunk_t *chunk = s_chunk (30);
    uint64_t first;
    cr_assert_eq (each_accept (f.each, parent, &chunk, NULL, &first), 0);
    cr_assert_eq (s_room (&f, parent, "p", NULL, 3, reason), 0);
    cr_assert_eq (each_room (f.each, parent, NULL, 4, 8, 90, 0, &f.config, reason, 256),
                  -DRV_E_QUEUE_FULL, "90 queued + 3 x 4 > 100");
    //  A run takes tuples from its parent only.
    cr_assert_eq (s_room (&f, jobs_lookup (f.jobs, "p@site=b"), "p@site=b", NULL, 1, reason),
                  -DRV_E_CONFLICT, "%s", reason);
    //  A name in the runs' space of p is not a new job's to take.
    cr_assert_eq (s_room (&f, NULL, "p@site=zz", NULL, 1, reason), -DRV_E_CONFLICT);
    cr_assert_eq (s_room (&f, NULL, "p@rack=zz", NULL, 1, reason), 0);
    cr_assert_eq (s_room (&f, NULL, "q@site=a", NULL, 1, reason), 0);
    //  A job of a run's name made before the parent: the parent cannot
    //  be created (CONFLICT), and it is never taken for a run.
    job_t *early = s_parent (&f, "r@site=b", NULL, NULL, NULL);
    (void) early;
    cr_assert_eq (s_room (&f, NULL, "r", "site", 1, reason), -DRV_E_CONFLICT, "%s", reason);
    s_teardown (&f);
}

Test (each, a_job_named_like_a_run_before_the_parent_is_no_run)
{
    fixture_t f;
    s_setup (&f);
    s_parent (&f, "s@site=z", NULL, NULL, NULL);
    job_t *parent = s_parent (&f, "s", "site", NULL, NULL);
    zlistx_t *runs = each_runs (f.each, parent);
    cr_assert_eq (zlistx_size (runs), 3);
    for (job_t *run = zlistx_first (runs); run; run = zlistx_next (runs))
        cr_assert_str_neq (job_name (run), "s@site=z");
    zlistx_destroy (&runs);
    s_teardown (&f);
}
