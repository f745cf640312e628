//  workdir.h -- per-task working directories for the exec handler: a tree
//  under one base directory per process, each task's a copy of a template
//  (hard-linked where possible, like `cp -al`), and a cache of template
//  directories prepared once per process (the exec "setup" option).
//
//  One workdir_t per process that runs handlers (agent/registry.h owns it):
//  a prepared template is shared by every handler thread, so the object is
//  thread-safe.  The base directory is $DROVER_WORK_DIR (or $TMPDIR, or
//  /tmp) plus "/drover-work-<pid>-XXXXXX", made and locked on first use
//  (agent/tmpdir.h: a later agent sweeps it if this process dies without
//  removing it) and removed by workdir_destroy.
#ifndef DROVER_WORKDIR_H
#define DROVER_WORKDIR_H

#include <stddef.h>

typedef struct workdir workdir_t;

//  Fill a fresh directory (dir exists and is empty).  Returns 0, or -1
//  with a message in err.
typedef int (workdir_prepare_fn) (void *arg, const char *dir, char *err, size_t errlen);

//  NULL if out of memory.  Makes no directory yet.
workdir_t *workdir_new (void);
//  Remove the base directory, with every task directory and template in
//  it (none may be in use).  In a forked child, leaves its parent's alone.
void workdir_destroy (workdir_t **self_p);

//  The base directory, made on first use.  Returns 0 or -errno.
int  workdir_base (workdir_t *self, char *path, size_t size);

//  A new task directory under the base: a copy of template_dir (directories
//  made, regular files hard-linked or copied across file systems, symlinks
//  recreated), or empty if template_dir is NULL.  Returns 0 or -errno.
int  workdir_task (workdir_t *self, const char *template_dir, char *path, size_t size);

//  The template directory for key: prepared by prepare (in a new empty
//  directory under the base) the first time, then the same path for every
//  later call.  Concurrent callers with the same key wait for the first.
//  A failed prepare is not cached: the next call retries.  Returns 0, or
//  -1 with a message in err.
int  workdir_template (workdir_t *self, const void *key, size_t key_size,
                       workdir_prepare_fn *prepare, void *arg,
                       char *path, size_t size, char *err, size_t errlen);

//  Copy the tree src into the existing directory dst as workdir_task does.
//  (tmpdir_remove, agent/tmpdir.h, removes a tree.)
int  workdir_copy_tree (const char *src, const char *dst);

#endif
