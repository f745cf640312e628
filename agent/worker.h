//  worker.h -- one worker process of an agent: T handler threads (a pool,
//  agent/pool.h) fed by the supervisor (agent/supervisor.h) over one DEALER
//  on the supervisor's private ipc:// endpoint.  The supervisor starts it as
//  `drover agent --worker ENDPOINT ...`; it dies with the supervisor.
//
//  The link is internal (both ends are this binary, same build), so its
//  frames are plain C structs, not the drover protocol.  Every message's
//  first frame is one byte saying what it is:
//
//    'H' worker -> supervisor  hello: the worker is connected and ready
//    'T' supervisor -> worker  tasks, packed a frame per group of tasks
//                              that share handler and options (agent/link.h)
//    'R' worker -> supervisor  results, packed in one frame (agent/link.h)
//    'D' supervisor -> worker  give back tasks waiting for a busy thread
//                              (POOL_DROPPED; pool_drop_waiting)
//    'C' supervisor -> worker  stop these tasks, running or waiting
//                              (POOL_CANCELLED; pool_cancel_where)
//    'Q' supervisor -> worker  stop: cancel running handlers and exit
//
//  Many tasks or results ride in one message: one wakeup per batch, not
//  per tuple, is what keeps the hop cheap.
#ifndef DROVER_WORKER_H
#define DROVER_WORKER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/link.h"     //  the message kinds, WORKER_*

#define WORKER_BATCH_MAX 1024           //  tasks per message
#define WORKER_OVERDUE_MS   5000        //  a handler this far past its deadline ...
#define WORKER_OVERDUE_EXIT 70          //  ... ends its worker with this status

//  Run a worker until told to quit or the supervisor (parent) is gone:
//  connect to endpoint as identity, run tasks on threads handler threads.
//  Returns the process exit code.
int worker_main (const char *endpoint, const char *identity, size_t threads, pid_t parent);

#endif
