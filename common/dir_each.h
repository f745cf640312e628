//  dir_each.h -- the entries of a directory given as an open fd, one call
//  each, "." and ".." left out: for the walks that work relative to a
//  directory fd (openat, unlinkat, linkat) so that a path changed under
//  them cannot send them elsewhere (the agent's work directories and
//  scratch directories).
#ifndef DROVER_DIR_EACH_H
#define DROVER_DIR_EACH_H

#include <stdbool.h>

//  Called with the directory's fd (as given) and an entry's name: 0 to go
//  on, or -errno.
typedef int (dir_each_fn) (int dirfd, const char *name, void *arg);

//  Call fn for each entry of dirfd (which stays open, and the caller's).
//  Stops at the first error unless keep_going (then the rest are tried
//  too).  Returns 0, the first error of fn, or -errno if the directory
//  cannot be read.
int dir_each (int dirfd, bool keep_going, dir_each_fn *fn, void *arg);

#endif
