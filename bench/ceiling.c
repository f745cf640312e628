//  ceiling.c -- the ceiling's producer, in the bench, and the run that
//  starts its broker, agent and sink (ceiling.h, ceiling_roles.c).  The
//  producer sends batches of tuples as SUBMITs, at most `window` tuples not
//  yet done, and sees a batch's tuples done when the broker's DONE for it
//  comes back: the whole path, done path included.
#include "bench/ceiling.h"
#include "bench/procs.h"

#include <czmq.h>
#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <zmq.h>

typedef struct {
    const bench_params_t *params;
    bool secure;
    char dir[PATH_MAX];             //  data directories, the sink's file
    procs_t *procs;
    usage_meter_t *meter;
    void *ctx;
    void *sock;                     //  DEALER to the broker's front
    uint64_t next_id;               //  tuple ids, unique over the run
    //  CURVE keypairs (Z85) of broker, sink, agent, producer; the seal key
    char public_keys[4][41], secret_keys[4][41];
    char seal_key[65];
} ceiling_run_t;

enum { KEY_BROKER, KEY_SINK, KEY_AGENT, KEY_PRODUCER };

//  Send one SUBMIT of count tuples, seq first .. first + count - 1.
static int
s_submit (ceiling_run_t *run, lat_t *lat, size_t first, size_t count)
{
    ceiling_head_t head = { .first = run->next_id, .count = (uint32_t) count };
    zmq_msg_t msg;
    zmq_msg_init_size (&msg, sizeof head + count * BENCH_TUPLE_SIZE);
    uint8_t *data = zmq_msg_data (&msg);
    memcpy (data, &head, sizeof head);
    for (size_t i = 0; i < count; i++)
        bench_tuple_fill (data + sizeof head + i * BENCH_TUPLE_SIZE, (uint32_t) (first + i));
    uint64_t now = lat_now_us ();
    for (size_t i = 0; i < count; i++)
        lat_sent (lat, first + i, now);
    run->next_id += count;
    if (zmq_msg_send (&msg, run->sock, 0) < 0) {
        zmq_msg_close (&msg);
        return -1;
    }
    return 0;
}

//  Take every DONE waiting: its tuples are seen now.  base: the id of the
//  pass's seq 0.
static int
s_collect (ceiling_run_t *run, lat_t *lat, uint64_t base)
{
    ceiling_head_t head;
    while (true) {
        int size = zmq_recv (run->sock, &head, sizeof head, ZMQ_DONTWAIT);
        if (size < 0)
            return errno == EAGAIN? 0: -1;
        if (size != (int) sizeof head || head.first < base)
            continue;
        uint64_t now = lat_now_us ();
        for (uint32_t i = 0; i < head.count; i++)
            lat_seen (lat, head.first - base + i, now);
    }
}

static int
s_pass (void *state, lat_t *lat, size_t batch, size_t window, bench_pass_t *pass)
{
    ceiling_run_t *run = state;
    size_t total = lat_count (lat), sent = 0;
    uint64_t base = run->next_id;
    uint64_t deadline = lat_now_us () + (uint64_t) run->params->timeout_ms * 1000;
    while (lat_done (lat) < total) {
        const char *stop = zsys_interrupted? "interrupted"
                         : lat_now_us () > deadline? "timed out"
                         : !procs_alive (run->procs)? "a process exited": NULL;
        if (stop) {
            bench_pass_fail (pass, "%zu of %zu done when it stopped (%s)", lat_done (lat),
                             total, stop);
            return -1;
        }
        size_t count = total - sent < batch? total - sent: batch;
        bool can_send = count > 0 && sent + count - lat_done (lat) <= window;
        zmq_pollitem_t item = { run->sock, 0, ZMQ_POLLIN | (can_send? ZMQ_POLLOUT: 0), 0 };
        if (zmq_poll (&item, 1, 100) < 0 && errno != EINTR) {
            bench_pass_fail (pass, "zmq_poll: %s", zmq_strerror (errno));
            return -1;
        }
        if ((item.revents & ZMQ_POLLIN) && s_collect (run, lat, base)) {
            bench_pass_fail (pass, "receive: %s", zmq_strerror (errno));
            return -1;
        }
        if (can_send && (item.revents & ZMQ_POLLOUT)) {
            if (s_submit (run, lat, sent, count)) {
                bench_pass_fail (pass, "send: %s", zmq_strerror (errno));
                return -1;
            }
            sent += count;
        }
    }
    return 0;
}

static int
s_make_keys (ceiling_run_t *run)
{
    for (int i = 0; i < 4; i++)
        if (zmq_curve_keypair (run->public_keys[i], run->secret_keys[i]))
            return -1;
    uint8_t key[32];
    randombytes_buf (key, sizeof key);
    sodium_bin2hex (run->seal_key, sizeof run->seal_key, key, sizeof key);
    return 0;
}

static void
s_start (ceiling_run_t *run, const char *front, const char *back, const char *sink)
{
    const bench_params_t *params = run->params;
    char broker_data[PATH_MAX + 16], sink_data[PATH_MAX + 16], output[PATH_MAX + 16];
    char env[3][2][128];
    snprintf (broker_data, sizeof broker_data, "%s/broker-data", run->dir);
    snprintf (sink_data, sizeof sink_data, "%s/sink-data", run->dir);
    snprintf (output, sizeof output, "%s/results", run->dir);
    mkdir (broker_data, 0700);
    mkdir (sink_data, 0700);
    for (int i = 0; i < 3; i++) {
        snprintf (env[i][0], sizeof env[i][0], CEILING_ENV_SECRET "=%s", run->secret_keys[i]);
        snprintf (env[i][1], sizeof env[i][1], CEILING_ENV_SEAL "=%s", run->seal_key);
    }
    char *self = (char *) params->self, *none = "-";
    char *const broker_env[] = { env[KEY_BROKER][0], NULL };
    char *const sink_env[] = { env[KEY_SINK][0], env[KEY_SINK][1], NULL };
    char *const agent_env[] = { env[KEY_AGENT][0], env[KEY_AGENT][1], NULL };
    bool secure = run->secure;
    pid_t broker = procs_start_env (run->procs, secure? "ceiling-broker": "ceiling-plain-broker",
        (char *[]) { self,
        "ceiling-broker", (char *) front, (char *) back, secure? broker_data: none, NULL },
        secure? broker_env: NULL);
    pid_t sink_pid = procs_start_env (run->procs, secure? "ceiling-sink": "ceiling-plain-sink",
        (char *[]) { self,
        "ceiling-sink", (char *) sink, secure? sink_data: none, output, NULL },
        secure? sink_env: NULL);
    pid_t agent = procs_start_env (run->procs, secure? "ceiling-agent": "ceiling-plain-agent",
        (char *[]) { self,
        "ceiling-agent", (char *) back, secure? run->public_keys[KEY_BROKER]: none,
        (char *) sink, secure? run->public_keys[KEY_SINK]: none, NULL },
        secure? agent_env: NULL);
    usage_meter_add (run->meter, ROLE_BROKER, broker);
    usage_meter_add (run->meter, ROLE_SINK, sink_pid);
    //  One process does the agent's whole work: no workers to find.
    usage_meter_add (run->meter, ROLE_AGENT, agent);
}

//  The producer's DEALER, a CURVE client of the broker when secure.
static int
s_connect (ceiling_run_t *run, const char *front)
{
    run->sock = zmq_socket (run->ctx, ZMQ_DEALER);
    int linger = 0, rc = run->sock? 0: -1;
    if (rc == 0)
        rc = zmq_setsockopt (run->sock, ZMQ_LINGER, &linger, sizeof linger);
    if (rc == 0 && run->secure)
        rc = zmq_setsockopt (run->sock, ZMQ_CURVE_SERVERKEY, run->public_keys[KEY_BROKER], 40)
          || zmq_setsockopt (run->sock, ZMQ_CURVE_PUBLICKEY, run->public_keys[KEY_PRODUCER], 40)
          || zmq_setsockopt (run->sock, ZMQ_CURVE_SECRETKEY, run->secret_keys[KEY_PRODUCER], 40);
    return rc == 0? zmq_connect (run->sock, front): -1;
}

static void
s_remove_run_dir (const char *dir)
{
    char path[PATH_MAX + 32];
    const char *files[] = { "broker-data/data.mdb", "broker-data/lock.mdb", "broker-data",
                            "sink-data/data.mdb", "sink-data/lock.mdb", "sink-data",
                            "results", NULL };
    for (int i = 0; files[i]; i++) {
        snprintf (path, sizeof path, "%s/%s", dir, files[i]);
        remove (path);
    }
    rmdir (dir);
}

void
bench_ceiling (const bench_params_t *params, bool secure, bench_pass_t *load, bench_pass_t *light)
{
    ceiling_run_t run = { .params = params, .secure = secure, .procs = procs_new (params->dir),
                          .meter = usage_meter_new (), .ctx = zmq_ctx_new () };
    snprintf (run.dir, sizeof run.dir, "%s/ceiling-XXXXXX", params->dir);
    char front[64], back[64], sink[64];
    snprintf (front, sizeof front, "tcp://127.0.0.1:%d", procs_free_port ());
    snprintf (back, sizeof back, "tcp://127.0.0.1:%d", procs_free_port ());
    snprintf (sink, sizeof sink, "tcp://127.0.0.1:%d", procs_free_port ());
    if (!run.procs || !run.meter || !run.ctx || !mkdtemp (run.dir) || sodium_init () < 0
    ||  s_make_keys (&run)) {
        bench_pass_fail (load, "cannot set up the ceiling (memory, keys or %s)", params->dir);
        goto done;
    }
    s_start (&run, front, back, sink);
    if (s_connect (&run, front)) {
        bench_pass_fail (load, "cannot connect to %s: %s", front, zmq_strerror (errno));
        goto done;
    }
    bench_passes_run (params, params->tuples, params->batch, run.meter, s_pass, &run,
                      load, light);
done:
    if (run.sock)
        zmq_close (run.sock);
    if (run.ctx)
        zmq_ctx_term (run.ctx);
    procs_destroy (&run.procs);
    usage_meter_destroy (&run.meter);
    sodium_memzero (run.secret_keys, sizeof run.secret_keys);
    sodium_memzero (run.seal_key, sizeof run.seal_key);
    s_remove_run_dir (run.dir);
}
