//  delay.c -- see delay.h.  An array heap: push and pop are O(log n) with
//  no allocation per tuple once the array has grown.
#include "broker/delay.h"

#include <errno.h>
#include <stdlib.h>

typedef struct {
    int64_t due;
    job_t *job;
    queue_tuple_t tuple;
} entry_t;

struct delay {
    entry_t *heap;
    size_t size;
    size_t capacity;
};

delay_t *
delay_new (void)
{
    return calloc (1, sizeof (delay_t));
}

void
delay_destroy (delay_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    delay_t *self = *self_p;
    for (size_t i = 0; i < self->size; i++)
        payload_drop (&self->heap[i].tuple.payload);
    free (self->heap);
    free (self);
    *self_p = NULL;
}

int
delay_push (delay_t *self, int64_t due, job_t *job, queue_tuple_t *tuple)
{
    if (self->size == self->capacity) {
        size_t capacity = self->capacity? self->capacity * 2: 64;
        entry_t *heap = realloc (self->heap, capacity * sizeof *heap);
        if (!heap)
            return -ENOMEM;
        self->heap = heap;
        self->capacity = capacity;
    }
    size_t i = self->size++;
    entry_t entry = { due, job, *tuple };
    tuple->payload = (payload_t) { 0 };
    while (i > 0 && self->heap[(i - 1) / 2].due > due) {
        self->heap[i] = self->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    self->heap[i] = entry;
    return 0;
}

//  Move heap[i] down to where it belongs.
static void
s_sift_down (delay_t *self, size_t i)
{
    entry_t last = self->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= self->size)
            break;
        if (child + 1 < self->size && self->heap[child + 1].due < self->heap[child].due)
            child++;
        if (self->heap[child].due >= last.due)
            break;
        self->heap[i] = self->heap[child];
        i = child;
    }
    self->heap[i] = last;
}

bool
delay_pop (delay_t *self, int64_t now, job_t **job_p, queue_tuple_t *tuple_p)
{
    if (self->size == 0 || self->heap[0].due > now)
        return false;
    *job_p = self->heap[0].job;
    *tuple_p = self->heap[0].tuple;
    self->heap[0] = self->heap[--self->size];
    if (self->size > 0)
        s_sift_down (self, 0);
    return true;
}

void
delay_drain_job (delay_t *self, const job_t *job, delay_fn *fn, void *arg)
{
    size_t kept = 0;
    for (size_t i = 0; i < self->size; i++)
        if (self->heap[i].job == job)
            fn (arg, self->heap[i].job, &self->heap[i].tuple);
        else
            self->heap[kept++] = self->heap[i];
    self->size = kept;
    for (size_t i = kept / 2; i-- > 0;)
        s_sift_down (self, i);
}

int64_t
delay_next (const delay_t *self)
{
    return self->size? self->heap[0].due: INT64_MAX;
}

size_t
delay_size (const delay_t *self)
{
    return self->size;
}
