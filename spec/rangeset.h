//  rangeset.h -- a set of 128-bit numbers kept as sorted, merged ranges:
//  the hosts of a target spec (addresses, spec/address.h) and its ports
//  (protocol and port as one number).  A /8 is one range, so a spec costs
//  memory by the ranges it names, never by the addresses in them; the
//  n-th member is found by binary search over the ranges.
//
//  Build with rangeset_add (any order, overlaps allowed), then
//  rangeset_finish (sort, merge, count); only a finished set answers
//  questions or takes part in rangeset_subtract.
#ifndef DROVER_RANGESET_H
#define DROVER_RANGESET_H

#include "spec/address.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rangeset rangeset_t;

rangeset_t *rangeset_new (void);
void rangeset_destroy (rangeset_t **self_p);

//  Add first..last (first <= last).  0, or -1 when out of memory.
int  rangeset_add (rangeset_t *self, address_t first, address_t last);
//  Sort and merge overlapping and adjacent ranges.  Adding again
//  un-finishes the set.
void rangeset_finish (rangeset_t *self);
//  Remove every member of other from self (both finished); self stays
//  finished.  0, or -1 when out of memory (self unchanged).
int  rangeset_subtract (rangeset_t *self, const rangeset_t *other);

//  Members in all (up to 2^128 - 1: the whole space counts one short).
address_t rangeset_count (const rangeset_t *self);
//  The index-th member in ascending order, index < rangeset_count.
address_t rangeset_nth (const rangeset_t *self, address_t index);
bool rangeset_contains (const rangeset_t *self, address_t value);
//  The ranges themselves, ascending, merged: i < rangeset_ranges.
size_t rangeset_ranges (const rangeset_t *self);
void rangeset_range (const rangeset_t *self, size_t i, address_t *first, address_t *last);

//  The set as bytes (to store or send it): per range, the gap from the
//  previous range and the range's size, as LEB128 varints, so a /8 takes
//  a few bytes and a list of scattered addresses a few bytes each.  One
//  set has exactly one encoding: decoding checks it (minimal varints,
//  ranges apart), so decode then encode gives back the same bytes.
size_t rangeset_encoded_size (const rangeset_t *self);
void   rangeset_encode (const rangeset_t *self, uint8_t *out);
//  A finished set from data[0..len), or NULL (malformed, or out of memory).
rangeset_t *rangeset_decode (const uint8_t *data, size_t len);

#endif
