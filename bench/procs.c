//  procs.c -- see procs.h.
#include "bench/procs.h"
#include "common/free_port.h"
#include "common/sched_policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROCS_MAX 8

struct procs {
    char dir[PATH_MAX];
    pid_t pids[PROCS_MAX];
    char names[PROCS_MAX][32];
    int count;
};

static const char *s_scheduling;   //  procs_set_scheduling's, for every child

void
procs_set_scheduling (const char *name)
{
    s_scheduling = name;
}

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

procs_t *
procs_new (const char *dir)
{
    procs_t *self = calloc (1, sizeof *self);
    if (self)
        snprintf (self->dir, sizeof self->dir, "%s", dir);
    return self;
}

void
procs_destroy (procs_t **self_p)
{
    if (!*self_p)
        return;
    procs_stop (*self_p, 5000);
    free (*self_p);
    *self_p = NULL;
}

pid_t
procs_start (procs_t *self, const char *name, char *const argv[])
{
    return procs_start_env (self, name, argv, NULL);
}

pid_t
procs_start_env (procs_t *self, const char *name, char *const argv[], char *const env[])
{
    if (self->count == PROCS_MAX)
        return -1;
    char log[PATH_MAX + 64];
    snprintf (log, sizeof log, "%s/%s.log", self->dir, name);
    pid_t parent = getpid ();
    fflush (NULL);                  //  or the child inherits unwritten output
    pid_t pid = fork ();
    if (pid == 0) {
        //  SIGKILL, not SIGTERM: a benchmark that died cannot drain anything.
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        if (getppid () != parent)
            _exit (1);
        int fd = open (log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) {
            dup2 (fd, STDOUT_FILENO);
            dup2 (fd, STDERR_FILENO);
        }
        int null = open ("/dev/null", O_RDONLY);
        if (null >= 0)
            dup2 (null, STDIN_FILENO);
        signal (SIGINT, SIG_DFL);
        signal (SIGTERM, SIG_DFL);
        sigset_t none;
        sigemptyset (&none);
        sigprocmask (SIG_SETMASK, &none, NULL);
        for (int i = 0; env && env[i]; i++)
            putenv (env[i]);
        if (s_scheduling && sched_policy_set (s_scheduling))
            fprintf (stderr, "bench: cannot set the scheduling policy %s: %s\n", s_scheduling,
                     strerror (errno));
        execv (argv[0], argv);
        fprintf (stderr, "cannot run %s: %s\n", argv[0], strerror (errno));
        _exit (127);
    }
    if (pid < 0)
        return -1;
    self->pids[self->count] = pid;
    snprintf (self->names[self->count], sizeof self->names[0], "%s", name);
    self->count++;
    return pid;
}

bool
procs_alive (procs_t *self)
{
    for (int i = 0; i < self->count; i++) {
        int status;
        if (self->pids[i] > 0 && waitpid (self->pids[i], &status, WNOHANG) == self->pids[i]) {
            fprintf (stderr, "bench: %s exited early (%s %d); see %s/%s.log\n",
                     self->names[i], WIFSIGNALED (status)? "signal": "status",
                     WIFSIGNALED (status)? WTERMSIG (status): WEXITSTATUS (status),
                     self->dir, self->names[i]);
            self->pids[i] = 0;
            return false;
        }
    }
    return true;
}

void
procs_stop (procs_t *self, int grace_ms)
{
    for (int i = self->count - 1; i >= 0; i--)
        if (self->pids[i] > 0)
            kill (self->pids[i], SIGTERM);
    int64_t deadline = s_now_ms () + grace_ms;
    for (int i = self->count - 1; i >= 0; i--) {
        pid_t pid = self->pids[i];
        while (pid > 0 && waitpid (pid, NULL, WNOHANG) == 0) {
            if (s_now_ms () > deadline) {
                fprintf (stderr, "bench: %s did not stop in %d ms; killed\n",
                         self->names[i], grace_ms);
                kill (pid, SIGKILL);
                waitpid (pid, NULL, 0);
                break;
            }
            usleep (5000);
        }
        self->pids[i] = 0;
    }
    self->count = 0;
}

//  Wait for pid up to timeout_ms; true once it exited (reaped, with usage).
//  A pidfd wakes us the moment it exits, so the time taken is exact.
static bool
s_wait_exit (pid_t pid, int timeout_ms, int *status, struct rusage *usage)
{
    int pidfd = (int) syscall (SYS_pidfd_open, pid, 0);
    int64_t deadline = s_now_ms () + timeout_ms;
    while (wait4 (pid, status, WNOHANG, usage) == 0) {
        int64_t left = deadline - s_now_ms ();
        if (left <= 0) {
            if (pidfd >= 0)
                close (pidfd);
            return false;
        }
        struct pollfd item = { .fd = pidfd, .events = POLLIN };
        if (pidfd < 0 || poll (&item, 1, (int) left) < 0)
            usleep (1000);
    }
    if (pidfd >= 0)
        close (pidfd);
    return true;
}

int
procs_run (const char *dir, const char *name, char *const argv[], int timeout_ms,
           uint64_t *elapsed_us, struct rusage *usage)
{
    procs_t *procs = procs_new (dir);
    if (!procs)
        return -1;
    struct timespec start, end;
    clock_gettime (CLOCK_MONOTONIC, &start);
    pid_t pid = procs_start (procs, name, argv);
    int status = 0;
    bool exited = pid > 0 && s_wait_exit (pid, timeout_ms, &status, usage);
    clock_gettime (CLOCK_MONOTONIC, &end);
    if (elapsed_us)
        *elapsed_us = (uint64_t) ((end.tv_sec - start.tv_sec) * 1000000
                                + (end.tv_nsec - start.tv_nsec) / 1000);
    if (exited)
        procs->count = 0;           //  reaped: nothing to stop
    else
    if (pid > 0)
        fprintf (stderr, "bench: %s took over %d ms; killed\n", name, timeout_ms);
    procs_destroy (&procs);
    return exited && WIFEXITED (status)? WEXITSTATUS (status): -1;
}

int
procs_free_port (void)
{
    return free_port_pick ();
}

bool
procs_wait_port (int port, int timeout_ms)
{
    int64_t deadline = s_now_ms () + timeout_ms;
    while (s_now_ms () < deadline) {
        int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return false;
        struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
        addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
        int rc = connect (fd, (struct sockaddr *) &addr, sizeof addr);
        close (fd);
        if (rc == 0)
            return true;
        usleep (10000);
    }
    return false;
}
