//  sched_policy.c -- see sched_policy.h.  sched_setscheduler(0, ...) sets
//  the calling thread's policy; the kernel copies it into every thread and
//  process that thread starts later.
#include "common/sched_policy.h"

#include "common/log.h"

#include <errno.h>
#include <sched.h>
#include <string.h>

const char *const sched_policy_names[] = { "batch", "normal", NULL };

static int
s_policy (const char *name)
{
    if (name && !strcmp (name, "batch"))
        return SCHED_BATCH;
    if (name && !strcmp (name, "normal"))
        return SCHED_OTHER;
    return -1;
}

int
sched_policy_set (const char *name)
{
    int policy = s_policy (name);
    if (policy < 0) {
        errno = EINVAL;
        return -1;
    }
    //  Already so (systemd's CPUSchedulingPolicy=, or a parent's): no call,
    //  which a seccomp filter without @resources would refuse.
    if (sched_getscheduler (0) == policy)
        return 0;
    struct sched_param param = { .sched_priority = 0 };
    return sched_setscheduler (0, policy, &param);
}

const char *
sched_policy_current (void)
{
    int policy = sched_getscheduler (0);
    if (policy == SCHED_BATCH)
        return "batch";
    if (policy == SCHED_OTHER)
        return "normal";
    return "other";
}

void
sched_policy_start (const char *name)
{
    if (sched_policy_set (name) == 0)
        log_info ("scheduling policy: %s", name);
    else
        log_warn ("cannot set the scheduling policy %s (%s): running under %s",
                  name? name: "(none)", strerror (errno), sched_policy_current ());
}
