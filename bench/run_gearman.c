//  run_gearman.c -- the same tuples through gearmand, a classic job server:
//  gearmand on 127.0.0.1 with its default in-memory queue, one libgearman
//  worker process running an echo function, and libgearman clients that
//  keep `window` foreground jobs in flight (non-blocking mode) and see a
//  job done when its WORK_COMPLETE, carrying the echoed tuple, comes back.
//  Gearman has no batches: each job is its own SUBMIT_JOB and result.
#include "bench/bench.h"
#include "bench/procs.h"

#include <czmq.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef DROVER_BENCH_GEARMAN
#include <libgearman/gearman.h>

#define GEARMAN_FUNCTION "bench_echo"

//  libgearman's client finds the task of each reply by walking its list of
//  tasks in flight, so one client with thousands in flight spends its time
//  there (measured: 8000 in flight, 50,000 jobs: under 10 k jobs/s, mostly
//  in libgearman).  To measure gearmand rather than that list, the window
//  is shared by several clients of at most this many jobs, each in its own
//  thread.
#define CLIENT_WINDOW 1000
#define CLIENTS_MAX   64

typedef struct {
    const bench_params_t *params;
    procs_t *procs;
    usage_meter_t *meter;
    int port;
} gearman_run_t;

//  One client thread: the pass's tuples first, first + step, ...
typedef struct {
    gearman_run_t *run;
    lat_t *lat;
    uint8_t *tuples;                //  the pass's, by seq; shared, disjoint
    size_t first, step, window;
    size_t total, sent, done;       //  of this client's own
    volatile int *stop;             //  atomic; set by the pass on failure
    char error[200];
} feeder_t;

static gearman_return_t
s_on_complete (gearman_task_st *task)
{
    feeder_t *self = gearman_task_context (task);
    int64_t seq = bench_tuple_seq (gearman_task_data (task), gearman_task_data_size (task));
    if (seq >= 0 && lat_seen (self->lat, (size_t) seq, lat_now_us ()))
        self->done++;
    return GEARMAN_SUCCESS;
}

static int
s_feed_some (feeder_t *self, gearman_client_st *client)
{
    while (self->sent < self->total && self->sent - self->done < self->window) {
        size_t seq = self->first + self->sent * self->step;
        //  The client may keep a pointer to a job's workload until it is sent.
        uint8_t *tuple = self->tuples + seq * BENCH_TUPLE_SIZE;
        bench_tuple_fill (tuple, (uint32_t) seq);
        char unique[24];            //  our own: no UUID per job, no coalescing
        snprintf (unique, sizeof unique, "%zu", seq);
        gearman_return_t ret;
        lat_sent (self->lat, seq, lat_now_us ());
        if (!gearman_client_add_task (client, NULL, self, GEARMAN_FUNCTION, unique,
                                      tuple, BENCH_TUPLE_SIZE, &ret)) {
            snprintf (self->error, sizeof self->error, "add_task: %s",
                      gearman_client_error (client));
            return -1;
        }
        self->sent++;
    }
    return 0;
}

static void *
s_feed (void *arg)
{
    feeder_t *self = arg;
    gearman_client_st *client = gearman_client_create (NULL);
    if (!client
    ||  gearman_client_add_server (client, "127.0.0.1", (in_port_t) self->run->port)) {
        snprintf (self->error, sizeof self->error, "cannot make a client");
        goto done;
    }
    gearman_client_add_options (client, GEARMAN_CLIENT_NON_BLOCKING | GEARMAN_CLIENT_FREE_TASKS);
    gearman_client_set_timeout (client, 100);
    gearman_client_set_complete_fn (client, s_on_complete);
    while (self->done < self->total && !__atomic_load_n (self->stop, __ATOMIC_ACQUIRE)) {
        if (s_feed_some (self, client))
            break;
        gearman_return_t ret = gearman_client_run_tasks (client);
        if (ret == GEARMAN_IO_WAIT)
            ret = gearman_client_wait (client);
        if (ret != GEARMAN_SUCCESS && ret != GEARMAN_IO_WAIT && ret != GEARMAN_TIMEOUT) {
            snprintf (self->error, sizeof self->error, "run_tasks: %s",
                      gearman_client_error (client));
            break;
        }
    }
done:
    if (client)
        gearman_client_free (client);
    return NULL;
}

//  batch: gearman has none, each job is its own request.
static int
s_pass (void *state, lat_t *lat, size_t batch, size_t window, bench_pass_t *pass)
{
    (void) batch;
    gearman_run_t *run = state;
    size_t total = lat_count (lat);
    size_t clients = (window + CLIENT_WINDOW - 1) / CLIENT_WINDOW;
    if (clients > CLIENTS_MAX)
        clients = CLIENTS_MAX;
    if (clients > total)
        clients = total;
    uint8_t *tuples = malloc (total * BENCH_TUPLE_SIZE);
    feeder_t *feeders = calloc (clients, sizeof *feeders);
    pthread_t *threads = calloc (clients, sizeof *threads);
    volatile int stop = 0;
    size_t started = 0;
    if (!tuples || !feeders || !threads)
        bench_pass_fail (pass, "out of memory");
    for (size_t i = 0; i < clients && !pass->error[0]; i++) {
        feeders[i] = (feeder_t) { .run = run, .lat = lat, .tuples = tuples, .first = i,
            .step = clients, .window = (window + clients - 1) / clients,
            .total = (total - i + clients - 1) / clients, .stop = &stop };
        if (pthread_create (&threads[i], NULL, s_feed, &feeders[i]))
            bench_pass_fail (pass, "cannot start a thread");
        else
            started++;
    }
    uint64_t deadline = lat_now_us () + (uint64_t) run->params->timeout_ms * 1000;
    while (!pass->error[0] && lat_done (lat) < total) {
        if (zsys_interrupted || lat_now_us () > deadline || !procs_alive (run->procs))
            bench_pass_fail (pass, "%zu of %zu jobs done when it stopped (%s)", lat_done (lat),
                             total, zsys_interrupted? "interrupted": lat_now_us () > deadline
                                  ? "timed out": "a process exited");
        else
            lat_wait (lat, total, 100);
    }
    __atomic_store_n (&stop, 1, __ATOMIC_RELEASE);
    for (size_t i = 0; i < started; i++) {
        pthread_join (threads[i], NULL);
        if (feeders[i].error[0])
            bench_pass_fail (pass, "%s", feeders[i].error);
    }
    free (threads);
    free (feeders);
    free (tuples);
    return pass->error[0]? -1: 0;
}

static int
s_start (gearman_run_t *run)
{
    const bench_params_t *params = run->params;
    run->port = procs_free_port ();
    char port[16], pid_file[PATH_MAX];
    snprintf (port, sizeof port, "%d", run->port);
    snprintf (pid_file, sizeof pid_file, "%s/gearmand.pid", params->dir);
    usage_meter_add (run->meter, ROLE_BROKER,
        procs_start (run->procs, "gearmand", (char *[]) { (char *) params->gearmand,
                     "--listen", "127.0.0.1", "--port", port, "--log-file", "stderr",
                     "--pid-file", pid_file, NULL }));
    if (!procs_wait_port (run->port, 5000))
        return -1;
    usage_meter_add (run->meter, ROLE_AGENT,
        procs_start (run->procs, "gearman-worker", (char *[]) { (char *) params->self,
                     "gearman-worker", "127.0.0.1", port, NULL }));
    return 0;
}

void
bench_gearman (const bench_params_t *params, bench_pass_t *load, bench_pass_t *light)
{
    gearman_run_t run = { .params = params, .procs = procs_new (params->dir),
                          .meter = usage_meter_new () };
    if (access (params->gearmand, X_OK)) {
        bench_pass_fail (load, "skipped: no gearmand at %s (apt-get install "
                         "gearman-job-server)", params->gearmand);
        load->skipped = true;
        goto done;
    }
    if (!run.procs || !run.meter || s_start (&run)) {
        bench_pass_fail (load, "gearmand did not start; logs in %s", params->dir);
        goto done;
    }
    bench_passes_run (params, params->gearman_tuples, 1, run.meter, s_pass, &run, load, light);
done:
    procs_destroy (&run.procs);
    usage_meter_destroy (&run.meter);
}

static void *
s_echo (gearman_job_st *job, void *context, size_t *result_size, gearman_return_t *ret_ptr)
{
    (void) context;
    size_t size = gearman_job_workload_size (job);
    void *result = malloc (size? size: 1);
    if (!result) {
        *ret_ptr = GEARMAN_WORK_FAIL;
        return NULL;
    }
    memcpy (result, gearman_job_workload (job), size);
    *result_size = size;
    *ret_ptr = GEARMAN_SUCCESS;
    return result;
}

//  `drover-bench gearman-worker HOST PORT`: run echo jobs until killed.
int
bench_gearman_worker_main (int argc, char **argv)
{
    if (argc != 3) {
        fprintf (stderr, "usage: drover-bench gearman-worker HOST PORT\n");
        return 2;
    }
    gearman_worker_st *worker = gearman_worker_create (NULL);
    if (!worker
    ||  gearman_worker_add_server (worker, argv[1], (in_port_t) atoi (argv[2])) != GEARMAN_SUCCESS
    ||  gearman_worker_add_function (worker, GEARMAN_FUNCTION, 0, s_echo, NULL) != GEARMAN_SUCCESS) {
        fprintf (stderr, "gearman-worker: cannot start: %s\n",
                 worker? gearman_worker_error (worker): "out of memory");
        return 1;
    }
    gearman_return_t ret;
    while ((ret = gearman_worker_work (worker)) == GEARMAN_SUCCESS)
        ;
    fprintf (stderr, "gearman-worker: %s\n", gearman_worker_error (worker));
    gearman_worker_free (worker);
    return 1;
}

#else   //  built without libgearman: the row says so

void
bench_gearman (const bench_params_t *params, bench_pass_t *load, bench_pass_t *light)
{
    (void) params;
    (void) light;
    bench_pass_fail (load, "skipped: not built (libgearman-dev was missing at build time)");
    load->skipped = true;
}

int
bench_gearman_worker_main (int argc, char **argv)
{
    (void) argc;
    (void) argv;
    fprintf (stderr, "drover-bench was built without libgearman\n");
    return 1;
}

#endif
