//  rangeset.c -- sorted, merged ranges of 128-bit numbers (rangeset.h).
//  Each range keeps how many members come before it, so rangeset_nth is
//  one binary search.
#include "spec/rangeset.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    address_t first, last;
    address_t before;           //  members in the ranges before this one
} range_t;

struct rangeset {
    range_t *ranges;
    size_t count, capacity;
    address_t members;
    bool finished;
};

rangeset_t *
rangeset_new (void)
{
    rangeset_t *self = calloc (1, sizeof *self);
    if (self)
        self->finished = true;
    return self;
}

void
rangeset_destroy (rangeset_t **self_p)
{
    if (!*self_p)
        return;
    free ((*self_p)->ranges);
    free (*self_p);
    *self_p = NULL;
}

static int
s_reserve (range_t **ranges, size_t *capacity, size_t want)
{
    if (want <= *capacity)
        return 0;
    size_t grown = *capacity? *capacity * 2: 8;
    while (grown < want)
        grown *= 2;
    range_t *more = realloc (*ranges, grown * sizeof *more);
    if (!more)
        return -1;
    *ranges = more;
    *capacity = grown;
    return 0;
}

int
rangeset_add (rangeset_t *self, address_t first, address_t last)
{
    assert (first <= last);
    if (s_reserve (&self->ranges, &self->capacity, self->count + 1))
        return -1;
    self->ranges[self->count++] = (range_t) { first, last, 0 };
    self->finished = false;
    return 0;
}

static int
s_compare (const void *a_v, const void *b_v)
{
    const range_t *a = a_v, *b = b_v;
    return a->first < b->first? -1: a->first > b->first;
}

//  Merge sorted ranges in place and count the members before each.
static void
s_merge (rangeset_t *self)
{
    size_t kept = 0;
    for (size_t i = 0; i < self->count; i++) {
        range_t *range = &self->ranges[i];
        range_t *last = kept? &self->ranges[kept - 1]: NULL;
        if (last && (range->first <= last->last || range->first - 1 == last->last)) {
            if (range->last > last->last)
                last->last = range->last;
        }
        else
            self->ranges[kept++] = *range;
    }
    self->count = kept;
    address_t members = 0;
    for (size_t i = 0; i < kept; i++) {
        range_t *range = &self->ranges[i];
        range->before = members;
        address_t size = range->last - range->first + 1;
        //  Saturate: only the whole 2^128 space overflows, by one.
        members = size == 0 || members + size < members? ~(address_t) 0: members + size;
    }
    self->members = members;
    self->finished = true;
}

void
rangeset_finish (rangeset_t *self)
{
    if (self->finished)
        return;
    if (self->count > 1)            //  ranges is NULL while there are none
        qsort (self->ranges, self->count, sizeof *self->ranges, s_compare);
    s_merge (self);
}

int
rangeset_subtract (rangeset_t *self, const rangeset_t *other)
{
    assert (self->finished && other->finished);
    range_t *out = NULL;
    size_t count = 0, capacity = 0, j = 0;
    for (size_t i = 0; i < self->count; i++) {
        address_t first = self->ranges[i].first, last = self->ranges[i].last;
        while (j < other->count && other->ranges[j].last < first)
            j++;
        bool gone = false;
        for (size_t k = j; k < other->count && other->ranges[k].first <= last; k++) {
            const range_t *cut = &other->ranges[k];
            if (cut->first > first) {
                if (s_reserve (&out, &capacity, count + 1))
                    goto oom;
                out[count++] = (range_t) { first, cut->first - 1, 0 };
            }
            if (cut->last >= last) {
                gone = true;
                break;
            }
            first = cut->last + 1;
        }
        if (!gone) {
            if (s_reserve (&out, &capacity, count + 1))
                goto oom;
            out[count++] = (range_t) { first, last, 0 };
        }
    }
    free (self->ranges);
    self->ranges = out;
    self->count = count;
    self->capacity = capacity;
    s_merge (self);
    return 0;
oom:
    free (out);
    return -1;
}

address_t
rangeset_count (const rangeset_t *self)
{
    assert (self->finished);
    return self->members;
}

address_t
rangeset_nth (const rangeset_t *self, address_t index)
{
    assert (self->finished && self->count && index < self->members);
    size_t low = 0, high = self->count - 1;
    while (low < high) {
        size_t mid = low + (high - low + 1) / 2;
        if (self->ranges[mid].before <= index)
            low = mid;
        else
            high = mid - 1;
    }
    return self->ranges[low].first + (index - self->ranges[low].before);
}

bool
rangeset_contains (const rangeset_t *self, address_t value)
{
    assert (self->finished);
    size_t low = 0, high = self->count;
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        if (self->ranges[mid].last < value)
            low = mid + 1;
        else
            high = mid;
    }
    return low < self->count && self->ranges[low].first <= value;
}

size_t
rangeset_ranges (const rangeset_t *self)
{
    assert (self->finished);
    return self->count;
}

void
rangeset_range (const rangeset_t *self, size_t i, address_t *first, address_t *last)
{
    assert (self->finished && i < self->count);
    *first = self->ranges[i].first;
    *last = self->ranges[i].last;
}

//  Encoding: for each range, the gap before it (the first range: its first
//  member; later ones: first - previous last - 2, as merged ranges are at
//  least one apart) and its size less one.
static size_t
s_varint_size (address_t value)
{
    size_t size = 1;
    while (value >>= 7)
        size++;
    return size;
}

static uint8_t *
s_varint_put (uint8_t *out, address_t value)
{
    while (value >= 0x80) {
        *out++ = (uint8_t) (value | 0x80);
        value >>= 7;
    }
    *out++ = (uint8_t) value;
    return out;
}

//  Read one minimal varint of at most 128 bits.  0, or -1.
static int
s_varint_get (const uint8_t **data, const uint8_t *end, address_t *value)
{
    address_t result = 0;
    for (int shift = 0; *data < end && shift < 128; shift += 7) {
        uint8_t byte = *(*data)++;
        if (shift == 126 && byte > 3)
            return -1;              //  more than 128 bits
        result |= (address_t) (byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            if (byte == 0 && shift > 0)
                return -1;          //  not minimal: a trailing zero group
            *value = result;
            return 0;
        }
    }
    return -1;
}

static address_t
s_gap (const rangeset_t *self, size_t i)
{
    const range_t *range = &self->ranges[i];
    return i? range->first - self->ranges[i - 1].last - 2: range->first;
}

size_t
rangeset_encoded_size (const rangeset_t *self)
{
    assert (self->finished);
    size_t size = 0;
    for (size_t i = 0; i < self->count; i++)
        size += s_varint_size (s_gap (self, i))
              + s_varint_size (self->ranges[i].last - self->ranges[i].first);
    return size;
}

void
rangeset_encode (const rangeset_t *self, uint8_t *out)
{
    assert (self->finished);
    for (size_t i = 0; i < self->count; i++) {
        out = s_varint_put (out, s_gap (self, i));
        out = s_varint_put (out, self->ranges[i].last - self->ranges[i].first);
    }
}

rangeset_t *
rangeset_decode (const uint8_t *data, size_t len)
{
    rangeset_t *self = rangeset_new ();
    const uint8_t *end = data + len;
    address_t previous = 0;
    while (self && data < end) {
        address_t gap, size;
        bool ok = s_varint_get (&data, end, &gap) == 0 && s_varint_get (&data, end, &size) == 0;
        address_t first = self->count? previous + 2 + gap: gap;
        //  No wrap past 2^128 anywhere: each range starts after the last.
        ok = ok && (!self->count || (previous + 2 > previous && first >= previous + 2))
                && first + size >= first;
        if (!ok || rangeset_add (self, first, first + size))
            rangeset_destroy (&self);
        else
            previous = first + size;
    }
    if (self)
        s_merge (self);             //  in order and apart already: counts only
    return self;
}
