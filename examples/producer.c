//  producer.c -- a minimal drover producer in C, written from proto/PROTOCOL.md
//  alone with raw libzmq and msgpack-c (no CZMQ, no drover code): one SUBMIT
//  of a few tuples over a REQ socket to the broker's frontend, then it prints
//  the ACCEPTED tuple ids.  Build:
//      cc -Wall -Wextra -o producer producer.c $(pkg-config --cflags --libs libzmq msgpack)

#include <msgpack.h>
#include <zmq.h>

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIGNATURE   "DRV1"      //  "DRV" + protocol version digit
#define MAX_FRAMES  8           //  a reply has 3 frames; more is malformed

static const char *s_error_names[] = {
    "", "BAD_VERSION", "BAD_FRAMES", "BAD_HEADER", "MISSING_FIELD", "BAD_TYPE",
    "UNKNOWN_COMMAND", "TOO_LARGE", "UNKNOWN_JOB", "CONFLICT", "JOB_CLOSED",
    "QUEUE_FULL", "UNEXPECTED", "DENIED", "INTERNAL", "BAD_TUPLE"
};

typedef struct {
    const char *broker, *job, *handler, *sink;
    int tuples, timeout_ms;
} options_t;

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: producer [OPTIONS]\n"
        "Submit a few tuples [\"hello\", 1], [\"hello\", 2], ... to a drover broker as\n"
        "one closed job, in one SUBMIT over a REQ socket, and print the tuple ids\n"
        "the broker accepted.  Exit status: 0 ok, 1 failure, 2 usage error.\n\n"
        "  -b, --broker ENDPOINT  broker frontend (default tcp://127.0.0.1:5555)\n"
        "  -j, --job NAME         job name (default hello)\n"
        "  -H, --handler NAME     handler the agents run (default echo)\n"
        "  -s, --sink ENDPOINT    sink the agents send results to\n"
        "                         (default tcp://127.0.0.1:5558)\n"
        "  -n, --tuples N         how many tuples, 0..1000 (default 3)\n"
        "  -t, --timeout MS       wait this long for the reply (default 5000)\n"
        "  -h, --help             this help\n");
}

static void
s_pack_str (msgpack_packer *pk, const char *text)
{
    size_t size = strlen (text);
    msgpack_pack_str (pk, size);
    msgpack_pack_str_body (pk, text, size);
}

static int
s_send_frame (void *sock, const void *data, size_t size, bool more)
{
    return zmq_send (sock, data, size, more? ZMQ_SNDMORE: 0) < 0? -1: 0;
}

//  SUBMIT: signature, command, header map, then one frame per tuple.
static int
s_send_submit (void *sock, const options_t *opt)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 5);
    s_pack_str (&pk, "job");     s_pack_str (&pk, opt->job);
    s_pack_str (&pk, "handler"); s_pack_str (&pk, opt->handler);
    s_pack_str (&pk, "sink");    s_pack_str (&pk, opt->sink);
    s_pack_str (&pk, "batch");   s_pack_str (&pk, "1");
    s_pack_str (&pk, "close");   msgpack_pack_true (&pk);

    int rc = s_send_frame (sock, SIGNATURE, strlen (SIGNATURE), true);
    if (rc == 0)
        rc = s_send_frame (sock, "SUBMIT", 6, true);
    if (rc == 0)
        rc = s_send_frame (sock, buffer.data, buffer.size, opt->tuples > 0);
    for (int i = 1; rc == 0 && i <= opt->tuples; i++) {
        msgpack_sbuffer_clear (&buffer);
        msgpack_pack_array (&pk, 2);
        s_pack_str (&pk, "hello");
        msgpack_pack_int (&pk, i);
        rc = s_send_frame (sock, buffer.data, buffer.size, i < opt->tuples);
    }
    msgpack_sbuffer_destroy (&buffer);
    return rc;
}

//  The value of a string key in a msgpack map, or NULL.
static const msgpack_object *
s_get (const msgpack_object *map, const char *key)
{
    if (map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t size = strlen (key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == size
        &&  memcmp (k->via.str.ptr, key, size) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

static bool
s_uint (const msgpack_object *map, const char *key, uint64_t *value)
{
    const msgpack_object *obj = s_get (map, key);
    if (!obj || obj->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return false;
    *value = obj->via.u64;
    return true;
}

static bool
s_frame_is (zmq_msg_t *frame, const char *text)
{
    size_t size = strlen (text);
    return zmq_msg_size (frame) == size && memcmp (zmq_msg_data (frame), text, size) == 0;
}

//  Print what the reply says; 0 for ACCEPTED of every tuple, else 1.
static int
s_report (zmq_msg_t *frames, int count, const options_t *opt)
{
    if (count != 3 || !s_frame_is (&frames[0], SIGNATURE)) {
        fprintf (stderr, "producer: malformed reply (%d frames)\n", count);
        return 1;
    }
    msgpack_unpacked header;
    msgpack_unpacked_init (&header);
    int rc = 1;
    if (msgpack_unpack_next (&header, zmq_msg_data (&frames[2]), zmq_msg_size (&frames[2]),
                             NULL) != MSGPACK_UNPACK_SUCCESS)
        fprintf (stderr, "producer: reply header is not msgpack\n");
    else
    if (s_frame_is (&frames[1], "ACCEPTED")) {
        uint64_t first = 0, accepted = 0;
        if (!s_uint (&header.data, "first", &first) || !s_uint (&header.data, "count", &accepted)
        ||  accepted != (uint64_t) opt->tuples)
            fprintf (stderr, "producer: ACCEPTED without first/count for %d tuples\n",
                     opt->tuples);
        else {
            printf ("ACCEPTED job=%s first=%llu count=%llu\n", opt->job,
                    (unsigned long long) first, (unsigned long long) accepted);
            rc = 0;
        }
    }
    else
    if (s_frame_is (&frames[1], "ERROR")) {
        uint64_t code = 0;
        const msgpack_object *reason = s_get (&header.data, "reason");
        s_uint (&header.data, "code", &code);
        fprintf (stderr, "producer: broker answered ERROR %s: %.*s\n",
                 code < sizeof s_error_names / sizeof s_error_names[0]?
                     s_error_names[code]: "(unknown code)",
                 reason && reason->type == MSGPACK_OBJECT_STR? (int) reason->via.str.size: 0,
                 reason && reason->type == MSGPACK_OBJECT_STR? reason->via.str.ptr: "");
    }
    else
        fprintf (stderr, "producer: unexpected reply %.*s\n",
                 (int) zmq_msg_size (&frames[1]), (const char *) zmq_msg_data (&frames[1]));
    msgpack_unpacked_destroy (&header);
    return rc;
}

//  Receive one multipart reply (at most MAX_FRAMES are kept) and report it.
static int
s_recv_reply (void *sock, const options_t *opt)
{
    zmq_msg_t frames[MAX_FRAMES];
    int count = 0, more = 1, rc = 1;
    while (more) {
        zmq_msg_t frame;
        zmq_msg_init (&frame);
        if (zmq_msg_recv (&frame, sock, 0) < 0) {
            fprintf (stderr, "producer: no reply from %s within %d ms (%s)\n",
                     opt->broker, opt->timeout_ms, zmq_strerror (zmq_errno ()));
            zmq_msg_close (&frame);
            goto done;
        }
        more = zmq_msg_more (&frame);
        if (count < MAX_FRAMES)
            frames[count++] = frame;
        else
            zmq_msg_close (&frame);
    }
    rc = s_report (frames, count, opt);
done:
    for (int i = 0; i < count; i++)
        zmq_msg_close (&frames[i]);
    return rc;
}

//  A non-negative decimal number, or -1.
static int
s_number (const char *text)
{
    char *end;
    long value = strtol (text, &end, 10);
    return *text && !*end && value >= 0 && value <= 1000000? (int) value: -1;
}

static int
s_parse (int argc, char **argv, options_t *opt)
{
    static const struct option longopts[] = {
        { "broker", required_argument, NULL, 'b' }, { "job", required_argument, NULL, 'j' },
        { "handler", required_argument, NULL, 'H' }, { "sink", required_argument, NULL, 's' },
        { "tuples", required_argument, NULL, 'n' }, { "timeout", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 }
    };
    int c;
    while ((c = getopt_long (argc, argv, "b:j:H:s:n:t:h", longopts, NULL)) != -1) {
        switch (c) {
            case 'b': opt->broker = optarg; break;
            case 'j': opt->job = optarg; break;
            case 'H': opt->handler = optarg; break;
            case 's': opt->sink = optarg; break;
            case 'n': opt->tuples = s_number (optarg); break;
            case 't': opt->timeout_ms = s_number (optarg); break;
            case 'h': s_usage (stdout); return 0;
            default:  fprintf (stderr, "try 'producer --help'\n"); return 2;
        }
    }
    if (optind < argc || opt->tuples < 0 || opt->tuples > 1000 || opt->timeout_ms <= 0) {
        fprintf (stderr, "producer: bad arguments; try 'producer --help'\n");
        return 2;
    }
    return -1;
}

int
main (int argc, char **argv)
{
    options_t opt = { "tcp://127.0.0.1:5555", "hello", "echo", "tcp://127.0.0.1:5558", 3, 5000 };
    int rc = s_parse (argc, argv, &opt);
    if (rc >= 0)
        return rc;

    void *context = zmq_ctx_new ();
    void *sock = zmq_socket (context, ZMQ_REQ);
    int linger = 0;
    zmq_setsockopt (sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (sock, ZMQ_RCVTIMEO, &opt.timeout_ms, sizeof opt.timeout_ms);
    rc = 1;
    if (zmq_connect (sock, opt.broker) != 0)
        fprintf (stderr, "producer: cannot connect to %s: %s\n", opt.broker,
                 zmq_strerror (zmq_errno ()));
    else
    if (s_send_submit (sock, &opt) != 0)
        fprintf (stderr, "producer: send failed: %s\n", zmq_strerror (zmq_errno ()));
    else
        rc = s_recv_reply (sock, &opt);
    zmq_close (sock);
    zmq_ctx_term (context);
    return rc;
}
