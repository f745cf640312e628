//  support_jobsite.c -- see support_jobsite.h.
#include "support_jobsite.h"
#include "support.h"
#include "common/json_read.h"
#include "common/msgpack_map.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define RUN_TIMEOUT_MS 30000

void
jobsite_start (jobsite_t *site, bool workers, int threads, ...)
{
    memset (site, 0, sizeof *site);
    site->dir = support_tmpdir ();
    cr_assert (site->dir);
    support_started_dir (site->dir);
    snprintf (site->frontend, sizeof site->frontend, "%s", support_endpoint ());
    snprintf (site->intake, sizeof site->intake, "%s", support_endpoint ());
    snprintf (site->backend, sizeof site->backend, "%s", support_endpoint ());
    snprintf (site->sink, sizeof site->sink, "%s", support_endpoint ());
    snprintf (site->results, sizeof site->results, "%s/results.jsonl", site->dir);
    char log[600], data[600];
    snprintf (log, sizeof log, "%s/broker.log", site->dir);
    snprintf (data, sizeof data, "%s/broker-data", site->dir);
    site->broker = support_spawn (log, "broker", "--frontend", site->frontend, "--intake",
                                  site->intake, "--backend", site->backend, "--data-dir",
                                  data, NULL);
    cr_assert_gt (site->broker, 0);
    support_started (site->broker);
    //  Ready before anything talks to it, and said so if it never gets there
    //  (a port taken, a store that will not open).
    bool ready = SUPPORT_WAIT (support_count_text (log, "broker ready") > 0
                               || support_exited (site->broker, NULL), 30000);
    cr_assert (ready && support_count_text (log, "broker ready") > 0,
               "the broker is not ready; its log:\n%s", support_slurp (log));
    if (!workers)
        return;
    char *argv[32] = { "sink", "--bind", site->sink, "--output", site->results };
    int argc = 5;
    va_list ap;
    va_start (ap, threads);
    for (char *arg; argc < 30 && (arg = va_arg (ap, char *)); )
        argv[argc++] = arg;
    va_end (ap);
    snprintf (log, sizeof log, "%s/sink.log", site->dir);
    site->sink_pid = support_spawnv (log, argv);
    char count[16];
    snprintf (count, sizeof count, "%d", threads);
    snprintf (log, sizeof log, "%s/agent.log", site->dir);
    site->agent = support_spawn (log, "agent", "--broker", site->backend, "--name", "agent-1",
                                 "--processes", "1", "--threads", count,
                                 "--label", "zone=dmz,site=dc1", NULL);
    cr_assert (site->sink_pid > 0 && site->agent > 0);
    support_started (site->sink_pid);
    support_started (site->agent);
}

void
jobsite_stop (jobsite_t *site)
{
    pid_t pids[] = { site->agent, site->sink_pid, site->broker };
    for (size_t i = 0; i < 3; i++)
        if (pids[i] > 0)
            cr_expect_eq (support_stop (pids[i], SIGTERM, 10000), 0, "exit 0 on SIGTERM; "
                          "logs in %s", site->dir);
    support_rmdir (&site->dir);
}

jobsite_run_t
jobsite_run (jobsite_t *site, const char *arg, ...)
{
    char *argv[64] = { (char *) DROVER_BIN };
    int argc = 1;
    va_list ap;
    va_start (ap, arg);
    for (; argc < 62 && arg; arg = va_arg (ap, const char *))
        argv[argc++] = (char *) arg;
    va_end (ap);
    char out_path[600], err_path[600];
    snprintf (out_path, sizeof out_path, "%s/run.out", site->dir);
    snprintf (err_path, sizeof err_path, "%s/run.err", site->dir);
    pid_t pid = fork ();
    if (pid == 0) {
        int in = open ("/dev/null", O_RDONLY);
        int out = open (out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open (err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2 (in, STDIN_FILENO);
        dup2 (out, STDOUT_FILENO);
        dup2 (err, STDERR_FILENO);
        execv (DROVER_BIN, argv);
        _exit (127);
    }
    cr_assert_gt (pid, 0);
    jobsite_run_t run = { .status = -1 };
    if (!SUPPORT_WAIT (support_exited (pid, &run.status), RUN_TIMEOUT_MS)) {
        kill (pid, SIGKILL);
        waitpid (pid, &run.status, 0);
        cr_assert_fail ("drover %s still ran after %d ms", argv[1], RUN_TIMEOUT_MS);
    }
    run.out = support_slurp (out_path);
    run.err = support_slurp (err_path);
    cr_assert (run.out && run.err);
    return run;
}

void
jobsite_run_free (jobsite_run_t *run)
{
    free (run->out);
    free (run->err);
}

bool
jobsite_exited_with (const jobsite_run_t *run, int code)
{
    return WIFEXITED (run->status) && WEXITSTATUS (run->status) == code;
}

void
jobsite_submit (jobsite_t *site, const char *job, const char *handler, int count, const char *value)
{
    char path[600];
    snprintf (path, sizeof path, "%s/%s.tuples", site->dir, job);
    FILE *file = fopen (path, "w");
    cr_assert (file);
    for (int i = 0; i < count; i++)
        fprintf (file, "[%s]\n", value);
    fclose (file);
    jobsite_run_t run = jobsite_run (site, "submit", "--broker", site->frontend, "--job", job,
                               "--handler", handler, "--sink", site->sink,
                               "--max-attempts", "1", path, NULL);
    cr_assert (jobsite_exited_with (&run, 0), "submit %s: %s", job, run.err);
    jobsite_run_free (&run);
}

bool
jobsite_parse_json (const char *text, size_t size, jobsite_json_t *json)
{
    msgpack_sbuffer_init (&json->buffer);
    msgpack_unpacked_init (&json->unpacked);
    char err[128];
    return json_to_msgpack (text, size, &json->buffer, err, sizeof err) == 0
        && msgpack_unpack_next (&json->unpacked, json->buffer.data, json->buffer.size, NULL)
           == MSGPACK_UNPACK_SUCCESS;
}

void
jobsite_json_free (jobsite_json_t *json)
{
    msgpack_unpacked_destroy (&json->unpacked);
    msgpack_sbuffer_destroy (&json->buffer);
}

uint64_t
jobsite_uint (const msgpack_object *map, const char *key)
{
    const msgpack_object *value = msgpack_map_find (map, key);
    return value && value->type == MSGPACK_OBJECT_POSITIVE_INTEGER? value->via.u64: 0;
}

bool
jobsite_has (const msgpack_object *map, const char *key)
{
    return msgpack_map_find (map, key) != NULL;
}

bool
jobsite_str_is (const msgpack_object *map, const char *key, const char *value)
{
    const msgpack_object *str = msgpack_map_find (map, key);
    return str && str->type == MSGPACK_OBJECT_STR && str->via.str.size == strlen (value)
        && !memcmp (str->via.str.ptr, value, str->via.str.size);
}
