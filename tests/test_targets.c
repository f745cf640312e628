//  test_targets.c -- unit tests of spec/targets.c (and spec/address.c,
//  spec/wordlist.c): every target syntax, separators and comments, files
//  with line numbers in errors, host names, subtraction, membership.
#include <criterion/criterion.h>

#include "spec/targets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

static targets_t *
s_parse (const char *text)
{
    targets_t *targets = targets_new ();
    char err[256] = "";
    cr_assert_eq (targets_add (targets, text, strlen (text), err, sizeof err), 0,
                  "'%s': %s", text, err);
    return targets;
}

static void
s_expect_error (const char *text, const char *says)
{
    targets_t *targets = targets_new ();
    char err[256] = "";
    cr_expect_eq (targets_add (targets, text, strlen (text), err, sizeof err), -1, "%s", text);
    cr_expect (strstr (err, says), "'%s' gave '%s', wanted '%s'", text, err, says);
    targets_destroy (&targets);
}

static void
s_expect_nth (const targets_t *targets, address_t index, const char *host)
{
    char text[TARGETS_HOST_MAX];
    cr_expect_str_eq (targets_nth (targets, index, text), host, "index %u",
                      (unsigned) index);
}

Test (targets, addresses_cidr_and_ranges)
{
    targets_t *targets = s_parse ("10.0.0.0/30 192.168.1.1-192.168.1.3,172.16.0.1-2\n"
                                  "2001:db8::/126 ::1 8.8.8.8");
    cr_expect (targets_count (targets) == 4 + 3 + 2 + 4 + 1 + 1);
    //  In the order of the IPv6 form: ::1, then IPv4 (::ffff:a.b.c.d).
    s_expect_nth (targets, 0, "::1");
    s_expect_nth (targets, 1, "8.8.8.8");
    s_expect_nth (targets, 2, "10.0.0.0");
    s_expect_nth (targets, 5, "10.0.0.3");
    s_expect_nth (targets, 6, "172.16.0.1");
    s_expect_nth (targets, 8, "192.168.1.1");
    s_expect_nth (targets, 10, "192.168.1.3");
    s_expect_nth (targets, 11, "2001:db8::");
    s_expect_nth (targets, 14, "2001:db8::3");
    targets_destroy (&targets);
}

Test (targets, cidr_with_host_bits_is_its_network)
{
    targets_t *targets = s_parse ("10.1.2.3/24 10.9.9.9/32 0.0.0.0/0");
    cr_expect (targets_count (targets) == (address_t) 1 << 32);
    targets_destroy (&targets);
    targets = s_parse ("10.1.2.3/24");
    cr_expect (targets_count (targets) == 256);
    s_expect_nth (targets, 0, "10.1.2.0");
    s_expect_nth (targets, 255, "10.1.2.255");
    targets_destroy (&targets);
    targets = s_parse ("2001:db8::1/64");
    cr_expect (targets_count (targets) == (address_t) 1 << 64);
    targets_destroy (&targets);
}

Test (targets, overlaps_merge_and_repeats_count_once)
{
    targets_t *targets = s_parse ("10.0.0.0/24, 10.0.0.5, 10.0.0.100-10.0.1.9 "
                                  "host.example, HOST.example, other.example");
    cr_expect (targets_count (targets) == 256 + 10 + 2);
    s_expect_nth (targets, 266, "host.example");
    s_expect_nth (targets, 267, "other.example");
    targets_destroy (&targets);
}

Test (targets, names_are_kept_lower_case_never_resolved)
{
    targets_t *targets = s_parse ("Scanme.Example.ORG db-1.internal localhost x_y.lan");
    cr_expect (targets_count (targets) == 4);
    s_expect_nth (targets, 0, "db-1.internal");
    s_expect_nth (targets, 1, "localhost");
    s_expect_nth (targets, 2, "scanme.example.org");
    cr_expect (targets_contains (targets, "SCANME.example.org", 18));
    cr_expect_not (targets_contains (targets, "scanme.example", 14));
    cr_expect_not (targets_contains (targets, "scanme.example.org.x", 20));
    targets_destroy (&targets);
}

Test (targets, comments_and_separators)
{
    targets_t *targets = s_parse ("# a list\n10.0.0.1 # the first\n\t10.0.0.2,,10.0.0.3#no space\r\n"
                                  "#10.0.0.4\n");
    cr_expect (targets_count (targets) == 3);
    targets_destroy (&targets);
}

Test (targets, bad_targets_say_which_and_why)
{
    s_expect_error ("10.0.0.1 10.0.0.256", "'10.0.0.256' is not an address");
    s_expect_error ("10.0.0.0/33", "'10.0.0.0/33' is not a CIDR block");
    s_expect_error ("::/129", "is not a CIDR block (ADDRESS/0-128)");
    s_expect_error ("10.0.0.9-10.0.0.1", "goes backwards");
    s_expect_error ("10.0.0.9-3", "goes backwards");
    s_expect_error ("10.0.0.1-256", "is not a range");
    s_expect_error ("10.0.0.1-::1", "is not a range");
    s_expect_error ("1.2.3", "is not an address");
    s_expect_error ("-host", "is not an address");
    s_expect_error ("http://x", "is not an address");
    s_expect_error ("a..b", "is not an address");
    s_expect_error ("fe80::1%eth0", "is not an address");
    //  A peer's bytes in an error are cut and made printable.
    char long_word[300];
    memset (long_word, 'a', sizeof long_word - 1);
    long_word[sizeof long_word - 1] = 0;
    long_word[3] = '\x1b';
    s_expect_error (long_word, "'aaa?aaaa");
    s_expect_error (long_word, "...' is not");
}

Test (targets, file_with_comments_and_line_numbers)
{
    char path[] = "/tmp/drover-targets-XXXXXX";
    int fd = mkstemp (path);
    cr_assert_geq (fd, 0);
    const char *text = "# data centre 1\n10.20.0.0/16\n\nscan.example.com, 10.30.0.1-5\n"
                       "10.40.0.999\n";
    cr_assert_eq (write (fd, text, strlen (text)), (ssize_t) strlen (text));
    close (fd);
    targets_t *targets = targets_new ();
    char err[512] = "";
    cr_expect_eq (targets_add_file (targets, path, err, sizeof err), -1);
    char want[600];
    snprintf (want, sizeof want, "%s line 5: '10.40.0.999' is not", path);
    cr_expect (strstr (err, want), "%s", err);
    targets_destroy (&targets);

    fd = open (path, O_WRONLY | O_TRUNC);
    cr_assert_eq (write (fd, text, strlen (text) - 12), (ssize_t) strlen (text) - 12);
    close (fd);
    targets = targets_new ();
    cr_expect_eq (targets_add_file (targets, path, err, sizeof err), 0, "%s", err);
    cr_expect (targets_count (targets) == 65536 + 5 + 1);
    targets_destroy (&targets);
    unlink (path);

    targets = targets_new ();
    cr_expect_eq (targets_add_file (targets, "/nonexistent/targets", err, sizeof err), -1);
    cr_expect (strstr (err, "cannot read /nonexistent/targets"), "%s", err);
    targets_destroy (&targets);
}

Test (targets, subtract_addresses_and_names)
{
    targets_t *targets = s_parse ("10.0.0.0/24 a.example b.example 2001:db8::/120");
    targets_t *minus = s_parse ("10.0.0.0/25 10.0.0.200 B.EXAMPLE 2001:db8::10-2001:db8::ff "
                                "10.0.0.1");
    cr_assert_eq (targets_subtract (targets, minus), 0);
    cr_expect (targets_count (targets) == 127 + 16 + 1);
    cr_expect_not (targets_contains (targets, "10.0.0.127", 10));
    cr_expect (targets_contains (targets, "10.0.0.128", 10));
    cr_expect_not (targets_contains (targets, "10.0.0.200", 10));
    cr_expect (targets_contains (targets, "2001:db8::f", 11));
    cr_expect (targets_contains (targets, "2001:DB8:0:0::f", 15));
    cr_expect_not (targets_contains (targets, "2001:db8::10", 12));
    cr_expect (targets_contains (targets, "a.example", 9));
    cr_expect_not (targets_contains (targets, "b.example", 9));
    targets_destroy (&targets);
    targets_destroy (&minus);
}

Test (targets, ipv4_mapped_spelling_is_the_same_host)
{
    targets_t *targets = s_parse ("192.0.2.0/24");
    cr_expect (targets_contains (targets, "::ffff:192.0.2.7", 16));
    cr_expect_not (targets_contains (targets, "192.0.2", 7));
    cr_expect_not (targets_contains (targets, "", 0));
    targets_destroy (&targets);
}
