//  limiter.c -- keyed rate and concurrency limits (limiter.h).
//
//  Entries live in one array; a hash of chains (indices) finds them.  Each
//  entry is on at most one list: idle (LRU order, may be evicted), ready
//  (waiting, may go now), or a slot of the wheel (waiting on its rate).
//  A key waiting on a tuple to finish is on no list until one does.
//
//  The wheel: a key denied by its rate may go within one period, so 256
//  slots of period/254 each cover every wait; a slot is ready once its
//  end has passed (at most a slot late), and a bitmap of occupied slots
//  finds the next one without a scan.
#include "spec/limiter.h"
#include "spec/address.h"
#include "spec/permutation.h"
#include "spec/rate.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define WHEEL_SLOTS 256
#define NONE (-1)

typedef enum { ON_NONE, ON_IDLE, ON_READY, ON_WHEEL } list_id_t;

typedef struct {
    limit_key_t key;
    int64_t tat;                //  the key's rate (rate.h); 0: rested
    uint32_t running;
    int32_t chain;              //  next in its hash bucket, or in the free list
    int32_t prev, next;         //  on its list
    uint8_t list;               //  list_id_t
    bool waiting;
    uint16_t slot;              //  ON_WHEEL: which
} entry_t;

typedef struct {
    int32_t head, tail;
} list_t;

struct limiter {
    limiter_config_t config;
    rate_t rate;
    bool has_rate;
    entry_t *entries;
    int32_t *buckets;
    uint32_t bucket_mask;
    int32_t free;               //  unused entries, through chain
    size_t used;
    list_t idle, ready;
    list_t wheel[WHEEL_SLOTS];
    uint64_t occupied[WHEEL_SLOTS / 64];
    size_t on_wheel;
    int64_t slot_ns;            //  one slot of the wheel
    int64_t cursor;             //  the first slot not yet due (absolute)
};

//  Keys ----------------------------------------------------------------

//  Two 64-bit lanes of FNV-1a, mixed: plenty for keys (a collision only
//  makes two keys share a limit).
typedef struct {
    uint64_t a, b;
} hash_t;

static void
s_hash_byte (hash_t *hash, uint8_t byte)
{
    hash->a = (hash->a ^ byte) * 0x100000001b3ull;
    hash->b = (hash->b ^ byte) * 0x9e3779b97f4a7c15ull + 1;
}

static void
s_hash_done (hash_t *hash, uint8_t tag, limit_key_t *key)
{
    s_hash_byte (hash, tag);
    uint64_t a = permutation_mix (hash->a ^ (hash->b >> 7));
    uint64_t b = permutation_mix (hash->b ^ a);
    memcpy (key->bytes, &a, 8);
    memcpy (key->bytes + 8, &b, 8);
}

void
limit_key_bytes (limit_key_t *key, const void *data, size_t len)
{
    hash_t hash = { 0xcbf29ce484222325ull, 0x84222325cbf29ce4ull };
    for (size_t i = 0; i < len; i++)
        s_hash_byte (&hash, ((const uint8_t *) data)[i]);
    s_hash_done (&hash, 'b', key);
}

void
limit_key_host (limit_key_t *key, const char *host, size_t len, bool network)
{
    address_t address;
    if (address_parse (host, len, &address) > 0) {
        if (network)
            address &= address_is_v4 (address)? ~(address_t) 0xff: ~(address_t) 0 << 64;
        address_to_bytes (address, key->bytes);
        return;
    }
    hash_t hash = { 0xcbf29ce484222325ull, 0x84222325cbf29ce4ull };
    for (size_t i = 0; i < len; i++)
        s_hash_byte (&hash, (uint8_t) tolower ((unsigned char) host[i]));
    s_hash_done (&hash, 'n', key);
}

//  Lists ---------------------------------------------------------------

static void
s_push (limiter_t *self, list_t *list, list_id_t id, int32_t i)
{
    entry_t *entry = &self->entries[i];
    entry->list = (uint8_t) id;
    entry->prev = list->tail;
    entry->next = NONE;
    if (list->tail != NONE)
        self->entries[list->tail].next = i;
    else
        list->head = i;
    list->tail = i;
}

static list_t *
s_list_of (limiter_t *self, const entry_t *entry)
{
    switch (entry->list) {
        case ON_IDLE:  return &self->idle;
        case ON_READY: return &self->ready;
        case ON_WHEEL: return &self->wheel[entry->slot];
        default:       return NULL;
    }
}

static void
s_unlink (limiter_t *self, int32_t i)
{
    entry_t *entry = &self->entries[i];
    list_t *list = s_list_of (self, entry);
    if (!list)
        return;
    if (entry->prev != NONE)
        self->entries[entry->prev].next = entry->next;
    else
        list->head = entry->next;
    if (entry->next != NONE)
        self->entries[entry->next].prev = entry->prev;
    else
        list->tail = entry->prev;
    if (entry->list == ON_WHEEL) {
        self->on_wheel--;
        if (list->head == NONE)
            self->occupied[entry->slot / 64] &= ~(1ull << (entry->slot % 64));
    }
    entry->list = ON_NONE;
}

//  The table -------------------------------------------------------------

static uint32_t
s_bucket (const limiter_t *self, const limit_key_t *key)
{
    uint64_t a, b;
    memcpy (&a, key->bytes, 8);
    memcpy (&b, key->bytes + 8, 8);
    return (uint32_t) permutation_mix (a ^ permutation_mix (b)) & self->bucket_mask;
}

static int32_t
s_find (const limiter_t *self, const limit_key_t *key)
{
    int32_t i = self->buckets[s_bucket (self, key)];
    while (i != NONE && memcmp (self->entries[i].key.bytes, key->bytes, sizeof key->bytes))
        i = self->entries[i].chain;
    return i;
}

static void
s_forget (limiter_t *self, int32_t i)
{
    int32_t *link = &self->buckets[s_bucket (self, &self->entries[i].key)];
    while (*link != i)
        link = &self->entries[*link].chain;
    *link = self->entries[i].chain;
    s_unlink (self, i);
    self->used--;
}

//  The entry of key, made if new (evicting the key idle longest if the
//  table is full); NONE if full of keys in use.
static int32_t
s_get (limiter_t *self, const limit_key_t *key)
{
    int32_t i = s_find (self, key);
    if (i != NONE)
        return i;
    if (self->free == NONE && self->idle.head != NONE) {
        int32_t old = self->idle.head;
        s_forget (self, old);
        self->entries[old].chain = self->free;
        self->free = old;
    }
    if (self->free == NONE)
        return NONE;
    i = self->free;
    entry_t *entry = &self->entries[i];
    self->free = entry->chain;
    *entry = (entry_t) { .key = *key, .prev = NONE, .next = NONE, .list = ON_NONE };
    uint32_t bucket = s_bucket (self, key);
    entry->chain = self->buckets[bucket];
    self->buckets[bucket] = i;
    self->used++;
    return i;
}

//  After any change: a key with nothing running and nothing waiting goes
//  to the idle list's tail (most recently used).
static void
s_settle (limiter_t *self, int32_t i)
{
    entry_t *entry = &self->entries[i];
    if (entry->running == 0 && !entry->waiting) {
        s_unlink (self, i);
        s_push (self, &self->idle, ON_IDLE, i);
    }
}

//  Whether key may go at now; if not, when (INT64_MAX: when one of its
//  tuples finishes).
static bool
s_can_go (const limiter_t *self, const entry_t *entry, int64_t now, int64_t *ready_at)
{
    if (self->config.concurrency && entry->running >= self->config.concurrency) {
        *ready_at = INT64_MAX;
        return false;
    }
    if (self->has_rate && now < rate_ready_at (&self->rate, entry->tat)) {
        *ready_at = rate_ready_at (&self->rate, entry->tat);
        return false;
    }
    return true;
}

//  The wheel -------------------------------------------------------------

//  Move the slots whose end has passed to the ready list.
static void
s_advance (limiter_t *self, int64_t now)
{
    int64_t due = now / self->slot_ns;
    while (self->cursor < due && self->on_wheel > 0) {
        list_t *slot = &self->wheel[self->cursor % WHEEL_SLOTS];
        while (slot->head != NONE) {
            int32_t i = slot->head;
            s_unlink (self, i);
            s_push (self, &self->ready, ON_READY, i);
        }
        self->cursor++;
    }
    if (self->cursor < due)
        self->cursor = due;
}

//  A waiting key goes where it waits: ready, on the wheel, or on no list
//  until one of its tuples finishes.
static void
s_place (limiter_t *self, int32_t i, int64_t now)
{
    s_advance (self, now);
    s_unlink (self, i);
    int64_t ready_at;
    if (s_can_go (self, &self->entries[i], now, &ready_at)) {
        s_push (self, &self->ready, ON_READY, i);
        return;
    }
    if (ready_at == INT64_MAX)
        return;
    int64_t slot = ready_at / self->slot_ns;
    slot = slot < self->cursor? self->cursor: slot;
    slot = slot >= self->cursor + WHEEL_SLOTS? self->cursor + WHEEL_SLOTS - 1: slot;
    uint16_t index = (uint16_t) (slot % WHEEL_SLOTS);
    self->entries[i].slot = index;
    s_push (self, &self->wheel[index], ON_WHEEL, i);
    self->occupied[index / 64] |= 1ull << (index % 64);
    self->on_wheel++;
}

//  The API ---------------------------------------------------------------

limiter_t *
limiter_new (const limiter_config_t *config)
{
    if (config->max_keys < 1 || config->max_keys > 1u << 24 || !(config->rate >= 0))
        return NULL;
    limiter_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    self->has_rate = config->rate > 0;
    if (self->has_rate && rate_init (&self->rate, config->rate, config->burst)) {
        free (self);
        return NULL;
    }
    int64_t period = self->has_rate? self->rate.period_ns: 1;
    self->slot_ns = (period + WHEEL_SLOTS - 3) / (WHEEL_SLOTS - 2);
    self->slot_ns = self->slot_ns < 1? 1: self->slot_ns;
    uint32_t buckets = 1;
    while (buckets < config->max_keys * 2)
        buckets *= 2;
    self->bucket_mask = buckets - 1;
    self->entries = calloc (config->max_keys, sizeof *self->entries);
    self->buckets = malloc (buckets * sizeof *self->buckets);
    if (!self->entries || !self->buckets) {
        limiter_destroy (&self);
        return NULL;
    }
    for (uint32_t b = 0; b < buckets; b++)
        self->buckets[b] = NONE;
    for (uint32_t i = 0; i < config->max_keys; i++)
        self->entries[i].chain = i + 1 < config->max_keys? (int32_t) i + 1: NONE;
    self->idle = self->ready = (list_t) { NONE, NONE };
    for (int s = 0; s < WHEEL_SLOTS; s++)
        self->wheel[s] = (list_t) { NONE, NONE };
    return self;
}

void
limiter_destroy (limiter_t **self_p)
{
    limiter_t *self = *self_p;
    if (!self)
        return;
    free (self->entries);
    free (self->buckets);
    free (self);
    *self_p = NULL;
}

int
limiter_acquire (limiter_t *self, const limit_key_t *key, int64_t now, int64_t *ready_at)
{
    int32_t i = s_get (self, key);
    if (i == NONE)
        return -ENOSPC;
    entry_t *entry = &self->entries[i];
    int64_t when;
    if (!s_can_go (self, entry, now, &when)) {
        if (ready_at)
            *ready_at = when;
        s_settle (self, i);
        return -EAGAIN;
    }
    if (self->has_rate)
        rate_take (&self->rate, &entry->tat, now, NULL);
    entry->running++;
    if (entry->list == ON_IDLE)
        s_unlink (self, i);
    return 0;
}

void
limiter_release (limiter_t *self, const limit_key_t *key, int64_t now)
{
    int32_t i = s_find (self, key);
    if (i == NONE)
        return;
    entry_t *entry = &self->entries[i];
    if (entry->running > 0)
        entry->running--;
    if (entry->waiting && entry->list == ON_NONE)
        s_place (self, i, now);
    s_settle (self, i);
}

int
limiter_wait (limiter_t *self, const limit_key_t *key, int64_t now)
{
    int32_t i = s_get (self, key);
    if (i == NONE)
        return -ENOSPC;
    if (!self->entries[i].waiting) {
        self->entries[i].waiting = true;
        s_place (self, i, now);
    }
    return 0;
}

bool
limiter_next (limiter_t *self, int64_t now, limit_key_t *key)
{
    s_advance (self, now);
    while (self->ready.head != NONE) {
        int32_t i = self->ready.head;
        entry_t *entry = &self->entries[i];
        s_unlink (self, i);
        int64_t when;
        if (s_can_go (self, entry, now, &when)) {
            entry->waiting = false;
            *key = entry->key;
            s_settle (self, i);
            return true;
        }
        s_place (self, i, now);     //  acquired meanwhile: wait again
    }
    return false;
}

int64_t
limiter_next_at (const limiter_t *self)
{
    if (self->ready.head != NONE)
        return INT64_MIN;
    if (self->on_wheel == 0)
        return INT64_MAX;
    //  The first occupied slot from the cursor on, around the wheel, a
    //  word of the bitmap at a time (slots passed over are empty).
    int start = (int) (self->cursor % WHEEL_SLOTS);
    for (int distance = 0; distance < WHEEL_SLOTS; ) {
        int at = (start + distance) % WHEEL_SLOTS;
        uint64_t bits = self->occupied[at / 64] >> (at % 64);
        if (bits)
            return (self->cursor + distance + __builtin_ctzll (bits) + 1) * self->slot_ns;
        distance += 64 - at % 64;
    }
    return INT64_MAX;
}

size_t
limiter_keys (const limiter_t *self)
{
    return self->used;
}
