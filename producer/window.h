//  window.h -- the producer's SUBMITs in flight: each batch's encoded
//  message, kept until the broker answers so that it can go again
//  unchanged (after QUEUE_FULL, BAD_VERSION, or a connection that dropped
//  and came back), the order they went in, and when a batch answered
//  QUEUE_FULL is due again.  Batch ids are "RUN-N": the producer's run
//  (random, so ids never repeat across runs) and the batch number.
#ifndef DROVER_WINDOW_H
#define DROVER_WINDOW_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WINDOW_MAX  64              //  batches in flight at most

//  One batch in flight.  The producer reads and sets version, submit and
//  resend_at; the window the rest.
typedef struct {
    uint64_t batch;                 //  batch number; 0 = slot free
    zmsg_t *submit;                 //  the encoded SUBMIT, kept for resends
    int version;                    //  the protocol version it is encoded in
    uint64_t sent;                  //  when it was last sent, in sends
    size_t count;                   //  tuples in it
    int64_t resend_at;              //  > 0: answered QUEUE_FULL, send then
} window_slot_t;

typedef struct window window_t;

//  An empty window for run's batches (copied), size 1.  NULL if out of
//  memory.
window_t *window_new (const char *run);
void      window_destroy (window_t **self_p);

//  Batches in flight at most, 1..WINDOW_MAX.
void   window_set_size (window_t *self, size_t size);
//  Batches in flight now; true when that is the size.
size_t window_used (const window_t *self);
bool   window_full (const window_t *self);

//  The id of batch number batch: "RUN-N", in id (size bytes).
void   window_batch_id (const window_t *self, uint64_t batch, char *id, size_t size);
//  True if id is a batch id of this run.
bool   window_ours (const window_t *self, const char *id);

//  Put batch (its SUBMIT in *submit_p, taken) in a free slot: there must be
//  one (fewer than WINDOW_MAX in flight).
window_slot_t *window_add (window_t *self, uint64_t batch, zmsg_t **submit_p,
                           int version, size_t count);
//  The broker answered slot's batch: free the slot.
void   window_remove (window_t *self, window_slot_t *slot);
//  slot is being sent now: it waits for an answer, the latest sent.
void   window_sending (window_t *self, window_slot_t *slot);

//  True while a slot other than except (may be NULL) waits for an answer
//  (not for its resend time).
bool   window_awaiting (const window_t *self, const window_slot_t *except);
//  The slot of batch id, or NULL (not ours, not in flight).
window_slot_t *window_find (window_t *self, const char *id);
//  The slot sent longest ago of those awaiting an answer, or NULL.
window_slot_t *window_oldest_awaiting (window_t *self);
//  The slots awaiting an answer, in slot order: after NULL, the first.
window_slot_t *window_next_awaiting (window_t *self, window_slot_t *after);
//  A slot whose resend time has come by now, or NULL with the earliest
//  resend time lowered into *deadline_p.
window_slot_t *window_due (window_t *self, int64_t now, int64_t *deadline_p);

#endif
