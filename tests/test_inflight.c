//  test_inflight.c -- the supervisor's table of tasks out with workers:
//  every id inserted is found until removed, whatever the order of
//  removals (the backward shift must not lose an entry of a probe run),
//  and a slot's entries come back oldest first.
#include <criterion/criterion.h>

#include "agent/inflight.h"

#include <stdlib.h>

#define IDS 5000

static inflight_t
s_entry (uint64_t id, size_t slot, uint64_t seq)
{
    return (inflight_t) { .task = { .id = id }, .slot = slot, .seq = seq };
}

Test (inflight, finds_what_is_in_and_only_that)
{
    inflights_t *table = inflights_new ();
    cr_assert_not_null (table);
    static uint64_t ids[IDS];
    static bool in[IDS];
    srand (7);
    //  Addresses of tasks: aligned, close together, like the real ones.
    for (size_t i = 0; i < IDS; i++) {
        ids[i] = 0x7f0000001000ull + (uint64_t) i * 208;
        cr_assert_eq (inflights_insert (table, &(inflight_t) { .task = { .id = ids[i] },
                                                                .slot = 1 + i % 3, .seq = i }), 0);
        in[i] = true;
    }
    for (int round = 0; round < 4; round++) {
        for (size_t i = 0; i < IDS; i++)
            if (in[i] && rand () % 2) {
                inflights_remove (table, ids[i]);
                in[i] = false;
            }
        for (size_t i = 0; i < IDS; i++) {
            inflight_t *entry = inflights_find (table, ids[i]);
            cr_assert_eq (entry != NULL, in[i], "id %zu: found %d, in %d", i, entry != NULL, in[i]);
            if (entry)
                cr_assert_eq (entry->seq, i);
        }
        for (size_t i = 0; i < IDS; i += 3)
            if (!in[i]) {
                cr_assert_eq (inflights_insert (table, &(inflight_t) { .task = { .id = ids[i] },
                                                                        .slot = 1 + i % 3, .seq = i }), 0);
                in[i] = true;
            }
    }
    inflights_destroy (&table);
    cr_assert_null (table);
}

Test (inflight, gives_a_slots_entries_oldest_first)
{
    inflights_t *table = inflights_new ();
    for (uint64_t seq = 0; seq < 100; seq++) {
        inflight_t entry = s_entry (1000 - seq * 8, seq % 2? 2: 1, seq);
        cr_assert_eq (inflights_insert (table, &entry), 0);
    }
    inflight_t out[100];
    size_t count = inflights_of_slot (table, 2, out, 100);
    cr_assert_eq (count, 50);
    for (size_t i = 0; i < count; i++)
        cr_assert_eq (out[i].seq, 2 * i + 1);
    cr_assert_eq (inflights_of_slot (table, 1, out, 10), 10, "at most max");
    cr_assert_eq (inflights_of_slot (table, 3, out, 100), 0);
    inflights_destroy (&table);
}
