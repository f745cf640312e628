//  test_tuple_peek.c -- unit tests of spec/tuple_peek.c: the target of
//  array and map tuples, elements past nested values, every cut of a
//  tuple and random bytes read safely, and the exclusion check a broker
//  makes with it (spec/targets.h).
#include <criterion/criterion.h>

#include "spec/targets.h"
#include "spec/tuple_peek.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

static msgpack_sbuffer s_buffer;
static msgpack_packer s_pk;

static void
s_start (void)
{
    msgpack_sbuffer_init (&s_buffer);
    msgpack_packer_init (&s_pk, &s_buffer, msgpack_sbuffer_write);
}

static void
s_str (const char *text)
{
    msgpack_pack_str (&s_pk, strlen (text));
    msgpack_pack_str_body (&s_pk, text, strlen (text));
}

static void
s_expect_target (const char *host, uint16_t port)
{
    tuple_target_t target;
    cr_assert_eq (tuple_peek_target (s_buffer.data, s_buffer.size, &target), 0);
    cr_expect (target.host_len == strlen (host) && !memcmp (target.host, host, target.host_len),
               "host %.*s", (int) target.host_len, target.host);
    cr_expect_eq (target.port, port);
}

Test (tuple_peek, array_tuples)
{
    s_start ();
    msgpack_pack_array (&s_pk, 2);
    s_str ("10.0.0.7");
    msgpack_pack_uint16 (&s_pk, 443);
    s_expect_target ("10.0.0.7", 443);
    msgpack_sbuffer_destroy (&s_buffer);

    s_start ();                     //  with a protocol, a port as a float
    msgpack_pack_array (&s_pk, 3);
    s_str ("2001:db8::1");
    msgpack_pack_double (&s_pk, 53.0);
    s_str ("udp");
    s_expect_target ("2001:db8::1", 53);
    msgpack_sbuffer_destroy (&s_buffer);

    s_start ();                     //  no port, or a port out of range: 0
    msgpack_pack_array (&s_pk, 1);
    s_str ("h.example");
    s_expect_target ("h.example", 0);
    msgpack_sbuffer_destroy (&s_buffer);
    const int64_t bad_ports[] = { 0, -80, 65536 };
    for (size_t i = 0; i < 3; i++) {
        s_start ();
        msgpack_pack_array (&s_pk, 2);
        s_str ("h");
        msgpack_pack_int64 (&s_pk, bad_ports[i]);
        s_expect_target ("h", 0);
        msgpack_sbuffer_destroy (&s_buffer);
    }
    s_start ();
    msgpack_pack_array (&s_pk, 2);
    s_str ("h");
    msgpack_pack_double (&s_pk, 80.5);
    s_expect_target ("h", 0);
    msgpack_sbuffer_destroy (&s_buffer);
}

Test (tuple_peek, map_tuples_with_other_keys_first)
{
    s_start ();
    msgpack_pack_map (&s_pk, 4);
    s_str ("options");              //  a nested value to skip
    msgpack_pack_map (&s_pk, 1);
    s_str ("deep");
    msgpack_pack_array (&s_pk, 3);
    msgpack_pack_nil (&s_pk);
    msgpack_pack_bin (&s_pk, 3);
    msgpack_pack_bin_body (&s_pk, "abc", 3);
    msgpack_pack_ext (&s_pk, 2, 7);
    msgpack_pack_ext_body (&s_pk, "xy", 2);
    msgpack_pack_int (&s_pk, 1);    //  a key that is not a string
    msgpack_pack_true (&s_pk);
    s_str ("port");
    msgpack_pack_uint32 (&s_pk, 8443);
    s_str ("host");
    s_str ("scan.example");
    s_expect_target ("scan.example", 8443);
    const void *element;
    size_t size;
    cr_expect_eq (tuple_peek_element (s_buffer.data, s_buffer.size, 0, "options", &element,
                                      &size), 0);
    cr_expect_eq (*(const uint8_t *) element, 0x81);
    cr_expect_eq (size, 1 + 5 + 1 + 1 + 5 + 4);
    cr_expect_eq (tuple_peek_element (s_buffer.data, s_buffer.size, 0, "absent", &element,
                                      &size), -1);
    cr_expect_eq (tuple_peek_element (s_buffer.data, s_buffer.size, 0, NULL, &element,
                                      &size), -1);
    msgpack_sbuffer_destroy (&s_buffer);
}

Test (tuple_peek, elements_by_index)
{
    s_start ();
    msgpack_pack_array (&s_pk, 4);
    msgpack_pack_array (&s_pk, 2);
    msgpack_pack_int (&s_pk, 1);
    msgpack_pack_int (&s_pk, 2);
    s_str ("user-1");
    msgpack_pack_uint64 (&s_pk, 1ull << 40);
    s_str ("last");
    const void *element;
    size_t size;
    cr_assert_eq (tuple_peek_element (s_buffer.data, s_buffer.size, 1, NULL, &element, &size), 0);
    cr_expect (size == 7 && !memcmp (element, "\xa6" "user-1", 7));
    cr_assert_eq (tuple_peek_element (s_buffer.data, s_buffer.size, 3, "x", &element, &size), 0);
    cr_expect (size == 5 && !memcmp (element, "\xa4" "last", 5));
    cr_expect_eq (tuple_peek_element (s_buffer.data, s_buffer.size, 4, NULL, &element, &size), -1);
    //  The first element is not a string: no target.
    tuple_target_t target;
    cr_expect_eq (tuple_peek_target (s_buffer.data, s_buffer.size, &target), -1);
    msgpack_sbuffer_destroy (&s_buffer);
}

Test (tuple_peek, cut_and_random_bytes_are_read_safely)
{
    s_start ();
    msgpack_pack_map (&s_pk, 3);
    s_str ("x");
    msgpack_pack_array (&s_pk, 2);
    msgpack_pack_str (&s_pk, 300);
    char filler[300];
    memset (filler, 'f', sizeof filler);
    msgpack_pack_str_body (&s_pk, filler, sizeof filler);
    msgpack_pack_float (&s_pk, 1.5f);
    s_str ("host");
    s_str ("10.9.8.7");
    s_str ("port");
    msgpack_pack_uint16 (&s_pk, 22);
    s_expect_target ("10.9.8.7", 22);
    tuple_target_t target;
    //  Each cut is copied to a buffer of its exact size: ASan catches a
    //  read past it.
    for (size_t cut = 0; cut < s_buffer.size; cut++) {
        char *copy = malloc (cut + 1);
        memcpy (copy, s_buffer.data, cut);
        int rc = tuple_peek_target (copy, cut, &target);
        cr_assert (rc == -1 || (target.host_len == 8 && target.port == 0), "cut %zu", cut);
        free (copy);
    }
    msgpack_sbuffer_destroy (&s_buffer);
    srand (5);
    for (int round = 0; round < 20000; round++) {
        size_t size = (size_t) rand () % 40;
        uint8_t *bytes = malloc (size + 1);
        for (size_t i = 0; i < size; i++)
            bytes[i] = (uint8_t) (round & 1? rand (): 0x80 + rand () % 0x60);
        if (tuple_peek_target (bytes, size, &target) == 0)
            cr_assert ((const uint8_t *) target.host + target.host_len <= bytes + size);
        const void *element;
        size_t element_size;
        if (tuple_peek_element (bytes, size, (uint32_t) rand () % 4, "a", &element,
                                &element_size) == 0)
            cr_assert ((const uint8_t *) element + element_size <= bytes + size);
        free (bytes);
    }
    //  A container claiming more items than bytes follow.
    const uint8_t liar[] = { 0x92, 0xdd, 0xff, 0xff, 0xff, 0xff, 0xa1, 'h' };
    cr_expect_eq (tuple_peek_target (liar, sizeof liar, &target), -1);
    const uint8_t never_used[] = { 0x92, 0xc1, 0x01 };
    cr_expect_eq (tuple_peek_target (never_used, sizeof never_used, &target), -1);
}

Test (tuple_peek, exclusion_check_without_allocating)
{
    targets_t *excluded = targets_new ();
    const char *list = "10.0.0.0/8 # management\nmgmt.example\n2001:db8::/32\n";
    char err[128];
    cr_assert_eq (targets_add (excluded, list, strlen (list), err, sizeof err), 0, "%s", err);
    const struct { const char *host; bool excluded; } cases[] = {
        { "10.200.3.4", true }, { "11.0.0.1", false }, { "MGMT.example", true },
        { "mgmt.example.org", false }, { "2001:db8:ffff::1", true }, { "2001:db9::1", false },
        { "::ffff:10.0.0.1", true },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_start ();
        msgpack_pack_array (&s_pk, 2);
        s_str (cases[i].host);
        msgpack_pack_int (&s_pk, 80);
        tuple_target_t target;
        cr_assert_eq (tuple_peek_target (s_buffer.data, s_buffer.size, &target), 0);
        cr_expect_eq (targets_contains (excluded, target.host, target.host_len),
                      cases[i].excluded, "%s", cases[i].host);
        msgpack_sbuffer_destroy (&s_buffer);
    }
    targets_destroy (&excluded);
}
