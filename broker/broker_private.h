//  broker_private.h -- the broker object's insides, shared by its parts:
//  broker.c (sockets, the loop, recovery), broker_producers.c (SUBMIT,
//  STATUS), broker_agents.c (agents, heartbeats, leases, requeueing) and
//  broker_dispatch.c (WORK by credit).  Only broker/ includes it.
#ifndef DROVER_BROKER_PRIVATE_H
#define DROVER_BROKER_PRIVATE_H

#include "broker/roster.h"
#include "broker/broker.h"
#include "broker/delay.h"
#include "broker/job.h"
#include "broker/queue.h"
#include "broker/store.h"
#include "common/log.h"
#include "proto/msg.h"
#include "proto/wire.h"

struct broker {
    broker_config_t config;     //  endpoint strings point at our copies
    char *frontend_endpoints;
    char *intake_endpoints;
    char *backend_endpoints;
    char *data_dir;
    zsock_t *frontend;          //  ROUTER: producers, request/reply
    zsock_t *intake;            //  PULL: producers, fire-and-forget
    zsock_t *backend;           //  ROUTER: agents
    zpoller_t *poller;
    store_t *store;
    bool in_txn;                //  a store transaction is open
    int64_t txn_started;
    uint64_t txn_accepted;      //  counters.accepted when it began
    queue_t *queue;
    delay_t *delay;             //  tuples waiting out their back-off
    roster_t *roster;
    zhashx_t *jobs;             //  name -> job_t
    zlist_t *replies;           //  to producers, sent after the turn commits
    zframe_t **frames;          //  scratch: one SUBMIT's or one WORK's frames
    size_t frames_size;
    queue_tuple_t *tuples;      //  scratch: one WORK's tuples
    queue_tuple_t *dead;        //  scratch: the dead letters among them
    zlist_t *works;             //  WORK to send after the turn commits
    uint32_t next_job_number;
    msg_ref_t *refs;            //  scratch: refs of one WORK or DONE
    size_t refs_size;
    broker_counters_t counters;
    broker_counters_t logged;   //  as of the last stats line
    int64_t next_heartbeat;
    int64_t next_stats;
    //  The last auth_allowed answer per domain (0 producers, 1 agents),
    //  asked again when the key or auth_generation changes.
    struct {
        char key[KEYS_Z85_SIZE + 1];
        uint64_t generation;
        bool allowed;
    } allowed[2];
    uint64_t agents_checked;    //  auth_generation of the last agent sweep
    int64_t denied_second;      //  rate limit of the DENIED log lines
    uint32_t denied_logged;     //  lines in that second
    uint64_t denied_quiet;      //  not logged since the last line
};

//  broker.c
int         broker_refs_reserve (broker_t *self, size_t count);
const char *broker_decode_reason (int code);
void        broker_count_error (broker_t *self, const char *where, int code,
                                const char *reason);
void        broker_peer_error (broker_t *self, const char *where, msg_t *msg);
//  Is msg's sender (its CURVE key) allowed in domain now?  Always true
//  without config.auth.  Cached per domain by key and auth_generation.
bool        broker_allowed (broker_t *self, const char *domain, const char *key);
//  Count a message refused because its key is not allowed (errors
//  [DRV_E_DENIED]); the log line is rate-limited (AUTH_LOG_PER_SEC).
void        broker_count_denied (broker_t *self, const char *where, const char *reason);
//  The reason of such a refusal, in buffer.
const char *broker_denied_reason (const char *key, char *buffer, size_t size);

//  broker_producers.c
void broker_frontend_recv (broker_t *self);
void broker_intake_recv (broker_t *self);
//  Send the turn's replies; if the commit failed, ACCEPTED becomes INTERNAL.
void broker_flush_replies (broker_t *self, int commit_rc);
void broker_drop_replies (broker_t *self);

//  broker_agents.c
void broker_backend_recv (broker_t *self);
//  Drop agents whose key was revoked (after auth_generation moved).
void broker_agents_recheck (broker_t *self);
//  A running tuple that cannot be queued again (out of memory) is counted
//  failed rather than vanishing from the counters.
void broker_count_failed (broker_t *self, job_t *job, queue_tuple_t *tuple);
//  Heartbeats, lost agents and expired leases: a few times per interval.
void broker_heartbeats (broker_t *self, int64_t now);
//  Queue a running tuple again (attempt already set); with backoff, after
//  a wait (dead letters never wait).
void broker_requeue (broker_t *self, job_t *job, queue_tuple_t *tuple, bool backoff);
//  Move tuples whose back-off is over to the front of their job's queue.
void broker_delays_due (broker_t *self, int64_t now);

//  broker_dispatch.c
void broker_dispatch (broker_t *self);
//  Send the WORK dispatch prepared, after the commit recorded the leases.
void broker_send_works (broker_t *self);
void broker_drop_works (broker_t *self);

#endif
