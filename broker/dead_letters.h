//  dead_letters.h -- the last few dead letters: tuples that failed their
//  last attempt (the agent stored them at the sink as failed), and those
//  the broker gave up on (attempts used up with no result: sent to an agent
//  to be stored as failed).  Job, tuple, attempts, reason and when, newest
//  first, for the dashboard; what the tuple held and its handler's error
//  are at the job's sink.
#ifndef DROVER_BROKER_DEAD_LETTERS_H
#define DROVER_BROKER_DEAD_LETTERS_H

#include <stddef.h>
#include <stdint.h>

#include "broker/config.h"

#define DEAD_LETTERS_KEPT 50

typedef struct {
    char job[BROKER_MAX_JOB_NAME + 1];
    uint64_t tuple;
    uint32_t attempts;
    const char *reason;         //  a static string
    int64_t at;                 //  wall clock, ms since the epoch
} dead_letter_t;

typedef struct dead_letters dead_letters_t;

//  Remember the last keep dead letters.  NULL if out of memory.
dead_letters_t *dead_letters_new (size_t keep);
void            dead_letters_destroy (dead_letters_t **self_p);

//  One more (job is copied, cut to BROKER_MAX_JOB_NAME bytes; reason is
//  borrowed for the program's life); the oldest goes when full.
void   dead_letters_add (dead_letters_t *self, const char *job, uint64_t tuple,
                         uint32_t attempts, const char *reason);
//  How many are kept now, and the i-th, newest first.
size_t dead_letters_count (const dead_letters_t *self);
const dead_letter_t *dead_letters_get (const dead_letters_t *self, size_t i);

#endif
