//  test_producer.c -- the producer class (producer/producer.h) on its own
//  against a real broker: pipelined batches, QUEUE_FULL and resend,
//  refusals, a bad endpoint, and falling back to protocol version 1 for
//  a broker that speaks only that.
#include "producer/producer.h"
#include "proto/msg.h"
#include "proto/wire.h"
#include "support.h"
#include "support_producer.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  An agent that takes every tuple and sits on it: HELLO with many slots,
//  then heartbeats, so the broker's queue drains without anything running.
typedef struct {
    const char *backend;
    atomic_bool stop;
    atomic_ulong tuples;
} sponge_t;

static void *
s_sponge (void *arg)
{
    sponge_t *self = arg;
    zsock_t *dealer = zsock_new_dealer (self->backend);
    msg_t *hello = msg_new (MSG_HELLO);
    msg_set_str (hello, MSG_F_AGENT, "sponge");
    msg_set_uint (hello, MSG_F_SLOTS, 1000000);
    wire_send (&hello, dealer, NULL);
    zpoller_t *poller = zpoller_new (dealer, NULL);
    int64_t beat = 0;
    while (!atomic_load (&self->stop)) {
        if (support_now_ms () - beat > 300) {
            msg_t *heartbeat = msg_new (MSG_HEARTBEAT);
            wire_send (&heartbeat, dealer, NULL);
            beat = support_now_ms ();
        }
        if (!zpoller_wait (poller, 50))
            continue;
        msg_t *msg = NULL;
        if (wire_recv (dealer, NULL, &msg) == 0 && msg_command (msg) == MSG_WORK)
            atomic_fetch_add (&self->tuples, msg_tuple_count (msg));
        msg_destroy (&msg);
    }
    msg_t *bye = msg_new (MSG_BYE);
    wire_send (&bye, dealer, NULL);
    zpoller_destroy (&poller);
    zsock_destroy (&dealer);
    return NULL;
}

//  count tuples [base + i, i] packed in one frame, as producer_submit takes them.
static zframe_t *
s_batch (int count, int base)
{
    zframe_t *batch = zframe_new (NULL, (size_t) count * 7);
    unsigned char *tuple = zframe_data (batch);
    for (int i = 0; i < count; i++, tuple += 7) {
        tuple[0] = 0x92;                                    //  [uint16, uint16]
        tuple[1] = 0xcd;
        tuple[2] = (unsigned char) ((base + i) >> 8);
        tuple[3] = (unsigned char) (base + i);
        tuple[4] = 0xcd;
        tuple[5] = (unsigned char) (i >> 8);
        tuple[6] = (unsigned char) i;
    }
    return batch;
}

Test (producer, pipelined_batches_and_queue_full,
     .timeout = 60, .init = site_with_small_queue, .fini = site_cleanup) {
    site_t *site = &producer_site;
    producer_t *producer = producer_new (site->frontend);
    cr_assert (producer);
    producer_set_job (producer, "piped");
    producer_set_handler (producer, "echo");
    producer_set_sink (producer, site->sink);
    char err[128];
    cr_assert_eq (producer_set_options (producer, "{\"k\": [1, 2]}", err, sizeof err), 0);
    producer_set_max_attempts (producer, 2);
    producer_set_timeout_ms (producer, 5000);
    producer_set_reply_timeout (producer, 5000);
    //  Two batches fit under --max-queued 2000; the next three are answered
    //  QUEUE_FULL and must go again once the sponge has drained the queue.
    for (int i = 0; i < 5; i++) {
        zframe_t *batch = s_batch (1000, i * 1000);
        cr_assert_eq (producer_submit (producer, &batch, 1000), 0, "%s", producer_error (producer));
        cr_assert_null (batch);
    }
    sponge_t sponge = { .backend = site->backend };
    pthread_t thread;
    pthread_create (&thread, NULL, s_sponge, &sponge);
    cr_assert_eq (producer_flush (producer), 0, "%s", producer_error (producer));
    uint64_t first, last;
    cr_expect_eq (producer_accepted (producer, &first, &last), 5000);
    cr_expect_eq (first, 1);
    cr_expect_eq (last, 5000);
    cr_assert_eq (producer_close (producer), 0, "%s", producer_error (producer));
    producer_status_t status;
    cr_assert_eq (producer_status (producer, "piped", &status), 0);
    cr_expect_str_eq (status.state, "closed");
    cr_expect_eq (status.submitted, 5000);
    cr_expect (SUPPORT_WAIT (atomic_load (&sponge.tuples) == 5000, 10000),
               "the sponge got %lu tuples", atomic_load (&sponge.tuples));

    //  After close: a refusal, with its code and the broker's reason.
    zframe_t *late = s_batch (1, 0);
    int rc = producer_submit (producer, &late, 1);
    if (rc == 0)
        rc = producer_flush (producer);
    cr_expect_eq (rc, -DRV_E_JOB_CLOSED);
    cr_expect_eq (producer_refused (producer), DRV_E_JOB_CLOSED);
    cr_expect (strstr (producer_error (producer), "JOB_CLOSED"), "%s", producer_error (producer));
    producer_destroy (&producer);
    cr_assert_null (producer);
    atomic_store (&sponge.stop, true);
    pthread_join (thread, NULL);
}

Test (producer, conflict_and_bad_options, .init = site_with_broker, .fini = site_cleanup) {
    site_t *site = &producer_site;
    producer_t *producer = producer_new (site->frontend);
    char err[128] = "";
    cr_expect_eq (producer_set_options (producer, "[1]", err, sizeof err), -1);
    cr_expect_str_eq (err, "options must be a JSON object");
    cr_expect_eq (producer_set_options (producer, "{", err, sizeof err), -1);
    cr_expect_str_eq (err, "line 1, column 2: expected a string key, got end of input");
    producer_set_job (producer, "c");
    producer_set_handler (producer, "echo");
    producer_set_sink (producer, site->sink);
    zframe_t *batch = s_batch (3, 0);
    cr_assert_eq (producer_submit (producer, &batch, 3), 0);
    cr_assert_eq (producer_flush (producer), 0, "%s", producer_error (producer));
    producer_destroy (&producer);

    //  Same job, another handler: CONFLICT, and nothing more is sent.
    producer = producer_new (site->frontend);
    producer_set_reply_timeout (producer, 5000);
    producer_set_job (producer, "c");
    producer_set_handler (producer, "sleep");
    producer_set_sink (producer, site->sink);
    batch = s_batch (3, 0);
    int rc = producer_submit (producer, &batch, 3);
    if (rc == 0)
        rc = producer_flush (producer);
    cr_expect_eq (rc, -DRV_E_CONFLICT, "rc %d: %s", rc, producer_error (producer));
    cr_expect (strstr (producer_error (producer), "broker refused batch 1: CONFLICT"),
               "%s", producer_error (producer));
    batch = s_batch (1, 0);
    cr_expect_eq (producer_submit (producer, &batch, 1), -DRV_E_CONFLICT, "sticky");
    cr_expect_null (batch);
    producer_destroy (&producer);
    producer_status_t status;
    cr_assert_eq (site_status (site, "c", &status), 0);
    cr_expect_eq (status.submitted, 3);
}

//  A packed batch that is not exactly count well-formed values is refused
//  here, before anything goes out: the broker never hears of the job.
Test (producer, packed_batch_not_count_values, .init = site_with_broker,
      .fini = site_cleanup) {
    site_t *site = &producer_site;
    static const struct { const char *bytes; size_t size, count; } bad[] = {
        { "\x01\x02", 2, 3 },              //  fewer values than count
        { "\x01\x02\x03", 3, 2 },          //  more
        { "\x01\x92\x01", 3, 2 },          //  the last one cut short
        { "", 0, 1 },                      //  none at all
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        producer_t *producer = producer_new (site->frontend);
        producer_set_job (producer, "bad");
        producer_set_handler (producer, "echo");
        producer_set_sink (producer, site->sink);
        zframe_t *batch = zframe_new (bad[i].bytes, bad[i].size);
        cr_expect_eq (producer_submit (producer, &batch, bad[i].count), -DRV_E_BAD_TUPLE,
                      "case %zu: %s", i, producer_error (producer));
        cr_expect_null (batch);
        cr_expect (strstr (producer_error (producer), "the tuples of batch 1 are not"),
                   "case %zu: %s", i, producer_error (producer));
        cr_expect_eq (producer_refused (producer), 0, "not the broker's refusal");
        producer_destroy (&producer);
    }
    producer_status_t status;
    cr_expect_eq (site_status (site, "bad", &status), -DRV_E_UNKNOWN_JOB);
}

Test (producer, new_on_a_bad_endpoint) {
    cr_expect_null (producer_new ("not an endpoint"));
    cr_expect_null (producer_new ("tcp://"));
}

//  A broker of protocol version 1 only, as drover's was: a version 2
//  request gets ERROR BAD_VERSION "supported: 1" (with the request's batch
//  when echo_batch), a version 1 SUBMIT ACCEPTED, a STATUS JOB.
typedef struct {
    zsock_t *router;
    bool echo_batch;
    atomic_bool stop;
    atomic_int v2_requests, v1_tuples;
} old_broker_t;

static void
s_old_broker_answer (old_broker_t *self, zmsg_t *envelope, msg_t *msg, uint64_t *next_id)
{
    msg_t *reply = NULL;
    if (msg_version (msg) != 1) {
        atomic_fetch_add (&self->v2_requests, 1);
        reply = msg_new (MSG_ERROR);
        msg_set_uint (reply, MSG_F_CODE, DRV_E_BAD_VERSION);
        msg_set_str (reply, MSG_F_REASON, "supported: 1");
        if (self->echo_batch && msg_has (msg, MSG_F_BATCH))
            msg_set_str (reply, MSG_F_BATCH, msg_str (msg, MSG_F_BATCH));
    }
    else
    if (msg_command (msg) == MSG_SUBMIT) {
        atomic_fetch_add (&self->v1_tuples, (int) msg_tuple_count (msg));
        reply = msg_new (MSG_ACCEPTED);
        msg_set_str (reply, MSG_F_JOB, msg_str (msg, MSG_F_JOB));
        msg_set_uint (reply, MSG_F_FIRST, *next_id);
        msg_set_uint (reply, MSG_F_COUNT, msg_tuple_count (msg));
        if (msg_has (msg, MSG_F_BATCH))
            msg_set_str (reply, MSG_F_BATCH, msg_str (msg, MSG_F_BATCH));
        *next_id += msg_tuple_count (msg);
    }
    else {
        reply = msg_new (MSG_JOB);
        msg_set_str (reply, MSG_F_JOB, msg_str (msg, MSG_F_JOB));
        msg_set_str (reply, MSG_F_STATE, "open");
        msg_set_uint (reply, MSG_F_SUBMITTED, *next_id - 1);
        const msg_field_t zero[] = { MSG_F_QUEUED, MSG_F_RUNNING, MSG_F_DONE, MSG_F_FAILED };
        for (size_t i = 0; i < 4; i++)
            msg_set_uint (reply, zero[i], 0);
    }
    msg_set_version (reply, 1);
    wire_send (&reply, self->router, envelope);
}

static void *
s_old_broker (void *arg)
{
    old_broker_t *self = arg;
    uint64_t next_id = 1;
    zpoller_t *poller = zpoller_new (self->router, NULL);
    while (!atomic_load (&self->stop)) {
        if (!zpoller_wait (poller, 50))
            continue;
        zmsg_t *envelope = NULL;
        msg_t *msg = NULL;
        if (wire_recv (self->router, &envelope, &msg) == 0)
            s_old_broker_answer (self, envelope, msg, &next_id);
        msg_destroy (&msg);
        zmsg_destroy (&envelope);
    }
    zpoller_destroy (&poller);
    return NULL;
}

//  Against a version 1 broker the producer sends each batch again in
//  version 1, and all after in version 1 from the start; so STATUS.
static void
s_falls_back (bool echo_batch)
{
    old_broker_t broker = { .echo_batch = echo_batch };
    char endpoint[64];
    snprintf (endpoint, sizeof endpoint, "%s", support_endpoint ());
    broker.router = zsock_new (ZMQ_ROUTER);
    cr_assert_geq (zsock_bind (broker.router, "%s", endpoint), 0);
    pthread_t thread;
    pthread_create (&thread, NULL, s_old_broker, &broker);

    producer_t *producer = producer_new (endpoint);
    producer_set_job (producer, "old");
    producer_set_reply_timeout (producer, 5000);
    for (int i = 0; i < 3; i++) {       //  in flight together, all in version 2
        zframe_t *batch = s_batch (10, i * 10);
        cr_assert_eq (producer_submit (producer, &batch, 10), 0, "%s", producer_error (producer));
    }
    cr_assert_eq (producer_flush (producer), 0, "%s", producer_error (producer));
    zframe_t *batch = s_batch (5, 30);
    cr_assert_eq (producer_submit (producer, &batch, 5), 0, "%s", producer_error (producer));
    cr_assert_eq (producer_flush (producer), 0, "%s", producer_error (producer));
    uint64_t first, last;
    cr_expect_eq (producer_accepted (producer, &first, &last), 35);
    cr_expect (first == 1 && last == 35);
    cr_expect_eq (atomic_load (&broker.v2_requests), 3, "the later batch went in version 1");
    cr_expect_eq (atomic_load (&broker.v1_tuples), 35);
    producer_destroy (&producer);

    //  STATUS from a new producer: refused in version 2, asked again in 1.
    producer = producer_new (endpoint);
    producer_set_reply_timeout (producer, 5000);
    producer_status_t status;
    cr_assert_eq (producer_status (producer, "old", &status), 0, "%s", producer_error (producer));
    cr_expect_eq (status.submitted, 35);
    cr_expect_eq (atomic_load (&broker.v2_requests), 4);
    producer_destroy (&producer);
    atomic_store (&broker.stop, true);
    pthread_join (thread, NULL);
    zsock_destroy (&broker.router);
}

Test (producer, falls_back_to_version_1, .timeout = 60) {
    s_falls_back (true);
}

Test (producer, falls_back_when_errors_carry_no_batch, .timeout = 60) {
    s_falls_back (false);
}
