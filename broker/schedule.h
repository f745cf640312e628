//  schedule.h -- one recurring job (PROTOCOL.md 15): a name, when it runs
//  (a cron expression, spec/cron.h, or every N seconds), the job it makes
//  at each tick (a SUBMIT's fields and its spec or tuples: the template)
//  and when it last ran.  The set of them, their store records and their
//  timer are schedules.h's; this knows one, and never reads the clock:
//  times are seconds since the epoch (UTC).
#ifndef DROVER_BROKER_SCHEDULE_H
#define DROVER_BROKER_SCHEDULE_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/msg.h"

//  A schedule's name: 1 to this many bytes, so that its jobs' names
//  (NAME-20261203T081530Z) stay within a job name's 255.
#define SCHEDULE_MAX_NAME        200
//  Its tuples (a template of tuples, not a spec) in all, packed: the
//  schedule keeps them, in memory and in its store record.
#define SCHEDULE_MAX_TUPLE_BYTES (1024 * 1024)
//  `every_ms`: whole seconds, from 1 s to 366 days.
#define SCHEDULE_EVERY_MS_MIN    1000
#define SCHEDULE_EVERY_MS_MAX    (366ull * 86400 * 1000)

typedef struct schedule schedule_t;

//  A schedule from a SCHEDULE add (msg), made at now: its name, its cron
//  or every_ms, its template (the fields a SUBMIT would carry, the spec or
//  the tuples).  It has not run: its first tick is the first after now.
//  NULL with -DRV_E_* in *code_p and the reason (a bad name, the cron
//  parser's message, both cron and every_ms or neither, too many bytes of
//  tuples); the SUBMIT rules are the caller's to check on schedule_submit.
schedule_t *schedule_new (const msg_t *msg, int64_t now, int *code_p, char *reason,
                          size_t size);
//  A schedule as stored (name, record), or NULL if the record is damaged,
//  of another version, or out of memory.
schedule_t *schedule_decode (const void *name, size_t name_size, const void *data,
                             size_t size);
void        schedule_destroy (schedule_t **self_p);

//  Its store record, malloc'd into *data_p (the caller frees).  0 or -ENOMEM.
int         schedule_encode (const schedule_t *self, unsigned char **data_p, size_t *size_p);

const char *schedule_name (const schedule_t *self);
//  The first tick after t, or -1 if none (a cron for a day that is years off).
int64_t     schedule_next_after (const schedule_t *self, int64_t t);
//  Whether a tick fell after its last run (or its making, if it never ran)
//  and at or before now: however many did (the broker was down), one run,
//  for the latest, in *tick_p.
bool        schedule_due (const schedule_t *self, int64_t now, int64_t *tick_p);
//  The SUBMIT (with close) that makes its job for tick: the template's
//  fields and tuples under the name NAME-<tick in UTC> (minutes for a
//  cron, seconds for every), which *job_p points at.  NULL if out of memory.
msg_t      *schedule_submit (const schedule_t *self, int64_t tick, const char **job_p);
//  It ran for tick, making job (copied).  0 or -ENOMEM.
int         schedule_ran (schedule_t *self, int64_t tick, const char *job);
//  Its listing entry (PROTOCOL.md 15), a map, with next_run after now.
void        schedule_pack (const schedule_t *self, int64_t now, msgpack_packer *pk);

#endif
