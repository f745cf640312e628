//  run_scan.c -- the scan row: a TCP connect scan of 127.0.0.1 (and only
//  127.0.0.1) by drover as users run it -- broker, two agents and a sink,
//  CURVE, LMDB, sealed results, `drover submit --wait` of one tuple
//  ["127.0.0.1", PORT] per port to the tcp-probe handler -- and by
//  `nmap -sT -n -Pn -T5`, one after the other.  Each is timed from its
//  start to its exit; CPU is nmap's from wait4, drover's from all its
//  processes (the daemons' CPU clocks over the scan, submit's from wait4).
//  The daemons are up and connected first (a warm-up job), as they are for
//  a user who scans: nmap has nothing to start.
#include "bench/bench.h"
#include "bench/deploy.h"
#include "bench/follow.h"
#include "bench/procs.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SCAN_HOST "127.0.0.1"
#define WARM_UP   1000              //  echo tuples before the scan

enum { PORT_SEEN = 1, PORT_OPEN = 2 };

//  What the follower saw of the scan's results.
typedef struct {
    int first, last;
    uint8_t *seen;                  //  per port: 0, PORT_SEEN or PORT_OPEN
    size_t results, duplicates;
    uint64_t last_us;               //  when the last new result was read
} scan_seen_t;

static void
s_on_line (void *arg, const char *line, size_t len, uint64_t now)
{
    scan_seen_t *self = arg;
    static const char input[] = "\"input\":[\"" SCAN_HOST "\",";
    const char *at = memmem (line, len, input, strlen (input));
    if (!at)
        return;                     //  the warm-up's
    long port = strtol (at + strlen (input), NULL, 10);
    if (port < self->first || port > self->last)
        return;
    uint8_t *seen = &self->seen[port - self->first];
    if (*seen) {
        __atomic_add_fetch (&self->duplicates, 1, __ATOMIC_RELAXED);
        return;
    }
    *seen = memmem (line, len, "\"state\":\"open\"", 14)? PORT_OPEN: PORT_SEEN;
    __atomic_store_n (&self->last_us, now, __ATOMIC_RELAXED);
    __atomic_add_fetch (&self->results, 1, __ATOMIC_RELEASE);
}

static int
s_write_lines (const char *path, const bench_params_t *params, bool scan)
{
    FILE *file = fopen (path, "w");
    if (!file)
        return -1;
    if (scan)
        for (int port = params->scan_first; port <= params->scan_last; port++)
            fprintf (file, "[\"" SCAN_HOST "\", %d]\n", port);
    else
        for (int i = 0; i < WARM_UP; i++)
            fprintf (file, "[\"warm-up\", %d]\n", i);
    return fclose (file);
}

//  `drover submit --wait` of a file of tuples: 0 once it exited 0.
static int
s_submit (deploy_t *deploy, const bench_params_t *params, const char *job, bool scan,
          uint64_t *elapsed_us, struct rusage *usage)
{
    char input[PATH_MAX + 32], *argv[32];
    snprintf (input, sizeof input, "%s/tuples.jsonl", deploy_dir (deploy));
    if (s_write_lines (input, params, scan))
        return -1;
    deploy_submit_argv (deploy, job, scan? "tcp-probe": "echo",
                        scan? "{\"connect_timeout_ms\": 500}": NULL, input, argv);
    return procs_run (deploy_dir (deploy), job, argv, params->timeout_ms, elapsed_us, usage);
}

static double
s_cpu (const struct rusage *usage)
{
    return (double) (usage->ru_utime.tv_sec + usage->ru_stime.tv_sec)
         + (double) (usage->ru_utime.tv_usec + usage->ru_stime.tv_usec) / 1e6;
}

//  Warm up, then the scan, metered, until every result is in the file.
static void
s_drover_scan (const bench_params_t *params, deploy_t *deploy, usage_meter_t *meter,
               scan_seen_t *seen, bench_scan_t *scan)
{
    struct rusage usage;
    uint64_t elapsed_us;
    if (s_submit (deploy, params, "scan-warm-up", false, NULL, &usage)) {
        snprintf (scan->error, sizeof scan->error, "the warm-up job failed; logs in %s",
                  deploy_dir (deploy));
        return;
    }
    usage_meter_start (meter);
    uint64_t start = lat_now_us ();
    int rc = s_submit (deploy, params, "scan", true, &elapsed_us, &usage);
    size_t ports = (size_t) (params->scan_last - params->scan_first + 1);
    uint64_t deadline = lat_now_us () + 10 * 1000000;
    while (rc == 0 && __atomic_load_n (&seen->results, __ATOMIC_ACQUIRE) < ports
    &&     lat_now_us () < deadline && deploy_alive (deploy))
        usleep (1000);
    usage_t daemons;
    usage_meter_stop (meter, &daemons);
    scan->drover_results = __atomic_load_n (&seen->results, __ATOMIC_ACQUIRE);
    if (rc || scan->drover_results < ports) {
        snprintf (scan->error, sizeof scan->error, "drover submit %s; %zu of %zu results "
                  "stored; logs in %s", rc? "failed": "exited 0", scan->drover_results, ports,
                  deploy_dir (deploy));
        return;
    }
    scan->drover_s = elapsed_us / 1e6;
    scan->stored_s = (__atomic_load_n (&seen->last_us, __ATOMIC_ACQUIRE) - start) / 1e6;
    scan->drover_cpu_s = usage_system_cpu (&daemons) + s_cpu (&usage);
    scan->observer_cpu_s = daemons.cpu_s[ROLE_BENCH];
    //  Its own broker and sink listen while it scans, and not while nmap
    //  does: they are not counted.
    for (int port = seen->first; port <= seen->last; port++)
        scan->drover_open += seen->seen[port - seen->first] == PORT_OPEN
                          && !deploy_owns_port (deploy, port);
    scan->duplicates = __atomic_load_n (&seen->duplicates, __ATOMIC_RELAXED);
}

static void
s_drover (const bench_params_t *params, bench_scan_t *scan)
{
    drover_setup_t setup = { .secure = true, .agents = 2 };
    scan_seen_t seen = { .first = params->scan_first, .last = params->scan_last,
                         .seen = calloc ((size_t) (params->scan_last - params->scan_first + 1),
                                         1) };
    usage_meter_t *meter = usage_meter_new ();
    deploy_t *deploy = NULL;
    follow_t *follow = NULL;
    if (seen.seen && meter)
        deploy = deploy_new (params, &setup, "scan", meter, scan->error, sizeof scan->error);
    else
        snprintf (scan->error, sizeof scan->error, "out of memory");
    if (deploy && !(follow = follow_new (deploy_output (deploy), 0, s_on_line, NULL, &seen)))
        snprintf (scan->error, sizeof scan->error, "cannot follow the sink's file");
    if (follow)
        s_drover_scan (params, deploy, meter, &seen, scan);
    follow_destroy (&follow);
    deploy_destroy (&deploy);
    usage_meter_destroy (&meter);
    free (seen.seen);
}

//  Open ports in nmap's grepable output: "Ports: 22/open/tcp//ssh///, ...".
static size_t
s_nmap_open (const char *path)
{
    FILE *file = fopen (path, "r");
    char *line = NULL;
    size_t size = 0, open = 0;
    while (file && getline (&line, &size, file) > 0)
        for (char *at = strstr (line, "Ports: "); at && (at = strstr (at, "/open/")); at++)
            open++;
    free (line);
    if (file)
        fclose (file);
    return open;
}

static void
s_nmap (const bench_params_t *params, bench_scan_t *scan)
{
    if (access (params->nmap, X_OK)) {
        snprintf (scan->nmap_error, sizeof scan->nmap_error,
                  "skipped: no nmap at %s (apt-get install nmap)", params->nmap);
        scan->nmap_skipped = true;
        return;
    }
    char ports[32], output[PATH_MAX];
    snprintf (ports, sizeof ports, "%d-%d", params->scan_first, params->scan_last);
    snprintf (output, sizeof output, "%s/nmap.gnmap", params->dir);
    char *argv[] = { (char *) params->nmap, "-sT", "-n", "-Pn", "-T5", "-p", ports,
                     "-oG", output, SCAN_HOST, NULL };
    struct rusage usage;
    uint64_t elapsed_us;
    if (procs_run (params->dir, "nmap", argv, params->timeout_ms, &elapsed_us, &usage)) {
        snprintf (scan->nmap_error, sizeof scan->nmap_error, "nmap failed; see %s/nmap.log",
                  params->dir);
        return;
    }
    scan->nmap_s = elapsed_us / 1e6;
    scan->nmap_cpu_s = s_cpu (&usage);
    scan->nmap_open = s_nmap_open (output);
    unlink (output);
}

void
bench_scan (const bench_params_t *params, bool nmap_first, bench_scan_t *scan)
{
    if (nmap_first)
        s_nmap (params, scan);
    s_drover (params, scan);
    if (!nmap_first)
        s_nmap (params, scan);
}
