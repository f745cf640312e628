//  campaign.c -- see campaign.h.  A spec job's stored form is one byte of
//  format, the walk's seed (8 bytes, big-endian), then spec_save's bytes;
//  jobs keep it opaque (job_set_spec) and the store writes it with the job.
//  Each expanding job has an entry here holding its parsed spec and walk,
//  a few hundred bytes whatever the size of the scan.
#include "broker/campaign.h"
#include "broker/each.h"
#include "broker/store_record.h"
#include "common/log.h"
#include "common/peerlog.h"
#include "spec/spec.h"

#include <errno.h>
#include <inttypes.h>
#include <msgpack.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define SPEC_FORMAT   1
#define SPEC_PREFIX   9                     //  format byte and seed
#define WINDOW_MAX    (2 * CAMPAIGN_LOW_WATER)

struct campaign_spec {
    spec_t *spec;
    unsigned char *stored;                  //  the stored form
    size_t stored_size;
};

//  A spec job still expanding.
typedef struct {
    job_t *job;                             //  the jobs table's
    spec_t *spec;
    walk_t *walk;
    void *handle;                           //  in campaign's list
    bool done;                              //  walk used up: to delete
} entry_t;

struct campaign {
    jobs_t *jobs;
    each_t *each;                           //  runs of jobs with each, or NULL
    zlistx_t *entries;                      //  entry_t
};

static void
s_entry_destroy (entry_t **entry_p)
{
    entry_t *entry = *entry_p;
    if (!entry)
        return;
    spec_destroy (&entry->spec);
    walk_destroy (&entry->walk);
    free (entry);
    *entry_p = NULL;
}

campaign_t *
campaign_new (jobs_t *jobs)
{
    campaign_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->jobs = jobs;
    self->entries = zlistx_new ();
    if (!self->entries) {
        campaign_destroy (&self);
        return NULL;
    }
    zlistx_set_destructor (self->entries, (zlistx_destructor_fn *) s_entry_destroy);
    return self;
}

void
campaign_set_each (campaign_t *self, each_t *each)
{
    self->each = each;
}

void
campaign_destroy (campaign_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    campaign_t *self = *self_p;
    zlistx_destroy (&self->entries);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  The spec a SUBMIT carries

//  The spec map's str values as C strings (spec_source_t's fields), and
//  its seed.  The broker never reads a file a producer names: files are
//  the producer's to read and send as text.
typedef struct {
    char *text[4];                          //  targets, ports, exclude, exclude_ports
    uint64_t seed;
    bool has_seed;
} spec_fields_t;

static const char *const s_keys[] = { "targets", "ports", "exclude", "exclude_ports" };

static int
s_field (spec_fields_t *fields, const msgpack_object_kv *kv, char *reason, size_t size)
{
    if (kv->key.type != MSGPACK_OBJECT_STR) {
        snprintf (reason, size, "spec: keys must be strings");
        return -1;
    }
    const char *key = kv->key.via.str.ptr;
    uint32_t len = kv->key.via.str.size;
    if (len == 4 && !memcmp (key, "seed", 4)) {
        if (kv->val.type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
            snprintf (reason, size, "spec: seed must be a uint");
            return -1;
        }
        fields->seed = kv->val.via.u64;
        fields->has_seed = true;
        return 0;
    }
    for (size_t i = 0; i < 4; i++)
        if (strlen (s_keys[i]) == len && !memcmp (key, s_keys[i], len)) {
            if (kv->val.type != MSGPACK_OBJECT_STR || fields->text[i]) {
                snprintf (reason, size, "spec: %s must be a str, given once", s_keys[i]);
                return -1;
            }
            fields->text[i] = strndup (kv->val.via.str.ptr, kv->val.via.str.size);
            if (!fields->text[i]) {
                snprintf (reason, size, "out of memory");
                return -1;
            }
            return 0;
        }
    snprintf (reason, size, "spec: unknown key '%.*s' (known: targets, ports, exclude, "
              "exclude_ports, seed)", (int) (len < 32? len: 32), key);
    return -1;
}

static int
s_fields (spec_fields_t *fields, const void *map, size_t size, char *reason, size_t rsize)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    int rc = 0;
    if (msgpack_unpack_next (&unpacked, map, size, NULL) != MSGPACK_UNPACK_SUCCESS
    ||  unpacked.data.type != MSGPACK_OBJECT_MAP) {
        snprintf (reason, rsize, "spec: not a map");
        rc = -1;
    }
    for (uint32_t i = 0; rc == 0 && i < unpacked.data.via.map.size; i++)
        rc = s_field (fields, &unpacked.data.via.map.ptr[i], reason, rsize);
    msgpack_unpacked_destroy (&unpacked);
    return rc;
}

//  The seed of a spec that gives none: from the job's name, so that a
//  SUBMIT sent again makes the same spec, and two jobs walk differently.
static uint64_t
s_name_seed (const char *name)
{
    unsigned char hash[8];
    crypto_generichash (hash, sizeof hash, (const unsigned char *) name, strlen (name),
                        NULL, 0);
    return store_record_u64 (hash);
}

//  The stored form of spec with seed.  0 or -1.
static int
s_store_form (campaign_spec_t *self, uint64_t seed)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    spec_save (self->spec, &pk);
    self->stored_size = SPEC_PREFIX + buf.size;
    self->stored = malloc (self->stored_size);
    if (self->stored) {
        self->stored[0] = SPEC_FORMAT;
        store_record_put_u64 (self->stored + 1, seed);
        memcpy (self->stored + SPEC_PREFIX, buf.data, buf.size);
    }
    msgpack_sbuffer_destroy (&buf);
    return self->stored? 0: -1;
}

campaign_spec_t *
campaign_spec_new (const void *map, size_t size, const char *name,
                   char *reason, size_t reason_size)
{
    spec_fields_t fields;
    memset (&fields, 0, sizeof fields);
    campaign_spec_t *self = calloc (1, sizeof *self);
    if (!self)
        snprintf (reason, reason_size, "out of memory");
    else
    if (s_fields (&fields, map, size, reason, reason_size))
        campaign_spec_destroy (&self);
    else
    if (!fields.text[0] || !fields.text[1]) {
        snprintf (reason, reason_size, "spec: targets and ports are required");
        campaign_spec_destroy (&self);
    }
    if (self) {
        spec_source_t source = { .targets = fields.text[0], .ports = fields.text[1],
                                 .exclude = fields.text[2], .exclude_ports = fields.text[3] };
        char err[200];
        self->spec = spec_new (&source, err, sizeof err);
        if (!self->spec)
            snprintf (reason, reason_size, "spec: %s", err);
        else
        if (s_store_form (self, fields.has_seed? fields.seed: s_name_seed (name)))
            snprintf (reason, reason_size, "out of memory");
        if (!self->spec || !self->stored)
            campaign_spec_destroy (&self);
    }
    for (size_t i = 0; i < 4; i++)
        free (fields.text[i]);
    return self;
}

void
campaign_spec_destroy (campaign_spec_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    campaign_spec_t *self = *self_p;
    spec_destroy (&self->spec);
    free (self->stored);
    free (self);
    *self_p = NULL;
}

uint64_t
campaign_spec_count (const campaign_spec_t *spec)
{
    return spec_count (spec->spec);
}

bool
campaign_spec_same (const campaign_spec_t *spec, const job_t *job)
{
    size_t size;
    const void *stored = job_spec (job, &size);
    return stored && size == spec->stored_size && !memcmp (stored, spec->stored, size);
}

//  ---------------------------------------------------------------------
//  Expanding

//  An entry for job from its stored spec, listed.  NULL (logged) if the
//  spec cannot be read or out of memory.
static entry_t *
s_entry_new (campaign_t *self, job_t *job)
{
    size_t size;
    const unsigned char *stored = job_spec (job, &size);
    char err[200] = "out of memory";
    entry_t *entry = calloc (1, sizeof *entry);
    if (entry && (size <= SPEC_PREFIX || stored[0] != SPEC_FORMAT))
        snprintf (err, sizeof err, "a spec of an unknown format");
    else
    if (entry && (entry->spec = spec_load (stored + SPEC_PREFIX, size - SPEC_PREFIX,
                                           err, sizeof err)))
        entry->walk = walk_new (spec_hosts (entry->spec), spec_ports (entry->spec),
                                store_record_u64 (stored + 1));
    if (!entry || !entry->walk || !(entry->handle = zlistx_add_end (self->entries, entry))) {
        log_error ("job %s: cannot expand its spec: %s", peerlog_str (job_name (job)).text,
                   err);
        s_entry_destroy (&entry);
        return NULL;
    }
    entry->job = job;
    return entry;
}

//  Accept the next window of entry's walk into its job, as one chunk (one
//  store record, the same as a SUBMIT's).  0, or the error of jobs_accept
//  (nothing accepted; the next turn tries again).
static int
s_expand (campaign_t *self, entry_t *entry, uint64_t count)
{
    uint64_t position = job_next_id (entry->job) - 1;
    chunk_t *chunk = chunk_new ((size_t) count, (size_t) count * 16);
    if (!chunk)
        return -ENOMEM;
    uint8_t tuple[SPEC_TUPLE_MAX];
    for (uint64_t i = 0; i < count; i++) {
        uint64_t host;
        uint32_t port;
        walk_at (entry->walk, position + i, &host, &port);
        size_t size = spec_encode (entry->spec, host, port, tuple);
        if (chunk_append (chunk, tuple, size)) {
            chunk_destroy (&chunk);
            return -ENOMEM;
        }
    }
    uint64_t first;
    return jobs_accept (self->jobs, entry->job, &chunk, NULL, &first);
}

//  Top up one spec job.  True when its walk is used up (the job closed),
//  or the job was cancelled or aborted: the rest of its walk is never made
//  into tuples (PROTOCOL.md 12).
static bool
s_refill (campaign_t *self, entry_t *entry)
{
    if (job_ended (entry->job) != JOB_OPEN)
        return true;
    uint64_t total = walk_count (entry->walk);
    uint64_t position = job_next_id (entry->job) - 1;
    uint64_t queued = job_counters (entry->job)->queued;
    if (position < total && queued < CAMPAIGN_LOW_WATER) {
        uint64_t count = WINDOW_MAX - queued;
        if (count > total - position)
            count = total - position;
        int rc = s_expand (self, entry, count);
        if (rc)
            log_error ("job %s: cannot expand its spec: %s",
                       peerlog_str (job_name (entry->job)).text, strerror (-rc));
        position = job_next_id (entry->job) - 1;
    }
    if (position < total)
        return false;
    if (!job_closed (entry->job))
        job_close (entry->job);
    return true;
}

//  One spec job: its spec stored, its first window queued.
static int
s_start_one (campaign_t *self, job_t *job, const campaign_spec_t *spec)
{
    if (job_set_spec (job, spec->stored, spec->stored_size))
        return -ENOMEM;
    entry_t *entry = s_entry_new (self, job);
    if (!entry)
        return -ENOMEM;
    uint64_t before = job_next_id (job);
    if (s_refill (self, entry))
        zlistx_delete (self->entries, entry->handle);
    return job_next_id (job) > before? 0: -ENOMEM;
}

int
campaign_start (campaign_t *self, job_t *job, const campaign_spec_t *spec, size_t *runs_p)
{
    char label[64];
    size_t size;
    const void *options = job_options (job, &size);
    *runs_p = 1;
    if (!each_label (options, size, label, sizeof label))
        return s_start_one (self, job, spec);
    if (!self->each)
        return -ENOENT;
    //  The parent keeps the spec (a SUBMIT sent again is recognised) and
    //  no tuples.
    int rc = job_set_spec (job, spec->stored, spec->stored_size)? -ENOMEM: 0;
    if (rc == 0)
        rc = each_start (self->each, job);
    zlistx_t *runs = rc? NULL: each_runs (self->each, job);
    if (rc == 0 && !runs)
        rc = -ENOMEM;
    *runs_p = 0;
    for (job_t *run = runs? zlistx_first (runs): NULL; run && rc == 0;
         run = zlistx_next (runs)) {
        rc = s_start_one (self, run, spec);
        *runs_p += rc == 0;
    }
    zlistx_destroy (&runs);
    job_close (job);
    return rc;
}

uint64_t
campaign_total (campaign_t *self, const job_t *job)
{
    size_t size;
    const unsigned char *stored = job_spec (job, &size);
    if (!stored || size <= SPEC_PREFIX || stored[0] != SPEC_FORMAT)
        return 0;
    char err[200];
    spec_t *spec = spec_load (stored + SPEC_PREFIX, size - SPEC_PREFIX, err, sizeof err);
    uint64_t count = spec? spec_count (spec): 0;
    spec_destroy (&spec);
    zlistx_t *runs = self->each? each_runs (self->each, job): NULL;
    size_t copies = runs? zlistx_size (runs): 0;
    zlistx_destroy (&runs);
    return copies? count * copies: count;
}

int
campaign_adopt (campaign_t *self, job_t *job)
{
    size_t size;
    if (!job_spec (job, &size) || job_closed (job))
        return 0;
    return s_entry_new (self, job)? 0: -1;
}

void
campaign_refill (campaign_t *self)
{
    bool done = false;
    for (entry_t *entry = (entry_t *) zlistx_first (self->entries); entry;
         entry = (entry_t *) zlistx_next (self->entries))
        done |= entry->done = s_refill (self, entry);
    //  Deleting would lose the list's cursor: a second pass, rarely.
    while (done) {
        done = false;
        for (entry_t *entry = (entry_t *) zlistx_first (self->entries); entry && !done;
             entry = (entry_t *) zlistx_next (self->entries))
            if (entry->done) {
                zlistx_delete (self->entries, entry->handle);
                done = true;
            }
    }
}

size_t
campaign_active (const campaign_t *self)
{
    return zlistx_size (self->entries);
}
