//  test_broker_spec.c -- PROTOCOL.md section 10 at the wire: a SUBMIT
//  with a spec, the broker's answers and refusals, the window it keeps
//  queued, the tuples agents get, and HELLO labels.  The test plays
//  producer and agent over its own sockets (support_broker.h).
#include "support.h"
#include "support_broker.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

TestSuite (broker_spec, .fini = tb_fini, .timeout = 120);

//  A spec map with the given str fields (NULL: left out).
static void
s_spec (msg_t *msg, const char *targets, const char *ports, const char *extra_key,
        const char *extra_value)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 2 + (extra_key != NULL));
    msgpack_pack_str_with_body (&pk, "targets", 7);
    msgpack_pack_str_with_body (&pk, targets, strlen (targets));
    msgpack_pack_str_with_body (&pk, "ports", 5);
    msgpack_pack_str_with_body (&pk, ports, strlen (ports));
    if (extra_key) {
        msgpack_pack_str_with_body (&pk, extra_key, strlen (extra_key));
        msgpack_pack_str_with_body (&pk, extra_value, strlen (extra_value));
    }
    cr_assert_eq (msg_set_raw (msg, MSG_F_SPEC, buf.data, buf.size), 0);
    msgpack_sbuffer_destroy (&buf);
}

static void
s_submit_spec (zsock_t *req, const char *job, const char *targets, const char *ports,
               const char *extra_key, const char *extra_value, size_t tuples)
{
    msg_t *msg = tb_submit_msg (job, "echo", NULL, 1, tuples, true);
    s_spec (msg, targets, ports, extra_key, extra_value);
    tb_send (req, msg);
}

Test (broker_spec, accepted_whole_and_queued_by_windows)
{
    tb_start (NULL);
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    //  10.0.0.0/8 x 1-65535 minus a /16 and port 22.
    s_submit_spec (req, "huge", "10.0.0.0/8", "-", "exclude", "10.99.0.0/16", 0);
    uint64_t hosts = (1u << 24) - (1u << 16);
    tb_expect_accepted (req, 1, hosts * 65535, NULL);
    //  Only a window is queued, and the job stays open.
    tb_counts_t want = { "open", 8192, 8192, 0, 0, 0 };
    cr_assert (tb_status_is (req, "huge", want));
    //  ... and STATUS says how many there are in all.
    cr_assert_eq (tb_status_field (req, "huge", MSG_F_TOTAL), hosts * 65535);
    //  The same SUBMIT again: the same answer, nothing new.
    s_submit_spec (req, "huge", "10.0.0.0/8", "-", "exclude", "10.99.0.0/16", 0);
    tb_expect_accepted (req, 1, hosts * 65535, NULL);
    cr_assert (tb_status_is (req, "huge", want));
}

Test (broker_spec, refusals)
{
    tb_start (NULL);
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    s_submit_spec (req, "scan", "10.0.0.0/24", "80", NULL, NULL, 0);
    tb_expect_accepted (req, 1, 256, NULL);
    //  Another spec under the name, tuples into a spec job, tuples with a
    //  spec, a typo, an unknown key, nothing left.
    s_submit_spec (req, "scan", "10.0.0.0/24", "81", NULL, NULL, 0);
    tb_refused (req, DRV_E_CONFLICT);
    tb_send (req, tb_submit_msg ("scan", NULL, NULL, 1, 2, false));
    tb_refused (req, DRV_E_CONFLICT);
    s_submit_spec (req, "with-tuples", "10.0.0.1", "80", NULL, NULL, 2);
    tb_refused (req, DRV_E_BAD_TUPLE);
    s_submit_spec (req, "typo", "10.0.0.300", "80", NULL, NULL, 0);
    msg_t *error = tb_expect_error (req, DRV_E_BAD_TYPE);
    cr_assert (strstr (msg_str (error, MSG_F_REASON), "'10.0.0.300'"), "%s",
               msg_str (error, MSG_F_REASON));
    msg_destroy (&error);
    s_submit_spec (req, "unknown", "10.0.0.1", "80", "targets_file", "/etc/passwd", 0);
    error = tb_expect_error (req, DRV_E_BAD_TYPE);
    cr_assert (strstr (msg_str (error, MSG_F_REASON), "unknown key"), "%s",
               msg_str (error, MSG_F_REASON));
    msg_destroy (&error);
    s_submit_spec (req, "empty", "10.0.0.0/24", "80", "exclude", "10.0.0.0/16", 0);
    tb_refused (req, DRV_E_BAD_TYPE);
    //  An ordinary job cannot become a spec job.
    tb_send (req, tb_submit_msg ("plain", "echo", NULL, 1, 2, false));
    tb_expect_accepted (req, 1, 2, NULL);
    s_submit_spec (req, "plain", "10.0.0.1", "80", NULL, NULL, 0);
    tb_refused (req, DRV_E_CONFLICT);
}

//  The tuples an agent gets are [host, port] (and the protocol when
//  tagged), ids 1.., every host of the spec; done ones are replaced by
//  the next window.
Test (broker_spec, agents_get_host_port_tuples)
{
    tb_start (NULL);
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    s_submit_spec (req, "udp", "192.0.2.0/30", "U:53", NULL, NULL, 0);
    tb_expect_accepted (req, 1, 4, NULL);
    zsock_t *agent = tb_agent ("a1", 16);
    msg_t *work = tb_next_work (agent, 5000);
    cr_assert_not_null (work);
    cr_assert_eq (msg_tuple_count (work), 4);
    bool seen[4] = { false };
    for (size_t i = 0; i < 4; i++) {
        size_t size;
        const char *tuple = msg_tuple (work, i, &size);
        msgpack_unpacked u;
        msgpack_unpacked_init (&u);
        cr_assert_eq (msgpack_unpack_next (&u, tuple, size, NULL), MSGPACK_UNPACK_SUCCESS);
        msgpack_object *o = &u.data;
        cr_assert_eq (o->type, MSGPACK_OBJECT_ARRAY);
        cr_assert_eq (o->via.array.size, 3);
        cr_assert_eq (o->via.array.ptr[0].type, MSGPACK_OBJECT_STR);
        char host[32];
        snprintf (host, sizeof host, "%.*s", (int) o->via.array.ptr[0].via.str.size,
                  o->via.array.ptr[0].via.str.ptr);
        cr_assert_eq (strncmp (host, "192.0.2.", 8), 0, "%s", host);
        unsigned last = (unsigned) atoi (host + 8);
        cr_assert_lt (last, 4);
        cr_assert_not (seen[last]);
        seen[last] = true;
        cr_assert_eq (o->via.array.ptr[1].via.u64, 53);
        cr_assert_eq (o->via.array.ptr[2].via.str.size, 3);
        msgpack_unpacked_destroy (&u);
    }
    msg_destroy (&work);
    tb_counts_t want = { "closed", 4, 0, 4, 0, 0 };
    cr_assert (tb_status_is (req, "udp", want));
}

Test (broker_spec, windows_follow_the_agents)
{
    tb_start (NULL);
    zsock_t *req = tb_socket (ZMQ_REQ, tb_frontend ());
    s_submit_spec (req, "big", "10.0.0.0/16", "1-100", NULL, NULL, 0);
    tb_expect_accepted (req, 1, 6553600, NULL);
    zsock_t *agent = tb_agent ("a1", 8000);
    size_t n = 0;
    msg_t *work;
    while (n < 8000 && (work = tb_next_work (agent, 5000))) {
        n += msg_tuple_count (work);
        msg_destroy (&work);
    }
    cr_assert_eq (n, 8000);
    //  Fewer than the low water left: the next window is queued.
    uint64_t submitted = tb_status_field (req, "big", MSG_F_SUBMITTED);
    cr_assert_gt (submitted, 8192, "submitted %llu", (unsigned long long) submitted);
    cr_assert_leq (submitted, 8000 + 8192);
}

Test (broker_spec, hello_labels_checked)
{
    tb_start (NULL);
    zsock_t *agent = tb_socket (ZMQ_DEALER, tb_backend ());
    msg_t *hello = msg_new (MSG_HELLO);
    msg_set_str (hello, MSG_F_AGENT, "bad");
    msg_set_uint (hello, MSG_F_SLOTS, 1);
    //  {"site": "a b"}: a space is not allowed.
    static const unsigned char labels[] = { 0x81, 0xa4, 's', 'i', 't', 'e', 0xa3, 'a', ' ', 'b' };
    cr_assert_eq (msg_set_raw (hello, MSG_F_LABELS, labels, sizeof labels), 0);
    tb_send (agent, hello);
    tb_refused (agent, DRV_E_BAD_TYPE);
}
