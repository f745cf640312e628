//  job.h -- one job the broker knows: a named set of tuples sharing a
//  handler, a sink and options (PROTOCOL.md 4.1).  The broker owns the
//  registry; a job numbers its tuples and keeps the counters STATUS reports.
#ifndef DROVER_BROKER_JOB_H
#define DROVER_BROKER_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JOB_MAX_ATTEMPTS_DEFAULT  3
#define JOB_TIMEOUT_MS_DEFAULT    30000
#define JOB_PRIORITY_DEFAULT      5         //  levels 0 .. JOB_PRIORITY_MAX, higher first
#define JOB_PRIORITY_MAX          9

typedef struct job job_t;

typedef enum {
    JOB_OPEN = 0,       //  may get more tuples
    JOB_CLOSED,         //  closed, some tuples not finished
    JOB_COMPLETE,       //  closed, and done + failed = submitted
    JOB_CANCELLED,      //  drover cancel: nothing more runs (PROTOCOL.md 12)
    JOB_ABORTED         //  abort_after tuples failed: nothing more runs (12)
} job_state_t;

//  Tuples by where they are.  submitted = queued + waiting + running +
//  done + failed; skipped counts those of done stored as skipped
//  (PROTOCOL.md 14), as cancelled ones are counted done.
typedef struct {
    uint64_t submitted;
    uint64_t queued;
    uint64_t running;
    uint64_t done;
    uint64_t failed;
    uint64_t waiting;           //  on their dependencies (deps.h)
    uint64_t skipped;
} job_counters_t;

//  Create an open job with default max_attempts and timeout_ms, and log it.
//  Returns NULL if out of memory.
job_t *job_new (const char *name, const char *handler, const char *sink);
void   job_destroy (job_t **self_p);

//  Options are the SUBMIT's raw msgpack map, kept opaque.  0 or -ENOMEM.
int    job_set_options (job_t *self, const void *data, size_t size);
//  A spec job's spec (broker/campaign.h's bytes, opaque here; NULL: an
//  ordinary job), stored with the job.  0 or -ENOMEM.
int    job_set_spec (job_t *self, const void *data, size_t size);
const void *job_spec (const job_t *self, size_t *size_p);
//  The sink's public key (Z85) results are sealed for, or NULL.  0 or -ENOMEM.
int    job_set_sink_key (job_t *self, const char *sink_key);
//  The job's number in the store (keys are number + tuple id).
void   job_set_number (job_t *self, uint32_t number);
uint32_t job_number (const job_t *self);
const char *job_sink_key (const job_t *self);
void   job_set_max_attempts (job_t *self, uint32_t max_attempts);
void   job_set_timeout_ms (job_t *self, uint32_t timeout_ms);

const char *job_name (const job_t *self);
const char *job_handler (const job_t *self);
const char *job_sink (const job_t *self);
//  Raw msgpack options (an empty map if none were given).
const void *job_options (const job_t *self, size_t *size_p);
//  Bytes of the fields every WORK of the job carries: job, handler, sink,
//  sink_key and options.
size_t      job_fields_size (const job_t *self);
uint32_t    job_max_attempts (const job_t *self);
uint32_t    job_timeout_ms (const job_t *self);

//  The id the next accepted tuple will get (ids start at 1).
uint64_t job_next_id (const job_t *self);
//  Accept count new tuples into the queue; returns the first id.
uint64_t job_accept (job_t *self, size_t count);
//  Tuples moved from queued to running (sent in WORK).
void     job_dispatched (job_t *self, size_t count);
//  Tuples moved from running back to queued (RETRY, agent gone).
void     job_requeued (job_t *self, size_t count);
//  Queued tuples that wait on their dependencies, and back (released,
//  or to be stored as skipped); tuples stored as skipped (of done).
void     job_wait (job_t *self, size_t count);
void     job_unwait (job_t *self, size_t count);
void     job_skipped (job_t *self, size_t count);
//  Running tuples that ended done or failed.  Logs when the job completes.
void     job_finished (job_t *self, size_t done, size_t failed);
//  No more tuples.  Logs if that completes the job.
void     job_close (job_t *self);
//  After a restart: the next id, the counters as stored (queued is what the
//  store still holds, running 0), and the bytes of those tuples.
void     job_restore (job_t *self, uint64_t next_id, bool closed,
                      const job_counters_t *counters, uint64_t bytes);

//  Bytes of the tuples not finished (queued or running), for the limits.
uint64_t job_bytes (const job_t *self);
void     job_add_bytes (job_t *self, uint64_t bytes);
void     job_sub_bytes (job_t *self, uint64_t bytes);
//  Number the next remembered SUBMIT batch (idempotent SUBMIT); counts up.
uint64_t job_batch_seq (job_t *self);
uint64_t job_batches (const job_t *self);
void     job_set_batches (job_t *self, uint64_t batches);
//  Changed since the last job_clean: the broker writes it to the store.
bool     job_dirty (const job_t *self);
void     job_clean (job_t *self);

bool        job_closed (const job_t *self);
//  End a job before its tuples are done: JOB_CANCELLED or JOB_ABORTED.  Its
//  waiting tuples are then stored as such, never run; later SUBMITs are
//  refused.  A job already ended keeps how it ended (idempotent).
void        job_end (job_t *self, job_state_t how);
//  JOB_CANCELLED, JOB_ABORTED, or JOB_OPEN if the job was not ended.
job_state_t job_ended (const job_t *self);
//  The job's `abort_after` option (0: none): it is aborted once that many
//  of its tuples failed for good.
uint64_t    job_abort_after (const job_t *self);
//  The job's `priority` option (JOB_PRIORITY_DEFAULT if none, at most
//  JOB_PRIORITY_MAX) and `not_before` option (ms since the Unix epoch; 0:
//  none): PROTOCOL.md 13.
uint32_t    job_priority (const job_t *self);
uint64_t    job_not_before (const job_t *self);
job_state_t job_state (const job_t *self);
const char *job_state_name (job_state_t state);
const job_counters_t *job_counters (const job_t *self);

#endif
