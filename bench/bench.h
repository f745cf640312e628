//  bench.h -- what the benchmark's systems share: the workload (tuples of
//  BENCH_TUPLE_SIZE bytes, sent in batches with a bounded number in flight),
//  the outcome of one measured pass, and one entry point per system.  Each
//  system starts its own processes on free loopback ports, warms up, runs a
//  pass under load (measuring its processes' CPU and memory) and a pass
//  with one tuple in flight, and stops them.
#ifndef DROVER_BENCH_H
#define DROVER_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bench/lat.h"
#include "bench/usage.h"

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
    size_t gearman_tuples;      //  the same for gearman (slower by 100x)
    size_t batch;               //  tuples per message / SUBMIT, where batched
    size_t window;              //  tuples sent but not yet seen, at most
    size_t light;               //  tuples in the one-in-flight pass; 0: none
    size_t warmup;              //  tuples run (and not measured) first
    int timeout_ms;             //  longest a pass may take
    int scan_first, scan_last;  //  ports of 127.0.0.1 the scan row probes
    const char *drover;         //  the drover binary
    const char *gearmand;       //  the gearmand binary
    const char *nmap;           //  the nmap binary
    const char *self;           //  this binary, for its worker roles
    const char *dir;            //  scratch directory for this run's logs
    const char *threads;        //  drover agent --threads, NULL: its default
    const char *scheduling;     //  every process the bench starts runs under it
} bench_params_t;

//  One measured pass: how many tuples came back, from the first send to the
//  last result seen, each tuple's latency, and what the processes cost
//  meanwhile.  error is empty if it went through; skipped says the system
//  is not installed here (error says what is missing), which is no failure.
typedef struct {
    size_t tuples;
    size_t done;
    size_t duplicates;          //  results seen more than once
    uint64_t elapsed_us;
    uint64_t *latencies;        //  done values, us; owned
    usage_t usage;              //  under load only
    bool skipped;
    char error[256];
} bench_pass_t;

//  Fill a pass from a tracker after the pass ended.  Returns 0 or -ENOMEM.
int  bench_pass_take (bench_pass_t *pass, const lat_t *lat);
void bench_pass_fail (bench_pass_t *pass, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));
void bench_pass_reset (bench_pass_t *pass);

//  One pass: fn sends tuples (0 .. tuples-1, batch per message, at most
//  window unseen) and returns 0 once all were seen, or fails the pass.  A
//  meter (or NULL) measures the processes' cost meanwhile into pass->usage.
typedef int (bench_send_fn) (void *state, lat_t *lat, size_t batch, size_t window,
                             bench_pass_t *pass);
void bench_pass_run (bench_pass_t *pass, size_t tuples, size_t batch, size_t window,
                     usage_meter_t *meter, bench_send_fn *fn, void *state);
//  A system's passes with fn: the warm-up (params->warmup tuples, not
//  kept), the pass under load (tuples, batch, params->window; metered) into
//  *load, then, if params->light and light, one tuple at a time into *light.
void bench_passes_run (const bench_params_t *params, size_t tuples, size_t batch,
                       usage_meter_t *meter, bench_send_fn *fn, void *state,
                       bench_pass_t *load, bench_pass_t *light);

//  One run of a system: a pass under load (tuples, batch, window) into
//  *load, then, if params->light, one with a single tuple in flight into
//  *light.  The run stops every process it started.  Errors land in the
//  passes' error fields.
//  Raw ZeroMQ: producer PUSH -> forwarder (PULL->PUSH) -> worker (PULL,
//  echo, PUSH) -> collector PULL; batch tuples per message, or 1.
void bench_zmq (const bench_params_t *params, size_t batch,
                bench_pass_t *load, bench_pass_t *light);
//  The ceiling (ceiling.h): secure, CURVE on every hop, sealed results and
//  LMDB commits; else plain, none of them.
void bench_ceiling (const bench_params_t *params, bool secure,
                    bench_pass_t *load, bench_pass_t *light);

//  How drover is deployed for a row.
typedef struct {
    bool secure;                //  as users run it: LMDB stores, CURVE with
                                //  allow-lists, results sealed for the sink;
                                //  else memory stores, --insecure
    int agents;                 //  agent processes, with their defaults
    bool in_agent;              //  agents with --processes 0
} drover_setup_t;

//  drover: broker, agents (echo), a sink to a file, as setup says.
void bench_drover (const bench_params_t *params, const drover_setup_t *setup,
                   bench_pass_t *load, bench_pass_t *light);
//  gearmand (in-memory queue), one libgearman echo worker, a client.
void bench_gearman (const bench_params_t *params, bench_pass_t *load, bench_pass_t *light);

//  The scan row: the same ports of 127.0.0.1 probed by drover (as users run
//  it, two agents, `drover submit --wait` with the tcp-probe handler) and
//  by nmap -sT.  Times are wall clock, CPU the processes' user + system.
typedef struct {
    double drover_s;            //  drover submit --wait, start to exit
    double stored_s;            //  start to the last result in the sink's file
    double drover_cpu_s;        //  broker, agents, workers, sink and submit
    double observer_cpu_s;      //  the bench following the sink's file
    size_t drover_open;         //  open ports but its own broker's and sink's
    size_t drover_results, duplicates;
    double nmap_s, nmap_cpu_s;
    size_t nmap_open;
    bool nmap_skipped;          //  no nmap here: nmap_error says so
    char error[256];            //  drover's side failed
    char nmap_error[256];
} bench_scan_t;

//  nmap_first: nmap runs before drover (rounds alternate, so neither always
//  finds the machine warmer).
void bench_scan (const bench_params_t *params, bool nmap_first, bench_scan_t *scan);

//  Worker roles, run as `drover-bench ROLE ARGS...` by the systems above.
int  bench_zmq_forwarder_main (int argc, char **argv);
int  bench_zmq_worker_main (int argc, char **argv);
int  bench_gearman_worker_main (int argc, char **argv);
int  bench_ceiling_broker_main (int argc, char **argv);
int  bench_ceiling_agent_main (int argc, char **argv);
int  bench_ceiling_sink_main (int argc, char **argv);

#endif
