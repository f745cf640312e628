//  test_flags.c -- cli/flags.c: environment defaults, numbers, booleans.
#include "cli/flags.h"

#include <criterion/criterion.h>
#include <stdlib.h>

Test (flags, env_unset_and_empty_are_null)
{
    unsetenv ("DROVER_TEST_FLAG");
    cr_assert_null (flags_env ("DROVER_TEST_FLAG"));
    setenv ("DROVER_TEST_FLAG", "", 1);
    cr_assert_null (flags_env ("DROVER_TEST_FLAG"));
    setenv ("DROVER_TEST_FLAG", "x", 1);
    cr_assert_str_eq (flags_env ("DROVER_TEST_FLAG"), "x");
}

Test (flags, booleans)
{
    cr_assert_eq (flags_bool ("1"), 1);
    cr_assert_eq (flags_bool ("Yes"), 1);
    cr_assert_eq (flags_bool ("off"), 0);
    cr_assert_eq (flags_bool ("FALSE"), 0);
    cr_assert_eq (flags_bool ("maybe"), -1);
    cr_assert_eq (flags_bool (NULL), -1);
}

Test (flags, numbers_with_limits_and_sizes)
{
    uint64_t value = 0;
    cr_assert_eq (flags_number ("42", 1, 100, false, &value), 0);
    cr_assert_eq (value, 42);
    cr_assert_eq (flags_number ("0", 1, 100, false, &value), -1);
    cr_assert_eq (flags_number ("101", 1, 100, false, &value), -1);
    cr_assert_eq (flags_number ("-3", 0, 100, false, &value), -1);
    cr_assert_eq (flags_number ("12x", 0, 100, false, &value), -1);
    cr_assert_eq (flags_number ("", 0, 100, false, &value), -1);
    cr_assert_eq (flags_number ("4K", 0, 100, false, &value), -1, "no sizes unless asked");
    cr_assert_eq (flags_number ("4K", 0, UINT64_MAX, true, &value), 0);
    cr_assert_eq (value, 4096);
    cr_assert_eq (flags_number ("2MiB", 0, UINT64_MAX, true, &value), 0);
    cr_assert_eq (value, 2u << 20);
    cr_assert_eq (flags_number ("1g", 0, UINT64_MAX, true, &value), 0);
    cr_assert_eq (value, 1ull << 30);
    cr_assert_eq (flags_number ("3T", 0, UINT64_MAX, true, &value), -1);
    cr_assert_eq (flags_number ("2G", 0, 1ull << 30, true, &value), -1, "over max after shift");
    cr_assert_eq (flags_number ("99999999999999999999", 0, UINT64_MAX, false, &value), -1);
}
