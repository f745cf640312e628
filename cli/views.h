//  views.h -- what `drover jobs`, `drover agents` and `drover status` print:
//  a table for a person or JSON for a script, from the broker's answers
//  (broker_query.h).  Shared so that the three say rates, ETAs and ages
//  the same way.
#ifndef DROVER_VIEWS_H
#define DROVER_VIEWS_H

#include <stdbool.h>
#include <stdio.h>

#include "cli/broker_query.h"
#include "proto/msg.h"

//  The entries of the last broker_query_list, jobs or agents: a table
//  (header line, one line each) or one JSON array of objects (the entries
//  as PROTOCOL.md 11 gives them), on one line.
void views_jobs (FILE *out, const broker_query_t *query, bool json);
void views_agents (FILE *out, const broker_query_t *query, bool json);
//  Any listing's entries (schedules too) as one JSON array, on one line.
void views_json (FILE *out, const broker_query_t *query);
//  A JOB answer: a table or one JSON object.
void views_status (FILE *out, const msg_t *job, bool json);

#endif
