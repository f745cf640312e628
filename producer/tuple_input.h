//  tuple_input.h -- the tuples `drover submit` reads: JSON Lines or a stream
//  of concatenated msgpack values from a file descriptor, handed out one
//  msgpack tuple at a time.  It reads with read(2) through its own buffer,
//  so it can tell the caller when the input pauses (a pipe from a slow
//  producer) and the batch at hand should go out rather than wait.
#ifndef DROVER_TUPLE_INPUT_H
#define DROVER_TUPLE_INPUT_H

#include <stddef.h>
#include <stdint.h>

typedef enum { TUPLE_INPUT_JSON, TUPLE_INPUT_MSGPACK } tuple_format_t;

typedef enum {
    TUPLE_INPUT_TUPLE = 1,          //  one tuple in *data_p, *size_p
    TUPLE_INPUT_END = 0,            //  no more input
    TUPLE_INPUT_IDLE = 2,           //  nothing new for idle_ms; call again
    TUPLE_INPUT_ERROR = -1,         //  bad input or read error: see _error
    TUPLE_INPUT_INTERRUPTED = -2    //  SIGINT/SIGTERM while waiting for input
} tuple_input_rc_t;

#define TUPLE_INPUT_MAX_VALUE  (64 * 1024 * 1024)  //  longest line or value

typedef struct tuple_input tuple_input_t;

//  Read from fd (not closed by destroy); name appears in error messages.
tuple_input_t *tuple_input_new (int fd, const char *name, tuple_format_t format);
void           tuple_input_destroy (tuple_input_t **self_p);

//  The next tuple, as msgpack, valid until the next call.  idle_ms < 0
//  waits as long as the input takes.  JSON Lines: one JSON value per line,
//  blank lines skipped; msgpack: each value checked whole, passed on byte
//  for byte.
tuple_input_rc_t tuple_input_next (tuple_input_t *self, int idle_ms,
                                   const void **data_p, size_t *size_p);

//  Why TUPLE_INPUT_ERROR: "tuples.jsonl line 5, column 6: expected ','",
//  "stdin byte 20 (tuple 6): msgpack value cut short at the end".
const char *tuple_input_error (const tuple_input_t *self);

#endif
