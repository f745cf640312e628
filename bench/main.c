//  main.c -- `drover-bench`: drover end to end against raw ZeroMQ and
//  gearmand, all on this machine in one run, rounds interleaved so that
//  noise hits every system alike; prints one table.  Ratios are taken
//  within a round and their median reported (README.md says how to read
//  them).  Also the entry point of the worker roles the systems start.
#include "bench/bench.h"
#include "bench/samples.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#define ROUNDS_MAX 20

typedef enum {
    SYS_ZMQ, SYS_ZMQ_BATCH, SYS_DROVER, SYS_DROVER_IN_AGENT, SYS_GEARMAN, SYS_COUNT
} system_id_t;

typedef struct {
    const char *name;               //  as --systems names it
    char label[40];                 //  as the table under load shows it
    const char *light_label;        //  as the one-in-flight table shows it
    bool selected;
    samples_t *load, *light;
    double tps[ROUNDS_MAX];         //  under load, per round; 0: failed
    double light_tps[ROUNDS_MAX];
    char error[300];                //  first failure
} system_t;

typedef struct {
    bench_params_t params;
    int rounds;
    bool keep;
    char dir[64];
    char self[PATH_MAX];
    system_t systems[SYS_COUNT];
} bench_t;

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: drover-bench [OPTIONS]\n\n"
        "Run the same workload (tuples of %d bytes, echoed by one worker) through\n"
        "raw ZeroMQ, drover and gearmand on this machine, in interleaved rounds,\n"
        "and print tuples/s, latency percentiles and ratios to raw ZeroMQ.\n"
        "Every process runs on 127.0.0.1 and is stopped at the end.\n\n"
        "options:\n"
        "  -n, --tuples N     tuples in the pass under load (default 200000)\n"
        "  -b, --batch N      tuples per message / SUBMIT where batched (default 1000)\n"
        "  -w, --window N     tuples sent but not yet seen, at most (default 8000)\n"
        "  -l, --light N      tuples in the one-in-flight pass, 0: skip (default 1000)\n"
        "      --warmup N     tuples run first, not measured (default 10000)\n"
        "  -r, --rounds N     rounds; medians are reported (default 3, at most %d)\n"
        "  -s, --systems LIST comma-separated, from zmq,zmq-batch,drover,\n"
        "                     drover-in-agent (handler threads in the agent process,\n"
        "                     --processes 0: what the worker processes cost), gearman\n"
        "                     (default all)\n"
        "  -t, --threads N    drover agent handler threads (default: the agent's)\n"
        "      --timeout S    longest one pass may take, seconds (default 120)\n"
        "      --drover PATH  drover binary (default %s)\n"
        "      --gearmand PATH  gearmand binary (default /usr/sbin/gearmand)\n"
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

//  Returns -1 to go on, else the exit code.
static int
s_parse (bench_t *self, int argc, char **argv)
{
    static struct option options[] = {
        { "tuples", required_argument, NULL, 'n' },
        { "batch", required_argument, NULL, 'b' },
        { "window", required_argument, NULL, 'w' },
        { "light", required_argument, NULL, 'l' },
        { "warmup", required_argument, NULL, 'W' },
        { "rounds", required_argument, NULL, 'r' },
        { "systems", required_argument, NULL, 's' },
        { "threads", required_argument, NULL, 't' },
        { "timeout", required_argument, NULL, 'T' },
        { "drover", required_argument, NULL, 'D' },
        { "gearmand", required_argument, NULL, 'G' },
        { "keep", no_argument, NULL, 'k' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    bench_params_t *params = &self->params;
    size_t value;
    int opt;
    while ((opt = getopt_long (argc, argv, "n:b:w:l:r:s:t:kh", options, NULL)) != -1) {
        int rc = 0;
        switch (opt) {
            case 'n': rc = s_size (optarg, "--tuples", 1, &params->tuples); break;
            case 'b': rc = s_size (optarg, "--batch", 1, &params->batch); break;
            case 'w': rc = s_size (optarg, "--window", 1, &params->window); break;
            case 'l': rc = s_size (optarg, "--light", 0, &params->light); break;
            case 'W': rc = s_size (optarg, "--warmup", 1, &params->warmup); break;
            case 'r':
                rc = s_size (optarg, "--rounds", 1, &value);
                if (rc == 0 && value > ROUNDS_MAX) {
                    fprintf (stderr, "drover-bench: --rounds is at most %d\n", ROUNDS_MAX);
                    rc = -1;
                }
                self->rounds = (int) value;
                break;
            case 's': rc = s_select (self, optarg); break;
            case 't': rc = s_size (optarg, "--threads", 1, &value); params->threads = optarg; break;
            case 'T':
                rc = s_size (optarg, "--timeout", 1, &value);
                params->timeout_ms = (int) (value > 3600? 3600: value) * 1000;
                break;
            case 'D': params->drover = optarg; break;
            case 'G': params->gearmand = optarg; break;
            case 'k': self->keep = true; break;
            case 'h': s_usage (stdout); return 0;
            default: rc = -1; fprintf (stderr, "try 'drover-bench --help'\n"); break;
        }
        if (rc)
            return 2;
    }
    if (optind < argc) {
        fprintf (stderr, "drover-bench: unexpected argument '%s'; try --help\n", argv[optind]);
        return 2;
    }
    if (params->window < params->batch) {
        fprintf (stderr, "drover-bench: --window (%zu) must hold a --batch (%zu)\n",
                 params->window, params->batch);
        return 2;
    }
    return -1;
}

static double
s_median (double *values, int count)
{
    //  Insertion sort: at most ROUNDS_MAX values.
    for (int i = 1; i < count; i++)
        for (int j = i; j > 0 && values[j - 1] > values[j]; j--) {
            double swap = values[j];
            values[j] = values[j - 1];
            values[j - 1] = swap;
        }
    if (count == 0)
        return 0;
    return count % 2? values[count / 2]: (values[count / 2 - 1] + values[count / 2]) / 2;
}

//  Median over rounds of system's tuples/s divided by base's, same round.
static double
s_ratio (const bench_t *self, const double *system, const double *base)
{
    double ratios[ROUNDS_MAX];
    int count = 0;
    for (int r = 0; r < self->rounds; r++)
        if (system[r] > 0 && base[r] > 0)
            ratios[count++] = system[r] / base[r];
    return s_median (ratios, count);
}

static double
s_tps_median (const bench_t *self, const double *tps)
{
    double values[ROUNDS_MAX];
    int count = 0;
    for (int r = 0; r < self->rounds; r++)
        if (tps[r] > 0)
            values[count++] = tps[r];
    return s_median (values, count);
}

//  Keep a pass's numbers; false if it failed.
static bool
s_record (system_t *system, bench_pass_t *pass, samples_t *samples, double *tps,
          int round, const char *what)
{
    if (pass->error[0] || pass->done < pass->tuples || pass->elapsed_us == 0) {
        if (!system->error[0])
            snprintf (system->error, sizeof system->error, "round %d, %s: %s", round + 1, what,
                      pass->error[0]? pass->error: "incomplete");
        return false;
    }
    tps[round] = (double) pass->done * 1e6 / (double) pass->elapsed_us;
    samples_add (samples, pass->latencies, pass->done);
    return true;
}

static void
s_run_round (bench_t *self, int round)
{
    for (int k = 0; k < SYS_COUNT && !zsys_interrupted; k++) {
        //  Each round starts with another system, so drift in the
        //  machine's load does not always favour the same one.
        system_t *system = &self->systems[(k + round) % SYS_COUNT];
        if (!system->selected)
            continue;
        bench_pass_t load = { 0 }, light = { 0 };
        system_id_t id = (system_id_t) (system - self->systems);
        fprintf (stderr, "round %d: %s ...", round + 1, system->label);
        if (id == SYS_ZMQ)
            bench_zmq (&self->params, 1, &load, &light);
        else if (id == SYS_ZMQ_BATCH)
            bench_zmq (&self->params, self->params.batch, &load, NULL);
        else if (id == SYS_DROVER || id == SYS_DROVER_IN_AGENT)
            bench_drover (&self->params, id == SYS_DROVER_IN_AGENT, &load, &light);
        else
            bench_gearman (&self->params, &load, &light);
        if (s_record (system, &load, system->load, system->tps, round, "under load"))
            fprintf (stderr, " %.0f tuples/s", system->tps[round]);
        else
            fprintf (stderr, " failed: %s", load.error[0]? load.error: "incomplete");
        if (id != SYS_ZMQ_BATCH && self->params.light && !load.error[0])
            s_record (system, &light, system->light, system->light_tps, round, "one in flight");
        fprintf (stderr, "\n");
        bench_pass_reset (&load);
        bench_pass_reset (&light);
    }
}

static void
s_print_machine (void)
{
    struct utsname uts;
    uname (&uts);
    char model[128] = "unknown CPU", line[256];
    FILE *file = fopen ("/proc/cpuinfo", "r");
    while (file && fgets (line, sizeof line, file))
        if (!strncmp (line, "model name", 10) && strchr (line, ':')) {
            snprintf (model, sizeof model, "%s", strchr (line, ':') + 2);
            model[strcspn (model, "\n")] = 0;
            break;
        }
    if (file)
        fclose (file);
    double load[3] = { 0 };
    getloadavg (load, 3);
    printf ("machine: %ld CPUs (%s), %s %s %s, load average %.2f\n",
            sysconf (_SC_NPROCESSORS_ONLN), model, uts.sysname, uts.release, uts.machine, load[0]);
}

static void
s_print_row (bench_t *self, system_t *system, samples_t *samples, const double *tps,
             bool light)
{
    system_t *zmq = &self->systems[SYS_ZMQ], *batch = &self->systems[SYS_ZMQ_BATCH];
    const char *label = light? system->light_label: system->label;
    double median = s_tps_median (self, tps);
    if (median == 0) {
        printf ("%-26s %s\n", label, system->error[0]? system->error: "no result");
        return;
    }
    double low = median, high = median;
    for (int r = 0; r < self->rounds; r++)
        if (tps[r] > 0) {
            low = tps[r] < low? tps[r]: low;
            high = tps[r] > high? tps[r]: high;
        }
    printf ("%-26s %10.0f %5.0f%% %9.3f %9.3f %9.3f %9.3f", label, median,
            100 * (high - low) / median,
            samples_quantile (samples, 0.50) / 1000.0, samples_quantile (samples, 0.90) / 1000.0,
            samples_quantile (samples, 0.99) / 1000.0, samples_quantile (samples, 1.0) / 1000.0);
    double ratio = s_ratio (self, tps, light? zmq->light_tps: zmq->tps);
    if (ratio > 0)
        printf (" %8.3f", ratio);
    else
        printf (" %8s", "-");
    if (!light) {
        ratio = s_ratio (self, tps, batch->tps);
        if (ratio > 0)
            printf (" %13.3f", ratio);
        else
            printf (" %13s", "-");
    }
    printf ("\n");
}

static void
s_print (bench_t *self)
{
    const bench_params_t *params = &self->params;
    printf ("\ndrover-bench: %zu tuples of %d bytes, batch %zu, at most %zu in flight, "
            "%d round%s (medians), warm-up %zu\n", params->tuples, BENCH_TUPLE_SIZE,
            params->batch, params->window, self->rounds, self->rounds > 1? "s": "",
            params->warmup);
    s_print_machine ();
    if (self->systems[SYS_DROVER].selected || self->systems[SYS_DROVER_IN_AGENT].selected)
        printf ("drover: broker --store memory, 1 agent (worker processes: its default; "
                "P=0: none) with %s handler threads each, sink --store memory to a file\n",
                params->threads? params->threads: "its default number of");
    if (self->systems[SYS_GEARMAN].selected)
        printf ("gearmand: default options (in-memory queue, 4 I/O threads), 1 worker, "
                "clients of at most 1000 jobs in flight\n");
    const char *header = "%-26s %10s %6s %9s %9s %9s %9s %8s%s\n";
    printf ("\nunder load: tuples/s = tuples / (first send .. last result); latency ms, send .. result seen\n");
    printf (header, "system", "tuples/s", "spread", "p50", "p90", "p99", "max", "vs zmq",
            "  vs zmq-batch");
    for (int i = 0; i < SYS_COUNT; i++)
        if (self->systems[i].selected)
            s_print_row (self, &self->systems[i], self->systems[i].load,
                         self->systems[i].tps, false);
    if (!params->light)
        return;
    printf ("\none tuple in flight (%zu tuples, each sent when the one before came back)\n",
            params->light);
    printf (header, "system", "tuples/s", "spread", "p50", "p90", "p99", "max", "vs zmq", "");
    for (int i = 0; i < SYS_COUNT; i++)
        if (self->systems[i].selected && i != SYS_ZMQ_BATCH)
            s_print_row (self, &self->systems[i], self->systems[i].light,
                         self->systems[i].light_tps, true);
    printf ("\nspread: (max - min) / median of tuples/s over the rounds; vs: median over rounds\n"
            "of (system tuples/s / raw zmq tuples/s) in the same round; > 1 is faster.\n");
}

static void
s_remove_dir (const char *path)
{
    DIR *dir = opendir (path);
    struct dirent *entry;
    char file[PATH_MAX];
    while (dir && (entry = readdir (dir)))
        if (strcmp (entry->d_name, ".") && strcmp (entry->d_name, "..")) {
            snprintf (file, sizeof file, "%s/%s", path, entry->d_name);
            unlink (file);
        }
    if (dir)
        closedir (dir);
    rmdir (path);
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
    for (int i = 0; i < SYS_COUNT; i++) {
        self->systems[i].load = samples_new ();
        self->systems[i].light = samples_new ();
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
        s_print (self);
    for (int i = 0; i < SYS_COUNT; i++) {
        if (self->systems[i].selected && self->systems[i].error[0] && rc == 0)
            rc = 1;
        samples_destroy (&self->systems[i].load);
        samples_destroy (&self->systems[i].light);
    }
    if (self->keep || rc)
        fprintf (stderr, "drover-bench: logs kept in %s\n", self->dir);
    else
        s_remove_dir (self->dir);
    return rc;
}

int
main (int argc, char **argv)
{
    if (argc > 1 && !strcmp (argv[1], "zmq-forwarder"))
        return bench_zmq_forwarder_main (argc - 1, argv + 1);
    if (argc > 1 && !strcmp (argv[1], "zmq-worker"))
        return bench_zmq_worker_main (argc - 1, argv + 1);
    if (argc > 1 && !strcmp (argv[1], "gearman-worker"))
        return bench_gearman_worker_main (argc - 1, argv + 1);

    bench_t self = {
        .params = { .tuples = 200000, .batch = 1000, .window = 8000, .light = 1000,
                    .warmup = 10000, .timeout_ms = 120000, .drover = DROVER_BIN,
                    .gearmand = "/usr/sbin/gearmand" },
        .rounds = 3,
        .systems = {
            [SYS_ZMQ] = { .name = "zmq", .light_label = "raw zmq", .selected = true },
            [SYS_ZMQ_BATCH] = { .name = "zmq-batch", .selected = true },
            [SYS_DROVER] = { .name = "drover", .light_label = "drover", .selected = true },
            [SYS_DROVER_IN_AGENT] = { .name = "drover-in-agent",
                                      .light_label = "drover, P=0", .selected = true },
            [SYS_GEARMAN] = { .name = "gearman", .light_label = "gearman", .selected = true },
        }
    };
    int rc = s_parse (&self, argc, argv);
    if (rc >= 0)
        return rc;
    bench_params_t *params = &self.params;
    if (params->warmup > params->tuples)
        params->warmup = params->tuples;
    snprintf (self.systems[SYS_ZMQ].label, sizeof self.systems[0].label, "raw zmq (1/msg)");
    snprintf (self.systems[SYS_ZMQ_BATCH].label, sizeof self.systems[0].label,
              "raw zmq (%zu/msg)", params->batch);
    snprintf (self.systems[SYS_DROVER].label, sizeof self.systems[0].label,
              "drover (%zu/SUBMIT)", params->batch);
    snprintf (self.systems[SYS_DROVER_IN_AGENT].label, sizeof self.systems[0].label,
              "drover, P=0 (%zu/SUBMIT)", params->batch);
    snprintf (self.systems[SYS_GEARMAN].label, sizeof self.systems[0].label,
              "gearman (1/job)");
    ssize_t len = readlink ("/proc/self/exe", self.self, sizeof self.self - 1);
    if (len <= 0) {
        fprintf (stderr, "drover-bench: cannot find my own binary: %s\n", strerror (errno));
        return 1;
    }
    self.self[len] = 0;
    params->self = self.self;
    if (access (params->drover, X_OK)) {
        fprintf (stderr, "drover-bench: no drover binary at %s; use --drover\n", params->drover);
        return 1;
    }
    zsys_init ();                   //  SIGINT/SIGTERM set zsys_interrupted
    return s_run (&self);
}
