//  manifest.c -- see manifest.h.  Each line is hashed as the file holds it
//  (its bytes and the newline) into the job's digest and its run's; the
//  rest comes from the line's fields.  Durations are kept (8 bytes a
//  result) so that percentiles are exact and the same on every reading.
#include "sink/manifest.h"
#include "common/grow.h"
#include "common/json_read.h"
#include "common/msgpack_map.h"
#include "sink/result.h"

#include <czmq.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t tuple;
    char *error;                //  JSON text: a string, or null
} failure_t;

struct manifest {
    char *job;
    uint64_t lines;
    uint64_t counts[RESULT_STATUSES];
    uint64_t first_started_us;  //  0: none ran yet
    uint64_t last_finished_us;
    uint64_t *durations;        //  of the results that ran
    size_t durations_count, durations_capacity;
    failure_t failures[MANIFEST_FAILURES];
    size_t failure_count;
    zhashx_t *agents;           //  name -> results (uint64_t *)
    crypto_hash_sha256_state all, chunk;
    uint8_t *chunks;            //  digests of the full runs, 32 bytes each
    size_t chunk_count, chunk_capacity;
};

void
manifest_line_init (manifest_line_t *self)
{
    msgpack_sbuffer_init (&self->buffer);
    msgpack_unpacked_init (&self->unpacked);
}

void
manifest_line_destroy (manifest_line_t *self)
{
    msgpack_sbuffer_destroy (&self->buffer);
    msgpack_unpacked_destroy (&self->unpacked);
}

static uint64_t
s_uint (const msgpack_object *map, const char *key)
{
    const msgpack_object *value = msgpack_map_find (map, key);
    return value && value->type == MSGPACK_OBJECT_POSITIVE_INTEGER? value->via.u64: 0;
}

int
manifest_line_parse (manifest_line_t *self, const char *text, size_t size, char *job,
                     size_t job_size)
{
    char err[64];
    self->buffer.size = 0;
    if (json_to_msgpack (text, size, &self->buffer, err, sizeof err)
    ||  msgpack_unpack_next (&self->unpacked, self->buffer.data, self->buffer.size, NULL)
        != MSGPACK_UNPACK_SUCCESS)
        return -1;
    const msgpack_object *name = msgpack_map_find (&self->unpacked.data, "job");
    const msgpack_object *tuple = msgpack_map_find (&self->unpacked.data, "tuple");
    if (!name || name->type != MSGPACK_OBJECT_STR || name->via.str.size >= job_size
    ||  memchr (name->via.str.ptr, 0, name->via.str.size)
    ||  !tuple || tuple->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return -1;
    memcpy (job, name->via.str.ptr, name->via.str.size);
    job[name->via.str.size] = 0;
    return 0;
}

manifest_t *
manifest_new (const char *job)
{
    manifest_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->job = strdup (job);
    self->agents = zhashx_new ();
    if (!self->job || !self->agents) {
        manifest_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->agents, (zhashx_destructor_fn *) zstr_free);
    crypto_hash_sha256_init (&self->all);
    crypto_hash_sha256_init (&self->chunk);
    return self;
}

void
manifest_destroy (manifest_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    manifest_t *self = *self_p;
    for (size_t i = 0; i < self->failure_count; i++)
        free (self->failures[i].error);
    zhashx_destroy (&self->agents);
    free (self->durations);
    free (self->chunks);
    free (self->job);
    free (self);
    *self_p = NULL;
}

//  A failure's error as JSON: a string (cut to MANIFEST_ERROR_BYTES, at a
//  character's start), or null for anything else.
static char *
s_error_json (const msgpack_object *error)
{
    json_buffer_t out = { 0 };
    if (error && error->type == MSGPACK_OBJECT_STR) {
        size_t size = error->via.str.size;
        if (size > MANIFEST_ERROR_BYTES) {
            size = MANIFEST_ERROR_BYTES;
            while (size > 0 && ((unsigned char) error->via.str.ptr[size] & 0xc0) == 0x80)
                size--;
        }
        if (json_write_string (&out, error->via.str.ptr, size))
            return NULL;
    }
    else
    if (json_buffer_reserve (&out, 4) == 0)
        memcpy (out.data, "null", out.size = 4);
    if (json_buffer_reserve (&out, 1)) {
        json_buffer_free (&out);
        return NULL;
    }
    out.data[out.size] = 0;
    return out.data;
}

//  What the line's fields add: its status, times, agent, failure.
static int
s_fields (manifest_t *self, const msgpack_object *result)
{
    const msgpack_object *status = msgpack_map_find (result, "status");
    int index = RESULT_FAILED;          //  a line without a known status: not ok
    for (int i = 0; status && status->type == MSGPACK_OBJECT_STR && i < RESULT_STATUSES; i++)
        if (strlen (result_status_name (i)) == status->via.str.size
        &&  !memcmp (result_status_name (i), status->via.str.ptr, status->via.str.size))
            index = i;
    self->counts[index]++;
    uint64_t started = s_uint (result, "started_us"), duration = s_uint (result, "duration_us");
    if (index <= RESULT_FAILED && started) {
        if (!self->first_started_us || started < self->first_started_us)
            self->first_started_us = started;
        if (started + duration > self->last_finished_us)
            self->last_finished_us = started + duration;
        if (grow ((void **) &self->durations, &self->durations_capacity,
                    self->durations_count, sizeof *self->durations))
            return -ENOMEM;
        self->durations[self->durations_count++] = duration;
    }
    if (index == RESULT_FAILED && self->failure_count < MANIFEST_FAILURES) {
        char *error = s_error_json (msgpack_map_find (result, "error"));
        if (!error)
            return -ENOMEM;
        self->failures[self->failure_count++] = (failure_t) { s_uint (result, "tuple"), error };
    }
    const msgpack_object *agent = msgpack_map_find (result, "agent");
    char name[256] = "";
    if (agent && agent->type == MSGPACK_OBJECT_STR && agent->via.str.size < sizeof name
    &&  !memchr (agent->via.str.ptr, 0, agent->via.str.size))
        memcpy (name, agent->via.str.ptr, agent->via.str.size);
    uint64_t *results = zhashx_lookup (self->agents, name);
    if (!results && ((results = calloc (1, sizeof *results)) == NULL
                     || zhashx_insert (self->agents, name, results)))
        return -ENOMEM;
    (*results)++;
    return 0;
}

int
manifest_add (manifest_t *self, const char *text, size_t size, const manifest_line_t *line)
{
    crypto_hash_sha256_update (&self->all, (const unsigned char *) text, size);
    crypto_hash_sha256_update (&self->all, (const unsigned char *) "\n", 1);
    crypto_hash_sha256_update (&self->chunk, (const unsigned char *) text, size);
    crypto_hash_sha256_update (&self->chunk, (const unsigned char *) "\n", 1);
    if (++self->lines % MANIFEST_CHUNK_LINES == 0) {
        if (grow ((void **) &self->chunks, &self->chunk_capacity, self->chunk_count,
                    crypto_hash_sha256_BYTES))
            return -ENOMEM;
        crypto_hash_sha256_final (&self->chunk,
                                  self->chunks + self->chunk_count++ * crypto_hash_sha256_BYTES);
        crypto_hash_sha256_init (&self->chunk);
    }
    return s_fields (self, &line->unpacked.data);
}

uint64_t
manifest_lines (const manifest_t *self)
{
    return self->lines;
}

//  ---------------------------------------------------------------------
//  Rendering

static void
s_put (json_buffer_t *out, const char *text)
{
    size_t size = strlen (text);
    if (json_buffer_reserve (out, size) == 0) {
        memcpy (out->data + out->size, text, size);
        out->size += size;
    }
}

static void
s_put_uint (json_buffer_t *out, const char *key, uint64_t value)
{
    char text[64];
    snprintf (text, sizeof text, "\"%s\":%" PRIu64, key, value);
    s_put (out, text);
}

static void
s_put_hex (json_buffer_t *out, const uint8_t *digest)
{
    char hex[crypto_hash_sha256_BYTES * 2 + 3] = "\"";
    sodium_bin2hex (hex + 1, sizeof hex - 2, digest, crypto_hash_sha256_BYTES);
    strcat (hex, "\"");
    s_put (out, hex);
}

static int
s_compare_u64 (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y? -1: x > y;
}

static int
s_compare_str (const void *a, const void *b)
{
    return strcmp (*(char * const *) a, *(char * const *) b);
}

//  "duration_us": nearest-rank percentiles of the results that ran.
static int
s_put_durations (manifest_t *self, json_buffer_t *out)
{
    size_t n = self->durations_count;
    uint64_t *sorted = n? malloc (n * sizeof *sorted): NULL;
    if (n && !sorted)
        return -1;
    if (n)
        memcpy (sorted, self->durations, n * sizeof *sorted);
    if (n > 1)
        qsort (sorted, n, sizeof *sorted, s_compare_u64);
    const unsigned percents[] = { 50, 90, 99, 100 };
    const char *names[] = { "p50", "p90", "p99", "max" };
    s_put (out, ",\"duration_us\":{");
    for (size_t i = 0; i < 4; i++) {
        size_t rank = (size_t) (((uint64_t) n * percents[i] + 99) / 100);
        s_put (out, i? ",": "");
        s_put_uint (out, names[i], n? sorted[rank? rank - 1: 0]: 0);
    }
    s_put (out, "}");
    free (sorted);
    return 0;
}

//  "agents": each with its results, by name, at most MANIFEST_AGENTS.
static int
s_put_agents (manifest_t *self, json_buffer_t *out)
{
    size_t n = zhashx_size (self->agents), i = 0;
    const char **names = n? malloc (n * sizeof *names): NULL;
    if (n && !names)
        return -1;
    for (void *item = zhashx_first (self->agents); item; item = zhashx_next (self->agents))
        names[i++] = zhashx_cursor (self->agents);
    if (n > 1)
        qsort (names, n, sizeof *names, s_compare_str);
    s_put (out, ",");
    s_put_uint (out, "agents_total", n);
    s_put (out, ",\"agents\":[");
    for (i = 0; i < n && i < MANIFEST_AGENTS; i++) {
        s_put (out, i? ",{\"agent\":": "{\"agent\":");
        json_write_string (out, names[i], strlen (names[i]));
        s_put (out, ",");
        s_put_uint (out, "results", *(uint64_t *) zhashx_lookup (self->agents, names[i]));
        s_put (out, "}");
    }
    s_put (out, "]");
    free (names);
    return 0;
}

//  "failures", "sha256" and "chunks" (the last run's digest, if it is not
//  full, from a copy of its state: the job may get more lines).
static void
s_put_digests (manifest_t *self, json_buffer_t *out)
{
    s_put (out, ",\"failures\":[");
    for (size_t i = 0; i < self->failure_count; i++) {
        s_put (out, i? ",{": "{");
        s_put_uint (out, "tuple", self->failures[i].tuple);
        s_put (out, ",\"error\":");
        s_put (out, self->failures[i].error);
        s_put (out, "}");
    }
    uint8_t digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_state state = self->all;
    crypto_hash_sha256_final (&state, digest);
    s_put (out, "],\"sha256\":");
    s_put_hex (out, digest);
    s_put (out, ",");
    s_put_uint (out, "chunk_lines", MANIFEST_CHUNK_LINES);
    s_put (out, ",\"chunks\":[");
    for (size_t i = 0; i < self->chunk_count; i++) {
        s_put (out, i? ",": "");
        s_put_hex (out, self->chunks + i * crypto_hash_sha256_BYTES);
    }
    if (self->lines % MANIFEST_CHUNK_LINES) {
        state = self->chunk;
        crypto_hash_sha256_final (&state, digest);
        s_put (out, self->chunk_count? ",": "");
        s_put_hex (out, digest);
    }
    s_put (out, "]");
}

int
manifest_render (manifest_t *self, json_buffer_t *out)
{
    size_t start = out->size;
    s_put (out, "{\"job\":");
    json_write_string (out, self->job, strlen (self->job));
    s_put (out, ",");
    s_put_uint (out, "lines", self->lines);
    s_put (out, ",\"counts\":{");
    for (int i = 0; i < RESULT_STATUSES; i++) {
        s_put (out, i? ",": "");
        s_put_uint (out, result_status_name (i), self->counts[i]);
    }
    s_put (out, "},");
    s_put_uint (out, "first_started_us", self->first_started_us);
    s_put (out, ",");
    s_put_uint (out, "last_finished_us", self->last_finished_us);
    int rc = s_put_durations (self, out);
    if (rc == 0)
        rc = s_put_agents (self, out);
    if (rc == 0) {
        s_put_digests (self, out);
        s_put (out, "}\n");
    }
    //  s_put drops what does not fit: a short object is out of memory.
    if (rc || json_buffer_reserve (out, 1) || out->data[out->size - 1] != '\n') {
        out->size = start;
        return -1;
    }
    return 0;
}

//  ---------------------------------------------------------------------
//  Comparing

//  text as a msgpack object in line: 0, or -1 if it is no JSON object.
static int
s_parse_object (manifest_line_t *line, const char *text, size_t size)
{
    char err[64];
    line->buffer.size = 0;
    if (json_to_msgpack (text, size, &line->buffer, err, sizeof err)
    ||  msgpack_unpack_next (&line->unpacked, line->buffer.data, line->buffer.size, NULL)
        != MSGPACK_UNPACK_SUCCESS
    ||  line->unpacked.data.type != MSGPACK_OBJECT_MAP)
        return -1;
    return 0;
}

//  The first run whose digests differ, or -1.
static int64_t
s_first_chunk (const msgpack_object *expected, const msgpack_object *actual)
{
    if (!expected || !actual || expected->type != MSGPACK_OBJECT_ARRAY
    ||  actual->type != MSGPACK_OBJECT_ARRAY)
        return expected == actual? -1: 0;
    uint32_t n = expected->via.array.size, m = actual->via.array.size;
    for (uint32_t i = 0; i < n || i < m; i++)
        if (i >= n || i >= m
        ||  !msgpack_object_equal (expected->via.array.ptr[i], actual->via.array.ptr[i]))
            return i;
    return -1;
}

int
manifest_compare (manifest_t *self, const char *text, size_t size, int64_t *chunk_p,
                  char *report, size_t report_size)
{
    json_buffer_t rendered = { 0 };
    manifest_line_t expected, actual;
    manifest_line_init (&expected);
    manifest_line_init (&actual);
    int rc = -1;
    *chunk_p = -1;
    snprintf (report, report_size, "not a manifest");
    if (manifest_render (self, &rendered) == 0 && s_parse_object (&expected, text, size) == 0
    &&  s_parse_object (&actual, rendered.data, rendered.size) == 0) {
        const msgpack_object *e = &expected.unpacked.data, *a = &actual.unpacked.data;
        *chunk_p = s_first_chunk (msgpack_map_find (e, "chunks"),
                                  msgpack_map_find (a, "chunks"));
        rc = *chunk_p >= 0;
        snprintf (report, report_size, "the digest of the job's lines %" PRId64 " to %" PRId64
                  " (sha256 of run %" PRId64 ")", *chunk_p * MANIFEST_CHUNK_LINES + 1,
                  (*chunk_p + 1) * MANIFEST_CHUNK_LINES, *chunk_p + 1);
        //  Else the first key whose value differs, in the manifest's order.
        for (uint32_t i = 0; rc == 0 && i < e->via.map.size; i++) {
            const msgpack_object_kv *kv = &e->via.map.ptr[i];
            char key[64] = "?";
            if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size < sizeof key)
                snprintf (key, sizeof key, "%.*s", (int) kv->key.via.str.size,
                          kv->key.via.str.ptr);
            const msgpack_object *value = msgpack_map_find (a, key);
            if (!value || !msgpack_object_equal (kv->val, *value)) {
                rc = 1;
                snprintf (report, report_size, "\"%s\"", key);
            }
        }
        if (rc == 0 && e->via.map.size != a->via.map.size) {
            rc = 1;
            snprintf (report, report_size, "the manifest's keys");
        }
    }
    json_buffer_free (&rendered);
    manifest_line_destroy (&expected);
    manifest_line_destroy (&actual);
    return rc;
}

//  ---------------------------------------------------------------------

char *
manifest_path (const char *results, const char *job)
{
    char name[129 + 8];
    size_t used = 0;
    for (const unsigned char *p = (const unsigned char *) job; *p && used <= 128; p++)
        if (isalnum (*p) || *p == '.' || *p == '_' || *p == '-')
            name[used++] = (char) *p;
        else
            used += (size_t) snprintf (name + used, sizeof name - used, "%%%02X", *p);
    if (used > 128) {
        uint8_t digest[crypto_hash_sha256_BYTES];
        crypto_hash_sha256 (digest, (const unsigned char *) job, strlen (job));
        memcpy (name, "sha256-", 7);
        sodium_bin2hex (name + 7, 33, digest, 16);
    }
    else
        name[used] = 0;
    char *path = NULL;
    return asprintf (&path, "%s.%s.manifest.json", results, name) < 0? NULL: path;
}
