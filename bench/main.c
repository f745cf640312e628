//  main.c -- `drover-bench`: drover as users run it, drover with memory
//  stores and no security, the ceiling (the same four hops with nothing but
//  their security and durability costs), raw ZeroMQ, gearmand and an nmap
//  scan, all on this machine in one run, rounds interleaved so that noise
//  hits every system alike; report.c prints the tables.  Also the entry
//  point of the worker roles the systems start.
#include "bench/report.h"
#include "bench/procs.h"
#include "common/sched_policy.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: drover-bench [OPTIONS]\n\n"
        "Run the same workload (tuples of %d bytes, echoed) through drover as users\n"
        "run it (1 and 2 agents), drover with memory stores and no security, the\n"
        "ceiling (drover's four hops with its security and durability costs and\n"
        "nothing else), raw ZeroMQ and gearmand, and a scan of 127.0.0.1 by drover\n"
        "and by nmap, in interleaved rounds; print tuples/s, latency, CPU per tuple\n"
        "and peak memory of every process, and the ratios.  Every process runs on\n"
        "127.0.0.1 and is stopped at the end.\n\n"
        "options:\n"
        "  -n, --tuples N     tuples in the pass under load (default 1000000)\n"
        "      --gearman-tuples N  the same for gearman (default 100000, at most -n)\n"
        "  -b, --batch N      tuples per message / SUBMIT, where batched (default 1024)\n"
        "  -w, --window N     tuples sent but not yet seen, at most (default 8192)\n"
        "  -l, --light N      tuples in the one-in-flight pass, 0: skip (default 1000)\n"
        "      --warmup N     tuples run first, not measured (default 10000)\n"
        "  -r, --rounds N     rounds; medians are reported (default 3, at most %d)\n"
        "  -s, --systems LIST comma-separated (default all): zmq, zmq-batch, ceiling,\n"
        "                     ceiling-plain, drover-default, drover-default-2,\n"
        "                     drover-default-p0, drover-memory, drover-memory-p0,\n"
        "                     gearman, scan\n"
        "  -t, --threads N    drover agents' handler threads (default: the agent's)\n"
        "      --scheduling POLICY  batch or normal (default batch, drover's default):\n"
        "                     every process the bench starts (drover's, the ceiling's,\n"
        "                     raw zmq's, gearmand, nmap) runs under it; drover's daemons\n"
        "                     get it as DROVER_SCHEDULING\n"
        "      --scan-ports FIRST-LAST  ports of 127.0.0.1 to scan (default 1-65535)\n"
        "      --timeout S    longest one pass may take, seconds (default 300)\n"
        "      --drover PATH  drover binary (default %s)\n"
        "      --gearmand PATH  gearmand binary (default /usr/sbin/gearmand)\n"
        "      --nmap PATH    nmap binary (default /usr/bin/nmap)\n"
        "  -k, --keep         keep the scratch directory with every process's log\n"
        "  -h, --help         this help\n",
        BENCH_TUPLE_SIZE, ROUNDS_MAX, DROVER_BIN);
}

static int
s_size (const char *arg, const char *flag, size_t min, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long value = strtoull (arg, &end, 10);
    if (errno || *end || arg[0] == '-' || value < min || value > UINT32_MAX / 2) {
        fprintf (stderr, "drover-bench: %s wants a number from %zu; try --help\n", flag, min);
        return -1;
    }
    *out = (size_t) value;
    return 0;
}

static int
s_select (bench_t *self, const char *list)
{
    for (int i = 0; i < SYS_COUNT; i++)
        self->systems[i].selected = false;
    char *copy = strdup (list), *save = NULL;
    int rc = 0;
    for (char *name = strtok_r (copy, ",", &save); name; name = strtok_r (NULL, ",", &save)) {
        int i = 0;
        while (i < SYS_COUNT && strcmp (name, self->systems[i].name))
            i++;
        if (i == SYS_COUNT) {
            fprintf (stderr, "drover-bench: no system '%s'; try --help\n", name);
            rc = -1;
            break;
        }
        self->systems[i].selected = true;
    }
    free (copy);
    return rc;
}

static int
s_ports (bench_params_t *params, const char *arg)
{
    char end;
    if (sscanf (arg, "%d-%d%c", &params->scan_first, &params->scan_last, &end) != 2
    ||  params->scan_first < 1 || params->scan_last > 65535
    ||  params->scan_first > params->scan_last) {
        fprintf (stderr, "drover-bench: --scan-ports wants FIRST-LAST within 1-65535\n");
        return -1;
    }
    return 0;
}

//  One option; 0, or -1 after a usage error (said).
static int
s_option (bench_t *self, int opt, const char *arg)
{
    bench_params_t *params = &self->params;
    size_t value;
    int rc = 0;
    switch (opt) {
        case 'n': return s_size (arg, "--tuples", 1, &params->tuples);
        case 'g': return s_size (arg, "--gearman-tuples", 1, &params->gearman_tuples);
        case 'b': return s_size (arg, "--batch", 1, &params->batch);
        case 'w': return s_size (arg, "--window", 1, &params->window);
        case 'l': return s_size (arg, "--light", 0, &params->light);
        case 'W': return s_size (arg, "--warmup", 1, &params->warmup);
        case 's': return s_select (self, arg);
        case 'P': return s_ports (params, arg);
        case 'D': params->drover = arg; return 0;
        case 'G': params->gearmand = arg; return 0;
        case 'N': params->nmap = arg; return 0;
        case 'k': self->keep = true; return 0;
        case 'S':
            for (int i = 0; sched_policy_names[i]; i++)
                if (!strcmp (arg, sched_policy_names[i])) {
                    params->scheduling = sched_policy_names[i];
                    return 0;
                }
            fprintf (stderr, "drover-bench: --scheduling is batch or normal, not '%s'\n", arg);
            return -1;
        case 't':
            params->threads = arg;
            return s_size (arg, "--threads", 1, &value);
        case 'r':
            rc = s_size (arg, "--rounds", 1, &value);
            if (rc == 0 && value > ROUNDS_MAX) {
                fprintf (stderr, "drover-bench: --rounds is at most %d\n", ROUNDS_MAX);
                rc = -1;
            }
            self->rounds = (int) value;
            return rc;
        case 'T':
            rc = s_size (arg, "--timeout", 1, &value);
            params->timeout_ms = (int) (value > 3600? 3600: value) * 1000;
            return rc;
        default:
            fprintf (stderr, "try 'drover-bench --help'\n");
            return -1;
    }
}

//  Returns -1 to go on, else the exit code.
static int
s_parse (bench_t *self, int argc, char **argv)
{
    static struct option options[] = {
        { "tuples", required_argument, NULL, 'n' },
        { "gearman-tuples", required_argument, NULL, 'g' },
        { "batch", required_argument, NULL, 'b' },
        { "window", required_argument, NULL, 'w' },
        { "light", required_argument, NULL, 'l' },
        { "warmup", required_argument, NULL, 'W' },
        { "rounds", required_argument, NULL, 'r' },
        { "systems", required_argument, NULL, 's' },
        { "threads", required_argument, NULL, 't' },
        { "scheduling", required_argument, NULL, 'S' },
        { "scan-ports", required_argument, NULL, 'P' },
        { "timeout", required_argument, NULL, 'T' },
        { "drover", required_argument, NULL, 'D' },
        { "gearmand", required_argument, NULL, 'G' },
        { "nmap", required_argument, NULL, 'N' },
        { "keep", no_argument, NULL, 'k' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    int opt;
    while ((opt = getopt_long (argc, argv, "n:b:w:l:r:s:t:kh", options, NULL)) != -1) {
        if (opt == 'h') {
            s_usage (stdout);
            return 0;
        }
        if (s_option (self, opt, optarg))
            return 2;
    }
    if (optind < argc) {
        fprintf (stderr, "drover-bench: unexpected argument '%s'; try --help\n", argv[optind]);
        return 2;
    }
    bench_params_t *params = &self->params;
    if (params->window < params->batch) {
        fprintf (stderr, "drover-bench: --window (%zu) must hold a --batch (%zu)\n",
                 params->window, params->batch);
        return 2;
    }
    if (params->batch > 65536) {
        fprintf (stderr, "drover-bench: --batch is at most 65536\n");
        return 2;
    }
    return -1;
}

//  Keep a pass's numbers; false if it failed.  A result seen twice fails
//  it: every system here promises each result once.
static bool
s_record (system_t *system, bench_pass_t *pass, double *tps, int round, const char *what,
          samples_t *samples)
{
    if (!pass->error[0] && pass->duplicates)
        bench_pass_fail (pass, "%zu results seen twice", pass->duplicates);
    if (pass->error[0] || pass->done < pass->tuples || pass->elapsed_us == 0) {
        if (!system->error[0] && pass->skipped)
            snprintf (system->error, sizeof system->error, "%s", pass->error);
        else
        if (!system->error[0])
            snprintf (system->error, sizeof system->error, "failed: round %d, %s: %s",
                      round + 1, what, pass->error[0]? pass->error: "incomplete");
        system->skipped = pass->skipped;
        return false;
    }
    *tps = (double) pass->done * 1e6 / (double) pass->elapsed_us;
    samples_add (samples, pass->latencies, pass->done);
    return true;
}

static void
s_run_system (bench_t *self, system_id_t id, int round, bench_pass_t *load, bench_pass_t *light)
{
    const bench_params_t *params = &self->params;
    drover_setup_t setups[] = {
        [SYS_DEFAULT_1] = { .secure = true, .agents = 1 },
        [SYS_DEFAULT_2] = { .secure = true, .agents = 2 },
        [SYS_DEFAULT_P0] = { .secure = true, .agents = 1, .in_agent = true },
        [SYS_MEMORY] = { .agents = 1 },
        [SYS_MEMORY_P0] = { .agents = 1, .in_agent = true },
    };
    if (id == SYS_ZMQ || id == SYS_ZMQ_BATCH)
        bench_zmq (params, id == SYS_ZMQ? 1: params->batch, load, light);
    else
    if (id == SYS_CEILING || id == SYS_CEILING_PLAIN)
        bench_ceiling (params, id == SYS_CEILING, load, light);
    else
    if (id == SYS_GEARMAN)
        bench_gearman (params, load, light);
    else
    if (id == SYS_SCAN)
        bench_scan (params, round % 2, &self->scans[round]);
    else
        bench_drover (params, &setups[id], load, light);
}

static void
s_run_scan_round (bench_t *self, system_t *system, int round)
{
    bench_scan_t *scan = &self->scans[round];
    s_run_system (self, SYS_SCAN, round, NULL, NULL);
    if (scan->error[0] && !system->error[0])
        snprintf (system->error, sizeof system->error, "failed: round %d: %s", round + 1,
                  scan->error);
    if (!scan->error[0])
        fprintf (stderr, " drover %.2f s", scan->drover_s);
    if (!scan->nmap_error[0])
        fprintf (stderr, ", nmap %.2f s", scan->nmap_s);
    fprintf (stderr, "%s%s\n", scan->error[0]? " drover failed: ": "", scan->error);
}

static void
s_run_round (bench_t *self, int round)
{
    for (int k = 0; k < SYS_COUNT && !zsys_interrupted; k++) {
        //  Each round starts with another system, so drift in the
        //  machine's load does not always favour the same one.
        system_id_t id = (system_id_t) ((k + round) % SYS_COUNT);
        system_t *system = &self->systems[id];
        if (!system->selected || system->skipped)
            continue;
        fprintf (stderr, "round %d: %s ...", round + 1, system->label);
        if (id == SYS_SCAN) {
            s_run_scan_round (self, system, round);
            continue;
        }
        bench_pass_t load = { 0 }, light = { 0 };
        round_t *numbers = &system->rounds[round];
        s_run_system (self, id, round, &load, system->light? &light: NULL);
        if (s_record (system, &load, &numbers->tps, round, "under load", system->load)) {
            numbers->usage = load.usage;
            fprintf (stderr, " %.0f tuples/s", numbers->tps);
        }
        else
            fprintf (stderr, " %s", load.error[0]? load.error: "incomplete");
        if (system->light && self->params.light && numbers->tps > 0
        &&  s_record (system, &light, &numbers->light_tps, round, "one in flight",
                      system->light_samples)) {
            samples_t *one = samples_new ();
            if (one && samples_add (one, light.latencies, light.done) == 0)
                numbers->light_p50_us = samples_quantile (one, 0.5);
            samples_destroy (&one);
        }
        fprintf (stderr, "\n");
        bench_pass_reset (&load);
        bench_pass_reset (&light);
    }
}

static int
s_remove_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st, (void) flag, (void) ftw;
    remove (path);
    return 0;
}

static int
s_run (bench_t *self)
{
    snprintf (self->dir, sizeof self->dir, "/tmp/drover-bench-XXXXXX");
    if (!mkdtemp (self->dir)) {
        fprintf (stderr, "drover-bench: cannot make a scratch directory: %s\n", strerror (errno));
        return 1;
    }
    self->params.dir = self->dir;
    getloadavg (&self->load_start, 1);
    self->cpu_start = report_cpu_now ();
    self->conntrack_start = conntrack_probe ();
    for (int i = 0; i < SYS_COUNT; i++) {
        self->systems[i].load = samples_new ();
        self->systems[i].light_samples = samples_new ();
    }
    fprintf (stderr, "drover-bench: logs in %s\n", self->dir);
    for (int round = 0; round < self->rounds && !zsys_interrupted; round++)
        s_run_round (self, round);
    int rc = 0;
    if (zsys_interrupted) {
        fprintf (stderr, "drover-bench: interrupted\n");
        rc = 130;
    }
    else
        report_print (self);
    for (int i = 0; i < SYS_COUNT; i++) {
        system_t *system = &self->systems[i];
        if (system->selected && system->error[0] && !system->skipped && rc == 0)
            rc = 1;
        samples_destroy (&system->load);
        samples_destroy (&system->light_samples);
    }
    if (self->keep || rc)
        fprintf (stderr, "drover-bench: logs kept in %s\n", self->dir);
    else
        nftw (self->dir, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}

//  The daemons get only the flags we give: no DROVER_* setting (keys,
//  --insecure, a config file, any option) from our caller's environment.
static void
s_clear_drover_env (void)
{
    extern char **environ;
    char name[256];
    for (int i = 0; environ[i];) {
        const char *equals = strchr (environ[i], '=');
        size_t len = equals? (size_t) (equals - environ[i]): 0;
        if (strncmp (environ[i], "DROVER_", 7) || !len || len >= sizeof name) {
            i++;
            continue;
        }
        memcpy (name, environ[i], len);
        name[len] = 0;
        unsetenv (name);            //  environ shifts: look at i again
    }
}

static void
s_init (bench_t *self)
{
    *self = (bench_t) {
        .params = { .tuples = 1000000, .batch = 1024, .window = 8192, .light = 1000,
                    .warmup = 10000, .timeout_ms = 300000, .scan_first = 1,
                    .scan_last = 65535, .drover = DROVER_BIN,
                    .gearmand = "/usr/sbin/gearmand", .nmap = "/usr/bin/nmap",
                    .scheduling = SCHED_POLICY_DEFAULT },
        .rounds = 3,
    };
    //  The name --systems takes; the label of the one-in-flight table
    //  (NULL: no such pass).
    static const struct { const char *name, *light; } systems[SYS_COUNT] = {
        [SYS_ZMQ] = { "zmq", "raw zmq" }, [SYS_ZMQ_BATCH] = { "zmq-batch", NULL },
        [SYS_CEILING] = { "ceiling", "ceiling" },
        [SYS_CEILING_PLAIN] = { "ceiling-plain", "ceiling plain" },
        [SYS_DEFAULT_1] = { "drover-default", "drover default, 1 agent" },
        [SYS_DEFAULT_2] = { "drover-default-2", "drover default, 2 agents" },
        [SYS_DEFAULT_P0] = { "drover-default-p0", "drover default, P=0" },
        [SYS_MEMORY] = { "drover-memory", "drover memory/plain" },
        [SYS_MEMORY_P0] = { "drover-memory-p0", "drover memory/plain, P=0" },
        [SYS_GEARMAN] = { "gearman", "gearman" }, [SYS_SCAN] = { "scan", NULL },
    };
    for (int i = 0; i < SYS_COUNT; i++)
        self->systems[i] = (system_t) { .name = systems[i].name, .light = systems[i].light != NULL,
                                        .light_label = systems[i].light, .selected = true };
}

static void
s_label (bench_t *self)
{
    bench_params_t *params = &self->params;
    system_t *systems = self->systems;
    if (params->warmup > params->tuples)
        params->warmup = params->tuples;
    if (!params->gearman_tuples || params->gearman_tuples > params->tuples)
        params->gearman_tuples = params->tuples < 100000? params->tuples: 100000;
    const char *labels[SYS_COUNT] = {
        [SYS_ZMQ] = "raw zmq (1/msg)", [SYS_ZMQ_BATCH] = "raw zmq (%zu/msg)",
        [SYS_CEILING] = "ceiling (%zu/msg)", [SYS_CEILING_PLAIN] = "ceiling plain (%zu/msg)",
        [SYS_DEFAULT_1] = "drover default, 1 agent", [SYS_DEFAULT_2] = "drover default, 2 agents",
        [SYS_DEFAULT_P0] = "drover default, P=0",
        [SYS_MEMORY] = "drover memory/plain", [SYS_MEMORY_P0] = "drover memory/plain, P=0",
        [SYS_GEARMAN] = "gearman (1/job)", [SYS_SCAN] = "scan",
    };
    for (int i = 0; i < SYS_COUNT; i++) {
        snprintf (systems[i].label, sizeof systems[i].label, labels[i], params->batch);
        systems[i].tuples = i == SYS_GEARMAN? params->gearman_tuples: params->tuples;
    }
}

int
main (int argc, char **argv)
{
    static const struct { const char *role; int (*main) (int, char **); } roles[] = {
        { "zmq-forwarder", bench_zmq_forwarder_main }, { "zmq-worker", bench_zmq_worker_main },
        { "gearman-worker", bench_gearman_worker_main },
        { "ceiling-broker", bench_ceiling_broker_main },
        { "ceiling-agent", bench_ceiling_agent_main },
        { "ceiling-sink", bench_ceiling_sink_main },
    };
    for (size_t i = 0; argc > 1 && i < sizeof roles / sizeof roles[0]; i++)
        if (!strcmp (argv[1], roles[i].role))
            return roles[i].main (argc - 1, argv + 1);

    bench_t *self = malloc (sizeof *self);
    if (!self)
        return 1;
    s_init (self);
    int rc = s_parse (self, argc, argv);
    if (rc < 0) {
        s_label (self);
        ssize_t len = readlink ("/proc/self/exe", self->self, sizeof self->self - 1);
        self->self[len > 0? len: 0] = 0;
        self->params.self = self->self;
        if (len <= 0 || access (self->params.drover, X_OK)) {
            fprintf (stderr, "drover-bench: no drover binary at %s (use --drover), or "
                     "cannot find my own\n", self->params.drover);
            rc = 1;
        }
    }
    if (rc < 0) {
        s_clear_drover_env ();
        //  drover's daemons set their own policy (--scheduling, here by
        //  its variable); the others get it from procs.
        setenv ("DROVER_SCHEDULING", self->params.scheduling, 1);
        procs_set_scheduling (self->params.scheduling);
        zsys_init ();               //  SIGINT/SIGTERM set zsys_interrupted
        rc = s_run (self);
    }
    free (self);
    return rc;
}
