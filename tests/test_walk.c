//  test_walk.c -- unit tests of spec/walk.c with specs (spec/spec.h): a
//  /22 x 64 ports walked fully hits every (host, port) once, checked
//  against an expansion of the targets written here, exclusions absent;
//  hosts spread in every window of 1,000 positions; same seed, same walk.
#include <criterion/criterion.h>

#include "spec/spec.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

//  10.1.0.0/22 minus 10.1.1.0/26 and 10.1.3.255, by hand: host number
//  (0-1023) -> is it a target.
static bool
s_expected_host (unsigned host)
{
    return !(host >= 256 && host < 256 + 64) && host != 1023;
}

static bool
s_expected_port (unsigned port)
{
    return port >= 1000 && port < 1066 && port != 1010 && port != 1020;
}

Test (walk, a_slash_22_by_64_ports_hits_every_tuple_once)
{
    char err[256] = "";
    spec_t *spec = spec_new (&(spec_source_t) {
        .targets = "10.1.0.0/22", .ports = "1000-1065",
        .exclude = "10.1.1.0/26 10.1.3.255", .exclude_ports = "1010,1020" }, err, sizeof err);
    cr_assert_not_null (spec, "%s", err);
    //  The independent expansion: every (host, port) pair expected.
    static uint8_t hits[1024][66];
    memset (hits, 0, sizeof hits);
    uint64_t expected = 0;
    for (unsigned h = 0; h < 1024; h++)
        for (unsigned p = 1000; p < 1066; p++)
            expected += s_expected_host (h) && s_expected_port (p);
    cr_assert_eq (spec_count (spec), expected);
    cr_assert_eq (expected, (1024 - 65) * 64);

    walk_t *walk = walk_new (spec_hosts (spec), spec_ports (spec), 0x5eed);
    cr_assert_eq (walk_count (walk), expected);
    for (uint64_t position = 0; position < walk_count (walk); position++) {
        uint64_t host;
        uint32_t port;
        walk_at (walk, position, &host, &port);
        spec_tuple_t tuple;
        spec_tuple (spec, host, port, &tuple);
        struct in_addr addr;
        cr_assert_eq (inet_pton (AF_INET, tuple.host, &addr), 1, "%s", tuple.host);
        uint32_t number = ntohl (addr.s_addr) - 0x0a010000;
        cr_assert_lt (number, 1024, "%s", tuple.host);
        cr_assert (s_expected_host (number), "excluded host %s at %lu", tuple.host,
                   (unsigned long) position);
        cr_assert (s_expected_port (tuple.port), "excluded port %u", tuple.port);
        cr_assert_eq (tuple.protocol, PORTS_TCP);
        cr_assert_eq (hits[number][tuple.port - 1000]++, 0, "%s:%u twice", tuple.host,
                      tuple.port);
    }
    for (unsigned h = 0; h < 1024; h++)
        for (unsigned p = 1000; p < 1066; p++)
            cr_assert_eq (hits[h][p - 1000], s_expected_host (h) && s_expected_port (p),
                          "host %u port %u", h, p);
    walk_destroy (&walk);
    cr_expect_null (walk);
    spec_destroy (&spec);
}

//  The most any host appears in a window of size positions, over every
//  window of the walk's first limit positions.
static unsigned
s_worst_window (const walk_t *walk, uint64_t hosts, uint64_t size, uint64_t limit)
{
    unsigned *count = calloc (hosts, sizeof *count);
    uint64_t *at = calloc (limit, sizeof *at);
    unsigned worst = 0;
    for (uint64_t position = 0; position < limit; position++) {
        uint32_t port;
        walk_at (walk, position, &at[position], &port);
        if (++count[at[position]] > worst)
            worst = count[at[position]];
        if (position >= size)
            count[at[position - size]]--;
    }
    free (count);
    free (at);
    return worst;
}

Test (walk, hosts_spread_in_every_window_of_1000)
{
    //  Few hosts: fair share 1000 / 50 = 20 in a window.
    walk_t *walk = walk_new (50, 1000, 1);
    unsigned worst = s_worst_window (walk, 50, 1000, 50000);
    cr_expect_leq (worst, 21, "a host appeared %u times in 1,000 (fair: 20)", worst);
    walk_destroy (&walk);
    //  Hosts about the window: fair share about 1.
    walk = walk_new (1024, 64, 2);
    worst = s_worst_window (walk, 1024, 1000, 1024 * 64);
    cr_expect_leq (worst, 2, "a host appeared %u times in 1,000 (fair: 1)", worst);
    walk_destroy (&walk);
    //  A /16 x 1,000 ports: no host more than twice in any window (twice
    //  only where a window spans the end of one round and the start of
    //  the next).
    walk = walk_new (65536, 1000, 3);
    worst = s_worst_window (walk, 65536, 1000, 300000);
    cr_expect_leq (worst, 2, "a host appeared %u times in 1,000", worst);
    walk_destroy (&walk);
}

Test (walk, the_order_looks_shuffled_and_follows_the_seed)
{
    walk_t *a = walk_new (1000, 100, 7), *b = walk_new (1000, 100, 8);
    walk_t *again = walk_new (1000, 100, 7);
    unsigned same = 0, next_host = 0;
    uint64_t previous = 0;
    for (uint64_t position = 0; position < 100000; position++) {
        uint64_t host, host_b, host_again;
        uint32_t port, port_b, port_again;
        walk_at (a, position, &host, &port);
        walk_at (b, position, &host_b, &port_b);
        walk_at (again, position, &host_again, &port_again);
        cr_assert (host == host_again && port == port_again);
        same += host == host_b && port == port_b;
        next_host += position && host == previous + 1;
        previous = host;
    }
    cr_expect_lt (same, 50, "%u", same);            //  about 1 expected
    cr_expect_lt (next_host, 500, "%u", next_host);  //  about 100 expected
    walk_destroy (&a);
    walk_destroy (&b);
    walk_destroy (&again);
}

Test (walk, tuple_at_a_position_as_msgpack)
{
    char err[256];
    spec_t *spec = spec_new (&(spec_source_t) { .targets = "192.0.2.9", .ports = "U:53" },
                             err, sizeof err);
    cr_assert_not_null (spec, "%s", err);
    walk_t *walk = walk_new (spec_hosts (spec), spec_ports (spec), 99);
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    spec_pack_position (spec, walk, 0, &pk);
    const char want[] = "\x93\xa9" "192.0.2.9" "\x35\xa3" "udp";
    cr_expect_eq (buffer.size, sizeof want - 1);
    cr_expect_eq (memcmp (buffer.data, want, sizeof want - 1), 0);
    msgpack_sbuffer_destroy (&buffer);
    walk_destroy (&walk);
    spec_destroy (&spec);
}
