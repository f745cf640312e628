//  run_zmq.c -- the baseline: the same tuples over raw ZeroMQ (libzmq only,
//  no CZMQ), through the same number of process hops as drover's broker and
//  agent: producer PUSH -> forwarder PULL/PUSH (zmq_proxy, standing in for
//  the broker) -> worker PULL, echo (a copy of each tuple), PUSH -> our PULL.
//  No persistence, no acks, no credits: what is left is the cost of moving
//  bytes between processes, which drover's overhead is measured against.
#include "bench/bench.h"
#include "bench/procs.h"

#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <zmq.h>

typedef struct {
    void *push;                     //  to the forwarder
    void *pull;                     //  from the worker
    int timeout_ms;
    procs_t *procs;
    usage_meter_t *meter;
} zmq_run_t;

static void *
s_socket (void *ctx, int type, const char *endpoint, bool bind)
{
    void *sock = zmq_socket (ctx, type);
    int linger = 0;
    if (!sock)
        return NULL;
    zmq_setsockopt (sock, ZMQ_LINGER, &linger, sizeof linger);
    if ((bind? zmq_bind (sock, endpoint): zmq_connect (sock, endpoint)) != 0) {
        zmq_close (sock);
        return NULL;
    }
    return sock;
}

//  Take every result waiting on the collector, without blocking.
static int
s_collect (zmq_run_t *run, lat_t *lat)
{
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    int rc = 0;
    //  Bounded, so a flood of results cannot starve the sending side.
    for (int i = 0; i < 100000; i++) {
        if (zmq_msg_recv (&msg, run->pull, ZMQ_DONTWAIT) < 0) {
            rc = errno == EAGAIN? 0: -errno;
            break;
        }
        int64_t seq = bench_tuple_seq (zmq_msg_data (&msg), zmq_msg_size (&msg));
        if (seq >= 0)
            lat_seen (lat, (size_t) seq, lat_now_us ());
    }
    zmq_msg_close (&msg);
    return rc;
}

//  Send one message of count tuples, seq first .. first+count-1.
static int
s_send (zmq_run_t *run, lat_t *lat, size_t first, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        zmq_msg_t msg;
        zmq_msg_init_size (&msg, BENCH_TUPLE_SIZE);
        bench_tuple_fill (zmq_msg_data (&msg), (uint32_t) (first + i));
        lat_sent (lat, first + i, lat_now_us ());
        if (zmq_msg_send (&msg, run->push, i + 1 < count? ZMQ_SNDMORE: 0) < 0) {
            zmq_msg_close (&msg);
            return -errno;
        }
    }
    return 0;
}

//  Send lat_count tuples, batch per message, at most window unanswered;
//  return when all came back, or on error/timeout.
static int
s_pass (void *state, lat_t *lat, size_t batch, size_t window, bench_pass_t *pass)
{
    zmq_run_t *run = state;
    size_t total = lat_count (lat), sent = 0;
    uint64_t deadline = lat_now_us () + (uint64_t) run->timeout_ms * 1000;
    while (lat_done (lat) < total) {
        if (zsys_interrupted) {
            bench_pass_fail (pass, "interrupted");
            return -1;
        }
        if (lat_now_us () > deadline) {
            bench_pass_fail (pass, "timed out after %d ms with %zu of %zu results",
                             run->timeout_ms, lat_done (lat), total);
            return -1;
        }
        size_t count = total - sent < batch? total - sent: batch;
        bool can_send = count > 0 && sent + count - lat_done (lat) <= window;
        zmq_pollitem_t items[] = {
            { run->pull, 0, ZMQ_POLLIN, 0 },
            { run->push, 0, can_send? ZMQ_POLLOUT: 0, 0 }
        };
        if (zmq_poll (items, 2, 100) < 0) {
            if (errno == EINTR)
                continue;
            bench_pass_fail (pass, "zmq_poll: %s", zmq_strerror (errno));
            return -1;
        }
        if ((items[0].revents & ZMQ_POLLIN) && s_collect (run, lat)) {
            bench_pass_fail (pass, "receive: %s", zmq_strerror (errno));
            return -1;
        }
        if (can_send && (items[1].revents & ZMQ_POLLOUT)) {
            if (s_send (run, lat, sent, count)) {
                bench_pass_fail (pass, "send: %s", zmq_strerror (errno));
                return -1;
            }
            sent += count;
        }
        if (!procs_alive (run->procs)) {
            bench_pass_fail (pass, "a process exited early (its log is named above)");
            return -1;
        }
    }
    return 0;
}

void
bench_zmq (const bench_params_t *params, size_t batch, bench_pass_t *load, bench_pass_t *light)
{
    char forward_in[64], forward_out[64], collect[64];
    snprintf (forward_in, sizeof forward_in, "tcp://127.0.0.1:%d", procs_free_port ());
    snprintf (forward_out, sizeof forward_out, "tcp://127.0.0.1:%d", procs_free_port ());
    snprintf (collect, sizeof collect, "tcp://127.0.0.1:%d", procs_free_port ());
    zmq_run_t run = { .timeout_ms = params->timeout_ms, .procs = procs_new (params->dir),
                      .meter = usage_meter_new () };
    void *ctx = zmq_ctx_new ();
    run.pull = ctx? s_socket (ctx, ZMQ_PULL, collect, true): NULL;
    if (!run.procs || !run.meter || !run.pull) {
        bench_pass_fail (load, "cannot bind %s: %s", collect, zmq_strerror (errno));
        goto done;
    }
    //  On the CPU table the forwarder stands where the broker does, the
    //  worker where the agent does.
    usage_meter_add (run.meter, ROLE_BROKER,
        procs_start (run.procs, batch > 1? "zmq-batch-forwarder": "zmq-forwarder",
                     (char *[]) { (char *) params->self, "zmq-forwarder",
                                  forward_in, forward_out, NULL }));
    usage_meter_add (run.meter, ROLE_AGENT,
        procs_start (run.procs, batch > 1? "zmq-batch-worker": "zmq-worker",
                     (char *[]) { (char *) params->self, "zmq-worker",
                                  forward_out, collect, NULL }));
    run.push = s_socket (ctx, ZMQ_PUSH, forward_in, false);
    if (!run.push) {
        bench_pass_fail (load, "cannot connect %s: %s", forward_in, zmq_strerror (errno));
        goto done;
    }
    //  A warm-up first: connections made, pages touched, caches hot.
    bench_passes_run (params, params->tuples, batch, run.meter, s_pass, &run, load, light);
done:
    if (run.push)
        zmq_close (run.push);
    if (run.pull)
        zmq_close (run.pull);
    if (ctx)
        zmq_ctx_term (ctx);
    procs_destroy (&run.procs);
    usage_meter_destroy (&run.meter);
}

//  `drover-bench zmq-forwarder IN OUT`: bind both, forward until killed.
int
bench_zmq_forwarder_main (int argc, char **argv)
{
    if (argc != 3) {
        fprintf (stderr, "usage: drover-bench zmq-forwarder IN OUT\n");
        return 2;
    }
    void *ctx = zmq_ctx_new ();
    void *in = s_socket (ctx, ZMQ_PULL, argv[1], true);
    void *out = s_socket (ctx, ZMQ_PUSH, argv[2], true);
    if (!in || !out) {
        fprintf (stderr, "zmq-forwarder: cannot bind: %s\n", zmq_strerror (errno));
        return 1;
    }
    zmq_proxy (in, out, NULL);      //  returns only when the context ends
    return 0;
}

//  `drover-bench zmq-worker IN OUT`: connect both; each frame received goes
//  out again as a copy (the echo handler), keeping multipart boundaries so
//  a batch stays a batch.
int
bench_zmq_worker_main (int argc, char **argv)
{
    if (argc != 3) {
        fprintf (stderr, "usage: drover-bench zmq-worker IN OUT\n");
        return 2;
    }
    void *ctx = zmq_ctx_new ();
    void *in = s_socket (ctx, ZMQ_PULL, argv[1], false);
    void *out = s_socket (ctx, ZMQ_PUSH, argv[2], false);
    if (!in || !out) {
        fprintf (stderr, "zmq-worker: cannot connect: %s\n", zmq_strerror (errno));
        return 1;
    }
    zmq_msg_t msg, copy;
    zmq_msg_init (&msg);
    while (zmq_msg_recv (&msg, in, 0) >= 0) {
        int more = zmq_msg_more (&msg);
        zmq_msg_init_size (&copy, zmq_msg_size (&msg));
        memcpy (zmq_msg_data (&copy), zmq_msg_data (&msg), zmq_msg_size (&msg));
        if (zmq_msg_send (&copy, out, more? ZMQ_SNDMORE: 0) < 0)
            break;
    }
    fprintf (stderr, "zmq-worker: %s\n", zmq_strerror (errno));
    return 1;
}
