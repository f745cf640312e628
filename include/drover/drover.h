//  drover/drover.h -- libdrover, the C client library of a drover broker:
//  the whole of its public API.  A producer submits tuples (each one
//  msgpack value, or JSON text it converts) to a job in batches, several
//  batches in flight, and asks for a job's counters.  `drover submit` is
//  built on exactly this header.  Build with
//  `cc prog.c $(pkg-config --cflags --libs drover)`; docs/libdrover.md has
//  a whole program.
//
//      drover_producer_t *p = drover_producer_new ("tcp://127.0.0.1:5555");
//      drover_producer_set_job (p, "scan-1");
//      drover_producer_set_handler (p, "echo");
//      drover_producer_add_json (p, "[\"10.0.0.7\", 443]");
//      if (drover_producer_close (p))
//          fprintf (stderr, "%s\n", drover_producer_error (p));
//      drover_producer_destroy (&p);
//
//  Every function that talks to the broker or takes tuples returns 0, or
//  -1 with the reason in drover_producer_error().  The first such failure
//  is final: the producer then sends nothing more, and every later call
//  returns -1 with the same reason.  (A setter's -1 is a range check only:
//  nothing is recorded, and the producer goes on.)
//  A producer is not thread-safe: use one per thread.
//
//  Signals: the library runs on CZMQ, which catches SIGINT and SIGTERM
//  unless the environment has ZSYS_SIGHANDLER=false; a call waiting on
//  the broker then fails with "interrupted".
#ifndef DROVER_DROVER_H
#define DROVER_DROVER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined (__GNUC__)
#   define DROVER_API __attribute__ ((visibility ("default")))
#else
#   define DROVER_API
#endif

#define DROVER_WINDOW_DEFAULT         8          //  batches in flight at once
#define DROVER_WINDOW_MAX             64
#define DROVER_REPLY_TIMEOUT_DEFAULT  10000      //  ms without an answer
#define DROVER_BATCH_TUPLES_DEFAULT   1000       //  tuples per SUBMIT
#define DROVER_BATCH_TUPLES_MAX       100000     //  the protocol's limit
#define DROVER_BATCH_BYTES_DEFAULT    (8 * 1024 * 1024)

//  The codes with which a broker refuses a request (proto/PROTOCOL.md,
//  section 5), as drover_producer_refused() gives them.
enum {
    DROVER_E_BAD_VERSION = 1,
    DROVER_E_BAD_FRAMES = 2,
    DROVER_E_BAD_HEADER = 3,
    DROVER_E_MISSING_FIELD = 4,
    DROVER_E_BAD_TYPE = 5,
    DROVER_E_UNKNOWN_COMMAND = 6,
    DROVER_E_TOO_LARGE = 7,
    DROVER_E_UNKNOWN_JOB = 8,           //  no such job (a new one needs a handler)
    DROVER_E_CONFLICT = 9,              //  handler or sink differ from the job's
    DROVER_E_JOB_CLOSED = 10,           //  the job takes no more tuples
    DROVER_E_QUEUE_FULL = 11,           //  handled inside: the batch is sent again
    DROVER_E_UNEXPECTED = 12,
    DROVER_E_DENIED = 13,
    DROVER_E_INTERNAL = 14,
    DROVER_E_BAD_TUPLE = 15             //  a tuple is not exactly one msgpack value
};

typedef struct drover_producer drover_producer_t;

//  A job's counters, as the broker reports them (PROTOCOL.md, JOB).
//  Since 0.2.0 (a new soname): waiting, skipped and delayed.
typedef struct {
    char state[16];                     //  "open", "closed", "complete",
                                        //  "cancelled" or "aborted"
    uint64_t submitted;
    uint64_t queued;
    uint64_t running;
    uint64_t done;                      //  ended and stored, skipped included
    uint64_t failed;                    //  dead letters
    uint64_t total;                     //  a spec job's tuples in all, or 0
    uint64_t waiting;                   //  on their dependencies (add_after)
    uint64_t skipped;                   //  of done: never ran, a dependency failed
    uint64_t delayed;                   //  of queued: before their not_before
} drover_status_t;

//  A producer for the broker frontend at endpoint ("tcp://host:port").
//  NULL if the endpoint is malformed or memory ran out; nothing is known
//  about the broker until it first answers.
DROVER_API drover_producer_t *drover_producer_new (const char *endpoint);
//  The same as a CURVE client: our secret key and the broker's public key,
//  each 40 Z85 characters.  NULL also if a key is malformed.  A wrong
//  broker key, or ours not on its allow-list, shows as no answer: CURVE
//  refuses silently.
DROVER_API drover_producer_t *drover_producer_new_curve (const char *endpoint,
                                                         const char *secret_key,
                                                         const char *broker_key);
//  Destroy the producer and set *self_p NULL.  Tuples not yet sent
//  (drover_producer_flush) are dropped.
DROVER_API void drover_producer_destroy (drover_producer_t **self_p);

//  The job's fields, sent on every SUBMIT; the strings are copied.  The
//  job name is required.  With a handler (and a sink for the results) a
//  SUBMIT creates the job; without them it only adds to a job that exists.
//  NULL or 0 leaves a field out.
DROVER_API void drover_producer_set_job (drover_producer_t *self, const char *job);
DROVER_API void drover_producer_set_handler (drover_producer_t *self, const char *handler);
DROVER_API void drover_producer_set_sink (drover_producer_t *self, const char *sink);
//  The sink's public key (Z85): agents seal results for it.
DROVER_API void drover_producer_set_sink_key (drover_producer_t *self, const char *sink_key);
//  The handler's options, JSON text that must be an object.  0, or -1 with
//  the reason in err (not final either).
DROVER_API int  drover_producer_set_options (drover_producer_t *self, const char *json,
                                             char *err, size_t errlen);
//  A spec job instead of tuples (PROTOCOL.md 10): one msgpack map (targets,
//  ports, exclude...), copied; the broker makes the tuples.  Add no tuples
//  then, just drover_producer_close.  0, or -1 if it is not one map.
DROVER_API int  drover_producer_set_spec (drover_producer_t *self, const void *map,
                                          size_t size);
DROVER_API void drover_producer_set_max_attempts (drover_producer_t *self, uint64_t attempts);
DROVER_API void drover_producer_set_timeout_ms (drover_producer_t *self, uint64_t timeout_ms);

//  SUBMITs in flight at once, 1..DROVER_WINDOW_MAX.  0, or -1 if out of range.
DROVER_API int drover_producer_set_window (drover_producer_t *self, size_t window);
//  Fail when the broker has not answered for this long (ms, > 0).  It
//  also bounds how long the broker may be away: after a broker restart,
//  every batch not answered is sent again once the connection is back.
DROVER_API int drover_producer_set_reply_timeout (drover_producer_t *self, int timeout_ms);
//  A batch goes out when it holds this many tuples (1..DROVER_BATCH_TUPLES_MAX)
//  or this many bytes (> 0), whichever comes first.  0, or -1 if out of range.
DROVER_API int drover_producer_set_batch (drover_producer_t *self, size_t tuples, size_t bytes);

//  Add one tuple, exactly one msgpack value (copied), to the batch being
//  filled; a full batch is sent, which waits while the window is full.
//  The broker never decodes tuples: only their well-formedness is checked.
DROVER_API int drover_producer_add (drover_producer_t *self, const void *tuple, size_t size);
//  Add a tuple that runs only after the tuples after names are done
//  (PROTOCOL.md 14): after is one msgpack array of dependencies, each a
//  uint (an id of this job: ids are given in the order tuples are
//  accepted, so a producer that names ids of its own batches sets the
//  window to 1) or a str "JOB:ID" (a tuple of another job).  after NULL:
//  as drover_producer_add.  The broker refuses a batch that names an id
//  its job does not have (yet), or whose tuples wait on each other.
DROVER_API int drover_producer_add_after (drover_producer_t *self, const void *tuple,
                                          size_t size, const void *after, size_t after_size);
//  Add a tuple with a priority or a not_before of its own (PROTOCOL.md
//  13.3): priority 0 to 9 (higher first), or -1 for the job's; not_before
//  in ms since the Unix epoch (the broker's clock), or 0 for the job's.
//  For the few tuples that need them: each costs the broker a record,
//  while the job's own (options "priority" and "not_before") cost nothing
//  per tuple.  A batch holds no dependencies beside them: one that does
//  is sent first, and add_after does the same the other way round.
DROVER_API int drover_producer_add_with (drover_producer_t *self, const void *tuple,
                                         size_t size, int priority, uint64_t not_before_ms);
//  The same from JSON text (one value, e.g. "[\"10.0.0.7\", 443]"), which
//  becomes msgpack as `drover submit` converts it.
DROVER_API int drover_producer_add_json (drover_producer_t *self, const char *json);
//  Send the batch being filled now, if it has tuples (e.g. when the input
//  pauses), without waiting for answers beyond a full window.
DROVER_API int drover_producer_send (drover_producer_t *self);
//  Send the batch being filled and wait until the broker accepted every
//  batch sent.
DROVER_API int drover_producer_flush (drover_producer_t *self);
//  Flush, then close the job: it takes no more tuples, and completes when
//  every one is done.
DROVER_API int drover_producer_close (drover_producer_t *self);

//  Tuples the broker accepted so far; the lowest and highest ids it gave
//  them in *first_p and *last_p (0 if none).  Either may be NULL.
DROVER_API uint64_t drover_producer_accepted (const drover_producer_t *self,
                                              uint64_t *first_p, uint64_t *last_p);
//  Flush, then ask for a job's counters (any job, not only ours).
DROVER_API int drover_producer_status (drover_producer_t *self, const char *job,
                                       drover_status_t *status);

//  The DROVER_E_* code with which the broker refused a request, or 0 if
//  nothing failed or the failure was not a refusal (no answer, interrupt).
DROVER_API int drover_producer_refused (const drover_producer_t *self);
//  What went wrong, for a person: "no answer from broker at
//  tcp://127.0.0.1:5555 after 10 s", "broker refused batch 3: CONFLICT:
//  ...".  Empty if nothing did.
DROVER_API const char *drover_producer_error (const drover_producer_t *self);

//  The library's version, "MAJOR.MINOR.PATCH".
DROVER_API const char *drover_version (void);

#ifdef __cplusplus
}
#endif

#endif
