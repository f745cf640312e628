//  metrics.h -- Prometheus metrics in the text exposition format (0.0.4).
//  A daemon declares its families once (a static table: name, type, help,
//  label names), and at each snapshot clears the samples, adds the current
//  values from its own counters, and renders the text /metrics serves.  The
//  counters stay where the daemon keeps them: this is only their rendering.
//
//  Label values come from peers (job names from producers): they are
//  escaped as the format says (\\, \", \n; invalid UTF-8 as U+FFFD), and a
//  capped label (metrics_cap) keeps at most N distinct values per snapshot,
//  the first N added, summing the rest into one series with the value
//  "_other", so that a million jobs cannot make a million series.
#ifndef DROVER_METRICS_H
#define DROVER_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define METRICS_LABELS_MAX   3      //  label names per family
#define METRICS_BUCKETS_MAX  16     //  upper bounds per histogram
#define METRICS_OTHER        "_other"

typedef enum {
    METRICS_COUNTER,
    METRICS_GAUGE,
    METRICS_HISTOGRAM,
} metrics_type_t;

//  One family; a table of them, in the order they are rendered.
typedef struct {
    const char *name;               //  drover_tuples_total
    metrics_type_t type;
    const char *help;
    const char *labels[METRICS_LABELS_MAX + 1];     //  NULL-terminated
} metrics_family_t;

//  A histogram's observations, kept by the daemon (a plain value: embed it
//  in a counters struct).  bounds are the buckets' upper bounds, ascending,
//  static; the +Inf bucket is implied.
typedef struct {
    const double *bounds;
    size_t bound_count;
    uint64_t buckets[METRICS_BUCKETS_MAX + 1];  //  per bucket, not cumulative
    uint64_t count;
    double sum;
} metrics_histogram_t;

//  Start h empty with bounds (at most METRICS_BUCKETS_MAX, borrowed).
void metrics_histogram_init (metrics_histogram_t *h, const double *bounds, size_t count);
void metrics_histogram_observe (metrics_histogram_t *h, double value);
//  Add what h saw to sum (the same bounds; else nothing).  0 or -EINVAL.
int  metrics_histogram_add (metrics_histogram_t *sum, const metrics_histogram_t *h);

typedef struct metrics metrics_t;

//  families (count of them) is borrowed for the life of the object.  NULL
//  if out of memory.
metrics_t *metrics_new (const metrics_family_t *families, size_t count);
void       metrics_destroy (metrics_t **self_p);

//  Keep at most max distinct values of the label named label in each
//  snapshot (the first added); samples with others go to METRICS_OTHER.
//  Up to METRICS_LABELS_MAX such caps.  0 or -EINVAL.
int        metrics_cap (metrics_t *self, const char *label, size_t max);
//  Values of a capped label summed into METRICS_OTHER in this snapshot.
size_t     metrics_capped (const metrics_t *self, const char *label);

//  Start a snapshot: drop every sample (the families stay).
void       metrics_clear (metrics_t *self);
//  Add value to the sample of family (an index into the table) with these
//  label values (one per label name; none for a family without labels).
//  Adding to a sample that exists sums.  0, or -ENOMEM, or -EINVAL for a
//  histogram family or a bad index.
int        metrics_add (metrics_t *self, size_t family, const char *const *values,
                        double value);
//  The same for a histogram family: its buckets, count and sum are added.
int        metrics_add_histogram (metrics_t *self, size_t family,
                                  const char *const *values,
                                  const metrics_histogram_t *histogram);
//  The snapshot as text (NUL-terminated, the caller frees), its length in
//  *size_p.  NULL if out of memory.
char      *metrics_render (metrics_t *self, size_t *size_p);

#endif
