//  test_wire_sockets.c -- the codec on real sockets: ROUTER envelopes
//  (PROTOCOL.md 3.1) split off and put back for REQ, DEALER and proxied
//  peers, ERROR answered to the right peer, nothing sent that no receiver
//  would take, and the sender's CURVE key as the message's User-Id.
#include "proto/wire.h"

#include "common/auth.h"
#include "common/curve.h"
#include "common/free_port.h"
#include "common/keys.h"
#include "support_wire.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static zmsg_t *
s_zmsg (int count, ...)
{
    zmsg_t *zmsg = zmsg_new ();
    va_list ap;
    va_start (ap, count);
    for (int i = 0; i < count; i++)
        zmsg_addstr (zmsg, va_arg (ap, const char *));
    va_end (ap);
    return zmsg;
}

Test (wire, envelope_pop)
{
    //  REQ-style: identity, empty delimiter, body.
    zmsg_t *zmsg = s_zmsg (5, "id1", "", "DRV1", "STATUS", "x");
    zmsg_t *envelope = wire_envelope_pop (zmsg);
    cr_assert_eq (zmsg_size (envelope), 2);
    cr_assert (zframe_streq (zmsg_first (envelope), "id1"));
    cr_assert_eq (zframe_size (zmsg_next (envelope)), 0);
    cr_assert_eq (zmsg_size (zmsg), 3);
    cr_assert (zframe_streq (zmsg_first (zmsg), "DRV1"));
    zmsg_destroy (&envelope);
    zmsg_destroy (&zmsg);

    //  DEALER-style: identity, body.
    zmsg = s_zmsg (4, "id2", "DRV1", "STATUS", "x");
    envelope = wire_envelope_pop (zmsg);
    cr_assert_eq (zmsg_size (envelope), 1);
    cr_assert (zframe_streq (zmsg_first (envelope), "id2"));
    cr_assert_eq (zmsg_size (zmsg), 3);
    zmsg_destroy (&envelope);
    zmsg_destroy (&zmsg);

    //  REQ with ZMQ_REQ_CORRELATE, or behind a proxy: more frames before
    //  the delimiter all belong to the envelope.
    zmsg = s_zmsg (6, "id5", "request-7", "", "DRV1", "STATUS", "x");
    envelope = wire_envelope_pop (zmsg);
    cr_assert_eq (zmsg_size (envelope), 3);
    cr_assert (zframe_streq (zmsg_first (zmsg), "DRV1"));
    zmsg_destroy (&envelope);
    zmsg_destroy (&zmsg);

    //  An empty frame after the signature is no delimiter.
    zmsg = s_zmsg (6, "id6", "DRV1", "SUBMIT", "x", "", "y");
    envelope = wire_envelope_pop (zmsg);
    cr_assert_eq (zmsg_size (envelope), 1);
    cr_assert_eq (zmsg_size (zmsg), 5);
    zmsg_destroy (&envelope);
    zmsg_destroy (&zmsg);

    //  Too short: nothing but an identity, or nothing; left as it was.
    zmsg = s_zmsg (1, "id3");
    cr_assert_null (wire_envelope_pop (zmsg));
    cr_assert_eq (zmsg_size (zmsg), 1);
    zmsg_destroy (&zmsg);
    zmsg = zmsg_new ();
    cr_assert_null (wire_envelope_pop (zmsg));
    zmsg_destroy (&zmsg);
    cr_assert_null (wire_envelope_pop (NULL));

    //  Identity and a delimiter with no body: the envelope still answers.
    zmsg = s_zmsg (2, "id4", "");
    envelope = wire_envelope_pop (zmsg);
    cr_assert_eq (zmsg_size (envelope), 2);
    cr_assert_eq (zmsg_size (zmsg), 0);
    zmsg_destroy (&envelope);
    cr_assert_eq (support_decode (zmsg, NULL), -DRV_E_BAD_FRAMES);
}

static msg_t *s_submit (const char *job, int tuples);

//  PROTOCOL.md 3.1: the identity frame is the envelope's whatever its
//  bytes; the envelope ends within MSG_MAX_ENVELOPE frames or is refused.
Test (wire, envelope_bound_and_identity)
{
    //  A REQ peer whose routing id starts with "DRV".
    zmsg_t *zmsg = s_zmsg (5, "DRVx-producer", "", "DRV1", "STATUS", "x");
    zmsg_t *envelope = NULL;
    cr_assert_eq (wire_envelope_split (zmsg, &envelope), 0);
    cr_assert_eq (zmsg_size (envelope), 2);
    cr_assert (zframe_streq (zmsg_first (zmsg), "DRV1"));
    zmsg_destroy (&envelope);
    zmsg_destroy (&zmsg);
    //  A DEALER whose routing id is a signature.
    zmsg = s_zmsg (4, "DRV1", "DRV1", "STATUS", "x");
    cr_assert_eq (wire_envelope_split (zmsg, &envelope), 0);
    cr_assert_eq (zmsg_size (envelope), 1);
    cr_assert_eq (zmsg_size (zmsg), 3);
    zmsg_destroy (&envelope);
    zmsg_destroy (&zmsg);

    //  The longest envelope: identity, 30 stacked frames, delimiter.
    for (int over = 0; over <= 1; over++) {
        zmsg = s_zmsg (3, "DRV1", "STATUS", "x");
        zmsg_pushmem (zmsg, "", 0);
        for (int i = 0; i < MSG_MAX_ENVELOPE - 1 + over; i++)
            zmsg_pushstrf (zmsg, "hop-%d", i);
        size_t size = zmsg_size (zmsg);
        int rc = wire_envelope_split (zmsg, &envelope);
        if (!over) {
            cr_assert_eq (rc, 0);
            cr_assert_eq (zmsg_size (envelope), MSG_MAX_ENVELOPE);
            zmsg_destroy (&envelope);
        }
        else {
            cr_assert_eq (rc, -DRV_E_TOO_LARGE);
            cr_assert_null (envelope);
            cr_assert_eq (zmsg_size (zmsg), size, "left as it was");
        }
        zmsg_destroy (&zmsg);
    }
    //  Frames with neither a delimiter nor a signature: a few are a
    //  DEALER's garbage, answered through the identity; past the bound the
    //  envelope cannot be told, and the message is refused whole.
    zmsg = s_zmsg (4, "id", "a", "b", "c");
    cr_assert_eq (wire_envelope_split (zmsg, &envelope), 0);
    cr_assert_eq (zmsg_size (envelope), 1);
    zmsg_destroy (&envelope);
    zmsg_destroy (&zmsg);
    zmsg = zmsg_new ();
    for (int i = 0; i < 40; i++)
        zmsg_addstrf (zmsg, "f%d", i);
    cr_assert_eq (wire_envelope_split (zmsg, &envelope), -DRV_E_TOO_LARGE);
    cr_assert_eq (wire_envelope_split (NULL, &envelope), -DRV_E_BAD_FRAMES);
    zmsg_destroy (&zmsg);
}

//  A message of more frames than any may hold is read whole and dropped
//  past MSG_MAX_FRAMES: TOO_LARGE, with the envelope to answer through,
//  and the next message is read as it should be.
Test (wire, recv_bounds_the_frames_it_keeps)
{
    zsock_t *router = zsock_new_router ("inproc://frames-test");
    zsock_t *dealer = zsock_new_dealer (">inproc://frames-test");
    cr_assert (router && dealer);
    zsock_set_rcvtimeo (router, 5000);
    zsock_set_rcvtimeo (dealer, 5000);
    void *handle = zsock_resolve (dealer);
    const char *head[] = { "DRV1", "SUBMIT", "\x81\xa3job\xa1j" };
    for (int i = 0; i < 3; i++)
        cr_assert_geq (zmq_send (handle, head[i], strlen (head[i]), ZMQ_SNDMORE), 0);
    for (int i = 0; i < MSG_MAX_FRAMES + 10; i++)
        cr_assert_geq (zmq_send (handle, "\xc0", 1, i + 1 < MSG_MAX_FRAMES + 10? ZMQ_SNDMORE: 0), 0);
    msg_t *msg = s_submit ("next", 1);
    cr_assert_eq (wire_send (&msg, dealer, NULL), 0);

    zmsg_t *envelope = NULL;
    cr_assert_eq (wire_recv (router, &envelope, &msg), -DRV_E_TOO_LARGE);
    cr_assert_null (msg);
    cr_assert_not_null (envelope);
    cr_assert_eq (zmsg_size (envelope), 1);
    zmsg_destroy (&envelope);
    cr_assert_eq (wire_recv (router, &envelope, &msg), 0);
    cr_assert_str_eq (msg_str (msg, MSG_F_JOB), "next");
    msg_destroy (&msg);
    zmsg_destroy (&envelope);
    zsock_destroy (&dealer);
    zsock_destroy (&router);
}

static msg_t *
s_submit (const char *job, int tuples)
{
    msg_t *msg = msg_new (MSG_SUBMIT);
    msg_set_str (msg, MSG_F_JOB, job);
    for (int i = 0; i < tuples; i++) {
        uint8_t tuple = (uint8_t) i;        //  a msgpack positive fixint
        msg_add_tuple (msg, &tuple, 1);
    }
    return msg;
}

//  A REQ and a DEALER producer against a ROUTER, as on the broker frontend.
Test (wire, send_recv_over_router)
{
    zsock_t *router = zsock_new_router ("inproc://msg-test");
    zsock_t *req = zsock_new_req (">inproc://msg-test");
    zsock_t *dealer = zsock_new_dealer (">inproc://msg-test");
    cr_assert (router && req && dealer);
    zsock_set_rcvtimeo (router, 5000);
    zsock_set_rcvtimeo (req, 5000);
    zsock_set_rcvtimeo (dealer, 5000);

    for (int round = 0; round < 2; round++) {
        zsock_t *client = round == 0? req: dealer;
        msg_t *msg = s_submit (round == 0? "from-req": "from-dealer", 3);
        cr_assert_eq (wire_send (&msg, client, NULL), 0);
        cr_assert_null (msg);

        zmsg_t *envelope;
        cr_assert_eq (wire_recv (router, &envelope, &msg), 0);
        cr_assert_eq (zmsg_size (envelope), round == 0? 2u: 1u);
        cr_assert_eq (msg_command (msg), MSG_SUBMIT);
        cr_assert_str_eq (msg_str (msg, MSG_F_JOB), round == 0? "from-req": "from-dealer");
        cr_assert_eq (msg_tuple_count (msg), 3);
        msg_destroy (&msg);

        msg = msg_new (MSG_ACCEPTED);
        msg_set_str (msg, MSG_F_JOB, "j");
        msg_set_uint (msg, MSG_F_FIRST, 1);
        msg_set_uint (msg, MSG_F_COUNT, 3);
        cr_assert_eq (wire_send (&msg, router, envelope), 0);
        cr_assert_eq (zmsg_size (envelope), round == 0? 2u: 1u, "envelope is copied");

        cr_assert_eq (wire_recv (client, NULL, &msg), 0);
        cr_assert_eq (msg_command (msg), MSG_ACCEPTED);
        cr_assert_eq (msg_uint (msg, MSG_F_COUNT), 3);
        msg_destroy (&msg);
        zmsg_destroy (&envelope);
    }

    //  Garbage from the DEALER: the envelope is still split off, so the
    //  ROUTER can answer ERROR, and the DEALER gets exactly that.
    zmsg_t *junk = s_zmsg (2, "DRV1", "FROB");
    cr_assert_eq (zmsg_send (&junk, dealer), 0);
    zmsg_t *envelope;
    msg_t *msg;
    int version = 0;
    cr_assert_eq (wire_recv_request (router, &envelope, &msg, &version, NULL, 0),
                  -DRV_E_UNKNOWN_COMMAND);
    cr_assert_null (msg);
    cr_assert_not_null (envelope);
    cr_assert_eq (version, 1, "answered in the version of the request");
    cr_assert_eq (wire_send_error (router, envelope, version, -DRV_E_UNKNOWN_COMMAND, "no FROB"),
                  0);
    zmsg_destroy (&envelope);
    cr_assert_eq (wire_recv (dealer, NULL, &msg), 0);
    cr_assert_eq (msg_command (msg), MSG_ERROR);
    cr_assert_eq (msg_version (msg), 1);
    cr_assert_eq (msg_uint (msg, MSG_F_CODE), DRV_E_UNKNOWN_COMMAND);
    cr_assert_str_eq (msg_str (msg, MSG_F_REASON), "no FROB");
    msg_destroy (&msg);

    //  Without a reason, the code's name is sent.
    cr_assert_eq (wire_send_error (dealer, NULL, 2, DRV_E_QUEUE_FULL, NULL), 0);
    cr_assert_eq (wire_recv (router, &envelope, &msg), 0);
    cr_assert_str_eq (msg_str (msg, MSG_F_REASON), "QUEUE_FULL");
    cr_assert_eq (msg_version (msg), 2);
    msg_destroy (&msg);
    zmsg_destroy (&envelope);

    //  Nothing to read: -DRV_E_NOTHING (zmsg_recv returned NULL), no envelope.
    zsock_set_rcvtimeo (router, 1);
    envelope = (zmsg_t *) 1;
    cr_assert_eq (wire_recv (router, &envelope, &msg), -DRV_E_NOTHING);
    cr_assert_null (envelope);
    cr_assert_null (msg);

    zsock_destroy (&req);
    zsock_destroy (&dealer);
    zsock_destroy (&router);
}

Test (wire, send_refuses_oversized_header)
{
    zsock_t *push = zsock_new_push ("@inproc://msg-big");
    zsock_t *pull = zsock_new_pull (">inproc://msg-big");
    zsock_set_rcvtimeo (pull, 5000);
    //  Version 1: MSG_MAX_REFS refs with 64-bit ids (15 bytes each): within
    //  the refs limit, over the 64 KiB header limit.
    msg_t *msg = msg_new (MSG_DONE);
    msg_set_version (msg, 1);
    msg_set_str (msg, MSG_F_JOB, "j");
    msg_ref_t *refs = calloc (MSG_MAX_REFS + 1, sizeof *refs);
    for (size_t i = 0; i < MSG_MAX_REFS; i++)
        refs[i] = (msg_ref_t) { (1ULL << 40) + i, 1 };
    cr_assert_eq (msg_set_refs (msg, MSG_F_TUPLES, refs, MSG_MAX_REFS), 0);
    cr_assert_eq (wire_send (&msg, push, NULL), -DRV_E_TOO_LARGE);
    cr_assert_null (msg);
    //  The same tuples in version 2 are one run: a header of a few bytes.
    msg = msg_new (MSG_DONE);
    msg_set_str (msg, MSG_F_JOB, "j");
    cr_assert_eq (msg_set_refs (msg, MSG_F_TUPLES, refs, MSG_MAX_REFS), 0);
    cr_assert_eq (msg_runs_total (msg, MSG_F_TUPLES), MSG_MAX_REFS);
    cr_assert_eq (wire_send (&msg, push, NULL), 0);
    msg_t *got = NULL;
    cr_assert_eq (wire_recv (pull, NULL, &got), 0);
    cr_assert_eq (msg_runs_total (got, MSG_F_TUPLES), MSG_MAX_REFS);
    msg_destroy (&got);
    //  Version 2 runs that cannot fit: every other id, 64-bit ids.
    msg = msg_new (MSG_DONE);
    msg_set_str (msg, MSG_F_JOB, "j");
    for (size_t i = 0; i < MSG_MAX_REFS; i++)
        refs[i] = (msg_ref_t) { (1ULL << 40) + 2 * i, 1 };
    cr_assert_eq (msg_set_refs (msg, MSG_F_TUPLES, refs, MSG_MAX_REFS), 0);
    cr_assert_eq (wire_send (&msg, push, NULL), -DRV_E_TOO_LARGE);
    //  Version 1 never sends more refs than a receiver takes.
    msg = msg_new (MSG_DONE);
    msg_set_version (msg, 1);
    msg_set_str (msg, MSG_F_JOB, "j");
    for (size_t i = 0; i <= MSG_MAX_REFS; i++)
        refs[i] = (msg_ref_t) { i + 1, 1 };
    cr_assert_eq (msg_set_refs (msg, MSG_F_TUPLES, refs, MSG_MAX_REFS + 1), 0);
    cr_assert_eq (wire_send (&msg, push, NULL), -DRV_E_TOO_LARGE);
    cr_assert_null (msg);
    free (refs);
    zsock_destroy (&pull);
    zsock_destroy (&push);
}

//  ---------------------------------------------------------------------
//  The sender's CURVE key reaches the receiver as the message's User-Id.

Test (wire, user_id_is_the_curve_key)
{
    auth_t *auth = auth_new ();
    cr_assert_not_null (auth);
    cr_assert_eq (auth_allow_any (auth, AUTH_DOMAIN_PRODUCERS), 0);
    keys_t *server_keys = keys_new ();
    keys_t *client_keys = keys_new ();
    char endpoint[64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", free_port_pick ());

    zsock_t *router = zsock_new (ZMQ_ROUTER);
    cr_assert_eq (curve_server (router, server_keys, AUTH_DOMAIN_PRODUCERS), 0);
    cr_assert_neq (zsock_bind (router, "%s", endpoint), -1);
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    cr_assert_eq (curve_client (dealer, client_keys, keys_public (server_keys)), 0);
    cr_assert_eq (zsock_connect (dealer, "%s", endpoint), 0);

    msg_t *msg = msg_new (MSG_STATUS);
    msg_set_str (msg, MSG_F_JOB, "who");
    cr_assert_eq (wire_send (&msg, dealer, NULL), 0);
    zsock_set_rcvtimeo (router, 5000);
    zmsg_t *envelope = NULL;
    cr_assert_eq (wire_recv (router, &envelope, &msg), 0);
    cr_assert_str_eq (msg_user_id (msg), keys_public_txt (client_keys));
    msg_destroy (&msg);
    zmsg_destroy (&envelope);

    //  Without authentication there is no User-Id.
    zsock_t *pull = zsock_new_pull ("inproc://msg-user-id");
    zsock_t *push = zsock_new_push (">inproc://msg-user-id");
    msg = msg_new (MSG_STATUS);
    msg_set_str (msg, MSG_F_JOB, "anyone");
    cr_assert_eq (wire_send (&msg, push, NULL), 0);
    cr_assert_eq (wire_recv (pull, NULL, &msg), 0);
    cr_assert_str_eq (msg_user_id (msg), "");
    msg_destroy (&msg);

    zsock_destroy (&push);
    zsock_destroy (&pull);
    zsock_destroy (&dealer);
    zsock_destroy (&router);
    keys_destroy (&client_keys);
    keys_destroy (&server_keys);
    auth_destroy (&auth);
}
