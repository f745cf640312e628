//  each.c -- see each.h.  Nothing here is stored apart from jobs: the
//  runs are ordinary jobs (stored, recovered, dispatched as any), and
//  which jobs are runs of which parent is read from their names and
//  numbers, so a restart needs no record of its own.
#include "broker/each.h"
#include "broker/labels.h"
#include "broker/submit_check.h"
#include "common/log.h"
#include "common/peerlog.h"

#include <errno.h>
#include <inttypes.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JOB_NAME_MAX 255
#define LABEL_MAX    64             //  a label: 1 to 63 bytes, and the 0

struct each {
    jobs_t *jobs;                   //  borrowed
    roster_t *roster;               //  borrowed
};

each_t *
each_new (jobs_t *jobs, roster_t *roster)
{
    each_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->jobs = jobs;
    self->roster = roster;
    return self;
}

void
each_destroy (each_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free (*self_p);
    *self_p = NULL;
}

static bool
s_is (const msgpack_object *o, const char *text)
{
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen (text)
        && !memcmp (o->via.str.ptr, text, o->via.str.size);
}

//  The "each" of options into label: 1, 0 if there is none, -1 if it is
//  no label.
static int
s_each_field (const void *options, size_t options_size, char *label, size_t size)
{
    if (!options || !memmem (options, options_size, "\xa4" "each", 5))
        return 0;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    int found = 0;
    const msgpack_object *o = &unpacked.data;
    if (msgpack_unpack_next (&unpacked, options, options_size, NULL) == MSGPACK_UNPACK_SUCCESS
    &&  o->type == MSGPACK_OBJECT_MAP)
        for (uint32_t i = 0; i < o->via.map.size && !found; i++) {
            const msgpack_object *val = &o->via.map.ptr[i].val;
            if (!s_is (&o->via.map.ptr[i].key, "each"))
                continue;
            found = val->type == MSGPACK_OBJECT_STR && val->via.str.size < size
                 && labels_word_ok (val->via.str.ptr, val->via.str.size)? 1: -1;
            if (found == 1)
                snprintf (label, size, "%.*s", (int) val->via.str.size, val->via.str.ptr);
        }
    msgpack_unpacked_destroy (&unpacked);
    return found;
}

bool
each_label (const void *options, size_t options_size, char *label, size_t size)
{
    return s_each_field (options, options_size, label, size) == 1;
}

//  The distinct values of label among the agents connected whose labels
//  fit options' requires (strings, ascending; the caller destroys the
//  list).  NULL if out of memory.
static zlistx_t *
s_values (each_t *self, const char *label, const void *options, size_t options_size)
{
    zlistx_t *values = zlistx_new ();
    if (!values)
        return NULL;
    zlistx_set_destructor (values, (zlistx_destructor_fn *) zstr_free);
    zlistx_set_duplicator (values, (zlistx_duplicator_fn *) strdup);
    zlistx_set_comparator (values, (zlistx_comparator_fn *) strcmp);
    char want[LABEL_MAX + 3];
    snprintf (want, sizeof want, ",%s=", label);
    for (session_t *session = self->roster? roster_first (self->roster): NULL; session;
         session = roster_next (self->roster)) {
        const char *labels = session_labels (session);
        const char *at = labels? strstr (labels, want): NULL;
        if (!at || !labels_fit (labels, options, options_size))
            continue;
        at += strlen (want);
        char value[LABEL_MAX];
        snprintf (value, sizeof value, "%.*s", (int) strcspn (at, ","), at);
        if (!zlistx_find (values, value))
            zlistx_add_end (values, value);
    }
    zlistx_sort (values);
    return values;
}

size_t
each_values_count (each_t *self, const void *options, size_t options_size)
{
    char label[LABEL_MAX];
    if (!each_label (options, options_size, label, sizeof label))
        return 1;
    zlistx_t *values = s_values (self, label, options, options_size);
    size_t count = values? zlistx_size (values): 0;
    zlistx_destroy (&values);
    return count;
}

//  ---------------------------------------------------------------------
//  Making the runs

//  parent's options without "each", with LABEL: VALUE in "requires".
static int
s_run_options (const job_t *parent, const char *label, const char *value,
               msgpack_sbuffer *buf)
{
    size_t size;
    const void *options = job_options (parent, &size);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *o = &unpacked.data;
    if (msgpack_unpack_next (&unpacked, options, size, NULL) != MSGPACK_UNPACK_SUCCESS
    ||  o->type != MSGPACK_OBJECT_MAP) {
        msgpack_unpacked_destroy (&unpacked);
        return -1;
    }
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    const msgpack_object *requires = NULL;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < o->via.map.size; i++)
        if (s_is (&o->via.map.ptr[i].key, "requires"))
            requires = &o->via.map.ptr[i].val;
        else
            kept += !s_is (&o->via.map.ptr[i].key, "each");
    msgpack_pack_map (&pk, kept + 1);
    for (uint32_t i = 0; i < o->via.map.size; i++)
        if (!s_is (&o->via.map.ptr[i].key, "requires") && !s_is (&o->via.map.ptr[i].key, "each")) {
            msgpack_pack_object (&pk, o->via.map.ptr[i].key);
            msgpack_pack_object (&pk, o->via.map.ptr[i].val);
        }
    uint32_t others = 0;
    bool map = requires && requires->type == MSGPACK_OBJECT_MAP;
    for (uint32_t i = 0; map && i < requires->via.map.size; i++)
        others += !s_is (&requires->via.map.ptr[i].key, label);
    msgpack_pack_str_with_body (&pk, "requires", 8);
    msgpack_pack_map (&pk, others + 1);
    for (uint32_t i = 0; map && i < requires->via.map.size; i++)
        if (!s_is (&requires->via.map.ptr[i].key, label)) {
            msgpack_pack_object (&pk, requires->via.map.ptr[i].key);
            msgpack_pack_object (&pk, requires->via.map.ptr[i].val);
        }
    msgpack_pack_str_with_body (&pk, label, strlen (label));
    msgpack_pack_str_with_body (&pk, value, strlen (value));
    msgpack_unpacked_destroy (&unpacked);
    return 0;
}

//  The name of parent's run for value into name (JOB_NAME_MAX + 2): true
//  if it fits in a job name.
static bool
s_run_name (const char *parent, const char *label, const char *value, char *name)
{
    int len = snprintf (name, JOB_NAME_MAX + 2, "%s@%s=%s", parent, label, value);
    return len > 0 && len <= JOB_NAME_MAX;
}

//  The run of parent for value, a new job in jobs.  NULL if out of memory.
static job_t *
s_run_new (each_t *self, const job_t *parent, const char *label, const char *value,
           const char *name)
{
    job_t *job = job_new (name, job_handler (parent), job_sink (parent));
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    if (!job || s_run_options (parent, label, value, &buf)
    ||  job_set_options (job, buf.data, buf.size)
    ||  job_set_sink_key (job, job_sink_key (parent)))
        job_destroy (&job);
    msgpack_sbuffer_destroy (&buf);
    if (!job)
        return NULL;
    job_set_max_attempts (job, job_max_attempts (parent));
    job_set_timeout_ms (job, job_timeout_ms (parent));
    return jobs_add (self->jobs, &job);
}

//  -EEXIST if a run's name for one of values is taken or too long.
static int
s_names_free (each_t *self, const char *parent, const char *label, zlistx_t *values)
{
    char name[JOB_NAME_MAX + 2];
    for (const char *value = zlistx_first (values); value; value = zlistx_next (values))
        if (!s_run_name (parent, label, value, name) || jobs_lookup (self->jobs, name))
            return -EEXIST;
    return 0;
}

int
each_start (each_t *self, job_t *parent)
{
    char label[LABEL_MAX];
    size_t size;
    const void *options = job_options (parent, &size);
    if (!each_label (options, size, label, sizeof label))
        return 0;
    zlistx_t *values = s_values (self, label, options, size);
    int rc = !values? -ENOMEM: zlistx_size (values) == 0? -ENOENT
           : s_names_free (self, job_name (parent), label, values);
    char name[JOB_NAME_MAX + 2];
    for (const char *value = rc? NULL: zlistx_first (values); value && rc == 0;
         value = zlistx_next (values)) {
        s_run_name (job_name (parent), label, value, name);
        rc = s_run_new (self, parent, label, value, name)? 0: -ENOMEM;
    }
    if (rc == 0)
        log_info ("job %s runs once per value of label %s: %zu runs, as %s@%s=...",
                  peerlog_str (job_name (parent)).text, label, zlistx_size (values),
                  peerlog_str (job_name (parent)).text, label);
    zlistx_destroy (&values);
    return rc;
}

//  True if name is "PREFIX" then a label value (what s_run_name makes).
static bool
s_value_after (const char *name, const char *prefix, size_t prefix_len)
{
    if (strncmp (name, prefix, prefix_len))
        return false;
    return labels_word_ok (name + prefix_len, strlen (name + prefix_len));
}

static int
s_by_number (const void *a, const void *b)
{
    uint32_t x = job_number ((const job_t *) a), y = job_number ((const job_t *) b);
    return x < y? -1: x > y;
}

zlistx_t *
each_runs (each_t *self, const job_t *parent)
{
    zlistx_t *runs = zlistx_new ();
    char label[LABEL_MAX];
    size_t size;
    const void *options = job_options (parent, &size);
    if (!runs || !each_label (options, size, label, sizeof label))
        return runs;
    zlistx_set_comparator (runs, s_by_number);
    char prefix[JOB_NAME_MAX + LABEL_MAX + 3];
    int len = snprintf (prefix, sizeof prefix, "%s@%s=", job_name (parent), label);
    //  A job of that name made before the parent is no run of it.
    for (job_t *job = jobs_first (self->jobs); job; job = jobs_next (self->jobs))
        if (job_number (job) > job_number (parent)
        &&  s_value_after (job_name (job), prefix, (size_t) len)
        &&  !zlistx_add_end (runs, job)) {
            zlistx_destroy (&runs);
            return NULL;
        }
    zlistx_sort (runs);
    return runs;
}

//  ---------------------------------------------------------------------
//  A SUBMIT to a job run with each

//  If name is that of a run of an existing parent (PARENT@LABEL=VALUE,
//  PARENT run with each LABEL): that parent, else NULL.  A job of that
//  name would be taken for one of its runs.
static const job_t *
s_parent_of (each_t *self, const char *name)
{
    char parent[JOB_NAME_MAX + 1], label[LABEL_MAX];
    for (const char *at = strchr (name, '@'); at; at = strchr (at + 1, '@')) {
        const char *equals = strchr (at, '=');
        if (!equals || (size_t) (at - name) > JOB_NAME_MAX)
            continue;
        snprintf (parent, sizeof parent, "%.*s", (int) (at - name), name);
        const job_t *job = jobs_lookup (self->jobs, parent);
        size_t size;
        const void *options = job? job_options (job, &size): NULL;
        if (job && each_label (options, size, label, sizeof label)
        &&  strlen (label) == (size_t) (equals - at - 1) && !memcmp (at + 1, label, strlen (label))
        &&  s_value_after (name, name, (size_t) (equals + 1 - name)))
            return job;
    }
    return NULL;
}

int
each_check_new (each_t *self, const msg_t *msg, size_t *copies_p, char *reason, size_t size)
{
    const char *name = msg_str (msg, MSG_F_JOB);
    const job_t *parent = s_parent_of (self, name);
    if (parent) {
        snprintf (reason, size, "job name %.64s is that of a run of job %.64s", name,
                  job_name (parent));
        return -DRV_E_CONFLICT;
    }
    char label[LABEL_MAX];
    size_t options_size = 0;
    const void *options = msg_raw (msg, MSG_F_OPTIONS, &options_size);
    *copies_p = 1;
    int each = s_each_field (options, options_size, label, sizeof label);
    if (each < 0) {
        snprintf (reason, size, "options: each must be a label's name (1 to 63 of A-Z a-z "
                  "0-9 _ . -)");
        return -DRV_E_BAD_TYPE;
    }
    if (each == 0)
        return 0;
    zlistx_t *values = s_values (self, label, options, options_size);
    if (!values) {
        snprintf (reason, size, "out of memory");
        return -DRV_E_INTERNAL;
    }
    *copies_p = zlistx_size (values);
    int rc = *copies_p? s_names_free (self, name, label, values): 0;
    zlistx_destroy (&values);
    if (*copies_p == 0)
        snprintf (reason, size, "no agent connected that fits the job has the label "
                  "\"each\" names (%s)", label);
    else
    if (rc)
        snprintf (reason, size, "the name of a run of job %.64s (%.64s@%s=...) is taken "
                  "or over 255 bytes", name, name, label);
    return *copies_p == 0? -DRV_E_UNEXPECTED: rc? -DRV_E_CONFLICT: 0;
}

//  A run takes its tuples from its parent only: a SUBMIT of its own
//  would give it ids the other runs lack.
static int
s_check_run (each_t *self, const job_t *job, char *reason, size_t size)
{
    const job_t *parent = s_parent_of (self, job_name (job));
    if (!parent || job_number (parent) > job_number (job))
        return 0;
    snprintf (reason, size, "job %.64s is a run of job %.64s: tuples go to that job",
              job_name (job), job_name (parent));
    return -DRV_E_CONFLICT;
}

int
each_room (each_t *self, const job_t *job, const msg_t *msg, size_t count, uint64_t bytes,
           uint64_t queued, uint64_t held, const broker_config_t *config,
           char *reason, size_t size)
{
    size_t copies = 1;
    int rc = job? s_check_run (self, job, reason, size)
           : each_check_new (self, msg, &copies, reason, size);
    zlistx_t *runs = job? each_runs (self, job): NULL;
    if (runs && zlistx_size (runs) > 0)
        copies = zlistx_size (runs);
    if (rc == 0 && copies > 1
    &&  (count * copies > config->max_queued || bytes * copies > config->max_queued_bytes)) {
        snprintf (reason, size, "%zu tuples (%" PRIu64 " bytes) for each of %zu runs: over "
                  "the broker's limit of %" PRIu64 " tuples or %" PRIu64 " bytes queued",
                  count, bytes, copies, config->max_queued, config->max_queued_bytes);
        rc = -DRV_E_TOO_LARGE;
    }
    //  Every run takes count tuples: the queue in all takes the other
    //  runs' copies too, so each run is checked as if they were queued.
    uint64_t others = copies - 1;
    const job_t *run = runs? zlistx_first (runs): NULL;
    if (rc == 0 && !run)
        rc = submit_check_room (job, count, bytes, queued + others * count,
                                held + others * bytes, config, reason, size);
    for (; rc == 0 && run; run = zlistx_next (runs))
        rc = submit_check_room (run, count, bytes, queued + others * count,
                                held + others * bytes, config, reason, size);
    zlistx_destroy (&runs);
    return rc;
}

int
each_accept (each_t *self, job_t *job, chunk_t **chunk_p, store_batch_t *record,
             uint64_t *first_p)
{
    zlistx_t *runs = each_runs (self, job);
    if (!runs || zlistx_size (runs) == 0) {
        //  A job without runs (or one made before "each" took tuples).
        zlistx_destroy (&runs);
        return jobs_accept (self->jobs, job, chunk_p, record, first_p);
    }
    size_t count = chunk_count (*chunk_p);
    int rc = 0;
    uint64_t first = 0;
    //  The runs share the chunk (read only): one reference each.
    for (job_t *run = zlistx_first (runs); run && rc == 0; run = zlistx_next (runs)) {
        chunk_t *copy = chunk_ref (*chunk_p);
        uint64_t run_first;
        rc = jobs_accept (self->jobs, run, &copy, NULL, &run_first);
        if (rc == 0 && first && run_first != first)
            log_error ("job %s: its runs disagree on the next tuple id (%" PRIu64 " and %"
                       PRIu64 ")", peerlog_str (job_name (job)).text, first, run_first);
        if (rc == 0 && !first)
            first = run_first;
    }
    chunk_destroy (chunk_p);
    zlistx_destroy (&runs);
    if (rc == 0 && record)
        rc = jobs_remember (self->jobs, job, record, first, count);
    if (rc == 0)
        *first_p = first;
    return rc;
}

void
each_close (each_t *self, job_t *job)
{
    if (!job_closed (job))
        job_close (job);
    size_t size;
    if (job_spec (job, &size))
        return;
    zlistx_t *runs = each_runs (self, job);
    for (job_t *run = runs? zlistx_first (runs): NULL; run; run = zlistx_next (runs))
        if (!job_closed (run))
            job_close (run);
    zlistx_destroy (&runs);
}

void
each_cancel (each_t *self, job_t *job)
{
    jobs_cancel (self->jobs, job);
    zlistx_t *runs = each_runs (self, job);
    for (job_t *run = runs? zlistx_first (runs): NULL; run; run = zlistx_next (runs))
        jobs_cancel (self->jobs, run);
    zlistx_destroy (&runs);
}

bool
each_status (each_t *self, const job_t *job, job_counters_t *counters, job_state_t *state)
{
    zlistx_t *runs = each_runs (self, job);
    if (!runs || zlistx_size (runs) == 0) {
        zlistx_destroy (&runs);
        return false;
    }
    memset (counters, 0, sizeof *counters);
    bool open = false, complete = true;
    job_state_t ended = JOB_OPEN;
    for (job_t *run = zlistx_first (runs); run; run = zlistx_next (runs)) {
        const job_counters_t *c = job_counters (run);
        counters->submitted += c->submitted;
        counters->queued += c->queued;
        counters->running += c->running;
        counters->done += c->done;
        counters->failed += c->failed;
        open |= job_state (run) == JOB_OPEN;
        complete &= job_state (run) == JOB_COMPLETE;
        if (ended == JOB_OPEN)
            ended = job_ended (run);
    }
    zlistx_destroy (&runs);
    *state = job_ended (job) != JOB_OPEN? job_ended (job)
           : open? JOB_OPEN: complete? JOB_COMPLETE: ended != JOB_OPEN? ended: JOB_CLOSED;
    return true;
}
