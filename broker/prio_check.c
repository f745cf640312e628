//  prio_check.c -- the SUBMIT side of prio.h: the `priority` and
//  `not_before` options and the `per_tuple` field checked against their
//  rules (PROTOCOL.md 13), and `per_tuple` expanded to a value per tuple.
//  Decoded only when present: most SUBMITs carry none of them.
#include "broker/prio.h"
#include "common/msgpack_map.h"

#include <errno.h>
#include <inttypes.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct prio_tuples {
    size_t count;
    uint8_t *level;             //  per tuple; PRIO_UNSET: the job's
    uint64_t *not_before;       //  per tuple; 0: the job's
};

#define PRIO_UNSET 0xff

static int
s_refuse (char *reason, size_t size, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));

static int
s_refuse (char *reason, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (reason, size, fmt, ap);
    va_end (ap);
    return -DRV_E_BAD_TYPE;
}

//  The most a value of key may be: 9 for a priority, a year ahead of now
//  for a not_before.
static uint64_t
s_max (const char *key, uint64_t now)
{
    return !strcmp (key, "priority")? JOB_PRIORITY_MAX: now + PRIO_NOT_BEFORE_MAX_AHEAD_MS;
}

static const char *
s_range (const char *key)
{
    return !strcmp (key, "priority")? "0 to 9"
         : "a uint, ms since the Unix epoch, at most 366 days ahead of the broker's clock";
}

static int
s_check_options (const msg_t *msg, uint64_t now, char *reason, size_t size)
{
    size_t options_size = 0;
    const void *options = msg_raw (msg, MSG_F_OPTIONS, &options_size);
    if (!options || (!memmem (options, options_size, "priority", 8)
                     && !memmem (options, options_size, "not_before", 10)))
        return 0;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    int rc = 0;
    if (msgpack_unpack_next (&unpacked, options, options_size, NULL) == MSGPACK_UNPACK_SUCCESS) {
        const char *keys[] = { "priority", "not_before" };
        for (size_t i = 0; i < 2 && rc == 0; i++) {
            const msgpack_object *o = msgpack_map_find (&unpacked.data, keys[i]);
            if (o && (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > s_max (keys[i], now)))
                rc = s_refuse (reason, size, "job %.64s: option %s must be %s",
                               msg_str (msg, MSG_F_JOB), keys[i], s_range (keys[i]));
        }
    }
    msgpack_unpacked_destroy (&unpacked);
    return rc;
}

//  A run [position, count, value] of per_tuple's key, into its parts.
static bool
s_run (const msgpack_object *run, uint64_t parts[3])
{
    if (run->type != MSGPACK_OBJECT_ARRAY || run->via.array.size != 3)
        return false;
    for (int i = 0; i < 3; i++) {
        const msgpack_object *part = &run->via.array.ptr[i];
        if (part->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return false;
        parts[i] = part->via.u64;
    }
    return true;
}

//  Walk the runs of per_tuple's key (an array of runs); each in range, no
//  tuple named twice (seen: a bit per tuple, cleared).  With out, fill it.
static int
s_runs (const msg_t *msg, const char *key, const msgpack_object *runs, size_t count,
        uint64_t now, uint8_t *seen, prio_tuples_t *out, char *reason, size_t size)
{
    const char *job = msg_str (msg, MSG_F_JOB);
    if (runs->type != MSGPACK_OBJECT_ARRAY)
        return s_refuse (reason, size, "job %.64s: per_tuple %s is not an array of runs", job, key);
    for (uint32_t r = 0; r < runs->via.array.size; r++) {
        uint64_t run[3];
        if (!s_run (&runs->via.array.ptr[r], run))
            return s_refuse (reason, size, "job %.64s: per_tuple %s run %u is not "
                             "[position, count, value] of uints", job, key, r + 1);
        if (run[0] < 1 || run[1] < 1 || run[0] > count || run[1] > count - run[0] + 1)
            return s_refuse (reason, size, "job %.64s: per_tuple %s run %u names tuples "
                             "%" PRIu64 " .. +%" PRIu64 ", not 1 to %zu", job, key, r + 1,
                             run[0], run[1], count);
        if (run[2] > s_max (key, now))
            return s_refuse (reason, size, "job %.64s: per_tuple %s must be %s", job, key,
                             s_range (key));
        for (uint64_t i = run[0] - 1; i < run[0] - 1 + run[1]; i++) {
            if (seen[i / 8] & (1u << (i % 8)))
                return s_refuse (reason, size, "job %.64s: per_tuple %s names tuple %" PRIu64
                                 " twice", job, key, i + 1);
            seen[i / 8] |= (unsigned char) (1u << (i % 8));
            if (out && !strcmp (key, "priority"))
                out->level[i] = (uint8_t) run[2];
            else
            if (out)
                out->not_before[i] = run[2];
        }
    }
    return 0;
}

//  per_tuple decoded, checked, and (out not NULL) expanded into out.
static int
s_per_tuple (const msg_t *msg, uint64_t now, prio_tuples_t *out, char *reason, size_t size)
{
    size_t map_size = 0;
    const void *map = msg_raw (msg, MSG_F_PER_TUPLE, &map_size);
    if (!map)
        return 0;
    size_t count = msg_tuple_count (msg);
    uint8_t *seen = calloc (count / 8 + 1, 1);
    if (!seen)
        return s_refuse (reason, size, "out of memory");
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    int rc = 0;
    if (msgpack_unpack_next (&unpacked, map, map_size, NULL) != MSGPACK_UNPACK_SUCCESS
    ||  unpacked.data.type != MSGPACK_OBJECT_MAP)
        rc = s_refuse (reason, size, "per_tuple is not a map");
    const msgpack_object_map *m = &unpacked.data.via.map;
    for (uint32_t i = 0; rc == 0 && i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key;
        char key[16] = "";
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size < sizeof key)
            memcpy (key, k->via.str.ptr, k->via.str.size);
        if (strcmp (key, "priority") && strcmp (key, "not_before"))
            rc = s_refuse (reason, size, "per_tuple takes `priority` and `not_before` only");
        else {
            memset (seen, 0, count / 8 + 1);
            rc = s_runs (msg, key, &m->ptr[i].val, count, now, seen, out, reason, size);
        }
    }
    msgpack_unpacked_destroy (&unpacked);
    free (seen);
    return rc;
}

int
prio_check (const msg_t *msg, uint64_t now, char *reason, size_t size)
{
    int rc = s_check_options (msg, now, reason, size);
    if (rc == 0 && msg_has (msg, MSG_F_PER_TUPLE) && msg_has (msg, MSG_F_SPEC))
        rc = s_refuse (reason, size, "a SUBMIT with a spec has no per_tuple");
    return rc? rc: s_per_tuple (msg, now, NULL, reason, size);
}

prio_tuples_t *
prio_tuples_new (const msg_t *msg, bool *failed_p)
{
    *failed_p = false;
    if (!msg_has (msg, MSG_F_PER_TUPLE))
        return NULL;
    prio_tuples_t *self = calloc (1, sizeof *self);
    size_t count = msg_tuple_count (msg);
    if (self) {
        self->count = count;
        self->level = malloc (count + 1);
        self->not_before = calloc (count + 1, sizeof *self->not_before);
    }
    char reason[256];
    if (!self || !self->level || !self->not_before) {
        *failed_p = true;
        prio_tuples_destroy (&self);
        return NULL;
    }
    memset (self->level, PRIO_UNSET, count + 1);
    //  Checked already: only the clock may have moved, and never back far.
    if (s_per_tuple (msg, UINT64_MAX - PRIO_NOT_BEFORE_MAX_AHEAD_MS, self, reason,
                     sizeof reason))
        *failed_p = true;
    if (*failed_p)
        prio_tuples_destroy (&self);
    return self;
}

void
prio_tuples_destroy (prio_tuples_t **self_p)
{
    prio_tuples_t *self = *self_p;
    if (!self)
        return;
    free (self->level);
    free (self->not_before);
    free (self);
    *self_p = NULL;
}

void
prio_tuples_get (const prio_tuples_t *self, const job_t *job, size_t index,
                 uint32_t *level_p, uint64_t *not_before_p)
{
    bool has = self && index < self->count;
    *level_p = has && self->level[index] != PRIO_UNSET? self->level[index]: job_priority (job);
    *not_before_p = has && self->not_before[index]? self->not_before[index]
                  : job_not_before (job);
}
