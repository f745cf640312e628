//  job_flags.h -- the job options `drover submit` takes as flags of their
//  own (--abort-after, --each, --priority, --delay, --not-before), checked
//  and merged into --options' JSON object, which the producer then sends
//  as the SUBMIT's options (PROTOCOL.md 4.1).
#ifndef DROVER_CLI_JOB_FLAGS_H
#define DROVER_CLI_JOB_FLAGS_H

#include <stddef.h>
#include <stdint.h>

//  The flags as a command's option table fills them.
typedef struct {
    const char *options;            //  --options: JSON for the handler, or NULL
    uint64_t abort_after;           //  0: never; else the option abort_after
    const char *each;               //  --each: the option each, or NULL
    int priority;                   //  -1: the broker's (5); else the option priority
    uint64_t delay_ms;              //  0: none; else not_before is now + this
    const char *not_before;         //  --not-before TIME, or NULL
} job_flags_t;

//  A TIME as --not-before takes it: seconds since the epoch, or an ISO 8601
//  UTC time (2026-12-05T09:00:00Z); in ms since the epoch, 0 if neither.
uint64_t job_flags_time (const char *text);

//  The handler options with the flags' added, as JSON text in *json_p: buf
//  (size bytes), or --options as given (NULL if none; not checked to be an
//  object: the producer's set_options says why not).  0, or -1 after a
//  usage error: the flag in *flag_p and what is wrong in *problem_p.
int job_flags_options (const job_flags_t *self, char *buf, size_t size, const char **json_p,
                       const char **flag_p, const char **problem_p);

#endif
