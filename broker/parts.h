//  parts.h -- what the broker lends the renderers of its --http views
//  (exporter.h for /metrics, dashboard.h for the page's state): borrowed
//  pointers, read in the loop's own thread only.
#ifndef DROVER_BROKER_PARTS_H
#define DROVER_BROKER_PARTS_H

#include "broker/counters.h"
#include "broker/dead_letters.h"
#include "broker/each.h"
#include "broker/jobs.h"
#include "broker/roster.h"
#include "common/auth.h"
#include "common/http.h"

//  What the views read, all borrowed from the broker.
typedef struct {
    http_t *http;
    jobs_t *jobs;
    roster_t *roster;
    const broker_counters_t *counters;
    const dead_letters_t *dead_letters;
    auth_t *auth;               //  NULL without allow-lists
    const char *store;          //  the store's name
    each_t *each;               //  jobs run once per label value, or NULL
} broker_parts_t;

#endif
