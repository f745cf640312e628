//  limits.c -- see limits.h.  Per job with a limit: a limiter (its keys'
//  buckets and running counts), the tuples set aside per key (FIFOs, so a
//  key's tuples keep their order), and which running tuple holds which
//  key, to release it when the tuple stops.  Jobs are found by name; a
//  job without a limit has an entry with no limiter, so its options are
//  read once.
#include "broker/limits.h"
#include "broker/labels.h"
#include "common/log.h"
#include "common/peerlog.h"
#include "spec/limiter.h"
#include "spec/tuple_peek.h"

#include <errno.h>
#include <inttypes.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LIMITS_KEYS 65536               //  keys remembered per job

typedef enum { KEY_HOST, KEY_NET, KEY_JOB, KEY_ELEMENT } key_kind_t;

typedef struct {
    job_t *job;
    limiter_t *limiter;                 //  NULL: the job has no limit
    key_kind_t kind;
    uint32_t element;
    zhashx_t *aside;                    //  key (hex) -> zlistx_t of queue_tuple_t
    size_t aside_count;
    zhashx_t *running;                  //  tuple id (decimal) -> limit_key_t
} job_limits_t;

struct limits {
    zhashx_t *jobs;                     //  name -> job_limits_t
    size_t aside;                       //  tuples set aside, all jobs
};

static int64_t
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
s_tuple_destroy (queue_tuple_t **tuple_p)
{
    if (*tuple_p)
        payload_drop (&(*tuple_p)->payload);
    free (*tuple_p);
    *tuple_p = NULL;
}

static void
s_job_limits_destroy (job_limits_t **self_p)
{
    job_limits_t *self = *self_p;
    if (!self)
        return;
    limiter_destroy (&self->limiter);
    zhashx_destroy (&self->aside);
    zhashx_destroy (&self->running);
    free (self);
    *self_p = NULL;
}

limits_t *
limits_new (void)
{
    limits_t *self = calloc (1, sizeof *self);
    if (self && !(self->jobs = zhashx_new ()))
        limits_destroy (&self);
    if (self)
        zhashx_set_destructor (self->jobs, (zhashx_destructor_fn *) s_job_limits_destroy);
    return self;
}

void
limits_destroy (limits_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    limits_t *self = *self_p;
    zhashx_destroy (&self->jobs);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  A job's limit, from its options

static bool
s_is (const msgpack_object *o, const char *text)
{
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen (text)
        && !memcmp (o->via.str.ptr, text, o->via.str.size);
}

static double
s_number (const msgpack_object *o)
{
    return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER? (double) o->via.u64
         : o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32? o->via.f64
         : -1;
}

//  The "limit" map into config and the key's kind.  0, or -1 if malformed.
static int
s_parse_limit (const msgpack_object *map, limiter_config_t *config, job_limits_t *limits)
{
    if (map->type != MSGPACK_OBJECT_MAP)
        return -1;
    *config = (limiter_config_t) { .burst = 1, .max_keys = LIMITS_KEYS };
    limits->kind = KEY_HOST;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *key = &map->via.map.ptr[i].key;
        const msgpack_object *val = &map->via.map.ptr[i].val;
        double number = s_number (val);
        if (s_is (key, "key"))
            if (val->type == MSGPACK_OBJECT_POSITIVE_INTEGER && val->via.u64 < 1024) {
                limits->kind = KEY_ELEMENT;
                limits->element = (uint32_t) val->via.u64;
            }
            else
                limits->kind = s_is (val, "host")? KEY_HOST: s_is (val, "net")? KEY_NET
                             : s_is (val, "job")? KEY_JOB: (key_kind_t) -1;
        else
        if (s_is (key, "rate") && number >= 0)
            config->rate = number;
        else
        if (s_is (key, "burst") && number >= 1 && number <= UINT32_MAX)
            config->burst = (uint32_t) number;
        else
        if (s_is (key, "concurrency") && number >= 0 && number <= UINT32_MAX)
            config->concurrency = (uint32_t) number;
        else
            return -1;
    }
    return (int) limits->kind < 0 || (config->rate == 0 && config->concurrency == 0)? -1: 0;
}

//  The limiter of job's options, or NULL (no limit, or a malformed one:
//  logged).
static void
s_read_options (job_limits_t *limits, job_t *job)
{
    size_t size;
    const void *options = job_options (job, &size);
    if (!options || !memmem (options, size, "\xa5limit", 6))
        return;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *o = &unpacked.data;
    if (msgpack_unpack_next (&unpacked, options, size, NULL) == MSGPACK_UNPACK_SUCCESS
    &&  o->type == MSGPACK_OBJECT_MAP)
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            if (!s_is (&o->via.map.ptr[i].key, "limit"))
                continue;
            limiter_config_t config;
            if (s_parse_limit (&o->via.map.ptr[i].val, &config, limits) == 0)
                limits->limiter = limiter_new (&config);
            if (!limits->limiter)
                log_error ("job %s: its limit is not {\"key\": host|net|job|N, \"rate\": R, "
                           "\"burst\": B, \"concurrency\": C}, or out of range: ignored",
                           peerlog_str (job_name (job)).text);
        }
    msgpack_unpacked_destroy (&unpacked);
}

//  The job's entry, made on first sight.  NULL if out of memory.
static job_limits_t *
s_job (limits_t *self, job_t *job)
{
    job_limits_t *limits = (job_limits_t *) zhashx_lookup (self->jobs, job_name (job));
    if (limits)
        return limits;
    limits = calloc (1, sizeof *limits);
    if (!limits)
        return NULL;
    limits->job = job;
    s_read_options (limits, job);
    limits->aside = zhashx_new ();
    limits->running = zhashx_new ();
    if (!limits->aside || !limits->running
    ||  zhashx_insert (self->jobs, job_name (job), limits)) {
        s_job_limits_destroy (&limits);
        return NULL;
    }
    zhashx_set_destructor (limits->aside, (zhashx_destructor_fn *) zlistx_destroy);
    zhashx_set_destructor (limits->running, (zhashx_destructor_fn *) zstr_free);
    return limits;
}

//  ---------------------------------------------------------------------
//  Keys

//  A tuple's key; a tuple without the part the key is read from is a key
//  of its own bytes.
static void
s_key (const job_limits_t *limits, payload_t payload, limit_key_t *key)
{
    size_t size;
    const void *data = payload_data (payload, &size);
    tuple_target_t target;
    const void *element;
    size_t element_size;
    memset (key, 0, sizeof *key);
    if (limits->kind == KEY_JOB)
        return;
    if (limits->kind == KEY_ELEMENT)
        if (tuple_peek_element (data, size, limits->element, NULL, &element, &element_size) == 0)
            limit_key_bytes (key, element, element_size);
        else
            limit_key_bytes (key, data, size);
    else
    if (tuple_peek_target (data, size, &target) == 0)
        limit_key_host (key, target.host, target.host_len, limits->kind == KEY_NET);
    else
        limit_key_bytes (key, data, size);
}

static void
s_hex (const limit_key_t *key, char hex[33])
{
    for (int i = 0; i < 16; i++)
        snprintf (hex + 2 * i, 3, "%02x", key->bytes[i]);
}

//  Remember that tuple id holds key (released when it stops).
static void
s_running (job_limits_t *limits, uint64_t id, const limit_key_t *key)
{
    char name[24];
    snprintf (name, sizeof name, "%" PRIu64, id);
    char *hex = malloc (33);
    if (hex) {
        s_hex (key, hex);
        zhashx_update (limits->running, name, hex);
    }
}

//  Set tuple aside under key.  -1 if out of memory (the caller keeps it).
static int
s_aside (job_limits_t *limits, const char *hex, const queue_tuple_t *tuple)
{
    zlistx_t *list = (zlistx_t *) zhashx_lookup (limits->aside, hex);
    if (!list && (list = zlistx_new ())) {
        zlistx_set_destructor (list, (zlistx_destructor_fn *) s_tuple_destroy);
        if (zhashx_insert (limits->aside, hex, list))
            zlistx_destroy (&list);
    }
    queue_tuple_t *copy = list? malloc (sizeof *copy): NULL;
    if (!copy || !zlistx_add_end (list, copy)) {
        free (copy);
        return -1;
    }
    *copy = *tuple;
    limits->aside_count++;
    return 0;
}

//  ---------------------------------------------------------------------
//  Dispatch's calls

size_t
limits_admit (limits_t *self, job_t *job, queue_tuple_t *tuples, size_t count)
{
    job_limits_t *limits = s_job (self, job);
    if (!limits || !limits->limiter)
        return count;
    int64_t now = s_now ();
    size_t kept = 0;
    for (size_t i = 0; i < count; i++) {
        if (tuples[i].attempt > job_max_attempts (job)) {
            tuples[kept++] = tuples[i];         //  a dead letter runs nothing
            continue;
        }
        limit_key_t key;
        char hex[33];
        s_key (limits, tuples[i].payload, &key);
        s_hex (&key, hex);
        zlistx_t *waiting = (zlistx_t *) zhashx_lookup (limits->aside, hex);
        int64_t ready_at;
        if ((!waiting || zlistx_size (waiting) == 0)
        &&  limiter_acquire (limits->limiter, &key, now, &ready_at) == 0) {
            s_running (limits, tuples[i].id, &key);
            tuples[kept++] = tuples[i];
        }
        else
        //  A key the table cannot track (every key in use), or out of
        //  memory: the tuple goes over its limit rather than never.
        if (limiter_wait (limits->limiter, &key, now) == 0
        &&  s_aside (limits, hex, &tuples[i]) == 0)
            self->aside++;
        else
            tuples[kept++] = tuples[i];
    }
    return kept;
}

//  Up to max set-aside tuples of limits' job whose keys may go at now.
static size_t
s_ready (job_limits_t *limits, int64_t now, size_t max, queue_tuple_t *out)
{
    size_t n = 0;
    limit_key_t key;
    while (n < max && limiter_next (limits->limiter, now, &key)) {
        char hex[33];
        s_hex (&key, hex);
        zlistx_t *waiting = (zlistx_t *) zhashx_lookup (limits->aside, hex);
        if (!waiting || zlistx_size (waiting) == 0)
            continue;
        int64_t ready_at;
        if (limiter_acquire (limits->limiter, &key, now, &ready_at)) {
            limiter_wait (limits->limiter, &key, now);
            break;
        }
        queue_tuple_t *tuple = (queue_tuple_t *) zlistx_detach (waiting, NULL);
        out[n++] = *tuple;
        free (tuple);
        limits->aside_count--;
        s_running (limits, out[n - 1].id, &key);
        if (zlistx_size (waiting) > 0)
            limiter_wait (limits->limiter, &key, now);
        else
            zhashx_delete (limits->aside, hex);
    }
    return n;
}

size_t
limits_ready (limits_t *self, const char *labels, size_t max, queue_tuple_t *out,
              job_t **job_p)
{
    if (self->aside == 0)
        return 0;
    int64_t now = s_now ();
    for (job_limits_t *limits = (job_limits_t *) zhashx_first (self->jobs); limits;
         limits = (job_limits_t *) zhashx_next (self->jobs)) {
        size_t size;
        const void *options = job_options (limits->job, &size);
        if (limits->aside_count == 0 || !labels_fit (labels, options, size))
            continue;
        size_t n = s_ready (limits, now, max, out);
        self->aside -= n;
        if (n > 0) {
            *job_p = limits->job;
            return n;
        }
    }
    return 0;
}

size_t
limits_aside (const limits_t *self)
{
    return self->aside;
}

bool
limits_full (limits_t *self, const job_t *job)
{
    job_limits_t *limits = (job_limits_t *) zhashx_lookup (self->jobs, job_name (job));
    return limits && limits->aside_count >= LIMITS_ASIDE_MAX;
}

void
limits_ended (limits_t *self, const job_t *job, uint64_t id)
{
    job_limits_t *limits = (job_limits_t *) zhashx_lookup (self->jobs, job_name (job));
    if (!limits || !limits->limiter)
        return;
    char name[24];
    snprintf (name, sizeof name, "%" PRIu64, id);
    const char *hex = (const char *) zhashx_lookup (limits->running, name);
    if (!hex)
        return;
    limit_key_t key;
    for (int i = 0; i < 16; i++) {
        unsigned byte;
        sscanf (hex + 2 * i, "%2x", &byte);
        key.bytes[i] = (uint8_t) byte;
    }
    limiter_release (limits->limiter, &key, s_now ());
    zhashx_delete (limits->running, name);
}

void
limits_sweep (limits_t *self)
{
    //  Deleting while iterating loses the cursor: collect names first.
    zlist_t *complete = zlist_new ();
    for (job_limits_t *limits = (job_limits_t *) zhashx_first (self->jobs);
         limits && complete; limits = (job_limits_t *) zhashx_next (self->jobs))
        if (job_state (limits->job) == JOB_COMPLETE && limits->aside_count == 0)
            zlist_append (complete, (void *) job_name (limits->job));
    for (const char *name = complete? zlist_first (complete): NULL; name;
         name = zlist_next (complete))
        zhashx_delete (self->jobs, name);
    zlist_destroy (&complete);
}

int64_t
limits_wait_ms (const limits_t *self)
{
    if (self->aside == 0)
        return -1;
    int64_t next = INT64_MAX;
    zhashx_t *jobs = self->jobs;            //  iterating moves its cursor only
    for (job_limits_t *limits = (job_limits_t *) zhashx_first (jobs); limits;
         limits = (job_limits_t *) zhashx_next (jobs))
        if (limits->limiter && limits->aside_count > 0) {
            int64_t at = limiter_next_at (limits->limiter);
            next = at < next? at: next;
        }
    if (next == INT64_MAX)
        return -1;
    if (next == INT64_MIN)
        return 0;                           //  one may go now
    int64_t wait = next - s_now ();
    return wait <= 0? 0: (wait + 999999) / 1000000;
}
