//  test_spec.c -- unit tests of spec/spec.c: targets x ports minus
//  exclusions as a dense index space, exact counts and the 2^53 limit, a
//  /8 x 65535 in the memory of a /24, tuples as msgpack, and the saved
//  form (round trip to the byte, malformed and non-canonical refused).
#include <criterion/criterion.h>

#include "spec/spec.h"

#include <malloc.h>
#include <stdio.h>
#include <string.h>

static spec_t *
s_spec (const spec_source_t *source)
{
    char err[256] = "";
    spec_t *spec = spec_new (source, err, sizeof err);
    cr_assert_not_null (spec, "%s", err);
    return spec;
}

static void
s_expect_refused (const spec_source_t *source, const char *says)
{
    char err[256] = "";
    spec_t *spec = spec_new (source, err, sizeof err);
    cr_expect_null (spec);
    cr_expect (strstr (err, says), "'%s', wanted '%s'", err, says);
    spec_destroy (&spec);
}

Test (spec, exclusions_leave_a_dense_index_space)
{
    spec_t *spec = s_spec (&(spec_source_t) {
        .targets = "10.0.0.0/24 scan.example", .ports = "20-30 U:53",
        .exclude = "10.0.0.128/25 10.0.0.7", .exclude_ports = "25" });
    cr_expect_eq (spec_hosts (spec), 127 + 1);
    cr_expect_eq (spec_ports (spec), 10 + 1);
    cr_expect_eq (spec_count (spec), 128 * 11);
    spec_tuple_t tuple;
    for (uint64_t h = 0; h < spec_hosts (spec); h++)
        for (uint32_t p = 0; p < spec_ports (spec); p++) {
            spec_tuple (spec, h, p, &tuple);
            unsigned octet = 0;
            if (sscanf (tuple.host, "10.0.0.%u", &octet) == 1)
                cr_assert (octet < 128 && octet != 7, "%s", tuple.host);
            else
                cr_assert_str_eq (tuple.host, "scan.example");
            cr_assert_neq (tuple.port, 25);
        }
    spec_tuple (spec, 127, 10, &tuple);
    cr_expect_str_eq (tuple.host, "scan.example");
    cr_expect (tuple.port == 53 && tuple.protocol == PORTS_UDP);
    spec_destroy (&spec);
}

Test (spec, refuses_empty_and_too_large_specs)
{
    s_expect_refused (&(spec_source_t) { .ports = "80" }, "no targets");
    s_expect_refused (&(spec_source_t) { .targets = "10.0.0.1" }, "no ports");
    s_expect_refused (&(spec_source_t) { .targets = "10.0.0.1", .ports = "80",
                                         .exclude = "10.0.0.0/8" }, "every one excluded");
    s_expect_refused (&(spec_source_t) { .targets = "10.0.0.1", .ports = "80",
                                         .exclude_ports = "1-1000" }, "no ports");
    s_expect_refused (&(spec_source_t) { .targets = "2001:db8::/64", .ports = "80" },
                      "18446744073709551616 hosts x 1 ports is more than 2^53");
    s_expect_refused (&(spec_source_t) { .targets = "::/0", .ports = "80" },
                      "more than 2^53");
    s_expect_refused (&(spec_source_t) { .targets = "10.0.0.1 10.0.0.1/40", .ports = "80" },
                      "'10.0.0.1/40'");
    s_expect_refused (&(spec_source_t) { .targets = "10.0.0.1", .ports = "80",
                                         .exclude_file = "/nonexistent" }, "cannot read");
    //  The largest that fits: 2^37 hosts x 65536 would not, 2^37 x 65535 does.
    char err[256];
    spec_t *spec = spec_new (&(spec_source_t) { .targets = "2001:db8::/91", .ports = "-" },
                             err, sizeof err);
    cr_expect_not_null (spec, "%s", err);
    cr_expect_eq (spec_count (spec), ((uint64_t) 1 << 37) * 65535);
    spec_destroy (&spec);
}

//  Bytes in use on the heap.
static size_t
s_heap (void)
{
    struct mallinfo2 info = mallinfo2 ();
    return info.uordblks + info.hblkhd;
}

Test (spec, a_slash_8_costs_what_a_slash_24_costs)
{
    size_t before = s_heap ();
    spec_t *small = s_spec (&(spec_source_t) { .targets = "10.0.0.0/24", .ports = "80" });
    size_t small_cost = s_heap () - before;
    before = s_heap ();
    spec_t *big = s_spec (&(spec_source_t) { .targets = "10.0.0.0/8", .ports = "1-65535" });
    size_t big_cost = s_heap () - before;
    cr_expect_eq (spec_count (big), (uint64_t) 16777216 * 65535);     //  1.1e12
    cr_expect_leq (big_cost, small_cost + 64, "a /8 x 65535 took %zu bytes, a /24 %zu",
                   big_cost, small_cost);
    spec_tuple_t tuple;
    spec_tuple (big, spec_hosts (big) - 1, spec_ports (big) - 1, &tuple);
    cr_expect_str_eq (tuple.host, "10.255.255.255");
    cr_expect_eq (tuple.port, 65535);
    spec_destroy (&small);
    spec_destroy (&big);
}

static msgpack_sbuffer
s_pack (const spec_t *spec, uint64_t host, uint32_t port)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    spec_pack (spec, host, port, &pk);
    return buffer;
}

Test (spec, tuples_are_host_port_and_protocol_unless_tcp)
{
    spec_t *spec = s_spec (&(spec_source_t) { .targets = "192.0.2.1 2001:db8::1 h.example",
                                              .ports = "443 U:53" });
    const struct { uint64_t host; uint32_t port; const char *bytes; size_t size; } want[] = {
        { 0, 0, "\x92\xa9" "192.0.2.1" "\xcd\x01\xbb", 14 },
        { 1, 1, "\x93\xab" "2001:db8::1" "\x35\xa3" "udp", 18 },
        { 2, 0, "\x92\xa9" "h.example" "\xcd\x01\xbb", 14 },
    };
    for (size_t i = 0; i < 3; i++) {
        msgpack_sbuffer buffer = s_pack (spec, want[i].host, want[i].port);
        cr_expect_eq (buffer.size, want[i].size, "tuple %zu: %zu bytes", i, buffer.size);
        cr_expect_eq (memcmp (buffer.data, want[i].bytes, want[i].size), 0, "tuple %zu", i);
        msgpack_sbuffer_destroy (&buffer);
    }
    spec_destroy (&spec);
}

static msgpack_sbuffer
s_save (const spec_t *spec)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    spec_save (spec, &pk);
    return buffer;
}

Test (spec, saved_form_round_trips_to_the_byte)
{
    spec_t *spec = s_spec (&(spec_source_t) {
        .targets = "10.0.0.0/8 192.168.0.1-192.168.0.9 2001:db8::/100 b.example a.example",
        .ports = "top100 U:53,161 S:9", .exclude = "10.1.0.0/16", .exclude_ports = "80" });
    msgpack_sbuffer saved = s_save (spec);
    cr_expect_lt (saved.size, 600, "%zu bytes", saved.size);
    char err[256] = "";
    spec_t *back = spec_load (saved.data, saved.size, err, sizeof err);
    cr_assert_not_null (back, "%s", err);
    cr_expect_eq (spec_count (back), spec_count (spec));
    msgpack_sbuffer again = s_save (back);
    cr_expect (again.size == saved.size && !memcmp (again.data, saved.data, saved.size));
    //  Same tuples at the same indices.
    spec_tuple_t a, b;
    for (uint64_t h = 0; h < spec_hosts (spec); h += 99991)
        for (uint32_t p = 0; p < spec_ports (spec); p += 7) {
            spec_tuple (spec, h, p, &a);
            spec_tuple (back, h, p, &b);
            cr_assert (!strcmp (a.host, b.host) && a.port == b.port && a.protocol == b.protocol);
        }
    msgpack_sbuffer_destroy (&again);
    spec_destroy (&back);

    //  Any byte changed or cut: refused, or a different valid spec that
    //  saves back to those very bytes; never a crash.
    for (size_t i = 0; i < saved.size; i++)
        for (int bit = 0; bit < 8; bit++) {
            saved.data[i] ^= (char) (1 << bit);
            back = spec_load (saved.data, saved.size, err, sizeof err);
            if (back) {
                msgpack_sbuffer other = s_save (back);
                cr_assert (other.size == saved.size && !memcmp (other.data, saved.data,
                                                                saved.size));
                msgpack_sbuffer_destroy (&other);
                spec_destroy (&back);
            }
            saved.data[i] ^= (char) (1 << bit);
        }
    for (size_t cut = 0; cut < saved.size; cut++) {
        back = spec_load (saved.data, cut, err, sizeof err);
        cr_assert_null (back, "cut at %zu", cut);
    }
    msgpack_sbuffer_destroy (&saved);
    spec_destroy (&spec);
}

Test (spec, load_refuses_what_save_never_writes)
{
    char err[256];
    const struct { const char *bytes; size_t size; const char *says; } bad[] = {
        { "\x94\x02\xc4\x00\x90\xc4\x02\x50\x00", 9, "not a saved spec" },     //  version 2
        { "\x94\xcc\x01\xc4\x02\x00\x00\x90\xc4\x02\x50\x00", 12, "canonical" },
        { "\x94\x01\xc4\x00\x90\xc4\x02\x00\x00", 9, "malformed ports" },      //  port 0
        { "\x94\x01\xc4\x00\x91\xa1" "B" "\xc4\x02\x50\x00", 11, "malformed targets" },
        { "\x94\x01\xc4\x00\x92\xa1" "b" "\xa1" "a" "\xc4\x02\x50\x00", 13, "malformed" },
        { "\x94\x01\xc4\x00\x90\xc4\x02\x50\x00", 9, "no targets" },
        { "\x94\x01\xc4\x00\x91\xa1" "a" "\xc4\x02\x50\x00\x00", 12, "one msgpack value" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        spec_t *spec = spec_load (bad[i].bytes, bad[i].size, err, sizeof err);
        cr_expect_null (spec, "case %zu", i);
        cr_expect (strstr (err, bad[i].says), "case %zu: '%s', wanted '%s'", i, err,
                   bad[i].says);
        spec_destroy (&spec);
    }
    spec_t *spec = spec_load ("\x94\x01\xc4\x00\x91\xa1" "a" "\xc4\x02\x50\x00", 11, err,
                              sizeof err);
    cr_expect_not_null (spec, "%s", err);
    cr_expect_eq (spec_count (spec), 1);
    spec_destroy (&spec);
}
