//  test_idtable.c -- values by id, inline: every id added is found with
//  its value until removed, whatever the order of removals (the backward
//  shift must not lose a slot of a probe run), across growth; id 0 works;
//  iteration visits each entry once.
#include <criterion/criterion.h>

#include "agent/idtable.h"

#include <stdbool.h>
#include <stdlib.h>

#define IDS 5000

typedef struct {
    uint64_t seq;
    char pad[40];               //  values wider than a word, as the supervisor's
} value_t;

static void
s_add (idtable_t *table, uint64_t id, uint64_t seq)
{
    value_t *value = idtable_add (table, id);
    cr_assert_not_null (value);
    value->seq = seq;
}

Test (idtable, finds_what_is_in_and_only_that)
{
    idtable_t *table = idtable_new (sizeof (value_t));
    cr_assert_not_null (table);
    static uint64_t ids[IDS];
    static bool in[IDS];
    srand (7);
    //  Addresses of tasks: aligned and close together, like the real ones.
    for (size_t i = 0; i < IDS; i++) {
        ids[i] = i == 0? 0: 0x7f0000001000ull + (uint64_t) i * 208;
        s_add (table, ids[i], i);
        in[i] = true;
    }
    for (int round = 0; round < 4; round++) {
        for (size_t i = 0; i < IDS; i++)
            if (in[i] && rand () % 2) {
                idtable_remove (table, ids[i]);
                in[i] = false;
            }
        size_t count = 0;
        for (size_t i = 0; i < IDS; i++) {
            value_t *value = idtable_find (table, ids[i]);
            cr_assert_eq (value != NULL, in[i], "id %zu: found %d, in %d", i, value != NULL, in[i]);
            if (value)
                cr_assert_eq (value->seq, i);
            count += in[i];
        }
        cr_assert_eq (idtable_count (table), count);
        size_t at = 0, seen = 0;
        uint64_t id;
        for (value_t *value; (value = idtable_next (table, &at, &id)); seen++)
            cr_assert_eq (id, ids[value->seq]);
        cr_assert_eq (seen, count);
        for (size_t i = 0; i < IDS; i += 3)
            if (!in[i]) {
                s_add (table, ids[i], i);
                in[i] = true;
            }
    }
    idtable_destroy (&table);
    cr_assert_null (table);
}
