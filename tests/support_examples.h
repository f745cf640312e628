//  support_examples.h -- what the tests of the example producers share
//  (test_examples.c: Python, test_examples_node.c: Node): a broker with
//  CURVE on fresh loopback ports (with an agent and a sink when asked), a
//  program run with its output kept, STATUS over the test's own socket.
#ifndef DROVER_TEST_SUPPORT_EXAMPLES_H
#define DROVER_TEST_SUPPORT_EXAMPLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/keys.h"
#include "proto/msg.h"

#define PYTHON          "/usr/bin/python3"
#define PRODUCER        DROVER_SOURCE_DIR "/examples/producer.py"
#define PUSH_PRODUCER   DROVER_SOURCE_DIR "/examples/push_producer.py"
#define NODE_DIR        DROVER_SOURCE_DIR "/examples/node"
#define NODE_PRODUCER   NODE_DIR "/producer.mjs"
#define NODE_STATUS     NODE_DIR "/status.mjs"
#define RUN_TIMEOUT_MS  60000
#define NPM_TIMEOUT_MS  300000

//  A broker on fresh loopback ports, with CURVE: keys/ holds the
//  certificates of the broker, the sink, a producer and an agent (each
//  NAME and NAME_secret), allow/ the allow-lists (public files only).
typedef struct {
    char *dir;
    char frontend[64], intake[64], backend[64], sink[64];
    char broker_cert[512], sink_cert[512], producer_cert[512], agent_cert[512];
    keys_t *broker_keys, *producer_keys;    //  for the test's own STATUS
    pid_t broker, agent, sink_pid;
} site_t;

typedef struct {
    int status;             //  wait status
    char *out, *err;        //  what the program printed
} run_t;

//  Run argv (argv[0] a path) in cwd (NULL: ours), stdin from input (a path
//  or NULL for /dev/null), output kept in dir; returns exit status and
//  output.  The child runs without DROVER_INSECURE, so that plain text is
//  only what a test asks for.  Never hangs: still running after
//  timeout_ms fails the test.
run_t   examples_runv (const char *cwd, const char *dir, const char *input,
                       char *const argv[], int timeout_ms);
//  Run program (an interpreter) with args, NULL-terminated.
run_t   examples_run (const char *dir, const char *input, const char *program,
                      const char *arg, ...);
void    examples_run_free (run_t *run);
//  The program exited (not killed) with code.
bool    examples_exited_with (const run_t *run, int code);
size_t  examples_count_lines (const char *text);
void    examples_write_file (const char *path, const char *text);
//  examples/node's packages, as package-lock.json pins them, from the
//  registry: `npm ci` unless node_modules is already newer than the lock.
void    examples_require_node_modules (const char *dir);
//  /usr/bin/python3 imports zmq and msgpack, else the test fails (not
//  skips): the examples are part of what we ship.
void    examples_require_python_modules (const char *dir);

//  with_workers adds one agent and a sink, both with CURVE and the agent's
//  results sealed for the sink (jobs carry the sink's key).
void    examples_site_start (site_t *site, bool with_workers);
void    examples_site_stop (site_t *site);
//  Where the site's daemon name ("broker", "sink", "agent") logs.
void    examples_log_path (const site_t *site, const char *name, char *path, size_t size);
//  Ask the broker for a job's counters over a fresh CURVE REQ socket (a
//  REQ that lost a reply cannot send again).  Returns the reply (JOB or
//  ERROR) or NULL if none came within timeout_ms.
msg_t  *examples_status (const site_t *site, const char *job, int timeout_ms);
//  True when STATUS says job has submitted tuples and is in state.
bool    examples_job_is (const site_t *site, const char *job, uint64_t submitted,
                         const char *state);
//  The sink stored each of tuples 1..count of job exactly once.
void    examples_expect_stored_once (const site_t *site, const char *job, int count);

//  The flags every producer run against the site takes: our keypair and
//  the broker's key (CURVE), and the sink's key (sealed results).
#define CURVE_ARGS(site) "--cert", (site).producer_cert, "--broker-key", (site).broker_cert, \
                         "--sink-key", (site).sink_cert

#endif
