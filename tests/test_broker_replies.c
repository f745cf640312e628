//  test_broker_replies.c -- an ERROR on the frontend carries the request's
//  `batch` whenever its header holds one that can be read (PROTOCOL.md 5),
//  also when the request failed to decode for another field, its frames or
//  its size, so that a pipelining producer can match every answer.
#include "support_broker.h"

#include <criterion/criterion.h>
#include <msgpack.h>

#include <string.h>

TestSuite (broker, .fini = tb_fini, .timeout = 120);

//  A header map built key by key: str keys, values packed by the caller.
typedef struct {
    msgpack_sbuffer buffer;
    msgpack_packer packer;
} header_t;

static void
s_header (header_t *h, uint32_t pairs)
{
    msgpack_sbuffer_init (&h->buffer);
    msgpack_packer_init (&h->packer, &h->buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&h->packer, pairs);
}

static void
s_str (header_t *h, const char *text)
{
    msgpack_pack_str_with_body (&h->packer, text, strlen (text));
}

//  Send DRV1, command, the header (freed), and the payload frames given.
static void
s_send (zsock_t *sock, const char *command, header_t *h, const char *payload[], size_t count)
{
    zmsg_t *zmsg = zmsg_new ();
    zmsg_addstr (zmsg, "DRV1");
    zmsg_addstr (zmsg, command);
    zmsg_addmem (zmsg, h->buffer.data, h->buffer.size);
    for (size_t i = 0; i < count; i++)
        zmsg_addmem (zmsg, payload[i], strlen (payload[i]));
    msgpack_sbuffer_destroy (&h->buffer);
    cr_assert_eq (zmsg_send (&zmsg, sock), 0);
}

//  Expect ERROR code carrying batch (NULL: none).
static void
s_expect (zsock_t *sock, int code, const char *batch)
{
    msg_t *reply = tb_expect_error (sock, code);
    if (batch)
        cr_assert (msg_str (reply, MSG_F_BATCH) && !strcmp (msg_str (reply, MSG_F_BATCH), batch),
                   "ERROR %s (%s) does not echo batch %s", msg_error_name (code),
                   msg_str (reply, MSG_F_REASON), batch);
    else
        cr_assert_not (msg_has (reply, MSG_F_BATCH), "ERROR %s echoes batch %s",
                       msg_error_name (code), msg_str (reply, MSG_F_BATCH));
    msg_destroy (&reply);
}

Test (broker, error_echoes_the_batch_whatever_failed)
{
    tb_start (NULL);
    zsock_t *dealer = tb_socket (ZMQ_DEALER, tb_frontend ());
    const char *tuple[] = { "\x91\x01" };
    header_t h;

    //  BAD_TYPE: the job is not a str.
    s_header (&h, 2);
    s_str (&h, "job"), msgpack_pack_uint32 (&h.packer, 7);
    s_str (&h, "batch"), s_str (&h, "b-type");
    s_send (dealer, "SUBMIT", &h, tuple, 1);
    s_expect (dealer, DRV_E_BAD_TYPE, "b-type");

    //  MISSING_FIELD: no job.
    s_header (&h, 1);
    s_str (&h, "batch"), s_str (&h, "b-missing");
    s_send (dealer, "SUBMIT", &h, tuple, 1);
    s_expect (dealer, DRV_E_MISSING_FIELD, "b-missing");

    //  BAD_HEADER: a known key twice.
    s_header (&h, 3);
    s_str (&h, "job"), s_str (&h, "j");
    s_str (&h, "batch"), s_str (&h, "b-twice");
    s_str (&h, "job"), s_str (&h, "k");
    s_send (dealer, "SUBMIT", &h, tuple, 1);
    s_expect (dealer, DRV_E_BAD_HEADER, "b-twice");

    //  BAD_FRAMES: an empty payload frame.
    s_header (&h, 2);
    s_str (&h, "job"), s_str (&h, "j");
    s_str (&h, "batch"), s_str (&h, "b-frames");
    const char *empty[] = { "\x91\x01", "" };
    s_send (dealer, "SUBMIT", &h, empty, 2);
    s_expect (dealer, DRV_E_BAD_FRAMES, "b-frames");

    //  TOO_LARGE: a header over 64 KiB, its batch after the big value and
    //  an unknown key of nested maps.
    s_header (&h, 4);
    s_str (&h, "job"), s_str (&h, "j");
    s_str (&h, "options"), msgpack_pack_map (&h.packer, 1);
    s_str (&h, "blob"), msgpack_pack_bin (&h.packer, 70000);
    char *blob = calloc (1, 70000);
    msgpack_pack_bin_body (&h.packer, blob, 70000);
    free (blob);
    s_str (&h, "later"), msgpack_pack_map (&h.packer, 1);
    s_str (&h, "x"), msgpack_pack_array (&h.packer, 2), msgpack_pack_nil (&h.packer);
    msgpack_pack_true (&h.packer);
    s_str (&h, "batch"), s_str (&h, "b-large");
    s_send (dealer, "SUBMIT", &h, tuple, 1);
    s_expect (dealer, DRV_E_TOO_LARGE, "b-large");

    //  UNKNOWN_COMMAND, with a header that holds a batch.
    s_header (&h, 1);
    s_str (&h, "batch"), s_str (&h, "b-command");
    s_send (dealer, "FROBNICATE", &h, NULL, 0);
    s_expect (dealer, DRV_E_UNKNOWN_COMMAND, "b-command");

    //  Refusals after decoding echo it as before.
    s_header (&h, 2);
    s_str (&h, "job"), s_str (&h, "nobody");
    s_str (&h, "batch"), s_str (&h, "b-unknown");
    s_send (dealer, "SUBMIT", &h, tuple, 1);
    s_expect (dealer, DRV_E_UNKNOWN_JOB, "b-unknown");

    //  No batch that can be read: none echoed.  Given twice (which would
    //  the producer match?), not a str, a header that is no map, a batch
    //  behind a malformed value.
    s_header (&h, 3);
    s_str (&h, "batch"), s_str (&h, "b-1");
    s_str (&h, "job"), s_str (&h, "j");
    s_str (&h, "batch"), s_str (&h, "b-2");
    s_send (dealer, "SUBMIT", &h, tuple, 1);
    s_expect (dealer, DRV_E_BAD_HEADER, NULL);
    s_header (&h, 2);
    s_str (&h, "job"), msgpack_pack_uint32 (&h.packer, 7);
    s_str (&h, "batch"), msgpack_pack_uint32 (&h.packer, 8);
    s_send (dealer, "SUBMIT", &h, tuple, 1);
    s_expect (dealer, DRV_E_BAD_TYPE, NULL);
    const char *frames[] = { "DRV1", "SUBMIT", "\xc1", "\x91\x01" };
    const size_t sizes[] = { 4, 6, 1, 2 };
    tb_send_raw (dealer, frames, sizes, 4);
    s_expect (dealer, DRV_E_BAD_HEADER, NULL);
    const char cut[] = "\x82\xa3job\xdd\xff\xff\xff\xff\xa5" "batch\xa1" "b";
    const char *cut_frames[] = { "DRV1", "SUBMIT", cut };
    const size_t cut_sizes[] = { 4, 6, sizeof cut - 1 };
    tb_send_raw (dealer, cut_frames, cut_sizes, 3);
    s_expect (dealer, DRV_E_BAD_HEADER, NULL);

    //  And the broker serves the same producer on.
    tb_send (dealer, tb_submit_msg ("after", "echo", "b-ok", 1, 1, false));
    tb_expect_accepted (dealer, 1, 1, "b-ok");
}
