//  builtin.h -- the built-in handlers: echo, sleep, sha256, tcp-probe and
//  fail (agent/handler.h).  They keep no state (self is unused) and emit
//  one output each; their tuple shapes are in `drover agent --help`.
#ifndef DROVER_BUILTIN_H
#define DROVER_BUILTIN_H

#include "agent/handler.h"

//  The built-in handler with this name, or NULL; *bytes_only is set if it
//  reads only call->tuple_data, so that call->tuple need not be decoded.
handler_fn *builtin_lookup (const char *name, bool *bytes_only);

#endif
