//  test_bench_smoke.c -- the benchmark harness in miniature (bench/README.md):
//  drover-bench with every system at tiny sizes, one round.  Not a
//  measurement: it checks that the table has every row with a number in
//  it, that each drover row saw every result exactly once, and that the
//  ratios against the targets were computed.  gearman and nmap may be
//  missing here; their rows must then say "skipped".
#include "support.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define RUN_TIMEOUT_MS 600000       //  under ASan on a loaded 2-core machine

//  The table's line that starts with label (then at least two spaces).
static const char *
s_row (const char *table, const char *label)
{
    size_t len = strlen (label);
    for (const char *at = table; (at = strstr (at, label)); at += len)
        if ((at == table || at[-1] == '\n') && !strncmp (at + len, "  ", 2))
            return at;
    return NULL;
}

//  True if row's line holds word.
static bool
s_line_has (const char *row, const char *word)
{
    const char *at = strstr (row, word), *eol = strchr (row, '\n');
    return at && (!eol || at < eol);
}

//  The n-th number (from 0) after a row's label, or -1.
static double
s_field (const char *row, const char *label, int n)
{
    const char *at = row + strlen (label);
    double value = -1;
    for (int i = 0; i <= n; i++) {
        char *end;
        while (*at == ' ' || *at == '|' || *at == '%')
            at++;
        value = strtod (at, &end);
        if (end == at)
            return -1;
        at = end;
    }
    return value;
}

static char *
s_run_bench (const char *dir)
{
    char out[512];
    snprintf (out, sizeof out, "%s/table.txt", dir);
    pid_t pid = fork ();
    if (pid == 0) {
        int fd = open (out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2 (fd, STDOUT_FILENO);
        execl (DROVER_BENCH_BIN, "drover-bench", "--tuples", "20000", "--warmup", "2000",
               "--light", "50", "--rounds", "1", "--scan-ports", "1-1024", "--timeout", "240",
               (char *) NULL);
        _exit (127);
    }
    cr_assert (pid > 0);
    int status = 0;
    bool exited = SUPPORT_WAIT (support_exited (pid, &status), RUN_TIMEOUT_MS);
    if (!exited)
        support_stop (pid, SIGTERM, 20000);
    char *table = support_slurp (out);
    cr_assert (exited, "drover-bench did not finish in %d s", RUN_TIMEOUT_MS / 1000);
    cr_assert (table);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0,
               "drover-bench failed (status %d):\n%s", status, table);
    return table;
}

//  The header says whether loopback's connections were tracked.
static void
s_check_header (const char *table)
{
    const char *line = strstr (table, "\nconnection tracking of loopback traffic: ");
    cr_assert (line, "no connection tracking line:\n%s", table);
    line += strlen ("\nconnection tracking of loopback traffic: ");
    cr_expect (!strncmp (line, "on at the start", 15) || !strncmp (line, "off at the start", 16)
               || !strncmp (line, "unknown at the start", 20), "%.80s", line);
}

static void
s_check_load_rows (const char *table)
{
    const char *under_load = strstr (table, "\nunder load: tuples/s");
    cr_assert (under_load, "no table under load:\n%s", table);
    const char *labels[] = { "raw zmq (1/msg)", "raw zmq (1024/msg)", "ceiling (1024/msg)",
                             "ceiling plain (1024/msg)", "drover default, 1 agent",
                             "drover default, 2 agents", "drover default, P=0",
                             "drover memory/plain",
                             "drover memory/plain, P=0", "gearman (1/job)" };
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++) {
        const char *row = s_row (under_load, labels[i]);
        cr_assert (row, "no row '%s':\n%s", labels[i], table);
        if (!strncmp (labels[i], "gearman", 7) && s_line_has (row, "skipped: "))
            continue;               //  not installed here
        //  tuples, tuples/s, spread, p50, p90, p99, max, dup
        cr_expect_eq (s_field (row, labels[i], 0), 20000, "row '%s' tuples", labels[i]);
        cr_expect_gt (s_field (row, labels[i], 1), 0, "row '%s' tuples/s", labels[i]);
        cr_expect_gt (s_field (row, labels[i], 3), 0, "row '%s' p50", labels[i]);
        cr_expect_eq (s_field (row, labels[i], 7), 0, "row '%s' saw results twice", labels[i]);
    }
}

static void
s_check_cpu_rows (const char *table)
{
    const char *cpu = strstr (table, "\nunder load: CPU us per tuple");
    cr_assert (cpu, "no CPU table:\n%s", table);
    const char *labels[] = { "drover default, 1 agent", "drover default, 2 agents",
                             "drover memory/plain" };
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++) {
        const char *row = s_row (cpu, labels[i]);
        cr_assert (row, "no CPU row '%s':\n%s", labels[i], table);
        //  broker, agent, workers, sink, system: each drover process
        //  worked.  CPU is read in ns, so even the lightest (a broker at
        //  0.5 us a tuple: 10 ms over the pass) shows.
        for (int field = 0; field < 5; field++)
            cr_expect_gt (s_field (row, labels[i], field), 0, "'%s' CPU field %d:\n%s",
                          labels[i], field, cpu);
    }
    cr_expect (s_row (cpu, "ceiling (1024/msg)"), "no CPU row for the ceiling");
}

static void
s_check_light_and_scan (const char *table)
{
    const char *light = strstr (table, "\none tuple in flight");
    cr_assert (light, "no one-in-flight table:\n%s", table);
    const char *labels[] = { "raw zmq", "ceiling", "drover default, 1 agent",
                             "drover memory/plain" };
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++) {
        const char *row = s_row (light, labels[i]);
        cr_assert (row, "no one-in-flight row '%s':\n%s", labels[i], table);
        cr_expect_gt (s_field (row, labels[i], 0), 0, "'%s' one in flight", labels[i]);
    }
    const char *scan = strstr (table, "\nscan of 127.0.0.1 ports 1-1024");
    cr_assert (scan, "no scan table:\n%s", table);
    const char *drover = s_row (scan, "drover (2 agents), submit --wait");
    cr_assert (drover, "no drover scan row:\n%s", table);
    cr_expect_gt (s_field (drover, "drover (2 agents), submit --wait", 0), 0);
    cr_expect (strstr (scan, "results seen twice: 0\n"), "the scan saw results twice");
    const char *nmap = s_row (scan, "nmap -sT -n -Pn -T5");
    cr_assert (nmap, "no nmap row:\n%s", table);
    cr_expect (s_line_has (nmap, "skipped: ") || s_field (nmap, "nmap -sT -n -Pn -T5", 0) > 0,
               "nmap neither skipped nor timed:\n%s", table);
}

static void
s_check_ratios (const char *table)
{
    const char *ratios = strstr (table, "\nratios (median over rounds");
    cr_assert (ratios, "no ratios:\n%s", table);
    const char *targets[] = { "tuples/s: drover default, 1 agent / ceiling",
                              "tuples/s: drover memory/plain / raw zmq (batched)",
                              "CPU/tuple: drover default, 1 agent / ceiling",
                              "one in flight p50: drover default, 1 agent / raw zmq",
                              "one in flight p50: ceiling / raw zmq",
                              "one in flight p50: drover default, 1 agent / ceiling" };
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        const char *row = s_row (ratios, targets[i]);
        cr_assert (row, "no ratio '%s':\n%s", targets[i], table);
        cr_expect_gt (s_field (row, targets[i], 0), 0, "ratio '%s' not measured", targets[i]);
    }
    cr_expect (s_row (ratios, "scan: nmap seconds / drover seconds (submit --wait)"));
    //  Differences of p50s may be below 0 when a round is noisy, but
    //  every round measured both rows: a number, not "-".
    const char *differences[] = { "one in flight p50 ms: ceiling - ceiling plain",
                                  "one in flight p50 ms: drover default - drover memory/plain" };
    for (size_t i = 0; i < sizeof differences / sizeof differences[0]; i++) {
        const char *row = s_row (ratios, differences[i]);
        cr_assert (row, "no difference '%s':\n%s", differences[i], table);
        cr_expect_not (s_line_has (row, " -\n"), "difference '%s' not measured", differences[i]);
    }
}

Test (bench_smoke, every_row_with_numbers, .timeout = RUN_TIMEOUT_MS / 1000 + 60)
{
#ifndef DROVER_BENCH_BIN
    cr_skip_test ("drover-bench is not built in this tree");
#else
    char *dir = support_tmpdir ();
    char *table = s_run_bench (dir);
    s_check_header (table);
    s_check_load_rows (table);
    s_check_cpu_rows (table);
    s_check_light_and_scan (table);
    s_check_ratios (table);
    free (table);
    support_rmdir (&dir);
#endif
}
