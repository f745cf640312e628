//  fuzz_broker.c -- stateful libFuzzer target: a whole broker (broker.h,
//  the memory store, inproc endpoints) in this process, driven by this
//  thread (broker_poll), and each input a sequence of messages delivered to
//  it over real sockets, as producers and agents would send them.  The
//  broker keeps its state from input to input (jobs, queued tuples,
//  agents' sessions), so a finding may need the inputs before it; it is
//  started again every RESTART_EVERY inputs so that state stays small.
//
//  Input: messages split at "\xc1MSG" (MESSAGE_SEPARATOR); a message's
//  first byte picks the socket it goes out on (below), the rest are its
//  frames, split as frames.h says.  Checked beyond "no crash, no leak":
//  after every input the broker still answers a STATUS within
//  ANSWER_TIMEOUT_MS, and everything it sends decodes (behind the envelope
//  the input gave).
#include "broker/broker.h"
#include "common/log.h"
#include "proto/wire.h"

#include "fuzz/frames.h"

#define MESSAGE_SEPARATOR       "\xc1" "MSG"
#define MESSAGE_SEPARATOR_SIZE  4
#define RESTART_EVERY           2000
#define ANSWER_TIMEOUT_MS       5000

//  The sockets a message may go out on: its first byte modulo SOCKETS.
enum { PRODUCER, PUSHER, AGENT_A, AGENT_B, SOCKETS };

static struct {
    broker_t *broker;
    unsigned generation;        //  endpoints are new for each broker
    char frontend[64], intake[64], backend[64];
    zsock_t *sockets[SOCKETS];
    zsock_t *probe;             //  a producer that only asks STATUS
    unsigned inputs;            //  since the broker started
} s_fuzz;

static zsock_t *
s_connect (int type, const char *endpoint)
{
    zsock_t *sock = zsock_new (type);
    FUZZ_CHECK (sock);
    //  Never block: a broker that stopped reading shows in the probe.
    zsock_set_sndtimeo (sock, 0);
    zsock_set_linger (sock, 0);
    FUZZ_CHECK (zsock_connect (sock, "%s", endpoint) == 0);
    return sock;
}

static void
s_start (void)
{
    s_fuzz.generation++;
    snprintf (s_fuzz.frontend, sizeof s_fuzz.frontend, "inproc://fuzz-frontend-%u",
              s_fuzz.generation);
    snprintf (s_fuzz.intake, sizeof s_fuzz.intake, "inproc://fuzz-intake-%u",
              s_fuzz.generation);
    snprintf (s_fuzz.backend, sizeof s_fuzz.backend, "inproc://fuzz-backend-%u",
              s_fuzz.generation);
    broker_config_t config;
    broker_config_defaults (&config);
    config.frontend = s_fuzz.frontend;
    config.intake = s_fuzz.intake;
    config.backend = s_fuzz.backend;
    config.store = "memory";
    //  Agents that fall silent are lost soon, and queues stay small.
    config.heartbeat_ms = 50;
    config.lease_slack_ms = 100;
    config.retry_backoff_ms = 1;
    config.retry_backoff_max_ms = 10;
    config.max_queued = config.max_job_queued = 10000;
    config.max_queued_bytes = config.max_job_queued_bytes = 16 << 20;
    config.batch_memory = 1000;
    s_fuzz.broker = broker_new (&config);
    FUZZ_CHECK (s_fuzz.broker);
    s_fuzz.sockets[PRODUCER] = s_connect (ZMQ_DEALER, s_fuzz.frontend);
    s_fuzz.sockets[PUSHER] = s_connect (ZMQ_PUSH, s_fuzz.intake);
    s_fuzz.sockets[AGENT_A] = s_connect (ZMQ_DEALER, s_fuzz.backend);
    s_fuzz.sockets[AGENT_B] = s_connect (ZMQ_DEALER, s_fuzz.backend);
    s_fuzz.probe = s_connect (ZMQ_DEALER, s_fuzz.frontend);
    s_fuzz.inputs = 0;
}

static void
s_stop (void)
{
    for (int i = 0; i < SOCKETS; i++)
        zsock_destroy (&s_fuzz.sockets[i]);
    zsock_destroy (&s_fuzz.probe);
    broker_destroy (&s_fuzz.broker);
}

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    //  libFuzzer handles the signals, and the broker's lines would drown
    //  its own.
    zsys_handler_set (NULL);
    log_init ("broker", LOG_LEVEL_ERROR);
    s_start ();
    //  Before CZMQ's own exit handler, which would find the sockets open.
    atexit (s_stop);
    return 0;
}

//  One message of the input onto its socket; dropped if it would block.
static void
s_send (const uint8_t *data, size_t size)
{
    if (size == 0)
        return;
    zsock_t *sock = s_fuzz.sockets[data[0] % SOCKETS];
    zmsg_t *zmsg = zmsg_new ();
    FUZZ_CHECK (zmsg);
    fuzz_frames_append (zmsg, data + 1, size - 1);
    if (zmsg_send (&zmsg, sock))
        zmsg_destroy (&zmsg);
}

//  Take off what the broker echoed of an envelope the input sent: the
//  frames up to the first empty one, if no signature comes before it.
static void
s_strip_envelope (zmsg_t *zmsg)
{
    size_t length = 0, index = 0;
    for (zframe_t *frame = zmsg_first (zmsg); frame; frame = zmsg_next (zmsg)) {
        index++;
        if (zframe_size (frame) >= 3 && !memcmp (zframe_data (frame), "DRV", 3))
            break;
        if (zframe_size (frame) == 0) {
            length = index;
            break;
        }
    }
    while (length--) {
        zframe_t *frame = zmsg_pop (zmsg);
        zframe_destroy (&frame);
    }
}

//  Read what the broker sent: behind the envelope a peer gave, it must be
//  a message that peer can decode.
static void
s_drain (void)
{
    for (int i = 0; i < SOCKETS; i++) {
        if (i == PUSHER)
            continue;
        zsock_t *sock = s_fuzz.sockets[i];
        while (zsock_events (sock) & ZMQ_POLLIN) {
            zmsg_t *zmsg = zmsg_recv (sock);
            FUZZ_CHECK (zmsg);
            s_strip_envelope (zmsg);
            msg_t *msg = NULL;
            int rc = wire_decode (&zmsg, &msg);
            if (rc)
                fprintf (stderr, "the broker sent what its peer cannot decode: %s\n",
                         msg_error_name (rc));
            FUZZ_CHECK (rc == 0);
            msg_destroy (&msg);
        }
    }
}

//  The broker still serves: a STATUS gets its answer, the broker turning
//  as it would in broker_run meanwhile.
static void
s_probe (void)
{
    //  A job no input can create: its name is over BROKER_MAX_JOB_NAME.
    char name[BROKER_MAX_JOB_NAME + 2];
    memset (name, 'p', sizeof name - 1);
    name[sizeof name - 1] = 0;
    msg_t *status = msg_new (MSG_STATUS);
    FUZZ_CHECK (status && msg_set_str (status, MSG_F_JOB, name) == 0);
    FUZZ_CHECK (wire_send (&status, s_fuzz.probe, NULL) == 0);
    int64_t deadline = zclock_mono () + ANSWER_TIMEOUT_MS;
    while (!(zsock_events (s_fuzz.probe) & ZMQ_POLLIN) && zclock_mono () < deadline)
        FUZZ_CHECK (broker_poll (s_fuzz.broker, 10) == 0);
    if (!(zsock_events (s_fuzz.probe) & ZMQ_POLLIN))
        fprintf (stderr, "no answer to STATUS within %d ms\n", ANSWER_TIMEOUT_MS);
    FUZZ_CHECK (zsock_events (s_fuzz.probe) & ZMQ_POLLIN);
    msg_t *reply = NULL;
    FUZZ_CHECK (wire_recv (s_fuzz.probe, NULL, &reply) == 0);
    FUZZ_CHECK (msg_command (reply) == MSG_ERROR
             && msg_uint (reply, MSG_F_CODE) == DRV_E_UNKNOWN_JOB);
    msg_destroy (&reply);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (s_fuzz.inputs++ == RESTART_EVERY) {
        s_stop ();
        s_start ();
    }
    while (true) {
        const uint8_t *sep = size? memmem (data, size, MESSAGE_SEPARATOR,
                                           MESSAGE_SEPARATOR_SIZE): NULL;
        size_t len = sep? (size_t) (sep - data): size;
        s_send (data, len);
        if (!sep)
            break;
        data += len + MESSAGE_SEPARATOR_SIZE;
        size -= len + MESSAGE_SEPARATOR_SIZE;
    }
    FUZZ_CHECK (broker_poll (s_fuzz.broker, 0) == 0);
    s_probe ();
    s_drain ();
    return 0;
}
