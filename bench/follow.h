//  follow.h -- follow a file another process appends to (a drover sink's
//  JSON Lines, the ceiling sink's records): a thread reads what was
//  written, woken by inotify, and hands each complete line (or record of a
//  fixed size) to a callback with the time it read it.  "Seen" for a
//  result means "stored": it is in the sink's file.
#ifndef DROVER_BENCH_FOLLOW_H
#define DROVER_BENCH_FOLLOW_H

#include <stddef.h>
#include <stdint.h>

typedef struct follow follow_t;

//  One complete line (without its newline) or record, read at now_us.
typedef void (follow_line_fn) (void *arg, const char *line, size_t len, uint64_t now_us);
//  After the lines of one read: a place to wake waiters.
typedef void (follow_read_fn) (void *arg);

//  Start following path, which must exist, from its current end: what is
//  appended from now on, as lines if record_size is 0, else as records of
//  record_size bytes.  NULL on failure (errno set).
follow_t *follow_new (const char *path, size_t record_size, follow_line_fn *on_line,
                      follow_read_fn *on_read, void *arg);
//  Stop the thread; lines not read yet are not handed on.
void      follow_destroy (follow_t **self_p);

#endif
