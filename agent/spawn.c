//  spawn.c -- one command in its own process group; see spawn.h.
//  posix_spawn (vfork-like in glibc: no page-table copy of a big agent),
//  pipes made close-on-exec and every other fd closed in the child, and a
//  pidfd so that one poll () watches the child's exit, its output, stdin,
//  the cancel fd and the timeout together.
#include "agent/spawn.h"
#include "common/log.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define DRAIN_MS        500     //  after exit: output still owed by escaped processes
#define CHUNK           65536   //  bytes per read
#define POLL_FALLBACK   10      //  ms between exit checks without a pidfd
#define UNKILLABLE_MS   5000    //  after SIGKILL: give up waiting (D state)

typedef struct {
    int fd;
    spawn_stream_t *stream;
    size_t alloc;
    size_t logged;              //  bytes of stream->data already logged
    const char *name;
} reader_t;

static int64_t
s_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

//  Log the complete lines not logged yet; all of it if flush.
static void
s_log_lines (reader_t *self, const char *label, bool flush)
{
    spawn_stream_t *stream = self->stream;
    while (self->logged < stream->size) {
        const char *start = stream->data + self->logged;
        size_t left = stream->size - self->logged;
        const char *eol = memchr (start, '\n', left);
        if (!eol && !flush)
            break;
        size_t len = eol? (size_t) (eol - start): left;
        log_debug ("%s %s: %.*s", label, self->name, (int) len, start);
        self->logged += eol? len + 1: len;
    }
}

//  One read after poll said so.  Returns 0, or -1 at end of file.
static int
s_read (reader_t *self, size_t max, const char *label)
{
    spawn_stream_t *stream = self->stream;
    size_t room = max > stream->size? max - stream->size: 0;
    room = room > CHUNK? CHUNK: room;
    if (room && stream->size + room + 1 > self->alloc) {
        size_t alloc = self->alloc? self->alloc * 2: 4096;
        while (alloc < stream->size + room + 1)
            alloc *= 2;
        char *data = realloc (stream->data, alloc);
        if (!data)
            room = 0;           //  out of memory: count as dropped
        else {
            stream->data = data;
            self->alloc = alloc;
        }
    }
    char scratch[CHUNK];
    char *into = room? stream->data + stream->size: scratch;
    ssize_t got = read (self->fd, into, room? room: CHUNK);
    if (got < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (got <= 0)
        return -1;
    if (!room) {
        stream->dropped += (size_t) got;
        return 0;
    }
    stream->size += (size_t) got;
    stream->data[stream->size] = 0;
    s_log_lines (self, label, false);
    return 0;
}

static void
s_close (int *fd)
{
    if (*fd >= 0)
        close (*fd);
    *fd = -1;
}

//  Set up the child: own process group, fds 0-2, nothing else open,
//  default signal dispositions and an empty mask.
static int
s_spawn (const spawn_opts_t *opts, pid_t *pid, int in, int out, int err)
{
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init (&actions);
    posix_spawnattr_init (&attr);
    if (in >= 0)
        posix_spawn_file_actions_adddup2 (&actions, in, 0);
    else
        posix_spawn_file_actions_addopen (&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2 (&actions, out, 1);
    posix_spawn_file_actions_adddup2 (&actions, err, 2);
#if __GLIBC_PREREQ (2, 34)
    posix_spawn_file_actions_addclosefrom_np (&actions, 3);
#endif
    if (opts->cwd)
        posix_spawn_file_actions_addchdir_np (&actions, opts->cwd);
    sigset_t none, all;
    sigemptyset (&none);
    sigfillset (&all);
    posix_spawnattr_setflags (&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK
                                   | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup (&attr, 0);
    posix_spawnattr_setsigmask (&attr, &none);
    posix_spawnattr_setsigdefault (&attr, &all);
    int rc = posix_spawnp (pid, opts->argv[0], &actions, &attr, opts->argv,
                           opts->envp? opts->envp: environ);
    posix_spawn_file_actions_destroy (&actions);
    posix_spawnattr_destroy (&attr);
    return rc;
}

//  State of one run while its loop goes.
typedef struct {
    const spawn_opts_t *opts;
    spawn_result_t *result;
    pid_t pid;
    int pidfd;
    int in;                     //  our end of stdin, -1 once done
    size_t written;
    bool epipe;
    reader_t readers[2];
    bool exited, term_sent, kill_sent;
    int64_t kill_at, drain_until;
    int status;
} run_t;

static void
s_stop (run_t *self, int64_t now)
{
    if (self->term_sent)
        return;
    kill (-self->pid, SIGTERM);
    self->term_sent = true;
    self->kill_at = now + self->opts->kill_grace_ms;
}

static void
s_feed (run_t *self)
{
    const char *input = self->opts->input;
    size_t left = self->opts->input_size - self->written;
    ssize_t put = left? write (self->in, input + self->written, left): 0;
    if (put < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (put < 0 && errno == EPIPE)
        self->epipe = true;     //  the command did not read it all: its business
    if (put > 0)
        self->written += (size_t) put;
    if (put <= 0 || self->written == self->opts->input_size)
        s_close (&self->in);
}

static void
s_mark_exited (run_t *self)
{
    self->exited = true;
    self->result->duration_us = s_now_us () - self->result->duration_us;
    self->drain_until = zclock_mono () + DRAIN_MS;
    s_close (&self->in);
}

//  If the child has exited: kill what it left in its group, reap it.
static void
s_check_exit (run_t *self)
{
    siginfo_t info = { 0 };
    int rc = waitid (P_PID, (id_t) self->pid, &info, WEXITED | WNOHANG | WNOWAIT);
    if (rc != 0 && errno == ECHILD) {
        //  Reaped behind our back (SIGCHLD ignored, or a waitpid (-1)):
        //  it is gone, its status unknown.
        log_warn ("%s pid %d was reaped elsewhere; exit status unknown",
                  self->opts->label, (int) self->pid);
        self->status = W_EXITCODE (255, 0);
        s_mark_exited (self);
        return;
    }
    if (rc != 0 || info.si_pid != self->pid)
        return;
    //  Not reaped yet, so its pid (the group's id) cannot be reused: safe.
    kill (-self->pid, SIGKILL);
    while (waitpid (self->pid, &self->status, 0) < 0 && errno == EINTR)
        ;
    s_mark_exited (self);
}

//  When poll should wake up next (zclock_mono ms), or -1: only on input.
static int64_t
s_wake_at (const run_t *self, int64_t now)
{
    if (self->exited)
        return self->drain_until;
    int64_t wake = -1;
    if (self->kill_sent)
        wake = self->kill_at + UNKILLABLE_MS;
    else
    if (self->term_sent)
        wake = self->kill_at;
    else
    if (self->opts->timeout_at)
        wake = self->opts->timeout_at;
    if (self->pidfd < 0 && (wake < 0 || wake > now + POLL_FALLBACK))
        wake = now + POLL_FALLBACK;
    return wake;
}

//  One turn of the loop.  Returns false when the run is over.
static bool
s_turn (run_t *self)
{
    const spawn_opts_t *opts = self->opts;
    int64_t now = zclock_mono ();
    if (!self->exited) {
        if (!self->term_sent && opts->timeout_at && now >= opts->timeout_at) {
            self->result->timed_out = true;
            s_stop (self, now);
        }
        if (self->term_sent && !self->kill_sent && now >= self->kill_at) {
            kill (-self->pid, SIGKILL);
            self->kill_sent = true;
        }
        if (self->kill_sent && now >= self->kill_at + UNKILLABLE_MS) {
            log_error ("%s pid %d survives SIGKILL; left unreaped", opts->label, (int) self->pid);
            return false;
        }
    }
    if (self->exited && ((self->readers[0].fd < 0 && self->readers[1].fd < 0)
                      || now >= self->drain_until))
        return false;
    struct pollfd items[5] = {
        { .fd = self->exited || self->term_sent? -1: opts->cancel_fd, .events = POLLIN },
        { .fd = self->exited? -1: self->pidfd, .events = POLLIN },
        { .fd = self->readers[0].fd, .events = POLLIN },
        { .fd = self->readers[1].fd, .events = POLLIN },
        { .fd = self->in, .events = POLLOUT },
    };
    int64_t wake = s_wake_at (self, now);
    int64_t wait = wake < 0? -1: wake - now;
    wait = wait > INT_MAX? INT_MAX: wait < -1? 0: wait;
    int ready = poll (items, 5, (int) wait);
    if (ready < 0 && errno != EINTR) {
        log_error ("%s poll failed: %s", opts->label, strerror (errno));
        kill (-self->pid, SIGKILL);
        self->kill_sent = self->term_sent = true;
        self->kill_at = zclock_mono ();
        return true;
    }
    if (ready <= 0) {
        if (self->pidfd < 0 && !self->exited)
            s_check_exit (self);
        return true;
    }
    if (items[0].revents) {
        self->result->cancelled = true;
        s_stop (self, zclock_mono ());
    }
    for (int i = 0; i < 2; i++)
        if (items[2 + i].revents
        &&  s_read (&self->readers[i], opts->max_output, opts->label))
            s_close (&self->readers[i].fd);
    if (items[4].revents)
        s_feed (self);
    if (!self->exited && (items[1].revents || self->pidfd < 0))
        s_check_exit (self);
    return true;
}

int
spawn_run (const spawn_opts_t *opts, spawn_result_t *result)
{
    memset (result, 0, sizeof *result);
    result->exit_code = -1;
    int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
    if ((opts->input && pipe2 (in, O_CLOEXEC)) || pipe2 (out, O_CLOEXEC) || pipe2 (err, O_CLOEXEC)) {
        int rc = -errno;
        for (int i = 0; i < 2; i++) {
            s_close (&in[i]);
            s_close (&out[i]);
            s_close (&err[i]);
        }
        return rc;
    }
    if (in[1] >= 0)
        fcntl (in[1], F_SETFL, O_NONBLOCK);
    //  A command that exits without reading stdin must not SIGPIPE the
    //  agent: block it on this thread, and take a pending one back at the end.
    sigset_t pipe_set, saved;
    sigemptyset (&pipe_set);
    sigaddset (&pipe_set, SIGPIPE);
    pthread_sigmask (SIG_BLOCK, &pipe_set, &saved);

    run_t self = { .opts = opts, .result = result, .pidfd = -1, .in = in[1],
                   .readers = { { .fd = out[0], .stream = &result->out, .name = "stdout" },
                                { .fd = err[0], .stream = &result->err, .name = "stderr" } } };
    result->duration_us = s_now_us ();
    int rc = s_spawn (opts, &self.pid, in[0], out[1], err[1]);
    s_close (&in[0]);
    s_close (&out[1]);
    s_close (&err[1]);
    if (rc == 0) {
        self.pidfd = (int) syscall (SYS_pidfd_open, self.pid, 0);
        while (s_turn (&self))
            ;
    }
    s_close (&self.in);
    s_close (&self.readers[0].fd);
    s_close (&self.readers[1].fd);
    s_close (&self.pidfd);
    if (self.epipe) {
        struct timespec zero = { 0, 0 };
        sigtimedwait (&pipe_set, NULL, &zero);
    }
    pthread_sigmask (SIG_SETMASK, &saved, NULL);
    if (rc) {
        memset (result, 0, sizeof *result);
        result->exit_code = -1;
        return -rc;
    }
    s_log_lines (&self.readers[0], opts->label, true);
    s_log_lines (&self.readers[1], opts->label, true);
    if (!self.exited) {
        result->signal = SIGKILL;
        result->duration_us = s_now_us () - result->duration_us;
    }
    else
    if (WIFEXITED (self.status))
        result->exit_code = WEXITSTATUS (self.status);
    else
    if (WIFSIGNALED (self.status))
        result->signal = WTERMSIG (self.status);
    return 0;
}

void
spawn_result_free (spawn_result_t *result)
{
    free (result->out.data);
    free (result->err.data);
    memset (result, 0, sizeof *result);
}
