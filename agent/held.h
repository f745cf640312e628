//  held.h -- what a new broker session's HELLO names (PROTOCOL.md 4.2
//  `held`), so that a reconnect resumes rather than runs anything again:
//  the tuples running, waiting for STORED, or stored with their report not
//  sent yet.
#ifndef DROVER_HELD_H
#define DROVER_HELD_H

#include "agent/outbox.h"
#include "agent/reports.h"
#include "agent/running.h"
#include "proto/holdings.h"

//  A new list of what running, outbox and reports hold, for the caller to
//  destroy; NULL if out of memory.
holdings_t *held_collect (running_t *running, outbox_t *outbox, reports_t *reports);

#endif
