//  test_results.c -- black-box tests of `drover results`: on the results
//  file a real `drover demo` run wrote, the table agrees with the demo's
//  and with the file; on a file of many hosts, jobs and kinds of lines,
//  the exact table (sorted by address, then port; UDP tagged; dead
//  letters and non-probe results counted) and JSON; standard input; errors.
#include <criterion/criterion.h>

#include "support.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static void
s_fini (void)
{
    support_kill_started ();
}

TestSuite (results, .fini = s_fini);

//  Run `drover ARGS...` to completion; its output (stdout and stderr) in
//  *text_p (caller frees); returns its exit status.
static int
s_drover (const char *dir, char **text_p, char *const argv[])
{
    char log[600];
    snprintf (log, sizeof log, "%s/drover.out", dir);
    unlink (log);
    pid_t pid = support_spawnv (log, argv);
    support_started (pid);
    int status = -1;
    cr_assert (SUPPORT_WAIT (support_exited (pid, &status), 240000), "%s did not finish",
               argv[0]);
    *text_p = support_slurp (log);
    cr_assert_not_null (*text_p);
    return WIFEXITED (status)? WEXITSTATUS (status): -1;
}

//  The open ports listed in a table's rows ("  PORT  open ..."), in order.
static size_t
s_open_rows (const char *text, int *ports, size_t max)
{
    size_t count = 0;
    for (const char *row = strstr (text, "\n  "); row && count < max;
         row = strstr (row + 1, "\n  ")) {
        int port, end = 0;
        if (sscanf (row + 3, "%d open%n", &port, &end) == 1 && end)
            ports[count++] = port;
    }
    return count;
}

Test (results, agrees_with_a_real_demo_run, .timeout = 300)
{
    char *dir = support_tmpdir ();
    support_started_dir (dir);
    char *demo;
    int rc = s_drover (dir, &demo, (char *[]) { "demo", "--ports", "20100-20163", "--keep",
                                                NULL });
    cr_assert_eq (rc, 0, "demo failed:\n%s", demo);
    const char *kept = strstr (demo, "kept in ");
    cr_assert_not_null (kept, "%s", demo);
    char *demo_dir = strndup (kept + 8, strcspn (kept + 8, "\n"));
    char results[600];
    snprintf (results, sizeof results, "%s/results.jsonl", demo_dir);

    char *table;
    rc = s_drover (dir, &table, (char *[]) { "results", "demo-scan", "--output", results,
                                             NULL });
    cr_expect_eq (rc, 0, "%s", table);
    cr_expect_not_null (strstr (table, "open ports on 127.0.0.1:\n  PORT   STATE"), "%s", table);
    //  The same open ports as the demo printed, ascending, and as many as
    //  the file's open results.
    int from_demo[64], from_results[64];
    size_t demo_count = s_open_rows (demo, from_demo, 64);
    size_t count = s_open_rows (table, from_results, 64);
    cr_expect_geq (demo_count, 1, "%s", demo);
    cr_expect_eq (count, demo_count, "demo:\n%s\nresults:\n%s", demo, table);
    cr_expect_eq (count, support_count_text (results, "\"state\":\"open\""));
    for (size_t i = 0; i < count && i < demo_count; i++) {
        cr_expect_eq (from_results[i], from_demo[i]);
        cr_expect (i == 0 || from_results[i] > from_results[i - 1]);
    }
    char want[128];
    snprintf (want, sizeof want, "job demo-scan: 64 results: %zu open, %zu closed", count,
              64 - count);
    cr_expect_not_null (strstr (table, want), "%s", table);

    char *json;
    rc = s_drover (dir, &json, (char *[]) { "results", "demo-scan", "--output", results,
                                            "--json", NULL });
    cr_expect_eq (rc, 0);
    snprintf (want, sizeof want, "{\"job\":\"demo-scan\",\"results\":64,\"open\":%zu,", count);
    cr_expect_eq (strncmp (json, want, strlen (want)), 0, "%s", json);
    snprintf (want, sizeof want, "{\"port\":%d,\"protocol\":\"tcp\",\"state\":\"open\",",
              from_demo[0]);
    cr_expect_not_null (strstr (json, want), "%s", json);
    free (json);
    free (table);
    free (demo);
    support_rmdir (&demo_dir);
    support_rmdir (&dir);
}

//  Results as the sink writes them, of several jobs and hosts.
static const char *s_fixture =
    "{\"job\":\"scan\",\"tuple\":1,\"attempt\":1,\"agent\":\"a\",\"status\":\"ok\","
    "\"input\":[\"10.0.0.20\",443],\"output\":{\"host\":\"10.0.0.20\",\"port\":443,"
    "\"state\":\"open\",\"ms\":1.25}}\n"
    "{\"job\":\"scan\",\"tuple\":2,\"attempt\":1,\"agent\":\"a\",\"status\":\"ok\","
    "\"input\":[\"10.0.0.3\",22],\"output\":{\"host\":\"10.0.0.3\",\"port\":22,"
    "\"state\":\"open\",\"ms\":0.5}}\n"
    "{\"job\":\"scan\",\"tuple\":3,\"attempt\":1,\"agent\":\"b\",\"status\":\"ok\","
    "\"input\":[\"10.0.0.3\",80],\"output\":{\"host\":\"10.0.0.3\",\"port\":80,"
    "\"state\":\"closed\",\"ms\":0.1,\"error\":\"Connection refused\"}}\n"
    "{\"job\":\"scan\",\"tuple\":4,\"attempt\":1,\"agent\":\"b\",\"status\":\"ok\","
    "\"input\":[\"2001:db8::1\",53,\"udp\"],\"output\":{\"host\":\"2001:db8::1\","
    "\"port\":53,\"state\":\"open\"}}\n"
    "{\"job\":\"scan\",\"tuple\":5,\"attempt\":3,\"agent\":\"b\",\"status\":\"failed\","
    "\"input\":[\"10.0.0.9\",25],\"error\":\"tcp-probe: cannot resolve\"}\n"
    "{\"job\":\"other\",\"tuple\":1,\"attempt\":1,\"agent\":\"a\",\"status\":\"ok\","
    "\"input\":[\"10.0.0.1\",1],\"output\":{\"host\":\"10.0.0.1\",\"port\":1,"
    "\"state\":\"open\"}}\n"
    "not json at all\n"
    "{\"job\":\"scan\",\"tuple\":6,\"attempt\":1,\"agent\":\"a\",\"status\":\"ok\","
    "\"input\":[\"db.example\",5432],\"output\":{\"host\":\"db.example\",\"port\":5432,"
    "\"state\":\"open\",\"ms\":2}}\n"
    "{\"job\":\"scan\",\"tuple\":7,\"attempt\":1,\"agent\":\"a\",\"status\":\"ok\","
    "\"input\":[\"10.0.0.20\",8080],\"output\":[\"10.0.0.20\",8080]}\n"
    "{\"job\":\"scan\",\"tuple\":8,\"attempt\":1,\"agent\":\"a\",\"status\":\"ok\","
    "\"input\":[\"10.0.0.20\",21],\"output\":{\"state\":\"filtered\",\"ms\":500.0}}\n"
    "{\"job\":\"scan\",\"tuple\":9,\"attempt\":1,\"agent\":\"a\",\"status\":\"ok\","
    "\"input\":[\"10.0.0.20\",443],\"output\":{\"host\":\"10.0.0.20\",\"port\":443,"
    "\"state\":\"open\",\"ms\":3.0}}\n";

static const char *s_table =
    "open ports on 10.0.0.3:\n"
    "  PORT   STATE          TIME\n"
    "  22     open       0.500 ms\n"
    "\n"
    "open ports on 10.0.0.20:\n"
    "  PORT   STATE          TIME\n"
    "  443    open       1.250 ms\n"
    "\n"
    "open ports on 2001:db8::1:\n"
    "  PORT   STATE          TIME\n"
    "  53/udp open\n"
    "\n"
    "open ports on db.example:\n"
    "  PORT   STATE          TIME\n"
    "  5432   open       2.000 ms\n"
    "\n"
    "job scan: 9 results: 5 open, 1 closed, 1 filtered, 1 failed, 1 without a state\n";

static char *
s_write_fixture (const char *dir)
{
    char *path = malloc (600);
    snprintf (path, 600, "%s/results.jsonl", dir);
    FILE *file = fopen (path, "w");
    cr_assert_not_null (file);
    fputs (s_fixture, file);
    fclose (file);
    return path;
}

Test (results, many_hosts_sorted_with_exact_counts)
{
    char *dir = support_tmpdir ();
    char *path = s_write_fixture (dir);
    char *text;
    cr_expect_eq (s_drover (dir, &text, (char *[]) { "results", "scan", "-o", path, NULL }), 0);
    cr_expect_str_eq (text, s_table);
    free (text);
    cr_expect_eq (s_drover (dir, &text, (char *[]) { "results", "scan", "-o", path, "--all",
                                                     NULL }), 0);
    cr_expect_not_null (strstr (text, "ports on 10.0.0.3:\n  PORT   STATE          TIME\n"
                                      "  22     open       0.500 ms\n"
                                      "  80     closed     0.100 ms\n"), "%s", text);
    cr_expect_not_null (strstr (text, "ports on 10.0.0.20:\n  PORT   STATE          TIME\n"
                                      "  21     filtered 500.000 ms\n"
                                      "  443    open       1.250 ms\n"), "%s", text);
    free (text);
    cr_expect_eq (s_drover (dir, &text, (char *[]) { "results", "scan", "-o", path, "--json",
                                                     NULL }), 0);
    cr_expect_str_eq (text,
        "{\"job\":\"scan\",\"results\":9,\"open\":5,\"closed\":1,\"filtered\":1,\"failed\":1,"
        "\"stateless\":1,\"hosts\":["
        "{\"host\":\"10.0.0.3\",\"ports\":[{\"port\":22,\"protocol\":\"tcp\",\"state\":\"open\","
        "\"ms\":0.500}]},"
        "{\"host\":\"10.0.0.20\",\"ports\":[{\"port\":443,\"protocol\":\"tcp\",\"state\":\"open\","
        "\"ms\":1.250}]},"
        "{\"host\":\"2001:db8::1\",\"ports\":[{\"port\":53,\"protocol\":\"udp\",\"state\":\"open\"}]},"
        "{\"host\":\"db.example\",\"ports\":[{\"port\":5432,\"protocol\":\"tcp\",\"state\":\"open\","
        "\"ms\":2.000}]}]}\n");
    free (text);
    free (path);
    support_rmdir (&dir);
}

Test (results, standard_input_and_errors)
{
    char *dir = support_tmpdir ();
    char *path = s_write_fixture (dir);
    //  The default is standard input, where `drover sink` writes by default.
    char command[2048], out[700];
    snprintf (out, sizeof out, "%s/stdin.out", dir);
    snprintf (command, sizeof command, "'%s' results scan < '%s' > '%s' 2>&1", DROVER_BIN, path,
              out);
    cr_expect_eq (system (command), 0);
    char *text = support_slurp (out);
    cr_expect_str_eq (text, s_table);
    free (text);
    cr_expect_eq (s_drover (dir, &text, (char *[]) { "results", "nope", "-o", path, NULL }), 1);
    cr_expect_not_null (strstr (text, "no results of job 'nope'"), "%s", text);
    free (text);
    cr_expect_eq (s_drover (dir, &text, (char *[]) { "results", "scan", "-o", "/nonexistent",
                                                     NULL }), 1);
    cr_expect_not_null (strstr (text, "cannot read /nonexistent"), "%s", text);
    free (text);
    cr_expect_eq (s_drover (dir, &text, (char *[]) { "results", NULL }), 2);
    cr_expect_not_null (strstr (text, "which job?"), "%s", text);
    free (text);
    free (path);
    support_rmdir (&dir);
}
