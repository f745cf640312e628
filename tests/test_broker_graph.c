//  test_broker_graph.c -- job graphs (PROTOCOL.md 14) on the wire, the
//  test playing producer and agent: a SUBMIT's deps map holds tuples back,
//  each WORK carries only tuples whose dependencies are done, a dependency
//  reported dead makes the broker send what waits on it as skipped
//  (dead_letter naming it, excluded, status 5), and STATUS's counters add
//  up at every step.  On both stores (the memory store keeps payloads of
//  waiting tuples in the graph; LMDB reads them back).
#include "support_broker.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

TestSuite (broker_graph, .fini = tb_fini, .timeout = 120);

//  deps {2: [1], 3: [2], 4: [1]} for a SUBMIT of 4.
static void
s_set_deps (msg_t *msg)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 3);
    uint64_t pairs[3][2] = { { 2, 1 }, { 3, 2 }, { 4, 1 } };
    for (size_t i = 0; i < 3; i++) {
        msgpack_pack_uint64 (&pk, pairs[i][0]);
        msgpack_pack_array (&pk, 1);
        msgpack_pack_uint64 (&pk, pairs[i][1]);
    }
    cr_assert_eq (msg_set_raw (msg, MSG_F_DEPS, buf.data, buf.size), 0);
    msgpack_sbuffer_destroy (&buf);
}

//  The ids of the next WORK, which must come within 5 s, into ids.
static size_t
s_work (zsock_t *agent, uint64_t *ids, size_t max, msg_t **work_p)
{
    msg_t *work = tb_next_work (agent, 5000);
    cr_assert_not_null (work, "no WORK");
    size_t count = 0;
    const msg_ref_t *refs = msg_refs (work, MSG_F_TUPLES, &count);
    cr_assert_leq (count, max);
    for (size_t i = 0; i < count; i++)
        ids[i] = refs[i].id;
    if (work_p)
        *work_p = work;
    else
        msg_destroy (&work);
    return count;
}

static void
s_counts (zsock_t *req, uint64_t queued, uint64_t waiting, uint64_t done, uint64_t failed,
          uint64_t skipped)
{
    msg_t *job = tb_status (req, "g");
    cr_expect_eq (msg_uint (job, MSG_F_QUEUED), queued, "queued");
    cr_expect_eq (msg_uint (job, MSG_F_WAITING), waiting, "waiting");
    cr_expect_eq (msg_uint (job, MSG_F_DONE), done, "done");
    cr_expect_eq (msg_uint (job, MSG_F_FAILED), failed, "failed");
    cr_expect_eq (msg_uint (job, MSG_F_SKIPPED), skipped, "skipped");
    cr_expect_eq (msg_uint (job, MSG_F_SUBMITTED), msg_uint (job, MSG_F_QUEUED)
                  + msg_uint (job, MSG_F_WAITING) + msg_uint (job, MSG_F_RUNNING)
                  + msg_uint (job, MSG_F_DONE) + msg_uint (job, MSG_F_FAILED),
                  "the counters do not add up");
    msg_destroy (&job);
}

static void
s_graph_on_the_wire (const char *store)
{
    setenv ("DROVER_TEST_STORE", store, 1);
    tb_start (NULL);
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    msg_t *submit = tb_submit_msg ("g", "echo", NULL, 1, 4, true);
    msg_set_uint (submit, MSG_F_MAX_ATTEMPTS, 1);
    s_set_deps (submit);
    tb_send (req, submit);
    tb_expect_accepted (req, 1, 4, NULL);
    s_counts (req, 1, 3, 0, 0, 0);

    zsock_t *agent = tb_agent ("a1", 10);
    uint64_t ids[10];
    cr_assert_eq (s_work (agent, ids, 10, NULL), 1);
    cr_assert_eq (ids[0], 1, "only tuple 1 waits on nothing");
    tb_agent_send (agent, MSG_DONE, "g", (msg_ref_t[]) { { 1, 1 } }, 1, NULL, 0);
    //  2 and 4 waited on 1 only.
    size_t got = s_work (agent, ids, 10, NULL);
    if (got == 1)
        got += s_work (agent, ids + 1, 9, NULL);
    cr_assert_eq (got, 2);
    cr_assert ((ids[0] == 2 && ids[1] == 4) || (ids[0] == 4 && ids[1] == 2));
    //  2 fails for good: 3 is sent to be stored as skipped.
    msg_ref_t none[1] = { { 0, 0 } }, two[1] = { { 2, 1 } };
    tb_agent_send (agent, MSG_DONE, "g", none, 0, two, 1);     //  tuples: [] is required
    msg_t *work = NULL;
    cr_assert_eq (s_work (agent, ids, 10, &work), 1);
    cr_expect_eq (ids[0], 3);
    cr_expect_eq (msg_uint (work, MSG_F_STATUS), 5);
    cr_expect (msg_bool (work, MSG_F_EXCLUDED));
    cr_expect (msg_has (work, MSG_F_DEAD_LETTER)
               && strstr (msg_str (work, MSG_F_DEAD_LETTER), "dependency g:2 failed"),
               "dead_letter '%s'", msg_str (work, MSG_F_DEAD_LETTER));
    msg_destroy (&work);
    tb_agent_send (agent, MSG_DONE, "g", (msg_ref_t[]) { { 3, 1 }, { 4, 1 } }, 2, NULL, 0);
    cr_assert (SUPPORT_WAIT (tb_status_field (req, "g", MSG_F_DONE) == 3, 5000));
    s_counts (req, 0, 0, 3, 1, 1);
    msg_t *job = tb_status (req, "g");
    cr_expect_str_eq (msg_str (job, MSG_F_STATE), "complete");
    msg_destroy (&job);
}

Test (broker_graph, lmdb_holds_and_skips)
{
    s_graph_on_the_wire ("lmdb");
}

Test (broker_graph, memory_holds_and_skips)
{
    s_graph_on_the_wire ("memory");
}

Test (broker_graph, a_retried_batch_is_answered_as_first)
{
    tb_start (NULL);
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    for (int i = 0; i < 2; i++) {
        msg_t *submit = tb_submit_msg ("g", "echo", "b1", 1, 4, false);
        s_set_deps (submit);
        tb_send (req, submit);
        tb_expect_accepted (req, 1, 4, "b1");
    }
    s_counts (req, 1, 3, 0, 0, 0);
    //  A later batch may name the earlier batches' ids, not ids to come.
    msg_t *submit = tb_submit_msg ("g", NULL, "b2", 5, 1, false);
    cr_assert_eq (msg_set_raw (submit, MSG_F_DEPS, "\x81\x01\x91\x09", 4), 0);    //  {1: [9]}
    tb_send (req, submit);
    msg_t *error = tb_expect_error (req, DRV_E_BAD_TYPE);
    cr_expect (strstr (msg_str (error, MSG_F_REASON), "has no tuple 9"), "reason '%s'",
               msg_str (error, MSG_F_REASON));
    msg_destroy (&error);
    submit = tb_submit_msg ("g", NULL, "b3", 5, 1, false);
    cr_assert_eq (msg_set_raw (submit, MSG_F_DEPS, "\x81\x01\x91\x03", 4), 0);    //  {1: [3]}
    tb_send (req, submit);
    tb_expect_accepted (req, 5, 1, "b3");
    s_counts (req, 1, 4, 0, 0, 0);
}

//  A tuple waiting on dependencies, or copied into the runs of a job run
//  with each, is not in the queue's levels: per_tuple goes with neither
//  (PROTOCOL.md 13.3).  Refused whole, before anything changes.
Test (broker_graph, per_tuple_with_deps_is_refused)
{
    tb_start (NULL);
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    msg_t *submit = tb_submit_msg ("g", "echo", "b1", 1, 4, false);
    s_set_deps (submit);
    //  {"priority": [[1, 1, 9]]}
    cr_assert_eq (msg_set_raw (submit, MSG_F_PER_TUPLE,
                               "\x81\xa8priority\x91\x93\x01\x01\x09", 15), 0);
    tb_send (req, submit);
    msg_t *error = tb_expect_error (req, DRV_E_BAD_TYPE);
    cr_expect (strstr (msg_str (error, MSG_F_REASON), "per_tuple goes with neither deps"),
               "reason '%s'", msg_str (error, MSG_F_REASON));
    msg_destroy (&error);
    //  Nothing of it was taken: the same batch without per_tuple is new.
    submit = tb_submit_msg ("g", "echo", "b1", 1, 4, false);
    s_set_deps (submit);
    tb_send (req, submit);
    tb_expect_accepted (req, 1, 4, "b1");
}
