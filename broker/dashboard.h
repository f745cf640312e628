//  dashboard.h -- the broker's live page: GET / serves broker/dashboard.html
//  (compiled in by cmake/embed.cmake: no files to install, no CDN), whose
//  script polls GET /api/state, rendered here: jobs with their counters,
//  agents with slots and tuples held, the last dead letters.  Rate and ETA
//  are the page's own, from successive samples.  Read-only.
#ifndef DROVER_BROKER_DASHBOARD_H
#define DROVER_BROKER_DASHBOARD_H

#include <stddef.h>

#include "broker/parts.h"
#include "common/http.h"

#define DASHBOARD_JOBS    50    //  rows of jobs: unfinished first, newest first
#define DASHBOARD_AGENTS  100   //  rows of agents, by name

//  Publish the page at / (static).  0 or -errno.
int   dashboard_publish_page (http_t *http);
//  /api/state as JSON (NUL-terminated, the caller frees), its length in
//  *size_p.  NULL if out of memory.
char *dashboard_state (const broker_parts_t *parts, size_t *size_p);

#endif
