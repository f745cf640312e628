//  test_json.c -- unit tests of common/json_read.c and common/json_write.c: JSON text -> msgpack -> JSON
//  round trips, every parse error class with its position, unicode, integer
//  ranges, the depth limit, the writer's escaping of what JSON lacks, and
//  json_out.c's fast paths (plain runs of strings, decimal digits).
#include "common/json_out.h"
#include "common/json_read.h"
#include "common/json_write.h"

#include <criterion/criterion.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

//  Parse text; on success unpack it into *obj (zone owned by the caller).
static int
s_parse (const char *text, size_t len, msgpack_sbuffer *buf, char *err)
{
    msgpack_sbuffer_init (buf);
    return json_to_msgpack (text, len, buf, err, 128);
}

static msgpack_object
s_unpack (msgpack_sbuffer *buf, msgpack_zone *zone)
{
    msgpack_object obj;
    msgpack_zone_init (zone, 1024);
    size_t off = 0;
    int rc = msgpack_unpack (buf->data, buf->size, &off, zone, &obj);
    cr_assert_eq (rc, MSGPACK_UNPACK_SUCCESS, "unpack rc %d", rc);
    cr_assert_eq (off, buf->size, "trailing bytes after the value");
    return obj;
}

//  Object as JSON text (caller frees).
static char *
s_write (const msgpack_object *obj)
{
    char *text = NULL;
    size_t size = 0;
    FILE *mem = open_memstream (&text, &size);
    cr_assert (mem);
    cr_assert_eq (json_write (mem, obj), 0);
    fclose (mem);
    return text;
}

//  JSON text in, JSON text out.
static char *
s_roundtrip (const char *text)
{
    msgpack_sbuffer buf;
    char err[128] = "";
    int rc = s_parse (text, strlen (text), &buf, err);
    cr_assert_eq (rc, 0, "parse of %s failed: %s", text, err);
    msgpack_zone zone;
    msgpack_object obj = s_unpack (&buf, &zone);
    char *out = s_write (&obj);
    msgpack_zone_destroy (&zone);
    msgpack_sbuffer_destroy (&buf);
    return out;
}

static void
s_expect_roundtrip (const char *in, const char *expected)
{
    char *out = s_roundtrip (in);
    cr_assert_str_eq (out, expected, "%s -> %s, expected %s", in, out, expected);
    free (out);
}

static void
s_expect_error (const char *in, const char *expected)
{
    msgpack_sbuffer buf;
    char err[128] = "";
    int rc = s_parse (in, strlen (in), &buf, err);
    cr_assert_eq (rc, -1, "parse of '%s' should fail", in);
    cr_assert_eq (buf.size, 0, "nothing is left in the buffer on error");
    cr_assert_str_eq (err, expected, "'%s': got \"%s\"", in, err);
    msgpack_sbuffer_destroy (&buf);
}

Test (json, scalars) {
    s_expect_roundtrip ("null", "null");
    s_expect_roundtrip ("true", "true");
    s_expect_roundtrip ("false", "false");
    s_expect_roundtrip ("0", "0");
    s_expect_roundtrip ("-0", "0");
    s_expect_roundtrip ("42", "42");
    s_expect_roundtrip ("-17", "-17");
    s_expect_roundtrip ("1.5", "1.5");
    s_expect_roundtrip ("-0.25", "-0.25");
    s_expect_roundtrip ("1e3", "1000.0");
    s_expect_roundtrip ("1E-2", "0.01");
    s_expect_roundtrip ("2.5e+2", "250.0");
    s_expect_roundtrip ("\"hi\"", "\"hi\"");
    s_expect_roundtrip ("\"\"", "\"\"");
}

Test (json, whitespace_and_nesting) {
    s_expect_roundtrip (" \t\r\n[ 1 , 2 ,\n\"x\" ] \n", "[1,2,\"x\"]");
    s_expect_roundtrip ("[]", "[]");
    s_expect_roundtrip ("{}", "{}");
    s_expect_roundtrip ("[[],{},[[]]]", "[[],{},[[]]]");
    const char *nested = "{\"a\":[1,2,{\"b\":null,\"c\":[true,false]}],"
                         "\"d\":{\"e\":{\"f\":\"g\"}},\"h\":-1.25}";
    s_expect_roundtrip (nested, nested);
    s_expect_roundtrip ("[\"tcp-probe\",\"10.0.0.7\",443]",
                        "[\"tcp-probe\",\"10.0.0.7\",443]");
}

Test (json, integer_ranges) {
    struct { const char *text; msgpack_object_type type; } cases[] = {
        { "18446744073709551615", MSGPACK_OBJECT_POSITIVE_INTEGER },
        { "9223372036854775807", MSGPACK_OBJECT_POSITIVE_INTEGER },
        { "-9223372036854775808", MSGPACK_OBJECT_NEGATIVE_INTEGER },
        { "18446744073709551616", MSGPACK_OBJECT_FLOAT64 },
        { "-9223372036854775809", MSGPACK_OBJECT_FLOAT64 },
        { "100000000000000000000000", MSGPACK_OBJECT_FLOAT64 },
        { "1.0", MSGPACK_OBJECT_FLOAT64 },
        { "1e2", MSGPACK_OBJECT_FLOAT64 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        msgpack_sbuffer buf;
        char err[128];
        cr_assert_eq (s_parse (cases[i].text, strlen (cases[i].text), &buf, err), 0);
        msgpack_zone zone;
        msgpack_object obj = s_unpack (&buf, &zone);
        cr_assert_eq (obj.type, cases[i].type, "%s: type %d", cases[i].text, obj.type);
        if (i == 0)
            cr_assert_eq (obj.via.u64, UINT64_MAX);
        if (i == 2)
            cr_assert_eq (obj.via.i64, INT64_MIN);
        if (i == 3)
            cr_assert_eq (obj.via.f64, 18446744073709551616.0);
        msgpack_zone_destroy (&zone);
        msgpack_sbuffer_destroy (&buf);
    }
    s_expect_roundtrip ("[18446744073709551615,-9223372036854775808]",
                        "[18446744073709551615,-9223372036854775808]");
    s_expect_roundtrip ("18446744073709551616", "1.8446744073709552e+19");
}

Test (json, floats_round_trip) {
    s_expect_roundtrip ("0.1", "0.1");
    s_expect_roundtrip ("3.141592653589793", "3.141592653589793");
    s_expect_roundtrip ("1e300", "1e+300");
    s_expect_roundtrip ("5e-324", "4.94065645841247e-324");
    s_expect_roundtrip ("0.30000000000000004", "0.30000000000000004");
    //  Any double printed and parsed again is the same double.
    srand (7);
    for (int i = 0; i < 20000; i++) {
        uint64_t bits = (uint64_t) rand () << 42 ^ (uint64_t) rand () << 21 ^ (uint64_t) rand ();
        double value;
        memcpy (&value, &bits, sizeof value);
        if (isnan (value) || isinf (value))
            continue;
        msgpack_object obj = { .type = MSGPACK_OBJECT_FLOAT64, .via.f64 = value };
        char *text = s_write (&obj);
        msgpack_sbuffer buf;
        char err[128];
        cr_assert_eq (s_parse (text, strlen (text), &buf, err), 0, "%s: %s", text, err);
        msgpack_zone zone;
        msgpack_object back = s_unpack (&buf, &zone);
        cr_assert_eq (back.type, MSGPACK_OBJECT_FLOAT64, "%s read back as type %d", text, back.type);
        cr_assert (back.via.f64 == value, "%s read back as %.17g", text, back.via.f64);
        msgpack_zone_destroy (&zone);
        msgpack_sbuffer_destroy (&buf);
        free (text);
    }
}

Test (json, unicode) {
    s_expect_roundtrip ("\"\\u00e9\"", "\"\xc3\xa9\"");
    s_expect_roundtrip ("\"\\u20AC\"", "\"\xe2\x82\xac\"");
    s_expect_roundtrip ("\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\"");
    s_expect_roundtrip ("\"\xf0\x9f\x98\x80 caf\xc3\xa9\"", "\"\xf0\x9f\x98\x80 caf\xc3\xa9\"");
    s_expect_roundtrip ("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"", "\"a\\\"b\\\\c/d\\b\\f\\n\\r\\t\"");
    s_expect_roundtrip ("\"\\u0001\\u001f\"", "\"\\u0001\\u001f\"");
    //  \u0000 is a real NUL byte inside the msgpack string.
    msgpack_sbuffer buf;
    char err[128];
    cr_assert_eq (s_parse ("\"a\\u0000b\"", 10, &buf, err), 0);
    msgpack_zone zone;
    msgpack_object obj = s_unpack (&buf, &zone);
    cr_assert_eq (obj.type, MSGPACK_OBJECT_STR);
    cr_assert_eq (obj.via.str.size, 3);
    cr_assert_eq (memcmp (obj.via.str.ptr, "a\0b", 3), 0);
    char *text = s_write (&obj);
    cr_assert_str_eq (text, "\"a\\u0000b\"");
    free (text);
    msgpack_zone_destroy (&zone);
    msgpack_sbuffer_destroy (&buf);
    //  Escapes after a plain prefix, and keys with escapes.
    s_expect_roundtrip ("{\"k\\u0065y\":\"plain then \\u00e9 and more\"}",
                        "{\"key\":\"plain then \xc3\xa9 and more\"}");
}

Test (json, errors) {
    s_expect_error ("", "line 1, column 1: expected a value, got end of input");
    s_expect_error ("   ", "line 1, column 4: expected a value, got end of input");
    s_expect_error ("[1,]", "line 1, column 4: expected a value, got ']'");
    s_expect_error ("[1 2]", "line 1, column 4: expected ',' or ']', got '2'");
    s_expect_error ("[1", "line 1, column 3: expected ',' or ']', got end of input");
    s_expect_error ("{\"a\" 1}", "line 1, column 6: expected ':', got '1'");
    s_expect_error ("{\"a\":1,}", "line 1, column 8: expected a string key, got '}'");
    s_expect_error ("{1:2}", "line 1, column 2: expected a string key, got '1'");
    s_expect_error ("{\"a\":1 \"b\":2}", "line 1, column 8: expected ',' or '}', got '\"'");
    s_expect_error ("tru", "line 1, column 1: expected a value, got 't'");
    s_expect_error ("nul", "line 1, column 1: expected a value, got 'n'");
    s_expect_error ("True", "line 1, column 1: expected a value, got 'T'");
    s_expect_error ("'a'", "line 1, column 1: expected a value, got '''");
    s_expect_error ("1 2", "line 1, column 3: unexpected '2' after the value");
    s_expect_error ("[1]x", "line 1, column 4: unexpected 'x' after the value");
    s_expect_error ("truex", "line 1, column 5: unexpected 'x' after the value");
    s_expect_error ("01", "line 1, column 1: invalid number: leading zero");
    s_expect_error ("-", "line 1, column 1: invalid number: expected a digit");
    s_expect_error ("-a", "line 1, column 1: invalid number: expected a digit");
    s_expect_error ("+1", "line 1, column 1: expected a value, got '+'");
    s_expect_error (".5", "line 1, column 1: expected a value, got '.'");
    s_expect_error ("1.", "line 1, column 1: invalid number: expected a digit after '.'");
    s_expect_error ("1.e3", "line 1, column 1: invalid number: expected a digit after '.'");
    s_expect_error ("1e", "line 1, column 1: invalid number: expected a digit in the exponent");
    s_expect_error ("1e+", "line 1, column 1: invalid number: expected a digit in the exponent");
    s_expect_error ("1e400", "line 1, column 1: number out of range");
    s_expect_error ("-1e400", "line 1, column 1: number out of range");
    s_expect_error ("NaN", "line 1, column 1: expected a value, got 'N'");
    s_expect_error ("\"abc", "line 1, column 1: unterminated string");
    s_expect_error ("\"abc\\", "line 1, column 5: unterminated string");
    s_expect_error ("\"a\nb\"", "line 1, column 3: control character U+000A in string (must be escaped)");
    s_expect_error ("\"a\tb\"", "line 1, column 3: control character U+0009 in string (must be escaped)");
    s_expect_error ("\"\\x\"", "line 1, column 2: invalid escape \\'x' in string");
    s_expect_error ("\"\\u12\"", "line 1, column 2: invalid \\u escape: expected four hex digits");
    s_expect_error ("\"\\u12g4\"", "line 1, column 2: invalid \\u escape: expected four hex digits");
    s_expect_error ("\"\\ud83d\"", "line 1, column 2: lone high surrogate \\uD83D");
    s_expect_error ("\"\\ud83dx\"", "line 1, column 2: lone high surrogate \\uD83D");
    s_expect_error ("\"\\ud83d\\u0041\"", "line 1, column 2: lone high surrogate \\uD83D");
    s_expect_error ("\"\\ude00\"", "line 1, column 2: lone low surrogate \\uDE00");
    s_expect_error ("\"\xff\"", "line 1, column 2: invalid UTF-8 byte 0xFF in string");
    s_expect_error ("\"\xc0\xaf\"", "line 1, column 2: invalid UTF-8 byte 0xC0 in string");
    s_expect_error ("\"\xed\xa0\x80\"", "line 1, column 2: invalid UTF-8 byte 0xED in string");
    s_expect_error ("\"\xe2\x82\"", "line 1, column 2: invalid UTF-8 byte 0xE2 in string");
    s_expect_error ("\xef\xbb\xbf[]", "line 1, column 1: expected a value, got byte 0xEF");
    //  Lines and columns: columns count characters, not bytes.
    s_expect_error ("[1,\n 2,\n x]", "line 3, column 2: expected a value, got 'x'");
    s_expect_error ("[\"\xc3\xa9\xc3\xa9\", x]", "line 1, column 8: expected a value, got 'x'");
}

Test (json, embedded_nul_and_length) {
    //  The length bounds the input, not a NUL: "[1]" then more is trailing.
    msgpack_sbuffer buf;
    char err[128] = "";
    cr_assert_eq (s_parse ("[1]\0[2]", 7, &buf, err), -1);
    cr_assert_str_eq (err, "line 1, column 4: unexpected byte 0x00 after the value");
    msgpack_sbuffer_destroy (&buf);
    //  And len shorter than the string stops early.
    cr_assert_eq (s_parse ("[1,2]", 3, &buf, err), -1);
    cr_assert_str_eq (err, "line 1, column 4: expected a value, got end of input");
    msgpack_sbuffer_destroy (&buf);
    //  A NULL err buffer is allowed.
    msgpack_sbuffer_init (&buf);
    cr_assert_eq (json_to_msgpack ("[", 1, &buf, NULL, 0), -1);
    msgpack_sbuffer_destroy (&buf);
}

Test (json, appends_and_restores_on_error) {
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    char err[128];
    cr_assert_eq (json_to_msgpack ("1", 1, &buf, err, sizeof err), 0);
    cr_assert_eq (json_to_msgpack ("[2,[3]]", 7, &buf, err, sizeof err), 0);
    size_t good = buf.size;
    cr_assert_eq (json_to_msgpack ("[4,[5,", 6, &buf, err, sizeof err), -1);
    cr_assert_eq (buf.size, good, "a failed parse leaves earlier values intact");
    //  Two values, back to back, exactly as packed.
    const unsigned char expected[] = { 0x01, 0x92, 0x02, 0x91, 0x03 };
    cr_assert_eq (buf.size, sizeof expected);
    cr_assert_eq (memcmp (buf.data, expected, sizeof expected), 0);
    msgpack_sbuffer_destroy (&buf);
}

static char *
s_nested (int depth, const char *open, const char *inner, const char *close)
{
    size_t size = (size_t) depth * (strlen (open) + strlen (close)) + strlen (inner) + 1;
    char *text = malloc (size);
    text[0] = 0;
    for (int i = 0; i < depth; i++)
        strcat (text, open);
    strcat (text, inner);
    for (int i = 0; i < depth; i++)
        strcat (text, close);
    return text;
}

//  The limit is msgpack-c's: 32 nested containers is the most its unpacker
//  (and so every agent) decodes; json_read.c refuses deeper input up front.
Test (json, depth_limit) {
    char *ok = s_nested (32, "[", "1", "]");
    s_expect_roundtrip (ok, ok);
    free (ok);
    char *objects = s_nested (32, "{\"a\":", "1", "}");
    s_expect_roundtrip (objects, objects);
    free (objects);
    char *deep = s_nested (33, "[", "1", "]");
    s_expect_error (deep, "line 1, column 33: nesting deeper than 32");
    free (deep);
    char *deep_objects = s_nested (33, "{\"a\":", "1", "}");
    s_expect_error (deep_objects, "line 1, column 161: nesting deeper than 32");
    free (deep_objects);
    //  Far deeper input fails the same way, without a stack overflow.
    char *very = s_nested (100000, "[", "", "]");
    s_expect_error (very, "line 1, column 33: nesting deeper than 32");
    free (very);
}

Test (json, container_headers) {
    //  16 and 70000 elements need array16 and array32 headers; 16 keys map16.
    size_t counts[] = { 15, 16, 65535, 65536, 70000 };
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        size_t n = counts[c];
        char *text = malloc (n * 2 + 2);
        size_t at = 0;
        text[at++] = '[';
        for (size_t i = 0; i < n; i++) {
            text[at++] = (char) ('0' + i % 10);
            text[at++] = i + 1 < n? ',': ']';
        }
        msgpack_sbuffer buf;
        char err[128];
        cr_assert_eq (s_parse (text, at, &buf, err), 0, "%s", err);
        unsigned char first = (unsigned char) buf.data[0];
        cr_assert_eq (first, n < 16? 0x90 + n: n <= 65535? 0xdc: 0xdd);
        msgpack_zone zone;
        msgpack_object obj = s_unpack (&buf, &zone);
        cr_assert_eq (obj.via.array.size, n);
        cr_assert_eq (obj.via.array.ptr[n - 1].via.u64, (n - 1) % 10);
        char *back = s_write (&obj);
        cr_assert_eq (strlen (back), at);
        cr_assert_eq (memcmp (back, text, at), 0);
        free (back);
        msgpack_zone_destroy (&zone);
        msgpack_sbuffer_destroy (&buf);
        free (text);
    }
    const char *map16 = "{\"a\":0,\"b\":1,\"c\":2,\"d\":3,\"e\":4,\"f\":5,\"g\":6,\"h\":7,"
                        "\"i\":8,\"j\":9,\"k\":10,\"l\":11,\"m\":12,\"n\":13,\"o\":14,\"p\":15}";
    msgpack_sbuffer buf;
    char err[128];
    cr_assert_eq (s_parse (map16, strlen (map16), &buf, err), 0);
    cr_assert_eq ((unsigned char) buf.data[0], 0xde);
    msgpack_sbuffer_destroy (&buf);
    s_expect_roundtrip (map16, map16);
}

Test (json, long_strings_and_numbers) {
    //  A string longer than the writer's buffer, and a very long number.
    size_t n = 100000;
    char *text = malloc (n + 3);
    text[0] = '"';
    for (size_t i = 1; i <= n; i++)
        text[i] = (char) ('a' + i % 26);
    text[n + 1] = '"';
    text[n + 2] = 0;
    s_expect_roundtrip (text, text);
    free (text);
    char number[400] = "1";
    memset (number + 1, '0', 300);
    s_expect_roundtrip (number, "1e+300");
}

//  Numbers are written two digits at a time after counting them from
//  their bits: every count of digits and of bits, at both ends, must read
//  as printf writes it.
Test (json, decimal_at_every_length) {
    uint64_t values[200];
    size_t count = 0;
    values[count++] = 0;
    values[count++] = UINT64_MAX;
    for (int bits = 1; bits < 64; bits++) {
        values[count++] = (uint64_t) 1 << (bits - 1);
        values[count++] = ((uint64_t) 1 << bits) - 1;
    }
    for (uint64_t power = 1; ; power *= 10) {
        values[count++] = power;
        values[count++] = power - 1;
        values[count++] = power + 7;
        if (power > UINT64_MAX / 10)
            break;
    }
    for (size_t i = 0; i < count; i++) {
        char got[21] = { 0 }, want[24];
        size_t size = json_out_decimal (got, values[i]);
        snprintf (want, sizeof want, "%" PRIu64, values[i]);
        cr_expect_eq (size, strlen (want), "%s: %zu digits", want, size);
        cr_expect (size == strlen (want) && memcmp (got, want, size) == 0, "%s: %.*s",
                   want, (int) size, got);
    }
}

//  Writer-only cases: msgpack has things JSON lacks.
Test (json, writer_escapes_what_json_lacks) {
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 11);
    msgpack_pack_str_with_body (&pk, "ok\xff\xc3\xa9\xc3", 6);     //  invalid bytes
    msgpack_pack_bin_with_body (&pk, "\x00\x01\x02\xff", 4);
    msgpack_pack_bin_with_body (&pk, "ab", 2);
    msgpack_pack_bin_with_body (&pk, "abc", 3);
    msgpack_pack_ext_with_body (&pk, "hi", 2, 5);
    msgpack_pack_double (&pk, NAN);
    msgpack_pack_double (&pk, -INFINITY);
    msgpack_pack_float (&pk, 0.1f);
    msgpack_pack_int64 (&pk, INT64_MIN);
    msgpack_pack_map (&pk, 3);
    msgpack_pack_int (&pk, 7);
    msgpack_pack_true (&pk);
    msgpack_pack_array (&pk, 2);
    msgpack_pack_int (&pk, 1);
    msgpack_pack_str_with_body (&pk, "x", 1);
    msgpack_pack_nil (&pk);
    msgpack_pack_nil (&pk);
    msgpack_pack_false (&pk);
    msgpack_pack_double (&pk, 2.0);
    msgpack_zone zone;
    msgpack_object obj = s_unpack (&buf, &zone);
    char *text = s_write (&obj);
    cr_assert_str_eq (text,
        "[\"ok\\u00ff\xc3\xa9\\u00c3\",\"AAEC/w==\",\"YWI=\",\"YWJj\","
        "{\"ext\":5,\"data\":\"aGk=\"},null,null,0.1,-9223372036854775808,"
        "{\"7\":true,\"[1,\\\"x\\\"]\":null,\"null\":false},2.0]");
    free (text);
    msgpack_zone_destroy (&zone);
    msgpack_sbuffer_destroy (&buf);
}

Test (json, write_errors) {
    msgpack_object obj = { .type = MSGPACK_OBJECT_STR, .via.str = { 3, "abc" } };
    FILE *readonly = fopen ("/dev/null", "r");
    cr_assert (readonly);
    cr_assert_eq (json_write (readonly, &obj), -1, "a stream that cannot be written fails");
    fclose (readonly);
    cr_assert_eq (json_write (NULL, &obj), -1);
    obj.type = (msgpack_object_type) 0x77;
    FILE *null = fopen ("/dev/null", "w");
    cr_assert_eq (json_write (null, &obj), -1, "an unknown type is an error");
    fclose (null);
}

//  A map whose only key is the previous value, depth times over.
static void
s_pack_nested_keys (msgpack_sbuffer *buf, int depth)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    for (int i = 0; i < depth; i++)
        msgpack_pack_map (&pk, 1);
    msgpack_pack_str_with_body (&pk, "\"", 1);
    for (int i = 0; i < depth; i++)
        msgpack_pack_nil (&pk);
}

Test (json, keys_in_keys_are_bounded) {
    //  Each key that is not a string doubles the escaping inside it: 30
    //  levels of a few bytes would be 2^30 bytes of JSON.  (msgpack-c's
    //  unpacker stops at 32 levels.)
    for (int depth = 1; depth <= 30; depth++) {
        msgpack_sbuffer buf;
        msgpack_sbuffer_init (&buf);
        s_pack_nested_keys (&buf, depth);
        json_buffer_t out = { 0 };
        int rc = json_write_msgpack (&out, buf.data, buf.size, NULL);
        msgpack_zone zone;
        msgpack_object obj = s_unpack (&buf, &zone);
        char *text = NULL;
        size_t size = 0;
        FILE *stream = open_memstream (&text, &size);
        cr_assert (stream);
        int rc_object = json_write (stream, &obj);
        fclose (stream);
        //  The map is the outermost value; its key nests depth - 1 maps.
        cr_expect_eq (rc, depth <= 4? 0: -1, "depth %d: rc %d", depth, rc);
        cr_expect_eq (rc_object, rc, "depth %d: both writers agree", depth);
        cr_expect_leq (out.size, 4096, "depth %d: %zu bytes", depth, out.size);
        if (depth == 2)
            cr_expect_str_eq (text, "{\"{\\\"\\\\\\\"\\\":null}\":null}");
        json_buffer_free (&out);
        free (text);
        msgpack_zone_destroy (&zone);
        msgpack_sbuffer_destroy (&buf);
    }
}

//  The string writer skips plain bytes 16 and 8 at a time, and the last
//  few at once when the 8 that end the string are plain: a byte that needs
//  escaping (or a UTF-8 check) must be caught at every offset of strings
//  of every length around those steps, and its neighbours in value (space,
//  '#', '[', ']', DEL) never escaped.
static void
s_expect_one_byte_at (unsigned char c, size_t size, size_t at, const char *want_escape)
{
    char text[40];
    memset (text, 'a', sizeof text);
    text[at] = (char) c;
    json_buffer_t out = { 0 };
    cr_assert_eq (json_write_string (&out, text, size), 0);
    char want[80];
    snprintf (want, sizeof want, "\"%.*s%s%.*s\"", (int) at, text, want_escape,
              (int) (size - at - 1), text + at + 1);
    cr_expect_eq (out.size, strlen (want), "byte 0x%02x at %zu of %zu", c, at, size);
    cr_expect (out.size == strlen (want) && memcmp (out.data, want, out.size) == 0,
               "byte 0x%02x at %zu of %zu: %.*s, want %s", c, at, size, (int) out.size,
               out.data, want);
    json_buffer_free (&out);
}

Test (json, string_escapes_found_at_every_offset) {
    struct { unsigned char c; const char *as; } cases[] = {
        { 0x00, "\\u0000" }, { 0x01, "\\u0001" }, { '\n', "\\n" }, { 0x1f, "\\u001f" },
        { '"', "\\\"" }, { '\\', "\\\\" }, { 0x80, "\\u0080" }, { 0xff, "\\u00ff" },
        { ' ', " " }, { '!', "!" }, { '#', "#" }, { '[', "[" }, { ']', "]" },
        { 0x7f, "\x7f" },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (size_t size = 1; size <= 40; size++)
            for (size_t at = 0; at < size; at++)
                s_expect_one_byte_at (cases[k].c, size, at, cases[k].as);
}
