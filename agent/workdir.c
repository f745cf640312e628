//  workdir.c -- task directories and the template cache; see workdir.h.
//  Trees are walked with directory fds (openat, linkat, ...) so nothing
//  depends on the cwd, which handler threads share.
#include "agent/workdir.h"
#include "agent/tmpdir.h"
#include "common/dir_each.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEPTH_MAX 128           //  deeper trees are refused, not overflowed

typedef struct template_entry {
    struct template_entry *next;
    void *key;
    size_t key_size;
    char path[PATH_MAX];
    bool ready;                 //  false while its prepare runs
} template_entry_t;

struct workdir {
    pthread_mutex_t lock;
    pthread_cond_t ready;       //  a template's prepare ended
    char base[PATH_MAX];        //  "" until first use
    int base_lock;              //  holds base's lock (agent/tmpdir.h)
    pid_t owner;                //  the process that made base (removes it)
    uint64_t sequence;          //  names the directories under base
    template_entry_t *templates;
};

static int s_copy_dir (int src, int dst, int depth);

workdir_t *
workdir_new (void)
{
    workdir_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init (&self->lock, NULL);
    pthread_cond_init (&self->ready, NULL);
    return self;
}

void
workdir_destroy (workdir_t **self_p)
{
    workdir_t *self = *self_p;
    if (!self)
        return;
    //  A forked child holds a copy of its parent's: the tree is not its own.
    if (self->base[0] && self->owner == getpid ()) {
        tmpdir_remove (self->base);
        close (self->base_lock);
    }
    while (self->templates) {
        template_entry_t *next = self->templates->next;
        free (self->templates->key);
        free (self->templates);
        self->templates = next;
    }
    pthread_cond_destroy (&self->ready);
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}

//  With the lock held: make the base directory if this is its first use.
static int
s_base_locked (workdir_t *self)
{
    if (self->base[0])
        return 0;
    char base[PATH_MAX];
    int rc = tmpdir_make (tmpdir_work_root (), TMPDIR_WORK, base, sizeof base, &self->base_lock);
    if (rc)
        return rc;
    memcpy (self->base, base, sizeof base);
    self->owner = getpid ();
    return 0;
}

int
workdir_base (workdir_t *self, char *path, size_t size)
{
    pthread_mutex_lock (&self->lock);
    int rc = s_base_locked (self);
    if (rc == 0 && snprintf (path, size, "%s", self->base) >= (int) size)
        rc = -ENAMETOOLONG;
    pthread_mutex_unlock (&self->lock);
    return rc;
}

//  A new empty directory base/prefix-N.
static int
s_fresh_dir (workdir_t *self, const char *prefix, char *path, size_t size)
{
    pthread_mutex_lock (&self->lock);
    int rc = s_base_locked (self);
    uint64_t n = ++self->sequence;
    if (rc == 0 && snprintf (path, size, "%s/%s-%llu", self->base, prefix,
                             (unsigned long long) n) >= (int) size)
        rc = -ENAMETOOLONG;
    pthread_mutex_unlock (&self->lock);
    if (rc == 0 && mkdir (path, 0700))
        rc = -errno;
    return rc;
}

int
workdir_task (workdir_t *self, const char *template_dir, char *path, size_t size)
{
    int rc = s_fresh_dir (self, "task", path, size);
    if (rc || !template_dir)
        return rc;
    rc = workdir_copy_tree (template_dir, path);
    if (rc)
        tmpdir_remove (path);
    return rc;
}

//  Copy one regular file's bytes (hard link impossible).
static int
s_copy_file (int src_dir, int dst_dir, const char *name, mode_t mode)
{
    int in = openat (src_dir, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (in < 0)
        return -errno;
    int out = openat (dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 07777);
    if (out < 0) {
        int rc = -errno;
        close (in);
        return rc;
    }
    int rc = 0;
    char buffer[65536];
    while (true) {
        ssize_t got = read (in, buffer, sizeof buffer);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            rc = got < 0? -errno: 0;
            break;
        }
        for (ssize_t done = 0; done < got; ) {
            ssize_t put = write (out, buffer + done, (size_t) (got - done));
            if (put < 0 && errno == EINTR)
                continue;
            if (put < 0) {
                rc = -errno;
                break;
            }
            done += put;
        }
        if (rc)
            break;
    }
    close (in);
    if (close (out) && rc == 0)
        rc = -errno;
    return rc;
}

static int
s_copy_entry (int src, int dst, const char *name, int depth)
{
    struct stat st;
    if (fstatat (src, name, &st, AT_SYMLINK_NOFOLLOW))
        return -errno;
    if (S_ISDIR (st.st_mode)) {
        if (mkdirat (dst, name, (st.st_mode & 07777) | 0700))
            return -errno;
        int sub_src = openat (src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int sub_dst = openat (dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int rc = sub_src < 0 || sub_dst < 0? -errno: s_copy_dir (sub_src, sub_dst, depth + 1);
        if (sub_src >= 0)
            close (sub_src);
        if (sub_dst >= 0)
            close (sub_dst);
        return rc;
    }
    if (S_ISLNK (st.st_mode)) {
        char target[PATH_MAX];
        ssize_t len = readlinkat (src, name, target, sizeof target - 1);
        if (len < 0)
            return -errno;
        target[len] = 0;
        return symlinkat (target, dst, name)? -errno: 0;
    }
    if (!S_ISREG (st.st_mode))
        return 0;               //  fifos, sockets, devices: not part of a template
    if (linkat (src, name, dst, name, 0) == 0)
        return 0;
    //  Another file system, a link limit, or protected_hardlinks: copy.
    if (errno == EXDEV || errno == EPERM || errno == EMLINK || errno == EACCES)
        return s_copy_file (src, dst, name, st.st_mode);
    return -errno;
}

//  Where the entries of a directory being copied go.
typedef struct {
    int dst;
    int depth;
} copy_t;

static int
s_copy_child (int src, const char *name, void *arg)
{
    const copy_t *copy = arg;
    return s_copy_entry (src, copy->dst, name, copy->depth);
}

static int
s_copy_dir (int src, int dst, int depth)
{
    if (depth > DEPTH_MAX)
        return -ELOOP;
    copy_t copy = { dst, depth };
    return dir_each (src, false, s_copy_child, &copy);
}

int
workdir_copy_tree (const char *src, const char *dst)
{
    int from = open (src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (from < 0)
        return -errno;
    int to = open (dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = to < 0? -errno: s_copy_dir (from, to, 0);
    close (from);
    if (to >= 0)
        close (to);
    return rc;
}

//  With the lock held.
static template_entry_t *
s_template_find (workdir_t *self, const void *key, size_t key_size)
{
    for (template_entry_t *entry = self->templates; entry; entry = entry->next)
        if (entry->key_size == key_size && memcmp (entry->key, key, key_size) == 0)
            return entry;
    return NULL;
}

//  With the lock held.
static void
s_template_unlist (workdir_t *self, template_entry_t *gone)
{
    for (template_entry_t **at = &self->templates; *at; at = &(*at)->next)
        if (*at == gone) {
            *at = gone->next;
            break;
        }
    free (gone->key);
    free (gone);
}

//  With the lock held: the entry for key, listed not ready (this caller
//  prepares it), or the ready one, waiting for a prepare under way.
static int
s_template_entry (workdir_t *self, const void *key, size_t key_size, template_entry_t **entry_p)
{
    int rc = s_base_locked (self);
    template_entry_t *entry = NULL;
    while (rc == 0 && (entry = s_template_find (self, key, key_size)) && !entry->ready)
        pthread_cond_wait (&self->ready, &self->lock);
    if (rc == 0 && !entry) {
        entry = calloc (1, sizeof *entry);
        if (entry && (entry->key = malloc (key_size? key_size: 1))) {
            memcpy (entry->key, key, key_size);
            entry->key_size = key_size;
            entry->next = self->templates;
            self->templates = entry;
        }
        else {
            free (entry);
            entry = NULL;
            rc = -ENOMEM;
        }
    }
    *entry_p = entry;
    return rc;
}

int
workdir_template (workdir_t *self, const void *key, size_t key_size,
                  workdir_prepare_fn *prepare, void *arg,
                  char *path, size_t size, char *err, size_t errlen)
{
    pthread_mutex_lock (&self->lock);
    template_entry_t *entry;
    int rc = s_template_entry (self, key, key_size, &entry);
    bool ready = rc == 0 && entry->ready;
    if (ready)
        snprintf (path, size, "%s", entry->path);
    pthread_mutex_unlock (&self->lock);
    if (rc) {
        snprintf (err, errlen, "work directory: %s", strerror (-rc));
        return -1;
    }
    if (ready)
        return 0;
    //  Prepare outside the lock: it may take minutes (downloads, builds).
    rc = s_fresh_dir (self, "template", entry->path, sizeof entry->path);
    if (rc)
        snprintf (err, errlen, "work directory: %s", strerror (-rc));
    else
    if (prepare && prepare (arg, entry->path, err, errlen)) {
        tmpdir_remove (entry->path);
        rc = -1;
    }
    pthread_mutex_lock (&self->lock);
    if (rc == 0) {
        entry->ready = true;
        snprintf (path, size, "%s", entry->path);
    }
    else
        s_template_unlist (self, entry);
    pthread_cond_broadcast (&self->ready);
    pthread_mutex_unlock (&self->lock);
    return rc? -1: 0;
}
