//  test_durability_submit.c -- SUBMIT across retries and restarts: a
//  retried batch (same batch id) is not added twice, also across a broker
//  SIGKILL; QUEUE_FULL at --max-queued lifts once agents drain the queue.
//  Black-box, on the cluster of support_durability.h.
#include "support.h"
#include "support_durability.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <msgpack.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

//  A SUBMIT of tuples [i] for i in first_value.., optionally with a batch id.
static msg_t *
s_submit_msg (const cluster_t *c, const char *job, const char *batch, int count, int first_value)
{
    msg_t *msg = msg_new (MSG_SUBMIT);
    msg_set_str (msg, MSG_F_JOB, job);
    msg_set_str (msg, MSG_F_HANDLER, "echo");
    msg_set_str (msg, MSG_F_SINK, c->sink);
    if (batch)
        msg_set_str (msg, MSG_F_BATCH, batch);
    for (int i = 0; i < count; i++) {
        msgpack_sbuffer buffer;
        msgpack_sbuffer_init (&buffer);
        msgpack_packer packer;
        msgpack_packer_init (&packer, &buffer, msgpack_sbuffer_write);
        msgpack_pack_array (&packer, 1);
        msgpack_pack_int (&packer, first_value + i);
        zframe_t *frame = zframe_new (buffer.data, buffer.size);
        msg_payload_append (msg, &frame);
        msgpack_sbuffer_destroy (&buffer);
    }
    return msg;
}

//  Send a SUBMIT, expect ACCEPTED first/count (and the batch echoed).
static void
s_expect_accepted (const cluster_t *c, msg_t *submit, const char *batch,
                   uint64_t first, uint64_t count)
{
    msg_t *reply = cluster_request (c->frontend, &submit, 10000);
    cr_assert_not_null (reply, "no answer to SUBMIT batch %s", batch);
    cr_assert_eq (msg_command (reply), MSG_ACCEPTED, "SUBMIT batch %s got %s (%s: %s)", batch,
                  msg_command_name (msg_command (reply)),
                  msg_error_name ((int) msg_uint (reply, MSG_F_CODE)),
                  msg_str (reply, MSG_F_REASON)? msg_str (reply, MSG_F_REASON): "");
    cr_expect_eq (msg_uint (reply, MSG_F_FIRST), first, "batch %s: first %" PRIu64, batch,
                  msg_uint (reply, MSG_F_FIRST));
    cr_expect_eq (msg_uint (reply, MSG_F_COUNT), count, "batch %s: count %" PRIu64, batch,
                  msg_uint (reply, MSG_F_COUNT));
    if (batch)
        cr_expect_str_eq (msg_str (reply, MSG_F_BATCH)? msg_str (reply, MSG_F_BATCH): "", batch);
    msg_destroy (&reply);
}

static void
s_expect_submitted (const cluster_t *c, const char *job, uint64_t submitted)
{
    counters_t counters = { .state = "" };
    cr_assert_eq (cluster_status (c, job, &counters), 0, "no JOB answer to STATUS %s", job);
    cr_expect_eq (counters.submitted, submitted, "job %s: submitted %" PRIu64 ", want %" PRIu64,
                  job, counters.submitted, submitted);
}

Test (durability, retried_submit_same_batch_is_not_duplicated, .timeout = 60)
{
    cluster_t c = { 0 };
    cluster_init (&c);
    cluster_broker_start (&c);

    s_expect_accepted (&c, s_submit_msg (&c, "idem", "b1", 3, 0), "b1", 1, 3);
    s_expect_submitted (&c, "idem", 3);
    //  The producer timed out and sends the same SUBMIT again, from a new
    //  connection: same ACCEPTED, nothing added.
    s_expect_accepted (&c, s_submit_msg (&c, "idem", "b1", 3, 0), "b1", 1, 3);
    s_expect_submitted (&c, "idem", 3);
    //  Another batch id is new tuples.
    s_expect_accepted (&c, s_submit_msg (&c, "idem", "b2", 2, 3), "b2", 4, 2);
    s_expect_submitted (&c, "idem", 5);
    s_expect_accepted (&c, s_submit_msg (&c, "idem", "b1", 3, 0), "b1", 1, 3);
    s_expect_submitted (&c, "idem", 5);
    cluster_stop (&c);
}

Test (durability, retried_submit_after_broker_restart_is_not_duplicated, .timeout = 60)
{
    cluster_t c = { 0 };
    cluster_init (&c);
    cluster_broker_start (&c);
    s_expect_accepted (&c, s_submit_msg (&c, "idem", "b1", 3, 0), "b1", 1, 3);

    //  The broker committed b1 and died; its ACCEPTED may never have reached
    //  the producer, which retries against the restarted broker.
    cluster_kill9 (&c.broker);
    cluster_broker_start (&c);
    counters_t counters = { .state = "" };
    cr_assert (SUPPORT_WAIT (cluster_status (&c, "idem", &counters) == 0, 20000),
               "the restarted broker does not know job 'idem'");
    cr_expect_eq (counters.submitted, 3, "submitted %" PRIu64 " after restart", counters.submitted);
    s_expect_accepted (&c, s_submit_msg (&c, "idem", "b1", 3, 0), "b1", 1, 3);
    s_expect_submitted (&c, "idem", 3);
    s_expect_accepted (&c, s_submit_msg (&c, "idem", "b2", 1, 3), "b2", 4, 1);
    s_expect_submitted (&c, "idem", 4);
    cluster_stop (&c);
}

Test (durability, queue_full_at_limit_then_accepts_after_drain, .timeout = 90)
{
    cluster_t c = { 0 };
    c.max_queued = "10";
    cluster_init (&c);
    cluster_broker_start (&c);

    s_expect_accepted (&c, s_submit_msg (&c, "full", "a", 10, 0), "a", 1, 10);
    msg_t *submit = s_submit_msg (&c, "full", "b", 1, 10);
    msg_t *reply = cluster_request (c.frontend, &submit, 10000);
    cr_assert_not_null (reply, "no answer to a SUBMIT over the limit");
    cr_assert_eq (msg_command (reply), MSG_ERROR, "SUBMIT over --max-queued got %s",
                  msg_command_name (msg_command (reply)));
    cr_expect_eq (msg_uint (reply, MSG_F_CODE), DRV_E_QUEUE_FULL, "code %" PRIu64,
                  msg_uint (reply, MSG_F_CODE));
    cr_expect (msg_has (reply, MSG_F_RETRY_MS) && msg_uint (reply, MSG_F_RETRY_MS) > 0,
               "QUEUE_FULL without a retry_ms hint");
    cr_expect_str_eq (msg_str (reply, MSG_F_BATCH)? msg_str (reply, MSG_F_BATCH): "", "b");
    msg_destroy (&reply);
    s_expect_submitted (&c, "full", 10);

    //  Agents drain the queue; then the broker takes tuples again.
    cluster_sink_start (&c);
    cluster_agent_start (&c, 0);
    counters_t counters = { .state = "" };
    cr_assert (SUPPORT_WAIT (cluster_status (&c, "full", &counters) == 0 && counters.done == 10, 30000),
               "the agent did not drain the queue: done %" PRIu64 ", queued %" PRIu64,
               counters.done, counters.queued);
    s_expect_accepted (&c, s_submit_msg (&c, "full", "c", 5, 10), "c", 11, 5);
    s_expect_submitted (&c, "full", 15);
    cr_assert (SUPPORT_WAIT (support_count_lines (c.results) >= 15, 30000),
               "the tuples accepted after the drain were not run");
    tally_t tally = cluster_tally (c.results, "full", 15);
    cluster_expect_exactly_once (&c, &tally, 15);
    cluster_stop (&c);
}
