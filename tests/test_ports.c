//  test_ports.c -- unit tests of spec/ports.c: numbers, ranges with open
//  ends, nmap's protocol tags, the named sets (topN from the list compiled
//  in), errors, subtraction, and refusing port 0 in a saved set.
#include <criterion/criterion.h>

#include "spec/ports.h"

#include <stdio.h>
#include <string.h>

static ports_t *
s_parse (const char *text)
{
    ports_t *ports = ports_new ();
    char err[256] = "";
    cr_assert_eq (ports_add (ports, text, strlen (text), err, sizeof err), 0, "'%s': %s",
                  text, err);
    return ports;
}

static void
s_expect_nth (const ports_t *ports, uint32_t index, unsigned port, ports_protocol_t protocol)
{
    uint16_t have;
    ports_protocol_t have_protocol;
    ports_nth (ports, index, &have, &have_protocol);
    cr_expect (have == port && have_protocol == protocol, "index %u: %u/%s, wanted %u/%s",
               index, have, ports_protocol_name (have_protocol), port,
               ports_protocol_name (protocol));
}

static void
s_expect_error (const char *text, const char *says)
{
    ports_t *ports = ports_new ();
    char err[256] = "";
    cr_expect_eq (ports_add (ports, text, strlen (text), err, sizeof err), -1, "%s", text);
    cr_expect (strstr (err, says), "'%s' gave '%s', wanted '%s'", text, err, says);
    ports_destroy (&ports);
}

Test (ports, numbers_and_ranges)
{
    ports_t *ports = s_parse ("1-1024,8080 443 1000-1030");
    cr_expect_eq (ports_count (ports), 1030 + 1);
    s_expect_nth (ports, 0, 1, PORTS_TCP);
    s_expect_nth (ports, 1029, 1030, PORTS_TCP);
    s_expect_nth (ports, 1030, 8080, PORTS_TCP);
    ports_destroy (&ports);
}

Test (ports, open_ended_ranges_as_nmap_reads_them)
{
    ports_t *ports = s_parse ("-1024");
    cr_expect_eq (ports_count (ports), 1024);
    ports_destroy (&ports);
    ports = s_parse ("60000-");
    cr_expect_eq (ports_count (ports), 5536);
    ports_destroy (&ports);
    ports = s_parse ("-");
    cr_expect_eq (ports_count (ports), 65535);
    ports_destroy (&ports);
}

Test (ports, protocol_tags_carry_over_to_the_next_words)
{
    ports_t *ports = s_parse ("U:53,111,137,T:21-25,80,S:9 u:7");
    //  TCP 21-25, 80; UDP 7, 53, 111, 137; SCTP 9.
    cr_expect_eq (ports_count (ports), 6 + 4 + 1);
    s_expect_nth (ports, 0, 21, PORTS_TCP);
    s_expect_nth (ports, 5, 80, PORTS_TCP);
    s_expect_nth (ports, 6, 7, PORTS_UDP);
    s_expect_nth (ports, 7, 53, PORTS_UDP);
    s_expect_nth (ports, 9, 137, PORTS_UDP);
    s_expect_nth (ports, 10, 9, PORTS_SCTP);
    ports_destroy (&ports);
    //  A tag alone tags what follows; each ports_add starts with TCP.
    ports = s_parse ("U: 53");
    s_expect_nth (ports, 0, 53, PORTS_UDP);
    char err[128];
    cr_assert_eq (ports_add (ports, "53", 2, err, sizeof err), 0);
    cr_expect_eq (ports_count (ports), 2);
    s_expect_nth (ports, 0, 53, PORTS_TCP);
    ports_destroy (&ports);
}

Test (ports, named_sets_follow_nmaps_ranking)
{
    ports_t *ports = s_parse ("top100");
    cr_expect_eq (ports_count (ports), 100);
    ports_destroy (&ports);
    ports = s_parse ("top1000");
    cr_expect_eq (ports_count (ports), 1000);
    ports_destroy (&ports);
    //  nmap's most frequent TCP ports: 80, 23, 443, 21, 22.
    ports = s_parse ("top5");
    unsigned want[] = { 21, 22, 23, 80, 443 };
    for (uint32_t i = 0; i < 5; i++)
        s_expect_nth (ports, i, want[i], PORTS_TCP);
    ports_destroy (&ports);
    ports = s_parse ("U:top100 top10");         //  both UDP
    cr_expect_eq (ports_count (ports), 100);
    s_expect_nth (ports, 0, 7, PORTS_UDP);      //  (echo is among them)
    ports_destroy (&ports);
    ports = s_parse ("TOP3,T:top3,80");
    cr_expect_eq (ports_count (ports), 3);
    ports_destroy (&ports);
}

Test (ports, bad_ports_say_which_and_why)
{
    s_expect_error ("0", "'0' is not a port");
    s_expect_error ("70000", "'70000' is not a port");
    s_expect_error ("80,http", "'http' is not a port");
    s_expect_error ("1024-1", "goes backwards");
    s_expect_error ("top0", "is not a named set");
    s_expect_error ("top1001", "is not a named set (top1 to top1000)");
    s_expect_error ("X:80", "unknown protocol tag");
    s_expect_error ("1-2-3", "is not a port");
    s_expect_error ("+80", "is not a port");
}

Test (ports, subtract)
{
    ports_t *ports = s_parse ("1-100 U:53");
    ports_t *minus = s_parse ("22,25 50-60 U:53 T:99-");
    cr_assert_eq (ports_subtract (ports, minus), 0);
    cr_expect_eq (ports_count (ports), 98 - 2 - 11);
    s_expect_nth (ports, 84, 98, PORTS_TCP);
    ports_destroy (&ports);
    ports_destroy (&minus);
}

Test (ports, saved_sets_hold_ports_only)
{
    rangeset_t *set = rangeset_new ();
    rangeset_add (set, (address_t) 1 << 16 | 53, (address_t) 1 << 16 | 53);
    rangeset_finish (set);
    ports_t *ports = ports_from (&set);
    cr_expect_null (set);
    cr_assert_not_null (ports);
    s_expect_nth (ports, 0, 53, PORTS_UDP);
    ports_destroy (&ports);
    const address_t bad[][2] = { { 0, 10 }, { (address_t) 1 << 16, (address_t) 1 << 16 | 9 },
                                 { 65535, 65537 }, { 3 << 16 | 1, 3 << 16 | 1 } };
    for (size_t i = 0; i < 4; i++) {
        set = rangeset_new ();
        rangeset_add (set, bad[i][0], bad[i][1]);
        rangeset_finish (set);
        cr_expect_null (ports_from (&set), "bad set %zu", i);
        cr_expect_null (set);
    }
}
