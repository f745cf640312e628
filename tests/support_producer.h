//  support_producer.h -- what the tests of `drover submit`, `drover
//  status` and the producer class share (test_producer.c, test_submit*.c):
//  a site (a broker on free endpoints and a data directory, a sink and an
//  agent for --wait), Criterion fixtures that start and take it down, and
//  `drover` run with its stdout and stderr captured apart.
#ifndef DROVER_TEST_SUPPORT_PRODUCER_H
#define DROVER_TEST_SUPPORT_PRODUCER_H

#include "producer/producer.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define RUN_TIMEOUT_MS  30000

typedef struct {
    char *dir;
    char frontend[64];
    char intake[64];
    char backend[64];
    char sink[64];
    pid_t broker;
    pid_t agent;
    pid_t sink_pid;
} site_t;

typedef struct {
    int status;             //  wait status
    char *out;              //  stdout
    char *err;              //  stderr
    int64_t ms;             //  how long it ran
} run_t;

//  Each test runs in its own process: this is its site, which the .fini
//  fixture takes down even when an assertion ended the test early.
extern site_t producer_site;

//  A fresh directory and endpoints, and the broker (--max-queued if not NULL).
void  site_start (site_t *site, const char *max_queued);
//  A broker on the site's endpoints and data directory: the same one again
//  after a restart.
void  site_broker_start (site_t *site, const char *max_queued);
//  A sink writing to DIR/results.jsonl and one agent, for --wait.
void  site_start_workers (site_t *site);
//  Criterion .init fixtures of producer_site: a broker, a broker with
//  --max-queued 2000, a directory only; and the .fini that stops them.
void  site_with_broker (void);
void  site_with_small_queue (void);
void  site_with_dir (void);
void  site_cleanup (void);

//  Run `drover ARGV...` with stdin from in_path (or /dev/null); stdout and
//  stderr captured apart.  Never hangs: killed after RUN_TIMEOUT_MS.
run_t site_run (site_t *site, const char *in_path, char *const argv[]);
void  run_free (run_t *run);
bool  run_exited_with (const run_t *run, int code);
//  Start `drover ARGV...` with its stdin the write end of a pipe (*in_p);
//  stdout and stderr go to DIR/run.out and DIR/run.err.
pid_t site_spawn_piped (site_t *site, int *in_p, char *const argv[]);

//  DIR/name holding text: its path (the caller frees it).
char *site_write_file (site_t *site, const char *name, const char *text);
//  "[\"127.0.0.1\", N]" lines 1..count, with a blank line now and then.
char *site_tuples_file (site_t *site, const char *name, int count);

//  Ask the broker through the producer class; 0 or its error code.
int   site_status (site_t *site, const char *job, producer_status_t *status);
//  True if job has count tuples submitted and is in state.
bool  site_submitted (site_t *site, const char *job, uint64_t count, const char *state);

#endif
