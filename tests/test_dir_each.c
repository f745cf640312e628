//  test_dir_each.c -- unit tests of common/dir_each.c: every entry once,
//  "." and ".." never, the fd left open, and where an error stops it.
#include "common/dir_each.h"
#include "support.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    int calls;
    int seen[3];                //  entries a, b, c
    int fail_at;                //  the call that fails (1-based), 0: none
} count_t;

static int
s_count (int dirfd, const char *name, void *arg)
{
    count_t *count = arg;
    cr_assert (fcntl (dirfd, F_GETFD) >= 0, "the fd given is open");
    cr_assert (strcmp (name, ".") && strcmp (name, ".."), "%s is left out", name);
    cr_assert (strlen (name) == 1 && name[0] >= 'a' && name[0] <= 'c', "entry %s", name);
    count->seen[name[0] - 'a']++;
    return ++count->calls == count->fail_at? -EIO: 0;
}

static int
s_open_three (char **dir_p)
{
    *dir_p = support_tmpdir ();
    cr_assert (*dir_p);
    int dirfd = open (*dir_p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cr_assert_geq (dirfd, 0);
    cr_assert_eq (mkdirat (dirfd, "a", 0700), 0);
    for (const char *name = "b"; *name <= 'c'; name = *name == 'b'? "c": "d") {
        int fd = openat (dirfd, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        cr_assert_geq (fd, 0);
        close (fd);
    }
    return dirfd;
}

Test (dir_each, every_entry_once_and_the_fd_stays_open)
{
    char *dir = NULL;
    int dirfd = s_open_three (&dir);
    count_t count = { 0 };
    cr_expect_eq (dir_each (dirfd, false, s_count, &count), 0);
    cr_expect_eq (count.calls, 3);
    for (int i = 0; i < 3; i++)
        cr_expect_eq (count.seen[i], 1, "entry %c seen %d times", 'a' + i, count.seen[i]);
    cr_expect_geq (fcntl (dirfd, F_GETFD), 0, "still open after the walk");
    close (dirfd);
    support_rmdir (&dir);
}

Test (dir_each, an_error_stops_the_walk_unless_told_to_go_on)
{
    char *dir = NULL;
    int dirfd = s_open_three (&dir);
    count_t count = { .fail_at = 1 };
    cr_expect_eq (dir_each (dirfd, false, s_count, &count), -EIO);
    cr_expect_eq (count.calls, 1, "stopped at the first error");
    count = (count_t) { .fail_at = 2 };
    cr_expect_eq (dir_each (dirfd, true, s_count, &count), -EIO, "the first error");
    cr_expect_eq (count.calls, 3, "the rest tried too");
    close (dirfd);
    support_rmdir (&dir);
}

Test (dir_each, an_fd_that_is_no_directory_is_an_error)
{
    count_t count = { 0 };
    cr_expect_eq (dir_each (-1, false, s_count, &count), -EBADF);
    int fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
    cr_assert_geq (fd, 0);
    cr_expect_eq (dir_each (fd, false, s_count, &count), -ENOTDIR);
    cr_expect_eq (count.calls, 0);
    close (fd);
}
