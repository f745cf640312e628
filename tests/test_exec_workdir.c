//  test_exec_workdir.c -- the exec handler's per-task work directories:
//  a setup run once and copied for each task (also from several threads
//  at once), a failed setup, a template hard-linked in, and the base
//  directory going with the workdirs.  Every work directory lives under
//  a scratch dir.
#include <criterion/criterion.h>

#include "agent/exec.h"
#include "agent/workdir.h"
#include "support.h"
#include "support_exec.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

TestSuite (exec, .init = exec_test_setup, .fini = exec_test_teardown, .timeout = 60);

//  Several tasks at once, as handler threads would run them.
typedef struct {
    const char *tuple;
    const char *options;
    exec_run_t *run;
} job_t;

static void *
s_thread (void *arg)
{
    job_t *job = arg;
    job->run = exec_test_run (job->tuple, job->options);
    return NULL;
}

Test (exec, setup_runs_once_and_each_task_gets_its_own_copy)
{
    char options[1000];
    snprintf (options, sizeof options,
        "{\"setup\": [\"sh\", \"-c\", \"echo tool > tool.txt; mkdir bin; echo ran >> %s/setups\"], "
        "\"command\": [\"sh\", \"-c\", \"test ! -e mine.txt && cat tool.txt && test -d bin "
        "&& echo {0} > mine.txt && pwd\"]}", exec_test_scratch);
    const char *tuples[] = { "[\"a\"]", "[\"b\"]", "[\"c\"]", "[\"d\"]" };
    job_t jobs[4];
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (job_t) { .tuple = tuples[i], .options = options };
        pthread_create (&threads[i], NULL, s_thread, &jobs[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join (threads[i], NULL);
    char dirs[4][512];
    for (int i = 0; i < 4; i++) {
        exec_run_t *run = jobs[i].run;
        cr_assert_ok (run);
        const char *out = exec_test_str (run, "stdout");
        cr_assert_eq (strncmp (out, "tool\n", 5), 0, "task %d saw: %s", i, out);
        snprintf (dirs[i], sizeof dirs[i], "%s", out + 5);
        *strchr (dirs[i], '\n') = 0;
        cr_assert (strstr (dirs[i], exec_test_scratch) == dirs[i] || strstr (dirs[i], "drover-work-"),
                   "work dir %s not under DROVER_WORK_DIR", dirs[i]);
        for (int j = 0; j < i; j++)
            cr_assert_str_neq (dirs[i], dirs[j]);
        struct stat st;
        cr_assert_eq (stat (dirs[i], &st), -1, "task dir %s not removed", dirs[i]);
        exec_test_done (&jobs[i].run);
    }
    char path[400];
    snprintf (path, sizeof path, "%s/setups", exec_test_scratch);
    cr_assert_eq (support_count_lines (path), 1, "setup ran more than once");
    //  A later task reuses the prepared template.
    exec_run_t *run = exec_test_run ("[\"e\"]", options);
    cr_assert_ok (run);
    cr_assert_eq (support_count_lines (path), 1);
    exec_test_done (&run);
}

Test (exec, failed_setup_fails_the_task_and_is_retried)
{
    char options[600];
    snprintf (options, sizeof options,
        "{\"setup\": \"echo try >> %s/tries; echo broken >&2; exit 4\", \"command\": [\"true\"]}",
        exec_test_scratch);
    for (int i = 0; i < 2; i++) {
        exec_run_t *run = exec_test_run ("[1]", options);
        cr_assert_eq (run->rc, -1);
        cr_assert (strstr (run->error, "setup exited with code 4") && strstr (run->error, "broken"),
                   "%s", run->error);
        exec_test_done (&run);
    }
    char path[400];
    snprintf (path, sizeof path, "%s/tries", exec_test_scratch);
    cr_assert_eq (support_count_lines (path), 2);
}

Test (exec, template_is_hard_linked_into_each_task_dir)
{
    char template_dir[400], path[500];
    snprintf (template_dir, sizeof template_dir, "%s/template", exec_test_scratch);
    cr_assert_eq (mkdir (template_dir, 0755), 0);
    snprintf (path, sizeof path, "%s/sub", template_dir);
    cr_assert_eq (mkdir (path, 0755), 0);
    snprintf (path, sizeof path, "%s/sub/data.txt", template_dir);
    FILE *file = fopen (path, "w");
    fputs ("data\n", file);
    fclose (file);
    snprintf (path, sizeof path, "%s/link", template_dir);
    cr_assert_eq (symlink ("sub/data.txt", path), 0);
    struct stat st;
    snprintf (path, sizeof path, "%s/sub/data.txt", template_dir);
    cr_assert_eq (stat (path, &st), 0);

    char options[600];
    snprintf (options, sizeof options,
        "{\"template\": \"%s\", \"keep_workdir\": true, \"command\": [\"sh\", \"-c\", "
        "\"cat link; stat -c %%i sub/data.txt; echo new > new.txt\"]}", template_dir);
    exec_run_t *run = exec_test_run ("[1]", options);
    cr_assert_ok (run);
    char want[100];
    snprintf (want, sizeof want, "data\n%lu\n", (unsigned long) st.st_ino);
    cr_assert_str_eq (exec_test_str (run, "stdout"), want, "same inode: hard-linked");
    //  Kept, and named in the result.
    const char *kept = exec_test_str (run, "workdir");
    snprintf (path, sizeof path, "%s/new.txt", kept);
    cr_assert_eq (stat (path, &st), 0, "kept work dir has the task's file");
    snprintf (path, sizeof path, "%s/new.txt", template_dir);
    cr_assert_eq (stat (path, &st), -1, "the template does not");
    exec_test_done (&run);
}

Test (exec, workdir_base_is_removed_when_the_workdirs_go)
{
    exec_run_t *run = exec_test_run ("[1]", "{\"workdir\": true, \"keep_workdir\": true, \"command\": [\"pwd\"]}");
    cr_assert_ok (run);
    char dir[512];
    snprintf (dir, sizeof dir, "%s", exec_test_str (run, "stdout"));
    *strchr (dir, '\n') = 0;
    struct stat st;
    cr_assert_eq (stat (dir, &st), 0);
    exec_test_done (&run);
    workdir_destroy (&exec_test_workdirs);
    cr_assert_eq (stat (dir, &st), -1, "kept dirs go too");
    char base[512];
    snprintf (base, sizeof base, "%s", dir);
    *strrchr (base, '/') = 0;
    cr_assert_eq (stat (base, &st), -1, "and the base dir %s", base);
}
