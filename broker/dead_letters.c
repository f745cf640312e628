//  dead_letters.c -- see dead_letters.h.  A ring: add overwrites the oldest.
#include "broker/dead_letters.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>

struct dead_letters {
    dead_letter_t *ring;
    size_t keep;
    size_t count;
    size_t next;                //  where the next one goes
};

dead_letters_t *
dead_letters_new (size_t keep)
{
    dead_letters_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->keep = keep? keep: 1;
    self->ring = calloc (self->keep, sizeof *self->ring);
    if (!self->ring)
        dead_letters_destroy (&self);
    return self;
}

void
dead_letters_destroy (dead_letters_t **self_p)
{
    dead_letters_t *self = *self_p;
    if (!self)
        return;
    free (self->ring);
    free (self);
    *self_p = NULL;
}

void
dead_letters_add (dead_letters_t *self, const char *job, uint64_t tuple,
                  uint32_t attempts, const char *reason)
{
    dead_letter_t *letter = &self->ring[self->next];
    snprintf (letter->job, sizeof letter->job, "%s", job);
    letter->tuple = tuple;
    letter->attempts = attempts;
    letter->reason = reason;
    letter->at = zclock_time ();
    self->next = (self->next + 1) % self->keep;
    if (self->count < self->keep)
        self->count++;
}

size_t
dead_letters_count (const dead_letters_t *self)
{
    return self->count;
}

const dead_letter_t *
dead_letters_get (const dead_letters_t *self, size_t i)
{
    if (i >= self->count)
        return NULL;
    return &self->ring[(self->next + self->keep - 1 - i) % self->keep];
}
