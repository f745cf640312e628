//  ceiling.c -- the ceiling's producer, in the bench, and the run that
//  starts its broker, agent and sink (ceiling.h, ceiling_roles.c).  The
//  producer sends batches of tuples as SUBMITs, at most `window` tuples
//  sent and not yet stored, and sees a tuple when its record is in the
//  sink's file, as drover rows see a result in the sink's JSON Lines.  A
//  pass ends when the broker's DONEs for all its tuples came back: the CPU
//  measured includes the done path.
#include "bench/ceiling.h"
#include "bench/follow.h"
#include "bench/procs.h"

#include <czmq.h>
#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

typedef struct {
    const bench_params_t *params;
    bool secure;
    char dir[PATH_MAX];             //  data directories, the sink's file
    char output[PATH_MAX + 16];     //  the sink's file
    procs_t *procs;
    usage_meter_t *meter;
    void *ctx;
    void *sock;                     //  DEALER to the broker's front
    uint64_t next_id;               //  tuple ids (and seqs), unique over the run
    lat_t *lat;                     //  the pass running
    uint64_t base;                  //  the id of its seq 0
    //  CURVE keypairs (Z85) of broker, sink, agent, producer; the seal key
    char public_keys[4][41], secret_keys[4][41];
    char seal_key[65];
} ceiling_run_t;

enum { KEY_BROKER, KEY_SINK, KEY_AGENT, KEY_PRODUCER };

//  One record in the sink's file: its input is the tuple, seq its id.
static void
s_on_record (void *arg, const char *record, size_t size, uint64_t now)
{
    ceiling_run_t *run = arg;
    int64_t id = bench_tuple_seq ((const uint8_t *) record, size < BENCH_TUPLE_SIZE? size:
                                  BENCH_TUPLE_SIZE);
    if (id >= (int64_t) run->base)
        lat_seen (run->lat, (size_t) ((uint64_t) id - run->base), now);
}

static void
s_on_read (void *arg)
{
    ceiling_run_t *run = arg;
    lat_notify (run->lat);
}

//  Send one SUBMIT of count tuples, seq first .. first + count - 1 of lat.
static int
s_submit (ceiling_run_t *run, lat_t *lat, size_t first, size_t count)
{
    ceiling_head_t head = { .first = run->base + first, .count = (uint32_t) count };
    zmq_msg_t msg;
    zmq_msg_init_size (&msg, sizeof head + count * BENCH_TUPLE_SIZE);
    uint8_t *data = zmq_msg_data (&msg);
    memcpy (data, &head, sizeof head);
    for (size_t i = 0; i < count; i++)
        bench_tuple_fill (data + sizeof head + i * BENCH_TUPLE_SIZE,
                          (uint32_t) (head.first + i));
    uint64_t now = lat_now_us ();
    for (size_t i = 0; i < count; i++)
        lat_sent (lat, first + i, now);
    if (zmq_msg_send (&msg, run->sock, 0) < 0) {
        zmq_msg_close (&msg);
        return -1;
    }
    return 0;
}

//  Take every DONE waiting; *done_p counts their tuples.
static int
s_take_dones (ceiling_run_t *run, size_t *done_p)
{
    ceiling_head_t head;
    while (true) {
        int size = zmq_recv (run->sock, &head, sizeof head, ZMQ_DONTWAIT);
        if (size < 0)
            return errno == EAGAIN? 0: -1;
        if (size == (int) sizeof head && head.first >= run->base)
            *done_p += head.count;
    }
}

//  Why a pass cannot go on, or NULL.
static const char *
s_stopped (ceiling_run_t *run, uint64_t deadline)
{
    return zsys_interrupted? "interrupted"
         : lat_now_us () > deadline? "timed out"
         : !procs_alive (run->procs)? "a process exited": NULL;
}

//  Send every tuple, at most window not yet stored; then wait until all
//  are stored and their DONEs are back.
static int
s_run_pass (ceiling_run_t *run, lat_t *lat, size_t batch, size_t window, bench_pass_t *pass)
{
    size_t total = lat_count (lat), sent = 0, done = 0;
    uint64_t deadline = lat_now_us () + (uint64_t) run->params->timeout_ms * 1000;
    const char *stop = NULL;
    while ((lat_done (lat) < total || done < total) && !(stop = s_stopped (run, deadline))) {
        size_t count = total - sent < batch? total - sent: batch;
        if (count && sent + count - lat_done (lat) <= window) {
            if (s_submit (run, lat, sent, count)) {
                bench_pass_fail (pass, "send: %s", zmq_strerror (errno));
                return -1;
            }
            sent += count;
        }
        else
        if (lat_done (lat) < total)
            lat_wait (lat, count? sent + count - window: total, 100);
        else {
            zmq_pollitem_t item = { run->sock, 0, ZMQ_POLLIN, 0 };
            zmq_poll (&item, 1, 100);
        }
        if (s_take_dones (run, &done)) {
            bench_pass_fail (pass, "receive: %s", zmq_strerror (errno));
            return -1;
        }
    }
    if (stop)
        bench_pass_fail (pass, "%zu of %zu stored, %zu done when it stopped (%s)",
                         lat_done (lat), total, done, stop);
    return stop? -1: 0;
}

//  A follower per pass, from the file's end: the passes before are stored.
static int
s_pass (void *state, lat_t *lat, size_t batch, size_t window, bench_pass_t *pass)
{
    ceiling_run_t *run = state;
    run->lat = lat;
    run->base = run->next_id;
    run->next_id += lat_count (lat);
    follow_t *follow = follow_new (run->output, CEILING_RECORD, s_on_record, s_on_read, run);
    if (!follow) {
        bench_pass_fail (pass, "cannot follow %s: %s", run->output, strerror (errno));
        return -1;
    }
    int rc = s_run_pass (run, lat, batch, window, pass);
    follow_destroy (&follow);
    return rc;
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

//  Start broker, sink and agent; wait until the sink made its file.
static int
s_start (ceiling_run_t *run, char *front, char *back, char *sink)
{
    char broker_data[PATH_MAX + 16], sink_data[PATH_MAX + 16], env[3][2][128];
    snprintf (broker_data, sizeof broker_data, "%s/broker-data", run->dir);
    snprintf (sink_data, sizeof sink_data, "%s/sink-data", run->dir);
    mkdir (broker_data, 0700);
    mkdir (sink_data, 0700);
    for (int i = 0; i < 3; i++) {
        snprintf (env[i][0], sizeof env[i][0], CEILING_ENV_SECRET "=%s", run->secret_keys[i]);
        snprintf (env[i][1], sizeof env[i][1], CEILING_ENV_SEAL "=%s", run->seal_key);
    }
    char *self = (char *) run->params->self, *none = "-";
    char *const broker_env[] = { env[KEY_BROKER][0], NULL };
    char *const sink_env[] = { env[KEY_SINK][0], env[KEY_SINK][1], NULL };
    char *const agent_env[] = { env[KEY_AGENT][0], env[KEY_AGENT][1], NULL };
    bool secure = run->secure;
    usage_meter_add (run->meter, ROLE_BROKER, procs_start_env (run->procs,
        secure? "ceiling-broker": "ceiling-plain-broker", (char *[]) { self, "ceiling-broker",
        front, back, secure? broker_data: none, NULL }, secure? broker_env: NULL));
    usage_meter_add (run->meter, ROLE_SINK, procs_start_env (run->procs,
        secure? "ceiling-sink": "ceiling-plain-sink", (char *[]) { self, "ceiling-sink",
        sink, secure? sink_data: none, run->output, NULL }, secure? sink_env: NULL));
    //  One process does the agent's whole work: no workers to find.
    usage_meter_add (run->meter, ROLE_AGENT, procs_start_env (run->procs,
        secure? "ceiling-agent": "ceiling-plain-agent", (char *[]) { self, "ceiling-agent",
        back, secure? run->public_keys[KEY_BROKER]: none, sink,
        secure? run->public_keys[KEY_SINK]: none, NULL }, secure? agent_env: NULL));
    struct stat st;
    for (int i = 0; i < 500 && stat (run->output, &st) && procs_alive (run->procs); i++)
        usleep (10000);
    return stat (run->output, &st);
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
    snprintf (run.output, sizeof run.output, "%s/results", run.dir);
    if (s_start (&run, front, back, sink)) {
        bench_pass_fail (load, "the ceiling did not start; logs in %s", params->dir);
        goto done;
    }
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
