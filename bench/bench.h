//  bench.h -- what the benchmark's systems share: the workload (tuples of
//  BENCH_TUPLE_SIZE bytes, sent in batches with a bounded number in flight),
//  the outcome of one measured pass, and one entry point per system.  Each
//  system starts its own processes on free loopback ports, warms up, runs a
//  pass under load and a pass with one tuple in flight, and stops them.
#ifndef DROVER_BENCH_H
#define DROVER_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bench/lat.h"

//  A tuple is the msgpack array ["bench", seq, "xxx..."], 100 bytes in all:
//  fixarray(3), fixstr "bench", uint32 seq, str8 of 86 'x'.  Every system
//  carries exactly these bytes; seq lets the observer find the send time.
#define BENCH_TUPLE_SIZE  100
#define BENCH_TAG         "[\"bench\","     //  how the sink's JSON shows it

static inline void
bench_tuple_fill (uint8_t *buffer, uint32_t seq)
{
    static const uint8_t head[] = { 0x93, 0xa5, 'b', 'e', 'n', 'c', 'h', 0xce };
    memcpy (buffer, head, sizeof head);
    buffer[8] = (uint8_t) (seq >> 24);
    buffer[9] = (uint8_t) (seq >> 16);
    buffer[10] = (uint8_t) (seq >> 8);
    buffer[11] = (uint8_t) seq;
    buffer[12] = 0xd9;
    buffer[13] = BENCH_TUPLE_SIZE - 14;
    memset (buffer + 14, 'x', BENCH_TUPLE_SIZE - 14);
}

//  The seq of a tuple's bytes, or -1 if they are not a bench tuple.
static inline int64_t
bench_tuple_seq (const uint8_t *buffer, size_t size)
{
    if (size != BENCH_TUPLE_SIZE || buffer[0] != 0x93 || buffer[7] != 0xce)
        return -1;
    return (int64_t) ((uint32_t) buffer[8] << 24 | (uint32_t) buffer[9] << 16
                    | (uint32_t) buffer[10] << 8 | buffer[11]);
}

typedef struct {
    size_t tuples;              //  tuples in the pass under load
    size_t batch;               //  tuples per message / SUBMIT, where batched
    size_t window;              //  tuples sent but not yet seen, at most
    size_t light;               //  tuples in the one-in-flight pass; 0: none
    size_t warmup;              //  tuples run (and not measured) first
    int timeout_ms;             //  longest a pass may take
    const char *drover;         //  the drover binary
    const char *gearmand;       //  the gearmand binary
    const char *self;           //  this binary, for its worker roles
    const char *dir;            //  scratch directory for this run's logs
    const char *threads;        //  drover agent --threads, NULL: its default
} bench_params_t;

//  One measured pass: how many tuples came back, from the first send to the
//  last result seen, and each tuple's latency.  error is empty if it went
//  through.
typedef struct {
    size_t tuples;
    size_t done;
    uint64_t elapsed_us;
    uint64_t *latencies;        //  done values, us; owned
    char error[256];
} bench_pass_t;

//  Fill a pass from a tracker after the pass ended.  Returns 0 or -ENOMEM.
int  bench_pass_take (bench_pass_t *pass, const lat_t *lat);
void bench_pass_fail (bench_pass_t *pass, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));
void bench_pass_reset (bench_pass_t *pass);

//  One run of a system: a pass under load (tuples, batch, window) into
//  *load, then, if params->light, one with a single tuple in flight into
//  *light.  The run stops every process it started.  Errors land in the
//  passes' error fields.
//  Raw ZeroMQ: producer PUSH -> forwarder (PULL->PUSH) -> worker (PULL,
//  echo, PUSH) -> collector PULL; batch tuples per message, or 1.
void bench_zmq (const bench_params_t *params, size_t batch,
                bench_pass_t *load, bench_pass_t *light);
//  drover: broker --store memory, one agent (echo), one sink to a file.
//  in_agent: the agent runs its handler threads itself (--processes 0)
//  rather than in worker processes, to show what the processes cost.
void bench_drover (const bench_params_t *params, bool in_agent,
                   bench_pass_t *load, bench_pass_t *light);
//  gearmand (in-memory queue), one libgearman echo worker, a client.
void bench_gearman (const bench_params_t *params, bench_pass_t *load, bench_pass_t *light);

//  Worker roles, run as `drover-bench ROLE ARGS...` by the systems above.
int  bench_zmq_forwarder_main (int argc, char **argv);
int  bench_zmq_worker_main (int argc, char **argv);
int  bench_gearman_worker_main (int argc, char **argv);

#endif
