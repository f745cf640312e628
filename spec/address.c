//  address.c -- IPv4 and IPv6 addresses as 128-bit numbers (address.h).
//  inet_pton and inet_ntop do the text; they are pure functions of their
//  arguments, so the spec stays free of anything that reads the system.
#include "spec/address.h"

#include <arpa/inet.h>
#include <string.h>

void
address_to_bytes (address_t address, uint8_t bytes[16])
{
    for (int i = 15; i >= 0; i--) {
        bytes[i] = (uint8_t) address;
        address >>= 8;
    }
}

address_t
address_from_bytes (const uint8_t bytes[16])
{
    address_t address = 0;
    for (int i = 0; i < 16; i++)
        address = address << 8 | bytes[i];
    return address;
}

int
address_parse (const char *text, size_t len, address_t *out)
{
    char copy[ADDRESS_TEXT_MAX];
    if (len == 0 || len >= sizeof copy)
        return -1;
    memcpy (copy, text, len);
    copy[len] = 0;
    uint8_t bytes[16];
    if (inet_pton (AF_INET, copy, bytes) == 1) {
        *out = ADDRESS_V4_FIRST | (address_t) ((uint32_t) bytes[0] << 24
             | (uint32_t) bytes[1] << 16 | (uint32_t) bytes[2] << 8 | bytes[3]);
        return 4;
    }
    if (inet_pton (AF_INET6, copy, bytes) == 1) {
        *out = address_from_bytes (bytes);
        return 6;
    }
    return -1;
}

bool
address_is_v4 (address_t address)
{
    return address >= ADDRESS_V4_FIRST && address <= ADDRESS_V4_LAST;
}

//  Dotted quad by hand: a spec's tuples are formatted one by one as they
//  are handed out, and inet_ntop takes several times longer.
static char *
s_format_v4 (uint32_t address, char *out)
{
    char *at = out;
    for (int shift = 24; shift >= 0; shift -= 8) {
        unsigned octet = address >> shift & 0xff;
        if (octet >= 100)
            *at++ = (char) ('0' + octet / 100);
        if (octet >= 10)
            *at++ = (char) ('0' + octet / 10 % 10);
        *at++ = (char) ('0' + octet % 10);
        *at++ = shift? '.': 0;
    }
    return out;
}

char *
address_format (address_t address, char out[ADDRESS_TEXT_MAX])
{
    if (address_is_v4 (address))
        return s_format_v4 ((uint32_t) address, out);
    uint8_t bytes[16];
    address_to_bytes (address, bytes);
    inet_ntop (AF_INET6, bytes, out, ADDRESS_TEXT_MAX);
    return out;
}
