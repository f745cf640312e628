//  agent.h -- the agent (`drover agent`): takes WORK from a broker, runs the
//  tuples on P worker processes of T handler threads (agent/supervisor.h),
//  sends their results to the sinks the jobs name and, once a sink has
//  stored them, reports them DONE to the broker and returns the slots with
//  CREDIT.  It only dials out.
#ifndef DROVER_AGENT_H
#define DROVER_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include "common/http.h"
#include "common/keys.h"
#include "common/metrics.h"
#include "agent/counters.h"

#define AGENT_BROKER_DEFAULT            "tcp://127.0.0.1:5557"
#define AGENT_GRACE_MS_DEFAULT          30000
#define AGENT_RESULT_TIMEOUT_MS_DEFAULT 10000

typedef struct {
    const char *broker;         //  broker backend endpoint
    const char *name;           //  our name in HELLO and RESULT
    size_t processes;           //  worker processes; 0 = handler threads in the agent
    size_t threads;             //  handler threads per worker process
    size_t slots;               //  tuples we hold at most; 0 = adapt (agent/credit.h)
    int grace_ms;               //  on interrupt, how long to finish what we hold
    int result_timeout_ms;      //  send a RESULT again if not stored by then
    const char *log_level;      //  passed on to worker processes
    //  Labels for HELLO (PROTOCOL.md 10.3), a msgpack map of str to str,
    //  borrowed (must outlive the agent); NULL: none.
    const void *labels;
    size_t labels_size;
    //  Security, opt-in.  keys: the agent's keypair (NULL: none), borrowed,
    //  must outlive the agent; needed for sealed results (jobs whose WORK
    //  has sink_key) and for CURVE to the broker.  broker_key: the broker's
    //  public key (32 bytes, copied); with it the broker is dialled as a
    //  CURVE client, which needs keys.
    keys_t *keys;
    const uint8_t *broker_key;
    //  --http, borrowed: /metrics, /healthz and /readyz (agent/exporter.h);
    //  NULL: none.
    http_t *http;
} agent_config_t;


typedef struct agent agent_t;

//  Create the agent and its handler threads (copies config).  NULL on failure.
agent_t *agent_new (const agent_config_t *config);
void     agent_destroy (agent_t **self_p);
//  Serve the broker until interrupted (SIGINT, SIGTERM), then finish what
//  it holds within the grace period, say BYE and return 0; a second signal
//  stops at once (BYE hands back what we hold).  1 if the broker endpoint
//  is unusable.
int      agent_run (agent_t *self);
const agent_counters_t *agent_counters (agent_t *self);
//  Take over SIGINT and SIGTERM from CZMQ: agent_run counts them (the first
//  drains, the second stops).  Call before any ZeroMQ socket exists.
void     agent_signals_install (void);

#endif
