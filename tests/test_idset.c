//  test_idset.c -- unit tests of the in-memory tuple id set (sink/idset.c):
//  id 0 and the largest id, many ids through table growth, and removal
//  (backward shift) without losing neighbours.
#include <criterion/criterion.h>

#include "sink/idset.h"

#include <stdlib.h>

Test (idset, zero_and_huge_ids)
{
    idset_t *set = idset_new ();
    cr_assert_not_null (set);
    cr_expect_not (idset_contains (set, 0));
    cr_expect_eq (idset_insert (set, 0, 0), 1);
    cr_expect_eq (idset_insert (set, 0, 0), 0);
    cr_expect_eq (idset_insert (set, UINT64_MAX, 0), 1);
    cr_expect (idset_contains (set, 0));
    cr_expect (idset_contains (set, UINT64_MAX));
    cr_expect_eq (idset_size (set), 2);
    cr_expect_eq (idset_remove (set, 0), 1);
    cr_expect_not (idset_contains (set, 0));
    cr_expect_eq (idset_remove (set, 0), 0);
    cr_expect_eq (idset_size (set), 1);
    idset_destroy (&set);
    cr_expect_null (set);
    idset_destroy (&set);               //  a second destroy is harmless
}

Test (idset, many_ids)
{
    idset_t *set = idset_new ();
    const uint64_t count = 1000000;
    for (uint64_t id = 1; id <= count; id++)
        cr_assert_eq (idset_insert (set, id, 0), 1, "id %lu", (unsigned long) id);
    cr_assert_eq (idset_size (set), count);
    for (uint64_t id = 1; id <= count; id++)
        cr_assert (idset_contains (set, id), "id %lu lost", (unsigned long) id);
    for (uint64_t id = count + 1; id <= count + 1000; id++)
        cr_assert_not (idset_contains (set, id));
    //  Sparse, random-looking ids as well as dense ones.
    srand (7);
    uint64_t sparse[5000];
    for (int i = 0; i < 5000; i++) {
        sparse[i] = ((uint64_t) rand () << 33) ^ ((uint64_t) rand () << 2) ^ 3;
        idset_insert (set, sparse[i], 0);
    }
    for (int i = 0; i < 5000; i++)
        cr_assert (idset_contains (set, sparse[i]));
    idset_destroy (&set);
}

Test (idset, remove_keeps_the_others)
{
    idset_t *set = idset_new ();
    const uint64_t count = 20000;
    for (uint64_t id = 1; id <= count; id++)
        idset_insert (set, id, 0);
    for (uint64_t id = 1; id <= count; id += 2)
        cr_assert_eq (idset_remove (set, id), 1);
    cr_assert_eq (idset_size (set), count / 2);
    for (uint64_t id = 1; id <= count; id++)
        cr_assert_eq (idset_contains (set, id), id % 2 == 0, "id %lu", (unsigned long) id);
    cr_expect_eq (idset_remove (set, 1), 0, "already removed");
    //  Removed ids can come back.
    cr_expect_eq (idset_insert (set, 1, 0), 1);
    cr_expect (idset_contains (set, 1));
    idset_destroy (&set);
}

//  Each id keeps its value through table growth and backward shifts; a
//  second insert does not change it.
Test (idset, values_stay_with_their_ids)
{
    idset_t *set = idset_new ();
    cr_assert_not_null (set);
    const uint64_t count = 5000;
    for (uint64_t id = 0; id <= count; id++)
        cr_assert_eq (idset_insert (set, id, (uint8_t) (id % 3)), 1);
    cr_expect_eq (idset_insert (set, 9, 7), 0);
    cr_expect_eq (idset_insert (set, 0, 7), 0);
    for (uint64_t id = 1; id <= count; id += 4)
        cr_assert_eq (idset_remove (set, id), 1);
    for (uint64_t id = 0; id <= count; id++) {
        uint8_t value = 99;
        bool there = idset_get (set, id, &value);
        cr_assert_eq (there, id == 0 || (id - 1) % 4 != 0, "id %lu", (unsigned long) id);
        if (there)
            cr_assert_eq (value, id % 3, "id %lu has value %u", (unsigned long) id, value);
        else
            cr_assert_eq (value, 99, "a missing id leaves value alone");
    }
    cr_expect (idset_get (set, 0, NULL));
    idset_destroy (&set);
}
