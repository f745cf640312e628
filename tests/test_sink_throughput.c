//  test_sink_throughput.c -- the same stream of result batches into a real
//  `drover sink` (tests/support_sink.h) with its dedupe index in memory, in
//  LMDB, and in LMDB with CURVE and sealed batches (version 1 records), and
//  sealed version 2 batches of 23 and of 1,024 records (what agents send);
//  the figures (results/s, and the sink's CPU microseconds per result from
//  /proc) go to stderr, and every result must land in the output.
#include "support.h"
#include "support_sink.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static rig_t *rig;
static void setup (void) { rig = rig_new (); }
static void teardown (void) { rig_destroy (&rig); }
TestSuite (sink_throughput, .init = setup, .fini = teardown, .timeout = 60);

enum { BATCHES = 600, PER = 256, WINDOW = 8 };

//  Sealed version 2 RESULTs of per records each, total records in all, as
//  an agent sends them; the sink's CPU microseconds per result.
static double
s_stream_v2 (zsock_t *sock, const char *job, keys_t *keys, seal_t *seal, size_t per,
             size_t total)
{
    size_t batches = total / per;
    zframe_t **frames = calloc (batches, sizeof *frames);
    cr_assert_not_null (frames);
    for (size_t b = 0; b < batches; b++) {
        msg_ref_t *refs = calloc (per, sizeof *refs);
        for (size_t i = 0; i < per; i++)
            refs[i] = (msg_ref_t) { b * per + i + 1, 1 };
        frames[b] = rig_sealed_batch (seal, keys, job, refs, per, 2);
        free (refs);
    }
    double cpu = rig_cpu_us (rig);
    size_t sent = 0, stored = 0;
    while (stored < batches) {
        while (sent < batches && sent - stored < WINDOW) {
            msg_t *msg = msg_new (MSG_RESULT);
            msg_set_version (msg, 2);
            msg_set_str (msg, MSG_F_JOB, job);
            msg_set_str (msg, MSG_F_AGENT, "test-agent");
            msg_set_str (msg, MSG_F_KEY, keys_public_txt (keys));
            msg_run_t run = { sent * per + 1, (uint32_t) per, 1 };
            msg_set_runs (msg, MSG_F_TUPLES, &run, 1);
            msg_payload_append (msg, &frames[sent]);
            cr_assert_eq (wire_send (&msg, sock, NULL), 0);
            sent++;
        }
        msg_t *reply = NULL;
        cr_assert_eq (wire_recv (sock, NULL, &reply), 0);
        cr_assert_eq (msg_command (reply), MSG_STORED);
        msg_destroy (&reply);
        stored++;
    }
    free (frames);
    return (rig_cpu_us (rig) - cpu) / (double) (batches * per);
}

static double
s_stream (zsock_t *sock, const char *job, keys_t *keys, seal_t *seal)
{
    //  Batches are made before the clock starts: only the sink is timed.
    zframe_t **frames = calloc (BATCHES, sizeof *frames);
    msg_ref_t (*refs)[PER] = calloc (BATCHES, sizeof *refs);
    for (size_t b = 0; b < BATCHES; b++) {
        for (size_t i = 0; i < PER; i++)
            refs[b][i] = (msg_ref_t) { b * PER + i + 1, 1 };
        if (seal)
            frames[b] = rig_sealed_batch (seal, keys, job, refs[b], PER, 1);
        else {
            rig_batch_t batch;
            rig_batch_begin (&batch, PER);
            for (size_t i = 0; i < PER; i++)
                rig_batch_record (&batch, refs[b][i].id, 1, true);
            frames[b] = zframe_new (batch.buffer.data, batch.buffer.size);
            msgpack_sbuffer_destroy (&batch.buffer);
        }
    }
    int64_t started = zclock_usecs ();
    size_t sent = 0, stored = 0;
    while (stored < BATCHES) {
        while (sent < BATCHES && sent - stored < WINDOW) {
            msg_t *msg = msg_new (MSG_RESULT);
            msg_set_version (msg, 1);     //  its records are maps
            msg_set_str (msg, MSG_F_JOB, job);
            msg_set_str (msg, MSG_F_AGENT, "test-agent");
            if (seal)
                msg_set_str (msg, MSG_F_KEY, keys_public_txt (keys));
            msg_set_refs (msg, MSG_F_TUPLES, refs[sent], PER);
            msg_payload_append (msg, &frames[sent]);
            cr_assert_eq (wire_send (&msg, sock, NULL), 0);
            sent++;
        }
        msg_t *reply = NULL;
        cr_assert_eq (wire_recv (sock, NULL, &reply), 0);
        cr_assert_eq (msg_command (reply), MSG_STORED);
        msg_destroy (&reply);
        stored++;
    }
    int64_t us = zclock_usecs () - started;
    free (frames);
    free (refs);
    return (double) BATCHES * PER * 1e6 / (double) (us? us: 1);
}

Test (sink_throughput, throughput_memory_lmdb_sealed, .timeout = 120)
{
    //  Memory index.
    rig_spawn (rig, "--output", rig->out_path, "--store", "memory", NULL);
    double memory = s_stream (rig->agent, "speed", NULL, NULL);
    cr_expect_eq (support_count_lines (rig->out_path), BATCHES * PER);

    //  LMDB index.
    rig_stop (rig, SIGTERM);
    unlink (rig->out_path);
    char data_dir[600];
    snprintf (data_dir, sizeof data_dir, "%s/speed-data", rig->dir);
    rig_spawn (rig, "--output", rig->out_path, "--data-dir", data_dir, NULL);
    double lmdb = s_stream (rig->agent, "speed", NULL, NULL);
    cr_expect_eq (support_count_lines (rig->out_path), BATCHES * PER);

    //  LMDB index, CURVE and sealed batches.
    rig_stop (rig, SIGTERM);
    unlink (rig->out_path);
    rig_start_keyed (rig, NULL, NULL);
    keys_t *agent_keys = keys_new ();
    zsock_t *sock = rig_curve_agent (rig, agent_keys, 10000);
    seal_t *seal = seal_new (keys_secret (agent_keys), keys_public (agent_keys),
                             keys_public (rig->keys), SEAL_CLIENT);
    double sealed = s_stream (sock, "speed", agent_keys, seal);
    cr_expect_eq (support_count_lines (rig->out_path), BATCHES * PER);
    fprintf (stderr, "sink: %d results in batches of %d, %d in flight: memory index "
             "%.0f results/s, lmdb %.0f results/s, lmdb + CURVE + sealed %.0f results/s\n",
             BATCHES * PER, PER, WINDOW, memory, lmdb, sealed);
    //  Version 2, sealed: CPU per result in small and in large batches.
    size_t lines = support_count_lines (rig->out_path);
    double small = s_stream_v2 (sock, "small", agent_keys, seal, 23, 23 * 4000);
    lines += 23 * 4000;
    cr_expect_eq (support_count_lines (rig->out_path), lines);
    rig_stop (rig, SIGTERM);
    unlink (rig->out_path);
    rig_start_keyed (rig, NULL, NULL);
    zsock_destroy (&sock);
    seal_destroy (&seal);
    sock = rig_curve_agent (rig, agent_keys, 10000);
    seal = seal_new (keys_secret (agent_keys), keys_public (agent_keys),
                     keys_public (rig->keys), SEAL_CLIENT);
    double large = s_stream_v2 (sock, "large", agent_keys, seal, 1024, 1024 * 400);
    cr_expect_eq (support_count_lines (rig->out_path), 1024 * 400);
    fprintf (stderr, "sink: lmdb + CURVE + sealed, version 2: %.2f us of CPU per result "
             "in batches of 23, %.2f in batches of 1024\n", small, large);
    seal_destroy (&seal);
    zsock_destroy (&sock);
    keys_destroy (&agent_keys);
}
