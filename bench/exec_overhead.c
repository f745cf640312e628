//  exec_overhead.c -- `drover-bench-exec`: what the exec handler adds per
//  tuple over starting the program yourself.  In one run, rounds
//  interleaved so noise hits each alike: a bare fork/execv/waitpid loop, a
//  bare posix_spawn/waitpid loop, and exec_handler (agent/exec.h) running
//  the same program once per tuple (pipes, poll, stdin JSON, capture, the
//  result map).  Prints microseconds per tuple and the median ratios.
#include "agent/exec.h"
#include "agent/workdir.h"
#include "common/json_read.h"

#include <czmq.h>
#include <getopt.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS_MAX 50

extern char **environ;

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

//  us per run of fork + execv + waitpid.
static double
s_bare_fork (const char *program, size_t count)
{
    char *argv[] = { (char *) program, NULL };
    double t0 = s_now ();
    for (size_t i = 0; i < count; i++) {
        pid_t pid = fork ();
        if (pid == 0) {
            execv (program, argv);
            _exit (127);
        }
        int status;
        if (pid < 0 || waitpid (pid, &status, 0) != pid || !WIFEXITED (status)
        ||  WEXITSTATUS (status) != 0)
            return -1;
    }
    return (s_now () - t0) * 1e6 / (double) count;
}

//  us per run of posix_spawn + waitpid.
static double
s_bare_spawn (const char *program, size_t count)
{
    char *argv[] = { (char *) program, NULL };
    double t0 = s_now ();
    for (size_t i = 0; i < count; i++) {
        pid_t pid;
        int status;
        if (posix_spawn (&pid, program, NULL, NULL, argv, environ)
        ||  waitpid (pid, &status, 0) != pid || !WIFEXITED (status) || WEXITSTATUS (status) != 0)
            return -1;
    }
    return (s_now () - t0) * 1e6 / (double) count;
}

//  us per tuple through exec_handler, as a handler thread calls it.
static double
s_handler (const char *program, const char *input, size_t count)
{
    char options_json[512], err[128];
    snprintf (options_json, sizeof options_json,
              "{\"command\": [\"%s\", \"{0}\"], \"stdin\": \"%s\"}", program, input);
    msgpack_sbuffer tuple, options, output;
    msgpack_sbuffer_init (&tuple);
    msgpack_sbuffer_init (&options);
    msgpack_sbuffer_init (&output);
    const char *tuple_json = "[\"bench\", 1, \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"]";
    if (json_to_msgpack (tuple_json, strlen (tuple_json), &tuple, err, sizeof err)
    ||  json_to_msgpack (options_json, strlen (options_json), &options, err, sizeof err))
        return -1;
    msgpack_zone zone;
    msgpack_zone_init (&zone, 4096);
    msgpack_object tuple_obj, options_obj;
    size_t offset = 0;
    msgpack_unpack (tuple.data, tuple.size, &offset, &zone, &tuple_obj);
    offset = 0;
    msgpack_unpack (options.data, options.size, &offset, &zone, &options_obj);
    workdir_t *workdirs = workdir_new ();       //  exec's state, as a worker keeps it
    double t0 = s_now (), us = -1;
    size_t i;
    for (i = 0; workdirs && i < count; i++) {
        handler_call_t call;
        msgpack_sbuffer_clear (&output);
        handler_call_init (&call, &output);
        call.tuple = &tuple_obj;
        call.tuple_data = tuple.data;
        call.tuple_size = tuple.size;
        call.options = &options_obj;
        if (exec_handler (workdirs, &call)) {
            fprintf (stderr, "drover-bench-exec: %s\n", call.error);
            break;
        }
    }
    if (i == count)
        us = (s_now () - t0) * 1e6 / (double) count;
    workdir_destroy (&workdirs);
    msgpack_zone_destroy (&zone);
    msgpack_sbuffer_destroy (&tuple);
    msgpack_sbuffer_destroy (&options);
    msgpack_sbuffer_destroy (&output);
    return us;
}

static int
s_compare (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y? -1: x > y;
}

static double
s_median (double *values, int count)
{
    qsort (values, (size_t) count, sizeof *values, s_compare);
    return count % 2? values[count / 2]: (values[count / 2 - 1] + values[count / 2]) / 2;
}

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: drover-bench-exec [OPTIONS]\n\n"
        "Per-tuple cost of the exec handler running a program against a bare\n"
        "fork/execv/waitpid loop and a bare posix_spawn/waitpid loop, measured\n"
        "in the same run, rounds interleaved; prints us per tuple and ratios\n"
        "(medians over rounds).\n\n"
        "options:\n"
        "  -n, --tuples N     runs per system per round (default 2000)\n"
        "  -r, --rounds N     rounds (default 5, at most %d)\n"
        "  -p, --program PATH program to run (default /bin/true)\n"
        "  -h, --help         this help\n", ROUNDS_MAX);
}

int
main (int argc, char **argv)
{
    static const struct option longs[] = {
        { "tuples", required_argument, NULL, 'n' },
        { "rounds", required_argument, NULL, 'r' },
        { "program", required_argument, NULL, 'p' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    size_t count = 2000;
    int rounds = 5;
    const char *program = "/bin/true";
    int opt;
    while ((opt = getopt_long (argc, argv, "n:r:p:h", longs, NULL)) != -1) {
        if (opt == 'n')
            count = (size_t) atol (optarg);
        else
        if (opt == 'r')
            rounds = atoi (optarg);
        else
        if (opt == 'p')
            program = optarg;
        else
        if (opt == 'h') {
            s_usage (stdout);
            return 0;
        }
        else {
            fprintf (stderr, "drover-bench-exec: bad option; try --help\n");
            return 2;
        }
    }
    if (count < 1 || rounds < 1 || rounds > ROUNDS_MAX) {
        fprintf (stderr, "drover-bench-exec: --tuples >= 1, --rounds 1..%d; try --help\n", ROUNDS_MAX);
        return 2;
    }
    double fork_us[ROUNDS_MAX], spawn_us[ROUNDS_MAX], json_us[ROUNDS_MAX], none_us[ROUNDS_MAX];
    double ratio_fork[ROUNDS_MAX], ratio_spawn[ROUNDS_MAX], ratio_none[ROUNDS_MAX];
    //  Warm up caches and the page cache of the program.
    s_bare_fork (program, 50);
    s_handler (program, "json", 50);
    for (int r = 0; r < rounds; r++) {
        fork_us[r] = s_bare_fork (program, count);
        json_us[r] = s_handler (program, "json", count);
        spawn_us[r] = s_bare_spawn (program, count);
        none_us[r] = s_handler (program, "none", count);
        if (fork_us[r] < 0 || spawn_us[r] < 0 || json_us[r] < 0 || none_us[r] < 0) {
            fprintf (stderr, "drover-bench-exec: a run of %s failed\n", program);
            return 1;
        }
        ratio_fork[r] = json_us[r] / fork_us[r];
        ratio_spawn[r] = json_us[r] / spawn_us[r];
        ratio_none[r] = none_us[r] / fork_us[r];
        printf ("round %d: fork/exec %.1f us, posix_spawn %.1f us, exec handler %.1f us "
                "(stdin none %.1f us)\n", r + 1, fork_us[r], spawn_us[r], json_us[r], none_us[r]);
    }
    printf ("\n%s, %zu runs x %d rounds, median us per tuple:\n", program, count, rounds);
    printf ("  bare fork+execv+waitpid       %8.1f\n", s_median (fork_us, rounds));
    printf ("  bare posix_spawn+waitpid      %8.1f\n", s_median (spawn_us, rounds));
    printf ("  exec handler (stdin json)     %8.1f\n", s_median (json_us, rounds));
    printf ("  exec handler (stdin none)     %8.1f\n", s_median (none_us, rounds));
    printf ("ratio exec handler / bare fork loop:        %.2fx (goal <= 1.20x)\n",
            s_median (ratio_fork, rounds));
    printf ("ratio exec handler / bare posix_spawn loop: %.2fx\n", s_median (ratio_spawn, rounds));
    printf ("ratio exec handler, stdin none / bare fork: %.2fx\n", s_median (ratio_none, rounds));
    return 0;
}
