//  tmpdir.c -- private directories, their locks, and the sweep of dead
//  makers' ones; see tmpdir.h.  Trees are removed with directory fds
//  (openat, unlinkat), so nothing depends on the cwd.
#include "agent/tmpdir.h"
#include "common/dir_each.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define ROOT_MAX    60          //  $TMPDIR bytes that leave room for an ipc path
#define MAKE_TRIES  8           //  names tried when sweeps keep taking ours
#define DEPTH_MAX   128         //  deeper trees are refused, not overflowed

const char *
tmpdir_root (void)
{
    const char *tmp = getenv ("TMPDIR");
    return tmp && *tmp && strlen (tmp) <= ROOT_MAX? tmp: "/tmp";
}

const char *
tmpdir_work_root (void)
{
    const char *root = getenv ("DROVER_WORK_DIR");
    if (!root || !*root)
        root = getenv ("TMPDIR");
    return root && *root? root: "/tmp";
}

//  ---------------------------------------------------------------------
//  Making

//  Lock the directory just made at path; 0 with *fd_p, or -errno.  EAGAIN:
//  a sweep holds it or took it away meanwhile (try another name).
static int
s_lock (const char *path, int *fd_p)
{
    int fd = open (path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT? -EAGAIN: -errno;
    struct stat held, named;
    int rc = flock (fd, LOCK_EX | LOCK_NB)? (errno == EWOULDBLOCK? -EAGAIN: -errno): 0;
    //  Still ours?  A sweep that took the lock first removed it.
    if (rc == 0 && (fstat (fd, &held) || stat (path, &named)
                    || held.st_ino != named.st_ino || held.st_dev != named.st_dev))
        rc = -EAGAIN;
    if (rc) {
        close (fd);
        return rc;
    }
    *fd_p = fd;
    return 0;
}

int
tmpdir_make (const char *root, const char *prefix, char *path, size_t size, int *lock_fd)
{
    if (mkdir (root, 0700) && errno != EEXIST)
        return -errno;
    int rc = -EAGAIN;
    for (int try = 0; try < MAKE_TRIES && rc == -EAGAIN; try++) {
        int n = snprintf (path, size, "%s/%s-%d-XXXXXX", root, prefix, (int) getpid ());
        if (n < 0 || (size_t) n >= size)
            return -ENAMETOOLONG;
        if (!mkdtemp (path))            //  mode 0700
            return -errno;
        rc = s_lock (path, lock_fd);
    }
    return rc;
}

//  ---------------------------------------------------------------------
//  Removing

static int s_empty_dir (int dirfd, int depth);

//  Remove one entry of dirfd; directories emptied first.
static int
s_remove_entry (int dirfd, const char *name, int depth)
{
    if (unlinkat (dirfd, name, 0) == 0 || errno == ENOENT)
        return 0;
    if (errno != EISDIR && errno != EPERM)
        return -errno;
    //  A task may have taken write or search permission from its own dirs.
    fchmodat (dirfd, name, 0700, 0);
    int sub = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0)
        return -errno;
    int rc = s_empty_dir (sub, depth + 1);
    close (sub);
    if (rc == 0 && unlinkat (dirfd, name, AT_REMOVEDIR) && errno != ENOENT)
        rc = -errno;
    return rc;
}

//  An entry of a directory being emptied; arg is the directory's depth.
static int
s_remove_child (int dirfd, const char *name, void *arg)
{
    return s_remove_entry (dirfd, name, *(int *) arg);
}

static int
s_empty_dir (int dirfd, int depth)
{
    if (depth > DEPTH_MAX)
        return -ELOOP;
    //  Go on after an error: remove what can be removed.
    return dir_each (dirfd, true, s_remove_child, &depth);
}

int
tmpdir_remove (const char *path)
{
    if (!path || !*path)
        return -EINVAL;
    return s_remove_entry (AT_FDCWD, path, 0);
}

//  ---------------------------------------------------------------------
//  Sweeping

//  The pid in name if it is PREFIX-PID-XXXXXX of one of our prefixes, else 0.
static pid_t
s_maker (const char *name)
{
    const char *prefixes[] = { TMPDIR_AGENT "-", TMPDIR_WORK "-" };
    for (size_t i = 0; i < 2; i++) {
        size_t len = strlen (prefixes[i]);
        if (strncmp (name, prefixes[i], len))
            continue;
        char *end = NULL;
        long pid = strtol (name + len, &end, 10);
        if (end != name + len && *end == '-' && strlen (end + 1) == 6 && pid > 0
        &&  pid <= INT_MAX)
            return (pid_t) pid;
    }
    return 0;
}

//  Is pid a live drover process other than us (its program is ours)?  An
//  older agent took no lock; pid 1 of a restarted container is us.
static bool
s_live_drover (pid_t pid)
{
    if (pid == getpid () || (kill (pid, 0) && errno == ESRCH))
        return false;
    char link[64], theirs[PATH_MAX], ours[PATH_MAX];
    snprintf (link, sizeof link, "/proc/%d/exe", (int) pid);
    ssize_t a = readlink (link, theirs, sizeof theirs - 1);
    ssize_t b = readlink ("/proc/self/exe", ours, sizeof ours - 1);
    if (a < 0)
        return errno != ENOENT;         //  cannot tell: alive, to be safe
    return b < 0 || (a == b && memcmp (theirs, ours, (size_t) a) == 0);
}

//  Remove root/name if its maker is proven dead.  1 if removed, else 0.
static int
s_sweep_one (int rootfd, const char *root, const char *name)
{
    pid_t pid = s_maker (name);
    if (!pid)
        return 0;
    int fd = openat (rootfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct stat st;
    //  Held while removing: a maker that just made this name retries.
    bool dead = fstat (fd, &st) == 0 && st.st_uid == geteuid ()
             && flock (fd, LOCK_EX | LOCK_NB) == 0 && !s_live_drover (pid);
    int rc = dead? s_remove_entry (rootfd, name, 0): 0;
    close (fd);
    if (rc)
        log_warn ("cannot remove %s/%s, left by dead process %d: %s", root, name, (int) pid,
                  strerror (-rc));
    return dead && rc == 0;
}

typedef struct {
    const char *root;
    size_t swept;
} sweep_t;

static int
s_sweep_child (int rootfd, const char *name, void *arg)
{
    sweep_t *sweep = arg;
    sweep->swept += (size_t) s_sweep_one (rootfd, sweep->root, name);
    return 0;
}

size_t
tmpdir_sweep (const char *root)
{
    sweep_t sweep = { root, 0 };
    int rootfd = open (root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd >= 0) {
        dir_each (rootfd, true, s_sweep_child, &sweep);
        close (rootfd);
    }
    if (sweep.swept)
        log_info ("removed %zu directories under %s left by agents that died (killed?)",
                  sweep.swept, root);
    return sweep.swept;
}
