//  deps.h -- job graphs (PROTOCOL.md 14): tuples that wait until other
//  tuples are done.  Bookkeeping by (job number, tuple id) only, below
//  jobs.h, which moves the tuples: a ledger of every tuple's fate (2 bits
//  an id), the tuples waiting with a count of their unmet dependencies,
//  and an index from a tuple to those waiting on it.  A tuple that ends
//  costs work in proportion to its dependents, so n tuples with e edges
//  resolve in O(n + e), whatever the order they finish in.
#ifndef DROVER_BROKER_DEPS_H
#define DROVER_BROKER_DEPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/chunk.h"

//  A tuple: its job's number (job_number) and its id.
typedef struct {
    uint32_t job;
    uint64_t id;
} deps_ref_t;

//  How a tuple ended, as far as its dependents care.
typedef enum {
    DEPS_PENDING = 0,   //  not finished (or never accepted)
    DEPS_OK,            //  done, status ok: its dependents may run
    DEPS_FAILED,        //  a dead letter: its dependents are skipped
    DEPS_STOPPED        //  never ran (skipped, cancelled, aborted, excluded): likewise
} deps_fate_t;

//  What deps_add did with a tuple.
typedef enum {
    DEPS_READY = 0,     //  every dependency is done: it may run; nothing held
    DEPS_WAITING,       //  held until its dependencies are done
    DEPS_SKIPPED        //  a dependency failed: it is skipped (held, hidden)
} deps_outcome_t;

typedef struct deps deps_t;

//  A tuple waiting is ready (skipped false), or is skipped because cause
//  (the first tuple up the graph that failed or never ran) ended so; its
//  payload (what deps_add took, maybe none) moves to the callee.
typedef void (deps_event_fn) (void *arg, deps_ref_t tuple, bool skipped,
                              deps_ref_t cause, deps_fate_t cause_fate,
                              payload_t *payload_p);

//  fn is told of tuples released or skipped.  NULL if out of memory.
deps_t     *deps_new (deps_event_fn *fn, void *arg);
//  Drops the payloads held.
void        deps_destroy (deps_t **self_p);

//  Job number job has accepted ids below next_id; those not known before
//  are pending.  0 or -ENOMEM.
int         deps_grow (deps_t *self, uint32_t job, uint64_t next_id);
//  After a restart: job has ids below next_id, all done ok until told
//  otherwise (deps_set_fate).  0 or -ENOMEM.
int         deps_restore (deps_t *self, uint32_t job, uint64_t next_id);
//  The ids job has accepted, plus one (0 if none).
uint64_t    deps_next_id (const deps_t *self, uint32_t job);
deps_fate_t deps_fate (const deps_t *self, deps_ref_t tuple);
//  Set a fate without resolving anything (recovery, before any deps_add).
void        deps_set_fate (deps_t *self, deps_ref_t tuple, deps_fate_t fate);

//  tuple (accepted, deps_grow'n) runs after deps[0 .. count).  READY: all
//  of them done ok, nothing held.  WAITING: held, *payload_p taken (may be
//  empty: a durable store keeps payloads).  SKIPPED: one of them failed or
//  never ran: held as skipped, *payload_p taken, its cause in *cause_p and
//  *fate_p.  Tuples already waiting on this one (a batch may name later
//  ids of itself) hear of it through the callback.  -ENOMEM: nothing held.
int         deps_add (deps_t *self, deps_ref_t tuple, const deps_ref_t *deps, size_t count,
                      payload_t *payload_p, deps_ref_t *cause_p, deps_fate_t *fate_p);
//  tuple ended as fate (not DEPS_PENDING): those waiting on it are
//  released or skipped, down the graph, through the callback.  Its first
//  fate holds: a later call only forgets it, if finished (it has left
//  the broker: DONE).
void        deps_ended (deps_t *self, deps_ref_t tuple, deps_fate_t fate, bool finished);
//  Release every tuple of job still waiting (its job was cancelled or
//  aborted: they are stored as such), through the callback.
void        deps_release_job (deps_t *self, uint32_t job);

//  Held out of the queue: waiting, or released or skipped and not yet
//  finished (the queue's reader of the store passes over it).
bool        deps_hidden (const deps_t *self, deps_ref_t tuple);
//  Skipped and not finished: true with its cause.
bool        deps_skipped (const deps_t *self, deps_ref_t tuple, deps_ref_t *cause_p,
                          deps_fate_t *fate_p);
//  Tuples waiting (in all / of one job).
size_t      deps_waiting (const deps_t *self);
//  Steps taken so far: a tuple added or ended, an edge followed, a byte of
//  a job's ledger zeroed (tests check that the work is linear).
uint64_t    deps_steps (const deps_t *self);

#endif
