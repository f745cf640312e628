//  test_permutation.c -- unit tests of spec/permutation.c: a permutation
//  of [0, n) for every n up to 3,000 and some large ones (each value hit
//  once), different keys give different orders, the same key the same.
#include <criterion/criterion.h>

#include "spec/permutation.h"

#include <stdlib.h>
#include <string.h>

static void
s_expect_permutation (uint64_t n, uint64_t key)
{
    permutation_t perm;
    permutation_init (&perm, n, key);
    uint8_t *seen = calloc (n, 1);
    cr_assert_not_null (seen);
    for (uint64_t x = 0; x < n; x++) {
        uint64_t y = permutation_apply (&perm, x);
        cr_assert_lt (y, n, "n %lu: %lu -> %lu", (unsigned long) n, (unsigned long) x,
                      (unsigned long) y);
        cr_assert_not (seen[y], "n %lu: %lu hit twice", (unsigned long) n, (unsigned long) y);
        seen[y] = 1;
    }
    free (seen);
}

Test (permutation, every_small_n_is_a_permutation)
{
    for (uint64_t n = 1; n <= 3000; n++)
        s_expect_permutation (n, n * 7919);
}

Test (permutation, large_n_is_a_permutation)
{
    s_expect_permutation (1000003, 1);          //  prime
    s_expect_permutation (1 << 20, 2);          //  a power of two
    s_expect_permutation ((1 << 20) + 1, 3);    //  just above one
    s_expect_permutation (65535 * 64, 4);
}

Test (permutation, keys_change_the_order_and_values_spread)
{
    const uint64_t n = 100000;
    permutation_t a, b, a_again;
    permutation_init (&a, n, 42);
    permutation_init (&b, n, 43);
    permutation_init (&a_again, n, 42);
    uint64_t same = 0, fixed = 0, close = 0;
    for (uint64_t x = 0; x < n; x++) {
        uint64_t y = permutation_apply (&a, x);
        cr_assert_eq (y, permutation_apply (&a_again, x));
        same += y == permutation_apply (&b, x);
        fixed += y == x;
        if (x && (y > permutation_apply (&a, x - 1)? y - permutation_apply (&a, x - 1)
                                                  : permutation_apply (&a, x - 1) - y) < 10)
            close++;
    }
    //  A random permutation agrees with another, or fixes a point, about
    //  once; consecutive values land within 10 of each other about 20
    //  times in 100,000.  A sequential order would do neither.
    cr_expect_lt (same, 20, "%lu", (unsigned long) same);
    cr_expect_lt (fixed, 20, "%lu", (unsigned long) fixed);
    cr_expect_lt (close, 100, "%lu", (unsigned long) close);
}

Test (permutation, the_largest_n_works)
{
    permutation_t perm;
    permutation_init (&perm, PERMUTATION_MAX, 9);
    for (uint64_t x = PERMUTATION_MAX - 1000; x < PERMUTATION_MAX; x++)
        cr_assert_lt (permutation_apply (&perm, x), PERMUTATION_MAX);
    cr_expect_geq (perm.a * perm.b, PERMUTATION_MAX);
    cr_expect_lt (perm.a * perm.b - PERMUTATION_MAX, perm.a);
}
