//  support_sink.h -- what the sink's black-box tests (test_sink*.c) share:
//  a rig of one real `drover sink` process in a scratch directory and a
//  test agent (a DEALER) speaking the protocol to it, result batches built
//  with msgpack-c (sealed with common/seal.h for a sink with a keypair),
//  and the JSON Lines output parsed back with common/json_read.h.
#ifndef DROVER_TEST_SUPPORT_SINK_H
#define DROVER_TEST_SUPPORT_SINK_H

#include "common/keys.h"
#include "common/seal.h"
#include "proto/wire.h"

#include <msgpack.h>
#include <sys/types.h>

//  A fixture: its fields are the tests' to read (and to replace, as a test
//  that starts a sink its own way does).
typedef struct {
    char *dir;                  //  scratch directory, removed at the end
    char out_path[512];         //  dir/results.jsonl
    char log_path[512];         //  dir/sink.log, the sink's stdout and stderr
    char endpoint[64];          //  where the sink is bound
    pid_t pid;                  //  the sink, or -1
    zsock_t *agent;             //  the test agent's DEALER to the sink
    keys_t *keys;               //  the sink's keypair (rig_start_keyed), or NULL
    int version;                //  of the RESULTs rig_send_* send: 1 unless set
} rig_t;

//  A scratch directory; no sink yet.
rig_t   *rig_new (void);
//  Stop the sink (SIGTERM), remove the directory.  SINK_TEST_LOG=1 in the
//  environment prints the sink's log first.
void     rig_destroy (rig_t **self_p);
//  Close the agent and stop the sink with sig; its wait status (-1: none).
int      rig_stop (rig_t *self, int sig);
//  Stop what runs, then `drover sink --bind <fresh endpoint> ARGS...` (NULL
//  ended), wait for "sink ready" in its log, and connect the agent.
void     rig_spawn (rig_t *self, ...) __attribute__ ((sentinel));
//  rig_spawn with --output out_path --log-level debug and ARGS (NULL ended).
void     rig_start (rig_t *self, ...) __attribute__ ((sentinel));
//  The same with a fresh keypair in self->keys (--cert), and extra, value.
void     rig_start_keyed (rig_t *self, const char *extra, const char *value);
//  A new agent DEALER to the sink (the old one closed).
void     rig_connect (rig_t *self);
//  A DEALER speaking CURVE to the keyed sink with an agent's keys.
zsock_t *rig_curve_agent (rig_t *self, keys_t *keys, int timeout_ms);
//  True once the sink's log holds text.
bool     rig_log_has (rig_t *self, const char *text);
//  The sink's peak resident memory so far (VmHWM), KiB.
long     rig_peak_kib (rig_t *self);
//  The sink's CPU time so far (user and system), microseconds.
double   rig_cpu_us (rig_t *self);

//  A result batch: one msgpack array of records, as an agent sends it:
//  maps in version 1, arrays in version 2 (PROTOCOL.md 9.1).
typedef struct {
    msgpack_sbuffer buffer;
    msgpack_packer  packer;
    int version;
} rig_batch_t;

//  A version 1 batch; rig_batch_begin_version for either.
void     rig_batch_begin (rig_batch_t *batch, uint32_t records);
void     rig_batch_begin_version (rig_batch_t *batch, uint32_t records, int version);
void     rig_pack_str (msgpack_packer *pk, const char *text);
//  A record: input ["echo", tuple], output "out-<tuple>" or error.
void     rig_batch_record (rig_batch_t *batch, uint64_t tuple, uint32_t attempt, bool ok);
//  A batch of ok results for refs, sealed by seal for job (agent name
//  "test-agent") as a RESULT in version has it: the payload frame.
zframe_t *rig_sealed_batch (seal_t *seal, keys_t *keys, const char *job,
                            const msg_ref_t *refs, size_t count, int version);

//  RESULT for job from "test-agent" with the payload bytes, in
//  self->version; the reply.
msg_t   *rig_send_raw (rig_t *self, const char *job, const msg_ref_t *refs, size_t count,
                       const void *data, size_t size);
//  The same with a batch's bytes (the batch is freed).
msg_t   *rig_send_batch (rig_t *self, const char *job, const msg_ref_t *refs, size_t count,
                         rig_batch_t *batch);
//  A good batch of ok results for refs, in self->version.
msg_t   *rig_send_ok (rig_t *self, const char *job, const msg_ref_t *refs, size_t count);
//  The reply is STORED for exactly refs, or ERROR with code.
void     rig_expect_stored (msg_t *reply, const char *job, const msg_ref_t *refs, size_t count);
void     rig_expect_error (msg_t *reply, int code);

//  The output file, each line parsed (asserted to be a JSON object).
typedef struct {
    size_t count;
    msgpack_unpacked lines[256];
    msgpack_sbuffer buffers[256];
} rig_lines_t;

rig_lines_t *rig_read_lines (rig_t *self);
void     rig_free_lines (rig_lines_t **lines_p);
//  Line index's value of key, or NULL.
const msgpack_object *rig_get (const rig_lines_t *lines, size_t index, const char *key);
void     rig_expect_str (const rig_lines_t *lines, size_t index, const char *key,
                         const char *value);
void     rig_expect_uint (const rig_lines_t *lines, size_t index, const char *key,
                          uint64_t value);

#endif
