//  support_probes.h -- what the open-addressing tables' tests
//  (test_held_table.c, test_idtable.c) share: the bounds on probe lengths
//  that must hold under every key pattern they try.
#ifndef DROVER_TEST_SUPPORT_PROBES_H
#define DROVER_TEST_SUPPORT_PROBES_H

#include <stddef.h>

//  Assert the probe lengths of table (its name, e.g. "held") filled with
//  the keys of pattern (its name), and print them: count entries, total slots looked at to find
//  them all, the longest find and the longest miss.  Bounds with room for
//  chance: every pattern measured at most 1.6 slots a find, 25 for the
//  longest and 32 for a miss, where keys crowding their homes cost hundreds.
void support_assert_probes (const char *table, const char *pattern, size_t count,
                            size_t total, size_t longest, size_t longest_miss);

#endif
