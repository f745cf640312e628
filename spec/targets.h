//  targets.h -- the hosts of a scan: IPv4 and IPv6 addresses, CIDR blocks,
//  ranges and host names, as written on a command line or in a file:
//
//      10.0.0.0/8  192.168.1.1-192.168.1.50  192.168.2.1-50  2001:db8::/120
//      scanme.example.org, db-1.internal   # a comment, to the end of the line
//
//  Targets are separated by white space or commas.  A CIDR block with host
//  bits set means its network (10.0.0.5/24 is 10.0.0.0/24, as nmap reads
//  it); A-B is every address from A to B (same family); a.b.c.d-e is the
//  last octet from d to e (nmap's style).  A host name is kept as written
//  (lower-cased) and never resolved: it reaches the handler as a string.
//  Addresses are kept as merged ranges (spec/rangeset.h), so 10.0.0.0/8
//  costs what 10.0.0.1 costs.  Members are ordered addresses first, in
//  the order of their IPv6 form (IPv4 a.b.c.d being ::ffff:a.b.c.d), then
//  names (ascending).
#ifndef DROVER_TARGETS_H
#define DROVER_TARGETS_H

#include "spec/address.h"
#include "spec/rangeset.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Longest host name (RFC 1035: 253) and its NUL; also fits any address.
#define TARGETS_HOST_MAX 254

typedef struct targets targets_t;

targets_t *targets_new (void);
void targets_destroy (targets_t **self_p);

//  Add the targets in text[0..len).  0, or -1 with the reason in err
//  ("'10.0.0.300' is not an address, a range or a host name"); on error
//  self may hold some of text's targets.
int targets_add (targets_t *self, const char *text, size_t len, char *err, size_t errlen);
//  The same for a file's lines; err names the file and the line.
int targets_add_file (targets_t *self, const char *path, char *err, size_t errlen);
//  Remove every target of other from self (names by name: 10.0.0.1 does
//  not remove a name that resolves to it).  0, or -1 if out of memory.
int targets_subtract (targets_t *self, const targets_t *other);

//  Hosts in all, addresses then names (saturates at 2^128 - 1).
address_t targets_count (const targets_t *self);
//  The index-th host as text (index < targets_count).  Returns out.
char *targets_nth (const targets_t *self, address_t index, char out[TARGETS_HOST_MAX]);
//  Whether host[0..len) (an address in any spelling, or a name in any
//  case) is one of the targets.  Allocates nothing.
bool targets_contains (const targets_t *self, const char *host, size_t len);

//  What a spec saves (spec/spec.h): the addresses, and the names in order.
const rangeset_t *targets_addresses (const targets_t *self);
size_t targets_names (const targets_t *self);
const char *targets_name (const targets_t *self, size_t i);
//  A set from saved parts: addresses (taken over, even on failure) and
//  names, which must be valid host names in lower case, ascending, each
//  once.  NULL if not (or out of memory).
targets_t *targets_from (rangeset_t **addresses_p, const char *const *names,
                         const uint32_t *lengths, size_t count);

#endif
