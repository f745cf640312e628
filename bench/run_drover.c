//  run_drover.c -- drover end to end, deployed as a drover_setup_t says
//  (deploy.h).  We submit with drover's own producer (producer/producer.h,
//  as `drover submit` does) and see a result when its line is in the sink's
//  file (follow.h): "stored", the guarantee a user waits for.  Each pass
//  then waits until the broker reports the job complete, so the CPU
//  measured includes the done path of the last results too.
#include "bench/bench.h"
#include "bench/deploy.h"
#include "bench/follow.h"

#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define PASSES 3                    //  warm-up, load, light

//  The tuples of pass i carry seq bases[i] .. bases[i] + count - 1, so the
//  follower can tell passes apart without knowing which one is running.
typedef struct {
    lat_t *lats[PASSES];
    size_t bases[PASSES];
} passes_t;

typedef struct {
    const bench_params_t *params;
    deploy_t *deploy;
    usage_meter_t *meter;
    passes_t passes;
} drover_run_t;

//  Where the first BENCH_TAG of line starts (its "input"), or NULL.  Every
//  '[' is a candidate, and memchr finds them faster than memmem the tag:
//  this runs for every result, in the process that shares the CPUs with
//  the system measured.
static const char *
s_find_tag (const char *line, size_t len)
{
    const size_t tag_len = sizeof BENCH_TAG - 1;
    const char *end = line + len;
    for (const char *at = line; (size_t) (end - at) >= tag_len; at++) {
        if (!(at = memchr (at, BENCH_TAG[0], (size_t) (end - at) - tag_len + 1)))
            return NULL;
        if (memcmp (at, BENCH_TAG, tag_len) == 0)
            return at;
    }
    return NULL;
}

//  One line of the sink's file: find the tuple's seq in its "input".
static void
s_on_line (void *arg, const char *line, size_t len, uint64_t now)
{
    passes_t *self = arg;
    const char *tag = s_find_tag (line, len);
    if (!tag)
        return;
    size_t seq = 0;                 //  a uint32: 10 digits at most
    const char *at = tag + sizeof BENCH_TAG - 1, *end = line + len;
    for (int digits = 0; at < end && *at >= '0' && *at <= '9' && digits < 10; at++, digits++)
        seq = seq * 10 + (size_t) (*at - '0');
    for (int i = 0; i < PASSES; i++)
        if (self->lats[i] && seq >= self->bases[i]
        &&  seq < self->bases[i] + lat_count (self->lats[i]))
            lat_seen (self->lats[i], seq - self->bases[i], now);
}

static void
s_on_read (void *arg)
{
    passes_t *self = arg;
    for (int i = 0; i < PASSES; i++)
        if (self->lats[i])
            lat_notify (self->lats[i]);
}

//  Why a pass cannot go on: interrupted, out of time, or a daemon died.
static int
s_check (drover_run_t *run, uint64_t deadline)
{
    if (zsys_interrupted)
        return -EINTR;
    if (lat_now_us () > deadline || !deploy_alive (run->deploy))
        return -ETIMEDOUT;
    return 0;
}

//  Send the pass's tuples, batch per SUBMIT, at most window unseen.  A
//  batch is built in the one frame the producer sends.
static int
s_send (drover_run_t *run, producer_t *producer, lat_t *lat, size_t base, size_t batch,
        size_t window, uint64_t deadline)
{
    size_t total = lat_count (lat), sent = 0;
    int rc = 0;
    while (sent < total && (rc = s_check (run, deadline)) == 0) {
        size_t count = total - sent < batch? total - sent: batch;
        if (sent + count - lat_done (lat) > window) {
            lat_wait (lat, sent + count - window, 100);
            continue;
        }
        zframe_t *tuples = zframe_new (NULL, count * BENCH_TUPLE_SIZE);
        if (!tuples)
            return producer_fail (producer, -ENOMEM, "out of memory");
        for (size_t i = 0; i < count; i++)
            bench_tuple_fill (zframe_data (tuples) + i * BENCH_TUPLE_SIZE,
                              (uint32_t) (base + sent + i));
        lat_sent_batch (lat, sent, count, lat_now_us ());
        if ((rc = producer_submit (producer, &tuples, count)))
            break;
        sent += count;
    }
    return rc;
}

//  Every result stored, then the job complete at the broker.
static int
s_finish (drover_run_t *run, producer_t *producer, const char *job, lat_t *lat,
          uint64_t deadline)
{
    int rc = producer_close (producer);
    while (rc == 0 && lat_done (lat) < lat_count (lat) && (rc = s_check (run, deadline)) == 0)
        lat_wait (lat, lat_count (lat), 100);
    producer_status_t status = { .state = "" };
    while (rc == 0 && (rc = producer_status (producer, job, &status)) == 0
    &&     strcmp (status.state, "complete") && (rc = s_check (run, deadline)) == 0)
        usleep (2000);
    return rc;
}

//  Submit pass index's tuples as job; returns 0 once all are stored and the
//  job is complete.  metered: its processes' cost goes into pass->usage.
static int
s_pass (drover_run_t *run, const char *job, int index, size_t batch, size_t window,
        bench_pass_t *pass, bool metered)
{
    lat_t *lat = run->passes.lats[index];
    int timeout_ms = run->params->timeout_ms;
    uint64_t deadline = lat_now_us () + (uint64_t) timeout_ms * 1000;
    producer_t *producer = deploy_producer (run->deploy, job, "echo");
    if (!producer) {
        bench_pass_fail (pass, "cannot make a producer");
        return -1;
    }
    size_t submits = window / batch;
    producer_set_window (producer, submits < 1? 1: submits > PRODUCER_WINDOW_MAX?
                                   PRODUCER_WINDOW_MAX: submits);
    producer_set_reply_timeout (producer, timeout_ms);
    if (metered)
        usage_meter_start (run->meter);
    int rc = s_send (run, producer, lat, run->passes.bases[index], batch, window, deadline);
    if (rc == 0)
        rc = s_finish (run, producer, job, lat, deadline);
    if (metered)
        usage_meter_stop (run->meter, &pass->usage);
    if (rc == -ETIMEDOUT)
        bench_pass_fail (pass, "%zu of %zu results stored when it stopped (%s)",
                         lat_done (lat), lat_count (lat),
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
           bench_pass_t *pass, bool metered)
{
    if (s_pass (run, job, index, batch, window, pass, metered) == 0
    &&  bench_pass_take (pass, run->passes.lats[index]))
        bench_pass_fail (pass, "out of memory");
}

static void
s_passes (drover_run_t *run, bench_pass_t *load, bench_pass_t *light)
{
    const bench_params_t *params = run->params;
    bench_pass_t warm = { 0 };
    s_measure (run, "bench-warm-up", 0, params->batch, params->window, &warm, false);
    if (warm.error[0])
        bench_pass_fail (load, "warm-up: %s", warm.error);
    bench_pass_reset (&warm);
    if (!load->error[0])
        s_measure (run, "bench-load", 1, params->batch, params->window, load, true);
    if (!load->error[0] && params->light && light)
        s_measure (run, "bench-light", 2, 1, 1, light, false);
}

void
bench_drover (const bench_params_t *params, const drover_setup_t *setup,
              bench_pass_t *load, bench_pass_t *light)
{
    drover_run_t run = { .params = params, .meter = usage_meter_new () };
    char name[32], err[256] = "out of memory";
    snprintf (name, sizeof name, "drover-%s-%d%s", setup->secure? "default": "memory",
              setup->agents, setup->in_agent? "-p0": "");
    if (run.meter)
        run.deploy = deploy_new (params, setup, name, run.meter, err, sizeof err);
    //  The stamps after the daemons' forks: written before a fork, their
    //  pages would fault again (copy on write) during the pass.
    size_t counts[PASSES] = { params->warmup, params->tuples, params->light };
    size_t base = 0;
    bool ready = run.deploy != NULL;
    for (int i = 0; i < PASSES && ready; i++) {
        run.passes.bases[i] = base;
        run.passes.lats[i] = lat_new (counts[i]);
        ready = run.passes.lats[i] != NULL;
        base += counts[i];
    }
    follow_t *follow = NULL;
    if (ready)
        follow = follow_new (deploy_output (run.deploy), 0, s_on_line, s_on_read, &run.passes);
    if (!follow)
        bench_pass_fail (load, "%s", !run.deploy? err: ready? "cannot follow the sink's file"
                                                          : "out of memory");
    else
        s_passes (&run, load, light);
    follow_destroy (&follow);
    deploy_destroy (&run.deploy);
    usage_meter_destroy (&run.meter);
    for (int i = 0; i < PASSES; i++)
        lat_destroy (&run.passes.lats[i]);
}
