//  targets.c -- parsing targets (targets.h): addresses and ranges into a
//  range set, host names into a sorted array of lower-case strings.
#include "spec/targets.h"
#include "spec/wordlist.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct targets {
    rangeset_t *addresses;
    char **names;               //  lower case, ascending, each once
    size_t name_count, name_capacity;
};

targets_t *
targets_new (void)
{
    targets_t *self = calloc (1, sizeof *self);
    if (self && !(self->addresses = rangeset_new ()))
        targets_destroy (&self);
    return self;
}

void
targets_destroy (targets_t **self_p)
{
    targets_t *self = *self_p;
    if (!self)
        return;
    rangeset_destroy (&self->addresses);
    for (size_t i = 0; i < self->name_count; i++)
        free (self->names[i]);
    free (self->names);
    free (self);
    *self_p = NULL;
}

//  A host name: labels of letters, digits, '-' (not first or last) and '_'
//  (seen in the wild), 1-63 bytes each, 253 in all, the last not all digits
//  (a mistyped address, never a name).
static bool
s_is_name (const char *text, size_t len)
{
    if (len == 0 || len > TARGETS_HOST_MAX - 1)
        return false;
    size_t label = 0;
    bool digits = true;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || text[i] == '.') {
            if (label == 0 || label > 63)
                return false;
            if (i == len)
                return !digits;
            label = 0;
            digits = true;
            continue;
        }
        unsigned char c = (unsigned char) text[i];
        bool edge = label == 0 || i + 1 == len || text[i + 1] == '.';
        if (!isalnum (c) && !(c == '_' || (c == '-' && !edge)))
            return false;
        digits = digits && isdigit (c);
        label++;
    }
    return false;
}

static int
s_add_name (targets_t *self, const char *text, size_t len)
{
    if (self->name_count == self->name_capacity) {
        size_t grown = self->name_capacity? self->name_capacity * 2: 16;
        char **more = realloc (self->names, grown * sizeof *more);
        if (!more)
            return -1;
        self->names = more;
        self->name_capacity = grown;
    }
    char *name = malloc (len + 1);
    if (!name)
        return -1;
    for (size_t i = 0; i < len; i++)
        name[i] = (char) tolower ((unsigned char) text[i]);
    name[len] = 0;
    self->names[self->name_count++] = name;
    return 0;
}

static int
s_compare_names (const void *a, const void *b)
{
    return strcmp (*(char *const *) a, *(char *const *) b);
}

//  Sort the names and drop repeats.
static void
s_finish_names (targets_t *self)
{
    if (self->name_count > 1)       //  names is NULL while there are none
        qsort (self->names, self->name_count, sizeof *self->names, s_compare_names);
    size_t kept = 0;
    for (size_t i = 0; i < self->name_count; i++)
        if (kept && !strcmp (self->names[kept - 1], self->names[i]))
            free (self->names[i]);
        else
            self->names[kept++] = self->names[i];
    self->name_count = kept;
}

//  address/prefix.  0, or -1 with err.
static int
s_add_cidr (targets_t *self, const char *text, size_t len, const char *slash,
            char *err, size_t errlen)
{
    address_t base;
    int family = address_parse (text, (size_t) (slash - text), &base);
    const char *digits = slash + 1;
    size_t count = len - (size_t) (digits - text);
    bool ok = family > 0 && count >= 1 && count <= 3 && strspn (digits, "0123456789") >= count;
    unsigned long prefix = ok? strtoul (digits, NULL, 10): 0;
    unsigned long bits = family == 4? 32: 128;
    if (family < 0)
        return wordlist_error (err, errlen, text, len,
                               "is not an address, a CIDR block, a range or a host name");
    if (!ok || prefix > bits)
        return wordlist_error (err, errlen, text, len, "is not a CIDR block (ADDRESS/%s)",
                                family == 6? "0-128": "0-32");
    unsigned long host_bits = bits - prefix;
    address_t mask = host_bits >= 128? ~(address_t) 0: ((address_t) 1 << host_bits) - 1;
    address_t first = base & ~mask;
    if (family == 4)
        first |= ADDRESS_V4_FIRST;  //  a /0 of IPv4 is still IPv4
    return rangeset_add (self->addresses, first, first | mask)
         ? wordlist_error (err, errlen, NULL, 0, "out of memory"): 0;
}

//  A-B, or a.b.c.d-e.  0, 1 when text is not a range at all (it may be a
//  name with a '-'), or -1 with err.
static int
s_add_range (targets_t *self, const char *text, size_t len, const char *dash,
             char *err, size_t errlen)
{
    address_t first, last;
    int family = address_parse (text, (size_t) (dash - text), &first);
    if (family < 0)
        return 1;
    const char *right = dash + 1;
    size_t right_len = len - (size_t) (right - text);
    int right_family = address_parse (right, right_len, &last);
    if (right_family < 0 && family == 4 && right_len >= 1 && right_len <= 3
    &&  strspn (right, "0123456789") >= right_len) {
        unsigned octet = (unsigned) strtoul (right, NULL, 10);
        if (octet <= 255 && (right_len == 1 || right[0] != '0')) {
            last = (first & ~(address_t) 0xff) | octet;
            right_family = 4;
        }
    }
    if (right_family != family)
        return wordlist_error (err, errlen, text, len,
                                "is not a range (FIRST-LAST of one family, or a.b.c.d-e)");
    if (last < first)
        return wordlist_error (err, errlen, text, len, "is a range that goes backwards");
    return rangeset_add (self->addresses, first, last)
         ? wordlist_error (err, errlen, NULL, 0, "out of memory"): 0;
}

static int
s_add_token (targets_t *self, const char *text, size_t len, char *err, size_t errlen)
{
    const char *slash = memchr (text, '/', len);
    if (slash)
        return s_add_cidr (self, text, len, slash, err, errlen);
    const char *dash = memchr (text, '-', len);
    if (dash) {
        int rc = s_add_range (self, text, len, dash, err, errlen);
        if (rc <= 0)
            return rc;
    }
    address_t address;
    if (address_parse (text, len, &address) > 0)
        return rangeset_add (self->addresses, address, address)
             ? wordlist_error (err, errlen, NULL, 0, "out of memory"): 0;
    if (!s_is_name (text, len))
        return wordlist_error (err, errlen, text, len,
                                "is not an address, a CIDR block, a range or a host name");
    return s_add_name (self, text, len)? wordlist_error (err, errlen, NULL, 0, "out of memory"): 0;
}

static int
s_add_one (void *self, const char *text, size_t len, char *err, size_t errlen)
{
    return s_add_token (self, text, len, err, errlen);
}

int
targets_add (targets_t *self, const char *text, size_t len, char *err, size_t errlen)
{
    int rc = wordlist_split (text, len, s_add_one, self, err, errlen);
    rangeset_finish (self->addresses);
    s_finish_names (self);
    return rc;
}

int
targets_add_file (targets_t *self, const char *path, char *err, size_t errlen)
{
    int rc = wordlist_split_file (path, s_add_one, self, err, errlen);
    rangeset_finish (self->addresses);
    s_finish_names (self);
    return rc;
}

//  The position of name[0..len) among the names (any case), or -1.
static ptrdiff_t
s_find_name (const targets_t *self, const char *name, size_t len)
{
    size_t low = 0, high = self->name_count;
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        const char *have = self->names[mid];
        int cmp = strncasecmp (have, name, len);
        if (cmp == 0)
            cmp = have[len] != 0;   //  have is longer: after name
        if (cmp == 0)
            return (ptrdiff_t) mid;
        if (cmp < 0)
            low = mid + 1;
        else
            high = mid;
    }
    return -1;
}

int
targets_subtract (targets_t *self, const targets_t *other)
{
    if (rangeset_subtract (self->addresses, other->addresses))
        return -1;
    size_t kept = 0;
    for (size_t i = 0; i < self->name_count; i++) {
        char *name = self->names[i];
        if (s_find_name (other, name, strlen (name)) >= 0)
            free (name);
        else
            self->names[kept++] = name;
    }
    self->name_count = kept;
    return 0;
}

address_t
targets_count (const targets_t *self)
{
    address_t count = rangeset_count (self->addresses);
    address_t all = count + self->name_count;
    return all < count? ~(address_t) 0: all;
}

char *
targets_nth (const targets_t *self, address_t index, char out[TARGETS_HOST_MAX])
{
    address_t addresses = rangeset_count (self->addresses);
    if (index < addresses)
        return address_format (rangeset_nth (self->addresses, index), out);
    snprintf (out, TARGETS_HOST_MAX, "%s", self->names[(size_t) (index - addresses)]);
    return out;
}

bool
targets_contains (const targets_t *self, const char *host, size_t len)
{
    address_t address;
    if (address_parse (host, len, &address) > 0)
        return rangeset_contains (self->addresses, address);
    return s_find_name (self, host, len) >= 0;
}

const rangeset_t *
targets_addresses (const targets_t *self)
{
    return self->addresses;
}

size_t
targets_names (const targets_t *self)
{
    return self->name_count;
}

const char *
targets_name (const targets_t *self, size_t i)
{
    return i < self->name_count? self->names[i]: NULL;
}

targets_t *
targets_from (rangeset_t **addresses_p, const char *const *names, const uint32_t *lengths,
              size_t count)
{
    targets_t *self = calloc (1, sizeof *self);
    if (!self) {
        rangeset_destroy (addresses_p);
        return NULL;
    }
    self->addresses = *addresses_p;
    *addresses_p = NULL;
    for (size_t i = 0; i < count; i++) {
        const char *name = names[i];
        size_t len = lengths[i];
        bool lower = true;
        for (size_t k = 0; k < len && lower; k++)
            lower = !isupper ((unsigned char) name[k]);
        const char *previous = self->name_count? self->names[self->name_count - 1]: NULL;
        size_t previous_len = previous? strlen (previous): 0;
        int order = previous? memcmp (previous, name, previous_len < len? previous_len: len): -1;
        if (order == 0)
            order = previous_len < len? -1: 1;      //  equal is out of order too
        if (!s_is_name (name, len) || !lower || order >= 0 || s_add_name (self, name, len)) {
            targets_destroy (&self);
            return NULL;
        }
    }
    return self;
}
