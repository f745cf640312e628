//  support_probes.c -- see support_probes.h.
#include "support_probes.h"

#include <criterion/criterion.h>
#include <stdio.h>

#define MEAN_MAX        3.0
#define LONGEST_MAX     128
#define MISS_MAX        256

void
support_assert_probes (const char *table, const char *pattern, size_t count,
                       size_t total, size_t longest, size_t longest_miss)
{
    double mean = count? (double) total / (double) count: 0;
    fprintf (stderr, "%s %s: %zu entries: mean %.2f, longest %zu, miss %zu\n",
             table, pattern, count, mean, longest, longest_miss);
    cr_assert (mean <= MEAN_MAX, "%s %s: %.2f slots a find", table, pattern, mean);
    cr_assert (longest <= LONGEST_MAX, "%s %s: %zu slots to find one", table, pattern, longest);
    cr_assert (longest_miss <= MISS_MAX, "%s %s: %zu slots for a miss", table, pattern,
               longest_miss);
}
