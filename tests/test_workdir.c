//  test_workdir.c -- task directories: copies of a template tree (hard
//  links on one file system, byte copies across file systems, symlinks and
//  modes kept), removal of any tree, the per-process template cache under
//  concurrent callers, and cleanup of the base directory.
#include <criterion/criterion.h>

#include "agent/tmpdir.h"
#include "agent/workdir.h"
#include "support.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *s_scratch;
static workdir_t *s_workdirs;

static void
s_setup (void)
{
    s_scratch = support_tmpdir ();
    cr_assert (s_scratch);
    setenv ("DROVER_WORK_DIR", s_scratch, 1);
    s_workdirs = workdir_new ();
    cr_assert (s_workdirs);
}

static void
s_teardown (void)
{
    workdir_destroy (&s_workdirs);
    support_rmdir (&s_scratch);
}

TestSuite (workdir, .init = s_setup, .fini = s_teardown, .timeout = 30);

static void
s_write (const char *dir, const char *name, const char *text, mode_t mode)
{
    char path[600];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    FILE *file = fopen (path, "w");
    cr_assert (file, "cannot write %s", path);
    fputs (text, file);
    fclose (file);
    chmod (path, mode);
}

//  A template: a.txt, run.sh (0755), sub/deeper/b.txt, link -> a.txt.
static void
s_make_template (const char *dir)
{
    char path[600];
    cr_assert_eq (mkdir (dir, 0755), 0, "%s: %s", dir, strerror (errno));
    s_write (dir, "a.txt", "alpha\n", 0644);
    s_write (dir, "run.sh", "#!/bin/sh\n", 0755);
    snprintf (path, sizeof path, "%s/sub", dir);
    cr_assert_eq (mkdir (path, 0750), 0);
    snprintf (path, sizeof path, "%s/sub/deeper", dir);
    cr_assert_eq (mkdir (path, 0755), 0);
    s_write (path, "b.txt", "beta\n", 0600);
    snprintf (path, sizeof path, "%s/link", dir);
    cr_assert_eq (symlink ("a.txt", path), 0);
}

static void
s_check_copy (const char *from, const char *to, bool linked)
{
    const char *files[] = { "a.txt", "run.sh", "sub/deeper/b.txt" };
    for (size_t i = 0; i < 3; i++) {
        char a[600], b[600];
        snprintf (a, sizeof a, "%s/%s", from, files[i]);
        snprintf (b, sizeof b, "%s/%s", to, files[i]);
        struct stat sa, sb;
        cr_assert_eq (stat (a, &sa), 0);
        cr_assert_eq (stat (b, &sb), 0, "%s missing", b);
        cr_assert_eq (sa.st_mode, sb.st_mode, "%s mode", files[i]);
        cr_assert_eq (sa.st_ino == sb.st_ino, linked, "%s linked? %d", files[i], linked);
        char *ta = support_slurp (a), *tb = support_slurp (b);
        cr_assert_str_eq (ta, tb);
        free (ta);
        free (tb);
    }
    char path[600], target[100] = "";
    snprintf (path, sizeof path, "%s/link", to);
    cr_assert_eq (readlink (path, target, sizeof target - 1), 5);
    cr_assert_str_eq (target, "a.txt");
    struct stat st;
    snprintf (path, sizeof path, "%s/sub", to);
    cr_assert_eq (stat (path, &st), 0);
    cr_assert_eq (st.st_mode & 07777, 0750);
}

Test (workdir, new_dir_is_a_hard_linked_copy_of_the_template)
{
    char template_dir[400];
    snprintf (template_dir, sizeof template_dir, "%s/template", s_scratch);
    s_make_template (template_dir);
    char one[512], two[512];
    cr_assert_eq (workdir_task (s_workdirs, template_dir, one, sizeof one), 0);
    cr_assert_eq (workdir_task (s_workdirs, template_dir, two, sizeof two), 0);
    cr_assert_str_neq (one, two);
    cr_assert (strstr (one, s_scratch) == one, "%s not under DROVER_WORK_DIR", one);
    s_check_copy (template_dir, one, true);
    s_check_copy (template_dir, two, true);
    //  A file one task adds is not in the other's directory.
    s_write (one, "mine.txt", "x", 0644);
    char path[600];
    snprintf (path, sizeof path, "%s/mine.txt", two);
    cr_assert_eq (access (path, F_OK), -1);
    cr_assert_eq (tmpdir_remove (one), 0);
    cr_assert_eq (access (one, F_OK), -1);
    cr_assert_eq (tmpdir_remove (two), 0);
    //  The template is untouched.
    snprintf (path, sizeof path, "%s/a.txt", template_dir);
    cr_assert_eq (access (path, R_OK), 0);
}

Test (workdir, across_file_systems_files_are_copied)
{
    char template_dir[400];
    snprintf (template_dir, sizeof template_dir, "/dev/shm/drover-test-template-%d", (int) getpid ());
    struct stat st;
    if (stat ("/dev/shm", &st) || !S_ISDIR (st.st_mode))
        cr_skip_test ("no /dev/shm here to be another file system");
    s_make_template (template_dir);
    char dir[512];
    int rc = workdir_task (s_workdirs, template_dir, dir, sizeof dir);
    struct stat a, b;
    stat (template_dir, &a);
    stat (s_scratch, &b);
    if (rc == 0)
        s_check_copy (template_dir, dir, a.st_dev == b.st_dev);
    char *doomed = strdup (template_dir);
    support_rmdir (&doomed);
    cr_assert_eq (rc, 0, "%s", strerror (-rc));
}

Test (workdir, remove_handles_what_a_task_locked_down)
{
    char dir[512], path[700];
    cr_assert_eq (workdir_task (s_workdirs, NULL, dir, sizeof dir), 0);
    snprintf (path, sizeof path, "%s/locked", dir);
    cr_assert_eq (mkdir (path, 0755), 0);
    s_write (path, "f", "x", 0400);
    cr_assert_eq (chmod (path, 0500), 0);
    cr_assert_eq (tmpdir_remove (dir), 0);
    cr_assert_eq (access (dir, F_OK), -1);
    cr_assert_eq (tmpdir_remove (dir), 0, "removing what is gone is fine");
}

static atomic_int s_prepared;

static int
s_prepare (void *arg, const char *dir, char *err, size_t errlen)
{
    const char *mode = arg;
    atomic_fetch_add (&s_prepared, 1);
    usleep (50000);             //  long enough for the others to wait on it
    if (!strcmp (mode, "fail")) {
        snprintf (err, errlen, "prepare failed on purpose");
        return -1;
    }
    s_write (dir, "tool", "built\n", 0755);
    return 0;
}

typedef struct {
    const char *mode;
    int rc;
    char path[512];
    char err[128];
} caller_t;

static void *
s_caller (void *arg)
{
    caller_t *caller = arg;
    caller->rc = workdir_template (s_workdirs, "key-1", 5, s_prepare, (void *) caller->mode,
                                   caller->path, sizeof caller->path,
                                   caller->err, sizeof caller->err);
    return NULL;
}

Test (workdir, a_template_is_prepared_once_for_all_threads)
{
    caller_t callers[5];
    pthread_t threads[5];
    for (int i = 0; i < 5; i++) {
        callers[i] = (caller_t) { .mode = "ok" };
        pthread_create (&threads[i], NULL, s_caller, &callers[i]);
    }
    for (int i = 0; i < 5; i++)
        pthread_join (threads[i], NULL);
    cr_assert_eq (atomic_load (&s_prepared), 1);
    for (int i = 0; i < 5; i++) {
        cr_assert_eq (callers[i].rc, 0, "%s", callers[i].err);
        cr_assert_str_eq (callers[i].path, callers[0].path);
    }
    char path[600];
    snprintf (path, sizeof path, "%s/tool", callers[0].path);
    cr_assert_eq (access (path, X_OK), 0);
    //  Another key is another template.
    char other[512], err[128];
    cr_assert_eq (workdir_template (s_workdirs, "key-2", 5, s_prepare, "ok", other, sizeof other,
                                    err, sizeof err), 0);
    cr_assert_str_neq (other, callers[0].path);
    cr_assert_eq (atomic_load (&s_prepared), 2);
}

Test (workdir, a_failed_prepare_is_not_cached)
{
    caller_t caller = { .mode = "fail" };
    s_caller (&caller);
    cr_assert_eq (caller.rc, -1);
    cr_assert_str_eq (caller.err, "prepare failed on purpose");
    caller = (caller_t) { .mode = "ok" };
    s_caller (&caller);
    cr_assert_eq (caller.rc, 0, "%s", caller.err);
    cr_assert_eq (atomic_load (&s_prepared), 2);
}

Test (workdir, destroy_removes_the_base_and_a_new_one_makes_another)
{
    char base[512], again[512];
    cr_assert_eq (workdir_base (s_workdirs, base, sizeof base), 0);
    cr_assert (strstr (base, "/drover-work-"), "%s", base);
    char dir[512];
    cr_assert_eq (workdir_task (s_workdirs, NULL, dir, sizeof dir), 0);
    workdir_destroy (&s_workdirs);
    cr_assert_null (s_workdirs);
    cr_assert_eq (access (base, F_OK), -1);
    s_workdirs = workdir_new ();
    cr_assert_eq (workdir_base (s_workdirs, again, sizeof again), 0);
    cr_assert_eq (access (again, F_OK), 0);
    cr_assert_str_neq (base, again);
}

Test (workdir, each_workdirs_has_its_own_base)
{
    workdir_t *other = workdir_new ();
    char one[512], two[512];
    cr_assert_eq (workdir_base (s_workdirs, one, sizeof one), 0);
    cr_assert_eq (workdir_base (other, two, sizeof two), 0);
    cr_assert_str_neq (one, two);
    workdir_destroy (&other);
    cr_assert_eq (access (two, F_OK), -1);
    cr_assert_eq (access (one, F_OK), 0, "the other's destroy leaves ours");
}
