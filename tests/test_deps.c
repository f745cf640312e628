//  test_deps.c -- unit tests of broker/deps.c (job graphs' bookkeeping):
//  release in dependency order, skips down the graph with their root
//  cause, forward references within a batch, and that 100,000 tuples with
//  random acyclic dependencies resolve in a number of steps linear in
//  tuples + edges (counted by deps_steps, never timed); and of
//  broker/deps_batch.c: a SUBMIT's deps map checked, with the reasons.
#include <criterion/criterion.h>
#include "broker/deps.h"
#include "broker/deps_batch.h"

#include <msgpack.h>

#include <stdlib.h>
#include <string.h>

//  What the callback heard, in order.
typedef struct {
    deps_ref_t *tuples;
    bool *skipped;
    deps_ref_t *causes;
    size_t count, capacity;
} heard_t;

static void
s_heard (void *arg, deps_ref_t tuple, bool skipped, deps_ref_t cause, deps_fate_t cause_fate,
         payload_t *payload_p)
{
    (void) cause_fate;
    heard_t *h = (heard_t *) arg;
    if (h->count == h->capacity) {
        h->capacity = h->capacity? h->capacity * 2: 64;
        h->tuples = realloc (h->tuples, h->capacity * sizeof *h->tuples);
        h->skipped = realloc (h->skipped, h->capacity * sizeof *h->skipped);
        h->causes = realloc (h->causes, h->capacity * sizeof *h->causes);
        cr_assert (h->tuples && h->skipped && h->causes);
    }
    h->tuples[h->count] = tuple;
    h->skipped[h->count] = skipped;
    h->causes[h->count++] = cause;
    payload_drop (payload_p);
}

static void
s_heard_free (heard_t *h)
{
    free (h->tuples);
    free (h->skipped);
    free (h->causes);
}

static deps_ref_t
R (uint64_t id)
{
    return (deps_ref_t) { 1, id };
}

static int
s_add (deps_t *deps, uint64_t id, const uint64_t *on, size_t count)
{
    deps_ref_t refs[16];
    for (size_t i = 0; i < count; i++)
        refs[i] = R (on[i]);
    payload_t none = { 0 };
    deps_ref_t cause;
    deps_fate_t fate;
    return deps_add (deps, R (id), refs, count, &none, &cause, &fate);
}

Test (deps, diamond_releases_in_order)
{
    heard_t h = { 0 };
    deps_t *deps = deps_new (s_heard, &h);
    cr_assert_eq (deps_grow (deps, 1, 5), 0);   //  ids 1-4
    //  1 -> {2, 3} -> 4
    cr_assert_eq (s_add (deps, 2, (uint64_t[]) { 1 }, 1), DEPS_WAITING);
    cr_assert_eq (s_add (deps, 3, (uint64_t[]) { 1 }, 1), DEPS_WAITING);
    cr_assert_eq (s_add (deps, 4, (uint64_t[]) { 2, 3 }, 2), DEPS_WAITING);
    cr_assert_eq (deps_waiting (deps), 3);
    cr_assert (deps_hidden (deps, R (4)));
    cr_assert_not (deps_hidden (deps, R (1)));
    deps_ended (deps, R (1), DEPS_OK, true);
    cr_assert_eq (h.count, 2);
    cr_assert (!h.skipped[0] && !h.skipped[1]);
    deps_ended (deps, R (2), DEPS_OK, true);
    cr_assert_eq (h.count, 2, "4 still waits on 3");
    deps_ended (deps, R (3), DEPS_OK, true);
    cr_assert_eq (h.count, 3);
    cr_assert_eq (h.tuples[2].id, 4);
    cr_assert_eq (deps_waiting (deps), 0);
    cr_assert (deps_hidden (deps, R (4)), "released and not finished: the queue has it");
    deps_ended (deps, R (4), DEPS_OK, true);
    cr_assert_not (deps_hidden (deps, R (4)));
    deps_destroy (&deps);
    s_heard_free (&h);
}

Test (deps, failure_skips_down_the_graph_with_its_root)
{
    heard_t h = { 0 };
    deps_t *deps = deps_new (s_heard, &h);
    cr_assert_eq (deps_grow (deps, 1, 6), 0);
    //  1 -> 2 -> 3 -> 4; 5 waits on 1 only
    cr_assert_eq (s_add (deps, 2, (uint64_t[]) { 1 }, 1), DEPS_WAITING);
    cr_assert_eq (s_add (deps, 3, (uint64_t[]) { 2 }, 1), DEPS_WAITING);
    cr_assert_eq (s_add (deps, 4, (uint64_t[]) { 3 }, 1), DEPS_WAITING);
    cr_assert_eq (s_add (deps, 5, (uint64_t[]) { 1 }, 1), DEPS_WAITING);
    deps_ended (deps, R (1), DEPS_OK, true);
    cr_assert_eq (h.count, 2);          //  2 and 5
    deps_ended (deps, R (2), DEPS_FAILED, true);
    cr_assert_eq (h.count, 4);
    for (size_t i = 2; i < 4; i++) {
        cr_assert (h.skipped[i]);
        cr_assert_eq (h.causes[i].id, 2, "the root is the tuple that failed");
    }
    cr_assert_eq (deps_fate (deps, R (4)), DEPS_STOPPED);
    deps_ref_t cause;
    deps_fate_t fate;
    cr_assert (deps_skipped (deps, R (4), &cause, &fate));
    cr_assert_eq (cause.id, 2);
    cr_assert_eq (fate, DEPS_FAILED);
    //  A skipped tuple's DONE (stored as skipped) does not make it ok.
    deps_ended (deps, R (3), DEPS_OK, true);
    cr_assert_eq (deps_fate (deps, R (3)), DEPS_STOPPED);
    //  A tuple added later on a failed one is skipped at once.
    cr_assert_eq (deps_grow (deps, 1, 7), 0);
    cr_assert_eq (s_add (deps, 6, (uint64_t[]) { 4 }, 1), DEPS_SKIPPED);
    cr_assert (deps_skipped (deps, R (6), &cause, &fate));
    cr_assert_eq (cause.id, 2, "4 was skipped (not finished): its root");
    deps_destroy (&deps);
    s_heard_free (&h);
}

Test (deps, forward_reference_in_a_batch)
{
    heard_t h = { 0 };
    deps_t *deps = deps_new (s_heard, &h);
    cr_assert_eq (deps_grow (deps, 1, 4), 0);
    deps_ended (deps, R (1), DEPS_FAILED, true);
    //  2 waits on 3, which is added next and is skipped (it waits on 1).
    cr_assert_eq (s_add (deps, 2, (uint64_t[]) { 3 }, 1), DEPS_WAITING);
    cr_assert_eq (s_add (deps, 3, (uint64_t[]) { 1 }, 1), DEPS_SKIPPED);
    cr_assert_eq (h.count, 1);
    cr_assert (h.skipped[0]);
    cr_assert_eq (h.tuples[0].id, 2);
    cr_assert_eq (h.causes[0].id, 1);
    cr_assert_eq (s_add (deps, 1, NULL, 0), DEPS_READY);
    deps_destroy (&deps);
    s_heard_free (&h);
}

Test (deps, release_job_lets_its_waiting_tuples_go)
{
    heard_t h = { 0 };
    deps_t *deps = deps_new (s_heard, &h);
    cr_assert_eq (deps_grow (deps, 1, 4), 0);
    cr_assert_eq (deps_grow (deps, 2, 2), 0);
    cr_assert_eq (s_add (deps, 2, (uint64_t[]) { 1 }, 1), DEPS_WAITING);
    deps_ref_t other = { 2, 1 };
    payload_t none = { 0 };
    deps_ref_t cause;
    deps_fate_t fate;
    cr_assert_eq (deps_add (deps, other, (deps_ref_t[]) { R (1) }, 1, &none, &cause, &fate),
                  DEPS_WAITING);
    deps_release_job (deps, 1);
    cr_assert_eq (h.count, 1);
    cr_assert_eq (h.tuples[0].job, 1);
    cr_assert_eq (deps_waiting (deps), 1, "the other job's tuple still waits");
    deps_destroy (&deps);
    s_heard_free (&h);
}

//  100,000 tuples, each waiting on up to 4 random earlier ones, finishing
//  in a random order of those that are ready: every tuple runs once, after
//  all its dependencies, and the steps stay within a constant times
//  tuples + edges.
Test (deps, random_dag_resolves_in_linear_steps)
{
    enum { N = 100000 };
    heard_t h = { 0 };
    deps_t *deps = deps_new (s_heard, &h);
    cr_assert_eq (deps_grow (deps, 1, N + 1), 0);
    srand (12345);
    uint64_t edges = 0;
    uint64_t (*on)[4] = calloc (N + 1, sizeof *on);
    uint8_t *ons = calloc (N + 1, 1);
    uint64_t *ready = calloc (N + 1, sizeof *ready);
    bool *ran = calloc (N + 1, sizeof *ran);
    size_t ready_count = 0;
    for (uint64_t id = 1; id <= N; id++) {
        ons[id] = id == 1? 0: (uint8_t) (rand () % 5);
        for (uint8_t d = 0; d < ons[id]; d++)
            on[id][d] = 1 + (uint64_t) rand () % (id - 1);
        edges += ons[id];
        int rc = s_add (deps, id, on[id], ons[id]);
        cr_assert (rc == DEPS_READY || rc == DEPS_WAITING);
        if (rc == DEPS_READY)
            ready[ready_count++] = id;
    }
    uint64_t before = deps_steps (deps);
    size_t done = 0, seen = 0;
    while (ready_count > 0) {
        size_t pick = (size_t) rand () % ready_count;
        uint64_t id = ready[pick];
        ready[pick] = ready[--ready_count];
        for (uint8_t d = 0; d < ons[id]; d++)
            cr_assert (ran[on[id][d]], "tuple %lu ran before its dependency %lu",
                       (unsigned long) id, (unsigned long) on[id][d]);
        ran[id] = true;
        done++;
        deps_ended (deps, R (id), DEPS_OK, true);
        for (; seen < h.count; seen++)
            ready[ready_count++] = h.tuples[seen].id;
    }
    cr_assert_eq (done, N, "every tuple ran once");
    cr_assert_eq (deps_waiting (deps), 0);
    uint64_t steps = deps_steps (deps);
    cr_log_info ("%d tuples, %lu edges: %lu steps (%lu to resolve)", N,
                 (unsigned long) edges, (unsigned long) steps, (unsigned long) (steps - before));
    cr_assert_leq (steps, 3 * (N + edges), "steps %lu for %d tuples and %lu edges",
                   (unsigned long) steps, N, (unsigned long) edges);
    free (on);
    free (ons);
    free (ready);
    free (ran);
    deps_destroy (&deps);
    s_heard_free (&h);
}

//  A chain of 100,000 whose head fails: the skip goes all the way down
//  without recursion, in steps linear in the chain.
//  A job accepted a batch at a time grows its ledger in O(n) in all: the
//  bytes zeroed (deps_steps counts them) stay within twice the final
//  ledger, however many batches it took.
Test (deps, a_ledger_grown_a_batch_at_a_time_is_zeroed_once)
{
    deps_t *deps = deps_new (s_heard, NULL);
    cr_assert_not_null (deps);
    enum { N = 4 * 1024 * 1024, BATCH = 1024 };
    for (uint64_t next = BATCH; next <= N; next += BATCH)
        cr_assert_eq (deps_grow (deps, 1, next + 1), 0);
    uint64_t steps = deps_steps (deps);
    cr_log_info ("%d ids a batch of %d at a time: %lu bytes zeroed", N, BATCH,
                 (unsigned long) steps);
    cr_assert_leq (steps, 2 * (N / 4 + 1), "%lu bytes zeroed for a ledger of %d bytes",
                   (unsigned long) steps, N / 4);
    deps_destroy (&deps);
}

Test (deps, long_chain_skips_without_recursion)
{
    enum { N = 100000 };
    heard_t h = { 0 };
    deps_t *deps = deps_new (s_heard, &h);
    cr_assert_eq (deps_grow (deps, 1, N + 1), 0);
    uint64_t grown = deps_steps (deps);         //  the ledger zeroed
    for (uint64_t id = 2; id <= N; id++)
        cr_assert_eq (s_add (deps, id, (uint64_t[]) { id - 1 }, 1), DEPS_WAITING);
    deps_ended (deps, R (1), DEPS_FAILED, true);
    cr_assert_eq (h.count, N - 1);
    for (size_t i = 0; i < h.count; i++)
        cr_assert (h.skipped[i] && h.causes[i].id == 1);
    cr_assert_leq (deps_steps (deps) - grown, 4 * (uint64_t) N);
    deps_destroy (&deps);
    s_heard_free (&h);
}

//  ---------------------------------------------------------------------
//  A SUBMIT's deps map (deps_batch.c)

//  {position: [id], ...} for count tuples, tuple i (from 1) on on[i - 1]
//  (0: none), packed into buf.
static void
s_pack_deps (msgpack_sbuffer *buf, const uint64_t *on, size_t count)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    size_t with = 0;
    for (size_t i = 0; i < count; i++)
        with += on[i] != 0;
    msgpack_pack_map (&pk, with);
    for (size_t i = 0; i < count; i++)
        if (on[i]) {
            msgpack_pack_uint64 (&pk, i + 1);
            msgpack_pack_array (&pk, 1);
            msgpack_pack_uint64 (&pk, on[i]);
        }
}

Test (deps_batch, a_long_backward_chain_is_accepted_and_a_cycle_refused)
{
    enum { N = 100000 };
    uint64_t *on = calloc (N, sizeof *on);
    //  Each tuple waits on the one after it (ids 11 .. N + 10: the job had 10).
    for (size_t i = 0; i + 1 < N; i++)
        on[i] = 11 + i + 1;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    s_pack_deps (&buf, on, N);
    char reason[256] = "";
    deps_batch_t *batch = deps_batch_new (buf.data, buf.size, N, "j", 11, NULL, NULL,
                                          reason, sizeof reason);
    cr_assert_not_null (batch, "%s", reason);
    size_t count;
    const deps_ref_t *refs = deps_batch_of (batch, 0, &count);
    cr_assert_eq (count, 1);
    cr_assert_eq (refs[0].job, DEPS_BATCH_OWN);
    cr_assert_eq (refs[0].id, 12);
    cr_assert_eq (deps_batch_tuples (batch), N - 1);
    deps_batch_destroy (&batch);
    //  The last waits on the first: all of them on a cycle.
    on[N - 1] = 11;
    msgpack_sbuffer_clear (&buf);
    s_pack_deps (&buf, on, N);
    batch = deps_batch_new (buf.data, buf.size, N, "j", 11, NULL, NULL, reason, sizeof reason);
    cr_assert_null (batch);
    cr_assert (strstr (reason, "a cycle: tuple 1 (id 11) and 99999 others"), "%s", reason);
    msgpack_sbuffer_destroy (&buf);
    free (on);
}

//  Another job by name for deps_batch: "other" is job 7 with ids 1 .. 5.
static bool
s_other_job (void *arg, const char *name, size_t size, uint32_t *job_p, uint64_t *next_id_p)
{
    (void) arg;
    if (size != 5 || memcmp (name, "other", 5))
        return false;
    *job_p = 7;
    *next_id_p = 6;
    return true;
}

static const char *
s_refusal (const char *map, size_t size, size_t count)
{
    static char reason[256];
    deps_batch_t *batch = deps_batch_new (map, size, count, "j", 1, s_other_job, NULL,
                                          reason, sizeof reason);
    if (batch) {
        deps_batch_destroy (&batch);
        return NULL;
    }
    return reason;
}

Test (deps_batch, what_is_refused_says_which_tuple)
{
    //  {1: ["other:5", "j:2"]} of 2 tuples: fine, other:5 is job 7's.
    cr_assert_null (s_refusal ("\x81\x01\x92\xa7other:5\xa3j:2", 15, 2));
    //  {1: ["other:6"]}
    cr_assert_str_eq (s_refusal ("\x81\x01\x91\xa7other:6", 11, 2),
                      "deps: tuple 1: job other has no tuple 6 (its ids: 1 to 5)");
    //  {2: ["ghost:1"]}
    cr_assert_str_eq (s_refusal ("\x81\x02\x91\xa7ghost:1", 11, 2), "deps: tuple 2: no job ghost");
    //  {2: [3]} of 2: beyond the SUBMIT
    cr_assert_str_eq (s_refusal ("\x81\x02\x91\x03", 4, 2),
                      "deps: tuple 2: job j has no tuple 3 (its ids with this SUBMIT: 1 to 2)");
    //  {3: [1]} of 2: no such position
    cr_assert (strstr (s_refusal ("\x81\x03\x91\x01", 4, 2), "position"));
    //  {1: 5}: not an array; {1: [-1]}; {1: ["nocolon"]}
    cr_assert (strstr (s_refusal ("\x81\x01\x05", 3, 2), "not an array"));
    cr_assert (strstr (s_refusal ("\x81\x01\x91\xff", 4, 2), "a uint"));
    cr_assert (strstr (s_refusal ("\x81\x01\x91\xa7nocolon", 11, 2), "is not JOB:ID"));
    //  Not a map at all.
    cr_assert (strstr (s_refusal ("\x91\x01", 2, 2), "not a map"));
}
