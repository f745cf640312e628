//  work.h -- WORK (PROTOCOL.md 4.2) decoded once, where it arrives, into the
//  value the agent acts on: the job as WORK describes it and the tuples'
//  refs, with every default and limit applied here and nowhere else.
#ifndef DROVER_WORK_H
#define DROVER_WORK_H

#include "proto/msg.h"

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WORK_MAX_ATTEMPTS_DEFAULT   3
#define WORK_TIMEOUT_MS_DEFAULT     30000
//  The longest lease acted on, and so asked for again in TOUCH: about 24.8
//  days.  The broker clamps lease_ms to the same bound, so a lease in ms
//  fits an int and a TOUCH's lease is taken as it is.
#define WORK_LEASE_MS_MAX           MSG_LEASE_MS_MAX
//  The result statuses of PROTOCOL.md 9.1 an agent stores beyond ok.
#define WORK_STATUS_FAILED          1
#define WORK_STATUS_CANCELLED       3

typedef struct {
    const char *job;
    const char *handler;
    const char *sink;           //  the sink's endpoint
    const char *sink_key;       //  the sink's public key (Z85): results sealed; NULL: not
    const void *options;        //  the job's options, a msgpack map, or NULL
    size_t options_size;
    uint32_t max_attempts;      //  at least 1
    uint32_t timeout_ms;        //  the handler's deadline; 0 = none
    uint32_t lease_ms;          //  0 = no lease (no TOUCH); at most WORK_LEASE_MS_MAX
    const char *dead_letter;    //  not NULL: do not run; store as failed with this error
    uint8_t stored_as;          //  with dead_letter: the result's status, 1 failed, 2
                                //  excluded (10.2), 3 cancelled, 4 aborted (12)
    const msg_ref_t *refs;      //  refs[i] names tuple i
    size_t count;
    msg_t *msg;                 //  what holds the strings and the tuples
} work_t;

//  Decode msg, a WORK the codec has checked (required fields present, one
//  tuple per ref), into work, borrowing from msg: it must outlive work.
//  The tuples stay in msg, packed, until tasks take them (task_new_all).
void      work_decode (work_t *work, msg_t *msg);

#endif
