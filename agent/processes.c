//  processes.c -- worker processes' life cycle; see processes.h.  Started
//  by fork and exec (a fresh process: ZeroMQ contexts do not survive fork),
//  with PR_SET_PDEATHSIG set between the two so that each dies with us.
#include "agent/processes.h"
#include "common/log.h"

#include <czmq.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define REAP_EVERY_MS   500         //  look for dead workers even without SIGCHLD

typedef struct {
    uint32_t generation;        //  counts starts; part of the identity
    pid_t pid;                  //  0 while waiting to be started
    int64_t started;
    int64_t restart_at;
    int64_t backoff_ms;
    char identity[32];
} slot_t;

//  Set by SIGCHLD; the reactor reaps.
static volatile sig_atomic_t s_child_exited;

struct processes {
    size_t count;
    char threads[24];
    char exe[PATH_MAX];
    char endpoint[PATH_MAX + 16];
    char log_level[16];
    processes_died_fn *on_died;
    void *arg;
    slot_t *slots;
    pid_t *pids;
    int64_t next_reap;
};

static void
s_on_sigchld (int sig)
{
    (void) sig;
    s_child_exited = 1;
}

static void
s_spawn (processes_t *self, size_t index, int64_t now)
{
    slot_t *slot = &self->slots[index];
    slot->generation++;
    snprintf (slot->identity, sizeof slot->identity, "w%zu.%u", index, slot->generation);
    char parent[24];
    pid_t me = getpid ();
    snprintf (parent, sizeof parent, "%d", (int) me);
    char *argv[] = { self->exe, "agent", "--worker", self->endpoint, "--worker-id", slot->identity,
                     "--worker-parent", parent, "--threads", self->threads,
                     "--log-level", self->log_level, NULL };
    pid_t pid = fork ();
    if (pid == 0) {
        //  Only async-signal-safe calls until exec: we are a copy of a
        //  threaded process.
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        if (getppid () != me)
            _exit (1);
        sigset_t none;
        sigemptyset (&none);
        sigprocmask (SIG_SETMASK, &none, NULL);
        execv (self->exe, argv);
        _exit (127);
    }
    if (pid < 0) {
        log_error ("cannot start worker %zu: %s; trying again in %lld ms", index,
                   strerror (errno), (long long) slot->backoff_ms);
        slot->restart_at = now + slot->backoff_ms;
        return;
    }
    slot->pid = pid;
    slot->started = now;
    self->pids[index] = pid;
    log_info ("worker %zu started (pid %d, %s handler threads)", index, (int) pid, self->threads);
}

processes_t *
processes_new (const processes_config_t *config)
{
    processes_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->count = config->count;
    snprintf (self->threads, sizeof self->threads, "%zu", config->threads);
    snprintf (self->endpoint, sizeof self->endpoint, "%s", config->endpoint);
    snprintf (self->log_level, sizeof self->log_level, "%s",
              config->log_level? config->log_level: "info");
    if (config->exe)
        snprintf (self->exe, sizeof self->exe, "%s", config->exe);
    else {
        ssize_t len = readlink ("/proc/self/exe", self->exe, sizeof self->exe - 1);
        self->exe[len > 0? len: 0] = 0;
    }
    self->on_died = config->on_died;
    self->arg = config->arg;
    self->slots = calloc (self->count, sizeof *self->slots);
    self->pids = calloc (self->count, sizeof *self->pids);
    if (!self->exe[0] || !self->slots || !self->pids) {
        log_error ("cannot start %zu worker processes: %s", self->count,
                   self->exe[0]? "out of memory": "cannot find this binary");
        processes_destroy (&self, 0);
        return NULL;
    }
    struct sigaction action = { .sa_handler = s_on_sigchld, .sa_flags = SA_RESTART | SA_NOCLDSTOP };
    sigemptyset (&action.sa_mask);
    sigaction (SIGCHLD, &action, NULL);
    int64_t now = zclock_mono ();
    self->next_reap = now + REAP_EVERY_MS;
    for (size_t i = 0; i < self->count; i++) {
        self->slots[i].backoff_ms = PROCESSES_RESTART_MIN_MS;
        s_spawn (self, i, now);
    }
    return self;
}

void
processes_destroy (processes_t **self_p, int wait_ms)
{
    processes_t *self = *self_p;
    if (!self)
        return;
    int64_t until = zclock_mono () + wait_ms;
    while (self->slots) {
        size_t alive = 0;
        for (size_t i = 0; i < self->count; i++) {
            slot_t *slot = &self->slots[i];
            if (slot->pid <= 0)
                continue;
            pid_t rc = waitpid (slot->pid, NULL, WNOHANG);
            if (rc == slot->pid || (rc < 0 && errno == ECHILD))
                slot->pid = 0;
            else
            if (zclock_mono () >= until) {
                log_warn ("worker %zu (pid %d) did not quit in %d ms: killing it", i,
                          (int) slot->pid, wait_ms);
                kill (slot->pid, SIGKILL);
                waitpid (slot->pid, NULL, 0);
                slot->pid = 0;
            }
            else
                alive++;
        }
        if (!alive)
            break;
        zclock_sleep (5);
    }
    free (self->slots);
    free (self->pids);
    free (self);
    *self_p = NULL;
}

static void
s_died (processes_t *self, size_t index, int status, int64_t now)
{
    slot_t *slot = &self->slots[index];
    if (now - slot->started >= PROCESSES_HEALTHY_MS)
        slot->backoff_ms = PROCESSES_RESTART_MIN_MS;
    processes_death_t death = { .slot = index, .pid = slot->pid, .status = status,
                                .age_ms = now - slot->started, .restart_ms = slot->backoff_ms };
    slot->pid = 0;
    self->pids[index] = 0;
    slot->restart_at = now + slot->backoff_ms;
    slot->backoff_ms = slot->backoff_ms * 2 < PROCESSES_RESTART_MAX_MS
                     ? slot->backoff_ms * 2: PROCESSES_RESTART_MAX_MS;
    self->on_died (self->arg, &death);
}

void
processes_work (processes_t *self, int64_t now)
{
    if (s_child_exited || now >= self->next_reap) {
        s_child_exited = 0;
        self->next_reap = now + REAP_EVERY_MS;
        for (size_t i = 0; i < self->count; i++) {
            pid_t pid = self->slots[i].pid;
            int status = 0;
            pid_t rc = pid > 0? waitpid (pid, &status, WNOHANG): 0;
            if (pid > 0 && (rc == pid || (rc < 0 && errno == ECHILD)))
                s_died (self, i, status, now);
        }
    }
    for (size_t i = 0; i < self->count; i++)
        if (self->slots[i].pid == 0 && now >= self->slots[i].restart_at)
            s_spawn (self, i, now);
}

int64_t
processes_next_timer (processes_t *self)
{
    int64_t next = s_child_exited? 0: self->next_reap;
    for (size_t i = 0; i < self->count; i++)
        if (self->slots[i].pid == 0 && self->slots[i].restart_at < next)
            next = self->slots[i].restart_at;
    return next;
}

ssize_t
processes_find (processes_t *self, const void *identity, size_t size)
{
    char text[32];
    if (size == 0 || size >= sizeof text)
        return -1;
    memcpy (text, identity, size);
    text[size] = 0;
    size_t index;
    unsigned generation;
    if (sscanf (text, "w%zu.%u", &index, &generation) != 2 || index >= self->count)
        return -1;
    const slot_t *slot = &self->slots[index];
    return slot->pid > 0 && slot->generation == generation? (ssize_t) index: -1;
}

const char *
processes_identity (processes_t *self, size_t slot)
{
    return self->slots[slot].pid > 0? self->slots[slot].identity: NULL;
}

void
processes_kill (processes_t *self, size_t slot)
{
    if (self->slots[slot].pid > 0)
        kill (self->slots[slot].pid, SIGKILL);
}

const pid_t *
processes_pids (processes_t *self, size_t *count_p)
{
    *count_p = self->count;
    return self->pids;
}
