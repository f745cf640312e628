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

//  Each id keeps its flag through table growth, backward shifts and the
//  removal of its neighbours; a second insert does not change it.
Test (idset, flags_stay_with_their_ids)
{
    idset_t *set = idset_new ();
    cr_assert_not_null (set);
    const uint64_t count = 5000;
    for (uint64_t id = 0; id <= count; id++)
        cr_assert_eq (idset_insert (set, id, id % 3 == 1), 1);
    cr_expect_eq (idset_insert (set, 9, true), 0);
    cr_expect_eq (idset_insert (set, 0, true), 0);
    for (uint64_t id = 1; id <= count; id += 4)
        cr_assert_eq (idset_remove (set, id), 1);
    for (uint64_t id = 0; id <= count; id++) {
        bool flag = true;
        bool there = idset_get (set, id, &flag);
        cr_assert_eq (there, id == 0 || (id - 1) % 4 != 0, "id %lu", (unsigned long) id);
        if (there)
            cr_assert_eq (flag, id % 3 == 1, "id %lu has flag %d", (unsigned long) id, flag);
        else
            cr_assert (flag, "a missing id leaves flag alone");
    }
    cr_expect (idset_get (set, 0, NULL));
    //  An id removed and added again takes its new flag.
    cr_assert_eq (idset_remove (set, 4), 1);
    cr_assert_eq (idset_insert (set, 4, false), 1);
    bool flag = true;
    cr_assert (idset_get (set, 4, &flag));
    cr_assert_not (flag);
    idset_destroy (&set);
}

//  Whole blocks of 64 leave the table when their last id goes, and the
//  blocks probed past them stay found: ids far apart, each alone in its
//  block, removed in an order that shifts others back.
Test (idset, emptied_blocks_leave_and_the_rest_stay_found)
{
    idset_t *set = idset_new ();
    const uint64_t count = 4000;
    for (uint64_t i = 0; i < count; i++)
        cr_assert_eq (idset_insert (set, i * 64 + (i % 64), i % 2), 1);
    for (uint64_t i = 0; i < count; i += 3)
        cr_assert_eq (idset_remove (set, i * 64 + (i % 64)), 1);
    for (uint64_t i = 0; i < count; i++) {
        bool flag = false;
        bool there = idset_get (set, i * 64 + (i % 64), &flag);
        cr_assert_eq (there, i % 3 != 0, "id %lu", (unsigned long) (i * 64 + i % 64));
        cr_assert (!there || flag == (i % 2 == 1));
        //  Its neighbours in the block were never there.
        cr_assert_not (idset_contains (set, i * 64 + ((i + 1) % 64)));
    }
    cr_assert_eq (idset_size (set), count - (count + 2) / 3);
    //  The highest ids, whose block key is the last one.
    cr_assert_eq (idset_insert (set, UINT64_MAX - 1, true), 1);
    cr_assert (idset_contains (set, UINT64_MAX - 1));
    cr_assert_not (idset_contains (set, UINT64_MAX - 2));
    idset_destroy (&set);
}

//  A block shifted back leaves its slot empty, bits and all: a new block
//  that lands there holds only the id put in it.
Test (idset, a_new_block_holds_only_its_own_ids)
{
    idset_t *set = idset_new ();
    const uint64_t blocks = 2000;
    for (uint64_t id = 0; id < blocks * 64; id++)
        idset_insert (set, id, true);
    for (uint64_t id = 0; id < blocks * 64; id++)
        if ((id / 64) % 2 == 0)
            cr_assert_eq (idset_remove (set, id), 1);
    for (uint64_t block = blocks; block < 3 * blocks; block++) {
        cr_assert_eq (idset_insert (set, block * 64, false), 1);
        bool flag = true;
        cr_assert (idset_get (set, block * 64, &flag));
        cr_assert_not (flag, "block %lu took an old flag", (unsigned long) block);
        for (uint64_t i = 1; i < 64; i++)
            cr_assert_not (idset_contains (set, block * 64 + i),
                           "block %lu holds id %lu it was never given",
                           (unsigned long) block, (unsigned long) i);
    }
    cr_assert_eq (idset_size (set), blocks / 2 * 64 + 2 * blocks);
    idset_destroy (&set);
}
