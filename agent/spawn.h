//  spawn.h -- run one command for the exec handler: its own process group,
//  stdin fed from memory, stdout and stderr captured up to a limit and
//  logged line by line, a timeout that sends SIGTERM to the whole group and
//  SIGKILL after a grace, and the child always reaped.  Blocks the calling
//  (handler) thread in poll () only, never past timeout + grace.
#ifndef DROVER_SPAWN_H
#define DROVER_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *const *argv;          //  argv[0] is looked up in PATH
    char *const *envp;          //  the whole environment; NULL: the agent's
    const char *cwd;            //  NULL: the agent's
    const void *input;          //  stdin bytes; NULL: /dev/null
    size_t input_size;
    int64_t timeout_at;         //  zclock_mono () ms to stop it at; 0 = never
    int64_t kill_grace_ms;      //  SIGTERM to SIGKILL
    int cancel_fd;              //  readable: stop it now (as on timeout); -1 = none
    size_t max_output;          //  bytes kept of stdout, and of stderr
    const char *label;          //  names the task in log lines
} spawn_opts_t;

typedef struct {
    char *data;                 //  what was kept; NUL-terminated; owned
    size_t size;
    size_t dropped;             //  bytes read past max_output
} spawn_stream_t;

typedef struct {
    int exit_code;              //  -1 if it died of a signal
    int signal;                 //  the signal that ended it, or 0
    bool timed_out;             //  stopped at timeout_at
    bool cancelled;             //  stopped by cancel_fd
    int64_t duration_us;
    spawn_stream_t out, err;
} spawn_result_t;

//  Run to the end.  Returns 0 when the command ran (see result, free it
//  with spawn_result_free), or -errno when it could not start (-ENOENT:
//  no such program), with result zeroed.
int  spawn_run (const spawn_opts_t *opts, spawn_result_t *result);
void spawn_result_free (spawn_result_t *result);

#endif
