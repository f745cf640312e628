//  metrics.c -- see metrics.h.  A sample is keyed by its label text as
//  rendered (job="a",state="done"): escaping is one-to-one, so equal text
//  means equal labels, and adding to a sample that exists is a lookup.
#include "common/metrics.h"
#include "common/utf8.h"

#include <czmq.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *labels;               //  rendered label pairs, "" for none
    double value;
    metrics_histogram_t histogram;
} series_t;

typedef struct {
    series_t *series;           //  in the order first added
    size_t count, capacity;
    zhashx_t *index;            //  labels -> position + 1
} samples_t;

typedef struct {
    const char *label;
    size_t max;
    zhashx_t *kept;             //  values with a series of their own
    zhashx_t *others;           //  values summed into METRICS_OTHER
} cap_t;

struct metrics {
    const metrics_family_t *families;
    size_t count;
    samples_t *samples;         //  one per family
    cap_t caps[METRICS_LABELS_MAX];
    size_t cap_count;
};

//  ---------------------------------------------------------------------
//  Histograms

void
metrics_histogram_init (metrics_histogram_t *h, const double *bounds, size_t count)
{
    *h = (metrics_histogram_t) {
        .bounds = bounds,
        .bound_count = count < METRICS_BUCKETS_MAX? count: METRICS_BUCKETS_MAX };
}

void
metrics_histogram_observe (metrics_histogram_t *h, double value)
{
    size_t bucket = 0;
    while (bucket < h->bound_count && value > h->bounds[bucket])
        bucket++;
    h->buckets[bucket]++;
    h->count++;
    h->sum += value;
}

int
metrics_histogram_add (metrics_histogram_t *sum, const metrics_histogram_t *h)
{
    if (!sum->bounds)
        metrics_histogram_init (sum, h->bounds, h->bound_count);
    if (sum->bound_count != h->bound_count)
        return -EINVAL;
    for (size_t i = 0; i <= sum->bound_count; i++)
        sum->buckets[i] += h->buckets[i];
    sum->count += h->count;
    sum->sum += h->sum;
    return 0;
}

//  ---------------------------------------------------------------------
//  Life cycle

static zhashx_t *
s_set_new (void)
{
    zhashx_t *set = zhashx_new ();
    if (set)
        zhashx_set_destructor (set, NULL);      //  items are not pointers
    return set;
}

metrics_t *
metrics_new (const metrics_family_t *families, size_t count)
{
    metrics_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->families = families;
    self->count = count;
    self->samples = calloc (count? count: 1, sizeof *self->samples);
    if (!self->samples) {
        free (self);
        return NULL;
    }
    for (size_t i = 0; i < count; i++)
        if (!(self->samples[i].index = s_set_new ())) {
            metrics_destroy (&self);
            return NULL;
        }
    return self;
}

void
metrics_destroy (metrics_t **self_p)
{
    metrics_t *self = *self_p;
    if (!self)
        return;
    metrics_clear (self);
    for (size_t i = 0; i < self->count; i++) {
        free (self->samples[i].series);
        zhashx_destroy (&self->samples[i].index);
    }
    for (size_t i = 0; i < self->cap_count; i++) {
        zhashx_destroy (&self->caps[i].kept);
        zhashx_destroy (&self->caps[i].others);
    }
    free (self->samples);
    free (self);
    *self_p = NULL;
}

int
metrics_cap (metrics_t *self, const char *label, size_t max)
{
    if (self->cap_count == METRICS_LABELS_MAX || !label)
        return -EINVAL;
    cap_t *cap = &self->caps[self->cap_count];
    *cap = (cap_t) { label, max, s_set_new (), s_set_new () };
    if (!cap->kept || !cap->others) {
        zhashx_destroy (&cap->kept);
        zhashx_destroy (&cap->others);
        return -ENOMEM;
    }
    self->cap_count++;
    return 0;
}

size_t
metrics_capped (const metrics_t *self, const char *label)
{
    for (size_t i = 0; i < self->cap_count; i++)
        if (!strcmp (self->caps[i].label, label))
            return zhashx_size (self->caps[i].others);
    return 0;
}

void
metrics_clear (metrics_t *self)
{
    for (size_t i = 0; i < self->count; i++) {
        samples_t *samples = &self->samples[i];
        for (size_t j = 0; j < samples->count; j++)
            free (samples->series[j].labels);
        samples->count = 0;
        zhashx_purge (samples->index);
    }
    for (size_t i = 0; i < self->cap_count; i++) {
        zhashx_purge (self->caps[i].kept);
        zhashx_purge (self->caps[i].others);
    }
}

//  ---------------------------------------------------------------------
//  Adding samples

//  A label value as the format wants it inside quotes.
static void
s_escape (FILE *out, const char *value, bool quotes)
{
    const unsigned char *s = (const unsigned char *) value;
    size_t left = strlen (value);
    while (left > 0) {
        size_t len = *s < 0x80? 1: utf8_len (s, left);
        if (*s == '\\')
            fputs ("\\\\", out);
        else
        if (*s == '\n')
            fputs ("\\n", out);
        else
        if (*s == '"' && quotes)
            fputs ("\\\"", out);
        else
        if (len == 0)
            fputs ("\xef\xbf\xbd", out);            //  U+FFFD for a bad byte
        else
            fwrite (s, 1, len, out);
        len = len? len: 1;
        s += len;
        left -= len;
    }
}

//  The value to render for label: itself, or METRICS_OTHER past its cap.
static const char *
s_admit (metrics_t *self, const char *label, const char *value)
{
    for (size_t i = 0; i < self->cap_count; i++) {
        cap_t *cap = &self->caps[i];
        if (strcmp (cap->label, label))
            continue;
        if (zhashx_lookup (cap->kept, value))
            return value;
        if (zhashx_size (cap->kept) < cap->max) {
            zhashx_insert (cap->kept, value, (void *) 1);
            return value;
        }
        zhashx_insert (cap->others, value, (void *) 1);
        return METRICS_OTHER;
    }
    return value;
}

//  The sample of family with these label values, made if new; NULL if out
//  of memory.
static series_t *
s_series (metrics_t *self, size_t family, const char *const *values)
{
    const metrics_family_t *f = &self->families[family];
    char *labels = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&labels, &size);
    if (!out)
        return NULL;
    for (size_t i = 0; i < METRICS_LABELS_MAX && f->labels[i]; i++) {
        const char *value = values && values[i]? values[i]: "";
        fprintf (out, "%s%s=\"", i? ",": "", f->labels[i]);
        s_escape (out, s_admit (self, f->labels[i], value), true);
        fputc ('"', out);
    }
    if (fclose (out) || !labels) {
        free (labels);
        return NULL;
    }
    samples_t *samples = &self->samples[family];
    uintptr_t at = (uintptr_t) zhashx_lookup (samples->index, labels);
    if (at) {
        free (labels);
        return &samples->series[at - 1];
    }
    if (samples->count == samples->capacity) {
        size_t capacity = samples->capacity? samples->capacity * 2: 16;
        series_t *series = realloc (samples->series, capacity * sizeof *series);
        if (!series) {
            free (labels);
            return NULL;
        }
        samples->series = series;
        samples->capacity = capacity;
    }
    if (zhashx_insert (samples->index, labels, (void *) (uintptr_t) (samples->count + 1))) {
        free (labels);
        return NULL;
    }
    series_t *series = &samples->series[samples->count++];
    *series = (series_t) { .labels = labels };
    return series;
}

int
metrics_add (metrics_t *self, size_t family, const char *const *values, double value)
{
    if (family >= self->count || self->families[family].type == METRICS_HISTOGRAM)
        return -EINVAL;
    series_t *series = s_series (self, family, values);
    if (!series)
        return -ENOMEM;
    series->value += value;
    return 0;
}

int
metrics_add_histogram (metrics_t *self, size_t family, const char *const *values,
                       const metrics_histogram_t *histogram)
{
    if (family >= self->count || self->families[family].type != METRICS_HISTOGRAM)
        return -EINVAL;
    series_t *series = s_series (self, family, values);
    if (!series)
        return -ENOMEM;
    return metrics_histogram_add (&series->histogram, histogram);
}

//  ---------------------------------------------------------------------
//  Rendering

//  Integers as integers while exact (counters, below 2^53), the rest with
//  15 digits.
static const char *
s_number (double value, char *buffer, size_t size)
{
    if (isnan (value))
        snprintf (buffer, size, "NaN");
    else
    if (isinf (value))
        snprintf (buffer, size, value > 0? "+Inf": "-Inf");
    else
        snprintf (buffer, size, value == floor (value) && fabs (value) < 9007199254740992.0?
                  "%.0f": "%.15g", value);
    return buffer;
}

//  name{labels[,extra]} value: the braces only when there are labels.
static void
s_line (FILE *out, const char *name, const char *suffix, const char *labels,
        const char *extra, double value)
{
    fprintf (out, "%s%s", name, suffix);
    if (*labels || extra)
        fprintf (out, "{%s%s%s}", labels, *labels && extra? ",": "", extra? extra: "");
    char number[48];
    fprintf (out, " %s\n", s_number (value, number, sizeof number));
}

static void
s_histogram (FILE *out, const char *name, const series_t *series)
{
    const metrics_histogram_t *h = &series->histogram;
    uint64_t below = 0;
    for (size_t i = 0; i <= h->bound_count; i++) {
        below += h->buckets[i];
        char bound[48], le[64];
        snprintf (le, sizeof le, "le=\"%s\"", s_number (i < h->bound_count? h->bounds[i]
                                                         : INFINITY, bound, sizeof bound));
        s_line (out, name, "_bucket", series->labels, le, (double) below);
    }
    s_line (out, name, "_sum", series->labels, NULL, h->sum);
    s_line (out, name, "_count", series->labels, NULL, (double) h->count);
}

char *
metrics_render (metrics_t *self, size_t *size_p)
{
    static const char *const types[] = { "counter", "gauge", "histogram" };
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    if (!out)
        return NULL;
    for (size_t i = 0; i < self->count; i++) {
        const metrics_family_t *f = &self->families[i];
        fprintf (out, "# HELP %s ", f->name);
        s_escape (out, f->help, false);
        fprintf (out, "\n# TYPE %s %s\n", f->name, types[f->type]);
        const samples_t *samples = &self->samples[i];
        for (size_t j = 0; j < samples->count; j++)
            if (f->type == METRICS_HISTOGRAM)
                s_histogram (out, f->name, &samples->series[j]);
            else
                s_line (out, f->name, "", samples->series[j].labels, NULL,
                        samples->series[j].value);
    }
    if (fclose (out)) {
        free (text);
        return NULL;
    }
    if (size_p)
        *size_p = size;
    return text;
}
