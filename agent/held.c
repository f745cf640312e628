//  held.c -- the tuples a new session's HELLO names; see held.h.  Moved
//  out of agent.c: it reads the agent's parts, and nothing else.
#include "agent/held.h"
#include "common/log.h"
#include "common/peerlog.h"

static void
s_hold_report (void *arg, const char *job, msg_ref_t ref)
{
    holdings_t *holdings = arg;
    if (holdings_add (holdings, job, ref))
        log_error ("out of memory: HELLO does not name tuple %llu of job %s",
                   (unsigned long long) ref.id, peerlog_str (job).text);
}

static void
s_hold_task (void *arg, task_t *task)
{
    s_hold_report (arg, task->job->name, task->ref);
}

holdings_t *
held_collect (running_t *running, outbox_t *outbox, reports_t *reports)
{
    holdings_t *holdings = holdings_new ();
    if (!holdings)
        return NULL;
    running_each (running, s_hold_task, holdings);
    outbox_each (outbox, s_hold_task, holdings);
    reports_each (reports, s_hold_report, holdings);
    return holdings;
}
