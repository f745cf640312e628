//  resume.h -- an agent that says HELLO again names the tuples it still
//  holds (PROTOCOL.md 4.2, `held`): they become leases of its new session
//  at the attempt the broker has, so a re-handshake spends no attempt and
//  runs nothing twice.  Each is taken from the agent's old session if the
//  broker still has it (a new connection to a broker that kept running),
//  else from the queue (a restarted broker, which read it back from its
//  store).  A tuple found in neither (finished, or handed to another agent)
//  is not resumed: the agent's report of it is then ignored, as any late
//  report is.
#ifndef DROVER_BROKER_RESUME_H
#define DROVER_BROKER_RESUME_H

#include "broker/held.h"
#include "broker/jobs.h"

#include <stddef.h>
#include <stdint.h>

//  Most tuples one HELLO may resume; the rest are not looked at.
#define RESUME_MAX  65536

typedef struct {
    size_t named;               //  tuples the HELLO named
    size_t resumed;             //  of them, leases of the new session now
} resume_counts_t;

//  Resume the tuples the `held` map data[0 .. size) names into the new
//  session's table, taking them from old (the agent's previous session's
//  table, or NULL) or from jobs' queue.  Each lease ends lease_slack_ms
//  after its job's timeout_ms from now, as a WORK's would.  Counts into
//  *counts.  0, -DRV_E_BAD_TYPE if the map is malformed, or -ENOMEM (what
//  came before the fault is resumed).
int resume_leases (jobs_t *jobs, held_t *into, held_t *old, const void *data, size_t size,
                   uint32_t lease_slack_ms, int64_t now, resume_counts_t *counts);

#endif
