//  support_producer.c -- a broker (and for --wait a sink and an agent) for
//  the tests of `drover submit`, `drover status` and the producer class,
//  and `drover` run with its output captured (support_producer.h).
#include "support_producer.h"
#include "support.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void
site_start (site_t *site, const char *max_queued)
{
    memset (site, 0, sizeof *site);
    site->dir = support_tmpdir ();
    cr_assert (site->dir);
    snprintf (site->frontend, sizeof site->frontend, "%s", support_endpoint ());
    snprintf (site->intake, sizeof site->intake, "%s", support_endpoint ());
    snprintf (site->backend, sizeof site->backend, "%s", support_endpoint ());
    snprintf (site->sink, sizeof site->sink, "%s", support_endpoint ());
    site_broker_start (site, max_queued);
}

//  A broker on the site's endpoints and data directory: the same one again
//  after a restart.
void
site_broker_start (site_t *site, const char *max_queued)
{
    char log[512], data[512];
    snprintf (log, sizeof log, "%s/broker.log", site->dir);
    snprintf (data, sizeof data, "%s/broker-data", site->dir);
    site->broker = max_queued
        ? support_spawn (log, "broker", "--frontend", site->frontend, "--intake",
                         site->intake, "--backend", site->backend, "--data-dir", data,
                         "--max-queued", max_queued, NULL)
        : support_spawn (log, "broker", "--frontend", site->frontend, "--intake",
                         site->intake, "--backend", site->backend, "--data-dir", data, NULL);
    cr_assert_gt (site->broker, 0);
}

//  A sink writing to DIR/results.jsonl and one agent, for --wait.
void
site_start_workers (site_t *site)
{
    char log[512], output[512];
    snprintf (log, sizeof log, "%s/sink.log", site->dir);
    snprintf (output, sizeof output, "%s/results.jsonl", site->dir);
    site->sink_pid = support_spawn (log, "sink", "--bind", site->sink, "--output", output, NULL);
    snprintf (log, sizeof log, "%s/agent.log", site->dir);
    site->agent = support_spawn (log, "agent", "--broker", site->backend, "--name",
                                 "test-agent", "--threads", "4", NULL);
    cr_assert (site->sink_pid > 0 && site->agent > 0);
}

site_t producer_site;

void
site_with_broker (void)
{
    site_start (&producer_site, NULL);
}

void
site_with_small_queue (void)
{
    site_start (&producer_site, "2000");
}

void
site_with_dir (void)
{
    memset (&producer_site, 0, sizeof producer_site);
    producer_site.dir = support_tmpdir ();
    cr_assert (producer_site.dir);
}

void
site_cleanup (void)
{
    site_t *site = &producer_site;
    if (site->agent > 0)
        cr_expect_eq (support_stop (site->agent, SIGTERM, 10000), 0, "agent exit");
    if (site->sink_pid > 0)
        cr_expect_eq (support_stop (site->sink_pid, SIGTERM, 10000), 0, "sink exit");
    if (site->broker > 0)
        cr_expect_eq (support_stop (site->broker, SIGTERM, 10000), 0,
                      "broker did not exit 0 on SIGTERM; log in %s", site->dir);
    support_rmdir (&site->dir);
}

//  Fork `drover ARGV...` with stdin from in (an fd, closed here), stdout
//  and stderr to DIR/run.out and DIR/run.err.
static pid_t
s_spawn (site_t *site, int in, char *const argv[])
{
    char out_path[512], err_path[512];
    snprintf (out_path, sizeof out_path, "%s/run.out", site->dir);
    snprintf (err_path, sizeof err_path, "%s/run.err", site->dir);
    size_t argc = 0;
    while (argv[argc])
        argc++;
    char **full = calloc (argc + 2, sizeof (char *));
    full[0] = (char *) DROVER_BIN;
    memcpy (full + 1, argv, argc * sizeof (char *));
    pid_t pid = fork ();
    if (pid == 0) {
        int out = open (out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open (err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2 (in, STDIN_FILENO);
        dup2 (out, STDOUT_FILENO);
        dup2 (err, STDERR_FILENO);
        execv (DROVER_BIN, full);
        _exit (127);
    }
    free (full);
    close (in);
    cr_assert_gt (pid, 0);
    return pid;
}

//  Run `drover ARGV...` with stdin from in_path (or /dev/null); stdout and
//  stderr captured apart.  Never hangs: killed after RUN_TIMEOUT_MS.
run_t
site_run (site_t *site, const char *in_path, char *const argv[])
{
    char out_path[512], err_path[512];
    snprintf (out_path, sizeof out_path, "%s/run.out", site->dir);
    snprintf (err_path, sizeof err_path, "%s/run.err", site->dir);
    int in = open (in_path? in_path: "/dev/null", O_RDONLY | O_CLOEXEC);
    cr_assert_geq (in, 0, "cannot open %s", in_path);
    int64_t started = support_now_ms ();
    pid_t pid = s_spawn (site, in, argv);
    run_t run = { .status = -1 };
    if (!SUPPORT_WAIT (support_exited (pid, &run.status), RUN_TIMEOUT_MS)) {
        kill (pid, SIGKILL);
        waitpid (pid, &run.status, 0);
    }
    run.ms = support_now_ms () - started;
    run.out = support_slurp (out_path);
    run.err = support_slurp (err_path);
    cr_assert (run.out && run.err);
    return run;
}

void
run_free (run_t *run)
{
    free (run->out);
    free (run->err);
}

bool
run_exited_with (const run_t *run, int code)
{
    return WIFEXITED (run->status) && WEXITSTATUS (run->status) == code;
}

char *
site_write_file (site_t *site, const char *name, const char *text)
{
    char *path = malloc (512);
    snprintf (path, 512, "%s/%s", site->dir, name);
    FILE *file = fopen (path, "w");
    cr_assert (file);
    fputs (text, file);
    fclose (file);
    return path;
}

//  "[\"127.0.0.1\", N]" lines 1..count, with a blank line now and then.
char *
site_tuples_file (site_t *site, const char *name, int count)
{
    char *path = malloc (512);
    snprintf (path, 512, "%s/%s", site->dir, name);
    FILE *file = fopen (path, "w");
    cr_assert (file);
    for (int i = 1; i <= count; i++) {
        fprintf (file, "[\"127.0.0.1\", %d]\n", i);
        if (i % 700 == 0)
            fprintf (file, "  \r\n");
    }
    fclose (file);
    return path;
}

//  Ask the broker through the producer class; 0 or its error code.
int
site_status (site_t *site, const char *job, producer_status_t *status)
{
    producer_t *producer = producer_new (site->frontend);
    cr_assert (producer);
    producer_set_reply_timeout (producer, 5000);
    int rc = producer_status (producer, job, status);
    producer_destroy (&producer);
    return rc;
}

//  Start `drover ARGV...` with its stdin the write end of a pipe (*in_p);
//  stdout and stderr go to DIR/run.out and DIR/run.err.
pid_t
site_spawn_piped (site_t *site, int *in_p, char *const argv[])
{
    int fds[2];
    cr_assert_eq (pipe2 (fds, O_CLOEXEC), 0);   //  no other child keeps it open
    *in_p = fds[1];
    return s_spawn (site, fds[0], argv);
}

bool
site_submitted (site_t *site, const char *job, uint64_t count, const char *state)
{
    producer_status_t status;
    return site_status (site, job, &status) == 0 && status.submitted == count
        && !strcmp (status.state, state);
}
