//  tmpdir.h -- the private directories an agent's processes make under a
//  root ($TMPDIR for the supervisor's ipc endpoint, $DROVER_WORK_DIR for
//  the exec handler's work directories): PREFIX-PID-XXXXXX, mode 0700,
//  each locked (flock) by its maker for as long as the maker lives; and
//  the sweep, at an agent's start, of those whose maker died without
//  removing them (kill -9, the OOM killer, a container stopped hard).
//
//  Dead is proven, never guessed: a directory is removed only if its lock
//  can be taken (no live process holds it, in whatever pid namespace,
//  since the kernel drops a dead process's locks) and the pid in its name
//  is not a live drover process other than us (an older agent that took
//  no lock).  A maker checks after locking that its directory is still
//  the one it made, so a sweep between mkdtemp and flock costs it a retry,
//  never its directory.
#ifndef DROVER_TMPDIR_H
#define DROVER_TMPDIR_H

#include <stddef.h>

#define TMPDIR_AGENT "drover-agent"     //  the supervisor's ipc endpoint
#define TMPDIR_WORK  "drover-work"      //  a process's exec work directories

//  The supervisor's root: $TMPDIR, or /tmp if unset or too long for an ipc
//  path under it.
const char *tmpdir_root (void);
//  The work directories' root: $DROVER_WORK_DIR, else $TMPDIR, else /tmp.
const char *tmpdir_work_root (void);

//  Make root/prefix-PID-XXXXXX (mode 0700; root made if missing) and lock
//  it.  path gets its name, *lock_fd the descriptor holding the lock
//  (close-on-exec): close it after removing the directory.  0 or -errno.
int    tmpdir_make (const char *root, const char *prefix, char *path, size_t size,
                    int *lock_fd);

//  Remove a tree (any depth, fixing permissions on the way).  0 or -errno.
int    tmpdir_remove (const char *path);

//  Remove the directories of dead makers directly under root: TMPDIR_AGENT
//  and TMPDIR_WORK ones, ours (same uid), proven dead as above.  Returns
//  how many were removed; those that could not be are logged.
size_t tmpdir_sweep (const char *root);

#endif
