//  sink.h -- the sink server: a ROUTER that agents send RESULT batches to.
//  Each batch is opened if sealed (common/seal.h), checked, stripped of
//  results already stored (dedupe by job and tuple id, sink/seen.h),
//  written as JSON Lines, recorded in the index, and only then acknowledged
//  with STORED (PROTOCOL.md 4.3).
#ifndef DROVER_SINK_H
#define DROVER_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/http.h"
#include "common/auth.h"
#include "common/keys.h"
#include "common/metrics.h"
#include "proto/msg.h"
#include "sink/stats.h"

typedef struct {
    const char *bind;           //  endpoints, comma-separated; NULL: the default
    const char *output;         //  JSON Lines file, "-" or NULL: stdout
    bool        fsync;          //  fdatasync output and index after each batch
    const char *data_dir;       //  durable dedupe index (LMDB); NULL: in memory
    keys_t     *keys;           //  the sink's keypair (only read in sink_new):
                                //  sealed results and CURVE; NULL: neither
    bool        allow_plain;    //  with keys, take unsealed results as well
    http_t     *http;           //  --http, borrowed: /metrics, /healthz and
                                //  /readyz (sink/exporter.h); NULL: none
    auth_t     *auth;           //  with keys, required: the ZAP handler whose
                                //  AUTH_DOMAIN_AGENTS list says which agent
                                //  keys get in, at the handshake and again for
                                //  each message (borrowed: outlives the sink)
    bool        manifests;      //  write each job's manifest beside a regular
                                //  output file (sink/manifest_writer.h)
    uint32_t    manifest_delay_ms;  //  after the job's last new line
} sink_config_t;

#define SINK_DEFAULT_BIND "tcp://127.0.0.1:5558"


typedef struct sink sink_t;

//  Bind the endpoints and open the output.  NULL on failure (logged).
sink_t *sink_new (const sink_config_t *config);
void    sink_destroy (sink_t **self_p);

//  Handle messages for up to timeout_ms (-1: until one arrives).  Returns
//  0, or -EINTR once the process was interrupted (SIGINT, SIGTERM).
int     sink_poll (sink_t *self, int timeout_ms);
//  Handle messages until interrupted, then return 0.
int     sink_run (sink_t *self);

void    sink_stats (const sink_t *self, sink_stats_t *stats);
//  The endpoints actually bound (ports resolved), comma-separated.
const char *sink_endpoints (const sink_t *self);
const char *sink_output_path (const sink_t *self);

#endif
