//  lat.c -- see lat.h.  One send stamp and one seen stamp per tuple; a seen
//  stamp of 0 means "not yet", so the clock is offset to never read 0.
#include "bench/lat.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

struct lat {
    size_t count;
    uint64_t *sent_us;
    uint64_t *seen_us;
    size_t done;                    //  atomic
    size_t duplicates;              //  atomic
    size_t wanted;                  //  atomic: lat_wait's target, SIZE_MAX if none
    uint64_t first_sent;            //  atomic
    uint64_t last_seen;             //  atomic
    pthread_mutex_t mutex;
    pthread_cond_t cond;
};

uint64_t
lat_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000 + 1;
}

//  Write every page of stamps now: calloc's fresh pages would fault in
//  during the pass, and count as the bench's CPU there.  (Atomic stores,
//  which the compiler cannot drop as writes of what is already 0.)
static void
s_touch (uint64_t *stamps, size_t count)
{
    for (size_t i = 0; i < count; i += 4096 / sizeof (uint64_t))
        __atomic_store_n (&stamps[i], 0, __ATOMIC_RELAXED);
}

lat_t *
lat_new (size_t count)
{
    lat_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->count = count;
    self->sent_us = calloc (count? count: 1, sizeof (uint64_t));
    self->seen_us = calloc (count? count: 1, sizeof (uint64_t));
    if (!self->sent_us || !self->seen_us) {
        lat_destroy (&self);
        return NULL;
    }
    s_touch (self->sent_us, count);
    s_touch (self->seen_us, count);
    self->wanted = SIZE_MAX;
    pthread_mutex_init (&self->mutex, NULL);
    pthread_cond_init (&self->cond, NULL);
    return self;
}

void
lat_destroy (lat_t **self_p)
{
    lat_t *self = *self_p;
    if (!self)
        return;
    if (self->sent_us && self->seen_us) {
        pthread_cond_destroy (&self->cond);
        pthread_mutex_destroy (&self->mutex);
    }
    free (self->sent_us);
    free (self->seen_us);
    free (self);
    *self_p = NULL;
}

size_t
lat_count (const lat_t *self)
{
    return self->count;
}

void
lat_sent (lat_t *self, size_t seq, uint64_t now_us)
{
    lat_sent_batch (self, seq, 1, now_us);
}

void
lat_sent_batch (lat_t *self, size_t first, size_t count, uint64_t now_us)
{
    if (first >= self->count)
        return;
    if (count > self->count - first)
        count = self->count - first;
    //  Release: the observer that reads a stamp saw the tuple's result,
    //  which left this thread after the store.
    for (size_t seq = first; seq < first + count; seq++)
        __atomic_store_n (&self->sent_us[seq], now_us, __ATOMIC_RELEASE);
    uint64_t expected = 0;
    __atomic_compare_exchange_n (&self->first_sent, &expected, now_us, false,
                                 __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

bool
lat_seen (lat_t *self, size_t seq, uint64_t now_us)
{
    if (seq >= self->count
    ||  __atomic_load_n (&self->sent_us[seq], __ATOMIC_ACQUIRE) == 0)
        return false;
    if (self->seen_us[seq] != 0) {
        __atomic_add_fetch (&self->duplicates, 1, __ATOMIC_RELAXED);
        return false;
    }
    self->seen_us[seq] = now_us;
    __atomic_store_n (&self->last_seen, now_us, __ATOMIC_RELAXED);
    __atomic_add_fetch (&self->done, 1, __ATOMIC_SEQ_CST);    //  see lat_notify
    return true;
}

size_t
lat_done (const lat_t *self)
{
    return __atomic_load_n (&self->done, __ATOMIC_ACQUIRE);
}

size_t
lat_duplicates (const lat_t *self)
{
    return __atomic_load_n (&self->duplicates, __ATOMIC_RELAXED);
}

void
lat_notify (lat_t *self)
{
    //  Wake the waiter only when what it waits for is in: each wake is a
    //  context switch on CPUs the system under test needs.  Sequentially
    //  consistent on both sides (done then wanted here, wanted then done
    //  in lat_wait), so one of the two sees the other's write.
    if (__atomic_load_n (&self->done, __ATOMIC_SEQ_CST)
      < __atomic_load_n (&self->wanted, __ATOMIC_SEQ_CST))
        return;
    //  The waiter checks done and sleeps under the mutex, so taking it
    //  once is enough for it to see done or get the broadcast; sent after
    //  the unlock, the broadcast does not wake it into a mutex still held.
    pthread_mutex_lock (&self->mutex);
    pthread_mutex_unlock (&self->mutex);
    pthread_cond_broadcast (&self->cond);
}

size_t
lat_wait (lat_t *self, size_t target, int timeout_ms)
{
    struct timespec deadline;
    clock_gettime (CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long) (timeout_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock (&self->mutex);
    __atomic_store_n (&self->wanted, target, __ATOMIC_SEQ_CST);
    while (__atomic_load_n (&self->done, __ATOMIC_SEQ_CST) < target
    &&     pthread_cond_timedwait (&self->cond, &self->mutex, &deadline) == 0)
        ;
    __atomic_store_n (&self->wanted, SIZE_MAX, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock (&self->mutex);
    return lat_done (self);
}

uint64_t
lat_first_sent (const lat_t *self)
{
    return __atomic_load_n (&self->first_sent, __ATOMIC_RELAXED);
}

uint64_t
lat_last_seen (const lat_t *self)
{
    return __atomic_load_n (&self->last_seen, __ATOMIC_RELAXED);
}

size_t
lat_export (const lat_t *self, uint64_t *out)
{
    size_t n = 0;
    for (size_t seq = 0; seq < self->count; seq++)
        if (self->seen_us[seq])
            out[n++] = self->seen_us[seq] - self->sent_us[seq];
    return n;
}
