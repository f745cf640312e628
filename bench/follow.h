//  follow.h -- follow a file another process appends lines to (a drover
//  sink's JSON Lines): a thread reads what was written, woken by inotify,
//  and hands each complete line to a callback with the time it read it.
//  "Seen" for a drover result means "stored": its line is in the file.
#ifndef DROVER_BENCH_FOLLOW_H
#define DROVER_BENCH_FOLLOW_H

#include <stddef.h>
#include <stdint.h>

typedef struct follow follow_t;

//  One complete line (without its newline), read at now_us.
typedef void (follow_line_fn) (void *arg, const char *line, size_t len, uint64_t now_us);
//  After the lines of one read: a place to wake waiters.
typedef void (follow_read_fn) (void *arg);

//  Start following path, which must exist.  NULL on failure (errno set).
follow_t *follow_new (const char *path, follow_line_fn *on_line, follow_read_fn *on_read,
                      void *arg);
//  Stop the thread; lines not read yet are not handed on.
void      follow_destroy (follow_t **self_p);

#endif
