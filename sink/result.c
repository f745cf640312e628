//  result.c -- see result.h.  A batch is walked, never unpacked: msgpack-c
//  would allocate a container's element array from its declared count (a
//  6-byte frame declaring 2^32 elements asks for 100 GB) and a tree of
//  objects per record.  Instead: the declared record count is checked
//  against the tuples and the bytes, and the records are walked once,
//  each value checked by validate.h (well-formed, nesting bounded), into
//  an array of records pointing into the bytes that result_next hands
//  out.  The array grows as records are read and is reused batch after
//  batch: once it has grown to the largest batch (at most
//  MSG_MAX_RUN_TUPLES records, ~7 MB), a batch allocates nothing.
#include "sink/result.h"
#include "proto/validate.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_TEXT(x)  #x
#define S_VALUE(x) S_TEXT (x)

//  The smallest record of each version: a version 2 record is an array
//  header and 7 items of a byte or more; a version 1 record, at least a
//  map header (its missing keys are reported by name).
#define RESULT_MIN_RECORD_V1    1
#define RESULT_MIN_RECORD_V2    8
//  A value inside a record inside the batch: the batch nests at most
//  MSG_MAX_DEPTH deep (PROTOCOL.md 7), and so does its JSON line, which
//  recover.c and `drover results` read back.
#define RESULT_MAX_VALUE_DEPTH  30

static const char *s_status_names[RESULT_STATUSES] = {
    "ok", "failed", "excluded", "cancelled", "aborted", "skipped"
};

struct result {
    const uint8_t   *data;          //  the batch decoded last
    size_t           size;
    int              version;
    const msg_run_t *runs;          //  its tuples
    size_t           runs_count;
    size_t           count;         //  records, 0 after an error
    //  Where the check is
    size_t           offset;
    size_t           run;
    uint32_t         in_run;
    size_t           index;
    //  The records checked, for result_next (reading a batch twice was a
    //  tenth of the sink's CPU)
    result_record_t *records;
    size_t           capacity;
    size_t           next;
    char             reason[160];
};

//  Bytes of the batch, read front to back (the batch is validated first,
//  but every read still checks what is left).
typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} cursor_t;

result_t *
result_new (void)
{
    return calloc (1, sizeof (result_t));
}

void
result_destroy (result_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free ((*self_p)->records);
    free (*self_p);
    *self_p = NULL;
}

static int
s_fail (result_t *self, int code, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

static int
s_fail (result_t *self, int code, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (self->reason, sizeof self->reason, fmt, ap);
    va_end (ap);
    self->count = 0;
    return -code;
}

//  A big-endian unsigned of n bytes at c, or false if fewer are left.
static bool
s_be (cursor_t *c, size_t n, uint64_t *value)
{
    if ((size_t) (c->end - c->p) < n)
        return false;
    *value = 0;
    for (size_t i = 0; i < n; i++)
        *value = *value << 8 | c->p[i];
    c->p += n;
    return true;
}

//  A positive integer (msgpack-c's POSITIVE_INTEGER: uint formats, and int
//  formats holding a value >= 0).
static bool
s_uint (cursor_t *c, uint64_t *value)
{
    if (c->p >= c->end)
        return false;
    uint8_t b = *c->p;
    if (b <= 0x7f) {
        c->p++;
        *value = b;
        return true;
    }
    if (b < 0xcc || b > 0xd3)
        return false;
    cursor_t at = { c->p + 1, c->end };
    size_t n = (size_t) 1 << ((b - 0xcc) & 3);
    uint64_t raw;
    if (!s_be (&at, n, &raw))
        return false;
    if (b >= 0xd0 && (raw >> (8 * n - 1)) & 1)
        return false;                   //  a negative int
    *c = at;
    *value = raw;
    return true;
}

//  A str: its bytes and length.
static bool
s_str (cursor_t *c, const uint8_t **text, uint64_t *len)
{
    if (c->p >= c->end)
        return false;
    uint8_t b = *c->p;
    cursor_t at = { c->p + 1, c->end };
    if ((b & 0xe0) == 0xa0)
        *len = b & 0x1f;
    else
    if (b < 0xd9 || b > 0xdb || !s_be (&at, (size_t) 1 << (b - 0xd9), len))
        return false;
    if ((uint64_t) (at.end - at.p) < *len)
        return false;
    *text = at.p;
    c->p = at.p + *len;
    return true;
}

//  An array (map) header: its count of items (pairs).
static bool
s_container (cursor_t *c, bool map, uint64_t *count)
{
    if (c->p >= c->end)
        return false;
    uint8_t b = *c->p;
    uint8_t fix = map? 0x80: 0x90, wide = map? 0xde: 0xdc;
    cursor_t at = { c->p + 1, c->end };
    if ((b & 0xf0) == fix)
        *count = b & 0x0f;
    else
    if ((b != wide && b != wide + 1) || !s_be (&at, b == wide? 2: 4, count))
        return false;
    *c = at;
    return true;
}

//  Any one value, as its bytes.  One nested too deep for any decoder is
//  stepped over and named in *problem: its result is stored as failed
//  (PROTOCOL.md 7), since the agent would send it again and again if it
//  were refused.
static bool
s_value (cursor_t *c, result_value_t *value, const char **problem)
{
    size_t used = 0, left = (size_t) (c->end - c->p);
    int rc = validate_msgpack_within (c->p, left, RESULT_MAX_VALUE_DEPTH, &used);
    if (rc == VALIDATE_TOO_DEEP && validate_msgpack_skip (c->p, left, &used) == VALIDATE_OK) {
        *problem = "the sink cannot store this result: a value nests over "
                   S_VALUE (RESULT_MAX_VALUE_DEPTH) " containers deep (PROTOCOL.md 7)";
        rc = VALIDATE_OK;
    }
    if (rc != VALIDATE_OK)
        return false;
    *value = (result_value_t) { c->p, used };
    c->p += used;
    return true;
}

static bool
s_is_nil (const cursor_t *c)
{
    return c->p < c->end && *c->p == 0xc0;
}

static bool
s_bool (cursor_t *c, bool *value)
{
    if (c->p >= c->end || (*c->p != 0xc2 && *c->p != 0xc3))
        return false;
    *value = *c->p++ == 0xc3;
    return true;
}

const char *
result_status_name (int status)
{
    return status >= 0 && status < RESULT_STATUSES? s_status_names[status]: NULL;
}

//  A version 1 status name: its number, or -1.
static int
s_status_named (const uint8_t *text, uint64_t len)
{
    for (int i = 0; i < RESULT_STATUSES; i++)
        if (strlen (s_status_names[i]) == len && !memcmp (s_status_names[i], text, len))
            return i;
    return -1;
}

//  The value of key in a version 1 record: which of the fields it is.
enum { F_TUPLE, F_ATTEMPT, F_STARTED, F_DURATION, F_STATUS, F_ERROR, F_PARTIAL,
       F_INPUT, F_OUTPUT, F_OTHER };

static int
s_field (const uint8_t *key, uint64_t len)
{
    static const char *names[] = { "tuple", "attempt", "started_us", "duration_us",
                                   "status", "error", "partial", "input", "output" };
    for (int f = 0; f < F_OTHER; f++)
        if (strlen (names[f]) == len && !memcmp (names[f], key, len))
            return f;
    return F_OTHER;
}

//  One value of a version 1 record into *record (uints into uints[]).
static int
s_map_value (result_t *self, size_t index, cursor_t *c, int field, uint64_t *uints,
             result_record_t *record)
{
    static const char *names[] = { "tuple", "attempt", "started_us", "duration_us" };
    const uint8_t *start = c->p, *text;
    uint64_t len;
    result_value_t skipped;
    switch (field) {
        case F_TUPLE: case F_ATTEMPT: case F_STARTED: case F_DURATION:
            if (!s_uint (c, &uints[field]))
                return s_fail (self, DRV_E_BAD_TYPE, "record %zu: '%s' is not a uint",
                               index, names[field]);
            return 0;
        case F_STATUS: {
            if (!s_str (c, &text, &len))
                return s_fail (self, DRV_E_BAD_TYPE, "record %zu: 'status' is not a str",
                               index);
            int status = s_status_named (text, len);
            if (status < 0)
                return s_fail (self, DRV_E_BAD_TYPE, "record %zu: status is not one of "
                               "\"ok\", \"failed\", \"excluded\", \"cancelled\", "
                               "\"aborted\", \"skipped\"", index);
            record->status = (uint8_t) status;
            return 0;
        }
        case F_ERROR:
            if (!s_str (c, &text, &len))
                return s_fail (self, DRV_E_BAD_TYPE, "record %zu: 'error' is not a str",
                               index);
            record->error = (result_value_t) { start, (size_t) (c->p - start) };
            return 0;
        case F_PARTIAL:
            if (!s_bool (c, &record->partial))
                return s_fail (self, DRV_E_BAD_TYPE, "record %zu: 'partial' is not a bool",
                               index);
            return 0;
        default:
            if (!s_value (c, field == F_INPUT? &record->input
                           : field == F_OUTPUT? &record->output: &skipped,
                          &record->problem))
                return s_fail (self, DRV_E_BAD_HEADER, "record %zu is not well-formed",
                               index);
            return 0;
    }
}

//  Read one version 1 record, a map, into *record; ref is its tuple's.
static int
s_record_map (result_t *self, size_t index, cursor_t *c, msg_ref_t ref,
              result_record_t *record)
{
    static const char *names[] = { "tuple", "attempt", "started_us", "duration_us",
                                   "status" };
    uint64_t pairs = 0, uints[4] = { 0 };
    unsigned found = 0;                 //  bit f: field f seen
    if (!s_container (c, true, &pairs))
        return s_fail (self, DRV_E_BAD_HEADER, "record %zu is not a map", index);
    *record = (result_record_t) { 0 };
    for (uint64_t i = 0; i < pairs; i++) {
        const uint8_t *key;
        uint64_t len;
        if (!s_str (c, &key, &len))
            return s_fail (self, DRV_E_BAD_HEADER,
                           "record %zu has a key that is not a string", index);
        int field = s_field (key, len);
        int rc = s_map_value (self, index, c, field, uints, record);
        if (rc)
            return rc;
        found |= 1u << field;
    }
    for (int f = 0; f <= F_STATUS; f++)
        if (!(found & (1u << f)))
            return s_fail (self, DRV_E_MISSING_FIELD, "record %zu has no '%s'", index,
                           names[f]);
    if (uints[F_TUPLE] != ref.id || uints[F_ATTEMPT] != ref.attempt)
        return s_fail (self, DRV_E_BAD_HEADER,
                       "record %zu is tuple %" PRIu64 " attempt %" PRIu64
                       ", but tuples[%zu] is [%" PRIu64 ", %" PRIu32 "]",
                       index, uints[F_TUPLE], uints[F_ATTEMPT], index, ref.id, ref.attempt);
    record->tuple = ref.id;
    record->attempt = ref.attempt;
    record->started_us = uints[F_STARTED];
    record->duration_us = uints[F_DURATION];
    return 0;
}

//  Read one version 2 record, [status, started_us, duration_us, input,
//  output, error, partial], into *record; ref is its tuple's.  nil stands
//  for an absent value.
static int
s_record_array (result_t *self, size_t index, cursor_t *c, msg_ref_t ref,
                result_record_t *record)
{
    uint64_t items = 0, status = 0;
    if (!s_container (c, false, &items) || items != 7)
        return s_fail (self, DRV_E_BAD_HEADER, "record %zu is not an array of 7", index);
    *record = (result_record_t) { .tuple = ref.id, .attempt = ref.attempt };
    static const char *names[] = { "status", "started_us", "duration_us" };
    uint64_t *targets[] = { &status, &record->started_us, &record->duration_us };
    for (int i = 0; i < 3; i++)
        if (!s_uint (c, targets[i]))
            return s_fail (self, DRV_E_BAD_TYPE, "record %zu: %s is not a uint", index,
                           names[i]);
    if (status >= RESULT_STATUSES)
        return s_fail (self, DRV_E_BAD_TYPE, "record %zu: status %" PRIu64 " is not one "
                       "of 0 (ok) .. %d (skipped)", index, status, RESULT_STATUSES - 1);
    record->status = (uint8_t) status;
    result_value_t *values[] = { &record->input, &record->output };
    for (int i = 0; i < 2; i++) {
        bool nil = s_is_nil (c);
        if (!s_value (c, values[i], &record->problem))
            return s_fail (self, DRV_E_BAD_HEADER, "record %zu is not well-formed", index);
        if (nil)
            *values[i] = (result_value_t) { 0 };
    }
    const uint8_t *start = c->p, *text;
    uint64_t len;
    if (s_is_nil (c))
        c->p++;
    else
    if (s_str (c, &text, &len))
        record->error = (result_value_t) { start, (size_t) (c->p - start) };
    else
        return s_fail (self, DRV_E_BAD_TYPE, "record %zu: error is neither a str nor nil",
                       index);
    if (!s_bool (c, &record->partial))
        return s_fail (self, DRV_E_BAD_TYPE, "record %zu: partial is not a bool", index);
    return 0;
}

//  The batch's array header: as many records as tuples, and bytes enough
//  for them, checked before the batch is walked.
static int
s_check_counts (result_t *self, uint64_t total)
{
    if (!self->data)
        return s_fail (self, DRV_E_BAD_HEADER, "batch is not a msgpack array");
    cursor_t c = { self->data, self->data + self->size };
    uint64_t records = 0;
    if (!s_container (&c, false, &records))
        return s_fail (self, DRV_E_BAD_HEADER, "batch is not a msgpack array");
    if (records != total)
        return s_fail (self, DRV_E_BAD_HEADER, "batch has %" PRIu64 " records for %" PRIu64
                       " tuples", records, total);
    uint64_t least = self->version == 1? RESULT_MIN_RECORD_V1: RESULT_MIN_RECORD_V2;
    if (total > (uint64_t) (c.end - c.p) / least)
        return s_fail (self, DRV_E_BAD_HEADER, "batch of %zu bytes cannot hold %" PRIu64
                       " records (at least %" PRIu64 " bytes each)", self->size, total,
                       least);
    self->offset = (size_t) (c.p - self->data);
    return 0;
}

//  The next record from where the cursor is: 0, or an error.
static int
s_read (result_t *self, result_record_t *record)
{
    const msg_run_t *run = &self->runs[self->run];
    msg_ref_t ref = { run->first + self->in_run, run->attempt };
    cursor_t c = { self->data + self->offset, self->data + self->size };
    int rc = self->version == 1? s_record_map (self, self->index, &c, ref, record)
                               : s_record_array (self, self->index, &c, ref, record);
    if (rc)
        return rc;
    if (record->problem)
        *record = (result_record_t) { .tuple = record->tuple, .attempt = record->attempt,
                                      .status = RESULT_FAILED,
                                      .started_us = record->started_us,
                                      .duration_us = record->duration_us,
                                      .problem = record->problem };
    self->offset = (size_t) (c.p - self->data);
    self->index++;
    if (++self->in_run == run->count) {
        self->run++;
        self->in_run = 0;
    }
    return 0;
}

void
result_rewind (result_t *self)
{
    assert (self);
    self->next = 0;
}

//  Room for record index of total: grown as records are read, so that
//  what a batch makes the sink allocate follows the bytes of its records
//  that were read, not the count it declares (a version 1 record may be a
//  byte until it is read).
static int
s_reserve (result_t *self, size_t index, uint64_t total)
{
    if (index < self->capacity)
        return 0;
    size_t capacity = self->capacity? self->capacity * 2: 64;
    if (capacity > total)
        capacity = (size_t) total;
    result_record_t *records = realloc (self->records, capacity * sizeof *records);
    if (!records)
        return s_fail (self, DRV_E_INTERNAL, "out of memory for %zu records", capacity);
    self->records = records;
    self->capacity = capacity;
    return 0;
}

int
result_decode (result_t *self, const void *data, size_t size, int version,
               const msg_run_t *runs, size_t count)
{
    assert (self);
    assert (runs || count == 0);
    self->data = data;
    self->size = size;
    self->version = version;
    self->runs = runs;
    self->runs_count = count;
    self->count = self->offset = self->run = self->in_run = self->index = self->next = 0;
    self->reason[0] = 0;
    uint64_t total = runs_total (runs, count);
    if (total > MSG_MAX_RUN_TUPLES)
        return s_fail (self, DRV_E_TOO_LARGE, "%" PRIu64 " records, limit %d", total,
                       MSG_MAX_RUN_TUPLES);
    int rc = s_check_counts (self, total);
    if (rc)
        return rc;
    for (size_t i = 0; i < total; i++) {
        rc = s_reserve (self, i, total);
        if (rc == 0)
            rc = s_read (self, &self->records[i]);
        if (rc)
            return rc;
    }
    if (self->offset != size)
        return s_fail (self, DRV_E_BAD_HEADER, "batch is not one msgpack value: %zu bytes "
                       "after its records", size - self->offset);
    self->count = (size_t) total;
    return 0;
}

size_t
result_count (const result_t *self)
{
    assert (self);
    return self->count;
}

bool
result_next (result_t *self, result_record_t *record)
{
    assert (self && record);
    if (self->next >= self->count)
        return false;
    *record = self->records[self->next++];
    return true;
}

const char *
result_reason (const result_t *self)
{
    assert (self);
    return self->reason;
}

uint64_t
result_now_us (void)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    return (uint64_t) now.tv_sec * 1000000 + (uint64_t) now.tv_nsec / 1000;
}

double
result_latency (const result_record_t *record, uint64_t now_us)
{
    if (record->status >= RESULT_EXCLUDED || now_us <= record->started_us)
        return 0;
    return (double) (now_us - record->started_us) / 1e6;
}
