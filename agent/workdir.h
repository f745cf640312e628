//  workdir.h -- per-task working directories for the exec handler: a tree
//  under one base directory per process, each task's a copy of a template
//  (hard-linked where possible, like `cp -al`), and a cache of template
//  directories prepared once per process (the exec "setup" option).
//
//  Process-wide state behind a mutex: handler_fn gets no context pointer,
//  and a prepared template must be shared by every handler thread of the
//  process, so the cache lives here rather than in an object someone owns.
//  The base directory is $DROVER_WORK_DIR (or $TMPDIR, or /tmp) plus
//  "/drover-work-<pid>-XXXXXX", made on first use and removed at exit.
#ifndef DROVER_WORKDIR_H
#define DROVER_WORKDIR_H

#include <stddef.h>

//  Fill a fresh directory (dir exists and is empty).  Returns 0, or -1
//  with a message in err.
typedef int (workdir_prepare_fn) (void *arg, const char *dir, char *err, size_t errlen);

//  This process's base directory, made on first use.  Returns 0 or -errno.
int  workdir_base (char *path, size_t size);

//  A new task directory under the base: a copy of template_dir (directories
//  made, regular files hard-linked or copied across file systems, symlinks
//  recreated), or empty if template_dir is NULL.  Returns 0 or -errno.
int  workdir_new (const char *template_dir, char *path, size_t size);

//  Copy the tree src into the existing directory dst as workdir_new does.
int  workdir_copy_tree (const char *src, const char *dst);

//  Remove a tree (any depth, fixing permissions on the way).  0 or -errno.
int  workdir_remove (const char *path);

//  The template directory for key: prepared by prepare (in a new empty
//  directory under the base) the first time, then the same path for every
//  later call in this process.  Concurrent callers with the same key wait
//  for the first.  A failed prepare is not cached: the next call retries.
//  Returns 0, or -1 with a message in err.
int  workdir_template (const void *key, size_t key_size,
                       workdir_prepare_fn *prepare, void *arg,
                       char *path, size_t size, char *err, size_t errlen);

//  Remove this process's base directory and forget cached templates.  Also
//  run at exit; safe to call more than once and in a forked child (which
//  does not touch its parent's directory).
void workdir_cleanup (void);

#endif
