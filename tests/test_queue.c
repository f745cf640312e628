//  test_queue.c -- unit tests of the broker's pure parts: the queue (per-job
//  FIFOs served round robin), the held table (tuples an agent holds) and the
//  job (ids, counters, states).  Payloads are real chunks; no sockets.
#include <criterion/criterion.h>
#include <czmq.h>
#include "broker/delay.h"
#include "broker/held.h"
#include "broker/job.h"
#include "broker/queue.h"
#include "common/log.h"

#include <string.h>

static void
s_quiet (void)
{
    log_init ("test", LOG_LEVEL_WARN);
}

//  A payload (in a chunk of its own) whose content names the tuple: "job:id".
static payload_t
s_frame (const char *job, uint64_t id)
{
    char text[64];
    snprintf (text, sizeof text, "%s:%" PRIu64, job, id);
    chunk_t *chunk = chunk_new (1, strlen (text));
    cr_assert_eq (chunk_append (chunk, text, strlen (text)), 0);
    payload_t payload = payload_of (chunk, 0);
    chunk_destroy (&chunk);
    return payload;
}

static bool
s_frame_is (payload_t payload, const char *job, uint64_t id)
{
    char text[64];
    snprintf (text, sizeof text, "%s:%" PRIu64, job, id);
    size_t size;
    const void *data = payload_data (payload, &size);
    return data && size == strlen (text) && memcmp (data, text, size) == 0;
}

static void
s_push (queue_t *queue, job_t *job, uint64_t first, uint64_t count)
{
    for (uint64_t id = first; id < first + count; id++) {
        payload_t frame = s_frame (job_name (job), id);
        cr_assert_eq (queue_push (queue, job, id, 1, &frame), 0);
        cr_assert_null (frame.chunk, "push takes the frame");
    }
}

static void
s_release (queue_tuple_t *tuples, size_t count)
{
    for (size_t i = 0; i < count; i++)
        payload_drop (&tuples[i].payload);
}

TestSuite (queue, .init = s_quiet);

Test (queue, fifo_order_and_take_max)
{
    queue_t *queue = queue_new ();
    job_t *job = job_new ("a", "echo", "tcp://127.0.0.1:1");
    s_push (queue, job, 1, 10);
    cr_assert_eq (queue_depth (queue), 10);
    cr_assert_eq (queue_job_depth (queue, job), 10);

    queue_tuple_t out[8];
    job_t *from = NULL;
    size_t n = queue_take (queue, 4, out, &from);
    cr_assert_eq (n, 4);
    cr_assert_eq (from, job);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq (out[i].id, i + 1);
        cr_assert_eq (out[i].attempt, 1);
        cr_assert (s_frame_is (out[i].payload, "a", i + 1));
    }
    s_release (out, n);
    cr_assert_eq (queue_depth (queue), 6);

    n = queue_take (queue, 8, out, &from);
    cr_assert_eq (n, 6, "takes what is left, not max");
    cr_assert_eq (out[0].id, 5);
    cr_assert_eq (out[5].id, 10);
    s_release (out, n);
    cr_assert_eq (queue_depth (queue), 0);
    cr_assert_eq (queue_jobs (queue), 0);

    n = queue_take (queue, 8, out, &from);
    cr_assert_eq (n, 0);
    cr_assert_null (from);
    queue_destroy (&queue);
    cr_assert_null (queue);
    job_destroy (&job);
}

Test (queue, one_job_per_take_round_robin)
{
    queue_t *queue = queue_new ();
    job_t *a = job_new ("a", "echo", "s");
    job_t *b = job_new ("b", "echo", "s");
    job_t *c = job_new ("c", "echo", "s");
    s_push (queue, a, 1, 100);      //  a big job first
    s_push (queue, b, 1, 4);
    s_push (queue, c, 1, 5);
    cr_assert_eq (queue_jobs (queue), 3);

    //  Each take gives one job's tuples; the jobs take turns, so the big
    //  one cannot starve the small ones.
    job_t *order[6];
    queue_tuple_t out[10];
    for (int turn = 0; turn < 6; turn++) {
        size_t n = queue_take (queue, 2, out, &order[turn]);
        cr_assert_eq (n, 2);
        for (size_t i = 0; i < n; i++)
            cr_assert (s_frame_is (out[i].payload, job_name (order[turn]), out[i].id));
        s_release (out, n);
    }
    cr_assert_eq (order[0], a);
    cr_assert_eq (order[1], b);
    cr_assert_eq (order[2], c);
    cr_assert_eq (order[3], a);
    cr_assert_eq (order[4], b);
    cr_assert_eq (order[5], c);

    //  b is empty and out of the round; c has one left, then only a.
    cr_assert_eq (queue_jobs (queue), 2);
    cr_assert_eq (queue_job_depth (queue, b), 0);
    job_t *from;
    cr_assert_eq (queue_take (queue, 10, out, &from), 10);
    cr_assert_eq (from, a);
    cr_assert_eq (out[0].id, 5);
    s_release (out, 10);
    cr_assert_eq (queue_take (queue, 10, out, &from), 1);
    cr_assert_eq (from, c);
    cr_assert_eq (out[0].id, 5);
    s_release (out, 1);
    cr_assert_eq (queue_jobs (queue), 1);
    cr_assert_eq (queue_depth (queue), 100 - 14);

    //  A job arriving now joins at the end of the round.
    job_t *d = job_new ("d", "echo", "s");
    s_push (queue, d, 1, 1);
    cr_assert_eq (queue_take (queue, 1, out, &from), 1);
    cr_assert_eq (from, a);
    s_release (out, 1);
    cr_assert_eq (queue_take (queue, 1, out, &from), 1);
    cr_assert_eq (from, d);
    s_release (out, 1);

    queue_destroy (&queue);         //  frees the 85 frames still queued
    job_destroy (&a);
    job_destroy (&b);
    job_destroy (&c);
    job_destroy (&d);
}

Test (queue, requeue_goes_first_with_its_attempt)
{
    queue_t *queue = queue_new ();
    job_t *job = job_new ("a", "echo", "s");
    s_push (queue, job, 1, 5);
    queue_tuple_t out[5];
    job_t *from;
    cr_assert_eq (queue_take (queue, 3, out, &from), 3);

    //  Tuples 2 and 3 come back (attempt 2), last to first as documented.
    cr_assert_eq (queue_requeue (queue, job, 3, 2, &out[2].payload), 0);
    cr_assert_eq (queue_requeue (queue, job, 2, 2, &out[1].payload), 0);
    cr_assert_null (out[1].payload.chunk);
    payload_drop (&out[0].payload);
    cr_assert_eq (queue_depth (queue), 4);
    cr_assert_eq (queue_job_depth (queue, job), 4);

    cr_assert_eq (queue_take (queue, 5, out, &from), 4);
    uint64_t ids[] = { 2, 3, 4, 5 };
    uint32_t attempts[] = { 2, 2, 1, 1 };
    for (int i = 0; i < 4; i++) {
        cr_assert_eq (out[i].id, ids[i]);
        cr_assert_eq (out[i].attempt, attempts[i]);
        cr_assert (s_frame_is (out[i].payload, "a", ids[i]), "frame %d kept its payload", i);
    }
    s_release (out, 4);
    queue_destroy (&queue);
    job_destroy (&job);
}

Test (queue, ring_grows_and_wraps)
{
    //  Interleave pushes and takes past the initial capacity so the ring
    //  wraps before it grows: order must survive both.
    queue_t *queue = queue_new ();
    job_t *job = job_new ("a", "echo", "s");
    uint64_t next_in = 1, next_out = 1;
    queue_tuple_t out[50];
    job_t *from;
    for (int round = 0; round < 40; round++) {
        s_push (queue, job, next_in, 70);
        next_in += 70;
        size_t n = queue_take (queue, 50, out, &from);
        for (size_t i = 0; i < n; i++)
            cr_assert_eq (out[i].id, next_out++);
        s_release (out, n);
    }
    cr_assert_eq (queue_depth (queue), next_in - next_out);
    cr_assert_eq (queue_reserve (queue, job, 5000), 0);
    size_t n;
    while ((n = queue_take (queue, 50, out, &from)) > 0) {
        for (size_t i = 0; i < n; i++)
            cr_assert_eq (out[i].id, next_out++);
        s_release (out, n);
    }
    cr_assert_eq (next_out, next_in);
    queue_destroy (&queue);
    job_destroy (&job);
}

Test (queue, reserved_but_unused_lane_is_skipped)
{
    queue_t *queue = queue_new ();
    job_t *a = job_new ("a", "echo", "s");
    job_t *b = job_new ("b", "echo", "s");
    cr_assert_eq (queue_reserve (queue, a, 10), 0);
    s_push (queue, b, 1, 1);
    queue_tuple_t out[4];
    job_t *from;
    cr_assert_eq (queue_take (queue, 4, out, &from), 1);
    cr_assert_eq (from, b);
    s_release (out, 1);
    cr_assert_eq (queue_take (queue, 4, out, &from), 0);
    cr_assert_null (from);
    queue_destroy (&queue);
    job_destroy (&a);
    job_destroy (&b);
}

//  ---------------------------------------------------------------------

TestSuite (held, .init = s_quiet);

Test (held, put_take_drain)
{
    held_t *held = held_new ();
    job_t *a = job_new ("a", "echo", "s");
    job_t *b = job_new ("b", "echo", "s");
    //  Enough to grow the table several times, with the same ids in two jobs.
    for (uint64_t id = 1; id <= 1000; id++) {
        payload_t frame = s_frame ("a", id);
        cr_assert_eq (held_put (held, a, id, (uint32_t) (id % 3 + 1), &frame), 0);
        cr_assert_null (frame.chunk);
        frame = s_frame ("b", id);
        cr_assert_eq (held_put (held, b, id, 1, &frame), 0);
    }
    cr_assert_eq (held_size (held), 2000);
    payload_t dup = s_frame ("a", 7);
    cr_assert_eq (held_put (held, a, 7, 1, &dup), -EEXIST);
    cr_assert_not_null (dup.chunk, "a refused frame stays with the caller");
    payload_drop (&dup);

    //  Take every odd id of a; each comes back with its attempt and frame.
    for (uint64_t id = 1; id <= 1000; id += 2) {
        uint32_t attempt = 0;
        payload_t frame = { 0 };
        cr_assert (held_take (held, a, id, &attempt, &frame), "a/%" PRIu64 " held", id);
        cr_assert_eq (attempt, id % 3 + 1);
        cr_assert (s_frame_is (frame, "a", id));
        payload_drop (&frame);
    }
    uint32_t attempt;
    payload_t frame;
    cr_assert_not (held_take (held, a, 1, &attempt, &frame), "taken twice");
    cr_assert_not (held_take (held, a, 5000, &attempt, &frame), "never held");
    cr_assert_eq (held_size (held), 1500);
    //  Even ids are still found after the deletions shifted entries.
    for (uint64_t id = 2; id <= 1000; id += 2) {
        cr_assert (held_take (held, a, id, &attempt, &frame));
        cr_assert (s_frame_is (frame, "a", id));
        cr_assert (held_put (held, a, id, attempt, &frame) == 0);
    }

    //  Drain hands back everything, once.
    size_t seen[2] = { 0, 0 };
    void s_count (job_t *job, uint64_t id, uint32_t attempt, payload_t *frame_p, void *arg);
    held_drain (held, s_count, seen);
    cr_assert_eq (seen[0], 500);
    cr_assert_eq (seen[1], 1000);
    cr_assert_eq (held_size (held), 0);
    cr_assert_not (held_take (held, b, 1, &attempt, &frame));
    held_destroy (&held);
    cr_assert_null (held);
    job_destroy (&a);
    job_destroy (&b);
}

void
s_count (job_t *job, uint64_t id, uint32_t attempt, payload_t *frame_p, void *arg)
{
    (void) attempt;
    size_t *seen = (size_t *) arg;
    cr_assert (s_frame_is (*frame_p, job_name (job), id));
    seen[strcmp (job_name (job), "a")? 1: 0]++;
    if (id % 2)
        payload_drop (frame_p);   //  drain frees what the callback leaves
}

//  ---------------------------------------------------------------------

TestSuite (job, .init = s_quiet);

Test (job, ids_counters_and_states)
{
    job_t *job = job_new ("scan", "tcp-probe", "tcp://127.0.0.1:5558");
    cr_assert_str_eq (job_name (job), "scan");
    cr_assert_str_eq (job_handler (job), "tcp-probe");
    cr_assert_str_eq (job_sink (job), "tcp://127.0.0.1:5558");
    cr_assert_eq (job_max_attempts (job), 3);
    cr_assert_eq (job_timeout_ms (job), 30000);
    size_t size;
    const unsigned char *options = job_options (job, &size);
    cr_assert (size == 1 && options[0] == 0x80, "no options is an empty map");
    unsigned char map[] = { 0x81, 0xa1, 'n', 0x05 };
    cr_assert_eq (job_set_options (job, map, sizeof map), 0);
    options = job_options (job, &size);
    cr_assert (size == sizeof map && !memcmp (options, map, size));

    cr_assert_eq (job_next_id (job), 1);
    cr_assert_eq (job_accept (job, 5), 1);
    cr_assert_eq (job_accept (job, 3), 6);
    cr_assert_eq (job_next_id (job), 9);
    cr_assert_eq (job_state (job), JOB_OPEN);
    cr_assert_str_eq (job_state_name (job_state (job)), "open");

    job_dispatched (job, 6);
    job_requeued (job, 2);
    job_finished (job, 3, 1);
    const job_counters_t *c = job_counters (job);
    cr_assert_eq (c->submitted, 8);
    cr_assert_eq (c->queued, 4);
    cr_assert_eq (c->running, 0);
    cr_assert_eq (c->done, 3);
    cr_assert_eq (c->failed, 1);

    job_close (job);
    cr_assert (job_closed (job));
    cr_assert_eq (job_state (job), JOB_CLOSED);
    cr_assert_str_eq (job_state_name (JOB_CLOSED), "closed");
    job_dispatched (job, 4);
    job_finished (job, 4, 0);
    cr_assert_eq (job_state (job), JOB_COMPLETE);
    cr_assert_str_eq (job_state_name (job_state (job)), "complete");
    cr_assert_eq (c->done + c->failed, c->submitted);
    job_destroy (&job);
    cr_assert_null (job);
}

Test (job, closing_an_empty_job_completes_it)
{
    job_t *job = job_new ("empty", "echo", "s");
    job_close (job);
    cr_assert_eq (job_state (job), JOB_COMPLETE);
    job_destroy (&job);
}

Test (held, leases_expire_unless_touched)
{
    held_t *held = held_new ();
    job_t *job = job_new ("a", "echo", "s");
    for (uint64_t id = 1; id <= 4; id++) {
        payload_t frame = s_frame ("a", id);
        cr_assert_eq (held_put (held, job, id, 1, &frame), 0);
        cr_assert (held_touch (held, job, id, 1000));
    }
    held_ref_t expired[8];
    cr_assert_eq (held_expired (held, 999, expired, 8), 0, "none ended yet");
    //  TOUCH moves 2 and 3 later; 9 is not held.
    cr_assert (held_touch (held, job, 2, 5000));
    cr_assert (held_touch (held, job, 3, 5000));
    cr_assert_not (held_touch (held, job, 9, 5000));
    size_t n = held_expired (held, 1001, expired, 8);
    cr_assert_eq (n, 2);
    cr_assert_eq (expired[0].id + expired[1].id, 1 + 4);
    cr_assert_eq (held_expired (held, 1001, expired, 1), 1, "at most max");
    cr_assert_eq (held_size (held), 4, "expired ones stay held until taken");
    held_destroy (&held);
    job_destroy (&job);
}

Test (delay, pops_in_due_order_only_when_due)
{
    delay_t *delay = delay_new ();
    job_t *job = job_new ("a", "echo", "s");
    int64_t dues[] = { 500, 100, 300, 100, 900, 200 };
    for (size_t i = 0; i < 6; i++) {
        queue_tuple_t tuple = { i + 1, 2, QUEUE_WHY_RETRY, s_frame ("a", i + 1), 0 };
        cr_assert_eq (delay_push (delay, dues[i], job, &tuple), 0);
        cr_assert_null (tuple.payload.chunk, "push takes the frame");
    }
    cr_assert_eq (delay_size (delay), 6);
    cr_assert_eq (delay_next (delay), 100);
    job_t *got_job;
    queue_tuple_t got;
    cr_assert_not (delay_pop (delay, 99, &got_job, &got), "nothing due before 100");
    int64_t last = 0;
    size_t popped = 0;
    while (delay_pop (delay, 400, &got_job, &got)) {
        cr_assert_eq (got_job, job);
        cr_assert_geq (dues[got.id - 1], last, "in due order");
        last = dues[got.id - 1];
        cr_assert (s_frame_is (got.payload, "a", got.id));
        payload_drop (&got.payload);
        popped++;
    }
    cr_assert_eq (popped, 4, "the four due by 400");
    cr_assert_eq (delay_next (delay), 500);
    delay_destroy (&delay);         //  frees the two still waiting
    job_destroy (&job);
}

//  ---------------------------------------------------------------------
//  Priority levels (PROTOCOL.md 13)

//  A job at priority level (its `priority` option).
static job_t *
s_job_at (const char *name, unsigned level)
{
    job_t *job = job_new (name, "echo", "s");
    unsigned char options[] = { 0x81, 0xa8, 'p', 'r', 'i', 'o', 'r', 'i', 't', 'y',
                                (unsigned char) level };
    cr_assert_eq (job_set_options (job, options, sizeof options), 0);
    cr_assert_eq (job_priority (job), level);
    return job;
}

Test (queue, higher_level_first_fifo_within)
{
    queue_t *queue = queue_new ();
    job_t *low = s_job_at ("low", 2);
    job_t *high = s_job_at ("high", 8);
    s_push (queue, low, 1, 3);
    s_push (queue, high, 1, 3);       //  came later, goes first
    queue_tuple_t out[8];
    job_t *from;
    cr_assert_eq (queue_take (queue, 8, out, &from), 3);
    cr_assert_eq (from, high);
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq (out[i].id, i + 1, "FIFO within a level");
        cr_assert_eq (out[i].level, 8);
    }
    s_release (out, 3);
    cr_assert_eq (queue_take (queue, 8, out, &from), 3);
    cr_assert_eq (from, low);
    cr_assert_eq (out[0].level, 2);
    s_release (out, 3);
    queue_destroy (&queue);
    job_destroy (&low);
    job_destroy (&high);
}

Test (queue, tuple_at_its_own_level_and_back)
{
    queue_t *queue = queue_new ();
    job_t *job = s_job_at ("a", 5);
    s_push (queue, job, 1, 2);
    queue_tuple_t urgent = { .id = 3, .attempt = 1, .payload = s_frame ("a", 3), .level = 9 };
    cr_assert_eq (queue_push_level (queue, job, &urgent), 0);
    cr_assert_null (urgent.payload.chunk);
    cr_assert_eq (queue_depth (queue), 3);
    cr_assert_eq (queue_job_depth (queue, job), 3);
    cr_assert_eq (queue_jobs (queue), 2, "a lane per (job, level)");
    queue_tuple_t out[4];
    job_t *from;
    cr_assert_eq (queue_take (queue, 4, out, &from), 1);
    cr_assert_eq (out[0].id, 3);
    //  Given back, it returns to its level, not the job's.
    cr_assert_eq (queue_return (queue, job, &out[0]), 0);
    cr_assert_eq (queue_take (queue, 4, out, &from), 1);
    cr_assert_eq (out[0].id, 3);
    cr_assert_eq (out[0].level, 9);
    s_release (out, 1);
    cr_assert_eq (queue_take (queue, 4, out, &from), 2);
    cr_assert_eq (out[0].id, 1);
    s_release (out, 2);
    queue_destroy (&queue);
    job_destroy (&job);
}

//  Under a sustained load at level 9, level 0 still gets one tuple in
//  QUEUE_SHARE, whatever size the takes are.
Test (queue, lower_levels_progress)
{
    queue_t *queue = queue_new ();
    job_t *high = s_job_at ("high", 9);
    job_t *mid = s_job_at ("mid", 4);
    job_t *low = s_job_at ("low", 0);
    s_push (queue, high, 1, 2000);
    s_push (queue, mid, 1, 100);
    s_push (queue, low, 1, 100);
    queue_tuple_t out[16];
    size_t got[3] = { 0 }, taken = 0;
    size_t sizes[] = { 1, 7, 16, 3 };
    for (int turn = 0; taken < 1600; turn++) {
        job_t *from;
        size_t n = queue_take (queue, sizes[turn % 4], out, &from);
        cr_assert_gt (n, 0);
        got[from == high? 0: from == mid? 1: 2] += n;
        taken += n;
        s_release (out, n);
    }
    //  1 in 16 to the lower levels, shared between them in turns.
    size_t lower = got[1] + got[2];
    cr_assert (lower >= taken / QUEUE_SHARE - 16 && lower <= taken / QUEUE_SHARE + 16,
               "lower levels got %zu of %zu", lower, taken);
    cr_assert_gt (got[2], 30, "level 0 got %zu", got[2]);
    cr_assert_gt (got[1], 30, "level 4 got %zu", got[1]);
    queue_destroy (&queue);
    job_destroy (&high);
    job_destroy (&mid);
    job_destroy (&low);
}

//  One level alone owes nothing: when a lower level arrives it waits its
//  turn behind QUEUE_SHARE - 1 of the higher level's tuples, not before.
Test (queue, no_debt_while_alone)
{
    queue_t *queue = queue_new ();
    job_t *high = s_job_at ("high", 7);
    job_t *low = s_job_at ("low", 3);
    s_push (queue, high, 1, 200);
    queue_tuple_t out[64];
    job_t *from;
    cr_assert_eq (queue_take (queue, 64, out, &from), 64);
    s_release (out, 64);
    s_push (queue, low, 1, 10);
    size_t before_low = 0;
    for (;;) {
        size_t n = queue_take (queue, 1, out, &from);
        cr_assert_eq (n, 1);
        s_release (out, 1);
        if (from == low)
            break;
        before_low++;
    }
    cr_assert_eq (before_low, QUEUE_SHARE - 1);
    queue_destroy (&queue);
    job_destroy (&high);
    job_destroy (&low);
}

static bool
s_fits_not (void *arg, job_t *job)
{
    return job != (job_t *) arg;
}

Test (queue, held_job_and_fitting_lanes)
{
    queue_t *queue = queue_new ();
    job_t *high = s_job_at ("high", 9);
    job_t *low = s_job_at ("low", 1);
    cr_assert_eq (queue_hold (queue, high, true), 0);
    s_push (queue, high, 1, 5);
    s_push (queue, low, 1, 5);
    cr_assert (queue_held (queue, high));
    cr_assert_eq (queue_depth (queue), 5, "a held job's tuples may not go");
    cr_assert_eq (queue_job_depth (queue, high), 5);
    queue_tuple_t out[8];
    job_t *from;
    cr_assert_eq (queue_take (queue, 2, out, &from), 2);
    cr_assert_eq (from, low);
    s_release (out, 2);
    cr_assert_eq (queue_hold (queue, high, false), 0);
    cr_assert_eq (queue_depth (queue), 8);
    //  An agent the high job does not fit gets the low one's.
    cr_assert_eq (queue_take_fit (queue, 8, out, &from, s_fits_not, high), 3);
    cr_assert_eq (from, low);
    s_release (out, 3);
    cr_assert_eq (queue_take_fit (queue, 8, out, &from, s_fits_not, high), 0);
    cr_assert_null (from);
    cr_assert_eq (queue_take (queue, 8, out, &from), 5);
    cr_assert_eq (from, high);
    s_release (out, 5);
    queue_destroy (&queue);
    job_destroy (&high);
    job_destroy (&low);
}

//  A job cancelled while its tuples wait for their time takes them out of
//  the heap at once; the others keep their order.
static void
s_count_drained (void *arg, job_t *job, queue_tuple_t *tuple)
{
    (void) job;
    (*(size_t *) arg)++;
    payload_drop (&tuple->payload);
}

Test (queue, delay_drain_job)
{
    delay_t *delay = delay_new ();
    job_t *a = job_new ("a", "echo", "s");
    job_t *b = job_new ("b", "echo", "s");
    for (uint64_t i = 1; i <= 20; i++) {
        queue_tuple_t tuple = { .id = i, .attempt = 1, .payload = s_frame ("x", i) };
        cr_assert_eq (delay_push (delay, (int64_t) (100 - i), i % 2? a: b, &tuple), 0);
    }
    size_t drained = 0;
    delay_drain_job (delay, a, s_count_drained, &drained);
    cr_assert_eq (drained, 10);
    cr_assert_eq (delay_size (delay), 10);
    int64_t last = 0;
    job_t *job;
    queue_tuple_t tuple;
    while (delay_pop (delay, 1000, &job, &tuple)) {
        cr_assert_eq (job, b);
        cr_assert_geq (100 - (int64_t) tuple.id, last, "in order of due time");
        last = 100 - (int64_t) tuple.id;
        payload_drop (&tuple.payload);
    }
    delay_destroy (&delay);
    job_destroy (&a);
    job_destroy (&b);
}
