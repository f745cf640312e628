//  each.h -- a job run once per value of an agent label (job option
//  "each": LABEL, PROTOCOL.md 10.3): the runs are jobs of their own,
//  named PARENT@LABEL=VALUE, whose options add {"requires": {LABEL:
//  VALUE}}; the parent's STATUS adds theirs up.  campaign.c's helper.
#ifndef DROVER_BROKER_EACH_H
#define DROVER_BROKER_EACH_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>

#include "broker/jobs.h"
#include "broker/roster.h"

//  The label of the "each" of options (a msgpack map, or NULL) into
//  label, or false if it has none.
bool      each_label (const void *options, size_t options_size, char *label, size_t size);
//  The distinct values of label among the agents connected (strings,
//  ascending; the caller destroys the list).  NULL if out of memory.
zlistx_t *each_values (roster_t *roster, const char *label);
//  The run of parent for value, a new job in jobs.  NULL if out of memory
//  or its name would be too long.
job_t    *each_job (jobs_t *jobs, const job_t *parent, const char *label, const char *value);
//  The runs' counters added up, and their state together: complete when
//  all are, open while any is.  Returns how many runs there are.
size_t    each_status (jobs_t *jobs, const job_t *parent, job_counters_t *counters,
                       job_state_t *state);

#endif
