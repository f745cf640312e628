//  test_dashboard.c -- the broker's dashboard in headless Chromium
//  (Debian's chromium, driven by tests/dashboard/dashboard.mjs over the
//  DevTools protocol): a broker with a token, a sink and two agents run a
//  job of slow tuples, a finished job and one whose tuples all fail; the
//  page, opened with ?token=, shows the slow job's progress moving without
//  a reload, and a screenshot goes to build/test-output/dashboard.png.
#include <criterion/criterion.h>

#include "support.h"
#include "support_http.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NODE        "/usr/bin/node"
#define CHROMIUM    "/usr/bin/chromium"
#define DRIVER      DROVER_SOURCE_DIR "/tests/dashboard/dashboard.mjs"
#define SCREENSHOT  DROVER_TEST_OUTPUT "/dashboard.png"
#define TOKEN       "dashboard-test-token-0123"
#define WAIT_MS     20000

static void
s_cleanup (void)
{
    support_kill_started ();
}

TestSuite (dashboard, .fini = s_cleanup, .timeout = 300);

typedef struct {
    char *dir;
    char frontend[64], backend[64], sink[64];
    int port;
} site_t;

static pid_t
s_start (site_t *site, const char *name, char *const argv[])
{
    char log[512];
    snprintf (log, sizeof log, "%s/%s.log", site->dir, name);
    pid_t pid = support_spawnv (log, argv);
    cr_assert_gt (pid, 0);
    support_started (pid);
    return pid;
}

//  `drover submit` of count tuples (each the JSON text tuple) as job.
static void
s_submit (site_t *site, const char *job, const char *handler, const char *tuple, int count,
          const char *attempts)
{
    char path[512];
    snprintf (path, sizeof path, "%s/%s.jsonl", site->dir, job);
    FILE *file = fopen (path, "w");
    for (int i = 0; i < count; i++)
        fprintf (file, "%s\n", tuple);
    fclose (file);
    pid_t pid = s_start (site, "submit", (char *[]) { "submit", "--broker", site->frontend,
        "--job", (char *) job, "--handler", (char *) handler, "--sink", site->sink,
        "--max-attempts", (char *) attempts, path, NULL });
    int status = -1;
    cr_assert (SUPPORT_WAIT (support_exited (pid, &status), WAIT_MS));
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "submit %s failed", job);
}

static void
s_site_start (site_t *site)
{
    site->dir = support_tmpdir ();
    support_started_dir (site->dir);
    snprintf (site->frontend, sizeof site->frontend, "%s", support_endpoint ());
    snprintf (site->backend, sizeof site->backend, "%s", support_endpoint ());
    snprintf (site->sink, sizeof site->sink, "%s", support_endpoint ());
    site->port = support_free_port ();
    char http[32], output[512];
    snprintf (http, sizeof http, "127.0.0.1:%d", site->port);
    snprintf (output, sizeof output, "%s/results.jsonl", site->dir);
    s_start (site, "broker", (char *[]) { "broker", "--store", "memory", "--frontend",
        site->frontend, "--intake", (char *) support_endpoint (), "--backend", site->backend,
        "--retry-backoff-ms", "50", "--http", http, "--http-token", TOKEN, NULL });
    s_start (site, "sink", (char *[]) { "sink", "--store", "memory", "--bind", site->sink,
        "--output", output, NULL });
    const char *names[] = { "agent-east", "agent-west" };
    for (int i = 0; i < 2; i++)
        s_start (site, names[i], (char *[]) { "agent", "--broker", site->backend, "--name",
            (char *) names[i], "--processes", "1", "--threads", "1", "--slots", "2", NULL });
    cr_assert (SUPPORT_WAIT (support_http_get (site->port, "/readyz", NULL, NULL) == 200,
                             WAIT_MS));
}

//  node DRIVER URL JOB SCREENSHOT; its exit status, its output in *out_p.
static int
s_driver (site_t *site, const char *job, char **out_p)
{
    char url[128], out[512];
    snprintf (url, sizeof url, "http://127.0.0.1:%d/?token=%s", site->port, TOKEN);
    snprintf (out, sizeof out, "%s/driver.out", site->dir);
    pid_t pid = fork ();
    cr_assert_geq (pid, 0);
    if (pid == 0) {
        int fd = open (out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2 (fd, STDOUT_FILENO);
        dup2 (fd, STDERR_FILENO);
        execl (NODE, NODE, DRIVER, url, job, SCREENSHOT, (char *) NULL);
        _exit (127);
    }
    support_started (pid);
    int status = -1;
    cr_assert (SUPPORT_WAIT (support_exited (pid, &status), 120000), "the driver hangs");
    *out_p = support_slurp (out);
    return WIFEXITED (status)? WEXITSTATUS (status): -1;
}

Test (dashboard, shows_a_running_job_move)
{
    cr_assert_eq (access (CHROMIUM, X_OK), 0, CHROMIUM " is missing: run scripts/deps.sh --test");
    cr_assert_eq (access (NODE, X_OK), 0, NODE " is missing: run scripts/deps.sh --test");
    mkdir (DROVER_TEST_OUTPUT, 0755);
    unlink (SCREENSHOT);
    site_t site;
    s_site_start (&site);
    s_submit (&site, "checksums", "sha256", "[\"x\"]", 40, "3");
    s_submit (&site, "always-fails", "fail", "[1]", 3, "2");
    //  Long enough to still run however slowly Chromium starts: the test
    //  ends when the driver does.
    s_submit (&site, "port-scan", "sleep", "[400]", 150, "3");
    char *out = NULL;
    int code = s_driver (&site, "port-scan", &out);
    cr_expect_eq (code, 0, "the driver said:\n%s", out);
    int first = -1, second = -1;
    const char *json = out? strstr (out, "{\"first\":"): NULL;
    cr_expect (json && sscanf (json, "{\"first\":%d,\"second\":%d", &first, &second) == 2,
               "%s", out);
    cr_expect (first >= 0 && second > first, "progress %d then %d", first, second);
    cr_expect (strstr (out, "\"status\":\"live"), "%s", out);
    free (out);
    struct stat st;
    cr_assert_eq (stat (SCREENSHOT, &st), 0, "no screenshot");
    cr_expect_gt (st.st_size, 10000);
    char *png = support_slurp (SCREENSHOT);
    cr_expect (png && !memcmp (png, "\x89PNG", 4));
    free (png);
    support_kill_started ();
    support_rmdir (&site.dir);
}
