//  address.h -- IPv4 and IPv6 addresses as one 128-bit number, so that a
//  target spec keeps both kinds in one sorted range set (spec/rangeset.h).
//  IPv4 a.b.c.d is the IPv4-mapped IPv6 address ::ffff:a.b.c.d, and prints
//  back as a.b.c.d.  Parsing and printing read no clock, no resolver, and
//  allocate nothing.
#ifndef DROVER_ADDRESS_H
#define DROVER_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef unsigned __int128 address_t;

//  Longest printed address and its NUL (INET6_ADDRSTRLEN).
#define ADDRESS_TEXT_MAX 46

//  The IPv4 block, ::ffff:0.0.0.0/96.
#define ADDRESS_V4_FIRST ((address_t) 0xffff << 32)
#define ADDRESS_V4_LAST  (ADDRESS_V4_FIRST | 0xffffffffu)

//  text[0..len) as an address: dotted quad (no leading zeros) or any
//  RFC 4291 IPv6 form.  Returns 4 or 6 (the form written), or -1.
int  address_parse (const char *text, size_t len, address_t *out);
bool address_is_v4 (address_t address);
//  The dotted quad for IPv4, RFC 5952 text for the rest.  Returns out.
char *address_format (address_t address, char out[ADDRESS_TEXT_MAX]);
//  The 16 bytes in network order, and back.
void address_to_bytes (address_t address, uint8_t bytes[16]);
address_t address_from_bytes (const uint8_t bytes[16]);

#endif
