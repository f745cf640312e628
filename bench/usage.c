//  usage.c -- see usage.h.  Reads each process's CPU clock and /proc only
//  at the start and the end of a pass, so measuring costs nothing while the
//  pass runs.
#include "bench/usage.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WATCHED_MAX 64

typedef struct {
    pid_t pid;
    role_t role;
    long long start_ns;             //  -1: not running when the pass started
} watched_t;

struct usage_meter {
    watched_t watched[WATCHED_MAX];
    int count;
};

usage_meter_t *
usage_meter_new (void)
{
    usage_meter_t *self = calloc (1, sizeof *self);
    if (self)
        usage_meter_add (self, ROLE_BENCH, getpid ());
    return self;
}

void
usage_meter_destroy (usage_meter_t **self_p)
{
    free (*self_p);
    *self_p = NULL;
}

static watched_t *
s_find (usage_meter_t *self, pid_t pid)
{
    for (int i = 0; i < self->count; i++)
        if (self->watched[i].pid == pid)
            return &self->watched[i];
    return NULL;
}

void
usage_meter_add (usage_meter_t *self, role_t role, pid_t pid)
{
    if (pid <= 0 || self->count == WATCHED_MAX || s_find (self, pid))
        return;
    self->watched[self->count++] = (watched_t) { .pid = pid, .role = role, .start_ns = -1 };
}

//  The parent of pid, or -1 if it is gone.
static pid_t
s_parent (pid_t pid)
{
    char path[64], line[1024];
    snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return -1;
    char *got = fgets (line, sizeof line, file);
    fclose (file);
    //  The command name may hold spaces and parentheses: fields count from
    //  the last ')'.  Then: state ppid.
    char *end = got? strrchr (line, ')'): NULL;
    int parent;
    if (!end || sscanf (end + 1, " %*c %d", &parent) != 1)
        return -1;
    return parent;
}

//  CPU time of pid in ns, all its threads, the ended ones too; -1 if it
//  is gone.  /proc/PID/stat counts in 10 ms ticks, too coarse for a small
//  pass: a process that works 8 ms reads 0 there.
static long long
s_cpu_ns (pid_t pid)
{
    clockid_t clock;
    struct timespec spent;
    if (clock_getcpuclockid (pid, &clock) || clock_gettime (clock, &spent))
        return -1;
    return (long long) spent.tv_sec * 1000000000LL + spent.tv_nsec;
}

//  Watch every child of the agents as a worker process.
static void
s_find_workers (usage_meter_t *self)
{
    DIR *dir = opendir ("/proc");
    struct dirent *entry;
    while (dir && (entry = readdir (dir))) {
        char *end;
        long pid = strtol (entry->d_name, &end, 10);
        if (*end || pid <= 0 || s_find (self, (pid_t) pid))
            continue;
        watched_t *agent = s_find (self, s_parent ((pid_t) pid));
        if (agent && agent->role == ROLE_AGENT)
            usage_meter_add (self, ROLE_WORKERS, (pid_t) pid);
    }
    if (dir)
        closedir (dir);
}

//  VmHWM in MiB, 0 if unknown.
static double
s_peak_rss (pid_t pid)
{
    char path[64], line[256];
    snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
    FILE *file = fopen (path, "r");
    double mib = 0;
    unsigned long kib;
    while (file && fgets (line, sizeof line, file))
        if (sscanf (line, "VmHWM: %lu kB", &kib) == 1) {
            mib = kib / 1024.0;
            break;
        }
    if (file)
        fclose (file);
    return mib;
}

//  "5" resets the peak RSS to the current RSS (Linux 4.0+; needs the
//  right to write the file, which we have for our own children).
static void
s_reset_peak_rss (pid_t pid)
{
    char path[64];
    snprintf (path, sizeof path, "/proc/%d/clear_refs", (int) pid);
    FILE *file = fopen (path, "w");
    if (file) {
        fputs ("5", file);
        fclose (file);
    }
}

void
usage_meter_start (usage_meter_t *self)
{
    s_find_workers (self);
    for (int i = 0; i < self->count; i++) {
        s_reset_peak_rss (self->watched[i].pid);
        self->watched[i].start_ns = s_cpu_ns (self->watched[i].pid);
    }
}

void
usage_meter_stop (usage_meter_t *self, usage_t *usage)
{
    //  Workers started during the pass (a restart) count from zero.
    int known = self->count;
    s_find_workers (self);
    for (int i = known; i < self->count; i++)
        self->watched[i].start_ns = 0;
    memset (usage, 0, sizeof *usage);
    for (int i = 0; i < self->count; i++) {
        watched_t *watched = &self->watched[i];
        long long ns = s_cpu_ns (watched->pid);
        if (ns < 0 || watched->start_ns < 0) {
            usage->lost += ns < 0;
            continue;
        }
        usage->cpu_s[watched->role] += (double) (ns - watched->start_ns) / 1e9;
        usage->rss_mib[watched->role] += s_peak_rss (watched->pid);
        usage->processes[watched->role]++;
    }
    usage->measured = true;
}

double
usage_system_cpu (const usage_t *usage)
{
    double sum = 0;
    for (int role = 0; role < ROLE_COUNT; role++)
        if (role != ROLE_BENCH)
            sum += usage->cpu_s[role];
    return sum;
}
