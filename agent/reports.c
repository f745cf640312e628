//  reports.c -- DONE, RETRY and CREDIT once per turn; see reports.h.  One
//  entry per job reported this turn; entries and their ref arrays are
//  reused from turn to turn.
#include "agent/reports.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    msg_ref_t *refs;
    size_t count, cap;
} refs_t;

typedef struct {
    char *job;
    refs_t done, dead, retry;
    char *reason;               //  the first RETRY's
} entry_t;

struct reports {
    entry_t *entries;
    size_t count, cap;          //  entries in use this turn, and allocated
    size_t last;                //  the entry used last: most reports in a row are one job's
    uint64_t credit;
};

static void s_clear (reports_t *self);

reports_t *
reports_new (void)
{
    return calloc (1, sizeof (reports_t));
}

void
reports_destroy (reports_t **self_p)
{
    reports_t *self = *self_p;
    if (!self)
        return;
    s_clear (self);
    for (size_t i = 0; i < self->cap; i++) {
        free (self->entries[i].done.refs);
        free (self->entries[i].dead.refs);
        free (self->entries[i].retry.refs);
    }
    free (self->entries);
    free (self);
    *self_p = NULL;
}

static int
s_push (refs_t *refs, msg_ref_t ref)
{
    if (refs->count == refs->cap) {
        size_t cap = refs->cap? refs->cap * 2: 16;
        msg_ref_t *more = realloc (refs->refs, cap * sizeof *more);
        if (!more)
            return -1;
        refs->refs = more;
        refs->cap = cap;
    }
    refs->refs[refs->count++] = ref;
    return 0;
}

//  This turn's entry for job, or NULL if out of memory.
static entry_t *
s_entry (reports_t *self, const char *job)
{
    if (self->last < self->count && !strcmp (self->entries[self->last].job, job))
        return &self->entries[self->last];
    for (size_t i = 0; i < self->count; i++)
        if (!strcmp (self->entries[i].job, job))
            return &self->entries[self->last = i];
    if (self->count == self->cap) {
        size_t cap = self->cap? self->cap * 2: 8;
        entry_t *more = realloc (self->entries, cap * sizeof *more);
        if (!more)
            return NULL;
        memset (more + self->cap, 0, (cap - self->cap) * sizeof *more);
        self->entries = more;
        self->cap = cap;
    }
    entry_t *entry = &self->entries[self->count];
    if (!(entry->job = strdup (job)))
        return NULL;
    self->last = self->count++;
    return entry;
}

void
reports_add (reports_t *self, const char *job, msg_ref_t ref, report_t kind, const char *reason)
{
    entry_t *entry = s_entry (self, job);
    refs_t *refs = !entry? NULL: kind == REPORT_DONE? &entry->done
                 : kind == REPORT_DEAD? &entry->dead: &entry->retry;
    if (!refs || s_push (refs, ref)) {
        log_error ("out of memory: tuple %llu of job %s is not reported",
                   (unsigned long long) ref.id, job);
        return;
    }
    if (kind == REPORT_RETRY && !entry->reason && reason)
        entry->reason = strdup (reason);
}

void
reports_credit (reports_t *self, size_t slots)
{
    self->credit += slots;
}

static void
s_send (entry_t *entry, uplink_t *uplink)
{
    if (entry->done.count || entry->dead.count) {
        msg_t *msg = msg_new (MSG_DONE);
        msg_set_str (msg, MSG_F_JOB, entry->job);
        msg_set_refs (msg, MSG_F_TUPLES, entry->done.refs, entry->done.count);
        if (entry->dead.count)
            msg_set_refs (msg, MSG_F_DEAD, entry->dead.refs, entry->dead.count);
        uplink_send (uplink, &msg);
    }
    if (entry->retry.count) {
        msg_t *msg = msg_new (MSG_RETRY);
        msg_set_str (msg, MSG_F_JOB, entry->job);
        msg_set_refs (msg, MSG_F_TUPLES, entry->retry.refs, entry->retry.count);
        if (entry->reason)
            msg_set_str (msg, MSG_F_REASON, entry->reason);
        uplink_send (uplink, &msg);
    }
}

//  Empty this turn's entries, keeping their arrays for the next.
static void
s_clear (reports_t *self)
{
    for (size_t i = 0; i < self->count; i++) {
        entry_t *entry = &self->entries[i];
        zstr_free (&entry->job);
        zstr_free (&entry->reason);
        entry->done.count = entry->dead.count = entry->retry.count = 0;
    }
    self->count = self->last = 0;
}

void
reports_flush (reports_t *self, uplink_t *uplink, bool hold_credit)
{
    bool live = uplink_live (uplink);
    if (!live)
        return;                 //  the reports wait for the next session
    for (size_t i = 0; i < self->count; i++)
        s_send (&self->entries[i], uplink);
    s_clear (self);
    if (live && self->credit && !hold_credit) {
        msg_t *msg = msg_new (MSG_CREDIT);
        msg_set_uint (msg, MSG_F_CREDIT, self->credit);
        uplink_send (uplink, &msg);
        self->credit = 0;
    }
}

void
reports_forget (reports_t *self)
{
    self->credit = 0;
}

static void
s_each (const entry_t *entry, const refs_t *refs, reports_fn *fn, void *arg)
{
    for (size_t i = 0; i < refs->count; i++)
        fn (arg, entry->job, refs->refs[i]);
}

void
reports_each (reports_t *self, reports_fn *fn, void *arg)
{
    for (size_t i = 0; i < self->count; i++) {
        s_each (&self->entries[i], &self->entries[i].done, fn, arg);
        s_each (&self->entries[i], &self->entries[i].dead, fn, arg);
        s_each (&self->entries[i], &self->entries[i].retry, fn, arg);
    }
}
