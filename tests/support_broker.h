//  support_broker.h -- what the broker's black-box tests (test_broker_*.c)
//  share: one real `drover broker` per test (tb_: the test's broker), on
//  fresh loopback ports and its own data dir, stopped by the suite's .fini
//  even when a test fails; sockets that speak protocol v1 to it as
//  producers (REQ, DEALER, PUSH) and as agents (DEALER); and expectations
//  on what it answers.  Every wait has a timeout.
#ifndef DROVER_TEST_SUPPORT_BROKER_H
#define DROVER_TEST_SUPPORT_BROKER_H

#include "support.h"

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/msg.h"
#include "proto/wire.h"

#define TB_SINK "tcp://127.0.0.1:5558"  //  never dialled: no agent here runs

//  Start a broker on fresh ports with extra flags (NULL-terminated), and
//  wait until it answers.  Each start gets its own data dir;
//  DROVER_TEST_STORE=memory runs the tests on the memory store (the
//  default here is lmdb, as in drover).
void        tb_start (const char *flag, ...);
//  The frontend the next tb_start binds (first of a list in --frontend).
void        tb_use_frontend (const char *endpoint);
//  kill -9 the broker and start it again on the same data dir and ports.
void        tb_crash_and_restart (void);
//  Close the sockets, stop the broker (it must exit 0 on SIGTERM and log
//  its counters), remove its directory.  The suites' .fini.
void        tb_fini (void);

const char *tb_frontend (void);
const char *tb_intake (void);
const char *tb_backend (void);
pid_t       tb_pid (void);
const char *tb_log_path (void);
bool        tb_log_has (const char *text);

//  A socket of type connected to endpoint; closed by tb_fini.
zsock_t    *tb_socket (int type, const char *endpoint);
//  One message, or NULL if none came within timeout_ms.
msg_t      *tb_recv (zsock_t *sock, int timeout_ms);
void        tb_send (zsock_t *sock, msg_t *msg);
//  Raw multipart messages, for what the codec would never build.
void        tb_send_raw (zsock_t *sock, const char *frames[], const size_t sizes[],
                         size_t count);

//  ---------------------------------------------------------------------
//  Producers

//  A tuple that says which it is: msgpack ["t", n].
zframe_t   *tb_tuple (uint32_t n);
//  A tuple of size bytes in all (at least 5): a msgpack bin.
zframe_t   *tb_bin (size_t size);
//  True if msg's tuple index is tb_tuple (n).
bool        tb_tuple_is (msg_t *msg, size_t index, uint32_t n);
//  SUBMIT count tuples numbered from tag; handler (with sink TB_SINK) and
//  batch may be NULL.
msg_t      *tb_submit_msg (const char *job, const char *handler, const char *batch,
                           uint32_t tag, size_t count, bool close);
//  Submit count tuples (ids 1..count) to a new job, tagging tuple i as i.
void        tb_fill (zsock_t *req, const char *job, size_t count);
//  Expect ACCEPTED with first/count (and batch if given).
void        tb_expect_accepted (zsock_t *sock, uint64_t first, uint64_t count,
                                const char *batch);
//  Expect ERROR code; returns the message for more checks (caller frees).
//  HEARTBEATs an agent socket may get meanwhile are skipped.
msg_t      *tb_expect_error (zsock_t *sock, int code);
void        tb_refused (zsock_t *sock, int code);

//  STATUS of job: the reply (caller frees).
msg_t      *tb_status (zsock_t *req, const char *job);
typedef struct {
    const char *state;
    uint64_t submitted, queued, running, done, failed;
} tb_counts_t;
//  True if STATUS says exactly that (logs what it said otherwise).
bool        tb_status_is (zsock_t *req, const char *job, tb_counts_t want);
uint64_t    tb_status_field (zsock_t *req, const char *job, msg_field_t field);

//  ---------------------------------------------------------------------
//  Agents: the test plays the agent over a DEALER

typedef struct {
    char job[32];
    uint64_t id;
    uint32_t attempt;
} tb_got_t;

//  An agent that said HELLO with slots and got WELCOME.
zsock_t    *tb_agent (const char *name, uint64_t slots);
//  DONE, RETRY, TOUCH, BYE, ...: refs and dead may be NULL.
void        tb_agent_send (zsock_t *agent, msg_command_t command, const char *job,
                           const msg_ref_t *refs, size_t count,
                           const msg_ref_t *dead, size_t dead_count);
void        tb_credit (zsock_t *agent, uint64_t credit);
//  Receive WORK until none came for quiet_ms (a condition wait: we are
//  asserting that nothing more arrives), heartbeating meanwhile like a live
//  agent.  Checks each WORK's payload matches its refs; up to max tuples
//  into got[]; counts the HEARTBEATs it got if heartbeats is not NULL.
size_t      tb_collect (zsock_t *agent, int quiet_ms, tb_got_t *got, size_t max,
                        size_t *heartbeats);
//  The next WORK within timeout_ms (HEARTBEATs skipped), or NULL.
msg_t      *tb_next_work (zsock_t *agent, int timeout_ms);

#endif
