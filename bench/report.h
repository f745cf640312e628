//  report.h -- what one benchmark run gathered, round by round and system
//  by system, and the tables printed from it (main.c runs, report.c
//  prints).  Every ratio is taken within a round, then the median over the
//  rounds is reported: bare numbers from a shared machine drift.
#ifndef DROVER_BENCH_REPORT_H
#define DROVER_BENCH_REPORT_H

#include "bench/conntrack.h"
#include <limits.h>

#include "bench/bench.h"
#include "bench/samples.h"

#define ROUNDS_MAX 20

typedef enum {
    SYS_ZMQ, SYS_ZMQ_BATCH, SYS_CEILING, SYS_CEILING_PLAIN, SYS_DEFAULT_1, SYS_DEFAULT_2,
    SYS_DEFAULT_P0, SYS_MEMORY, SYS_MEMORY_P0, SYS_GEARMAN, SYS_SCAN, SYS_COUNT
} system_id_t;

//  One system in one round; tps 0: the pass failed or did not run.
typedef struct {
    double tps;
    double light_tps;
    uint64_t light_p50_us;
    usage_t usage;
    size_t duplicates;
} round_t;

typedef struct {
    const char *name;               //  as --systems names it
    char label[48];                 //  as the tables show it
    const char *light_label;        //  as the one-in-flight table shows it
    bool light;                     //  has a one-in-flight pass
    bool selected;
    bool skipped;                   //  not installed here (error says what)
    size_t tuples;                  //  under load
    samples_t *load, *light_samples;
    round_t rounds[ROUNDS_MAX];
    char error[300];                //  first failure
} system_t;

//  All CPUs' time, and the part a hypervisor gave to other guests
//  (steal): on a shared VM, what makes one run's figures noisier than
//  another's.
typedef struct {
    unsigned long long total, steal;    //  clock ticks
} report_cpu_t;

typedef struct {
    bench_params_t params;
    int rounds;
    bool keep;
    char dir[64];
    char self[PATH_MAX];
    double load_start;              //  load average when the run started
    report_cpu_t cpu_start;         //  the machine's CPU time when it started
    conntrack_t conntrack_start;    //  loopback's connections tracked then
    system_t systems[SYS_COUNT];
    bench_scan_t scans[ROUNDS_MAX];
} bench_t;

//  Print every table and the ratios against issue 9's targets.
void report_print (bench_t *self);
//  The machine's CPU time so far (/proc/stat; zero if unreadable).
report_cpu_t report_cpu_now (void);

#endif
