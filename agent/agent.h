//  agent.h -- the agent (`drover agent`): takes WORK from a broker, runs the
//  tuples on a pool of handler threads, sends their results to the sinks the
//  jobs name and, once a sink has stored them, reports them DONE to the
//  broker and returns the slots with CREDIT.  It only dials out.
#ifndef DROVER_AGENT_H
#define DROVER_AGENT_H

#include <stddef.h>
#include <stdint.h>

#define AGENT_BROKER_DEFAULT            "tcp://127.0.0.1:5557"
#define AGENT_GRACE_MS_DEFAULT          30000
#define AGENT_RESULT_TIMEOUT_MS_DEFAULT 10000

typedef struct {
    const char *broker;         //  broker backend endpoint
    const char *name;           //  our name in HELLO and RESULT
    size_t threads;             //  handler threads; also the slots we offer
    int grace_ms;               //  on interrupt, how long to finish what we hold
    int result_timeout_ms;      //  send a RESULT again if not stored by then
} agent_config_t;

//  What the agent has done since it started.
typedef struct {
    uint64_t ok;                //  tuples whose handler succeeded
    uint64_t failed;            //  last attempts that failed (dead letters)
    uint64_t retried;           //  failed attempts handed back with RETRY
    uint64_t sessions;          //  broker sessions started (HELLO sent)
    uint64_t bad_messages;      //  undecodable or unexpected messages received
} agent_counters_t;

typedef struct agent agent_t;

//  Create the agent and its handler threads (copies config).  NULL on failure.
agent_t *agent_new (const agent_config_t *config);
void     agent_destroy (agent_t **self_p);
//  Serve the broker until interrupted (SIGINT, SIGTERM), then finish what
//  it holds within the grace period, say BYE and return 0; 1 if the broker
//  endpoint is unusable.
int      agent_run (agent_t *self);
const agent_counters_t *agent_counters (agent_t *self);

#endif
