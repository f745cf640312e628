//  dir_each.c -- see dir_each.h.  readdir needs a DIR of its own: it takes
//  a dup of the fd, so closing it leaves the caller's open.  The dup shares
//  the fd's offset, which a walk before may have left mid-way: rewound.
#include "common/dir_each.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

int
dir_each (int dirfd, bool keep_going, dir_each_fn *fn, void *arg)
{
    int fd = dup (dirfd);
    DIR *dir = fd < 0? NULL: fdopendir (fd);
    if (!dir) {
        int rc = -errno;
        if (fd >= 0)
            close (fd);
        return rc;
    }
    rewinddir (dir);
    int rc = 0;
    struct dirent *entry;
    while ((rc == 0 || keep_going) && (entry = readdir (dir))) {
        const char *name = entry->d_name;
        if (strcmp (name, ".") && strcmp (name, "..")) {
            int one = fn (dirfd, name, arg);
            rc = rc? rc: one;
        }
    }
    closedir (dir);
    return rc;
}
