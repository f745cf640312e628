//  test_rangeset.c -- unit tests of spec/rangeset.c: merging, n-th member
//  and membership against a bitmap, subtraction, the whole 128-bit space,
//  and the encoding (exact round trip, malformed and non-canonical bytes
//  refused).
#include <criterion/criterion.h>

#include "spec/rangeset.h"

#include <stdlib.h>
#include <string.h>

static rangeset_t *
s_set (const unsigned (*ranges)[2], size_t count)
{
    rangeset_t *set = rangeset_new ();
    cr_assert_not_null (set);
    for (size_t i = 0; i < count; i++)
        cr_assert_eq (rangeset_add (set, ranges[i][0], ranges[i][1]), 0);
    rangeset_finish (set);
    return set;
}

Test (rangeset, merges_overlapping_and_adjacent_ranges)
{
    const unsigned ranges[][2] = { { 50, 60 }, { 10, 20 }, { 21, 25 }, { 15, 18 },
                                   { 61, 61 }, { 100, 100 }, { 0, 0 } };
    rangeset_t *set = s_set (ranges, 7);
    cr_expect_eq (rangeset_ranges (set), 4);     //  0, 10-25, 50-61, 100
    cr_expect (rangeset_count (set) == 1 + 16 + 12 + 1);
    address_t first, last;
    rangeset_range (set, 1, &first, &last);
    cr_expect (first == 10 && last == 25);
    rangeset_range (set, 2, &first, &last);
    cr_expect (first == 50 && last == 61);
    rangeset_destroy (&set);
    cr_expect_null (set);
}

Test (rangeset, nth_and_contains_agree_with_a_bitmap)
{
    srand (11);
    for (int round = 0; round < 50; round++) {
        bool member[2000] = { false };
        rangeset_t *set = rangeset_new ();
        for (int i = 0; i < 1 + rand () % 30; i++) {
            unsigned first = (unsigned) rand () % 2000;
            unsigned last = first + (unsigned) rand () % 80;
            last = last >= 2000? 1999: last;
            rangeset_add (set, first, last);
            for (unsigned k = first; k <= last; k++)
                member[k] = true;
        }
        rangeset_finish (set);
        address_t index = 0;
        for (unsigned k = 0; k < 2000; k++) {
            cr_assert_eq (rangeset_contains (set, k), member[k], "round %d value %u", round, k);
            if (member[k]) {
                cr_assert (rangeset_nth (set, index) == k, "round %d index %u", round,
                           (unsigned) index);
                index++;
            }
        }
        cr_assert (rangeset_count (set) == index);
        rangeset_destroy (&set);
    }
}

Test (rangeset, subtract_cuts_ranges_apart)
{
    const unsigned have[][2] = { { 0, 100 }, { 200, 300 }, { 400, 400 } };
    const unsigned cut[][2] = { { 0, 9 }, { 50, 60 }, { 95, 210 }, { 300, 300 }, { 400, 500 } };
    rangeset_t *set = s_set (have, 3), *minus = s_set (cut, 5);
    cr_assert_eq (rangeset_subtract (set, minus), 0);
    //  10-49, 61-94, 211-299
    cr_expect_eq (rangeset_ranges (set), 3);
    cr_expect (rangeset_count (set) == 40 + 34 + 89);
    cr_expect (rangeset_contains (set, 10) && !rangeset_contains (set, 9));
    cr_expect (!rangeset_contains (set, 55) && rangeset_contains (set, 299));
    cr_expect (!rangeset_contains (set, 300) && !rangeset_contains (set, 400));
    rangeset_destroy (&set);
    rangeset_destroy (&minus);
}

Test (rangeset, whole_space_saturates_its_count)
{
    rangeset_t *set = rangeset_new ();
    rangeset_add (set, 0, ~(address_t) 0);
    rangeset_finish (set);
    cr_expect (rangeset_count (set) == ~(address_t) 0);
    cr_expect (rangeset_contains (set, ~(address_t) 0));
    cr_expect (rangeset_nth (set, 12345) == 12345);
    rangeset_destroy (&set);
}

static void
s_expect_round_trip (const rangeset_t *set)
{
    size_t size = rangeset_encoded_size (set);
    uint8_t *bytes = malloc (size + 1);
    rangeset_encode (set, bytes);
    rangeset_t *back = rangeset_decode (bytes, size);
    cr_assert_not_null (back);
    cr_expect_eq (rangeset_ranges (back), rangeset_ranges (set));
    cr_expect (rangeset_count (back) == rangeset_count (set));
    for (size_t i = 0; i < rangeset_ranges (set); i++) {
        address_t a, b, c, d;
        rangeset_range (set, i, &a, &b);
        rangeset_range (back, i, &c, &d);
        cr_expect (a == c && b == d, "range %zu", i);
    }
    cr_expect_eq (rangeset_encoded_size (back), size);
    uint8_t *again = malloc (size + 1);
    rangeset_encode (back, again);
    cr_expect_eq (memcmp (bytes, again, size), 0);
    free (again);
    free (bytes);
    rangeset_destroy (&back);
}

Test (rangeset, encoding_round_trips_exactly)
{
    const unsigned ranges[][2] = { { 0, 0 }, { 2, 2 }, { 10, 1000 }, { 1u << 31, ~0u } };
    rangeset_t *set = s_set (ranges, 4);
    s_expect_round_trip (set);
    rangeset_add (set, ~(address_t) 0 - 5, ~(address_t) 0);   //  up to the top
    rangeset_finish (set);
    s_expect_round_trip (set);
    rangeset_destroy (&set);
    set = rangeset_new ();          //  empty: no bytes
    cr_expect_eq (rangeset_encoded_size (set), 0);
    s_expect_round_trip (set);
    rangeset_destroy (&set);
    //  A /8 of IPv4 (mapped) takes a few bytes.
    set = rangeset_new ();
    rangeset_add (set, ADDRESS_V4_FIRST | 0x0a000000, ADDRESS_V4_FIRST | 0x0affffff);
    rangeset_finish (set);
    cr_expect_leq (rangeset_encoded_size (set), 12);
    s_expect_round_trip (set);
    rangeset_destroy (&set);
}

Test (rangeset, decode_refuses_malformed_bytes)
{
    const uint8_t truncated[] = { 0x05 };               //  a gap, no size
    const uint8_t open_varint[] = { 0x05, 0x80 };
    const uint8_t not_minimal[] = { 0x85, 0x00, 0x01 }; //  5 as two bytes
    uint8_t too_long[20];
    memset (too_long, 0xff, sizeof too_long);
    too_long[19] = 0x01;
    cr_expect_null (rangeset_decode (truncated, sizeof truncated));
    cr_expect_null (rangeset_decode (open_varint, sizeof open_varint));
    cr_expect_null (rangeset_decode (not_minimal, sizeof not_minimal));
    cr_expect_null (rangeset_decode (too_long, sizeof too_long));
    //  A second range past 2^128: first = top, then another.
    uint8_t wrap[64];
    rangeset_t *top = rangeset_new ();
    rangeset_add (top, ~(address_t) 0, ~(address_t) 0);
    rangeset_finish (top);
    size_t size = rangeset_encoded_size (top);
    rangeset_encode (top, wrap);
    wrap[size] = 0x00, wrap[size + 1] = 0x00;
    cr_expect_null (rangeset_decode (wrap, size + 2));
    rangeset_t *ok = rangeset_decode (wrap, size);
    cr_expect_not_null (ok);
    rangeset_destroy (&ok);
    rangeset_destroy (&top);
}
