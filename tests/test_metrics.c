//  test_metrics.c -- unit tests of the Prometheus text rendering
//  (common/metrics.c): the exact text of counters, gauges and histograms,
//  label values from peers escaped as the exposition format says, samples
//  added twice summed, and the cap on a label's distinct values.
#include <criterion/criterion.h>

#include "common/metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { F_TOTAL, F_QUEUED, F_STATES, F_SECONDS };

static const metrics_family_t s_families[] = {
    [F_TOTAL] = { "x_total", METRICS_COUNTER, "Things done", { NULL } },
    [F_QUEUED] = { "x_queued", METRICS_GAUGE, "Waiting, per job", { "job" } },
    [F_STATES] = { "x_tuples_total", METRICS_COUNTER, "Per job and state", { "job", "state" } },
    [F_SECONDS] = { "x_seconds", METRICS_HISTOGRAM, "How long", { NULL } },
};

static metrics_t *
s_new (void)
{
    metrics_t *m = metrics_new (s_families, sizeof s_families / sizeof s_families[0]);
    cr_assert_not_null (m);
    return m;
}

//  The rendered text, checked to end in a newline; the caller frees.
static char *
s_render (metrics_t *m)
{
    size_t size = 0;
    char *text = metrics_render (m, &size);
    cr_assert_not_null (text);
    cr_assert_eq (size, strlen (text));
    cr_assert (size > 0 && text[size - 1] == '\n');
    return text;
}

Test (metrics, counters_and_gauges)
{
    metrics_t *m = s_new ();
    metrics_add (m, F_TOTAL, NULL, 42);
    metrics_add (m, F_QUEUED, (const char *[]) { "a" }, 3);
    metrics_add (m, F_QUEUED, (const char *[]) { "b" }, 0.25);
    metrics_add (m, F_QUEUED, (const char *[]) { "a" }, 4);      //  sums
    metrics_add (m, F_STATES, (const char *[]) { "a", "done" }, 9007199254740991.0);
    metrics_add (m, F_STATES, (const char *[]) { "a", "failed" }, 1e300);
    char *text = s_render (m);
    cr_expect_str_eq (text,
        "# HELP x_total Things done\n"
        "# TYPE x_total counter\n"
        "x_total 42\n"
        "# HELP x_queued Waiting, per job\n"
        "# TYPE x_queued gauge\n"
        "x_queued{job=\"a\"} 7\n"
        "x_queued{job=\"b\"} 0.25\n"
        "# HELP x_tuples_total Per job and state\n"
        "# TYPE x_tuples_total counter\n"
        "x_tuples_total{job=\"a\",state=\"done\"} 9007199254740991\n"
        "x_tuples_total{job=\"a\",state=\"failed\"} 1e+300\n"
        "# HELP x_seconds How long\n"
        "# TYPE x_seconds histogram\n");
    free (text);
    //  A new snapshot starts empty; the families stay.
    metrics_clear (m);
    metrics_add (m, F_TOTAL, NULL, 1);
    text = s_render (m);
    cr_expect (strstr (text, "x_total 1\n"));
    cr_expect_null (strstr (text, "x_queued{"));
    free (text);
    metrics_destroy (&m);
    cr_expect_null (m);
}

Test (metrics, label_values_escaped)
{
    metrics_t *m = s_new ();
    //  Job names come from producers: backslash, quote, newline, and a
    //  byte that is not UTF-8 (U+FFFD instead); valid UTF-8 stays.
    metrics_add (m, F_QUEUED, (const char *[]) { "a\\b\"c\nd\xff" "e" }, 1);
    metrics_add (m, F_QUEUED, (const char *[]) { "caf\xc3\xa9 } x=\"y\"" }, 2);
    metrics_add (m, F_QUEUED, (const char *[]) { "" }, 3);
    char *text = s_render (m);
    cr_expect (strstr (text, "x_queued{job=\"a\\\\b\\\"c\\nd\xef\xbf\xbd" "e\"} 1\n"), "%s", text);
    cr_expect (strstr (text, "x_queued{job=\"caf\xc3\xa9 } x=\\\"y\\\"\"} 2\n"), "%s", text);
    cr_expect (strstr (text, "x_queued{job=\"\"} 3\n"), "%s", text);
    //  Every sample is one line: an escaped newline cannot start another.
    size_t lines = 0;
    for (const char *c = text; *c; c++)
        lines += *c == '\n';
    cr_expect_eq (lines, 2 * 4 + 3);
    free (text);
    metrics_destroy (&m);
}

Test (metrics, help_escaped)
{
    static const metrics_family_t families[] = {
        { "y", METRICS_GAUGE, "a \\ and a\nnewline, \"quotes\" kept", { NULL } } };
    metrics_t *m = metrics_new (families, 1);
    metrics_add (m, 0, NULL, -1.5);
    char *text = s_render (m);
    cr_expect_str_eq (text,
        "# HELP y a \\\\ and a\\nnewline, \"quotes\" kept\n"
        "# TYPE y gauge\n"
        "y -1.5\n");
    free (text);
    metrics_destroy (&m);
}

Test (metrics, cap_sums_the_rest_into_other)
{
    metrics_t *m = s_new ();
    cr_assert_eq (metrics_cap (m, "job", 2), 0);
    //  Newest first, as the broker adds them: c and d are the older jobs.
    const char *jobs[] = { "a", "b", "c", "d" };
    for (int i = 0; i < 4; i++)
        metrics_add (m, F_QUEUED, &jobs[i], i + 1);
    for (int i = 0; i < 4; i++) {
        metrics_add (m, F_STATES, (const char *[]) { jobs[i], "done" }, 10 * (i + 1));
        metrics_add (m, F_STATES, (const char *[]) { jobs[i], "failed" }, 1);
    }
    cr_expect_eq (metrics_capped (m, "job"), 2);
    cr_expect_eq (metrics_capped (m, "state"), 0);
    char *text = s_render (m);
    cr_expect (strstr (text,
        "x_queued{job=\"a\"} 1\n"
        "x_queued{job=\"b\"} 2\n"
        "x_queued{job=\"_other\"} 7\n"), "%s", text);
    cr_expect (strstr (text,
        "x_tuples_total{job=\"a\",state=\"done\"} 10\n"
        "x_tuples_total{job=\"a\",state=\"failed\"} 1\n"
        "x_tuples_total{job=\"b\",state=\"done\"} 20\n"
        "x_tuples_total{job=\"b\",state=\"failed\"} 1\n"
        "x_tuples_total{job=\"_other\",state=\"done\"} 70\n"
        "x_tuples_total{job=\"_other\",state=\"failed\"} 2\n"), "%s", text);
    cr_expect_null (strstr (text, "job=\"c\""));
    free (text);
    //  Each snapshot admits afresh.
    metrics_clear (m);
    metrics_add (m, F_QUEUED, &jobs[3], 5);
    cr_expect_eq (metrics_capped (m, "job"), 0);
    text = s_render (m);
    cr_expect (strstr (text, "x_queued{job=\"d\"} 5\n"), "%s", text);
    free (text);
    metrics_destroy (&m);
}

Test (metrics, many_values_stay_bounded)
{
    metrics_t *m = s_new ();
    metrics_cap (m, "job", 100);
    char name[32];
    for (int i = 0; i < 100000; i++) {
        snprintf (name, sizeof name, "job-%d", i);
        const char *value = name;
        cr_assert_eq (metrics_add (m, F_QUEUED, &value, 1), 0);
    }
    cr_expect_eq (metrics_capped (m, "job"), 100000 - 100);
    char *text = s_render (m);
    size_t samples = 0;
    for (const char *line = text; line; line = strchr (line, '\n')) {
        line += *line == '\n';
        samples += !strncmp (line, "x_queued{", 9);
    }
    cr_expect_eq (samples, 101);
    cr_expect (strstr (text, "x_queued{job=\"_other\"} 99900\n"));
    free (text);
    metrics_destroy (&m);
}

Test (metrics, histogram)
{
    static const double bounds[] = { 0.1, 1, 2.5 };
    metrics_histogram_t h, more;
    metrics_histogram_init (&h, bounds, 3);
    metrics_histogram_init (&more, bounds, 3);
    metrics_histogram_observe (&h, 0.05);
    metrics_histogram_observe (&h, 0.1);        //  le is inclusive
    metrics_histogram_observe (&h, 2);
    metrics_histogram_observe (&more, 7);
    cr_assert_eq (metrics_histogram_add (&h, &more), 0);
    metrics_t *m = s_new ();
    cr_assert_eq (metrics_add_histogram (m, F_SECONDS, NULL, &h), 0);
    cr_expect_eq (metrics_add (m, F_SECONDS, NULL, 1), -EINVAL);
    cr_expect_eq (metrics_add_histogram (m, F_TOTAL, NULL, &h), -EINVAL);
    cr_expect_eq (metrics_add (m, 99, NULL, 1), -EINVAL);
    char *text = s_render (m);
    cr_expect (strstr (text,
        "# TYPE x_seconds histogram\n"
        "x_seconds_bucket{le=\"0.1\"} 2\n"
        "x_seconds_bucket{le=\"1\"} 2\n"
        "x_seconds_bucket{le=\"2.5\"} 3\n"
        "x_seconds_bucket{le=\"+Inf\"} 4\n"
        "x_seconds_sum 9.15\n"
        "x_seconds_count 4\n"), "%s", text);
    free (text);
    //  Histograms of other buckets do not add up.
    static const double other[] = { 1 };
    metrics_histogram_init (&more, other, 1);
    cr_expect_eq (metrics_histogram_add (&h, &more), -EINVAL);
    metrics_destroy (&m);
}
