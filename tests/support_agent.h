//  support_agent.h -- what the test_agent_*.c files share: the test plays
//  the broker and the sink on real ROUTER sockets, speaking the protocol
//  through proto/msg.h, to a real `drover agent` process, and reads back
//  what it sends: HELLO, RESULT records, DONE / RETRY / CREDIT.
#ifndef DROVER_TEST_SUPPORT_AGENT_H
#define DROVER_TEST_SUPPORT_AGENT_H

#include "proto/msg.h"

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PLAY_WAIT_MS 10000

typedef struct {
    zsock_t *broker;            //  ROUTER the agent dials
    zsock_t *sink;              //  ROUTER results go to
    char broker_ep[64];
    char sink_ep[64];
    char *dir;
    char log[300];
    pid_t pid;
    zmsg_t *agent;              //  the agent's envelope at the broker
} play_t;

//  A RESULT's records, decoded.
typedef struct {
    uint64_t tuple, attempt, started_us, duration_us;
    char status[16];
    char input[256], output[256], error[256];
    bool has_output, has_error;
} record_t;

//  What the broker heard back: DONE, RETRY and CREDIT, until the credit
//  returned reaches `credit`.
typedef struct {
    msg_ref_t done[16], dead[16], retry[16];
    size_t done_count, dead_count, retry_count;
    uint64_t credit;
    char reason[256];
    bool credit_before_report;      //  a CREDIT came before any DONE/RETRY
} reports_t;

//  Bind both ROUTERs and start `drover agent` "test-agent" (one worker
//  process of two threads, two slots) with extra flags (NULL-ended; later
//  flags win).
void     play_start (play_t *ctx, ...) __attribute__ ((sentinel));
//  Stop the agent as an operator would (SIGTERM): it must exit 0, and
//  under a sanitizer its log must show no report.
void     play_stop (play_t *ctx);
//  Receive the next message on a ROUTER (skipping HEARTBEATs); its
//  envelope in *envelope_p if given.  Fails the test after timeout_ms.
msg_t   *play_recv (play_t *ctx, zsock_t *sock, zmsg_t **envelope_p, int timeout_ms);
//  Receive a message and check its command.
msg_t   *play_expect (play_t *ctx, zsock_t *sock, msg_command_t command, zmsg_t **envelope_p);
//  The next message at the broker but CREDIT, which may come any time the
//  agent was not yet draining.
msg_t   *play_expect_skip_credit (play_t *ctx, msg_command_t command);
//  HELLO -> WELCOME; returns the slots the agent offered.
uint64_t play_welcome (play_t *ctx, uint64_t heartbeat_ms);
//  Send WORK: tuples as JSON texts, one per ref.
void     play_work (play_t *ctx, const char *job, const char *handler, uint64_t max_attempts,
                    const msg_ref_t *refs, size_t count, const char *const *tuples);
//  Decode a RESULT (checking its header against the records) into records;
//  returns how many.
size_t   play_records (msg_t *result, const char *job, record_t *records, size_t max);
//  Answer a RESULT with STORED for all its refs, listing in dead those
//  where dead[i] (dead may be NULL: none), as a sink that holds them failed.
void     play_stored_as (play_t *ctx, msg_t *result, zmsg_t *envelope, const bool *dead);
//  Answer a RESULT with STORED as a sink that stored its records as they
//  are: the failed ones in dead.
void     play_stored (play_t *ctx, msg_t *result, zmsg_t *envelope, const record_t *records);
//  Collect results at the sink until count records came; answer each with
//  STORED if store is true.
size_t   play_collect (play_t *ctx, const char *job, record_t *records, size_t count, bool store);
//  What the broker hears back until credit is returned.
reports_t play_reports (play_t *ctx, const char *job, uint64_t credit);
//  True if refs[0..count) holds (id, attempt).
bool     play_has_ref (const msg_ref_t *refs, size_t count, uint64_t id, uint32_t attempt);

#endif
