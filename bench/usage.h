//  usage.h -- what the processes of one benchmark run cost over a measured
//  pass, by role: CPU time (each process's CPU clock, all threads, in ns)
//  and peak RSS (VmHWM from /proc/PID/status, reset at the start of the
//  pass where the kernel lets us).  An agent's worker processes are found
//  as its children, when the pass starts and again when it ends.
#ifndef DROVER_BENCH_USAGE_H
#define DROVER_BENCH_USAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

//  The columns of the CPU table.  Other systems map their processes on
//  them (raw ZeroMQ's forwarder is its "broker", its worker its "agent").
typedef enum {
    ROLE_BROKER, ROLE_AGENT, ROLE_WORKERS, ROLE_SINK, ROLE_BENCH, ROLE_COUNT
} role_t;

//  One pass's cost, each role summed over its processes.
typedef struct {
    bool measured;
    double cpu_s[ROLE_COUNT];
    double rss_mib[ROLE_COUNT];
    int processes[ROLE_COUNT];
    int lost;                       //  processes that exited during the pass
} usage_t;

typedef struct usage_meter usage_meter_t;

usage_meter_t *usage_meter_new (void);
void           usage_meter_destroy (usage_meter_t **self_p);
//  Watch pid as role.  The children of a ROLE_AGENT pid count as
//  ROLE_WORKERS.  The bench itself is watched as ROLE_BENCH from the start.
void           usage_meter_add (usage_meter_t *self, role_t role, pid_t pid);
//  The pass starts: read every process's CPU time, reset peak RSS.
void           usage_meter_start (usage_meter_t *self);
//  The pass ended: CPU time since start, peak RSS now, into *usage.
void           usage_meter_stop (usage_meter_t *self, usage_t *usage);

//  CPU seconds of all the roles but the bench: the system under test.
double         usage_system_cpu (const usage_t *usage);

#endif
