//  run_drover.c -- drover end to end, as a user runs it: `drover broker
//  --store memory`, one `drover agent` (echo handler), one `drover sink`
//  writing JSON Lines to a file, each a real process on loopback TCP.  We
//  submit with drover's own producer (producer/producer.h, as `drover submit`
//  does) and see a result when its line is in the sink's file: a thread
//  follows the file with inotify, so "seen" means "stored", the guarantee
//  a user waits for.
#include "bench/bench.h"
#include "bench/procs.h"
#include "producer/producer.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define PASSES 3                    //  warm-up, load, light
#define TAIL_BUFFER (1 << 20)

//  The tuples of pass i carry seq base[i] .. base[i] + count - 1, so the
//  follower can tell passes apart without knowing which one is running.
typedef struct {
    char output[PATH_MAX];
    lat_t *lats[PASSES];
    size_t bases[PASSES];
    volatile int stop;              //  atomic
    char *buffer;
} follower_t;

typedef struct {
    const bench_params_t *params;
    bool in_agent;                  //  agent --processes 0
    procs_t *procs;
    char frontend[64], intake[64], backend[64], sink[64];
    follower_t follower;
} drover_run_t;

//  One line of the sink's file: find the tuple's seq in its "input".
static void
s_follow_line (follower_t *self, const char *line, size_t len, uint64_t now)
{
    const char *tag = memmem (line, len, BENCH_TAG, strlen (BENCH_TAG));
    if (!tag)
        return;
    size_t seq = strtoul (tag + strlen (BENCH_TAG), NULL, 10);
    for (int i = 0; i < PASSES; i++)
        if (self->lats[i] && seq >= self->bases[i]
        &&  seq < self->bases[i] + lat_count (self->lats[i]))
            lat_seen (self->lats[i], seq - self->bases[i], now);
}

//  Read what the sink appended; mark each complete line seen now.
static void *
s_follow (void *arg)
{
    follower_t *self = arg;
    int fd = open (self->output, O_RDONLY | O_CLOEXEC);
    int watch = inotify_init1 (IN_CLOEXEC | IN_NONBLOCK);
    if (fd < 0 || watch < 0 || inotify_add_watch (watch, self->output, IN_MODIFY) < 0) {
        fprintf (stderr, "bench: cannot follow %s: %s\n", self->output, strerror (errno));
        goto done;
    }
    size_t have = 0;
    while (!__atomic_load_n (&self->stop, __ATOMIC_ACQUIRE)) {
        ssize_t got = read (fd, self->buffer + have, TAIL_BUFFER - have);
        if (got <= 0) {
            struct pollfd item = { .fd = watch, .events = POLLIN };
            if (poll (&item, 1, 20) > 0) {
                char events[4096];
                while (read (watch, events, sizeof events) > 0)
                    ;
            }
            continue;
        }
        have += (size_t) got;
        uint64_t now = lat_now_us ();
        char *start = self->buffer, *end = self->buffer + have, *eol;
        while ((eol = memchr (start, '\n', (size_t) (end - start)))) {
            s_follow_line (self, start, (size_t) (eol - start), now);
            start = eol + 1;
        }
        have = (size_t) (end - start);
        if (have == TAIL_BUFFER)
            have = 0;               //  a line longer than the buffer: not ours
        memmove (self->buffer, start, have);
        for (int i = 0; i < PASSES; i++)
            if (self->lats[i])
                lat_notify (self->lats[i]);
    }
done:
    if (fd >= 0)
        close (fd);
    if (watch >= 0)
        close (watch);
    return NULL;
}

static int
s_start_daemons (drover_run_t *run)
{
    const bench_params_t *params = run->params;
    snprintf (run->frontend, sizeof run->frontend, "tcp://127.0.0.1:%d", procs_free_port ());
    snprintf (run->intake, sizeof run->intake, "tcp://127.0.0.1:%d", procs_free_port ());
    snprintf (run->backend, sizeof run->backend, "tcp://127.0.0.1:%d", procs_free_port ());
    snprintf (run->sink, sizeof run->sink, "tcp://127.0.0.1:%d", procs_free_port ());
    snprintf (run->follower.output, sizeof run->follower.output, "%s/results.jsonl", params->dir);
    unlink (run->follower.output);
    char *drover = (char *) params->drover;
    //  --insecure (plain, no CURVE): the pipelines it is compared with are
    //  plain too, and the in-process producer below has no keys.
    procs_start (run->procs, "drover-broker", (char *[]) { drover, "broker", "--insecure",
                 "--store", "memory", "--frontend", run->frontend, "--intake", run->intake,
                 "--backend", run->backend, NULL });
    //  Memory stores on both ends, like the raw ZeroMQ pipeline it is
    //  compared with; and no dedupe state left from an earlier round.
    procs_start (run->procs, "drover-sink", (char *[]) { drover, "sink", "--insecure", "--bind", run->sink,
                 "--output", run->follower.output, "--store", "memory", NULL });
    char *agent[12] = { drover, "agent", "--insecure", "--broker", run->backend,
                        "--name", "bench-agent" };
    int argc = 7;
    if (run->in_agent) {
        agent[argc++] = "--processes";
        agent[argc++] = "0";
    }
    if (params->threads) {
        agent[argc++] = "--threads";
        agent[argc++] = (char *) params->threads;
    }
    procs_start (run->procs, "drover-agent", agent);
    //  The sink creates its file when it starts; we follow it from there.
    struct stat st;
    for (int i = 0; i < 500 && stat (run->follower.output, &st); i++) {
        if (!procs_alive (run->procs))
            return -1;
        usleep (10000);
    }
    return stat (run->follower.output, &st);
}

//  Why a pass cannot go on: interrupted, out of time, or a daemon died.
static int
s_check (drover_run_t *run, uint64_t deadline)
{
    if (zsys_interrupted)
        return -EINTR;
    if (lat_now_us () > deadline || !procs_alive (run->procs))
        return -ETIMEDOUT;
    return 0;
}

//  Submit count tuples (seq base ..) as job, batch per SUBMIT, at most
//  window unseen; close the job and wait until all are stored.
static int
s_pass (drover_run_t *run, const char *job, int index, size_t batch, size_t window,
        bench_pass_t *pass)
{
    lat_t *lat = run->follower.lats[index];
    size_t base = run->follower.bases[index], total = lat_count (lat), sent = 0;
    int timeout_ms = run->params->timeout_ms;
    uint64_t deadline = lat_now_us () + (uint64_t) timeout_ms * 1000;
    producer_t *producer = producer_new (run->frontend);
    if (!producer) {
        bench_pass_fail (pass, "cannot make a producer for %s", run->frontend);
        return -1;
    }
    producer_set_job (producer, job);
    producer_set_handler (producer, "echo");
    producer_set_sink (producer, run->sink);
    size_t submits = window / batch;
    producer_set_window (producer, submits < 1? 1: submits > PRODUCER_WINDOW_MAX? PRODUCER_WINDOW_MAX: submits);
    producer_set_reply_timeout (producer, timeout_ms);
    int rc = 0;
    uint8_t tuple[BENCH_TUPLE_SIZE];
    while (sent < total && (rc = s_check (run, deadline)) == 0) {
        size_t count = total - sent < batch? total - sent: batch;
        if (sent + count - lat_done (lat) > window) {
            lat_wait (lat, sent + count - window, 100);
            continue;
        }
        zmsg_t *tuples = zmsg_new ();
        for (size_t i = 0; i < count; i++) {
            bench_tuple_fill (tuple, (uint32_t) (base + sent + i));
            zmsg_addmem (tuples, tuple, sizeof tuple);
        }
        uint64_t now = lat_now_us ();
        for (size_t i = 0; i < count; i++)
            lat_sent (lat, sent + i, now);
        if ((rc = producer_submit (producer, &tuples)))
            break;
        sent += count;
    }
    if (rc == 0)
        rc = producer_close (producer);
    while (rc == 0 && lat_done (lat) < total && (rc = s_check (run, deadline)) == 0)
        lat_wait (lat, total, 100);
    if (rc == -ETIMEDOUT)
        bench_pass_fail (pass, "%zu of %zu results stored when it stopped (%s)",
                         lat_done (lat), total,
                         lat_now_us () > deadline? "timed out": "a daemon exited");
    else
    if (rc == -EINTR)
        bench_pass_fail (pass, "interrupted");
    else
    if (rc)
        bench_pass_fail (pass, "%s", producer_error (producer));
    producer_destroy (&producer);
    return rc;
}

static void
s_measure (drover_run_t *run, const char *job, int index, size_t batch, size_t window,
           bench_pass_t *pass)
{
    if (s_pass (run, job, index, batch, window, pass) == 0
    &&  bench_pass_take (pass, run->follower.lats[index]))
        bench_pass_fail (pass, "out of memory");
}

void
bench_drover (const bench_params_t *params, bool in_agent, bench_pass_t *load, bench_pass_t *light)
{
    drover_run_t run = { .params = params, .in_agent = in_agent, .procs = procs_new (params->dir) };
    follower_t *follower = &run.follower;
    size_t counts[PASSES] = { params->warmup, params->tuples, params->light };
    size_t base = 0;
    for (int i = 0; i < PASSES; i++) {
        follower->bases[i] = base;
        follower->lats[i] = lat_new (counts[i]);
        base += counts[i];
    }
    follower->buffer = malloc (TAIL_BUFFER);
    pthread_t thread;
    bool following = false;
    if (!run.procs || !follower->buffer || !follower->lats[0] || !follower->lats[1]
    ||  !follower->lats[2])
        bench_pass_fail (load, "out of memory");
    else
    if (s_start_daemons (&run))
        bench_pass_fail (load, "drover did not start; logs in %s", params->dir);
    else
    if (pthread_create (&thread, NULL, s_follow, follower))
        bench_pass_fail (load, "cannot start a thread");
    else
        following = true;

    bench_pass_t warm = { 0 };
    if (following) {
        s_measure (&run, "bench-warm-up", 0, params->batch, params->window, &warm);
        if (warm.error[0])
            bench_pass_fail (load, "warm-up: %s", warm.error);
        bench_pass_reset (&warm);
    }
    if (following && !load->error[0])
        s_measure (&run, "bench-load", 1, params->batch, params->window, load);
    if (following && !load->error[0] && params->light && light)
        s_measure (&run, "bench-light", 2, 1, 1, light);
    if (following) {
        __atomic_store_n (&follower->stop, 1, __ATOMIC_RELEASE);
        pthread_join (thread, NULL);
    }
    procs_destroy (&run.procs);
    unlink (follower->output);
    for (int i = 0; i < PASSES; i++)
        lat_destroy (&follower->lats[i]);
    free (follower->buffer);
}
