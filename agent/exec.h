//  exec.h -- the "exec" handler: run a command per tuple, its argv filled
//  in from the tuple, the tuple on stdin, optionally in a per-task working
//  directory cloned from a template (agent/workdir.h); the result is the
//  exit code or signal, duration and captured stdout/stderr.  The job's
//  options say how; README's "exec handler" section lists them all.
#ifndef DROVER_EXEC_H
#define DROVER_EXEC_H

#include "agent/handler.h"

//  A handler_fn (agent/handler.h); self is the process's workdir_t
//  (agent/workdir.h), where task directories and prepared templates live.
//  Fails (the attempt fails) on bad options, a command that cannot start,
//  a non-zero exit not listed in "ok_exit_codes", death by a signal, a
//  timeout or cancellation.
int exec_handler (void *self, handler_call_t *call);

#endif
