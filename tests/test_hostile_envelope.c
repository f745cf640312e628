//  test_hostile_envelope.c -- routing envelopes an attacker or an odd
//  client sends, against the real broker (frontend and backend) and sink
//  (issue 10 items 1 and 8, PROTOCOL.md 3.1): a million frames before the
//  delimiter must not kill a daemon (they once overflowed its stack), an
//  envelope over 32 frames is dropped while one of 32 is answered, and a
//  peer whose routing id starts with "DRV" is answered like any other.
#include "support_broker.h"
#include "support_sink.h"

#include <criterion/criterion.h>
#include <string.h>

TestSuite (hostile_envelope, .fini = tb_fini, .timeout = 300);

#define ATTACK_FRAMES 1100000       //  the message

//  Send frames one-byte frames, an empty frame, then msg (taken): a
//  message whose envelope, if it had one, would be frames + 2 long.
static void
s_send_behind (zsock_t *sock, size_t frames, msg_t *msg)
{
    void *handle = zsock_resolve (sock);
    for (size_t i = 0; i < frames; i++)
        cr_assert_eq (zmq_send (handle, "x", 1, ZMQ_SNDMORE), 1);
    cr_assert_eq (zmq_send (handle, "", 0, ZMQ_SNDMORE), 0);
    cr_assert_eq (wire_send (&msg, sock, NULL), 0);
}

static msg_t *
s_status_msg (const char *job)
{
    msg_t *msg = msg_new (MSG_STATUS);
    msg_set_str (msg, MSG_F_JOB, job);
    return msg;
}

static msg_t *
s_hello_msg (const char *name)
{
    msg_t *msg = msg_new (MSG_HELLO);
    msg_set_str (msg, MSG_F_AGENT, name);
    msg_set_uint (msg, MSG_F_SLOTS, 1);
    return msg;
}

//  The broker is alive and answers a producer.
static void
s_broker_serves (zsock_t *req, uint64_t first)
{
    int status;
    cr_assert_not (support_exited (tb_pid (), &status), "the broker died (status %d)", status);
    tb_send (req, tb_submit_msg ("after", "echo", NULL, 0, 1, false));
    tb_expect_accepted (req, first, 1, NULL);
}

Test (hostile_envelope, a_million_frames_do_not_kill_the_frontend)
{
    tb_start (NULL);
    zsock_t *attacker = tb_socket (ZMQ_DEALER, tb_frontend ());
    zsock_t *producer = tb_socket (ZMQ_REQ, tb_frontend ());
    size_t sizes[] = { ATTACK_FRAMES, 100000 };
    for (size_t i = 0; i < 2; i++) {
        s_send_behind (attacker, sizes[i], s_status_msg ("x"));
        //  Refused and counted, once it was read.
        cr_assert (SUPPORT_WAIT (support_count_text (tb_log_path (), "frontend: TOO_LARGE")
                                 == i + 1, 60000),
                   "no TOO_LARGE for the message of %zu frames; log:\n%s", sizes[i],
                   support_slurp (tb_log_path ()));
        s_broker_serves (producer, i + 1);
    }
    //  No envelope to answer through: the attacker got nothing.
    cr_assert_null (tb_recv (attacker, 200));
}

Test (hostile_envelope, a_million_frames_do_not_kill_the_backend)
{
    tb_start (NULL);
    zsock_t *attacker = tb_socket (ZMQ_DEALER, tb_backend ());
    zsock_t *producer = tb_socket (ZMQ_REQ, tb_frontend ());
    s_send_behind (attacker, ATTACK_FRAMES, s_hello_msg ("a-million-hops"));
    cr_assert (SUPPORT_WAIT (tb_log_has ("backend: agent (no HELLO): TOO_LARGE"), 60000),
               "no TOO_LARGE for the HELLO; log:\n%s", support_slurp (tb_log_path ()));
    cr_assert_not (tb_log_has ("a-million-hops joined"));
    s_broker_serves (producer, 1);
    zsock_t *agent = tb_agent ("good", 1);
    cr_assert_not_null (agent);
}

//  32 frames of envelope are answered through; 33 are dropped.
Test (hostile_envelope, the_longest_envelope_is_answered_and_one_more_is_not)
{
    tb_start (NULL);
    zsock_t *proxy = tb_socket (ZMQ_DEALER, tb_frontend ());
    for (int over = 0; over <= 1; over++) {
        //  The ROUTER adds the identity: 30 hops and the delimiter make 32.
        zmsg_t *zmsg = wire_encode (&(msg_t *) { s_status_msg ("none") });
        zmsg_pushmem (zmsg, "", 0);
        for (int i = 0; i < MSG_MAX_ENVELOPE - 2 + over; i++)
            zmsg_pushstrf (zmsg, "hop-%d", i);
        cr_assert_eq (zmsg_send (&zmsg, proxy), 0);
        zmq_pollitem_t item = { zsock_resolve (proxy), 0, ZMQ_POLLIN, 0 };
        if (over) {
            cr_assert (SUPPORT_WAIT (tb_log_has ("frontend: TOO_LARGE"), 5000));
            cr_assert_eq (zmq_poll (&item, 1, 200), 0, "an envelope of 33 frames was answered");
            continue;
        }
        cr_assert_eq (zmq_poll (&item, 1, 5000), 1, "no answer through 32 frames");
        zmsg_t *reply = zmsg_recv (proxy);
        cr_assert_eq (zmsg_size (reply), MSG_MAX_ENVELOPE - 1 + 3);
        cr_assert (zframe_streq (zmsg_first (reply), "hop-29"));
        for (int i = 0; i < MSG_MAX_ENVELOPE - 2; i++)
            zframe_destroy (&(zframe_t *) { zmsg_pop (reply) });
        zframe_destroy (&(zframe_t *) { zmsg_pop (reply) });    //  the delimiter
        msg_t *msg = NULL;
        cr_assert_eq (wire_decode (&reply, &msg), 0);
        cr_assert_eq (msg_command (msg), MSG_ERROR);
        cr_assert_eq (msg_uint (msg, MSG_F_CODE), DRV_E_UNKNOWN_JOB);
        msg_destroy (&msg);
    }
}

Test (hostile_envelope, a_req_producer_named_drv_is_answered)
{
    tb_start (NULL);
    zsock_t *req = zsock_new (ZMQ_REQ);
    cr_assert_not_null (req);
    zsock_set_linger (req, 0);
    zsock_set_identity (req, "DRVx-producer");
    cr_assert_eq (zsock_connect (req, "%s", tb_frontend ()), 0);
    tb_send (req, tb_submit_msg ("named", "echo", NULL, 0, 2, false));
    msg_t *reply = tb_recv (req, 5000);
    cr_assert_not_null (reply, "no answer: the REQ socket dropped a reply without delimiter");
    cr_assert_eq (msg_command (reply), MSG_ACCEPTED);
    msg_destroy (&reply);
    reply = tb_status (req, "named");
    cr_assert_eq (msg_command (reply), MSG_JOB);
    cr_assert_eq (msg_uint (reply, MSG_F_SUBMITTED), 2);
    msg_destroy (&reply);
    zsock_destroy (&req);
}

//  The sink: the same attack, and a DEALER named "DRV..." that sends a
//  delimiter as a REQ would.
Test (hostile_envelope, the_sink_survives_and_answers_drv_names)
{
    rig_t *rig = rig_new ();
    rig_start (rig, NULL);
    zsock_t *attacker = zsock_new (ZMQ_DEALER);
    cr_assert_not_null (attacker);
    zsock_set_linger (attacker, 0);
    cr_assert_eq (zsock_connect (attacker, "%s", rig->endpoint), 0);
    msg_t *result = msg_new (MSG_RESULT);
    msg_set_version (result, 1);     //  its records are maps
    msg_set_str (result, MSG_F_JOB, "j");
    msg_set_str (result, MSG_F_AGENT, "a");
    msg_set_refs (result, MSG_F_TUPLES, &(msg_ref_t) { 1, 1 }, 1);
    zframe_t *batch = zframe_new ("\x90", 1);
    msg_payload_append (result, &batch);
    s_send_behind (attacker, ATTACK_FRAMES, result);
    cr_assert (SUPPORT_WAIT (rig_log_has (rig, "routing envelope over 32 frames"), 60000),
               "the attack was not refused; log:\n%s", support_slurp (rig->log_path));
    int status;
    cr_assert_not (support_exited (rig->pid, &status), "the sink died (status %d)", status);
    msg_ref_t ref = { 7, 1 };
    msg_t *stored = rig_send_ok (rig, "after", &ref, 1);
    rig_expect_stored (stored, "after", &ref, 1);
    msg_destroy (&stored);
    zsock_destroy (&attacker);

    zsock_t *named = zsock_new (ZMQ_DEALER);
    zsock_set_linger (named, 0);
    zsock_set_rcvtimeo (named, 5000);
    zsock_set_identity (named, "DRVy-agent");
    cr_assert_eq (zsock_connect (named, "%s", rig->endpoint), 0);
    rig_batch_t ok;
    rig_batch_begin (&ok, 1);
    ref.id = 8;
    rig_batch_record (&ok, ref.id, ref.attempt, true);
    result = msg_new (MSG_RESULT);
    msg_set_version (result, 1);     //  its records are maps
    msg_set_str (result, MSG_F_JOB, "after");
    msg_set_str (result, MSG_F_AGENT, "test-agent");
    msg_set_refs (result, MSG_F_TUPLES, &ref, 1);
    batch = zframe_new (ok.buffer.data, ok.buffer.size);
    msgpack_sbuffer_destroy (&ok.buffer);
    msg_payload_append (result, &batch);
    zmsg_t *zmsg = wire_encode (&result);
    zmsg_pushmem (zmsg, "", 0);
    cr_assert_eq (zmsg_send (&zmsg, named), 0);
    zmsg_t *reply = zmsg_recv (named);
    cr_assert_not_null (reply, "no answer");
    cr_assert_eq (zframe_size (zmsg_first (reply)), 0, "the answer lost its delimiter");
    zframe_destroy (&(zframe_t *) { zmsg_pop (reply) });
    cr_assert_eq (wire_decode (&reply, &stored), 0);
    rig_expect_stored (stored, "after", &ref, 1);
    msg_destroy (&stored);
    zsock_destroy (&named);
    rig_destroy (&rig);
}
