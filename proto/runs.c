//  runs.c -- see runs.h.  A run never wraps past 2^64 - 1 and never grows
//  past 2^32 - 1 tuples, so a ref sequence that would do either simply
//  starts a new run: expanding gives back exactly the refs appended.
#include "proto/runs.h"

bool
runs_valid (const msg_run_t *runs, size_t count, uint64_t *total_p)
{
    uint64_t total = 0;
    for (size_t i = 0; i < count; i++) {
        if (runs[i].count == 0 || runs[i].first > UINT64_MAX - (runs[i].count - 1))
            return false;
        total += runs[i].count;
    }
    if (total_p)
        *total_p = total;
    return true;
}

uint64_t
runs_total (const msg_run_t *runs, size_t count)
{
    uint64_t total = 0;
    for (size_t i = 0; i < count; i++)
        total += runs[i].count;
    return total;
}

//  True if (id, attempt) is the tuple right after run's last, at its attempt.
static bool
s_continues (const msg_run_t *run, uint64_t id, uint32_t attempt)
{
    return run->attempt == attempt && run->count < UINT32_MAX
        && run->first <= UINT64_MAX - run->count
        && run->first + run->count == id;
}

void
runs_append (msg_run_t *runs, size_t *count_p, uint64_t id, uint32_t attempt)
{
    size_t count = *count_p;
    if (count && s_continues (&runs[count - 1], id, attempt)) {
        runs[count - 1].count++;
        return;
    }
    runs[count] = (msg_run_t) { id, 1, attempt };
    *count_p = count + 1;
}

size_t
runs_needed (const msg_ref_t *refs, size_t count)
{
    size_t needed = 0;
    msg_run_t run = { 0, 0, 0 };
    for (size_t i = 0; i < count; i++) {
        if (needed && s_continues (&run, refs[i].id, refs[i].attempt)) {
            run.count++;
            continue;
        }
        run = (msg_run_t) { refs[i].id, 1, refs[i].attempt };
        needed++;
    }
    return needed;
}

void
runs_expand (const msg_run_t *runs, size_t count, msg_ref_t *refs)
{
    for (size_t i = 0; i < count; i++)
        for (uint32_t k = 0; k < runs[i].count; k++)
            *refs++ = (msg_ref_t) { runs[i].first + k, runs[i].attempt };
}
