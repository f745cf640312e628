//  window.c -- see window.h.  A fixed array of slots: the window is small
//  (64 at most), so every question is a pass over it.
#include "producer/window.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct window {
    char *run;
    size_t size;
    size_t used;                    //  slots with a batch
    uint64_t sends;                 //  SUBMITs sent, resends included
    window_slot_t slots[WINDOW_MAX];
};

window_t *
window_new (const char *run)
{
    assert (run);
    window_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->run = strdup (run);
    self->size = 1;
    if (!self->run)
        window_destroy (&self);
    return self;
}

void
window_destroy (window_t **self_p)
{
    assert (self_p);
    window_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < WINDOW_MAX; i++)
        zmsg_destroy (&self->slots[i].submit);
    free (self->run);
    free (self);
    *self_p = NULL;
}

void
window_set_size (window_t *self, size_t size)
{
    assert (size >= 1 && size <= WINDOW_MAX);
    self->size = size;
}

size_t
window_used (const window_t *self)
{
    return self->used;
}

bool
window_full (const window_t *self)
{
    return self->used >= self->size;
}

void
window_batch_id (const window_t *self, uint64_t batch, char *id, size_t size)
{
    snprintf (id, size, "%s-%" PRIu64, self->run, batch);
}

bool
window_ours (const window_t *self, const char *id)
{
    size_t run = strlen (self->run);
    return id && !strncmp (id, self->run, run) && id[run] == '-';
}

window_slot_t *
window_add (window_t *self, uint64_t batch, zmsg_t **submit_p, int version, size_t count)
{
    window_slot_t *slot = NULL;
    for (size_t i = 0; i < WINDOW_MAX && !slot; i++)
        if (!self->slots[i].batch)
            slot = &self->slots[i];
    assert (slot && batch);
    slot->submit = *submit_p;
    *submit_p = NULL;
    slot->version = version;
    slot->batch = batch;
    slot->count = count;
    self->used++;
    return slot;
}

void
window_remove (window_t *self, window_slot_t *slot)
{
    zmsg_destroy (&slot->submit);
    slot->batch = 0;
    slot->count = 0;
    slot->resend_at = 0;
    self->used--;
}

void
window_sending (window_t *self, window_slot_t *slot)
{
    slot->resend_at = 0;
    slot->sent = ++self->sends;
}

bool
window_awaiting (const window_t *self, const window_slot_t *except)
{
    for (size_t i = 0; i < WINDOW_MAX; i++)
        if (self->slots[i].batch && !self->slots[i].resend_at && &self->slots[i] != except)
            return true;
    return false;
}

window_slot_t *
window_find (window_t *self, const char *id)
{
    if (!window_ours (self, id))
        return NULL;
    id += strlen (self->run) + 1;
    char *end;
    errno = 0;
    uint64_t number = strtoull (id, &end, 10);
    if (errno || *end || number == 0)
        return NULL;
    for (size_t i = 0; i < WINDOW_MAX; i++)
        if (self->slots[i].batch == number)
            return &self->slots[i];
    return NULL;
}

window_slot_t *
window_oldest_awaiting (window_t *self)
{
    window_slot_t *oldest = NULL;
    for (size_t i = 0; i < WINDOW_MAX; i++) {
        window_slot_t *slot = &self->slots[i];
        if (slot->batch && !slot->resend_at && (!oldest || slot->sent < oldest->sent))
            oldest = slot;
    }
    return oldest;
}

window_slot_t *
window_next_awaiting (window_t *self, window_slot_t *after)
{
    for (size_t i = after? (size_t) (after - self->slots) + 1: 0; i < WINDOW_MAX; i++)
        if (self->slots[i].batch && !self->slots[i].resend_at)
            return &self->slots[i];
    return NULL;
}

window_slot_t *
window_due (window_t *self, int64_t now, int64_t *deadline_p)
{
    for (size_t i = 0; i < WINDOW_MAX; i++) {
        window_slot_t *slot = &self->slots[i];
        if (slot->batch && slot->resend_at) {
            if (slot->resend_at <= now)
                return slot;
            if (slot->resend_at < *deadline_p)
                *deadline_p = slot->resend_at;
        }
    }
    return NULL;
}
