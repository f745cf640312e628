//  support.c -- helpers for black-box tests; see support.h.
#include "support.h"
#include "common/free_port.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

//  drover is secure by default: a daemon or client without keys refuses
//  to start unless --insecure.  The black-box tests run plain unless they
//  give keys (which --insecure never turns off), so the test process sets
//  DROVER_INSECURE=1 (not overwriting) before main, and every child it
//  starts inherits it: support_spawn, direct execs, scripts.
__attribute__ ((constructor)) static void
s_insecure_by_default (void)
{
    setenv ("DROVER_INSECURE", "1", 0);
}

static pid_t
s_spawnv (const char *log_path, char *const argv[], bool secure)
{
    size_t argc = 0;
    while (argv[argc])
        argc++;
    char **full = calloc (argc + 2, sizeof (char *));
    if (!full)
        return -1;
    //  DROVER_TEST_BIN runs the tests against another build of drover
    //  (an older one, to see a new test fail there).
    const char *bin = getenv ("DROVER_TEST_BIN");
    if (!bin || !*bin)
        bin = DROVER_BIN;
    full[0] = (char *) bin;
    for (size_t i = 0; i < argc; i++)
        full[i + 1] = argv[i];
    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid == 0) {
        //  A test that fails an assertion ends its process before its
        //  cleanup: its daemons die with it, not linger (a SIGSTOPped
        //  broker ignored the SIGTERM of a later cleanup for half an hour).
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        if (getppid () != parent)
            _exit (127);
        if (log_path) {
            int fd = open (log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                dup2 (fd, STDOUT_FILENO);
                dup2 (fd, STDERR_FILENO);
                close (fd);
            }
        }
        if (secure)
            unsetenv ("DROVER_INSECURE");
        execv (bin, full);
        _exit (127);
    }
    free (full);
    return pid;
}

pid_t
support_spawnv (const char *log_path, char *const argv[])
{
    return s_spawnv (log_path, argv, false);
}

pid_t
support_spawnv_secure (const char *log_path, char *const argv[])
{
    return s_spawnv (log_path, argv, true);
}

pid_t
support_spawn (const char *log_path, const char *arg, ...)
{
    char *argv[64];
    size_t argc = 0;
    va_list ap;
    va_start (ap, arg);
    for (const char *a = arg; a && argc < 63; a = va_arg (ap, const char *))
        argv[argc++] = (char *) a;
    va_end (ap);
    argv[argc] = NULL;
    return support_spawnv (log_path, argv);
}

bool
support_exited (pid_t pid, int *status_p)
{
    int status = 0;
    pid_t rc = waitpid (pid, &status, WNOHANG);
    if (rc == pid && status_p)
        *status_p = status;
    return rc == pid || (rc < 0 && errno == ECHILD);
}

int
support_stop (pid_t pid, int sig, int timeout_ms)
{
    if (pid <= 0)
        return -1;
    int status = -1;
    kill (pid, sig);
    if (SUPPORT_WAIT (support_exited (pid, &status), timeout_ms))
        return status;
    kill (pid, SIGKILL);
    waitpid (pid, &status, 0);
    return status;
}

//  A port picked free stays free only until someone binds it, and the
//  daemon that will bind it starts later, seconds later on a loaded
//  machine.  Another pick in between (this process's next endpoint, a
//  parallel ctest job, another checkout's suite on the same machine) could
//  get the same port: then one daemon fails to bind, or a test talks to
//  another test's daemon.  So every port handed out is claimed: in this
//  process by a bitmap, across processes by an fcntl lock on byte PORT of
//  a shared file, which the kernel drops when this process exits.
static bool
s_claim (int port)
{
    static uint8_t mine[65536 / 8];
    static int fd = -2;
    if (port <= 0 || port > 65535 || mine[port / 8] & (1u << port % 8))
        return false;
    if (fd == -2)
        fd = open ("/tmp/drover-test-ports.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    struct flock lock = {
        .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = port, .l_len = 1 };
    //  Never closed: closing any descriptor of the file drops our locks.
    if (fd >= 0 && fcntl (fd, F_SETLK, &lock) != 0)
        return false;               //  another process has it
    mine[port / 8] |= (uint8_t) (1u << port % 8);
    return true;
}

int
support_free_port (void)
{
    for (int tries = 0; tries < 1000; tries++) {
        int port = free_port_pick ();
        if (port < 0)
            return -1;
        if (s_claim (port))
            return port;
    }
    return -1;
}

const char *
support_endpoint (void)
{
    static char ring[16][64];
    static int next = 0;
    char *buf = ring[next++ % 16];
    snprintf (buf, 64, "tcp://127.0.0.1:%d", support_free_port ());
    return buf;
}

char *
support_tmpdir (void)
{
    char *dir = strdup ("/tmp/drover-test-XXXXXX");
    if (dir && !mkdtemp (dir)) {
        free (dir);
        return NULL;
    }
    return dir;
}

static void
s_remove_tree (const char *path)
{
    DIR *dir = opendir (path);
    if (dir) {
        struct dirent *entry;
        while ((entry = readdir (dir))) {
            if (!strcmp (entry->d_name, ".") || !strcmp (entry->d_name, ".."))
                continue;
            char child[4096];
            snprintf (child, sizeof child, "%s/%s", path, entry->d_name);
            struct stat st;
            if (lstat (child, &st) == 0 && S_ISDIR (st.st_mode))
                s_remove_tree (child);
            else
                unlink (child);
        }
        closedir (dir);
    }
    rmdir (path);
}

void
support_rmdir (char **dir_p)
{
    if (!dir_p || !*dir_p)
        return;
    s_remove_tree (*dir_p);
    free (*dir_p);
    *dir_p = NULL;
}

int64_t
support_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

size_t
support_count_lines (const char *path)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return 0;
    size_t lines = 0;
    int c;
    while ((c = getc (file)) != EOF)
        if (c == '\n')
            lines++;
    fclose (file);
    return lines;
}

size_t
support_children (pid_t parent, pid_t *pids, size_t max)
{
    size_t count = 0;
    DIR *dir = opendir ("/proc");
    struct dirent *entry;
    while (dir && (entry = readdir (dir)) && count < max) {
        int pid = atoi (entry->d_name);
        if (pid <= 0)
            continue;
        char path[64], text[512];
        snprintf (path, sizeof path, "/proc/%d/stat", pid);
        FILE *file = fopen (path, "r");
        if (!file)
            continue;
        size_t len = fread (text, 1, sizeof text - 1, file);
        fclose (file);
        text[len] = 0;
        char *close = strrchr (text, ')');
        char state;
        int ppid;
        if (close && sscanf (close + 2, "%c %d", &state, &ppid) == 2 && ppid == parent
        &&  state != 'Z')
            pids[count++] = pid;
    }
    if (dir)
        closedir (dir);
    return count;
}

char *
support_slurp (const char *path)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return NULL;
    //  Read to the end, not to the size stat gives: a /proc file says 0.
    size_t size = 0, room = 4096;
    char *text = malloc (room);
    while (text) {
        size += fread (text + size, 1, room - size - 1, file);
        if (size < room - 1)
            break;
        char *more = realloc (text, room *= 2);
        if (!more)
            free (text);
        text = more;
    }
    if (text)
        text[size] = 0;
    fclose (file);
    return text;
}

//  What support_kill_started cleans up; per test process.
static pid_t s_started[16];
static size_t s_started_count;
static char *s_started_dir;

void
support_started (pid_t pid)
{
    if (pid > 0 && s_started_count < sizeof s_started / sizeof s_started[0])
        s_started[s_started_count++] = pid;
}

void
support_started_dir (const char *dir)
{
    free (s_started_dir);
    s_started_dir = dir? strdup (dir): NULL;
}

void
support_kill_started (void)
{
    for (size_t i = 0; i < s_started_count; i++)
        if (waitpid (s_started[i], NULL, WNOHANG) == 0) {
            kill (s_started[i], SIGKILL);
            waitpid (s_started[i], NULL, 0);
        }
    s_started_count = 0;
    support_rmdir (&s_started_dir);
}

//  Each occurrence of text in the file: counted, or the number right
//  after it summed.
static uint64_t
s_scan (const char *path, const char *text, bool sum)
{
    char *all = support_slurp (path);
    uint64_t total = 0;
    for (const char *at = all; at && (at = strstr (at, text)); at += strlen (text))
        total += sum? strtoull (at + strlen (text), NULL, 10): 1;
    free (all);
    return total;
}

size_t
support_count_text (const char *path, const char *text)
{
    return (size_t) s_scan (path, text, false);
}

uint64_t
support_sum_after (const char *path, const char *prefix)
{
    return s_scan (path, prefix, true);
}

//  "2026-12-02T19:57:29.428Z ": what log_write starts every line with.
static bool
s_stamped (const char *line)
{
    const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ ";
    for (size_t i = 0; shape[i]; i++) {
        char c = line[i];
        if (shape[i] == 'd'? c < '0' || c > '9': c != shape[i])
            return false;
    }
    return true;
}

char *
support_unstamped_line (const char *path)
{
    char *all = support_slurp (path);
    char *found = NULL;
    for (char *line = all; line && *line && !found;) {
        char *end = strchr (line, '\n');
        size_t len = end? (size_t) (end - line): strlen (line);
        if (!s_stamped (line))
            found = strndup (line, len);
        line += len + (end != NULL);
    }
    free (all);
    return found;
}

const msgpack_object *
support_map_get (const msgpack_object *map, const char *key)
{
    for (uint32_t i = 0; map->type == MSGPACK_OBJECT_MAP && i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen (key)
        &&  !memcmp (kv->key.via.str.ptr, key, kv->key.via.str.size))
            return &kv->val;
    }
    return NULL;
}
