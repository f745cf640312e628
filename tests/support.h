//  support.h -- what black-box tests share: real drover processes, free
//  loopback ports, scratch directories, and waiting on a condition with a
//  deadline (tests never sleep a fixed time and hope).
#ifndef DROVER_TEST_SUPPORT_H
#define DROVER_TEST_SUPPORT_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

//  Start `drover ARGS...` (NULL-terminated), stdout and stderr appended to
//  log_path (or inherited if NULL).  Returns the pid, or -1.  The binary is
//  the build's own, or $DROVER_TEST_BIN (a test run against another build).
pid_t   support_spawn (const char *log_path, const char *arg, ...)
    __attribute__ ((sentinel));
//  Start `drover` with argv (argv[0] is the subcommand), NULL-terminated.
//  Every child of a test inherits DROVER_INSECURE=1 (set before main
//  unless the environment has it), so roles without keys run plain.
pid_t   support_spawnv (const char *log_path, char *const argv[]);
//  The same without DROVER_INSECURE: secure by default, as users run it.
pid_t   support_spawnv_secure (const char *log_path, char *const argv[]);
//  Send sig, wait up to timeout_ms, then SIGKILL.  Returns the wait status.
int     support_stop (pid_t pid, int sig, int timeout_ms);
//  True if pid has exited (reaps it); its wait status in *status_p.
bool    support_exited (pid_t pid, int *status_p);
//  A TCP port on 127.0.0.1 that was free a moment ago, claimed until this
//  process exits: no other pick (here, or in another test process on the
//  machine) gets it before the daemon it is for binds it.
int     support_free_port (void);
//  "tcp://127.0.0.1:PORT" with a fresh free port, in a static ring of buffers.
const char *support_endpoint (void);
//  A new empty directory under /tmp; support_rmdir removes it recursively.
char   *support_tmpdir (void);
void    support_rmdir (char **dir_p);
int64_t support_now_ms (void);
//  The live (not zombie) children of parent, up to max, from /proc/*/stat.
size_t  support_children (pid_t parent, pid_t *pids, size_t max);
//  Number of lines in a file (0 if missing).
size_t  support_count_lines (const char *path);
//  Whole file as a NUL-terminated string (caller frees), or NULL.  Read to
//  its end, so /proc files (whose size says 0) come whole too.
char   *support_slurp (const char *path);
//  How many times text occurs in the file.
size_t  support_count_text (const char *path, const char *text);
//  The value of key in a msgpack map (a record of the sink's output, read
//  back), or NULL: not a map, or no such string key.
const msgpack_object *support_map_get (const msgpack_object *map, const char *key);
//  The first line of a log file that does not start with the timestamp
//  every log line starts with (caller frees), or NULL: a line a peer
//  forged, or that something wrote past the log.
char   *support_unstamped_line (const char *path);
//  The sum of the numbers right after each occurrence of prefix in the
//  file ("frontend refused: " -> the N of "... : N more lines not logged").
uint64_t support_sum_after (const char *path, const char *prefix);

//  A test's processes and directory, for a suite's .fini to clean up with
//  support_kill_started: an assertion that ends a test skips its own
//  cleanup, and the daemons it started would run on after it.
void    support_started (pid_t pid);
void    support_started_dir (const char *dir);
//  SIGKILL and reap the processes named that are still running (only
//  children not yet reaped: a reaped pid may be another's by now), and
//  remove the directory.
void    support_kill_started (void);

//  Poll cond every few ms until true or timeout_ms passed; true if it held.
#define SUPPORT_WAIT(cond, timeout_ms) ({                                  \
    int64_t deadline__ = support_now_ms () + (timeout_ms);                 \
    bool ok__ = false;                                                     \
    while (!(ok__ = (cond)) && support_now_ms () < deadline__)             \
        usleep (5000);                                                     \
    ok__; })

#endif
